"""Alexa's discovery rules for one endpoint, shared by the Smart Home guard (ha_alexa) and the doctor (ha_devices).

When Home Assistant offers more endpoints than Alexa takes, devices people control go first, then scenes, scripts,
buttons and helpers, then read-only endpoints, each class in Home Assistant's order; only those Alexa gets are
examined. What can be repaired is repaired, what cannot is dropped, and each is described. Endpoints without a
problem are returned as the same objects.
"""

import json
import re
from collections import Counter
from typing import NamedTuple

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


# Which endpoints Alexa gets when Home Assistant offers more than it takes, by the domain in the endpointId
# (`light#kitchen`): 1 devices people control, 2 scenes, scripts, buttons and helpers, 3 read-only endpoints.
PRIORITY = {
    **dict.fromkeys("""light switch lock cover climate fan media_player vacuum humidifier water_heater valve
                       alarm_control_panel remote""".split(), 1),
    **dict.fromkeys("""scene script button input_boolean input_number input_button number timer automation group
                       alert""".split(), 2),
    **dict.fromkeys("sensor binary_sensor event camera image_processing".split(), 3),
}
# Interfaces that only report or describe: an endpoint of an unknown domain with nothing else is read-only (3);
# with anything else it can be controlled, but is not known to be a device (2).
REPORTING = frozenset("""Alexa Alexa.EndpointHealth Alexa.TemperatureSensor Alexa.ContactSensor Alexa.MotionSensor
    Alexa.EventDetectionSensor Alexa.DoorbellEventSource Alexa.CameraStreamController""".split())
# Lambda refuses a response over 6 MB (synchronous invocation); the rest of a Discover.Response is small.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
ENVELOPE_BYTES = 4096
OVER_COUNT = f"Alexa takes at most {MAX_ENDPOINTS} endpoints"
OVER_SIZE = f"the answer would pass Lambda's {MAX_RESPONSE_BYTES // 1024 // 1024} MB response limit"


class Checked(NamedTuple):
    """What a Discovery check found; `kept` is what Alexa gets, devices first, each class in HA's order."""

    kept: list
    problems: list[dict]  # endpoints examined and repaired or dropped for a fault of their own
    left_out: dict[str, list]  # reason -> endpoints Alexa had no room for (never examined), lowest priority last


def priority(endpoint) -> int:
    """1 for a device people control, 2 for scenes, scripts, buttons and helpers, 3 for read-only endpoints."""
    if not isinstance(endpoint, dict):
        return 3
    endpoint_id = endpoint.get("endpointId")
    known = PRIORITY.get(endpoint_id.partition("#")[0]) if isinstance(endpoint_id, str) else None
    if known:
        return known
    capabilities = endpoint.get("capabilities")
    return 2 if isinstance(capabilities, list) and any(
        isinstance(c, dict) and c.get("interface") not in REPORTING for c in capabilities) else 3


def domain_of(endpoint) -> str:
    """The Home Assistant domain in an endpointId (`light#kitchen` -> `light`), or "?"."""
    endpoint_id = endpoint.get("endpointId") if isinstance(endpoint, dict) else None
    return endpoint_id.partition("#")[0] or "?" if isinstance(endpoint_id, str) else "?"


def check_endpoints(endpoints, answer_bytes: int | None = None) -> Checked:
    """The endpoints Alexa gets and what was changed on the way, examining only those Alexa gets.

    A problem is `{"endpointId", "friendlyName", "action": "repaired" | "dropped", "reason"}`. `answer_bytes`, the
    size of Home Assistant's answer, spares measuring the kept endpoints when even three times it fits Lambda's
    response limit (escaping non-ASCII text and spacing can grow JSON by no more).
    """
    ranked = endpoints if isinstance(endpoints, list) else []
    if len(ranked) > MAX_ENDPOINTS:  # else Home Assistant's order stays
        classes, known = ([], [], []), PRIORITY.get
        for endpoint in ranked:  # a plain loop: this runs for every endpoint of a big home
            try:
                rank = known(endpoint["endpointId"].partition("#")[0]) or priority(endpoint)
            except (TypeError, KeyError, AttributeError):
                rank = priority(endpoint)
            classes[rank - 1].append(endpoint)
        ranked = classes[0] + classes[1] + classes[2]
    kept, problems, seen, left_out = [], [], set(), {}
    for index, endpoint in enumerate(ranked):
        if len(kept) == MAX_ENDPOINTS:
            left_out[OVER_COUNT] = ranked[index:]
            break
        reason = _fatal(endpoint, seen)
        if reason:
            problems.append(_problem(endpoint, "dropped", reason))
            continue
        fixed, reasons = _repair(endpoint)
        if reasons:
            problems.append(_problem(endpoint, "repaired", "; ".join(reasons)))
        kept.append(fixed)
        seen.add(fixed["endpointId"])
    budget = MAX_RESPONSE_BYTES - ENVELOPE_BYTES
    if (answer_bytes is None or 3 * answer_bytes > budget) and len(json.dumps(kept)) > budget:
        kept.sort(key=priority)  # stable: lowest priority last, each class in Home Assistant's order
        fitting = _fitting(kept, budget)
        left_out = {OVER_SIZE: kept[fitting:], **left_out}
        kept = kept[:fitting]
    return Checked(kept, problems, left_out)


def _fitting(kept: list, budget: int) -> int:
    """How many of `kept`, from the first, fit in `budget` bytes (measured as JSON with non-ASCII escaped)."""
    for count, endpoint in enumerate(kept):
        budget -= len(json.dumps(endpoint)) + 2
        if budget < 0:
            return count
    return len(kept)


def summary(checked: Checked, offered: int) -> dict:
    """One log line's worth: counts per action, reason and domain, and a few example endpoint IDs."""
    reasons, domains, examples = Counter(), Counter(), {"repaired": [], "dropped": []}
    for problem in checked.problems:
        reasons[f"{problem['action']}: {problem['reason']}"] += 1
        if problem["action"] == "dropped":
            domains[domain_of(problem)] += 1
        if len(examples[problem["action"]]) < 3:
            examples[problem["action"]].append(problem["endpointId"])
    for reason, endpoints in checked.left_out.items():
        reasons[f"dropped: {reason}"] += len(endpoints)
        domains.update(domain_of(endpoint) for endpoint in endpoints)
        examples["dropped"] += [_short(e.get("endpointId")) for e in endpoints[:3] if isinstance(e, dict)]
    return {"offered": offered, "sent": len(checked.kept),
            "repaired": sum(p["action"] == "repaired" for p in checked.problems),
            # most_common()[:10], not most_common(10): the same ten (sorted, as heapq.nlargest is documented to
            # equal), without importing heapq in the invocation, where 128 MB's CPU is slow
            "dropped": offered - len(checked.kept), "reasons": dict(reasons.most_common()[:10]),
            "dropped_domains": dict(domains.most_common()[:10]), "examples": examples}


def propose_filter(endpoints: list) -> tuple[list[str], int]:
    """Domains for `filter: include_domains:` that keep every device (class 1) and fill Alexa's 300 with whole
    domains of scenes, scripts, helpers, then read-only ones, in Home Assistant's order; and how many they expose."""
    counts = Counter(domain_of(endpoint) for endpoint in endpoints)
    counts.pop("?", None)  # no domain to name
    classes = {domain_of(endpoint): priority(endpoint) for endpoint in endpoints}
    chosen = [domain for domain in counts if classes[domain] == 1]
    total = sum(counts[domain] for domain in chosen)
    for rank in (2, 3):
        for domain in counts:
            if classes[domain] == rank and total + counts[domain] <= MAX_ENDPOINTS:
                chosen.append(domain)
                total += counts[domain]
    return chosen, total


def filter_snippet(domains: list[str]) -> str:
    """The configuration.yaml lines of an `alexa: smart_home: filter:` exposing these domains."""
    return "alexa:\n  smart_home:\n    filter:\n      include_domains:\n" + "".join(
        f"        - {domain}\n" for domain in domains)


def _fatal(endpoint, seen: set) -> str:
    """Why `endpoint` cannot be sent to Alexa at all, or ""."""
    if not isinstance(endpoint, dict):
        return "not an object"
    endpoint_id = endpoint.get("endpointId")
    if not isinstance(endpoint_id, str) or not ENDPOINT_ID.fullmatch(endpoint_id):
        return "endpointId must be 1 to 256 letters, digits or _-=#;:?@&"
    if endpoint_id in seen:
        return "endpointId is not unique"
    name = endpoint.get("friendlyName")
    if not isinstance(name, str) or not name or name.isspace():
        return "no friendlyName"
    capabilities = endpoint.get("capabilities")
    if not isinstance(capabilities, list) or not capabilities:
        return "no capabilities"
    for capability in capabilities:  # plain checks: this runs for every capability of every Discovery
        if not (isinstance(capability, dict) and isinstance(capability.get("type"), str)
                and isinstance(capability.get("interface"), str) and isinstance(capability.get("version"), str)):
            return "a capability lacks its type, interface or version"
    return ""


def _repair(endpoint: dict) -> tuple[dict, list[str]]:
    """`endpoint` with what Alexa would refuse mended, and why: a copy, or the same object if nothing was wrong.

    Checks first and copies only what changes: nearly every endpoint of a Discovery is fine.
    """
    changes, reasons = {}, []
    for key, default in (("description", "{} via Home Assistant"), ("manufacturerName", "Home Assistant")):
        value = endpoint.get(key)
        if not isinstance(value, str) or not value or value.isspace():
            changes[key] = default.format(endpoint["friendlyName"])
            reasons.append(f"{key} was missing or empty")
    for key in ("friendlyName", "description", "manufacturerName"):
        value = changes.get(key) or endpoint[key]
        if len(value) > MAX_TEXT:
            changes[key] = value[:MAX_TEXT]
            reasons.append(f"{key} cut to {MAX_TEXT} characters")
    categories = endpoint.get("displayCategories")
    if not _known_categories(categories):
        known = list(dict.fromkeys(c for c in categories if isinstance(c, str) and c in DISPLAY_CATEGORIES)
                     ) if isinstance(categories, list) else []
        changes["displayCategories"] = known or ["OTHER"]
        reasons.append(f"displayCategories {repr(categories)[:200]} became {changes['displayCategories']}")
    capabilities = endpoint["capabilities"]
    for capability in capabilities:
        if "configuration" in capability and _without_duplicate_modes(capability) is not capability:
            changes["capabilities"] = [_without_duplicate_modes(c) if "configuration" in c else c
                                       for c in capabilities]
            reasons.append("duplicate supportedModes were removed")  # HA maps several HVAC modes to CUSTOM
            break
    cookie = endpoint.get("cookie", {})
    if type(cookie) is not dict or (cookie and not all(isinstance(value, str) for value in cookie.values())):
        changes["cookie"] = None  # left out below
        reasons.append("cookie was not an object of strings")
    attributes = endpoint.get("additionalAttributes", {})
    if not _valid_attributes(attributes):
        changes["additionalAttributes"] = {
            key: value for key, value in attributes.items()
            if key in ATTRIBUTES and isinstance(value, str) and len(value) <= MAX_ATTRIBUTE
        } if isinstance(attributes, dict) else {}
        reasons.append("additionalAttributes that Alexa refuses were left out")
    if not reasons:
        return endpoint, []
    fixed = {**endpoint, **changes}
    if "cookie" in changes:
        del fixed["cookie"]
    return fixed, reasons


def _known_categories(categories) -> bool:
    """Whether `categories` is a list of distinct display categories Alexa knows."""
    if type(categories) is not list or not categories:
        return False
    for category in categories:
        if type(category) is not str or category not in DISPLAY_CATEGORIES:
            return False
    return len(categories) == 1 or len(set(categories)) == len(categories)


def _valid_attributes(attributes) -> bool:
    if type(attributes) is not dict:
        return False
    for key, value in attributes.items():
        if key not in ATTRIBUTES or type(value) is not str or len(value) > MAX_ATTRIBUTE:
            return False
    return True


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
