"""What a check returns (an Outcome) and what the checks hand on to each other (the Probe)."""

import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    status: str  # "ok", "warning" or "failed"
    detail: str
    fix: str | None = None
    values: dict | None = None  # settings to copy somewhere, e.g. the Alexa console's


def passed(detail: str) -> Outcome:
    return Outcome("ok", detail)


def warned(detail: str, fix: str) -> Outcome:
    return Outcome("warning", detail, fix)


def failed(detail: str, fix: str) -> Outcome:
    return Outcome("failed", detail, fix)


@dataclass
class Probe:
    """What the checks find out and hand on to the checks after them."""

    until: float
    client: object = None
    token: str = ""
    language: str = ""  # Home Assistant's own, from the version check
    addresses: list = field(default_factory=list)  # (family, sockaddr) from the DNS check
    address: tuple | None = None  # the one the TCP check connected to
    check_until: float = 0.0

    def timeout(self) -> float:
        return max(self.check_until - time.monotonic(), 0.001)
