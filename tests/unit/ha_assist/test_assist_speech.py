"""ha_assist.speech: whatever an agent answers, Alexa gets valid SSML within its limit."""

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from ha_assist.speech import MAX_SSML_CHARS, clean, from_ssml, ssml, truncate


def test_markdown_of_llm_answers_is_not_read_out():
    answer = "## Lights\n\n- **Kitchen**: on\n- *Bedroom*: off\n\nSee [the docs](https://example.com) or `light.x`."
    assert clean(answer) == "Lights Kitchen: on Bedroom: off See the docs or light.x."


def test_control_characters_are_dropped_and_whitespace_collapsed():
    assert clean("on\x00\x07 and\n\n\toff\x1b ") == "on and off"


def test_what_is_not_text_is_silence():
    assert clean(None) == ""
    assert ssml(None) == "<speak></speak>"


def test_xml_specials_are_escaped():
    assert ssml("Tom & Jerry <3 \"quotes\" it's") == (
        "<speak>Tom &amp; Jerry &lt;3 &quot;quotes&quot; it&apos;s</speak>"
    )


def test_long_answers_are_cut_at_a_sentence_end():
    text = "The kitchen light is on. " * 400
    spoken = ssml(text)
    assert len(spoken) <= MAX_SSML_CHARS
    assert spoken.endswith("is on.</speak>")


def test_without_a_sentence_end_the_cut_falls_between_words():
    assert truncate("alpha beta gamma delta", 13) == "alpha beta…"


def test_escaping_is_counted_against_the_limit():
    spoken = ssml("&" * 5000)
    assert len(spoken) <= MAX_SSML_CHARS
    assert spoken.count("&amp;") > 1000


def test_ssml_from_an_agent_keeps_its_words_only():
    assert clean(from_ssml("<speak>It is <say-as interpret-as='digits'>12</say-as> &amp; dry</speak>")) == (
        "It is 12 & dry"
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12000), st.integers(min_value=20, max_value=MAX_SSML_CHARS))
def test_any_text_becomes_well_formed_ssml_within_the_limit(text, limit):
    spoken = ssml(text, limit)
    assert len(spoken) <= limit
    root = ET.fromstring(spoken)  # well-formed XML: Alexa would reject the whole answer otherwise
    assert root.tag == "speak"
    assert len(root) == 0  # no element of the agent's text survives as markup
