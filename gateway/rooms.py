"""The room each Echo stands in (ASSIST_ROOMS), and the device in that room that tells Assist where the user is.

Home Assistant's default agent takes the area of the conversation's `device_id` as the preferred area: "turn on
the lights" turns on that area's lights. Its conversation API accepts a `device_id` from Home Assistant 2026.4 on
(before, the whole request is refused as malformed), so the bridge sends one only to a Home Assistant that takes
it. The device is one of the area's own, never a voice satellite or a media player: a satellite would take the
conversation's timers and be left out of its broadcasts, and neither should follow from an Echo's request.
"""

import json
import re
import time
from dataclasses import dataclass

from gateway.config import settings

SETTING = "ASSIST_ROOMS"
# SSM parameter names: letters, digits and . - _ /, optionally a path (AWS's own rule).
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,2048}")
# The first Home Assistant whose POST /api/conversation/process takes a device_id.
FIRST_VERSION = (2026, 4)
# Domains whose devices react to being the conversation's device: not chosen to carry the room.
REACTIVE_DOMAINS = ("assist_satellite", "media_player")
RESOLVED_TTL_S = 3600.0  # an area's device, or a Home Assistant too old for rooms: looked up again after this
RETRY_AFTER_S = 60.0  # a lookup that failed (unreachable, refused): tried again after this
LOOKUP_BUDGET_S = 1.5  # at most this much of Alexa's 8 s goes to a lookup, whatever its outcome
LOOKUP_RESERVE_S = 3.0  # and only while this much is left for the utterance itself
_resolved: dict[tuple, "Room"] = {}


class RoomsError(ValueError):
    """ASSIST_ROOMS is unusable; the message names the setting (or its SSM parameter), never its value."""


@dataclass(frozen=True)
class Room:
    area: str  # as configured: an area ID or name; "" when the Echo has none
    device_id: str | None = None  # the device whose area Assist takes; None: the utterance goes without room
    reason: str = ""  # why there is no device, for the log and the doctor
    at: float = 0.0  # when it was looked up (time.monotonic)
    ttl: float = RESOLVED_TTL_S


def parse(text: str, source: str = SETTING) -> dict[str, str]:
    """The mapping in `text`, a JSON object of Alexa device IDs to areas; raises RoomsError naming `source`."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        position = f" (line {err.lineno}, column {err.colno})" if hasattr(err, "lineno") else ""
        raise RoomsError(f"{source} is not valid JSON{position}: write a JSON object of Alexa device IDs to Home "
                         'Assistant areas, e.g. {"amzn1.ask.device.XXXX": "living_room"}') from None
    if not isinstance(value, dict):
        raise RoomsError(f"{source} is a JSON {type(value).__name__}, not an object of Alexa device IDs to Home "
                         "Assistant areas")
    rooms = {}
    for number, (device, area) in enumerate(value.items(), start=1):
        if not device.strip():
            raise RoomsError(f"{source}: entry {number} has an empty device ID")
        if not isinstance(area, str) or not area.strip():
            raise RoomsError(f"{source}: the area of entry {number} is not a non-empty string (an area ID or name)")
        rooms[device.strip()] = area.strip()
    return rooms


def configured() -> dict[str, str]:
    """The configured mapping ({} when ASSIST_ROOMS is unset); raises RoomsError when it is unusable.

    ASSIST_ROOMS holds the JSON itself (local runs) or the name of an SSM parameter holding it (AWS).
    """
    value = settings().assist_rooms
    if not value:
        return {}
    if value.startswith(("{", "[", '"')) or not PARAMETER_NAME.fullmatch(value):
        return _inline(value)
    from gateway.secrets import SecretError, parameter

    try:
        text = parameter(value)
    except SecretError as err:
        raise RoomsError(f"{err} ({SETTING})") from None
    return parse(text, f"SSM parameter {value!r} ({SETTING})")


_inline_cache: dict[str, dict | RoomsError] = {}


def _inline(value: str) -> dict[str, str]:
    """The JSON in the environment, parsed once per execution environment."""
    if value not in _inline_cache:
        try:
            if not value.startswith(("{", "[", '"')):
                raise RoomsError(f"{SETTING} is neither a JSON object nor the name of an SSM parameter holding one")
            _inline_cache[value] = parse(value)
        except RoomsError as err:
            _inline_cache[value] = err
    found = _inline_cache[value]
    if isinstance(found, RoomsError):
        raise found
    return found


def version_tuple(version: str) -> tuple[int, int] | None:
    """(year, month) of a Home Assistant version such as "2026.4.0b1"; None when it is not one."""
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def takes_device_id(version: str) -> bool:
    """Whether that Home Assistant's conversation API accepts a device_id."""
    parsed = version_tuple(version)
    return parsed is not None and parsed >= FIRST_VERSION


def too_old(version: str) -> str:
    return (f"Home Assistant {version or '(version unknown)'} takes no device_id in its conversation API, so the "
            f"Echo's room cannot reach Assist: it needs Home Assistant {FIRST_VERSION[0]}.{FIRST_VERSION[1]} or later")


def choose_device(area: str, areas: list, devices: list, entities: dict) -> tuple[str | None, str, str]:
    """(device ID or None, the area's ID, why none) for the area `area` (an ID, else a name, any case).

    `entities` is config/entity_registry/list_for_display's result: its entities carry "ei" and "di".
    """
    areas = [entry for entry in areas if isinstance(entry, dict)]
    wanted = next((entry for entry in areas if entry.get("area_id") == area), None) or next(
        (entry for entry in areas if str(entry.get("name", "")).casefold() == area.casefold()), None)
    if wanted is None:
        return None, "", f"Home Assistant has no area {area!r} (neither an area ID nor an area name)"
    area_id = wanted.get("area_id")
    reactive = set()
    for entity in (entities or {}).get("entities") or []:
        if isinstance(entity, dict) and str(entity.get("ei", "")).split(".", 1)[0] in REACTIVE_DOMAINS:
            reactive.add(entity.get("di"))
    candidates = sorted(
        str(device["id"]) for device in devices
        if isinstance(device, dict) and device.get("id") and device.get("area_id") == area_id
        and not device.get("disabled_by") and device["id"] not in reactive
    )
    if not candidates:
        return None, area_id, (f"area {area!r} has no device the bridge can name for it (voice satellites and "
                               "media players are never used): assign any other device to that area")
    return candidates[0], area_id, ""


def room(device_id: str, token: str, until: float) -> Room | None:
    """The room of the Echo `device_id`, with the device to send; None when ASSIST_ROOMS does not map it.

    Never raises: whatever fails leaves the utterance without a room, and `reason` says why.
    """
    try:
        rooms = configured()
    except RoomsError as err:
        _warn_once(str(err))
        return Room(area="", reason=str(err))
    area = rooms.get(device_id)
    if not device_id or area is None:
        return None
    key = (settings().ha_url, area)
    cached = _resolved.get(key)
    if cached is not None and time.monotonic() - cached.at < cached.ttl:
        return cached
    found = _look_up(area, token, until)
    _resolved[key] = found
    if found.device_id is None:  # once per lookup, not once per utterance
        from gateway.log import logger

        logger.warning("the Echo's room is not sent to Assist", extra={"area": area, "reason": found.reason})
    return found


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        from gateway.log import logger

        logger.error(f"{SETTING} refused, utterances go without a room: {message}")


def _look_up(area: str, token: str, until: float) -> Room:
    from gateway import ha_websocket
    from gateway.errors import HomeAssistantError
    from gateway.ha_client import default_client
    from gateway.secrets import SecretError

    now = time.monotonic()
    lookup_until = min(now + LOOKUP_BUDGET_S, until - LOOKUP_RESERVE_S)
    if lookup_until <= now:
        return Room(area=area, reason="too little time was left to look up the area's device", at=now, ttl=0.0)
    try:
        with ha_websocket.connect(default_client(), token, lookup_until) as ws:
            if not takes_device_id(ws.ha_version):
                return Room(area=area, reason=too_old(ws.ha_version), at=now)
            ids = [ws.send({"type": f"config/{name}"}) for name in
                   ("area_registry/list", "device_registry/list", "entity_registry/list_for_display")]
            areas, devices, entities = (ws.result(message_id, lookup_until) for message_id in ids)
    except (HomeAssistantError, SecretError, ValueError, OSError) as err:
        detail = getattr(err, "detail", "") or type(err).__name__
        return Room(area=area, reason=f"Home Assistant's registries could not be read: {detail}", at=now,
                    ttl=RETRY_AFTER_S)
    device_id, _, reason = choose_device(area, areas or [], devices or [], entities or {})
    return Room(area=area, device_id=device_id, reason=reason, at=now, ttl=RESOLVED_TTL_S if device_id else
                RETRY_AFTER_S)


def forget() -> None:
    """Drop what was looked up (tests; a restored SnapStart snapshot)."""
    _resolved.clear()
    _inline_cache.clear()
    _warned.clear()
