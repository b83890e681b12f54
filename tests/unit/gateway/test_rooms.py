"""ASSIST_ROOMS: parsing, its two forms (JSON in the environment, an SSM parameter), and the device chosen per area."""

import json

import pytest

from fast_path import lambda_handler
from gateway import rooms
from gateway.rooms import RoomsError, choose_device, configured, parse, takes_device_id
from support import FakeContext

ECHO = "amzn1.ask.device.AHKITCHENECHO"
ROOMS = {ECHO: "kitchen", "amzn1.ask.device.AHOFFICE": "Office"}


def test_a_json_object_of_device_ids_to_areas_is_the_mapping():
    assert parse(json.dumps(ROOMS)) == ROOMS
    assert parse('{" amzn1.ask.device.X ": " Living room "}') == {"amzn1.ask.device.X": "Living room"}
    assert parse("{}") == {}


@pytest.mark.parametrize("text, fault", [
    ('{"amzn1.ask.device.SECRETISH": kitchen}', "is not valid JSON (line 1, column 32)"),
    ('["amzn1.ask.device.SECRETISH"]', "is a JSON list, not an object"),
    ('"amzn1.ask.device.SECRETISH"', "is a JSON str, not an object"),
    ('{"amzn1.ask.device.SECRETISH": ""}', "the area of entry 1 is not a non-empty string"),
    ('{"amzn1.ask.device.SECRETISH": ["kitchen"]}', "the area of entry 1 is not a non-empty string"),
    ('{"amzn1.ask.device.A": "x", " ": "kitchen"}', "entry 2 has an empty device ID"),
    ("[" * 100_000, "is not valid JSON"),
])
def test_a_malformed_mapping_is_refused_naming_the_setting_never_its_value(text, fault):
    with pytest.raises(RoomsError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith("ASSIST_ROOMS") and fault in message
    assert "SECRETISH" not in message and "kitchen" not in message


def test_the_environment_form_is_read_once_and_refused_when_malformed(bridge_env):
    assert configured() == {}
    bridge_env(ASSIST_ROOMS=json.dumps(ROOMS))
    assert configured() == ROOMS
    bridge_env(ASSIST_ROOMS="{kitchen")
    with pytest.raises(RoomsError, match="^ASSIST_ROOMS is not valid JSON"):
        configured()
    bridge_env(ASSIST_ROOMS="kitchen: amzn1.ask.device.X")
    with pytest.raises(RoomsError, match="neither a JSON object nor the name of an SSM parameter"):
        configured()


def test_the_ssm_form_is_read_from_the_parameter(bridge_env, ssm):
    ssm.put_parameter(Name="/bridge/assist-rooms", Value=json.dumps(ROOMS), Type="String")
    bridge_env(ASSIST_ROOMS="/bridge/assist-rooms")
    assert configured() == ROOMS
    ssm.put_parameter(Name="/bridge/broken-rooms", Value='{"amzn1.ask.device.SECRETISH": 3}', Type="String")
    bridge_env(ASSIST_ROOMS="/bridge/broken-rooms")
    with pytest.raises(RoomsError) as caught:
        configured()
    assert str(caught.value) == ("SSM parameter '/bridge/broken-rooms' (ASSIST_ROOMS): the area of entry 1 is not a "
                                 "non-empty string (an area ID or name)")
    bridge_env(ASSIST_ROOMS="/bridge/missing")
    with pytest.raises(RoomsError, match=r"cannot read SSM parameter '/bridge/missing': ParameterNotFound "
                                         r"\(ASSIST_ROOMS\)"):
        configured()


@pytest.mark.parametrize("version, takes", [
    ("2025.4.4", False), ("2026.3.4", False), ("2026.4.0b0", True), ("2026.4.0", True), ("2026.11.0", True),
    ("2027.1.0", True), ("", False), ("dev", False),
])
def test_only_a_home_assistant_that_takes_a_device_id_gets_one(version, takes):
    assert takes_device_id(version) is takes


AREAS = [{"area_id": "kitchen", "name": "Kitchen"}, {"area_id": "living_room", "name": "Living Room"}]
DEVICES = [
    {"id": "d-satellite", "area_id": "kitchen"},  # a voice satellite: it would take the conversation's timers
    {"id": "d-speaker", "area_id": "kitchen"},  # a media player
    {"id": "d-disabled", "area_id": "kitchen", "disabled_by": "user"},
    {"id": "d-lamp", "area_id": "kitchen"},
    {"id": "d-couch", "area_id": "living_room"},
    {"id": "d-nowhere", "area_id": None},
]
ENTITIES = {"entities": [{"ei": "assist_satellite.kitchen", "di": "d-satellite"},
                         {"ei": "media_player.kitchen", "di": "d-speaker"},
                         {"ei": "light.lamp", "di": "d-lamp"}, {"ei": "sensor.couch", "di": "d-couch"}]}


def test_the_device_is_one_of_the_areas_own_never_a_satellite_or_a_media_player():
    assert choose_device("kitchen", AREAS, DEVICES, ENTITIES) == ("d-lamp", "kitchen", "")
    # An area named instead of its ID, in any case.
    assert choose_device("living room", AREAS, DEVICES, ENTITIES) == ("d-couch", "living_room", "")


def test_an_area_without_a_usable_device_or_missing_says_why():
    only_satellite = [DEVICES[0], DEVICES[1]]
    device, area_id, reason = choose_device("Kitchen", AREAS, only_satellite, ENTITIES)
    assert (device, area_id) == (None, "kitchen")
    assert "has no device the bridge can name" in reason and "voice satellites and media players" in reason
    device, area_id, reason = choose_device("garage", AREAS, DEVICES, ENTITIES)
    assert (device, area_id) == (None, "")
    assert reason == "Home Assistant has no area 'garage' (neither an area ID nor an area name)"


def skill_request(intent, device_id=ECHO, locale="en-US"):
    system = {"application": {"applicationId": "amzn1.ask.skill.test"}, "user": {"userId": "amzn1.ask.account.U"}}
    if device_id:
        system["device"] = {"deviceId": device_id, "supportedInterfaces": {}}
    return {"version": "1.0",
            "session": {"new": True, "sessionId": "s", "attributes": {}, "user": system["user"]},
            "context": {"System": system},
            "request": {"type": "IntentRequest", "requestId": "r", "locale": locale,
                        "intent": {"name": intent, "confirmationStatus": "NONE"}}}


def test_which_device_is_this_sends_the_id_and_the_room_on_a_card(bridge_env):
    bridge_env(ASSIST_ROOMS=json.dumps(ROOMS))
    answer = lambda_handler(skill_request("WhichDeviceIntent"), FakeContext())
    assert answer["response"]["card"] == {"type": "Simple", "title": "Home Assistant",
                                          "content": f"Device ID: {ECHO}\nRoom: kitchen"}
    assert answer["response"]["outputSpeech"]["ssml"] == (
        "<speak>I&apos;ve put this device&apos;s ID on a card in the Alexa app. Its room is kitchen.</speak>")
    assert answer["response"]["shouldEndSession"] is True


def test_which_device_is_this_for_an_unmapped_echo_says_how_to_map_it(bridge_env):
    answer = lambda_handler(skill_request("WhichDeviceIntent", device_id="amzn1.ask.device.NEW", locale="de-DE"),
                            FakeContext())
    assert answer["response"]["card"]["content"] == ("Geräte-ID: amzn1.ask.device.NEW\nBereich: noch keiner (trag "
                                                     "die Geräte-ID in ASSIST_ROOMS ein)")
    assert "noch keinem Bereich zugeordnet" in answer["response"]["outputSpeech"]["ssml"]


def test_which_device_is_this_with_a_malformed_mapping_still_gives_the_id(bridge_env):
    bridge_env(ASSIST_ROOMS="{not json")
    answer = lambda_handler(skill_request("WhichDeviceIntent"), FakeContext())
    assert ECHO in answer["response"]["card"]["content"]


def test_which_device_is_this_without_a_device_id_says_so(bridge_env):
    answer = lambda_handler(skill_request("WhichDeviceIntent", device_id=None), FakeContext())
    assert "card" not in answer["response"]
    assert answer["response"]["outputSpeech"]["ssml"] == (
        "<speak>Sorry, Alexa didn&apos;t tell me which device this is.</speak>")


def test_a_mapped_echo_whose_lookup_failed_is_not_looked_up_on_every_utterance(bridge_env, fake_ha):
    """Home Assistant unreachable: the lookup's failure is cached for RETRY_AFTER_S, the utterance still goes."""
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN="t", ASSIST_ALLOW_OPERATOR_TOKEN="true",
               ASSIST_ROOMS=json.dumps(ROOMS))
    first = rooms.room(ECHO, "t", rooms.time.monotonic() + 6)
    assert first.device_id is None and "could not be read" in first.reason
    assert rooms.room(ECHO, "t", rooms.time.monotonic() + 6) is first
    assert rooms.room("amzn1.ask.device.UNMAPPED", "t", rooms.time.monotonic() + 6) is None
