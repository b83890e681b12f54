"""What Alexa discovers by the owner's choice in Home Assistant's UI (ALEXA_EXPOSE), shared by the Discovery
(ha_alexa) and the doctor and `list` (ha_devices).

`all` (the default) passes on what Home Assistant's `alexa: smart_home:` offers. `assist` keeps the entities exposed
to Assist (assistant `conversation`), `cloud` those exposed to Alexa through Nabu Casa (`cloud.alexa`), both as
Settings > Voice assistants > Expose shows them; `label:<name>` keeps the entities that carry the label, or whose
device does. The choice is read over one WebSocket connection per Discovery, within the Discovery's deadline.

Home Assistant's rule (homeassistant/components/homeassistant/exposed_entities.py, the same in 2025.4 and 2026.11):
an entity's own `should_expose` wins; without one, it is exposed only when the assistant exposes new entities
(Assist does unless the owner turned it off; the cloud's Alexa does not unless turned on), it is neither hidden nor
a config or diagnostic entity, and its domain is one of DEFAULT_DOMAINS or it is a binary sensor or sensor of one of
the device classes below (read from its state). `expose_entity/list` names only the entities exposed explicitly:
Assist stores its default for every entity when Home Assistant starts, the cloud only while it runs.

An endpoint is an entity: Home Assistant writes `light.kitchen` as `light#kitchen`. An endpoint whose ID is not an
entity's, and an entity without a registry entry whose setting the list does not show (Home Assistant keeps those
apart and lists only the exposed ones), is not sent: nothing says the owner exposed it.
"""

import re
from collections import namedtuple

from gateway.errors import HomeAssistantBadAnswer, HomeAssistantError, HomeAssistantUnreachable

# Home Assistant's rule for an entity ID (homeassistant.core.valid_entity_id), with ASCII digits: its `\d` takes any
# Unicode digit, but every entity ID it makes is slugified to ASCII, and http.client cannot send another in a path.
ENTITY_ID = re.compile(r"(?!_)[0-9a-z_]+(?<!_)\.(?!_)[0-9a-z_]+(?<!_)")
ASSISTANTS = {"assist": ("conversation", "Assist"), "cloud": ("cloud.alexa", "Alexa (Home Assistant Cloud)")}
DEFAULT_DOMAINS = frozenset("""climate cover fan humidifier light media_player scene switch todo vacuum
                               water_heater""".split())
DEFAULT_DEVICE_CLASSES = {
    "binary_sensor": frozenset("door garage_door lock motion opening presence window".split()),
    "sensor": frozenset("aqi carbon_monoxide carbon_dioxide humidity pm10 pm25 temperature"
                        " volatile_organic_compounds".split()),
}
SETTING = "ALEXA_EXPOSE must be all, assist, cloud or label:<name> (a Home Assistant label's name or ID)"
DEFAULT_LABEL = "Alexa"  # ALEXA_EXPOSE=label: the template's choice, whose values must stay short
EXPOSE_PAGE = "Settings > Voice assistants > Expose"
# Why an offered endpoint is not sent, as `list` and the doctor say it.
NOT_AN_ENTITY = "its endpointId names no Home Assistant entity"
NOTHING_EXPOSED = (
    "ALEXA_EXPOSE={mode} leaves none of the {offered} endpoints Home Assistant offers ({reason}); the bridge answers"
    " with an error so that Alexa keeps the devices it has"
)


# Namedtuples and a plain class, not dataclasses: ha_alexa imports this module during INIT, and `dataclasses` imports
# `inspect` (about 10 ms on the critical path of a cold start).
class Mode(namedtuple("Mode", "kind label", defaults=("",))):
    """`kind` is "all", "assist", "cloud" or "label"; `label` the label's name or ID for "label"."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"label:{self.label}" if self.kind == "label" else self.kind

    @property
    def ui_based(self) -> bool:
        """Whether the owner chooses in Home Assistant's UI (exposure or labels) rather than in YAML."""
        return self.kind != "all"


class ExposureUnreadable(Exception):
    """The owner's choice could not be read: nothing may be sent. `reason` is a short word for logs and metrics."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def mode(value: str) -> Mode:
    """The mode an ALEXA_EXPOSE value names; raises ExposureUnreadable("setting") for anything else."""
    text = value.strip()
    kind, colon, label = text.partition(":")
    if not colon and text.lower() in ("all", "assist", "cloud"):
        return Mode(text.lower())
    if not colon and text.lower() == "label":
        return Mode("label", DEFAULT_LABEL)
    if colon and kind.strip().lower() == "label" and label.strip():
        return Mode("label", label.strip())
    raise ExposureUnreadable("setting", f"{SETTING}, not {text[:40]!r}")


def entity_id_of(endpoint_id) -> str | None:
    """The entity behind an endpointId (`light#kitchen` -> `light.kitchen`), or None when it names none."""
    if not isinstance(endpoint_id, str):
        return None
    entity_id = endpoint_id.replace("#", ".", 1)
    return entity_id if ENTITY_ID.fullmatch(entity_id) else None


def entities_of(endpoints: list) -> list:
    """The entity behind each Discovery endpoint (entity_id_of its endpointId), None where it names none."""
    return [entity_id_of(endpoint.get("endpointId")) if isinstance(endpoint, dict) else None
            for endpoint in endpoints]


class Exposure:
    """Which entities Alexa gets by the owner's choice: `reasons[entity_id]` says why one is not, "" when it is."""

    def __init__(self, mode: Mode, reasons: dict | None = None, ha_version: str = ""):
        self.mode, self.reasons, self.ha_version = mode, {} if reasons is None else reasons, ha_version

    def split(self, endpoints: list, entity_ids: list) -> tuple[list, dict[str, list]]:
        """The endpoints exposed, in Home Assistant's order, and the others by the reason they are not;
        `entity_ids` is each endpoint's entity (`entities_of`)."""
        kept, hidden, reasons = [], {}, self.reasons
        for endpoint, entity_id in zip(endpoints, entity_ids, strict=True):
            reason = reasons.get(entity_id, NOT_AN_ENTITY)  # None, no entity, is never a key
            if reason:
                hidden.setdefault(reason, []).append(endpoint)
            else:
                kept.append(endpoint)
        return kept, hidden


def exposed_endpoints(client, token: str, until: float, chosen: Mode, endpoints: list) -> tuple[list, dict]:
    """The endpoints the owner exposes, in Home Assistant's order, and the others by reason; raises
    ExposureUnreadable, also when none of a non-empty offer is exposed: an empty Discover.Response would make Alexa
    forget every device, more likely by a mistake in the setting than by the owner's wish."""
    if not chosen.ui_based:
        return endpoints, {}
    entity_ids = entities_of(endpoints)  # once: a big home has over a thousand
    kept, hidden = read(client, token, until, chosen, set(entity_ids) - {None}).split(endpoints, entity_ids)
    if endpoints and not kept:
        reason = max(hidden, key=lambda r: len(hidden[r]))
        raise ExposureUnreadable("nothing_exposed", NOTHING_EXPOSED.format(mode=chosen, offered=len(endpoints),
                                                                           reason=reason))
    return kept, hidden


def commands(chosen: Mode) -> dict:
    """The WebSocket commands a mode needs, all sent at once: {name: message}."""
    if chosen.kind == "label":
        return {"labels": {"type": "config/label_registry/list"},
                "entities": {"type": "config/entity_registry/list"},
                "devices": {"type": "config/device_registry/list"}}
    assistant = ASSISTANTS[chosen.kind][0]
    return {"exposed": {"type": "homeassistant/expose_entity/list"},
            "expose_new": {"type": "homeassistant/expose_new_entities/get", "assistant": assistant},
            "entities": {"type": "config/entity_registry/list"}}


def read(client, token: str, until: float, chosen: Mode, entity_ids) -> Exposure:
    """The exposure of `entity_ids` by `chosen`, over one WebSocket connection; raises ExposureUnreadable.

    `client` is a gateway.ha_client.HomeAssistantClient; `until` the Discovery's own deadline.
    """
    from gateway import ha_websocket  # only a Discovery with ALEXA_EXPOSE set pays for the WebSocket client
    from gateway.secrets import SecretError

    wanted = commands(chosen)
    step = "connect"
    try:
        # Pipelined: the commands go with the auth message, and the first result read checks Home Assistant's
        # answer to it (a rejected token raises there as it would have in connect).
        with ha_websocket.connect(client, token, until, pipelined=True) as ws:
            ids = {name: ws.send(message) for name, message in wanted.items()}
            results = {}
            for name, message_id in ids.items():
                step = wanted[name]["type"]
                results[name] = ws.result(message_id, until)
            if chosen.kind == "label":
                return _by_label(chosen, results, entity_ids, ws.ha_version)
            step = "get_states"
            return _by_assistant(chosen, results, entity_ids, ws, until)
    except ExposureUnreadable:
        raise
    except ha_websocket.WebSocketAuthFailed as err:
        raise ExposureUnreadable("token", f"Home Assistant's WebSocket API rejected the token ({err.detail})") from None
    except ha_websocket.WebSocketCommandFailed as err:
        raise _refused(chosen, step, err) from None
    except HomeAssistantUnreachable as err:
        raise ExposureUnreadable("unreachable", f"Home Assistant's WebSocket API is unreachable ({err.detail})"
                                 ) from None
    except HomeAssistantBadAnswer as err:
        if err.reason == "upgrade_refused":
            raise ExposureUnreadable("websocket_refused", f"{err.detail}: a reverse proxy in front of Home Assistant"
                                     " must pass WebSocket upgrades for /api/websocket") from None
        raise ExposureUnreadable(err.reason, f"Home Assistant's WebSocket answer was unusable ({err.detail})"
                                 ) from None
    except HomeAssistantError as err:
        raise ExposureUnreadable(err.reason, f"Home Assistant's WebSocket API failed ({err.detail})") from None
    except SecretError as err:
        raise ExposureUnreadable("secret", str(err)) from None


def _refused(chosen: Mode, command: str, err) -> ExposureUnreadable:
    """Why Home Assistant refused one of the commands, and what the owner does about it."""
    if err.reason == "unauthorized":
        return ExposureUnreadable("not_admin", (
            f"Home Assistant refused {command} (unauthorized): ALEXA_EXPOSE={chosen} reads the expose settings, which"
            " only an administrator may; link Alexa with an administrator's account (or use the token of one), or"
            " use ALEXA_EXPOSE=label:<name>, which any user may read"))
    if err.reason == "unknown_command":
        return ExposureUnreadable("unknown_command", (
            f"Home Assistant does not know {command}: ALEXA_EXPOSE={chosen} needs Home Assistant 2023.5 or newer"
            " (expose settings) or 2024.4 or newer (labels); update it, or use ALEXA_EXPOSE=all"))
    return ExposureUnreadable("command", f"Home Assistant's {command} failed ({err.reason}: {err.detail[:200]})")


def _listed(result, key: str) -> list[dict]:
    if not isinstance(result, list):
        raise ExposureUnreadable("bad_answer", "Home Assistant's registry answer is not a list")
    return [item for item in result if isinstance(item, dict) and isinstance(item.get(key), str)]


def _by_label(chosen: Mode, results: dict, entity_ids, ha_version: str) -> Exposure:
    labels = _listed(results["labels"], "label_id")
    wanted = chosen.label.casefold()
    label_id = next((label["label_id"] for label in labels if label["label_id"].casefold() == wanted), None) or next(
        (label["label_id"] for label in labels if str(label.get("name", "")).casefold() == wanted), None)
    if label_id is None:
        known = ", ".join(sorted(str(label.get("name") or label["label_id"]) for label in labels)[:20]) or "none"
        raise ExposureUnreadable("no_label", f"Home Assistant has no label {chosen.label!r} (ALEXA_EXPOSE={chosen});"
                                             f" its labels: {known}")
    entries = {entry["entity_id"]: entry for entry in _listed(results["entities"], "entity_id")}
    device_labels = {device["id"]: device.get("labels") or () for device in _listed(results["devices"], "id")}
    missing = f"neither it nor its device carries the label {chosen.label!r}"
    unregistered = (f"it has no unique ID, so it cannot carry a label (label {chosen.label!r}); give it one, or"
                    " expose it with ALEXA_EXPOSE=assist")
    reasons = {}
    for entity_id in entity_ids:
        entry = entries.get(entity_id)
        if entry is None:
            reasons[entity_id] = unregistered
        elif label_id in (entry.get("labels") or ()) or label_id in device_labels.get(entry.get("device_id"), ()):
            reasons[entity_id] = ""
        else:
            reasons[entity_id] = missing
    return Exposure(chosen, reasons, ha_version)


def _by_assistant(chosen: Mode, results: dict, entity_ids, ws, until: float) -> Exposure:
    assistant, name = ASSISTANTS[chosen.kind]
    listed = results["exposed"].get("exposed_entities") if isinstance(results["exposed"], dict) else None
    expose_new = results["expose_new"].get("expose_new") if isinstance(results["expose_new"], dict) else None
    if not isinstance(listed, dict) or not isinstance(expose_new, bool):
        raise ExposureUnreadable("bad_answer", "Home Assistant's expose settings are not in the expected shape")
    entries = {entry["entity_id"]: entry for entry in _listed(results["entities"], "entity_id")}
    hidden = f"not exposed to {name} in Home Assistant's UI ({EXPOSE_PAGE})"
    not_default = (f"not exposed to {name}: it has no setting of its own, and Home Assistant exposes such entities"
                   f" only when chosen ({EXPOSE_PAGE})")
    no_new = (f"not exposed to {name}: it has no setting of its own, and Home Assistant exposes no new entities to"
              f" {name} ({EXPOSE_PAGE}, Expose new entities)")
    reasons, undecided = {}, []
    for entity_id in entity_ids:
        assistants = listed.get(entity_id)
        if isinstance(assistants, dict) and assistants.get(assistant) is True:
            reasons[entity_id] = ""
            continue
        entry = entries.get(entity_id)
        options = entry.get("options") if entry else None
        own = options.get(assistant) if isinstance(options, dict) else None
        if entry is None or (isinstance(own, dict) and own.get("should_expose") is not None):
            reasons[entity_id] = hidden  # its own setting (or, without a registry entry, an unlisted one)
        elif not expose_new:
            reasons[entity_id] = no_new
        elif entry.get("entity_category") is not None or entry.get("hidden_by") is not None:
            reasons[entity_id] = not_default
        elif entity_id.partition(".")[0] in DEFAULT_DOMAINS:
            reasons[entity_id] = ""
        elif entity_id.partition(".")[0] in DEFAULT_DEVICE_CLASSES:
            undecided.append(entity_id)
        else:
            reasons[entity_id] = not_default
    if undecided:  # the device class decides: Home Assistant reads it from the state
        states = ws.command({"type": "get_states"}, until)
        classes = {state["entity_id"]: (state.get("attributes") or {}).get("device_class")
                   for state in _listed(states, "entity_id")}
        for entity_id in undecided:
            exposed = classes.get(entity_id) in DEFAULT_DEVICE_CLASSES[entity_id.partition(".")[0]]
            reasons[entity_id] = "" if exposed else not_default
    return Exposure(chosen, reasons, ws.ha_version)
