"""Parse a Smart Home directive, forward it to Home Assistant, and answer Alexa whatever happens."""

import time

from gateway.alexa_endpoints import NO_SMART_HOME, SMART_HOME_PATH
from gateway.config import SettingError
from gateway.errors import (
    BANNED,
    HomeAssistantBadAnswer,
    HomeAssistantUnreachable,
    UnsendableRequest,
    UnusableToken,
    banned,
)
from gateway.ha_client import default_client
from gateway.ha_connection import deadline
from gateway.log import logger
from gateway.metrics import error as count_error
from gateway.metrics import milliseconds
from gateway.secrets import SecretError, default_token
from ha_alexa import discovery
from ha_alexa.directive import echo_fields, parse, token_expired
from ha_alexa.errors import (
    AlexaAcceptGrantError,
    AlexaBridgeUnreachableError,
    AlexaError,
    AlexaExpiredAuthorizationError,
    AlexaInternalError,
    AlexaInvalidAuthorizationError,
    error_response,
)

# Directives whose failures Alexa expects in their own namespace.
ERROR_CLASSES = {("Alexa.Authorization", "AcceptGrant"): AlexaAcceptGrantError}


def handle(event, context) -> dict:
    """Answer one directive: Home Assistant's answer, or an ErrorResponse. Never raises."""
    directive = None
    try:
        directive = parse(event)
        token = directive.token or default_token()
        if not token:
            raise AlexaInvalidAuthorizationError("the directive carries no token and HA_TOKEN is not configured")
        until = deadline(context)
        if (directive.namespace, directive.name) == ("Alexa.Discovery", "Discover"):
            with discovery.collector_paused():
                answer, answer_bytes = forward_directive(event, token, until)
                answer = discovery.guard(answer, answer_bytes, default_client(), token, until)
        else:
            answer, answer_bytes = forward_directive(event, token, until)
        logger.info("directive answered", extra={"directive": f"{directive.namespace}.{directive.name}"})
        return answer
    except Exception as err:
        if isinstance(err, (SecretError, SettingError)):  # the message names the parameter or setting
            err = AlexaInternalError(str(err))
        if not isinstance(err, AlexaError):
            logger.exception("unexpected failure")
            err = AlexaInternalError(f"the bridge failed: {type(err).__name__}")
        if directive is not None and (directive.namespace, directive.name) in ERROR_CLASSES:
            err = ERROR_CLASSES[(directive.namespace, directive.name)](err.message)
        count_error(err.error_type)
        logger.warning("directive failed", extra={"error_type": err.error_type, "reason": err.message})
        return error_response(err, *echo_fields(event))


def forward_directive(event: dict, token: str, until: float) -> tuple[dict, int]:
    """POST the directive to Home Assistant's Alexa endpoint; its answer and size in bytes; raises AlexaError."""
    try:
        client = default_client()
    except ValueError as err:  # HA_URL missing or malformed
        raise AlexaInternalError(str(err)) from None
    started = time.perf_counter()
    try:
        response = client.request("POST", SMART_HOME_PATH, token=token, until=until, body=event)
    except UnusableToken as err:
        raise AlexaInvalidAuthorizationError(err.detail) from None
    except HomeAssistantUnreachable as err:
        raise AlexaBridgeUnreachableError(f"Home Assistant is unreachable: {err.detail}") from None
    except UnsendableRequest as err:
        raise AlexaInternalError(err.detail) from None
    except HomeAssistantBadAnswer as err:
        raise AlexaInternalError(f"Home Assistant's answer was unusable: {err.detail}") from None
    finally:
        milliseconds("HomeAssistantLatency", started)
    if response.status == 401 and token_expired(token):
        raise AlexaExpiredAuthorizationError("Home Assistant rejected the token (HTTP 401): it has expired")
    if banned(response):
        raise AlexaInvalidAuthorizationError(BANNED)
    if response.status in (401, 403):
        raise AlexaInvalidAuthorizationError(f"Home Assistant rejected the token (HTTP {response.status})")
    if response.status == 404:
        raise AlexaInternalError(NO_SMART_HOME)
    if response.status != 200:
        raise AlexaInternalError(f"Home Assistant answered HTTP {response.status}")
    try:
        answer = response.json()
    except ValueError:
        raise AlexaInternalError("Home Assistant's answer is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("event"), dict):
        raise AlexaInternalError("Home Assistant's answer is not an Alexa message")
    return answer, len(response.body)
