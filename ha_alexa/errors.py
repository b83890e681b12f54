"""One exception class per Alexa error, serialised into an ErrorResponse in one place."""

import uuid


class AlexaError(Exception):
    """Base of the errors this bridge answers Alexa with."""

    namespace = "Alexa"
    error_type = "INTERNAL_ERROR"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AlexaInternalError(AlexaError):
    error_type = "INTERNAL_ERROR"


class AlexaBridgeUnreachableError(AlexaError):
    error_type = "BRIDGE_UNREACHABLE"


class AlexaInvalidAuthorizationError(AlexaError):
    error_type = "INVALID_AUTHORIZATION_CREDENTIAL"


class AlexaExpiredAuthorizationError(AlexaError):
    error_type = "EXPIRED_AUTHORIZATION_CREDENTIAL"


class AlexaInvalidDirectiveError(AlexaError):
    error_type = "INVALID_DIRECTIVE"


class AlexaAcceptGrantError(AlexaError):
    namespace = "Alexa.Authorization"
    error_type = "ACCEPT_GRANT_FAILED"


def error_response(error: AlexaError, correlation_token: str | None, endpoint: dict | None) -> dict:
    """An Alexa ErrorResponse echoing what the directive gave (already checked to be echo-safe)."""
    header = {
        "namespace": error.namespace,
        "name": "ErrorResponse",
        "payloadVersion": "3",
        "messageId": str(uuid.uuid4()),
    }
    if correlation_token:
        header["correlationToken"] = correlation_token
    event = {"header": header, "payload": {"type": error.error_type, "message": error.message}}
    if endpoint:
        event["endpoint"] = endpoint
    return {"event": event}
