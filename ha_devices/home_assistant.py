"""The configured Home Assistant as operator actions use it: REST, WebSocket and an Alexa Discovery."""

import uuid
from contextlib import contextmanager
from typing import NamedTuple

from gateway import ha_websocket
from gateway.alexa_endpoints import SMART_HOME_PATH, check_endpoints
from gateway.alexa_exposure import ExposureUnreadable, entity_id_of, exposed_endpoints, mode
from gateway.config import settings
from gateway.errors import BANNED, HomeAssistantBadAnswer, HomeAssistantUnreachable, banned
from gateway.ha_client import default_client
from gateway.redact import MAX_MESSAGE_CHARS, redacted
from gateway.secrets import SecretError, default_token
from ha_devices.errors import (
    AuthorizationError,
    ConfigurationError,
    HomeAssistantFailure,
    UnreachableError,
)

NO_TOKEN = "no Home Assistant token is configured: set HA_TOKEN, or HA_TOKEN_PARAMETER to an SSM SecureString"
# Home Assistant refuses a user limited to the local network with the 401 of a bad token (REST; the WebSocket since
# 2026.5), counted as a failed login: the bridge cannot tell the two apart, so both are named.
LOCAL_ONLY = (
    "; or, if the token is good, its user is set to \"Can only log in from the local network\" (Settings > People >"
    " Users), which Home Assistant refuses from the internet as if the token were bad: turn that off for the"
    " user, or use another user's token"
)
TOKEN_REJECTED = (
    "Home Assistant rejected the token{how}: create a long-lived access token (your Home Assistant profile,"
    " Security tab) and put it into HA_TOKEN or the SSM parameter named by HA_TOKEN_PARAMETER" + LOCAL_ONLY
)
NOT_ADMIN = (
    "Home Assistant accepts the token but refused {what} (HTTP 401): the token's user is not an administrator,"
    " and this needs one. Do it with an administrator's token, or in Home Assistant itself; each refusal counts"
    " as a failed login toward Home Assistant's IP ban"
)


def client():
    """The configured HomeAssistantClient; raises ConfigurationError when HA_URL is unset or invalid."""
    try:
        return default_client()
    except ValueError as err:
        raise ConfigurationError(str(err)) from None  # never quotes HA_URL, which may hold a password


def token() -> str:
    """The operator's token (operator events never carry one); raises ConfigurationError when there is none."""
    try:
        value = default_token()
    except SecretError as err:  # the SSM parameter could not be read; the message names it, not its value
        raise ConfigurationError(str(err)) from None
    if not value:
        raise ConfigurationError(NO_TOKEN)
    return value


@contextmanager
def translated(api: str, ha, secret: str):
    """Turn the gateway's errors into the errors operator actions answer with; Home Assistant's words redacted."""
    try:
        yield
    except SecretError as err:  # the extra headers' SSM parameter (HA_HEADERS_PARAMETER)
        raise ConfigurationError(str(err)) from None
    except ha_websocket.WebSocketAuthFailed:
        raise AuthorizationError(TOKEN_REJECTED.format(how=f" on the {api}")) from None
    except ha_websocket.WebSocketCommandFailed as err:
        detail = redacted(f"{err.reason}: {err.detail}", ha, secret, MAX_MESSAGE_CHARS)
        raise HomeAssistantFailure(f"Home Assistant's {api} failed ({detail})") from None
    except HomeAssistantUnreachable as err:
        raise UnreachableError(f"Home Assistant is unreachable: {err.detail}") from None
    except HomeAssistantBadAnswer as err:
        if err.reason == "banned":
            raise AuthorizationError(BANNED) from None
        raise HomeAssistantFailure(f"Home Assistant's {api} answer was unusable: {err.detail}") from None


def rest(ha, secret: str, method: str, path: str, until: float, body=None):
    """One REST call; a 401/403 raises AuthorizationError, any other status is the caller's to read."""
    with translated("REST API", ha, secret):
        response = ha.request(method, path, token=secret, until=until, body=body)
        # Home Assistant answers a valid token whose user may not do this with the same 401 as a bad token;
        # the token's own check tells them apart.
        if response.status == 401 and path != "/api/" and ha.request(
                "GET", "/api/", token=secret, until=until).status == 200:
            raise AuthorizationError(NOT_ADMIN.format(what=f"{method} {path.split('?')[0]}"))
    if banned(response):
        raise AuthorizationError(BANNED)
    if response.status in (401, 403):
        raise AuthorizationError(TOKEN_REJECTED.format(how=f" (HTTP {response.status})"))
    return response


def json_body(response, what: str):
    """The JSON of a response; raises HomeAssistantFailure when it is none."""
    try:
        return response.json()
    except ValueError:
        raise HomeAssistantFailure(f"Home Assistant's answer to {what} is not JSON") from None


def websocket_results(ha, secret: str, commands: dict, until: float) -> dict:
    """Run WebSocket commands ({name: message}) over one connection, all sent before the first result is read."""
    with translated("WebSocket API", ha, secret), ha_websocket.connect(ha, secret, until) as ws:
        ids = {name: ws.send(message) for name, message in commands.items()}
        return {name: ws.result(message_id, until) for name, message_id in ids.items()}


def discovery_directive(secret: str) -> dict:
    """An Alexa Discovery directive, as the Alexa cloud sends it, carrying the operator's token."""
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
              "messageId": str(uuid.uuid4())}
    return {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": secret}}}}


def discovered_endpoints(answer) -> list | None:
    """The endpoints of a Discover.Response; None when `answer` is not one."""
    event = answer.get("event") if isinstance(answer, dict) else None
    header = event.get("header") if isinstance(event, dict) else None
    if not isinstance(header, dict) or header.get("name") != "Discover.Response":
        return None
    payload = event.get("payload")
    endpoints = payload.get("endpoints") if isinstance(payload, dict) else None
    return [e for e in endpoints if isinstance(e, dict)] if isinstance(endpoints, list) else None


def alexa_error(answer) -> str:
    """The type and message of an Alexa ErrorResponse, for a report."""
    event = answer.get("event") if isinstance(answer, dict) else None
    payload = event.get("payload") if isinstance(event, dict) else None
    payload = payload if isinstance(payload, dict) else {}
    return f"{payload.get('type', 'no type')}: {payload.get('message', 'no message')}"


class Discovered(NamedTuple):
    """What Alexa discovers through the bridge: `checked` (a gateway.alexa_endpoints.Checked: `kept`, and what was
    `left_out` for Alexa's 300) among the endpoints the owner exposes; `hidden`: {entity_id: why not exposed}."""

    checked: object
    hidden: dict
    exposure: str  # the ALEXA_EXPOSE in force
    ui_based: bool
    unreadable: str  # why the choice could not be read ("" when it was): Alexa's Discovery then fails


def discover(ha, secret: str, until: float) -> Discovered | None:
    """What Alexa discovers through the bridge from Home Assistant, by ALEXA_EXPOSE; None when HA has no Alexa
    endpoint."""
    response = rest(ha, secret, "POST", SMART_HOME_PATH, until, body=discovery_directive(secret))
    if response.status == 404:
        return None
    if response.status != 200:
        raise HomeAssistantFailure(f"Home Assistant's Alexa endpoint answered HTTP {response.status}")
    answer = json_body(response, "the Alexa Discovery")
    endpoints = discovered_endpoints(answer)
    if endpoints is None:
        refusal = redacted(alexa_error(answer), ha, secret, MAX_MESSAGE_CHARS)
        raise HomeAssistantFailure(f"Home Assistant's Alexa endpoint refused the Discovery ({refusal})")
    setting, hidden = settings().alexa_expose, {}
    try:
        chosen = mode(setting)
        setting = str(chosen)
        exposed, by_reason = exposed_endpoints(ha, secret, until, chosen, endpoints)
    except ExposureUnreadable as err:
        return Discovered(check_endpoints([]), {}, setting, True, err.message)
    for reason, endpoints_hidden in by_reason.items():
        hidden.update((entity_id_of(e.get("endpointId")) or e.get("endpointId"), reason) for e in endpoints_hidden)
    # What the bridge passes on: Alexa never sees a dropped endpoint.
    return Discovered(check_endpoints(exposed), hidden, setting, chosen.ui_based, "")
