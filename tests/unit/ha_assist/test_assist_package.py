"""The custom skill's package, the sample events and the hot path agree with ha_assist."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fast_path import classify, lambda_handler
from ha_assist.handlers import INTENTS
from ha_assist.phrases import PHRASES
from ha_assist.request import ASSIST_INTENT, QUERY_SLOT
from ha_assist.response import elicit_query
from support import ROOT, FakeContext

PACKAGE = ROOT / "skill-package"
MODELS = sorted((PACKAGE / "interactionModels" / "custom").glob("*.json"))
EVENTS = sorted((ROOT / "events").glob("assist_*.json"))
REQUIRED_INTENTS = {"AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent",
                    "AMAZON.FallbackIntent"}
# What a sample utterance may contain: words (any script), apostrophes, periods of abbreviations, slots.
WORD = r"(?:[^\W\d_]+(?:['.][^\W\d_]*)*|\{[A-Za-z_]+\})"
SAMPLE = re.compile(rf"{WORD}(?: {WORD})*")


def manifest() -> dict:
    return json.loads((PACKAGE / "skill.json").read_text())["manifest"]


def language_model(path: Path) -> dict:
    return json.loads(path.read_text())["interactionModel"]


def test_every_locale_of_the_manifest_has_an_interaction_model():
    locales = set(manifest()["publishingInformation"]["locales"])
    assert "en-US" in locales
    assert {path.stem for path in MODELS} == locales


def test_the_manifest_points_at_a_lambda_function():
    assert manifest()["apis"]["custom"]["endpoint"]["uri"].startswith("arn:aws:lambda:")


@pytest.mark.parametrize("path", MODELS, ids=lambda path: path.stem)
def test_interaction_model(path):
    model = language_model(path)
    invocation = model["languageModel"]["invocationName"]
    # Alexa's rules: lower case letters and spaces, at least two words, no wake word or launch word.
    assert re.fullmatch(r"[a-zà-ÿß]+( [a-zà-ÿß]+)+", invocation)
    assert not {"alexa", "amazon", "echo", "skill", "app"} & set(invocation.split())
    intents = {intent["name"]: intent for intent in model["languageModel"]["intents"]}
    assert REQUIRED_INTENTS <= set(intents)
    # Every intent of the model has a handler: none of them ends as "I can't do that here".
    assert set(intents) <= set(INTENTS)
    catch_all = intents[ASSIST_INTENT]
    slot = "{" + QUERY_SLOT + "}"
    assert catch_all["slots"] == [{"name": QUERY_SLOT, "type": "AMAZON.SearchQuery", "samples": [slot]}]
    samples = catch_all["samples"]
    assert len(samples) == len(set(sample.lower() for sample in samples))
    for sample in samples:
        assert SAMPLE.fullmatch(sample), sample
        # Alexa rejects a phrase-slot sample without a carrier phrase; the slot alone is for elicitation only.
        assert sample.count(slot) == 1 and sample != slot, sample
        assert invocation not in sample, sample


@pytest.mark.parametrize("path", MODELS, ids=lambda path: path.stem)
def test_the_dialog_model_allows_the_slot_elicitation_the_bridge_sends(path):
    model = language_model(path)
    directive = elicit_query()
    dialog_intents = {intent["name"]: intent for intent in model["dialog"]["intents"]}
    dialog_slots = {slot["name"]: slot for slot in dialog_intents[directive["updatedIntent"]["name"]]["slots"]}
    slot = dialog_slots[directive["slotToElicit"]]
    prompt_ids = {prompt["id"] for prompt in model["prompts"]}
    assert slot["prompts"]["elicitation"] in prompt_ids
    assert set(directive["updatedIntent"]["slots"]) == set(dialog_slots)


@pytest.mark.parametrize("path", MODELS, ids=lambda path: path.stem)
def test_the_bridge_speaks_the_language_of_each_model(path):
    language = path.stem.split("-")[0]
    assert language in PHRASES
    assert set(PHRASES[language]) == set(PHRASES["en"])


@pytest.mark.parametrize("path", EVENTS, ids=lambda path: path.stem)
def test_sample_events_are_routed_to_assist_and_answered(path, bridge_env):
    event = json.loads(path.read_text())
    assert classify(event) == "custom_skill"
    answer = lambda_handler(event, FakeContext())  # no HA_URL: whatever needs HA answers with an apology
    assert answer["version"] == "1.0" and isinstance(answer["response"], dict)


def test_the_sample_events_cover_the_issue():
    requests = [json.loads(path.read_text())["request"] for path in EVENTS]
    kinds = {(request["type"], request.get("intent", {}).get("name")) for request in requests}
    assert {("LaunchRequest", None), ("IntentRequest", ASSIST_INTENT), ("IntentRequest", "AMAZON.StopIntent"),
            ("SessionEndedRequest", None)} <= kinds
    follow_ups = [path for path in EVENTS
                  if json.loads(path.read_text())["session"]["attributes"].get("conversation_id")]
    assert follow_ups


IMPORT_PROBE = """
import json, sys
import lambda_function
event = json.loads(sys.argv[1])
lambda_function.lambda_handler(event, None)
heavy = [name for name in ("boto3", "botocore", "requests", "websocket", "ha_assist") if name in sys.modules]
print(json.dumps(heavy))
"""


def _modules_after(event: dict) -> list:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HA_", "ASSIST_", "BRIDGE_"))}
    env["HA_URL"] = "http://127.0.0.1:9"  # nothing listens: the request fails fast, and that is fine here
    env["HA_TOKEN"] = "probe-token"
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE, json.dumps(event)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_smart_home_directive_never_imports_assist():
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m"}
    assert _modules_after({"directive": {"header": header, "payload": {}}}) == []


def test_an_assist_request_loads_assist_and_nothing_heavy():
    event = json.loads((ROOT / "events" / "assist_turn_off_kitchen_lights.json").read_text())
    assert _modules_after(event) == ["ha_assist"]
