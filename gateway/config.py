"""Settings from the environment, read in one place (names documented in docs/configuration.md).

The one exception is fast_path, standard library only on the hot path: it reads BRIDGE_PRELOAD, HA_URL (whether to
preconnect) and AWS_LAMBDA_INITIALIZATION_TYPE itself, before any of the bridge's modules is imported.
"""

import os
from collections import namedtuple
from functools import cache
from urllib.parse import urlsplit


class SettingError(ValueError):
    """A setting holds a value the bridge does not accept; the message names the setting, never the value."""


def _flag(name: str, default: bool) -> bool:
    """A switch: `true` or `false` as documented, any case; unset is `default`. Anything else is refused: a
    security switch read as "on" from "disabled" or "never" would fail open."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false"):
        raise SettingError(f"{name} must be true or false (or unset); until it is, the bridge refuses every request")
    return value == "true"


# A namedtuple, not a dataclass: `dataclasses` imports `inspect`, about 10 ms before the INIT connection could start.
_FIELDS = (
    "ha_url ha_token ha_token_parameter verify_tls"
    " ca_bundle"  # a PEM file's path, or the PEM text itself
    " client_cert client_key"  # PEM file paths for mutual TLS; the key may be inside the certificate's file
    " headers_parameter"  # SSM SecureString: a JSON object of extra request headers (Cloudflare Access)
    " assist_agent_id assist_language"
    " assist_allow_operator_token"  # an unlinked custom-skill user may act with HA_TOKEN (off by default)
    " alexa_expose"  # what Alexa discovers: all, assist, cloud or label:<name> (gateway.alexa_exposure)
    " assist_rooms"  # Echo device IDs -> HA areas: a JSON object, or the name of an SSM parameter holding one
    " extension_port session_token"  # the Parameters and Secrets extension's port, and its caller's credential
)
_SECRET = {"ha_token", "session_token"}


class Settings(namedtuple("Settings", _FIELDS)):
    """The settings of one execution environment, read-only; its repr leaves the secrets out."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={'***' if name in _SECRET and value else repr(value)}"
                          for name, value in zip(self._fields, self, strict=True))
        return f"Settings({shown})"


PLAIN_HTTP_WARNING = (
    "HA_URL is plain http:// to another machine: the tokens and headers the bridge sends to Home Assistant cross"
    " the network unencrypted, readable by anyone on the way; use https://"
)


def plain_http_to_another_machine(url: str) -> bool:
    """Whether `url` is http:// to a host other than this machine (loopback stays on the machine)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # HA_URL is refused, without quoting it, where the client reads it
        return False
    if parts.scheme.lower() != "http" or not parts.hostname:
        return False
    import ipaddress  # only for plain HTTP: about 1.5 ms that an https:// setup never pays

    try:
        return not ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:  # a name
        return parts.hostname != "localhost" and not parts.hostname.endswith(".localhost")


@cache
def settings() -> Settings:
    """The settings of this execution environment; tests call `settings.cache_clear()` after changing them.

    Read once per execution environment, which is when a plain-HTTP HA_URL is warned about. Raises SettingError
    (not cached: each request is refused again, naming the setting) while a switch holds an undocumented value.
    """
    env = os.environ.get
    found = Settings(
        ha_url=env("HA_URL", "").strip().rstrip("/"),
        ha_token=env("HA_TOKEN", "").strip(),
        ha_token_parameter=env("HA_TOKEN_PARAMETER", "").strip(),
        verify_tls=_flag("HA_VERIFY_TLS", True),
        ca_bundle=env("HA_CA_BUNDLE", "").strip(),
        client_cert=env("HA_CLIENT_CERT", "").strip(),
        client_key=env("HA_CLIENT_KEY", "").strip(),
        headers_parameter=env("HA_HEADERS_PARAMETER", "").strip(),
        assist_agent_id=env("ASSIST_AGENT_ID", "").strip(),
        assist_language=env("ASSIST_LANGUAGE", "").strip(),
        assist_allow_operator_token=_flag("ASSIST_ALLOW_OPERATOR_TOKEN", False),
        alexa_expose=env("ALEXA_EXPOSE", "").strip() or "all",
        assist_rooms=env("ASSIST_ROOMS", "").strip(),
        extension_port=env("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "").strip() or "2773",
        session_token=env("AWS_SESSION_TOKEN", ""),  # set on Lambda only: the extension authenticates callers with it
    )
    if plain_http_to_another_machine(found.ha_url):
        from gateway.log import logger

        logger.warning(PLAIN_HTTP_WARNING)
    return found


Names = namedtuple("Names", "service metrics_namespace function_name")


@cache
def names() -> Names:
    """Powertools' service and namespace, and Lambda's function name: read apart from `settings()`, which may refuse
    a switch, because gateway.log and gateway.metrics need them at import, where an error would fail INIT."""
    env = os.environ.get
    return Names(
        service=env("POWERTOOLS_SERVICE_NAME", "").strip() or "ha-alexa-bridge",
        metrics_namespace=env("POWERTOOLS_METRICS_NAMESPACE", "").strip() or "HomeAssistantBridge",
        # From the environment so that a test or local run without a Lambda context works.
        function_name=env("AWS_LAMBDA_FUNCTION_NAME", "").strip() or "local",
    )
