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
from ha_assist.phrases import LOCALES, PHRASES, ha_language
from ha_assist.request import ASSIST_INTENT, QUERY_SLOT, WHICH_DEVICE_INTENT
from ha_assist.response import elicit_query
from support import ROOT, FakeContext

PACKAGE = ROOT / "skill-package"
MODELS = sorted((PACKAGE / "interactionModels" / "custom").glob("*.json"))
EVENTS = sorted((ROOT / "events").glob("assist_*.json"))
REQUIRED_INTENTS = {"AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent",
                    "AMAZON.FallbackIntent"}


def manifest() -> dict:
    return json.loads((PACKAGE / "skill.json").read_text())["manifest"]


def language_model(path: Path) -> dict:
    return json.loads(path.read_text())["interactionModel"]


# Amazon's custom-skill languages ("Develop Skills in Multiple Languages", Alexa Skills Kit documentation); Home
# Assistant's Assist speaks every one of them (home-assistant-intents has ar, de, en, es, fr, hi, it, ja, nl, pt-BR).
AMAZON_LOCALES = {"ar-SA", "de-DE", "en-AU", "en-CA", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "es-US", "fr-CA",
                  "fr-FR", "hi-IN", "it-IT", "ja-JP", "nl-NL", "pt-BR"}
# Home Assistant's language codes (homeassistant/generated/languages.py, 2025.4 to 2026.11).
HA_LANGUAGES = {"ar", "de", "en", "en-GB", "es", "fr", "hi", "it", "ja", "nl", "pt-BR"}
# What a word of a sample or an invocation name is made of, per script: letters and the marks that go with them.
SCRIPTS = {"ar": r"[\u0621-\u064a\u064b-\u0652]", "hi": r"[\u0900-\u097f]", "ja": r"[\u3040-\u30ff\u4e00-\u9fff]"}
LATIN = r"[a-zà-ÿßœ]"
WAKE_WORDS = {"ar": "اليكسا، ", "ja": "アレクサ、"}


def test_every_locale_alexa_and_assist_share_has_a_model_a_listing_and_phrases():
    assert set(LOCALES) == AMAZON_LOCALES
    assert {path.stem for path in MODELS} == AMAZON_LOCALES
    assert set(manifest()["publishingInformation"]["locales"]) == AMAZON_LOCALES
    assert set(LOCALES.values()) <= HA_LANGUAGES
    for locale, language in LOCALES.items():
        assert language.split("-")[0] == locale.split("-")[0]
        assert set(PHRASES[language.split("-")[0]]) == set(PHRASES["en"]), locale


def test_home_assistant_hears_its_own_language_codes():
    assert {ha_language(locale) for locale in ("en-US", "en-AU", "en-CA", "en-IN")} == {"en"}
    assert ha_language("en-GB") == "en-GB"
    assert {ha_language(locale) for locale in ("es-ES", "es-MX", "es-US")} == {"es"}
    assert {ha_language(locale) for locale in ("fr-FR", "fr-CA")} == {"fr"}
    assert ha_language("pt-BR") == "pt-BR"
    assert ha_language("xx-YY") == "en"


def test_the_manifest_points_at_a_lambda_function():
    assert manifest()["apis"]["custom"]["endpoint"]["uri"].startswith("arn:aws:lambda:")


@pytest.mark.parametrize("locale", sorted(AMAZON_LOCALES))
def test_the_listing_speaks_the_locales_language(locale):
    listing = manifest()["publishingInformation"]["locales"][locale]
    language = locale.split("-")[0]
    invocation = language_model(PACKAGE / "interactionModels" / "custom" / f"{locale}.json")["languageModel"][
        "invocationName"]
    assert listing["name"] and listing["summary"] and listing["description"] and listing["keywords"]
    assert 1 <= len(listing["examplePhrases"]) <= 3
    for example in listing["examplePhrases"]:
        assert example.startswith(WAKE_WORDS.get(language, "Alexa, ")), example
        assert invocation in example, example
    english = manifest()["publishingInformation"]["locales"]["en-US"]
    assert language == "en" or (listing["summary"], listing["description"]) != (english["summary"],
                                                                                english["description"])


def _word(language: str, upper: bool = False) -> str:
    letters = SCRIPTS.get(language, LATIN)
    if upper and language not in SCRIPTS:
        letters = LATIN.replace("a-z", "A-Za-z").replace("à-ÿ", "À-ÿ")
    return rf"{letters}+(?:['.]{letters}*)*"


@pytest.mark.parametrize("path", MODELS, ids=lambda path: path.stem)
def test_interaction_model(path):
    model = language_model(path)
    language = path.stem.split("-")[0]
    invocation = model["languageModel"]["invocationName"]
    word = _word(language)
    # Alexa's rules: the locale's script, lower case, at least two words (Japanese writes none apart), no wake word
    # or launch word.
    assert re.fullmatch(rf"{word}" if language == "ja" else rf"{word}( {word})+", invocation), invocation
    assert not {"alexa", "amazon", "echo", "skill", "app"} & set(invocation.split())
    intents = {intent["name"]: intent for intent in model["languageModel"]["intents"]}
    assert REQUIRED_INTENTS | {WHICH_DEVICE_INTENT} <= set(intents)
    # Every intent of the model has a handler: none of them ends as "I can't do that here".
    assert set(intents) <= set(INTENTS)
    catch_all = intents[ASSIST_INTENT]
    slot = "{" + QUERY_SLOT + "}"
    assert catch_all["slots"] == [{"name": QUERY_SLOT, "type": "AMAZON.SearchQuery", "samples": [slot]}]
    samples = catch_all["samples"] + intents[WHICH_DEVICE_INTENT]["samples"]
    assert len(intents[WHICH_DEVICE_INTENT]["samples"]) >= 5
    assert len(samples) == len(set(sample.lower() for sample in samples))
    token = rf"(?:{_word(language, upper=True)}|\{{[A-Za-z_]+\}})"
    sample_shape = re.compile(rf"{token}+" if language == "ja" else rf"{token}(?: {token})*")
    for sample in catch_all["samples"]:
        assert sample_shape.fullmatch(sample), sample
        # Alexa rejects a phrase-slot sample without a carrier phrase; the slot alone is for elicitation only.
        assert sample.count(slot) == 1 and sample != slot, sample
        assert invocation not in sample, sample
    for sample in intents[WHICH_DEVICE_INTENT]["samples"]:
        assert sample_shape.fullmatch(sample) and "{" not in sample, sample
    prompts = {variation["value"] for prompt in model["prompts"] for variation in prompt["variations"]}
    english = language_model(PACKAGE / "interactionModels" / "custom" / "en-US.json")["prompts"]
    assert prompts and (language == "en" or not prompts & {v["value"] for v in english[0]["variations"]})


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
