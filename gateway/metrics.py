"""CloudWatch metrics through Powertools (EMF lines on stdout), and the wrapper every request runs in."""

import sys
import time

from gateway.config import names
from gateway.log import logger
from gateway.powertools import Metrics, MetricUnit, single_metric

NAMESPACE, SERVICE = names().metrics_namespace, names().service
metrics = Metrics(namespace=NAMESPACE, service=SERVICE, function_name=names().function_name)


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


def _measured(event, context, handle, init: dict | None, latency: bool):
    started = time.perf_counter()
    try:
        return handle(event, context)
    finally:
        if init is not None:
            metrics.add_metric(name="InitDuration", unit=MetricUnit.Milliseconds, value=init["init_ms"])
            # One line per execution environment; `modules`: loaded after INIT and this first request.
            logger.info("cold start", extra={**init, "modules": len(sys.modules)})
        if latency:
            milliseconds("RequestLatency", started)


_with_context = logger.inject_lambda_context(_measured)  # the request's keys (function_request_id...) on each line


def _keyed(event, context, *args):
    # A local call (a test, bench.overhead) may have no Lambda context, whose fields inject_lambda_context reads.
    return (_measured if context is None else _with_context)(event, context, *args)


# Powertools' own ColdStart line (function_name and service dimensions) on the cold start only, the flush always.
_cold = metrics.log_metrics(_keyed, capture_cold_start_metric=True)
_warm = metrics.log_metrics(_keyed)


def run(handle, event, context, init: dict | None, latency: bool = True):
    """Run a feature's handler with logs keyed by request and metrics flushed at the end.

    `init` (INIT's phases, from fast_path) is given on the first invocation of an execution environment only: that
    one is the cold start. `latency=False` keeps warm-up pings out of RequestLatency.
    """
    return (_warm if init is None else _cold)(event, context, handle, init, latency)
