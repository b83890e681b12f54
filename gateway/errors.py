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
