"""Baseline (b), "one-file proxy": the approach of the Lambda function most Home Assistant users copy today.

One file; `urllib3` (which the Lambda runtime provides, as a botocore dependency) imported at module level; a new
connection pool, hence a new TLS connection, on every invocation; 2 s connect and 10 s read timeouts. It forwards
an Alexa Smart Home directive to Home Assistant's /api/alexa/smart_home with the directive's token and returns
Home Assistant's JSON. Written for the benchmark in that style; `make bench` runs it beside the bridge.
"""

import json
import logging
import os

import urllib3

logger = logging.getLogger("HomeAssistant-SmartHome")
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    base_url = os.environ["HA_URL"].rstrip("/")
    directive = event.get("directive")
    assert directive.get("header", {}).get("payloadVersion") == "3", "only Smart Home API v3 is supported"
    scope = directive.get("endpoint", {}).get("scope")
    if scope is None:  # AcceptGrant carries it in payload.grantee, Discovery in payload.scope
        scope = directive.get("payload", {}).get("grantee") or directive.get("payload", {}).get("scope")
    assert scope.get("type") == "BearerToken", "only bearer tokens are supported"
    http = urllib3.PoolManager(
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("HA_CA_BUNDLE") or None,  # the benchmark's proxy has a throwaway CA
        timeout=urllib3.Timeout(connect=2.0, read=10.0),
    )
    response = http.request(
        "POST",
        f"{base_url}/api/alexa/smart_home",
        headers={"Authorization": f"Bearer {scope.get('token')}", "Content-Type": "application/json"},
        body=json.dumps(event).encode("utf-8"),
    )
    if response.status >= 400:
        error_type = "INVALID_AUTHORIZATION_CREDENTIAL" if response.status in (401, 403) else "INTERNAL_ERROR"
        return {"event": {"payload": {"type": error_type, "message": response.data.decode("utf-8")}}}
    return json.loads(response.data.decode("utf-8"))
