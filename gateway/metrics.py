"""CloudWatch metrics through Powertools (EMF lines on stdout), and the wrapper every request runs in."""

import os
import sys
import time

from gateway.log import logger
from gateway.powertools import Metrics, MetricUnit, single_metric

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HomeAssistantBridge"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "ha-alexa-bridge"
# The function name comes from the environment so that a test or local run without a Lambda context works.
metrics = Metrics(
    namespace=NAMESPACE, service=SERVICE, function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local"
)


def milliseconds(name: str, started: float) -> float:
    """Record the time since `started` (a perf_counter reading) as metric `name`; returns it."""
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=elapsed)
    return elapsed


def error(error_type: str) -> None:
    """Count one error. Its own EMF line, so that the ErrorType dimension stays off the other metrics."""
    with single_metric(name="Errors", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="ErrorType", value=error_type)


def run(handle, event, context, init: dict | None, latency: bool = True):
    """Run a feature's handler with logs keyed by request and metrics flushed at the end.

    `init` (INIT's phases, from fast_path) is given on the first invocation of an execution environment only: that
    one is the cold start. `latency=False` keeps warm-up pings out of RequestLatency.
    """
    started = time.perf_counter()
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    try:
        return handle(event, context)
    finally:
        if init is not None:
            metrics.add_metric(name="InitDuration", unit=MetricUnit.Milliseconds, value=init["init_ms"])
            metrics.provider.add_cold_start_metric(context)  # Powertools' own ColdStart line
            # One line per execution environment; `modules`: loaded after INIT and this first request.
            logger.info("cold start", extra={**init, "modules": len(sys.modules)})
        if latency:
            milliseconds("RequestLatency", started)
        if metrics.metric_set:
            metrics.flush_metrics()
