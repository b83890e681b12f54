"""Secrets: the operator's Home Assistant token (HA_TOKEN or HA_TOKEN_PARAMETER) and SSM SecureStrings.

A SecureString is read through the AWS Parameters and Secrets Lambda Extension when it runs beside the function
(an HTTP call on localhost), else through boto3, imported only then. Values are cached for CACHE_TTL_S. Nothing
here logs a value or puts one in an error message: messages name the parameter only.
"""

import http.client
import json
import re
import time
import urllib.parse

from gateway.config import settings

CACHE_TTL_S = 300.0
EXTENSION_TIMEOUT_S = 1.0
SSM_CONNECT_TIMEOUT_S = 1.0
SSM_READ_TIMEOUT_S = 2.0
# What a bearer token can be in an HTTP header: visible ASCII. http.client refuses anything else with an error
# that quotes the header, token included: such a token is never sent, nor quoted.
USABLE_TOKEN = re.compile(r"[!-~]+")
_cache: dict[str, tuple[float, str]] = {}


def clear_cache() -> None:
    """Forget every parameter read, so that the next read asks for it again (tests, after changing the settings)."""
    _cache.clear()


class SecretError(RuntimeError):
    """A configured secret cannot be read or used; the message names it, never its value."""


def default_token() -> str:
    """The configured token, or "" when none is configured; raises SecretError when SSM cannot be read."""
    s = settings()
    if s.ha_token:
        token, source = s.ha_token, "HA_TOKEN"
    elif s.ha_token_parameter:
        token, source = parameter(s.ha_token_parameter), f"SSM parameter {s.ha_token_parameter!r} (HA_TOKEN_PARAMETER)"
    else:
        return ""
    if not USABLE_TOKEN.fullmatch(token):
        raise SecretError(f"{source} is not a usable token: it has a space, a line break or a non-ASCII "
                          "character inside; copy the long-lived access token again")
    return token


def parameter(name: str) -> str:
    """A decrypted SSM parameter, cached for CACHE_TTL_S; raises SecretError when it cannot be read."""
    hit = _cache.get(name)
    if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
        return hit[1]
    try:
        value = _from_extension(name)
        if value is None:
            value = _from_ssm(name)
    except SecretError as err:
        if hit is None:
            raise
        # A value read before outlives an SSM outage: a rotation is rarer than an outage. Retry after the TTL.
        from gateway.log import logger

        logger.warning("serving a cached SSM parameter: refreshing it failed", extra={"reason": str(err)})
        value = hit[1]
    _cache[name] = (time.monotonic(), value)
    return value


def _from_extension(name: str) -> str | None:
    """The value through the Parameters and Secrets Lambda Extension; None when no extension is listening."""
    s = settings()
    session_token = s.session_token
    if not session_token:  # not on Lambda: the extension authenticates callers with this token
        return None
    port = int(s.extension_port)
    query = urllib.parse.urlencode({"name": name, "withDecryption": "true"})
    # http.client rather than urllib.request: no proxy from the environment may see this call.
    conn = http.client.HTTPConnection("localhost", port, timeout=EXTENSION_TIMEOUT_S)
    try:
        conn.request("GET", f"/systemsmanager/parameters/get?{query}",
                     headers={"X-Aws-Parameters-Secrets-Token": session_token})
        response = conn.getresponse()
        body = response.read()
    except ConnectionRefusedError:
        return None
    except (OSError, http.client.HTTPException) as err:
        raise SecretError(f"cannot read SSM parameter {name!r}: the Parameters and Secrets extension failed "
                          f"({type(err).__name__})") from None
    finally:
        conn.close()
    if response.status != 200:
        raise SecretError(f"cannot read SSM parameter {name!r}: the Parameters and Secrets extension answered "
                          f"HTTP {response.status}")
    return _value(name, body)


def _from_ssm(name: str) -> str:
    try:
        import boto3  # rarely needed and heavy (about 0.4 s with a client): only here
        from botocore.config import Config
    except ImportError:
        raise SecretError(f"cannot read SSM parameter {name!r}: boto3 is not installed") from None
    config = Config(connect_timeout=SSM_CONNECT_TIMEOUT_S, read_timeout=SSM_READ_TIMEOUT_S,
                    retries={"total_max_attempts": 1})
    try:
        answer = boto3.client("ssm", config=config).get_parameter(Name=name, WithDecryption=True)
    except Exception as err:  # botocore's error classes are many; its error code or class name is enough
        raise SecretError(f"cannot read SSM parameter {name!r}: {_error_code(err)}") from None
    return _value(name, answer)


def _error_code(err: Exception) -> str:
    """AWS's error code of a ClientError, else the class name: a timeout or a dropped connection
    (ReadTimeoutError, ConnectionClosedError) has no answer, and its `response` is None, not a dict."""
    response = getattr(err, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return str(code) if code else type(err).__name__


def _value(name: str, answer) -> str:
    """The value in a GetParameter answer (JSON bytes from the extension, a dict from boto3), stripped: a value
    stored from a file (`--value file://token.txt`) ends in a line break."""
    try:
        value = (json.loads(answer) if isinstance(answer, bytes) else answer)["Parameter"]["Value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str):
        raise SecretError(f"cannot read SSM parameter {name!r}: the answer has no value")
    return value.strip()
