"""What the setup wants: the Alexa regions, the owner's settings, the skills' manifests, account linking, the state."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from devtools.local_invoke import env_json

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
SMART_HOME_PACKAGE = PROJECT_ROOT / "skill-package-smart-home"
ASSIST_PACKAGE = PROJECT_ROOT / "skill-package"
SAMCONFIG = PROJECT_ROOT / "samconfig.toml"
STATE_FILE = PROJECT_ROOT / "setup-state.json"  # beside samconfig.toml; skill IDs and ARNs only, never a secret


@dataclass(frozen=True)
class Region:
    name: str  # samconfig.toml's environment
    aws_region: str
    smapi_region: str  # the key of the manifest's `regions`
    client_id: str  # Alexa's account-linking client ID: its redirect origin, trailing slash included
    event_endpoint: str  # where Home Assistant sends state reports
    locales: tuple[str, ...]  # the Smart Home locales this region's endpoint serves


# Amazon's "Develop Smart Home Skills for Multiple Languages" (locale -> region) and Home Assistant's Alexa Smart
# Home page (client IDs, event endpoints); ha_devices' doctor names the same client IDs (a test checks).
REGIONS = {
    "us": Region("us", "us-east-1", "NA", "https://pitangui.amazon.com/", "https://api.amazonalexa.com/v3/events",
                 ("en-US", "en-CA", "es-US", "es-MX", "fr-CA", "pt-BR")),
    "eu": Region("eu", "eu-west-1", "EU", "https://layla.amazon.com/", "https://api.eu.amazonalexa.com/v3/events",
                 ("en-GB", "en-IN", "de-DE", "fr-FR", "it-IT", "es-ES", "hi-IN", "ar-SA")),
    "fe": Region("fe", "us-west-2", "FE", "https://alexa.amazon.co.jp/", "https://api.fe.amazonalexa.com/v3/events",
                 ("ja-JP", "en-AU")),
}
SCOPE = "smart_home"
SECRET_NAMES = ("HA_TOKEN", "ASK_REFRESH_TOKEN", "ASK_ACCESS_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass
class Settings:
    """The owner's settings: the environment over env.json, as `make demo` reads them."""

    ha_url: str = ""
    ha_token: str = ""
    ha_token_parameter: str = ""
    values: dict = field(default_factory=dict)

    @classmethod
    def load(cls, env: dict | None = None, env_file: Path = PROJECT_ROOT / "env.json") -> Settings:
        values = {**env_json(env_file), **{k: v for k, v in (os.environ if env is None else env).items()}}
        return cls(values.get("HA_URL", "").strip().rstrip("/"), values.get("HA_TOKEN", "").strip(),
                   values.get("HA_TOKEN_PARAMETER", "").strip(), values)

    def secrets(self) -> list[str]:
        return [self.values[name] for name in SECRET_NAMES if self.values.get(name)]


def _load_package(package: Path) -> dict:
    return json.loads((package / "skill.json").read_text())


def smart_home_manifest(region: Region, function_arn: str | None) -> dict:
    """The Smart Home skill's manifest for one region; without an ARN, the endpoint is left out (a new skill)."""
    manifest = _load_package(SMART_HOME_PACKAGE)
    body = manifest["manifest"]
    locales = body["publishingInformation"]["locales"]
    body["publishingInformation"]["locales"] = {loc: locales[loc] for loc in region.locales if loc in locales}
    api = body["apis"]["smartHome"]
    if function_arn:
        api["endpoint"] = {"uri": function_arn}
        api["regions"] = {region.smapi_region: {"endpoint": {"uri": function_arn}}}
    else:
        api.pop("endpoint", None)
    return manifest


def assist_locales() -> list[str]:
    return sorted(path.stem for path in (ASSIST_PACKAGE / "interactionModels" / "custom").glob("*.json"))


def assist_manifest(function_arn: str | None) -> dict:
    """The Assist custom skill's manifest from skill-package/, its endpoint the function (left out when unknown)."""
    manifest = _load_package(ASSIST_PACKAGE)
    custom = manifest["manifest"]["apis"]["custom"]
    if function_arn:
        custom["endpoint"] = {"uri": function_arn}
    else:
        custom.pop("endpoint", None)
    return manifest


def assist_model(locale: str) -> dict:
    return json.loads((ASSIST_PACKAGE / "interactionModels" / "custom" / f"{locale}.json").read_text())


def account_linking(ha_url: str, region: Region, client_secret: str) -> dict:
    """SMAPI's account-linking request for Home Assistant's own OAuth (the doctor's account_linking values)."""
    return {"accountLinkingRequest": {
        "type": "AUTH_CODE",
        "authorizationUrl": f"{ha_url}/auth/authorize",
        "accessTokenUrl": f"{ha_url}/auth/token",
        "clientId": region.client_id,
        "clientSecret": client_secret,  # Home Assistant does not check it; SMAPI wants one
        "accessTokenScheme": "REQUEST_BODY_CREDENTIALS",  # the console's "Credentials in request body"
        "scopes": [SCOPE],
        "domains": [],  # Home Assistant's login page fetches nothing from other domains
    }}


def covers(actual, wanted) -> bool:
    """Whether `actual` has every value of `wanted` (SMAPI may add fields of its own to what it returns)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(covers(actual.get(k), v) for k, v in wanted.items())
    return actual == wanted


def function_arn_guess(region: Region, account: str, stack_name: str) -> str:
    return f"arn:aws:lambda:{region.aws_region}:{account}:function:{stack_name}"


def stack_name(region: Region, samconfig: Path = SAMCONFIG) -> str:
    config = tomllib.loads(samconfig.read_text())
    return (config.get(region.name, {}).get("global", {}).get("parameters", {}).get("stack_name")
            or config.get("default", {}).get("global", {}).get("parameters", {}).get("stack_name")
            or "ha-alexa-bridge")


def saved_overrides(region: Region, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """The parameter overrides `sam deploy --guided` saved for the environment: ours are merged over them."""
    config = tomllib.loads(samconfig.read_text())
    raw = config.get(region.name, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    items = raw if isinstance(raw, list) else shlex.split(raw)
    return dict(item.split("=", 1) for item in items if "=" in item)


def deploy_arguments(region: Region, overrides: dict[str, str]) -> list[str]:
    """`sam deploy` for the region's samconfig.toml environment, without a prompt, a no-op when nothing changed."""
    return ["deploy", "--config-env", region.name, "--no-confirm-changeset", "--no-fail-on-empty-changeset",
            "--parameter-overrides", *[f"{key}={value}" for key, value in overrides.items()]]


def ha_problems(ha_url: str) -> list[str]:
    """What keeps Alexa's servers from linking with this URL, read from the URL alone."""
    parts = urlsplit(ha_url)
    problems = []
    if parts.scheme != "https":
        problems.append("HA_URL is not https://")
    elif parts.port not in (None, 443):
        problems.append(f"HA_URL uses port {parts.port}, not 443")
    if not parts.hostname:
        problems.append("HA_URL has no host name")
    if parts.path.strip("/"):
        problems.append("HA_URL has a path: Home Assistant's OAuth pages are at the root of its host")
    return problems


class State:
    """The setup's record: per region, the skill IDs and the function's ARN (no secret ever)."""

    def __init__(self, path: Path = STATE_FILE):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}

    def get(self, region: Region, key: str, default=None):
        return self.data.get(region.name, {}).get(key, default)

    def set(self, region: Region, key: str, value) -> None:
        self.data.setdefault(region.name, {})[key] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)  # a run stopped half-way leaves the old record or the new one, never half of one


SKILL_ID = re.compile(r"^amzn1\.ask\.skill\.[0-9A-Za-z-]+$")


def masked(text: str, secrets) -> str:
    """The text with every secret replaced; secrets shorter than 8 characters are never real ones."""
    for secret in sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


def without_endpoint(manifest: dict) -> dict:
    copied = copy.deepcopy(manifest)
    for api in copied["manifest"]["apis"].values():
        api.pop("endpoint", None)
        api.pop("regions", None)
    return copied
