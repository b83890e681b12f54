"""What the bridge reads from an Alexa custom skill request (the ASK envelope), tolerant of anything malformed."""

from dataclasses import dataclass, field

from ha_assist.phrases import DEFAULT_LOCALE

# The catch-all intent of skill-package/: the user's words arrive in its AMAZON.SearchQuery slot.
ASSIST_INTENT = "AssistIntent"
# Answers with a card holding the Echo's device ID and its room: what ASSIST_ROOMS needs.
WHICH_DEVICE_INTENT = "WhichDeviceIntent"
QUERY_SLOT = "query"


@dataclass(frozen=True)
class SkillRequest:
    type: str
    request_id: str = ""
    locale: str = DEFAULT_LOCALE
    intent: str = ""  # the intent name of an IntentRequest, else ""
    query: str = ""  # the words in the catch-all slot, "" when there are none
    new_session: bool = True
    attributes: dict = field(default_factory=dict)  # the session attributes, a copy
    access_token: str = ""  # the account-linked token, "" when the skill is not linked
    api_endpoint: str = ""  # Alexa's API for this request (progressive responses)
    api_access_token: str = ""
    device_id: str = ""  # the Echo's ID (context.System.device.deviceId), the key of ASSIST_ROOMS
    reason: str = ""  # SessionEndedRequest: why the session ended
    error: str = ""  # SessionEndedRequest, System.ExceptionEncountered: the error Alexa reports


def dig(value, *path):
    """The value at `path` in nested dicts, or None where a step is missing or not a dict."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse(event: dict) -> SkillRequest:
    """The request in `event`; a missing or malformed field takes its default, so this never raises."""
    request = event.get("request") if isinstance(event, dict) else None
    if not isinstance(request, dict):
        request = {}
    attributes = dig(event, "session", "attributes")
    new_session = dig(event, "session", "new")
    error_type, error_message = _text(dig(request, "error", "type")), _text(dig(request, "error", "message"))
    return SkillRequest(
        type=_text(request.get("type")),
        request_id=_text(request.get("requestId")),
        locale=_text(request.get("locale")) or DEFAULT_LOCALE,
        intent=_text(dig(request, "intent", "name")),
        query=_text(dig(request, "intent", "slots", QUERY_SLOT, "value")),
        new_session=new_session if isinstance(new_session, bool) else True,
        attributes=dict(attributes) if isinstance(attributes, dict) else {},
        # Alexa sends the linked token in context.System.user; old requests have it in session.user too.
        access_token=_text(dig(event, "context", "System", "user", "accessToken"))
        or _text(dig(event, "session", "user", "accessToken")),
        api_endpoint=_text(dig(event, "context", "System", "apiEndpoint")),
        api_access_token=_text(dig(event, "context", "System", "apiAccessToken")),
        device_id=_text(dig(event, "context", "System", "device", "deviceId")),
        reason=_text(request.get("reason")),
        error=": ".join(filter(None, (error_type, error_message))),
    )
