"""Discovery guard: Home Assistant's Discover.Response checked, endpoint by endpoint, against Alexa's rules.

One malformed endpoint can make Alexa fail the discovery of every device (HA answers `displayCategories: null`
for some entities, such as a moisture binary_sensor or an event entity). What can be repaired is repaired, what
cannot is dropped (the rules: gateway.alexa_endpoints); each is logged with its reason and counted. Endpoints
without a problem pass through as they are. The doctor lists the same problems.
"""

from gateway.alexa_endpoints import check_endpoints
from gateway.log import logger
from gateway.metrics import metrics
from gateway.powertools import MetricUnit


def guard(answer: dict) -> dict:
    """A Discover.Response with only endpoints Alexa accepts; logs and counts what it changed."""
    event = answer["event"]
    payload = event.get("payload")
    endpoints = payload.get("endpoints") if isinstance(payload, dict) else None
    if not isinstance(endpoints, list):
        return answer
    kept, problems = check_endpoints(endpoints)
    if not problems:
        return answer
    for problem in problems:
        logger.warning(f"discovery endpoint {problem['action']}", extra=problem)
    for action, metric in (("dropped", "DiscoveryEndpointsDropped"), ("repaired", "DiscoveryEndpointsRepaired")):
        count = sum(problem["action"] == action for problem in problems)
        if count:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=count)
    return {**answer, "event": {**event, "payload": {**payload, "endpoints": kept}}}
