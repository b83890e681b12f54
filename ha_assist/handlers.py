"""Parse a custom skill request, dispatch it by request type and intent, and answer Alexa whatever happens."""

from dataclasses import replace

from gateway.ha_connection import deadline
from gateway.log import logger
from gateway.metrics import error as count_error
from ha_assist.conversation import ask
from ha_assist.errors import AssistError
from ha_assist.phrases import DEFAULT_LOCALE, LOCALES, phrase
from ha_assist.request import ASSIST_INTENT, WHICH_DEVICE_INTENT, SkillRequest, parse
from ha_assist.response import elicit_query, empty, end, link_account_card, simple_card, speak

# Session attributes. They travel with the Alexa session, so each user's conversation stays their own.
CONVERSATION_ID = "conversation_id"  # Home Assistant's, so that a follow-up continues the same conversation
DIALOG = "dialog"  # the user opened the skill ("Alexa, open home assistant"): keep listening after answers


def handle(event, context) -> dict:
    """Answer one custom skill request with a valid ASK response. Never raises."""
    request = SkillRequest(type="")
    try:
        request = parse(event)
        if request.locale not in LOCALES:
            # Alexa sends only the locales of the skill's models; anything else is answered in English.
            logger.warning("unknown locale: answering in English", extra={"locale": request.locale[:40]})
            request = replace(request, locale=DEFAULT_LOCALE)
        return REQUESTS.get(request.type, unsupported)(request, context)
    except Exception:
        logger.exception("unexpected failure", extra={"request_type": request.type, "intent": request.intent})
        count_error("ASSIST_INTERNAL")
        return speak(phrase("failed", request.locale), end_session=True)


def launch(request: SkillRequest, context) -> dict:
    attributes = {**request.attributes, DIALOG: True}
    return speak(
        phrase("greeting", request.locale),
        end_session=False,
        reprompt=phrase("reprompt", request.locale),
        attributes=attributes,
    )


def intent(request: SkillRequest, context) -> dict:
    return INTENTS.get(request.intent, unsupported)(request, context)


def assist(request: SkillRequest, context) -> dict:
    """The catch-all intent: the user's words go to Home Assistant Assist, its answer is spoken."""
    if not request.query:
        return speak(
            phrase("ask_what", request.locale),
            end_session=False,
            reprompt=phrase("ask_what", request.locale),
            directives=[elicit_query()],
            attributes=request.attributes,
        )
    conversation_id = request.attributes.get(CONVERSATION_ID)
    try:
        answer = ask(request, conversation_id if isinstance(conversation_id, str) else None, deadline(context))
    except AssistError as err:
        return failure(request, err)
    attributes = dict(request.attributes)
    if answer.conversation_id:
        attributes[CONVERSATION_ID] = answer.conversation_id
    keep_listening = answer.continue_conversation or request.attributes.get(DIALOG) is True
    logger.info(
        "assist answered",
        extra={
            "response_type": answer.response_type,
            "error_code": answer.error_code,
            "speech_chars": len(answer.speech),
            "follow_up": bool(conversation_id),
            "keep_listening": keep_listening,
        },
    )
    # An agent may leave the speech empty; then only the answer's type says whether it did the thing.
    text = answer.speech or phrase("not_done" if answer.response_type == "error" else "done", request.locale)
    if not keep_listening:
        return speak(text, end_session=True, attributes=attributes)
    return speak(
        text,
        end_session=False,
        reprompt=phrase("anything_else", request.locale),
        directives=[elicit_query()],
        attributes=attributes,
    )


def failure(request: SkillRequest, err: AssistError) -> dict:
    """A short spoken apology (with a LinkAccount card when linking fixes it); the reason goes to the log."""
    count_error(err.error_type)
    logger.warning("assist failed", extra={"error_type": err.error_type, "reason": err.reason})
    card = link_account_card() if err.link_account else None
    return speak(phrase(err.phrase, request.locale), end_session=True, card=card, attributes=request.attributes)


def which_device(request: SkillRequest, context) -> dict:
    """A card with the Echo's device ID and its room in ASSIST_ROOMS: what the owner needs to map it."""
    from gateway.rooms import RoomsError, configured  # rarely asked: not imported with the skill

    if not request.device_id:
        return speak(phrase("no_device", request.locale), end_session=True, attributes=request.attributes)
    try:
        area = configured().get(request.device_id)
    except RoomsError as err:
        logger.warning("ASSIST_ROOMS refused", extra={"reason": str(err)})
        area = None
    room = area or phrase("device_card_no_room", request.locale)
    card = simple_card(phrase("card_title", request.locale),
                       phrase("device_card", request.locale).format(device_id=request.device_id, room=room))
    said = phrase("its_room", request.locale).format(room=area) if area else phrase("no_room", request.locale)
    logger.info("device ID sent on a card", extra={"mapped": bool(area)})
    return speak(f"{phrase('this_device', request.locale)} {said}", end_session=True, card=card,
                 attributes=request.attributes)


def help_intent(request: SkillRequest, context) -> dict:
    return speak(
        phrase("help", request.locale),
        end_session=False,
        reprompt=phrase("reprompt", request.locale),
        attributes={**request.attributes, DIALOG: True},
    )


def fallback(request: SkillRequest, context) -> dict:
    return speak(
        phrase("fallback", request.locale),
        end_session=False,
        reprompt=phrase("reprompt", request.locale),
        attributes=request.attributes,
    )


def goodbye(request: SkillRequest, context) -> dict:
    return speak(phrase("goodbye", request.locale), end_session=True)


def navigate_home(request: SkillRequest, context) -> dict:
    # On a screen device the user wants the home screen, not a goodbye.
    return end()


def session_ended(request: SkillRequest, context) -> dict:
    # Alexa allows no speech here. An ERROR reason usually means Alexa rejected the bridge's previous answer.
    logger.info("session ended", extra={"reason": request.reason or "unknown", "error": request.error or None})
    if request.reason == "ERROR":
        count_error("ASSIST_ALEXA_REPORTED")
    return empty()


def exception_encountered(request: SkillRequest, context) -> dict:
    # Alexa reports that it could not use the bridge's previous answer (e.g. an invalid directive).
    logger.warning("Alexa reported an error with a previous answer", extra={"error": request.error or None})
    count_error("ASSIST_ALEXA_REPORTED")
    return empty()


def unsupported(request: SkillRequest, context) -> dict:
    logger.info("unsupported request", extra={"request_type": request.type, "intent": request.intent or None})
    in_dialog = request.attributes.get(DIALOG) is True
    return speak(
        phrase("unsupported", request.locale),
        end_session=not in_dialog,
        reprompt=phrase("reprompt", request.locale),
        attributes=request.attributes,
    )


REQUESTS = {
    "LaunchRequest": launch,
    "IntentRequest": intent,
    "SessionEndedRequest": session_ended,
    "System.ExceptionEncountered": exception_encountered,
}
INTENTS = {
    ASSIST_INTENT: assist,
    WHICH_DEVICE_INTENT: which_device,
    "AMAZON.HelpIntent": help_intent,
    "AMAZON.FallbackIntent": fallback,
    "AMAZON.StopIntent": goodbye,
    "AMAZON.CancelIntent": goodbye,
    "AMAZON.NavigateHomeIntent": navigate_home,
}
