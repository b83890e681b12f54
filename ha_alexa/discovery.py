"""Discovery guard: Home Assistant's Discover.Response made fit for Alexa (rules: gateway.alexa_endpoints), and
narrowed to what the owner chose in Home Assistant's UI when ALEXA_EXPOSE says so (gateway.alexa_exposure).

One malformed endpoint can make Alexa fail the discovery of every device (HA answers `displayCategories: null`
for some entities, such as a moisture binary_sensor or an event entity), and Alexa takes at most 300 endpoints:
devices people control are kept first, among the exposed ones. What can be repaired is repaired, what cannot is
dropped; one log line per Discovery summarises it, and the metrics count it. Endpoints without a problem pass
through as they are.

When the owner's choice cannot be read, the Discovery fails with an ErrorResponse: a Discover.Response lists all
of the owner's devices (Amazon's Alexa.Discovery reference), so a partial or empty one would make Alexa lose the
others, while an ErrorResponse leaves Alexa's device list as it was, and nothing the owner hid is sent.
"""

import gc
from contextlib import contextmanager

from gateway.alexa_endpoints import check_endpoints, summary
from gateway.config import settings
from gateway.log import logger
from gateway.metrics import metrics
from gateway.powertools import MetricUnit
from ha_alexa.errors import AlexaBridgeUnreachableError, AlexaInternalError

KEPT = "; Alexa keeps the devices it has, and gets nothing the owner hid"


@contextmanager
def collector_paused():
    """No garbage collection while a Discovery's answers are parsed and reshaped: they are trees of dicts and
    lists without cycles (JSON has none), tens of thousands of objects in a big home, which each collection
    would walk and never free. What the Discovery leaves is freed by reference counting as usual, and the
    collector runs again as soon as the Discovery is done."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def guard(answer: dict, answer_bytes: int | None = None, client=None, token: str = "", until: float = 0.0) -> dict:
    """A Discover.Response with only endpoints Alexa accepts (and, by ALEXA_EXPOSE, the owner exposes); logs and
    counts what it changed. With ALEXA_EXPOSE set, `client`, `token` and `until` read the owner's choice; raises
    an AlexaError when it cannot be read."""
    event = answer["event"]
    payload = event.get("payload")
    endpoints = payload.get("endpoints") if isinstance(payload, dict) else None
    if not isinstance(endpoints, list):
        return answer
    chosen, hidden = None, {}
    if settings().alexa_expose != "all":
        # Only then: the default path does not pay for the module during INIT.
        from gateway.alexa_exposure import ExposureUnreadable, exposed_endpoints, mode

        try:
            chosen = mode(settings().alexa_expose)
            endpoints, hidden = exposed_endpoints(client, token, until, chosen, endpoints)
        except ExposureUnreadable as err:
            metrics.add_metric(name="DiscoveryExposureUnreadable", unit=MetricUnit.Count, value=1)
            error = AlexaBridgeUnreachableError if err.reason == "unreachable" else AlexaInternalError
            raise error(err.message + KEPT) from None
    checked = check_endpoints(endpoints, answer_bytes)
    if not checked.problems and not checked.left_out and not hidden:
        return answer
    said = summary(checked, len(endpoints))
    if chosen is not None and chosen.kind != "all":
        said = {"exposure": str(chosen), "hidden": sum(map(len, hidden.values())), **said}
    logger.warning("discovery answer changed for Alexa", extra=said)
    for name, metric in (("dropped", "DiscoveryEndpointsDropped"), ("repaired", "DiscoveryEndpointsRepaired")):
        if said[name]:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=said[name])
    return {**answer, "event": {**event, "payload": {**payload, "endpoints": checked.kept}}}

