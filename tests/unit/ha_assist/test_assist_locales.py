"""The bridge's own words in every locale of the skill, and what a locale it does not know gets."""

import re
import string

import pytest

from fast_path import lambda_handler
from ha_assist.phrases import LOCALES, PHRASES
from support import FakeContext

LANGUAGES = sorted(set(PHRASES) - {"en"})
# Phrases that are names, the same in every language.
NAMES = {"card_title"}
# What ends a sentence in each script: Latin, Japanese, Devanagari, Arabic.
SENTENCE_END = ".?!。?।؟"


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_phrase_is_written_in_its_language(language):
    for key, english in PHRASES["en"].items():
        text = PHRASES[language][key]
        assert text.strip() == text and text, (language, key)
        assert fields(text) == fields(english), (language, key)  # the same placeholders as English
        if key not in NAMES:
            assert text != english, (language, key)
        if key not in NAMES | {"device_card", "device_card_no_room"}:
            assert text[-1] in SENTENCE_END, (language, key)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_is_written_in_its_own_script(language):
    script = {"ja": r"[\u3040-\u30ff]", "hi": r"[\u0900-\u097f]", "ar": r"[\u0621-\u064a]"}.get(language)
    for key in ("greeting", "help", "unreachable"):
        if script:
            assert re.search(script, PHRASES[language][key]), (language, key)


def launch(locale) -> dict:
    event = {"version": "1.0", "session": {"new": True, "sessionId": "s", "attributes": {}},
             "context": {"System": {"user": {"userId": "u"}}},
             "request": {"type": "LaunchRequest", "requestId": "r", "locale": locale}}
    return lambda_handler(event, FakeContext())


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_each_locale_is_greeted_in_its_language(locale, bridge_env):
    language = LOCALES[locale].split("-")[0]
    speech = launch(locale)["response"]["outputSpeech"]["ssml"]
    assert speech == f"<speak>{PHRASES[language]['greeting']}</speak>".replace("'", "&apos;")


@pytest.mark.parametrize("locale", ["xx-YY", "de-AT", "en", "", "🙂" * 100])
def test_an_unknown_locale_is_answered_in_english_and_named_in_the_log(locale, bridge_env, output):
    speech = launch(locale)["response"]["outputSpeech"]["ssml"]
    assert speech == "<speak>Home Assistant here. What should I do?</speak>"
    log = output()
    if locale:  # an empty locale is no locale at all: the request's default, en-US
        assert '"message":"unknown locale: answering in English"' in log
        assert f'"locale":"{locale[:40]}"' in log
