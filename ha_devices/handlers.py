"""Parse an operator event `{"devices": {"action": ...}}`, run the action, and answer whatever happens."""

import re
import time
from dataclasses import dataclass, field

from gateway.config import SettingError
from gateway.ha_connection import deadline
from gateway.log import logger
from gateway.metrics import error as count_error
from ha_devices import doctor, inventory
from ha_devices.errors import ConfigurationError, DevicesError, InvalidInputError, crash_site, error_answer

# Operator events are not bound by Alexa's 8 s: the function's Timeout bounds them. This much of the time
# left is kept back to assemble the answer, log and flush metrics before Lambda stops the function.
OPERATOR_MARGIN_S = 0.7
OPERATOR_BUDGET_S = 60.0  # without a Lambda context (a test, a script)
# The HA URL and token come from the configuration only: an event naming either is refused, never used.
FORBIDDEN_FIELDS = {"token", "access_token", "ha_token", "url", "ha_url", "base_url"}
# Only a name shaped like this is repeated in an error message: a pasted token never is.
ECHOABLE = re.compile(r"[a-z_][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Action:
    run: object  # run(until, **fields) -> dict
    fields: dict = field(default_factory=dict)  # name -> the type its value must have
    required: tuple = ()


ACTIONS = {
    "health": Action(doctor.examine),
    "list": Action(inventory.list_entities, {"domain": str, "area": str}),
    "state": Action(inventory.entity_state, {"entity_id": str}, ("entity_id",)),
    "call": Action(
        inventory.call_service,
        {"domain": str, "service": str, "data": dict, "return_response": bool},
        ("domain", "service"),
    ),
}
TYPE_NAMES = {str: "a string", dict: "an object", bool: "true or false"}


def handle(event, context) -> dict:
    """Answer one operator event: the action's result, or {"error": {"type", "message"}}. Never raises."""
    name = None
    started = time.perf_counter()
    try:
        name, fields = parse(event)
        answer = ACTIONS[name].run(operator_deadline(context), **fields)
        logger.info("devices action done", extra={"action": name, "ms": _ms(started)})
        return answer
    except Exception as err:
        if isinstance(err, SettingError):  # a switch with an undocumented value: refused, named
            err = ConfigurationError(str(err))
        if not isinstance(err, DevicesError):
            logger.error("devices action crashed", extra={"action": name, "crash": crash_site(err)})
            err = DevicesError(f"the bridge failed: {type(err).__name__}")
        count_error(err.error_type)
        logger.warning("devices action failed", extra={"action": name, "error_type": err.error_type,
                                                       "reason": err.message, "ms": _ms(started)})
        return error_answer(err)


def parse(event) -> tuple[str, dict]:
    """The action's name and its fields, checked against what the action takes; raises InvalidInputError."""
    request = event.get("devices") if isinstance(event, dict) else None
    if not isinstance(request, dict):
        raise InvalidInputError('an operator event is {"devices": {"action": ...}}')
    known = ", ".join(sorted(ACTIONS))
    name = request.get("action")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"`devices.action` must be one of: {known}")
    if name not in ACTIONS:
        shown = f" {name!r}" if ECHOABLE.fullmatch(name) else ""
        raise InvalidInputError(f"unknown action{shown}; the actions are: {known}")
    action = ACTIONS[name]
    fields = {key: value for key, value in request.items() if key != "action"}
    if FORBIDDEN_FIELDS & {str(key).lower() for key in fields}:
        raise InvalidInputError(
            "an operator event cannot carry a token or a URL: the bridge uses HA_URL and HA_TOKEN (or"
            " HA_TOKEN_PARAMETER) from its configuration"
        )
    unknown = [key for key in fields if key not in action.fields]
    if unknown:
        takes = ", ".join(sorted(action.fields)) or "no fields"
        shown = sorted(key for key in unknown if ECHOABLE.fullmatch(str(key)))
        hidden = len(unknown) - len(shown)
        shown += [f"{hidden} more not shown"] if hidden else []
        raise InvalidInputError(f"the {name} action takes {takes}; unknown: {', '.join(shown)}")
    for key in action.required:
        if fields.get(key) is None:
            raise InvalidInputError(f"the {name} action needs `{key}`")
    for key, value in list(fields.items()):
        if value is None:  # an explicit null is the same as leaving the field out
            del fields[key]
        elif type(value) is not action.fields[key]:
            wanted = TYPE_NAMES[action.fields[key]]
            raise InvalidInputError(f"`{key}` must be {wanted}, not {_json_type(value)}")
    return name, fields


def operator_deadline(context) -> float:
    """When an operator action must be done: the time Lambda has left, less a margin to answer."""
    budget = OPERATOR_BUDGET_S
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(get_remaining):
        budget = min(budget, get_remaining() / 1000 - OPERATOR_MARGIN_S)
    return deadline(None, budget_s=max(budget, 0.0))


def _json_type(value) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
