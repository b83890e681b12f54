"""ha_assist against a scripted Home Assistant: requests, session continuity, tokens, failures, metrics."""

import json
import logging
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fast_path import lambda_handler
from ha_assist import progressive
from ha_assist.speech import MAX_SSML_CHARS
from support import FakeContext

LINKED_TOKEN = "linked-token-abcdef0123456789-SECRET"
OPERATOR_TOKEN = "operator-token-0123456789-SECRET"
# The operator token, and the setting that lets an unlinked user act with it (off by default).
OPERATOR = {"HA_TOKEN": OPERATOR_TOKEN, "ASSIST_ALLOW_OPERATOR_TOKEN": "true"}


@pytest.fixture
def output(capsys, caplog):
    """`output()`: what the bridge wrote since the last call: metric lines (stdout) and log records, as text."""
    caplog.set_level(logging.INFO)

    def read() -> str:
        captured = capsys.readouterr()
        records = [json.dumps({**record.__dict__, "message": record.getMessage()}, default=str, separators=(",", ":"))
                   for record in caplog.records]
        caplog.clear()
        return "\n".join([captured.out, captured.err, *records])

    return read


def skill_event(request_type="IntentRequest", *, intent=None, query=None, locale="en-US", attributes=None,
                new=True, access_token=None, api_endpoint=None, **request_fields):
    """An ASK request envelope as Alexa sends it to the Lambda function."""
    system = {"application": {"applicationId": "amzn1.ask.skill.test"}, "user": {"userId": "amzn1.ask.account.U"}}
    if access_token:
        system["user"]["accessToken"] = access_token
    if api_endpoint:
        system["apiEndpoint"] = api_endpoint
        system["apiAccessToken"] = "alexa-api-token-SECRET"
    request = {"type": request_type, "requestId": "amzn1.echo-api.request.1", "locale": locale,
               "timestamp": "2025-01-01T00:00:00Z", **request_fields}
    if intent:
        slots = {"query": {"name": "query", "confirmationStatus": "NONE"}}
        if query is not None:
            slots["query"]["value"] = query
        request["intent"] = {"name": intent, "confirmationStatus": "NONE", "slots": slots}
    return {
        "version": "1.0",
        "session": {"new": new, "sessionId": "amzn1.echo-api.session.1", "attributes": attributes or {},
                    "application": system["application"], "user": system["user"]},
        "context": {"System": system},
        "request": request,
    }


def assist_event(query="turn off the kitchen lights", **kwargs):
    return skill_event(intent="AssistIntent", query=query, **kwargs)


def conversation_result(speech="Turned off the light", conversation_id="01HCONVERSATION", response_type="action_done",
                        continue_conversation=False, code=None):
    data = {"code": code} if code else {"targets": [], "success": [], "failed": []}
    return {
        "response": {"speech": {"plain": {"speech": speech, "extra_data": None}}, "card": {}, "language": "en",
                     "response_type": response_type, "data": data},
        "conversation_id": conversation_id,
        "continue_conversation": continue_conversation,
    }


def answering(result=None, status=200):
    """A fake HA answer function that answers every request with `result`."""
    return lambda method, path, headers, body: (status, conversation_result() if result is None else result, None)


def assert_valid(answer, speaks=True):
    """The shape Alexa accepts: version, sessionAttributes, response; SSML speech within the limit."""
    json.dumps(answer)  # serialisable, as Lambda must send it
    assert answer["version"] == "1.0"
    assert isinstance(answer["sessionAttributes"], dict)
    response = answer["response"]
    assert isinstance(response, dict)
    if not speaks:
        assert "outputSpeech" not in response
        return response
    speech = response["outputSpeech"]
    assert speech["type"] == "SSML"
    assert speech["ssml"].startswith("<speak>") and speech["ssml"].endswith("</speak>")
    assert len(speech["ssml"]) <= MAX_SSML_CHARS
    assert isinstance(response["shouldEndSession"], bool)
    if response["shouldEndSession"]:
        assert "reprompt" not in response and "directives" not in response
    return response


def spoken(answer) -> str:
    return answer["response"]["outputSpeech"]["ssml"][len("<speak>"):-len("</speak>")]


def sent_body(ha, index=-1) -> dict:
    return json.loads(ha.requests[index][3])


# --- requests and intents -----------------------------------------------------------------------------------


def test_launch_greets_and_keeps_the_session_open(bridge_env):
    answer = lambda_handler(skill_event("LaunchRequest"), FakeContext())
    response = assert_valid(answer)
    assert spoken(answer) == "Home Assistant here. What should I do?"
    assert response["shouldEndSession"] is False
    assert response["reprompt"]["outputSpeech"]["ssml"].startswith("<speak>")
    assert answer["sessionAttributes"]["dialog"] is True


def test_one_shot_command_goes_to_assist_and_ends_the_session(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    response = assert_valid(answer)
    assert spoken(answer) == "Turned off the light"
    assert response["shouldEndSession"] is True
    method, path, headers, _ = ha.requests[0]
    assert (method, path) == ("POST", "/api/conversation/process")
    assert headers["Authorization"] == f"Bearer {OPERATOR_TOKEN}"
    assert sent_body(ha) == {"text": "turn off the kitchen lights", "language": "en"}
    assert answer["sessionAttributes"]["conversation_id"] == "01HCONVERSATION"


def test_follow_up_continues_the_conversation_of_its_session(fake_ha, bridge_env):
    ha = fake_ha(answering(conversation_result(speech="Turned off the lights", conversation_id="01HSECOND")))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    event = assist_event("and the bedroom too", new=False, attributes={"conversation_id": "01HFIRST", "dialog": True})
    answer = lambda_handler(event, FakeContext())
    response = assert_valid(answer)
    assert sent_body(ha)["conversation_id"] == "01HFIRST"
    assert answer["sessionAttributes"] == {"conversation_id": "01HSECOND", "dialog": True}
    # In a dialog the skill keeps listening, and takes the next words whole as the catch-all slot.
    assert response["shouldEndSession"] is False
    assert response["directives"] == [{
        "type": "Dialog.ElicitSlot",
        "slotToElicit": "query",
        "updatedIntent": {"name": "AssistIntent", "confirmationStatus": "NONE",
                          "slots": {"query": {"name": "query", "confirmationStatus": "NONE"}}},
    }]


def test_conversations_are_never_shared_between_sessions(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    lambda_handler(assist_event(attributes={"conversation_id": "01HSOMEONE-ELSE"}), FakeContext())
    lambda_handler(assist_event(), FakeContext())  # another user's new session, same warm environment
    assert sent_body(ha, 0)["conversation_id"] == "01HSOMEONE-ELSE"
    assert "conversation_id" not in sent_body(ha, 1)


def test_an_agent_asking_back_keeps_a_one_shot_session_open(fake_ha, bridge_env):
    result = conversation_result(speech="Which light, kitchen or bedroom?", continue_conversation=True)
    ha = fake_ha(answering(result))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    response = assert_valid(lambda_handler(assist_event("turn off the light"), FakeContext()))
    assert response["shouldEndSession"] is False
    assert response["directives"][0]["type"] == "Dialog.ElicitSlot"


def test_language_and_agent_come_from_the_settings_when_set(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR, ASSIST_LANGUAGE="nl", ASSIST_AGENT_ID="conversation.chatgpt")
    lambda_handler(assist_event(locale="en-GB"), FakeContext())
    assert sent_body(ha) == {"text": "turn off the kitchen lights", "language": "nl",
                             "agent_id": "conversation.chatgpt"}


def test_the_language_follows_the_locale_of_the_request(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    lambda_handler(assist_event("schalte das Küchenlicht aus", locale="de-DE"), FakeContext())
    assert sent_body(ha) == {"text": "schalte das Küchenlicht aus", "language": "de"}


def test_an_empty_query_asks_for_the_words(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(query=None), FakeContext())
    response = assert_valid(answer)
    assert spoken(answer) == "What should I ask Home Assistant?"
    assert response["directives"][0]["slotToElicit"] == "query"
    assert ha.requests == []


def test_home_assistant_not_understanding_is_spoken_as_it_said_it(fake_ha, bridge_env, output):
    result = conversation_result(speech="Sorry, I couldn't understand that", response_type="error",
                                 code="no_intent_match")
    ha = fake_ha(answering(result))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event("sing a song"), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Sorry, I couldn&apos;t understand that"
    out = output()
    assert '"error_code":"no_intent_match"' in out
    assert '"Errors"' not in out  # the user was not understood: not a fault of the bridge


def test_speech_is_escaped_and_kept_within_alexas_limit(fake_ha, bridge_env):
    ha = fake_ha(answering(conversation_result(speech="**Tom & Jerry** <3 " * 2000)))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event("tell me a story"), FakeContext())
    assert_valid(answer)
    assert spoken(answer).startswith("Tom &amp; Jerry &lt;3 Tom &amp; Jerry")
    assert "**" not in spoken(answer)


def test_an_answer_without_speech_is_confirmed(fake_ha, bridge_env):
    ha = fake_ha(answering(conversation_result(speech="")))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Done."


@pytest.mark.parametrize("locale, apology", [
    ("en-US", "Sorry, Home Assistant couldn&apos;t do that."),
    ("de-DE", "Das konnte Home Assistant leider nicht tun."),
])
def test_an_error_answer_without_speech_is_an_apology_not_a_confirmation(fake_ha, bridge_env, locale, apology):
    ha = fake_ha(answering(conversation_result(speech="", response_type="error", code="no_valid_targets")))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(locale=locale), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == apology


# Answers that LLM agents give and that clean to nothing: the fallback must be chosen after cleaning.
BLANK_SPEECH = {"a space": {"plain": {"speech": " "}}, "a line break": {"plain": {"speech": "\n"}},
                "a code block only": {"plain": {"speech": "```\nprint('on')\n```"}},
                "SSML in the plain text": {"plain": {"speech": "<speak><break time='1s'/></speak>"}},
                "SSML only": {"ssml": {"speech": "<speak><break time='1s'/></speak>"}}}


@pytest.mark.parametrize("response_type, expected", [("action_done", "Done."),
                                                     ("error", "Sorry, Home Assistant couldn&apos;t do that.")])
@pytest.mark.parametrize("speech", list(BLANK_SPEECH.values()), ids=list(BLANK_SPEECH))
def test_an_answer_that_cleans_to_nothing_gets_the_fallback_not_silence(fake_ha, bridge_env, speech, response_type,
                                                                        expected):
    result = conversation_result(response_type=response_type, code="no_valid_targets" if response_type == "error"
                                 else None)
    result["response"]["speech"] = speech
    ha = fake_ha(answering(result))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event("lock the front door"), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == expected


def test_an_ssml_only_answer_is_spoken_without_its_markup(fake_ha, bridge_env):
    result = conversation_result()
    result["response"]["speech"] = {"ssml": {"speech": "<speak>It is <emphasis>cold</emphasis> &amp; wet</speak>"}}
    ha = fake_ha(answering(result))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event("how is the weather"), FakeContext())
    assert spoken(answer) == "It is cold &amp; wet"


@pytest.mark.parametrize(("intent", "text", "ends"), [
    ("AMAZON.StopIntent", "Goodbye.", True),
    ("AMAZON.CancelIntent", "Goodbye.", True),
    ("AMAZON.HelpIntent", "Tell me what to do", False),
    ("AMAZON.FallbackIntent", "Sorry, I didn&apos;t catch that.", False),
])
def test_built_in_intents(bridge_env, intent, text, ends):
    answer = lambda_handler(skill_event(intent=intent), FakeContext())
    response = assert_valid(answer)
    assert spoken(answer).startswith(text)
    assert response["shouldEndSession"] is ends
    if not ends:
        assert "reprompt" in response


def test_navigate_home_closes_the_session_silently(bridge_env):
    answer = lambda_handler(skill_event(intent="AMAZON.NavigateHomeIntent"), FakeContext())
    assert assert_valid(answer, speaks=False) == {"shouldEndSession": True}


def test_session_ended_gets_an_empty_response_and_its_reason_is_logged(bridge_env, output):
    event = skill_event("SessionEndedRequest", reason="ERROR",
                        error={"type": "INVALID_RESPONSE", "message": "directive not allowed"})
    answer = lambda_handler(event, FakeContext())
    assert assert_valid(answer, speaks=False) == {}
    out = output()
    assert '"reason":"ERROR"' in out and "INVALID_RESPONSE: directive not allowed" in out
    assert '"ErrorType":"ASSIST_ALEXA_REPORTED"' in out


def test_user_initiated_session_end_is_not_an_error(bridge_env, output):
    answer = lambda_handler(skill_event("SessionEndedRequest", reason="USER_INITIATED"), FakeContext())
    assert assert_valid(answer, speaks=False) == {}
    out = output()
    assert '"reason":"USER_INITIATED"' in out and '"Errors"' not in out


def test_exception_encountered_gets_an_empty_response(bridge_env):
    event = skill_event("System.ExceptionEncountered", error={"type": "INVALID_RESPONSE", "message": "bad"})
    assert assert_valid(lambda_handler(event, FakeContext()), speaks=False) == {}


@pytest.mark.parametrize("event", [
    skill_event(intent="AMAZON.YesIntent"),
    skill_event("CanFulfillIntentRequest"),
    skill_event("Display.ElementSelected"),
    skill_event(""),
])
def test_anything_else_is_answered_politely(bridge_env, event):
    answer = lambda_handler(event, FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Sorry, I can&apos;t do that here."


# --- tokens -------------------------------------------------------------------------------------------------


def test_the_account_linked_token_wins_over_ha_token(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    lambda_handler(assist_event(access_token=LINKED_TOKEN), FakeContext())
    assert ha.requests[0][2]["Authorization"] == f"Bearer {LINKED_TOKEN}"


def test_without_any_token_the_user_gets_a_link_account_card(fake_ha, bridge_env, output):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url)
    answer = lambda_handler(assist_event(), FakeContext())
    response = assert_valid(answer)
    assert response["card"] == {"type": "LinkAccount"}
    assert "link your account in the Alexa app" in spoken(answer)
    assert response["shouldEndSession"] is True
    assert ha.requests == []
    assert '"ErrorType":"ASSIST_NO_TOKEN"' in output()


@pytest.mark.parametrize("setting", [None, "false", "FALSE"])
def test_an_unlinked_user_does_not_act_as_the_operator_unless_allowed(fake_ha, bridge_env, output, setting):
    """Anyone the skill admits who has not linked (a beta tester, a household member) must link, even with
    HA_TOKEN set; Home Assistant hears nothing, and the SSM parameter is not even read."""
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, HA_TOKEN=OPERATOR_TOKEN,
               **({"ASSIST_ALLOW_OPERATOR_TOKEN": setting} if setting is not None else {}))
    answer = lambda_handler(assist_event("unlock the front door"), FakeContext())
    response = assert_valid(answer)
    assert response["card"] == {"type": "LinkAccount"}
    assert "link your account in the Alexa app" in spoken(answer)
    assert ha.requests == []
    out = output()
    assert '"ErrorType":"ASSIST_NO_TOKEN"' in out and "ASSIST_ALLOW_OPERATOR_TOKEN is off" in out
    # A linked user is not affected by the setting.
    lambda_handler(assist_event(access_token=LINKED_TOKEN), FakeContext())
    assert [headers["Authorization"] for _, _, headers, _ in ha.requests] == [f"Bearer {LINKED_TOKEN}"]


def test_an_unlinked_user_acts_as_the_operator_when_allowed(fake_ha, bridge_env):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, HA_TOKEN=OPERATOR_TOKEN, ASSIST_ALLOW_OPERATOR_TOKEN="true")
    answer = lambda_handler(assist_event("unlock the front door"), FakeContext())
    assert spoken(answer) == "Turned off the light"
    assert "card" not in answer["response"]
    assert ha.requests[0][2]["Authorization"] == f"Bearer {OPERATOR_TOKEN}"


def test_a_rejected_linked_token_asks_to_link_again(fake_ha, bridge_env):
    ha = fake_ha(answering({"message": "unauthorized"}, status=401))
    bridge_env(HA_URL=ha.url)
    answer = lambda_handler(assist_event(access_token=LINKED_TOKEN), FakeContext())
    response = assert_valid(answer)
    assert response["card"] == {"type": "LinkAccount"}
    assert "link the skill again" in spoken(answer)


@pytest.mark.parametrize("access_token", [LINKED_TOKEN, None], ids=["linked", "HA_TOKEN"])
def test_an_ip_ban_is_not_taken_for_a_rejected_token(fake_ha, bridge_env, output, access_token):
    """Home Assistant's answer to a banned address (aiohttp's bare 403): linking again would not help."""
    ha = fake_ha(lambda *request: (403, b"403: Forbidden", {"Content-Type": "text/plain; charset=utf-8"}))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(access_token=access_token), FakeContext())
    response = assert_valid(answer)
    assert "card" not in response
    assert spoken(answer) == "Sorry, Home Assistant has blocked the bridge after failed logins."
    out = output()
    assert '"ErrorType":"ASSIST_AUTH"' in out and "ip_bans.yaml" in out


def test_a_rejected_operator_token_is_an_apology_without_card(fake_ha, bridge_env, output):
    ha = fake_ha(answering({"message": "forbidden"}, status=403))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    response = assert_valid(answer)
    assert "card" not in response
    assert spoken(answer) == "Sorry, Home Assistant rejected the bridge&apos;s access token."
    out = output()
    assert '"ErrorType":"ASSIST_AUTH"' in out
    assert OPERATOR_TOKEN not in out


# --- failures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "logged"), [
    (500, {"message": "boom"}, "HTTP 500: boom"),
    (400, {"message": "Message format incorrect: invalid agent ID"}, "invalid agent ID"),
    (404, b"404: Not Found", "no conversation API"),
    (200, b"<html>proxy login</html>", "not JSON"),
    (200, {"unexpected": True}, "not a conversation result"),
])
def test_unusable_answers_become_a_spoken_apology(fake_ha, bridge_env, output, status, body, logged):
    ha = fake_ha(lambda method, path, headers, _: (status, body, {"Content-Type": "application/json"}))
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    response = assert_valid(answer)
    assert spoken(answer) == "Sorry, something went wrong talking to Home Assistant."
    assert response["shouldEndSession"] is True
    out = output()
    assert logged in out
    assert '"ErrorType":"ASSIST_HA_ERROR"' in out
    assert '"HomeAssistantLatency"' in out


def test_an_unreachable_home_assistant_is_an_apology(bridge_env, output):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bridge_env(HA_URL=f"http://127.0.0.1:{port}", **OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Sorry, I can&apos;t reach Home Assistant right now."
    out = output()
    assert '"ErrorType":"ASSIST_UNREACHABLE"' in out and "refused" in out


def test_a_missing_ha_url_is_an_apology(bridge_env, output):
    bridge_env(**OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Sorry, the bridge doesn&apos;t know where your Home Assistant is."
    assert '"ErrorType":"ASSIST_NOT_CONFIGURED"' in output()


def test_a_slow_home_assistant_is_answered_before_alexa_gives_up(bridge_env, output):
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        bridge_env(HA_URL=f"http://127.0.0.1:{silent.getsockname()[1]}", **OPERATOR)
        # 1.3 s left in the invocation: the bridge must give up on HA in time to answer.
        answer = lambda_handler(assist_event(), FakeContext(remaining_ms=1300))
    assert_valid(answer)
    assert spoken(answer).startswith("Sorry, Home Assistant took too long to answer.")
    assert '"ErrorType":"ASSIST_TIMEOUT"' in output()


def test_failures_are_spoken_in_the_language_of_the_request(bridge_env):
    bridge_env(**OPERATOR)
    answer = lambda_handler(assist_event("schalte das Licht aus", locale="de-DE"), FakeContext())
    assert spoken(answer) == "Die Brücke weiß leider nicht, wo dein Home Assistant ist."


def test_a_bug_below_the_handler_is_still_a_valid_answer(fake_ha, bridge_env, monkeypatch, output):
    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr("ha_assist.handlers.ask", broken)
    bridge_env(**OPERATOR)
    answer = lambda_handler(assist_event(), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Sorry, something went wrong talking to Home Assistant."
    assert '"ErrorType":"ASSIST_INTERNAL"' in output()


def test_tokens_and_words_never_reach_the_logs(fake_ha, bridge_env, output):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    lambda_handler(assist_event("unlock the secret door", access_token=LINKED_TOKEN,
                                api_endpoint="http://127.0.0.1:9"), FakeContext())
    logs = output()
    for secret in (LINKED_TOKEN, OPERATOR_TOKEN, "alexa-api-token-SECRET", "secret door"):
        assert secret not in logs


def test_assist_requests_record_latency_metrics(fake_ha, bridge_env, output):
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    lambda_handler(assist_event(), FakeContext())
    metrics = [json.loads(line) for line in output().splitlines() if line.startswith('{"_aws"')]
    names = {metric["Name"] for line in metrics for block in line["_aws"]["CloudWatchMetrics"]
             for metric in block["Metrics"]}
    assert {"RequestLatency", "HomeAssistantLatency"} <= names


# --- progressive response -----------------------------------------------------------------------------------


def test_a_slow_answer_is_preceded_by_a_progressive_response(fake_ha, bridge_env, monkeypatch):
    said = threading.Event()
    alexa = fake_ha(lambda method, path, headers, body: (said.set(), (204, b"", {}))[1])

    def thinking(method, path, headers, body):
        said.wait(10)  # HA answers only once Alexa has been told to say "one moment"
        return 200, conversation_result(), None

    ha = fake_ha(thinking)
    bridge_env(HA_URL=ha.url, **OPERATOR)
    monkeypatch.setattr(progressive, "SEND_AFTER_S", 0.0)
    answer = lambda_handler(assist_event(api_endpoint=alexa.url), FakeContext())
    assert spoken(answer) == "Turned off the light"
    assert len(alexa.requests) == 1
    method, path, headers, body = alexa.requests[0]
    assert (method, path) == ("POST", "/v1/directives")
    assert headers["Authorization"] == "Bearer alexa-api-token-SECRET"
    assert json.loads(body) == {
        "header": {"requestId": "amzn1.echo-api.request.1"},
        "directive": {"type": "VoicePlayer.Speak", "speech": "<speak>One moment.</speak>"},
    }


def test_a_quick_answer_cancels_the_progressive_response(fake_ha, bridge_env, monkeypatch):
    timers = []
    schedule = progressive.schedule

    def spy(*args, **kwargs):
        timers.append(schedule(*args, **kwargs))
        return timers[-1]

    monkeypatch.setattr(progressive, "schedule", spy)
    monkeypatch.setattr(progressive, "SEND_AFTER_S", 600.0)
    alexa = fake_ha(lambda method, path, headers, body: (204, b"", {}))
    ha = fake_ha(answering())
    bridge_env(HA_URL=ha.url, **OPERATOR)
    answer = lambda_handler(assist_event(api_endpoint=alexa.url), FakeContext())
    assert spoken(answer) == "Turned off the light"
    assert len(timers) == 1 and timers[0].finished.is_set()  # cancelled, it will never send
    assert alexa.requests == []


def test_a_refused_progressive_response_does_not_change_the_answer(fake_ha, bridge_env, monkeypatch, output):
    refused = threading.Event()
    alexa = fake_ha(lambda method, path, headers, body: (refused.set(), (403, {"message": "no"}, None))[1])

    def thinking(method, path, headers, body):
        refused.wait(10)
        return 200, conversation_result(), None

    ha = fake_ha(thinking)
    bridge_env(HA_URL=ha.url, **OPERATOR)
    monkeypatch.setattr(progressive, "SEND_AFTER_S", 0.0)
    answer = lambda_handler(assist_event(api_endpoint=alexa.url), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Turned off the light"
    assert len(alexa.requests) == 1


def test_no_progressive_response_without_the_directive_service(fake_ha, bridge_env, monkeypatch):
    monkeypatch.setattr(progressive, "SEND_AFTER_S", 0.0)
    from ha_assist.request import parse

    assert progressive.schedule(parse(assist_event()), "<speak>x</speak>") is None


def test_a_failing_progressive_send_is_only_logged(output):
    from ha_assist.request import parse

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    progressive._send_quietly(parse(assist_event(api_endpoint=f"http://127.0.0.1:{port}")), "<speak>x</speak>")
    assert "progressive response failed" in output()


@pytest.mark.parametrize("endpoint", ["http://api.amazonalexa.com", "ftp://127.0.0.1", "api.amazonalexa.com"])
def test_the_alexa_api_token_goes_only_to_an_https_endpoint(endpoint):
    with pytest.raises(ValueError):
        progressive.send(endpoint, "alexa-api-token", "request-1", "<speak>x</speak>")



def test_an_unreadable_token_parameter_is_an_apology(bridge_env, monkeypatch, output):
    def unreadable():
        raise RuntimeError("cannot read SSM parameter '/bridge/token': NoCredentialsError")

    monkeypatch.setattr("ha_assist.conversation.default_token", unreadable)
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN_PARAMETER="/bridge/token", ASSIST_ALLOW_OPERATOR_TOKEN="true")
    answer = lambda_handler(assist_event(), FakeContext())
    assert_valid(answer)
    assert spoken(answer) == "Sorry, something went wrong talking to Home Assistant."
    out = output()
    assert "NoCredentialsError" in out and '"ErrorType":"ASSIST_INTERNAL"' in out


# --- whatever Alexa (or anyone) sends -----------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4),
                    max_leaves=12)
REQUEST_TYPES = st.sampled_from(["LaunchRequest", "IntentRequest", "SessionEndedRequest",
                                 "System.ExceptionEncountered", "Messaging.MessageReceived", ""])
INTENT_NAMES = st.sampled_from(["AssistIntent", "AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.FallbackIntent",
                                "AMAZON.NavigateHomeIntent", "Nope"]) | JSON


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request_type=REQUEST_TYPES, intent=INTENT_NAMES, slots=JSON, locale=JSON, session=JSON, context=JSON,
       extra=st.dictionaries(st.sampled_from(["reason", "error", "requestId", "dialogState"]), JSON, max_size=3))
def test_any_request_gets_a_valid_answer(bridge_env, request_type, intent, slots, locale, session, context, extra):
    bridge_env(**OPERATOR)  # no HA_URL: nothing leaves the process
    event = {"version": "1.0", "session": session, "context": context,
             "request": {"type": request_type, "locale": locale, "intent": {"name": intent, "slots": slots}, **extra}}
    answer = lambda_handler(event, FakeContext())
    assert_valid(answer, speaks="outputSpeech" in answer.get("response", {}))
