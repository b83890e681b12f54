"""One exception class per way an Assist request can fail: what Alexa says, and what logs and metrics count."""


class AssistError(Exception):
    """Home Assistant could not answer. `reason` goes to the log, `phrase` names what the user hears."""

    error_type = "ASSIST_INTERNAL"  # the ErrorType dimension of the Errors metric: a small, fixed set
    phrase = "failed"  # a key of phrases.PHRASES
    link_account = False  # answer with a LinkAccount card: the user can fix this in the Alexa app

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AssistNotConfigured(AssistError):
    error_type = "ASSIST_NOT_CONFIGURED"
    phrase = "not_configured"


class AssistMisconfigured(AssistError):
    """A setting holds a value the bridge refuses; the log names it, the user hears the general apology."""

    error_type = "ASSIST_NOT_CONFIGURED"


class AssistAgentRemoved(AssistError):
    """ASSIST_AGENT_ID is an agent ID Home Assistant removed (gateway.errors.REMOVED_AGENT_IDS): the user hears the
    fix, as only the operator's setting can change."""

    error_type = "ASSIST_NOT_CONFIGURED"
    phrase = "agent_removed"


class AssistNoToken(AssistError):
    error_type = "ASSIST_NO_TOKEN"
    phrase = "link_account"
    link_account = True


class AssistLinkRejected(AssistError):
    """Home Assistant refused the account-linked token: linking the skill again gives a new one."""

    error_type = "ASSIST_AUTH"
    phrase = "link_rejected"
    link_account = True


class AssistTokenRejected(AssistError):
    """Home Assistant refused the operator's token (HA_TOKEN): only the operator can fix it."""

    error_type = "ASSIST_AUTH"
    phrase = "token_rejected"


class AssistBanned(AssistError):
    """Home Assistant's IP ban refuses the bridge's address, whatever the token: only the operator can lift it."""

    error_type = "ASSIST_AUTH"
    phrase = "banned"


class AssistUnreachable(AssistError):
    error_type = "ASSIST_UNREACHABLE"
    phrase = "unreachable"


class AssistTimeout(AssistError):
    error_type = "ASSIST_TIMEOUT"
    phrase = "timeout"


class AssistBadAnswer(AssistError):
    """Home Assistant answered, but not with a conversation result: an HTTP error or a body we can't read."""

    error_type = "ASSIST_HA_ERROR"
    phrase = "failed"
