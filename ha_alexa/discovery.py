"""Discovery guard: Home Assistant's Discover.Response made fit for Alexa (rules: gateway.alexa_endpoints).

One malformed endpoint can make Alexa fail the discovery of every device (HA answers `displayCategories: null`
for some entities, such as a moisture binary_sensor or an event entity), and Alexa takes at most 300 endpoints:
devices people control are kept first. What can be repaired is repaired, what cannot is dropped; one log line
per Discovery summarises it, and the metrics count it. Endpoints without a problem pass through as they are.
"""

from gateway.alexa_endpoints import check_endpoints, summary
from gateway.log import logger
from gateway.metrics import metrics
from gateway.powertools import MetricUnit


def guard(answer: dict, answer_bytes: int | None = None) -> dict:
    """A Discover.Response with only endpoints Alexa accepts; logs and counts what it changed."""
    event = answer["event"]
    payload = event.get("payload")
    endpoints = payload.get("endpoints") if isinstance(payload, dict) else None
    if not isinstance(endpoints, list):
        return answer
    checked = check_endpoints(endpoints, answer_bytes)
    if not checked.problems and not checked.left_out:
        return answer
    said = summary(checked, len(endpoints))
    logger.warning("discovery answer changed for Alexa", extra=said)
    for name, metric in (("dropped", "DiscoveryEndpointsDropped"), ("repaired", "DiscoveryEndpointsRepaired")):
        if said[name]:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=said[name])
    return {**answer, "event": {**event, "payload": {**payload, "endpoints": checked.kept}}}
