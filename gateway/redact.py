"""Text from upstream (Home Assistant, or a proxy or error page in front of it), made fit for a log or an answer.

An error page may echo the request it got, headers included: the Authorization header and the extra headers of
HA_HEADERS_PARAMETER (a Cloudflare Access secret). So no feature logs or answers an upstream body: at most Home
Assistant's own JSON `message` (`error_message`), bounded, and any upstream text with every secret the bridge
sent replaced (`redacted`).
"""

import re

from gateway.secrets import SecretError

MAX_MESSAGE_CHARS = 200
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4  # a shorter header value is no secret, and replacing it everywhere would garble the text
# Credentials in the shape the bridge sends them, for a proxy that echoes them altered (cut, re-encoded):
# an Authorization value, and a JWT (Home Assistant's access tokens are JWTs).
CREDENTIALS = re.compile(r"(?i)\b(?:bearer|basic)\s+\S+|\beyJ[\w-]{6,}(?:\.[\w-]*){0,2}")


def sent_secrets(client, token: str) -> list[str]:
    """What a request of `client` (a HomeAssistantClient) carries that is secret: the token and the values of
    the extra headers."""
    try:
        headers = client.extra_headers() if client is not None else {}
    except SecretError:  # unreadable headers were not sent either: a request reads them before it sends
        headers = {}
    return [token, *headers.values()]


def redacted(text: str, client, token: str, limit: int | None = None) -> str:
    """`text` with every secret a request of `client` with `token` carried replaced, cut to `limit` characters."""
    for secret in sorted({s for s in sent_secrets(client, token) if s and len(s) >= MIN_SECRET_CHARS},
                         key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = CREDENTIALS.sub(REDACTED, text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def error_message(response, client, token: str) -> str | None:
    """Home Assistant's own explanation of an answer ({"message": ...}), redacted and bounded; None without one.

    `response` is a gateway.ha_client.Response, `client` and `token` what sent the request. Never the raw body:
    an answer that is not a JSON object with a string `message` (an HTML error page, a proxy's echo) gives None.
    """
    try:
        answer = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return None
    message = answer.get("message") if isinstance(answer, dict) else None
    if not isinstance(message, str):
        return None
    message = " ".join(redacted(message, client, token).split())  # one line, whatever it held
    # Again after the joining: a secret with a space inside may only now appear as it was sent.
    return redacted(message, client, token, MAX_MESSAGE_CHARS) or None
