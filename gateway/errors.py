"""Failures of a call to Home Assistant, as every feature sees them."""


class HomeAssistantError(Exception):
    """Home Assistant gave no usable answer; `reason` is a short machine word for logs and metrics."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class HomeAssistantUnreachable(HomeAssistantError):
    """No HTTP answer: DNS, connection refused, TLS failure, timeout or a dropped connection."""


class HomeAssistantBadAnswer(HomeAssistantError):
    """An HTTP answer that cannot be used: too large, or cut off."""


# Home Assistant's IP ban (`http: ip_ban_enabled`, `login_attempts_threshold`) answers every request from a banned
# address with aiohttp's bare 403, before it reads the token; nothing else in its API answers 403. Its log says
# "Banned IP <address> for too many login attempts" once, when the ban is made.
BANNED_BODY = b"403: Forbidden"
BANNED = (
    "Home Assistant has banned this address after failed logins (HTTP 403, whatever the token): remove the"
    " address from ip_bans.yaml in Home Assistant's config dir and restart Home Assistant; AWS Lambda's addresses"
    " change, so consider `ip_ban_enabled: false` or a higher `login_attempts_threshold` under `http:`"
)


def banned(response) -> bool:
    """Whether `response` (status and body) is Home Assistant refusing a banned address."""
    return response.status == 403 and response.body.strip() == BANNED_BODY


class UnsendableRequest(HomeAssistantBadAnswer):
    """The request has a character HTTP cannot carry (a path that is not ASCII, a header value that is not
    Latin-1): refused before anything was sent. No network fault: the bridge's input or settings."""


class UnusableToken(HomeAssistantError):
    """The token cannot be sent in an HTTP header (a line break, a space, a non-ASCII character): never sent."""
