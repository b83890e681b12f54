"""One turn of an Assist conversation: the token, language and agent for it, and the call to Home Assistant."""

import time
from dataclasses import dataclass

from gateway.config import SettingError, settings
from gateway.errors import (
    BANNED,
    REMOVED_AGENT_IDS,
    HomeAssistantBadAnswer,
    HomeAssistantUnreachable,
    UnusableToken,
    agent_refused,
    banned,
)
from gateway.ha_client import default_client
from gateway.metrics import milliseconds
from gateway.redact import error_message
from gateway.secrets import default_token
from ha_assist import progressive
from ha_assist.errors import (
    AssistAgentRemoved,
    AssistBadAnswer,
    AssistBanned,
    AssistError,
    AssistLinkRejected,
    AssistMisconfigured,
    AssistNotConfigured,
    AssistNoToken,
    AssistTimeout,
    AssistTokenRejected,
    AssistUnreachable,
)
from ha_assist.phrases import ha_language, phrase
from ha_assist.request import SkillRequest, dig
from ha_assist.speech import clean, from_ssml, ssml

CONVERSATION_PATH = "/api/conversation/process"
# HA's conversation ids are ULIDs; an LLM agent's can differ. Longer ones are not HA's: don't echo them.
MAX_CONVERSATION_ID = 256


@dataclass(frozen=True)
class Answer:
    speech: str  # HA's speech, cleaned (speech.clean): "" when it said nothing a voice can say
    conversation_id: str | None
    continue_conversation: bool  # the agent asked something back and waits for the answer
    response_type: str  # action_done, query_answer or error
    error_code: str | None  # with response_type "error": no_intent_match, no_valid_targets, ...


def ask(request: SkillRequest, conversation_id: str | None, until: float) -> Answer:
    """Put the request's words to Assist, saying "one moment" if it is slow; raises AssistError."""
    try:
        config = settings()
    except SettingError as err:  # ASSIST_ALLOW_OPERATOR_TOKEN=never, say: refused, not guessed
        raise AssistMisconfigured(str(err)) from None
    linked = bool(request.access_token)
    if not linked and not config.assist_allow_operator_token:
        # Whoever has not linked an account (a tester, a household member) must not act as the operator.
        raise AssistNoToken("the request carries no account-linked token, and ASSIST_ALLOW_OPERATOR_TOKEN is off")
    try:
        token = request.access_token or default_token()
    except RuntimeError as err:  # HA_TOKEN_PARAMETER is set but SSM could not be read
        raise AssistError(str(err)) from None
    if not token:
        raise AssistNoToken("the request carries no account-linked token and HA_TOKEN is not configured")
    timer = progressive.schedule(request, ssml(phrase("one_moment", request.locale)))
    try:
        echo_room = None
        if request.device_id and config.assist_rooms:
            from gateway.rooms import room  # only where ASSIST_ROOMS is set

            echo_room = room(request.device_id, token, until)
        return converse(
            request.query,
            token=token,
            until=until,
            language=config.assist_language or ha_language(request.locale),
            agent_id=config.assist_agent_id,
            conversation_id=conversation_id,
            linked=linked,
            device_id=echo_room.device_id if echo_room else None,
        )
    finally:
        if timer is not None:
            timer.cancel()


def converse(
    text: str,
    *,
    token: str,
    until: float,
    language: str = "",
    agent_id: str = "",
    conversation_id: str | None = None,
    linked: bool = False,
    device_id: str | None = None,
) -> Answer:
    """Send `text` to Assist and return its answer; raises AssistError. `linked`: the token is the user's own.

    `device_id`: a Home Assistant device whose area Assist takes as the user's (gateway.rooms).
    """
    body = {"text": text}
    if language:
        body["language"] = language
    if agent_id:
        body["agent_id"] = agent_id
    if conversation_id:
        body["conversation_id"] = conversation_id
    if device_id:
        body["device_id"] = device_id
    try:
        client = default_client()
    except ValueError as err:  # HA_URL missing or malformed
        raise AssistNotConfigured(str(err)) from None
    started = time.perf_counter()
    try:
        response = client.request("POST", CONVERSATION_PATH, token=token, until=until, body=body)
    except UnusableToken as err:
        raise (AssistLinkRejected if linked else AssistTokenRejected)(err.detail) from None
    except HomeAssistantUnreachable as err:
        if err.reason == "timeout":
            raise AssistTimeout(f"Home Assistant did not answer in time: {err.detail}") from None
        raise AssistUnreachable(f"Home Assistant is unreachable ({err.reason}): {err.detail}") from None
    except HomeAssistantBadAnswer as err:
        raise AssistBadAnswer(f"Home Assistant's answer was unusable: {err.detail}") from None
    finally:
        milliseconds("HomeAssistantLatency", started)
    if banned(response):  # no new link or token helps: the block is on the bridge's address
        raise AssistBanned(BANNED)
    if response.status in (401, 403):
        rejected = AssistLinkRejected if linked else AssistTokenRejected
        raise rejected(f"Home Assistant rejected the {'linked' if linked else 'configured'} token "
                       f"(HTTP {response.status})")
    if response.status == 404:
        raise AssistBadAnswer("Home Assistant has no conversation API: add `conversation:` to configuration.yaml")
    if response.status != 200:
        message = error_message(response, client, token)
        refused = agent_refused(agent_id, response.status, message)
        if refused:  # the setting, not Home Assistant: named with its fix
            raise (AssistAgentRemoved if agent_id in REMOVED_AGENT_IDS else AssistMisconfigured)(": ".join(refused))
        raise AssistBadAnswer(f"Home Assistant answered HTTP {response.status}" + (f": {message}" if message else ""))
    try:
        result = response.json()
    except ValueError:
        raise AssistBadAnswer("Home Assistant's answer is not JSON") from None
    return parse_result(result)


def parse_result(result) -> Answer:
    """The Answer in a conversation result (HA's ConversationResult.as_dict); raises AssistBadAnswer."""
    intent_response = result.get("response") if isinstance(result, dict) else None
    if not isinstance(intent_response, dict):
        raise AssistBadAnswer("Home Assistant's answer is not a conversation result")
    speech = dig(intent_response, "speech", "plain", "speech")
    if not isinstance(speech, str):
        # An agent may answer in SSML only: keep its words; the bridge writes its own SSML.
        speech = dig(intent_response, "speech", "ssml", "speech")
        speech = from_ssml(speech) if isinstance(speech, str) else ""
    elif speech.lstrip().startswith("<speak"):  # an LLM agent's SSML in the plain text: its words, not its tags
        speech = from_ssml(speech)
    conversation_id = result.get("conversation_id")
    if not (isinstance(conversation_id, str) and 0 < len(conversation_id) <= MAX_CONVERSATION_ID):
        conversation_id = None
    response_type = intent_response.get("response_type")
    error_code = dig(intent_response, "data", "code")
    return Answer(
        # Cleaned here, so that an answer of only a space, a code block or a pause is "" and gets the fallback.
        speech=clean(speech),
        conversation_id=conversation_id,
        continue_conversation=result.get("continue_conversation") is True,
        response_type=response_type if isinstance(response_type, str) else "",
        error_code=error_code if isinstance(error_code, str) else None,
    )

