"""Baseline (a), "eager": every dependency imported at module level; Home Assistant called with `requests`.

The style of many Lambda functions: boto3, requests, websocket-client and Powertools load during INIT whether the
request needs them or not. It forwards an Alexa Smart Home directive to Home Assistant's /api/alexa/smart_home with
the directive's token and returns Home Assistant's JSON. Benchmark only: `make bench` runs it beside the bridge.
Generous to the baseline: one `requests.Session` per execution environment, so warm requests reuse a connection.
"""

import os
import time

import boto3  # noqa: F401  (an SSM token fallback, as such functions carry)
import requests
import websocket  # noqa: F401  (operator actions over Home Assistant's WebSocket API)
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="eager-baseline")
metrics = Metrics(namespace="Baseline", service="eager-baseline")
session = requests.Session()
HA_URL = os.environ["HA_URL"].rstrip("/")
VERIFY = os.environ.get("HA_CA_BUNDLE") or True  # the benchmark's proxy has a throwaway CA


def _token(directive: dict) -> str | None:
    scope = (directive.get("endpoint") or {}).get("scope") or (directive.get("payload") or {}).get("scope") or {}
    grantee = (directive.get("payload") or {}).get("grantee") or {}
    return scope.get("token") or grantee.get("token")


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context
def lambda_handler(event, context):
    token = _token(event["directive"])
    started = time.perf_counter()
    response = session.post(f"{HA_URL}/api/alexa/smart_home", json=event, timeout=(2, 10), verify=VERIFY,
                            headers={"Authorization": f"Bearer {token}"})
    metrics.add_metric(name="HomeAssistantLatency", unit=MetricUnit.Milliseconds,
                       value=round((time.perf_counter() - started) * 1000, 2))
    response.raise_for_status()
    logger.info("directive answered")
    return response.json()
