"""The operator's Home Assistant token: HA_TOKEN, or an SSM SecureString named by HA_TOKEN_PARAMETER."""

import json
import os
import time

from gateway.config import settings

CACHE_TTL_S = 300.0
EXTENSION_PORT = int(os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773"))
_cache: dict[str, tuple[float, str]] = {}


def default_token() -> str:
    """The configured token, or "" when none is configured; raises RuntimeError when SSM cannot be read."""
    s = settings()
    if s.ha_token:
        return s.ha_token
    if not s.ha_token_parameter:
        return ""
    return parameter(s.ha_token_parameter)


def parameter(name: str) -> str:
    """A decrypted SSM parameter, cached for CACHE_TTL_S."""
    hit = _cache.get(name)
    if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
        return hit[1]
    try:
        value = _from_extension(name)
    except (OSError, KeyError, ValueError):  # no extension listening, or it could not answer
        value = None
    if value is None:
        value = _from_ssm(name)
    _cache[name] = (time.monotonic(), value)
    return value


def _from_extension(name: str):
    """Read through the AWS Parameters and Secrets Lambda Extension when it runs beside us."""
    session_token = os.environ.get("AWS_SESSION_TOKEN")
    if not session_token:
        return None
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"name": name, "withDecryption": "true"})
    request = urllib.request.Request(
        f"http://localhost:{EXTENSION_PORT}/systemsmanager/parameters/get?{query}",
        headers={"X-Aws-Parameters-Secrets-Token": session_token},
    )
    with urllib.request.urlopen(request, timeout=1.0) as response:
        return json.load(response)["Parameter"]["Value"]


def _from_ssm(name: str) -> str:
    import boto3  # rarely needed and heavy (about 0.4 s with a client): only here
    from botocore.config import Config

    ssm = boto3.client("ssm", config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1}))
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except Exception as err:  # botocore's error classes are many; the name is enough to act on
        raise RuntimeError(f"cannot read SSM parameter {name!r}: {type(err).__name__}") from None
