"""The checks before any change: Home Assistant (the doctor's own, from this machine), AWS, Amazon's ASK."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.setup.plan import Region, Settings, ha_problems

# The doctor's checks that decide whether Alexa can link and control Home Assistant; the others (Assist, WebSocket,
# state reports, latency) are advice, which the doctor gives in full (`make invoke EVENT=events/devices_health.json`).
HA_CHECKS = ("url", "dns", "tcp", "tls", "token", "alexa", "account_linking")
FIX_PUBLIC = ("Alexa's servers link accounts only over https:// on port 443 with a publicly trusted certificate: serve"
              " Home Assistant that way (e.g. a reverse proxy with Let's Encrypt), or rerun with"
              " --accept-unreachable-ha to set up now and open Home Assistant later")
FIX_ASK = ("give the setup an Amazon developer login: `python -m devtools.ask configure` (the ASK CLI's own"
           " `ask configure`, once, in a browser), or set ASK_REFRESH_TOKEN and ASK_VENDOR_ID (from `python -m"
           " devtools.ask util generate-lwa-tokens` and the developer console's Settings page)")


@dataclass
class Finding:
    what: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # a failure turned into a warning by --accept-unreachable-ha


def home_assistant(settings: Settings, accept_unreachable: bool) -> list[Finding]:
    """The doctor's checks run here, against HA_URL as Alexa will reach it."""
    findings = []
    problems = ha_problems(settings.ha_url) if settings.ha_url else ["HA_URL is not set"]
    values = settings.values
    if values.get("HA_VERIFY_TLS", "true").strip().lower() in ("false", "0", "no", "off"):
        problems.append("HA_VERIFY_TLS is off")
    if values.get("HA_CA_BUNDLE"):
        problems.append("HA_CA_BUNDLE is set: Alexa trusts only public certificate authorities")
    if problems:
        findings.append(Finding("Home Assistant URL", False, "; ".join(problems), FIX_PUBLIC))
    names = ("HA_URL", "HA_TOKEN", "HA_TOKEN_PARAMETER", "HA_VERIFY_TLS", "HA_CA_BUNDLE", "HA_CLIENT_CERT",
             "HA_CLIENT_KEY", "HA_HEADERS", "HA_HEADERS_PARAMETER")
    saved = {name: os.environ.get(name) for name in names}
    try:
        os.environ.update({name: values[name] for name in names if values.get(name)})
        from gateway.config import settings as gateway_settings

        gateway_settings.cache_clear()
        from gateway.log import logger
        from ha_devices import doctor

        level = logger.log_level
        logger.setLevel("WARNING")  # the doctor's own log lines are for CloudWatch, not for this terminal
        try:
            report = doctor.examine(time.monotonic() + 30)
        finally:
            logger.setLevel(level)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        gateway_settings.cache_clear()
    for entry in report["checks"]:
        if entry["check"] not in HA_CHECKS:
            continue
        bad = entry["status"] == "failed" or (entry["check"] == "account_linking" and entry["status"] == "warning")
        if entry["status"] == "skipped":
            continue  # the check that stopped the chain is reported
        findings.append(Finding(f"Home Assistant {entry['check']}", not bad, entry["detail"], entry.get("fix", "")))
    if accept_unreachable:
        for finding in findings:
            if not finding.ok:
                finding.ok, finding.warning = True, True
    return findings


def aws(session, region: Region) -> tuple[Finding, str]:
    """STS GetCallerIdentity in the region: the account the stack goes to."""
    try:
        identity = session.client("sts", region_name=region.aws_region).get_caller_identity()
    except Exception as err:  # botocore's NoCredentialsError, ClientError, EndpointConnectionError...
        return Finding("AWS credentials", False, f"STS GetCallerIdentity failed ({type(err).__name__})",
                       "give the AWS CLI's credentials: `aws configure` or `aws sso login`, or AWS_PROFILE /"
                       " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"), ""
    account = identity["Account"]
    return Finding("AWS credentials", True, f"account {account}, region {region.aws_region}"), account


def ask_profile(env: dict, profile: str | None, home: Path) -> Finding:
    """An ASK CLI login: the environment's (ASK_REFRESH_TOKEN or ASK_ACCESS_TOKEN, ASK_VENDOR_ID) or a profile."""
    if env.get("ASK_VENDOR_ID") and (env.get("ASK_REFRESH_TOKEN") or env.get("ASK_ACCESS_TOKEN")):
        return Finding("Amazon developer login", True, "ASK_REFRESH_TOKEN and ASK_VENDOR_ID from the environment")
    config = home / ".ask" / "cli_config"
    name = profile or env.get("ASK_DEFAULT_PROFILE") or "default"
    try:
        profiles = json.loads(config.read_text()).get("profiles", {})
    except (OSError, ValueError):
        profiles = {}
    found = profiles.get(name) or {}
    if found.get("vendor_id") and (found.get("token") or {}).get("refresh_token"):
        return Finding("Amazon developer login", True, f"the ASK CLI profile {name!r} ({config})")
    missing = "ASK_VENDOR_ID beside ASK_REFRESH_TOKEN" if env.get("ASK_REFRESH_TOKEN") else "ASK_REFRESH_TOKEN"
    return Finding("Amazon developer login", False, f"neither {missing} nor the ASK CLI profile {name!r} in {config}",
                   FIX_ASK)
