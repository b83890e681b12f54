"""What Home Assistant has and what Alexa sees of it: the entity list, one entity's state, a service call."""

import re

from gateway.alexa_endpoints import NO_SMART_HOME
from gateway.alexa_exposure import ENTITY_ID, entity_id_of
from gateway.redact import error_message
from ha_devices import home_assistant
from ha_devices.errors import HomeAssistantFailure, InvalidInputError, NotFoundError

# Home Assistant's own rule (homeassistant.core.valid_domain) with ASCII digits, as its slugify makes them; its entity
# ID rule is gateway.alexa_exposure's.
SLUG = re.compile(r"(?!_)[0-9a-z_]+(?<!_)")
REGISTRIES = {
    "states": {"type": "get_states"},
    "entities": {"type": "config/entity_registry/list"},
    "devices": {"type": "config/device_registry/list"},
    "areas": {"type": "config/area_registry/list"},
}
NOT_EXPOSED = (
    "not exposed: Home Assistant's Alexa integration does not support this kind of entity, or the `filter:` of"
    " `alexa: smart_home:` leaves it out"
)

LEFT_OUT = (
    "offered by Home Assistant, but Alexa takes at most 300 endpoints and the bridge sends devices first: the"
    " doctor (`health`) proposes a `filter:` for `alexa: smart_home:` that chooses which"
)
LEFT_OUT_UI = (
    "exposed, but Alexa takes at most 300 endpoints and the bridge sends devices first: expose fewer in Home"
    " Assistant's UI (ALEXA_EXPOSE={exposure}); the doctor (`health`) says how many"
)


def list_entities(until: float, domain: str | None = None, area: str | None = None) -> dict:
    """Every entity with its name, state, device and area, and whether Alexa discovers it (and by which name)."""
    if domain is not None and not SLUG.fullmatch(domain):
        raise InvalidInputError("`domain` must be a Home Assistant domain such as `light` (lower case, digits, _)")
    ha, secret = home_assistant.client(), home_assistant.token()
    registries = home_assistant.websocket_results(ha, secret, REGISTRIES, until)
    areas = {a["area_id"]: a.get("name") or a["area_id"] for a in _records(registries["areas"], "area_id")}
    area_id = _area_id(area, areas) if area is not None else None
    found = home_assistant.discover(ha, secret, until)
    checked = found.checked if found and not found.unreadable else None
    # The name Alexa hears is the Discovery's friendlyName: HA 2026.x takes the Alexa name or the first voice
    # alias, which can differ from the state's friendly_name (`name`).
    discovered = None if checked is None else {
        entity_id_of(e.get("endpointId")): e.get("friendlyName") for e in checked.kept if isinstance(e, dict)}
    left_out = set() if checked is None else {
        entity_id_of(e.get("endpointId")) for endpoints in checked.left_out.values() for e in endpoints
        if isinstance(e, dict)}
    over = LEFT_OUT_UI.format(exposure=found.exposure) if found and found.ui_based else LEFT_OUT

    entries = {e["entity_id"]: e for e in _records(registries["entities"], "entity_id")}
    devices = {d["id"]: d for d in _records(registries["devices"], "id")}
    states = {s["entity_id"]: s for s in _records(registries["states"], "entity_id")}
    rows = []
    for entity_id in sorted(states.keys() | entries.keys()):
        entry, state = entries.get(entity_id, {}), states.get(entity_id)
        device = devices.get(entry.get("device_id")) or {}
        # A child device (HA 2026.9+: parent_device_id) without an area of its own is in its parent's.
        parent = devices.get(device.get("parent_device_id")) or {}
        entity_area = entry.get("area_id") or device.get("area_id") or parent.get("area_id")
        if domain is not None and entity_id.split(".", 1)[0] != domain:
            continue
        if area is not None and entity_area != area_id:
            continue
        row = {
            "entity_id": entity_id,
            "name": _name(entity_id, entry, state),
            "domain": entity_id.split(".", 1)[0],
            "state": state.get("state") if state else None,
            "device": device.get("name_by_user") or device.get("name"),
            "area": areas.get(entity_area, entity_area),
            "alexa": None if discovered is None else entity_id in discovered,
        }
        if row["alexa"]:
            row["alexa_name"] = discovered[entity_id]
        if row["alexa"] is False:
            row["alexa_note"] = (over if entity_id in left_out else found.hidden.get(entity_id)
                                 or _why_not_discovered(entry, state))
        rows.append(row)
    alexa = {"configured": found is not None}
    if found is None:
        alexa["note"] = NO_SMART_HOME
    else:
        alexa["exposure"] = found.exposure
        if found.unreadable:  # Alexa's Discovery fails too: it keeps what it has
            alexa["note"] = f"{found.unreadable}; Alexa's Discovery answers an error until it is mended"
        else:
            alexa["endpoints"] = len(checked.kept)
    return {"count": len(rows), "entities": rows, "alexa": alexa}


def entity_state(until: float, entity_id: str) -> dict:
    """One entity's state and attributes, as Home Assistant reports them."""
    _check_entity_id(entity_id)
    ha, secret = home_assistant.client(), home_assistant.token()
    response = home_assistant.rest(ha, secret, "GET", f"/api/states/{entity_id}", until)
    if response.status == 404:
        raise NotFoundError(f"Home Assistant has no entity {entity_id}")
    if response.status != 200:
        raise HomeAssistantFailure(f"Home Assistant answered HTTP {response.status} for the state of {entity_id}")
    answer = home_assistant.json_body(response, "a state request")
    if not isinstance(answer, dict):
        raise HomeAssistantFailure(f"Home Assistant's answer for {entity_id} is not a state")
    return _state(answer)


def call_service(
    until: float, domain: str, service: str, data: dict | None = None, return_response: bool = False
) -> dict:
    """Call a service; returns the states it changed (and its response when `return_response`)."""
    for name, value in (("domain", domain), ("service", service)):
        if not SLUG.fullmatch(value):
            raise InvalidInputError(f"`{name}` must be a Home Assistant name such as `turn_on` (lower case, digits, _)")
    ha, secret = home_assistant.client(), home_assistant.token()
    path = f"/api/services/{domain}/{service}" + ("?return_response" if return_response else "")
    response = home_assistant.rest(ha, secret, "POST", path, until, body=data or {})
    if response.status == 400:
        message = error_message(response, ha, secret) or ""  # HA's own reason, never a secret sent to it
        raise _refused_call(ha, secret, domain, service, return_response, until, message)
    if response.status != 200:
        # HA 2026.10+ answers a HomeAssistantError with its message (JSON); older releases with a bare error page.
        message = error_message(response, ha, secret)
        raise HomeAssistantFailure(
            f"Home Assistant answered HTTP {response.status} to {domain}.{service}: the service failed"
            + (f": {message}" if message else "; Home Assistant's log says why")
        )
    answer = home_assistant.json_body(response, "a service call")
    changed = answer.get("changed_states") if isinstance(answer, dict) else answer
    result = {"called": f"{domain}.{service}", "changed": [_state(s) for s in changed or [] if isinstance(s, dict)]}
    if isinstance(answer, dict) and "service_response" in answer:
        result["response"] = answer["service_response"]
    return result


def _refused_call(ha, secret: str, domain: str, service: str, return_response: bool, until: float,
                  message: str) -> Exception:
    """Why Home Assistant answered 400 to a service call: its own message, or, where it says only "Bad Request"
    (bad data, or no such service), what its service list shows."""
    if message:
        hint = ""
        if "return_response" in message:  # HA names its query parameter; the operator sets the event's field
            hint = f'; in the operator event: "return_response": {"false" if return_response else "true"}'
        return InvalidInputError(f"Home Assistant refused {domain}.{service} (HTTP 400): {message}{hint}")
    response = home_assistant.rest(ha, secret, "GET", "/api/services", until)
    listing = home_assistant.json_body(response, "the service list") if response.status == 200 else []
    services = {}
    for entry in listing if isinstance(listing, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("services"), dict):
            services[entry.get("domain")] = entry["services"]
    if services and domain not in services:
        return NotFoundError(f"Home Assistant has no service domain {domain}")
    if services and service not in services[domain]:
        known = ", ".join(sorted(services[domain])) or "none"
        return NotFoundError(f"Home Assistant has no service {domain}.{service}; {domain} has: {known}")
    spec = services.get(domain, {}).get(service) or {}
    answers = spec.get("response") if isinstance(spec, dict) else None
    if not return_response and isinstance(answers, dict) and not answers.get("optional"):
        return InvalidInputError(f'{domain}.{service} returns data: add "return_response": true to the event')
    fields = _field_names(spec.get("fields") if isinstance(spec, dict) else None)
    hint = f"; its fields: {', '.join(fields)}" if fields else ""
    return InvalidInputError(
        f"Home Assistant refused the data for {domain}.{service} (HTTP 400): check the field names and values{hint}"
    )


def _field_names(fields) -> list[str]:
    """A service's field names, with those inside sections (such as light's advanced_fields) brought up."""
    names = []
    for name, spec in (fields or {}).items() if isinstance(fields, dict) else ():
        nested = spec.get("fields") if isinstance(spec, dict) else None
        names.extend(_field_names(nested) if isinstance(nested, dict) else [name])
    return sorted(names)


def _check_entity_id(entity_id: str) -> None:
    if not ENTITY_ID.fullmatch(entity_id):
        raise InvalidInputError("`entity_id` must look like `light.kitchen`: a domain, a dot and an object id")


def _records(result, key: str) -> list[dict]:
    """The registry entries that have `key`; a registry answer that is not a list counts as empty."""
    if not isinstance(result, list):
        return []
    return [item for item in result if isinstance(item, dict) and isinstance(item.get(key), str)]


def _area_id(area: str, areas: dict) -> str:
    """The area the operator named, by id or by name (any case)."""
    wanted = area.strip().casefold()
    for area_id, name in areas.items():
        if wanted in (area_id.casefold(), str(name).casefold()):
            return area_id
    known = ", ".join(sorted(str(name) for name in areas.values())) or "none"
    raise NotFoundError(f"no area matches the given `area`; Home Assistant's areas: {known}")


def _name(entity_id: str, entry: dict, state: dict | None) -> str:
    friendly = ((state or {}).get("attributes") or {}).get("friendly_name")
    return friendly or entry.get("name") or entry.get("original_name") or entity_id


def _why_not_discovered(entry: dict, state: dict | None) -> str:
    if entry.get("disabled_by"):
        return f"disabled in Home Assistant (by {entry['disabled_by']})"
    if state is None:
        return "Home Assistant has no state for it: its integration has not loaded it"
    if entry.get("hidden_by"):
        return "hidden in Home Assistant: Alexa gets hidden entities only when the `filter:` names them"
    if entry.get("entity_category"):
        return (
            f"a {entry['entity_category']} entity: Alexa gets these only when the `filter:` of"
            " `alexa: smart_home:` names them"
        )
    return NOT_EXPOSED


def _state(state: dict) -> dict:
    keys = ("entity_id", "state", "attributes", "last_changed", "last_updated")
    return {key: state[key] for key in keys if key in state}

