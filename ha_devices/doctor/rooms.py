"""The doctor's check of ASSIST_ROOMS: the mapped Echos, each one's area in Home Assistant, and the device sent."""

from gateway import ha_websocket
from gateway.errors import HomeAssistantError
from gateway.rooms import FIRST_VERSION, RoomsError, choose_device, configured, takes_device_id, too_old
from gateway.secrets import SecretError
from ha_devices.doctor.outcome import Outcome, Probe, passed, warned

ONLY = "; only the Echo's room for Assist needs it"
FIX_ROOMS = ("write ASSIST_ROOMS (or its SSM parameter) as a JSON object of Alexa device IDs to Home Assistant areas,"
             ' e.g. {"amzn1.ask.device.XXXX": "kitchen"}; "Alexa, ask home assistant which device is this" tells an'
             " Echo's ID")
FIX_AREAS = ("name an area Home Assistant has (Settings, Areas: its name or its ID), and put at least one device in"
             " it that is neither a voice satellite nor a media player")


def check_rooms(probe: Probe) -> Outcome:
    try:
        rooms = configured()
    except RoomsError as err:
        return warned(f"{err}{ONLY}", FIX_ROOMS)
    if not rooms:
        return passed("ASSIST_ROOMS is not set: Assist hears no Echo's room")
    try:
        with ha_websocket.connect(probe.client, probe.token, probe.check_until) as ws:
            if not takes_device_id(ws.ha_version):
                return warned(f"{len(rooms)} Echo(s) mapped, but {too_old(ws.ha_version)}",
                              f"update Home Assistant to {FIRST_VERSION[0]}.{FIRST_VERSION[1]} or later")
            ids = [ws.send({"type": f"config/{name}"}) for name in
                   ("area_registry/list", "device_registry/list", "entity_registry/list_for_display")]
            areas, devices, entities = (ws.result(message_id, probe.check_until) for message_id in ids)
    except HomeAssistantError as err:
        return warned(f"Home Assistant's registries could not be read ({err.detail}): the Echos' rooms are not "
                      "sent" + ONLY, "check the websocket check above")
    except SecretError as err:
        return warned(str(err), "check HA_HEADERS_PARAMETER")
    lines, problems = [], []
    for echo, area in sorted(rooms.items()):
        device, _area_id, reason = choose_device(area, areas or [], devices or [], entities or {})
        lines.append(f"{echo} -> {area!r}" + (f" (sent as device {device})" if device else f": {reason}"))
        if device is None:
            problems.append(echo)
    detail = f"{len(rooms)} Echo(s) mapped: " + "; ".join(lines)
    if problems:
        return warned(f"{detail}; {len(problems)} of them go without a room{ONLY}", FIX_AREAS)
    return passed(detail)
