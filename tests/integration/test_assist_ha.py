"""Assist custom skill requests through the bridge to a real Home Assistant core (built-in agent, offline)."""

import json
import re
import time

import pytest

from fast_path import lambda_handler
from support import ROOT, FakeContext

KITCHEN = "light.kitchen_lights"


def skill_event(request_type="IntentRequest", *, intent=None, query=None, locale="en-US", attributes=None,
                new=True, access_token=None):
    user = {"userId": "amzn1.ask.account.INTEGRATION"}
    if access_token:
        user["accessToken"] = access_token
    request = {"type": request_type, "requestId": "amzn1.echo-api.request.it", "locale": locale,
               "timestamp": "2025-01-01T00:00:00Z"}
    if intent:
        slots = {"query": {"name": "query", "confirmationStatus": "NONE"}}
        if query is not None:
            slots["query"]["value"] = query
        request["intent"] = {"name": intent, "confirmationStatus": "NONE", "slots": slots}
    return {"version": "1.0",
            "session": {"new": new, "sessionId": "amzn1.echo-api.session.it", "attributes": attributes or {},
                        "user": user},
            "context": {"System": {"user": user}},
            "request": request}


def say(query, **kwargs):
    return lambda_handler(skill_event(intent="AssistIntent", query=query, **kwargs), FakeContext())


def spoken(answer) -> str:
    ssml = answer["response"]["outputSpeech"]["ssml"]
    assert ssml.startswith("<speak>") and ssml.endswith("</speak>")
    return ssml[len("<speak>"):-len("</speak>")]


def state(ha, entity_id) -> str:
    return ha.api("GET", f"/api/states/{entity_id}").body["state"]


def wait_for_state(ha, entity_id, wanted, timeout=10.0) -> str:
    until = time.monotonic() + timeout
    while (current := state(ha, entity_id)) != wanted and time.monotonic() < until:
        time.sleep(0.1)
    return current


@pytest.fixture
def kitchen_on(ha):
    """The kitchen lights on before the test and after it: the `ha` fixture is shared by the whole session."""
    ha.api("POST", "/api/services/light/turn_on", json={"entity_id": KITCHEN})
    assert wait_for_state(ha, KITCHEN, "on") == "on"
    yield
    ha.api("POST", "/api/services/light/turn_on", json={"entity_id": KITCHEN})


@pytest.fixture
def operator(ha, bridge_env):
    """The bridge configured with the operator's token (HA_TOKEN) for unlinked users, as in a local run."""
    bridge_env(HA_URL=ha.url, HA_TOKEN=ha.token, ASSIST_ALLOW_OPERATOR_TOKEN="true")
    return ha


def test_turn_off_the_kitchen_lights_switches_them_off(operator, kitchen_on):
    answer = say("turn off the kitchen lights")
    assert spoken(answer) == "Turned off the light"
    assert answer["response"]["shouldEndSession"] is True
    assert answer["sessionAttributes"]["conversation_id"]
    assert wait_for_state(operator, KITCHEN, "off") == "off"


def test_the_account_linked_token_is_enough(ha, bridge_env, kitchen_on):
    bridge_env(HA_URL=ha.url)  # no HA_TOKEN: the skill's account linking gives the token
    answer = say("turn off the kitchen lights", access_token=ha.token)
    assert spoken(answer) == "Turned off the light"
    assert wait_for_state(ha, KITCHEN, "off") == "off"


def test_an_unlinked_user_gets_the_link_card_and_home_assistant_hears_nothing(ha, bridge_env, kitchen_on):
    """HA_TOKEN is set (docs/assist.md asks for it for operator actions), ASSIST_ALLOW_OPERATOR_TOKEN is not."""
    bridge_env(HA_URL=ha.url, HA_TOKEN=ha.token)
    answer = say("turn off the kitchen lights")
    assert answer["response"]["card"] == {"type": "LinkAccount"}
    time.sleep(0.5)  # what a call to Assist would take to switch the light
    assert state(ha, KITCHEN) == "on"


@pytest.fixture
def front_door_exposed(operator):
    """The lock exposed to Assist, as an owner does (Settings, Voice assistants, Expose): locks are not by default.
    HA 2025.4 answered about it all the same; 2026.11 answers "Front Door is not exposed"."""
    expose = {"type": "homeassistant/expose_entity", "assistants": ["conversation"], "entity_ids": ["lock.front_door"]}
    operator.ws_command({**expose, "should_expose": True})
    yield operator
    operator.ws_command({**expose, "should_expose": False})  # as before for a lock: not exposed


def test_is_the_front_door_locked_is_answered(operator, front_door_exposed):
    assert state(operator, "lock.front_door") in ("locked", "unlocked")
    answer = say("is the front door locked")
    # A yes/no answer from HA's built-in agent (not an apology of the bridge, not "not understood").
    assert re.match(r"(Yes|No)\b", spoken(answer)), spoken(answer)
    assert answer["response"]["shouldEndSession"] is True


def test_a_dialog_keeps_one_conversation_across_turns(operator, kitchen_on):
    launch = lambda_handler(skill_event("LaunchRequest"), FakeContext())
    assert launch["response"]["shouldEndSession"] is False
    first = say("turn off the kitchen lights", new=False, attributes=launch["sessionAttributes"])
    conversation_id = first["sessionAttributes"]["conversation_id"]
    assert first["response"]["shouldEndSession"] is False  # in a dialog the skill keeps listening
    assert first["response"]["directives"][0]["type"] == "Dialog.ElicitSlot"
    second = say("turn on the kitchen lights", new=False, attributes=first["sessionAttributes"])
    assert spoken(second) == "Turned on the light"
    # HA continued the conversation it was given instead of starting a new one.
    assert second["sessionAttributes"]["conversation_id"] == conversation_id
    assert wait_for_state(operator, KITCHEN, "on") == "on"
    stop = lambda_handler(skill_event(intent="AMAZON.StopIntent", new=False, attributes=second["sessionAttributes"]),
                          FakeContext())
    assert stop["response"]["shouldEndSession"] is True


def test_what_the_agent_does_not_understand_is_its_own_answer(operator):
    answer = say("sing me a song about the moon")
    assert spoken(answer).startswith("Sorry, I")
    assert "Home Assistant" not in spoken(answer)  # HA's words, not the bridge's apology


def test_the_locale_picks_home_assistants_language(operator):
    answer = say("hallo", locale="de-DE")
    assert spoken(answer) == "Hallo vom Home Assistant."


def test_a_configured_agent_is_used(operator, bridge_env, kitchen_on):
    bridge_env(ASSIST_AGENT_ID="conversation.home_assistant", ASSIST_LANGUAGE="en")
    assert spoken(say("turn off the kitchen lights")) == "Turned off the light"
    bridge_env(ASSIST_AGENT_ID="conversation.no_such_agent")
    assert spoken(say("turn on the kitchen lights")) == "Sorry, something went wrong talking to Home Assistant."


def test_a_wrong_token_is_a_spoken_apology(ha, bridge_env):
    bridge_env(HA_URL=ha.url, HA_TOKEN="not-a-valid-token", ASSIST_ALLOW_OPERATOR_TOKEN="true")
    answer = say("turn off the kitchen lights")
    assert spoken(answer) == "Sorry, Home Assistant rejected the bridge&apos;s access token."
    linked = say("turn off the kitchen lights", access_token="expired-linked-token")
    assert linked["response"]["card"] == {"type": "LinkAccount"}


def test_a_stopped_home_assistant_is_a_spoken_apology(make_ha, bridge_env):
    own = make_ha(alexa=False)
    bridge_env(HA_URL=own.url, HA_TOKEN=own.token, ASSIST_ALLOW_OPERATOR_TOKEN="true")
    assert spoken(say("turn off the kitchen lights")) == "Turned off the light"
    own.stop()
    answer = say("turn on the kitchen lights")
    assert spoken(answer) == "Sorry, I can&apos;t reach Home Assistant right now."
    assert answer["response"]["shouldEndSession"] is True
    own.start()  # the connection the bridge kept is dead: it must open a new one
    assert spoken(say("turn on the kitchen lights")) == "Turned on the light"


def test_the_sample_events_run_in_the_lambda_runtime(operator, kitchen_on):
    """The events/ samples through the real runtime interface client: cold start, then warm invocations."""
    from devtools.local_invoke import invoke

    names = ["assist_launch", "assist_turn_off_kitchen_lights", "assist_follow_up", "assist_stop",
             "assist_session_ended"]
    events = [json.loads((ROOT / "events" / f"{name}.json").read_text()) for name in names]
    env = {"HA_URL": operator.url, "HA_TOKEN": operator.token, "ASSIST_ALLOW_OPERATOR_TOKEN": "true"}
    results = invoke(events, env=env, echo=False)
    assert [result.error for result in results] == [None] * len(events)
    launch, turn_off, follow_up, stop, ended = (result.response for result in results)
    assert launch["response"]["shouldEndSession"] is False
    assert spoken(turn_off) == "Turned off the light"
    assert spoken(follow_up) == "Turned on the light"
    assert follow_up["sessionAttributes"]["conversation_id"] == "01JSAMPLECONVERSATION0000000"
    assert spoken(stop) == "Goodbye."
    assert ended["response"] == {}
    names = {metric["name"] for result in results for metric in result.metrics}
    assert {"RequestLatency", "HomeAssistantLatency", "InitDuration"} <= names
    assert wait_for_state(operator, KITCHEN, "on") == "on"


def test_the_removed_agent_id_homeassistant_is_named_with_its_fix_in_the_answer_the_log_and_the_doctor(
        ha, bridge_env, caplog):
    """HA 2025.8 removed `homeassistant`, the built-in agent's old ID: 2026.x answers 400 "invalid agent ID". The
    user hears the setting and its fix, the log and the doctor's conversation check name them; 2025.4 still
    takes the old ID, so there the same setting just works."""
    bridge_env(HA_URL=ha.url, HA_TOKEN=ha.token, ASSIST_ALLOW_OPERATOR_TOKEN="true", ASSIST_AGENT_ID="homeassistant")
    from devtools.ha_install import version_at_least
    from fast_path import lambda_handler as handler

    answer = say("what time is it")
    conversation = {e["check"]: e for e in handler({"devices": {"action": "health"}}, FakeContext())["checks"]}[
        "conversation"]
    if not version_at_least(ha.version, "2025.8"):
        assert "conversation.home_assistant" not in spoken(answer) and conversation["status"] == "ok", conversation
        return
    assert "conversation.home_assistant" in spoken(answer) and "ASSIST_AGENT_ID" in spoken(answer)
    logged = [record for record in caplog.records if record.getMessage() == "assist failed"]
    assert logged and "conversation.home_assistant" in logged[-1].reason
    assert "Home Assistant 2025.8" in logged[-1].reason
    assert conversation["status"] == "warning"
    assert "set ASSIST_AGENT_ID=conversation.home_assistant" in conversation["fix"], conversation
