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


# Home Assistant's IP ban (`ip_ban_enabled`, `login_attempts_threshold`) answers every request from a banned
# address with aiohttp's bare 403, before it reads the token; nothing else in its API answers 403. Its log says
# "Banned IP <address> for too many login attempts" once, when the ban is made. Where those settings live depends
# on the release, which a banned bridge cannot ask: HA 2026.8+ keeps its http: settings in storage, edited in the UI
# (an http: block in YAML is imported once, then ignored); before, they are YAML's. So the advice names both.
BANNED_BODY = b"403: Forbidden"
HTTP_SETTINGS = ("on Home Assistant 2026.8 and later in Settings > System > Network > HTTP server (http: in"
                 " configuration.yaml is imported once, then ignored), before 2026.8 under `http:` in"
                 " configuration.yaml")
BANNED = (
    "Home Assistant has banned this address after failed logins (HTTP 403, whatever the token): remove the"
    " address from ip_bans.yaml in Home Assistant's config dir and restart Home Assistant; AWS Lambda's addresses"
    " change, so consider turning the IP ban off (`ip_ban_enabled: false`) or raising its"
    f" `login_attempts_threshold`: {HTTP_SETTINGS}"
)


# Agent IDs Home Assistant removed, and what replaced them: 2025.8 dropped `homeassistant`, the built-in agent's old
# ID. A removed or unknown ASSIST_AGENT_ID gets HTTP 400 whose message says "invalid agent ID".
REMOVED_AGENT_IDS = {"homeassistant": "conversation.home_assistant"}


def agent_refused(agent_id: str, status: int, message: str | None) -> tuple[str, str] | None:
    """(cause, fix) when Home Assistant refused ASSIST_AGENT_ID (HTTP 400 "invalid agent ID"), else None."""
    if not agent_id or status != 400 or "invalid agent id" not in (message or "").lower():
        return None
    shown = agent_id if len(agent_id) <= 80 else agent_id[:77] + "..."
    if agent_id in REMOVED_AGENT_IDS:
        return (f"ASSIST_AGENT_ID={shown} is the built-in agent's old ID, which Home Assistant 2025.8 removed (it"
                " answers HTTP 400, invalid agent ID)", f"set ASSIST_AGENT_ID={REMOVED_AGENT_IDS[agent_id]}, or"
                " leave it empty for Home Assistant's default agent")
    return (f"Home Assistant has no conversation agent {shown} (HTTP 400, invalid agent ID)", "set ASSIST_AGENT_ID"
            " to an agent's entity ID (Settings > Voice assistants), or leave it empty for the default agent")


def banned(response) -> bool:
    """Whether `response` (status and body) is Home Assistant refusing a banned address."""
    return response.status == 403 and response.body.strip() == BANNED_BODY


class UnsendableRequest(HomeAssistantBadAnswer):
    """The request has a character HTTP cannot carry (a path that is not ASCII, a header value that is not
    Latin-1): refused before anything was sent. No network fault: the bridge's input or settings."""


class UnusableToken(HomeAssistantError):
    """The token cannot be sent in an HTTP header (a line break, a space, a non-ASCII character): never sent."""
