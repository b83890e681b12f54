"""Alexa's discovery rules for one endpoint, shared by the Smart Home guard (ha_alexa) and the doctor (ha_devices).

Home Assistant's Discover.Response is checked endpoint by endpoint: what can be repaired is repaired, what cannot
is dropped, and each is described. Endpoints without a problem are returned as the same objects.
"""

import re

# Home Assistant's Alexa Smart Home API, and what its 404 means.
SMART_HOME_PATH = "/api/alexa/smart_home"
NO_SMART_HOME = (
    "Home Assistant has no Alexa Smart Home endpoint: add `alexa: smart_home:` to configuration.yaml and restart it"
)
# Alexa's pattern for endpointId (and the schema's): an answer that breaks it would void the whole message.
ENDPOINT_ID = re.compile(r"[a-zA-Z0-9_\-=#;:?@&]{1,256}")
MAX_ENDPOINTS = 300
MAX_TEXT = 128  # friendlyName, description, manufacturerName
MAX_ATTRIBUTE = 256
ATTRIBUTES = {"manufacturer", "model", "serialNumber", "firmwareVersion", "softwareVersion", "customIdentifier"}
# Alexa's documented display categories. Amazon's published JSON schema predates some of them (VACUUM_CLEANER,
# WATER_HEATER, ...) that Home Assistant sends and Alexa accepts.
DISPLAY_CATEGORIES = frozenset("""
    ACTIVITY_TRIGGER AIR_CONDITIONER AIR_FRESHENER AIR_PURIFIER AIR_QUALITY_MONITOR ALEXA_VOICE_ENABLED
    AUTO_ACCESSORY BLUETOOTH_SPEAKER CAMERA CHRISTMAS_TREE COFFEE_MAKER COMPUTER CONTACT_SENSOR DASH_CAM DISHWASHER
    DOOR DOORBELL DRYER EXTERIOR_BLIND FAN FREEZER GAME_CONSOLE GARAGE_DOOR HEADPHONES HUB INTERIOR_BLIND LAPTOP
    LIGHT MICROWAVE MOBILE_PHONE MOTION_SENSOR MUSIC_SYSTEM NETWORK_HARDWARE OTHER OVEN PHONE PRINTER REFRIGERATOR
    REMOTE ROUTER SCENE_TRIGGER SCREEN SECURITY_PANEL SECURITY_SYSTEM SLOW_COOKER SMARTLOCK SMARTPLUG SPEAKER
    STREAMING_DEVICE SWITCH TABLET TEMPERATURE_SENSOR THERMOSTAT TV VACUUM_CLEANER VEHICLE WASHER WATER_HEATER
    WEARABLE
""".split())


def check_endpoints(endpoints) -> tuple[list, list[dict]]:
    """The endpoints Alexa accepts, and one problem per endpoint repaired or dropped.

    A problem is `{"endpointId", "friendlyName", "action": "repaired" | "dropped", "reason"}`.
    """
    kept, problems, seen = [], [], set()
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        reason = _fatal(endpoint, seen, len(kept))
        if reason:
            problems.append(_problem(endpoint, "dropped", reason))
            continue
        fixed, reasons = _repair(endpoint)
        if reasons:
            problems.append(_problem(endpoint, "repaired", "; ".join(reasons)))
        kept.append(fixed)
        seen.add(fixed["endpointId"])
    return kept, problems


def _fatal(endpoint, seen: set, count: int) -> str:
    """Why `endpoint` cannot be sent to Alexa at all, or ""."""
    if not isinstance(endpoint, dict):
        return "not an object"
    endpoint_id = endpoint.get("endpointId")
    if not isinstance(endpoint_id, str) or not ENDPOINT_ID.fullmatch(endpoint_id):
        return "endpointId must be 1 to 256 letters, digits or _-=#;:?@&"
    if endpoint_id in seen:
        return "endpointId is not unique"
    name = endpoint.get("friendlyName")
    if not isinstance(name, str) or not name.strip():
        return "no friendlyName"
    capabilities = endpoint.get("capabilities")
    if not isinstance(capabilities, list) or not capabilities:
        return "no capabilities"
    for capability in capabilities:  # plain checks: this runs for every capability of every Discovery
        if not (isinstance(capability, dict) and isinstance(capability.get("type"), str)
                and isinstance(capability.get("interface"), str) and isinstance(capability.get("version"), str)):
            return "a capability lacks its type, interface or version"
    if count >= MAX_ENDPOINTS:
        return f"Alexa takes at most {MAX_ENDPOINTS} endpoints"
    return ""


def _repair(endpoint: dict) -> tuple[dict, list[str]]:
    """`endpoint` with what Alexa would refuse mended, and why: a copy, or the same object if nothing was wrong."""
    fixed, reasons = dict(endpoint), []
    for key, default in (("description", "{} via Home Assistant"), ("manufacturerName", "Home Assistant")):
        if not isinstance(fixed.get(key), str) or not fixed[key].strip():
            fixed[key] = default.format(endpoint["friendlyName"])
            reasons.append(f"{key} was missing or empty")
    for key in ("friendlyName", "description", "manufacturerName"):
        if len(fixed[key]) > MAX_TEXT:
            fixed[key] = fixed[key][:MAX_TEXT]
            reasons.append(f"{key} cut to {MAX_TEXT} characters")
    categories = fixed.get("displayCategories")
    known = list(dict.fromkeys(c for c in categories if isinstance(c, str) and c in DISPLAY_CATEGORIES)
                 ) if isinstance(categories, list) else []
    if not known or known != categories:
        fixed["displayCategories"] = known or ["OTHER"]
        reasons.append(f"displayCategories {repr(categories)[:200]} became {fixed['displayCategories']}")
    capabilities = [_without_duplicate_modes(capability) if "configuration" in capability else capability
                    for capability in fixed["capabilities"]]
    if any(new is not old for new, old in zip(capabilities, fixed["capabilities"])):
        fixed["capabilities"] = capabilities
        reasons.append("duplicate supportedModes were removed")  # HA maps several HVAC modes to CUSTOM
    cookie = fixed.get("cookie", {})
    if not isinstance(cookie, dict) or not all(isinstance(value, str) for value in cookie.values()):
        del fixed["cookie"]
        reasons.append("cookie was not an object of strings")
    attributes = fixed.get("additionalAttributes", {})
    valid = {key: value for key, value in attributes.items()
             if key in ATTRIBUTES and isinstance(value, str) and len(value) <= MAX_ATTRIBUTE
             } if isinstance(attributes, dict) else {}
    if valid != attributes:
        fixed["additionalAttributes"] = valid
        reasons.append("additionalAttributes that Alexa refuses were left out")
    return (fixed, reasons) if reasons else (endpoint, [])


def _without_duplicate_modes(capability: dict) -> dict:
    configuration = capability.get("configuration")
    modes = configuration.get("supportedModes") if isinstance(configuration, dict) else None
    if not isinstance(modes, list) or not all(isinstance(mode, str) for mode in modes):
        return capability
    unique = list(dict.fromkeys(modes))
    if len(unique) == len(modes):
        return capability
    return {**capability, "configuration": {**configuration, "supportedModes": unique}}


def _problem(endpoint, action: str, reason: str) -> dict:
    endpoint = endpoint if isinstance(endpoint, dict) else {}
    return {"endpointId": _short(endpoint.get("endpointId")), "friendlyName": _short(endpoint.get("friendlyName")),
            "action": action, "reason": reason}


def _short(value):
    """A value fit for a log line: strings and None as they are, cut short; anything else by its type."""
    if value is None:
        return None
    return value[:MAX_ATTRIBUTE] if isinstance(value, str) else f"<{type(value).__name__}>"
