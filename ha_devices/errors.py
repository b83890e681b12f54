"""One exception class per kind of operator-action failure, turned into an error object in one place."""

import traceback


class DevicesError(Exception):
    """Base of the failures an operator action answers with; `error_type` goes into the answer."""

    error_type = "INTERNAL_ERROR"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInputError(DevicesError):
    error_type = "INVALID_INPUT"


class NotFoundError(DevicesError):
    error_type = "NOT_FOUND"


class ConfigurationError(DevicesError):
    error_type = "CONFIGURATION_ERROR"


class UnreachableError(DevicesError):
    error_type = "HA_UNREACHABLE"


class AuthorizationError(DevicesError):
    error_type = "INVALID_AUTHORIZATION"


class HomeAssistantFailure(DevicesError):
    error_type = "HA_ERROR"


def error_answer(error: DevicesError) -> dict:
    """The answer to an operator event that failed."""
    return {"error": {"type": error.error_type, "message": error.message}}


def crash_site(error: BaseException) -> str:
    """Where an unexpected exception was raised, for a log line: its message is left out, as it may hold data."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(error).__name__}{where}"
