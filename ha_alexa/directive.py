"""What the bridge reads from a Smart Home directive: its name, its token, and what an answer must echo."""

import json
from collections import namedtuple

from gateway.alexa_endpoints import ENDPOINT_ID
from ha_alexa.errors import AlexaInvalidDirectiveError

# Where each directive carries the user's token; every other directive carries it in endpoint.scope.
TOKEN_PATHS = {
    ("Alexa.Discovery", "Discover"): ("payload", "scope", "token"),
    ("Alexa.Authorization", "AcceptGrant"): ("payload", "grantee", "token"),
}
DEFAULT_TOKEN_PATH = ("endpoint", "scope", "token")
MAX_CLAIMS_CHARS = 4096  # Home Assistant's claims are ~150 characters; longer is not a token worth reading


# A namedtuple, not a dataclass: ha_alexa is imported during INIT, where `dataclasses` costs about 1 ms more.
# token: "" when the directive carries none; endpoint: the endpoint to echo, without its scope (the token never
# goes back out); correlation_token and endpoint are None when the directive has none.
Directive = namedtuple("Directive", "namespace name token correlation_token endpoint")


def _dig(value, path):
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def echo_fields(event) -> tuple[str | None, dict | None]:
    """The correlationToken and endpoint an answer to `event` echoes; whatever is malformed is left out."""
    directive = _dig(event, ("directive",))
    token = _dig(directive, ("header", "correlationToken"))
    correlation_token = token if isinstance(token, str) and token else None
    endpoint_id = _dig(directive, ("endpoint", "endpointId"))
    endpoint = None
    if isinstance(endpoint_id, str) and ENDPOINT_ID.fullmatch(endpoint_id):
        endpoint = {"endpointId": endpoint_id}
        cookie = _dig(directive, ("endpoint", "cookie"))
        if isinstance(cookie, dict) and all(isinstance(v, str) for v in cookie.values()):
            endpoint["cookie"] = cookie
    return correlation_token, endpoint


def parse(event) -> Directive:
    """The directive in `event`; raises AlexaInvalidDirectiveError when a required field is missing."""
    header = _dig(event, ("directive", "header"))
    if not isinstance(header, dict):
        raise AlexaInvalidDirectiveError("the directive has no header")
    if header.get("payloadVersion") != "3":
        raise AlexaInvalidDirectiveError("only payloadVersion 3 directives are supported")
    namespace, name = header.get("namespace"), header.get("name")
    if not (isinstance(namespace, str) and namespace and isinstance(name, str) and name):
        raise AlexaInvalidDirectiveError("the directive header needs a namespace and a name")
    if not isinstance(header.get("messageId"), str):
        raise AlexaInvalidDirectiveError("the directive header needs a messageId")
    if not isinstance(_dig(event, ("directive", "payload")), dict):
        raise AlexaInvalidDirectiveError("the directive needs a payload object")
    token_path = TOKEN_PATHS.get((namespace, name), DEFAULT_TOKEN_PATH)
    token = _dig(event["directive"], token_path)
    if token is not None and not isinstance(token, str):
        raise AlexaInvalidDirectiveError(f"{'.'.join(token_path)} must be a string")
    correlation_token, endpoint = echo_fields(event)
    return Directive(namespace, name, token or "", correlation_token, endpoint)


def token_expired(token, now: float | None = None) -> bool:
    """Whether `token` is a JWT whose `exp` claim has passed; False for anything else, never raises.

    Read, never verified: Home Assistant alone judges a token. After HA has rejected one, this only chooses
    between Alexa's two authorization errors (an expired one makes Alexa refresh it).
    """
    import base64  # only after a 401: the hot path does not pay for it
    import time

    parts = token.split(".") if isinstance(token, str) else ()
    if len(parts) != 3 or len(parts[1]) > MAX_CLAIMS_CHARS:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError, RecursionError):  # not base64 or not JSON (binascii.Error is a ValueError)
        return False
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return False
    return exp < (time.time() if now is None else now)
