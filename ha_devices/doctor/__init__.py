"""The doctor: checks the way from this function to Home Assistant, step by step, and says what to fix first.

Each check returns an Outcome: "ok", "warning" (works, but something needs care, or only a feature other than
Alexa Smart Home is affected) or "failed" (Alexa Smart Home cannot work). A check whose prerequisite did not
pass is "skipped" with the reason. The report's `ok` is true when no check failed.

The checks live by layer: `network` (URL, DNS, TCP, TLS), `api` (Home Assistant's APIs), `linking` (account linking
and state reports), `rooms` (the Echos' rooms for Assist); `advice` holds what the report tells an owner to do,
`outcome` what a check returns.
"""

import time

from gateway.log import logger
from gateway.redact import redacted
from ha_devices.doctor.advice import FIX_LINKING_URL, TLS_FIXES
from ha_devices.doctor.api import (
    check_alexa,
    check_conversation,
    check_latency,
    check_token,
    check_version,
    check_websocket,
)
from ha_devices.doctor.linking import ALEXA_CLIENT_IDS, check_account_linking, check_state_reports
from ha_devices.doctor.metrics import check_metrics
from ha_devices.doctor.network import check_dns, check_tcp, check_tls, check_url
from ha_devices.doctor.outcome import Outcome, Probe, failed
from ha_devices.doctor.rooms import check_rooms
from ha_devices.errors import crash_site

__all__ = ["ALEXA_CLIENT_IDS", "CHECKS", "FIX_LINKING_URL", "TLS_FIXES", "Outcome", "Probe", "check_account_linking",
           "check_tls", "examine"]

CHECK_TIMEOUT_S = 4.0  # one check's share: a hung step must leave time to report the others
MIN_CHECK_S = 0.2  # with less time left, a check is not started: it fails, naming the function's Timeout

CHECKS = [  # (name, check, the checks it needs)
    ("url", check_url, ()),
    ("dns", check_dns, ("url",)),
    ("tcp", check_tcp, ("dns",)),
    ("tls", check_tls, ("tcp",)),
    ("token", check_token, ("tls",)),
    ("version", check_version, ("token",)),
    ("alexa", check_alexa, ("token",)),
    ("conversation", check_conversation, ("token",)),
    ("websocket", check_websocket, ("token",)),
    ("latency", check_latency, ("token",)),
    ("account_linking", check_account_linking, ("token",)),
    ("state_reports", check_state_reports, ("websocket",)),
    ("rooms", check_rooms, ("websocket",)),
    ("metrics", check_metrics, ()),
]


def examine(until: float) -> dict:
    """Run every check in order and report; never raises."""
    probe, statuses, causes, report = Probe(until), {}, {}, []
    for name, check, needs in CHECKS:
        started = time.perf_counter()
        blocked = [need for need in needs if statuses[need] not in ("ok", "warning")]
        left = until - time.monotonic()
        if blocked:
            causes[name] = cause = causes.get(blocked[0], blocked[0])  # name the check that stopped the chain
            outcome = Outcome("skipped", f"not run: the {cause} check {_past(statuses[cause])}")
        elif left < MIN_CHECK_S:
            outcome = failed("not run: no time left before the function's timeout", "raise the function's Timeout")
        else:
            probe.check_until = time.monotonic() + min(CHECK_TIMEOUT_S, left)
            try:
                outcome = check(probe)
            except Exception as err:  # a check must not take the report down with it
                logger.error("doctor check crashed", extra={"check": name, "crash": crash_site(err)})
                outcome = failed(f"the check itself failed ({type(err).__name__})", "report this as a bug")
        statuses[name] = outcome.status
        # Details quote Home Assistant (its version, messages, an agent's answer): never a secret sent to it.
        detail = redacted(outcome.detail, probe.client, probe.token)
        entry = {"check": name, "status": outcome.status, "detail": detail,
                 "ms": round((time.perf_counter() - started) * 1000, 1)}
        if outcome.fix and outcome.status != "ok":
            entry["fix"] = outcome.fix
        if outcome.values:
            entry["values"] = outcome.values
        report.append(entry)
    return _summary(report)


def _summary(report: list[dict]) -> dict:
    failures = [entry for entry in report if entry["status"] == "failed"]
    warnings = [entry for entry in report if entry["status"] == "warning"]
    if failures:
        first = failures[0]
        summary = f"failed at the {first['check']} check: {first['detail']}"
    elif warnings:
        summary = f"Alexa Smart Home should work; {len(warnings)} warning(s): " + ", ".join(
            entry["check"] for entry in warnings)
    else:
        skipped = [entry["check"] for entry in report if entry["status"] == "skipped"]
        summary = f"all {len(report) - len(skipped)} checks passed" + (
            f"; not run: {', '.join(skipped)}" if skipped else "")
    answer = {"ok": not failures, "summary": summary}
    first_fix = next((entry["fix"] for entry in failures + warnings if entry.get("fix")), None)
    if first_fix:
        answer["advice"] = first_fix
    answer["checks"] = report
    logger.info("doctor finished", extra={"ok": not failures, "failed_check": failures[0]["check"] if failures
                                           else None})
    return answer


def _past(status: str) -> str:
    return "was skipped" if status == "skipped" else status
