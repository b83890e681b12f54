"""The ASK response envelope, built in one place."""

from ha_assist.request import ASSIST_INTENT, QUERY_SLOT
from ha_assist.speech import ssml

VERSION = "1.0"


def speak(
    text: str,
    *,
    end_session: bool,
    reprompt: str = "",
    card: dict | None = None,
    directives: list | None = None,
    attributes: dict | None = None,
) -> dict:
    """A response that says `text` (made safe for Alexa); `end_session=False` keeps the microphone open."""
    response = {"outputSpeech": {"type": "SSML", "ssml": ssml(text)}, "shouldEndSession": end_session}
    if reprompt and not end_session:
        response["reprompt"] = {"outputSpeech": {"type": "SSML", "ssml": ssml(reprompt)}}
    if card:
        response["card"] = card
    if directives:
        response["directives"] = directives
    return {"version": VERSION, "sessionAttributes": dict(attributes or {}), "response": response}


def empty(attributes: dict | None = None) -> dict:
    """A response that says nothing: what SessionEndedRequest and System.ExceptionEncountered allow."""
    return {"version": VERSION, "sessionAttributes": dict(attributes or {}), "response": {}}


def end(attributes: dict | None = None) -> dict:
    """A response that closes the session without a word."""
    return {"version": VERSION, "sessionAttributes": dict(attributes or {}), "response": {"shouldEndSession": True}}


def link_account_card() -> dict:
    """The card that opens account linking in the Alexa app; Alexa writes its text itself."""
    return {"type": "LinkAccount"}


def simple_card(title: str, content: str) -> dict:
    """A card in the Alexa app with a title and plain text."""
    return {"type": "Simple", "title": title, "content": content}


def elicit_query() -> dict:
    """Ask Alexa to take the user's next words whole, as the catch-all slot, whatever they are.

    Free-form follow-ups ("and the bedroom too?") rarely match a sample utterance; eliciting the slot makes
    Alexa's next request carry them verbatim.
    """
    return {
        "type": "Dialog.ElicitSlot",
        "slotToElicit": QUERY_SLOT,
        "updatedIntent": {
            "name": ASSIST_INTENT,
            "confirmationStatus": "NONE",
            "slots": {QUERY_SLOT: {"name": QUERY_SLOT, "confirmationStatus": "NONE"}},
        },
    }
