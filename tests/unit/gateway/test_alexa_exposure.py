"""ALEXA_EXPOSE against a scripted Home Assistant (REST Discovery and WebSocket): the ID mapping, each mode with
Home Assistant's rule for entities without a setting of their own, the filter before Alexa's 300, and failing
closed with an ErrorResponse (Alexa keeps its devices) whenever the owner's choice cannot be read."""

import json

import pytest

from fast_path import lambda_handler
from gateway.alexa_exposure import ExposureUnreadable, Mode, entity_id_of, mode
from support import TOKEN, FakeContext
from test_discovery_guard import endpoint
from test_ha_websocket import FakeHA, serve_home_assistant

OFFERED = ["light#kitchen", "switch#fan", "sensor#temperature", "sensor#power", "input_boolean#guest",
           "light#hidden", "light#legacy", "binary_sensor#door", "binary_sensor#moisture", "cover#config"]
ENTITIES = [
    {"entity_id": "light.kitchen", "device_id": "dev-kitchen", "labels": [], "options": {}},
    {"entity_id": "switch.fan", "device_id": None, "labels": ["alexa"],
     "options": {"conversation": {"should_expose": False}, "cloud.alexa": {"should_expose": False}}},
    {"entity_id": "sensor.temperature", "device_id": None, "labels": [], "options": {}},
    {"entity_id": "sensor.power", "device_id": None, "labels": [], "options": {}},
    {"entity_id": "input_boolean.guest", "device_id": "dev-kitchen", "labels": [], "options": {}},
    {"entity_id": "light.hidden", "device_id": None, "labels": [], "options": {}, "hidden_by": "user"},
    {"entity_id": "binary_sensor.door", "device_id": None, "labels": [], "options": {}},
    {"entity_id": "binary_sensor.moisture", "device_id": None, "labels": [], "options": {}},
    {"entity_id": "cover.config", "device_id": None, "labels": [], "options": {}, "entity_category": "config"},
]  # light.legacy has no unique ID: no registry entry
STATES = [{"entity_id": e.replace("#", "."), "state": "on", "attributes": {}} for e in OFFERED]
for state, device_class in zip(STATES[2:4], ("temperature", "power"), strict=True):
    state["attributes"]["device_class"] = device_class
STATES[7]["attributes"]["device_class"] = "door"
STATES[8]["attributes"]["device_class"] = "moisture"
DEVICES = [{"id": "dev-kitchen", "labels": ["alexa"]}]
LABELS = [{"label_id": "alexa", "name": "Alexa"}, {"label_id": "garden", "name": "Garden"}]


def answers(listed=None, expose_new=True, **changes):
    """WebSocket answers by command type; `listed`: what expose_entity/list says is exposed explicitly."""
    listed = {"light.kitchen": {"conversation": True}} if listed is None else listed
    return {"homeassistant/expose_entity/list": {"exposed_entities": listed},
            "homeassistant/expose_new_entities/get": {"expose_new": expose_new},
            "config/entity_registry/list": ENTITIES, "config/device_registry/list": DEVICES,
            "config/label_registry/list": LABELS, "get_states": STATES, **changes}


def discovery_answer(endpoint_ids):
    return {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3",
                                 "messageId": "m"},
                      "payload": {"endpoints": [endpoint(e, e) for e in endpoint_ids]}}}


@pytest.fixture
def discover(bridge_env):
    """discover(ALEXA_EXPOSE, ws_answers, offered=OFFERED, **fake) -> (the bridge's answer, the FakeHA)."""
    servers = []

    def run(setting, ws_answers=None, offered=OFFERED, remaining_ms=8000, **fake):
        rest = lambda method, path, body: (200, discovery_answer(offered))  # noqa: E731
        fake.setdefault("websocket", serve_home_assistant(answers() if ws_answers is None else ws_answers))
        ha = FakeHA(rest=rest, **fake)
        servers.append(ha)
        bridge_env(HA_URL=ha.url, ALEXA_EXPOSE=setting)
        header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "d"}
        event = {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}
        return lambda_handler(event, FakeContext(remaining_ms=remaining_ms)), ha

    yield run
    for ha in servers:
        ha.close()


def sent(answer) -> list[str]:
    assert answer["event"]["header"]["name"] == "Discover.Response", answer
    return [e["endpointId"] for e in answer["event"]["payload"]["endpoints"]]


def commands_sent(ha) -> list[str]:
    return [message["type"] for peer in ha.peers for message in peer.received if message["type"] != "auth"]


def websocket_connections(ha) -> int:
    return sum(request[0] == "WEBSOCKET" for request in ha.requests)


# ---- the setting and the ID mapping ----


@pytest.mark.parametrize(("value", "expected"), [
    ("all", Mode("all")), ("assist", Mode("assist")), (" Cloud ", Mode("cloud")),
    ("label:Alexa", Mode("label", "Alexa")),
    ("LABEL: Voice control ", Mode("label", "Voice control")), ("label", Mode("label", "Alexa")),
])  # fmt: skip
def test_the_setting_names_a_mode(value, expected):
    assert mode(value) == expected


@pytest.mark.parametrize("value", ["", "nabu", "label:", "label: ", "labels:alexa", "assist,cloud"])
def test_any_other_setting_is_refused_naming_what_is_allowed(value):
    with pytest.raises(ExposureUnreadable) as caught:
        mode(value)
    assert caught.value.reason == "setting" and "all, assist, cloud or label:<name>" in caught.value.message


@pytest.mark.parametrize(("endpoint_id", "entity_id"), [
    ("light#kitchen", "light.kitchen"), ("media_player#living_room_2", "media_player.living_room_2"),
    ("light#Kitchen", None), ("kitchen", None), ("light#kitchen#2", None), ("#kitchen", None), ("light#", None),
    ("light#_kitchen", None), (None, None), (42, None),
])  # fmt: skip
def test_an_endpoint_id_maps_to_the_entity_home_assistant_wrote_it_from(endpoint_id, entity_id):
    assert entity_id_of(endpoint_id) == entity_id


# ---- the modes ----


def test_all_is_the_default_and_opens_no_websocket(discover, alexa_schema):
    answer, ha = discover("all")
    assert not list(alexa_schema.iter_errors(answer))
    assert sent(answer) == OFFERED
    assert websocket_connections(ha) == 0


def test_assist_sends_the_listed_entities_and_follows_home_assistants_defaults_for_the_others(discover, alexa_schema):
    answer, ha = discover("assist")
    assert not list(alexa_schema.iter_errors(answer))
    # light: listed. switch: its own False. sensor: temperature is a default class, power is not. input_boolean:
    # not a default domain. hidden light, config cover: never by default. legacy light: no registry entry, not
    # listed. binary sensors: door is a default class, moisture is not.
    assert sent(answer) == ["light#kitchen", "sensor#temperature", "binary_sensor#door"]
    assert websocket_connections(ha) == 1
    assert commands_sent(ha) == ["homeassistant/expose_entity/list", "homeassistant/expose_new_entities/get",
                                 "config/entity_registry/list", "get_states"]
    assert ha.peers[0].received[2]["assistant"] == "conversation"


def test_the_commands_go_with_the_auth_message_and_their_results_are_matched_by_id(discover):
    """One round trip for authentication and the three commands: Home Assistant has all of them before it answers
    the auth message. Results in another order than the commands still reach the right one."""
    table = answers()

    def script(peer):
        peer.send({"type": "auth_required", "ha_version": "2025.4.4"})
        peer.recv()
        early = [peer.recv() for _ in range(3)]  # a client waiting for auth_ok would time out here
        peer.send({"type": "auth_ok", "ha_version": "2025.4.4"})
        for message in reversed(early):
            peer.send({"id": message["id"], "type": "result", "success": True, "result": table[message["type"]]})
        while (message := peer.recv()) is not None:  # get_states, once the results are read
            peer.send({"id": message["id"], "type": "result", "success": True, "result": table[message["type"]]})

    answer, ha = discover("assist", websocket=script, remaining_ms=2000)
    assert sent(answer) == ["light#kitchen", "sensor#temperature", "binary_sensor#door"]
    assert commands_sent(ha) == ["homeassistant/expose_entity/list", "homeassistant/expose_new_entities/get",
                                 "config/entity_registry/list", "get_states"]


def test_with_expose_new_off_only_the_entities_exposed_explicitly_are_sent_and_states_are_not_read(discover):
    answer, ha = discover("assist", answers(expose_new=False, listed={"light.kitchen": {"conversation": True},
                                                                       "light.legacy": {"conversation": True}}))
    assert sent(answer) == ["light#kitchen", "light#legacy"]
    assert "get_states" not in commands_sent(ha)


def test_cloud_reads_the_clouds_alexa_settings_not_assists(discover):
    listed = {"light.kitchen": {"conversation": True}, "switch.fan": {"cloud.alexa": True},
              "input_boolean.guest": {"cloud.alexa": True, "conversation": True}}
    answer, ha = discover("cloud", answers(listed=listed, expose_new=False))
    assert sent(answer) == ["switch#fan", "input_boolean#guest"]  # the list is what Home Assistant says
    assert ha.peers[0].received[2] == {"type": "homeassistant/expose_new_entities/get", "assistant": "cloud.alexa",
                                       "id": 2}


@pytest.mark.parametrize("setting", ["label:Alexa", "label:alexa", "label:ALEXA"])
def test_a_label_by_name_or_id_sends_the_entities_that_carry_it_or_whose_device_does(discover, setting):
    answer, ha = discover(setting)
    # switch.fan carries it; light.kitchen and input_boolean.guest are on the labelled device.
    assert sent(answer) == ["light#kitchen", "switch#fan", "input_boolean#guest"]
    assert commands_sent(ha) == ["config/label_registry/list", "config/entity_registry/list",
                                 "config/device_registry/list"]


def test_the_owners_choice_comes_before_alexas_300(discover):
    offered = [f"light#lamp_{i}" for i in range(320)] + [f"input_boolean#flag_{i}" for i in range(20)]
    listed = {e.replace("#", "."): {"conversation": True} for e in offered[300:]}
    answer, _ = discover("assist", answers(listed=listed, expose_new=False), offered=offered)
    assert sent(answer) == offered[300:]  # without the choice first, the 300 would be lamps the owner hid


def test_an_endpoint_that_names_no_entity_is_not_sent(discover):
    answer, _ = discover("assist", offered=["light#kitchen", "Scene-1"])
    assert sent(answer) == ["light#kitchen"]


def test_the_summary_line_says_the_mode_and_how_many_were_hidden(discover, output):
    discover("assist")
    line = next(json.loads(line) for line in output().splitlines() if "discovery answer changed" in line)
    assert line["exposure"] == "assist" and line["hidden"] == 7 and line["sent"] == 3


# ---- failing closed: an ErrorResponse, so Alexa keeps its devices, and a metric ----


def unauthorized(message, peer):
    return {"error": {"code": "unauthorized", "message": "Unauthorized"}}


FAILURES = {
    "not an administrator": ("assist", {"ws_answers": answers(**{"homeassistant/expose_entity/list": unauthorized})},
                             "INTERNAL_ERROR", "only an administrator may"),
    "an old Home Assistant": ("cloud", {"ws_answers": {}}, "INTERNAL_ERROR", "does not know"),
    "a proxy refusing the WebSocket": ("assist", {"upgrade_status": 403}, "INTERNAL_ERROR",
                                       "must pass WebSocket upgrades"),
    "no such label": ("label:Kitchen", {}, "INTERNAL_ERROR", "has no label 'Kitchen'"),
    "nothing exposed": ("cloud", {"ws_answers": answers(expose_new=False)}, "INTERNAL_ERROR",
                        "leaves none of the 10 endpoints"),
    "a bad setting": ("nabu-casa", {}, "INTERNAL_ERROR", "all, assist, cloud or label:<name>"),
    "a rejected token": ("assist", {"token": "other"}, "INTERNAL_ERROR", "rejected the token"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_an_unreadable_choice_answers_an_error_sends_nothing_and_is_counted(discover, alexa_schema, output, case):
    setting, fake, error_type, words = FAILURES[case]
    if "token" in fake:
        fake = {"websocket": serve_home_assistant(answers(), token=fake["token"])}
    answer, _ = discover(setting, **fake)
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["header"]["name"] == "ErrorResponse"  # never a Discover.Response: Alexa keeps its list
    assert answer["event"]["payload"]["type"] == error_type
    assert words in answer["event"]["payload"]["message"], answer["event"]["payload"]["message"]
    assert "Alexa keeps the devices it has" in answer["event"]["payload"]["message"]
    printed = output()
    assert TOKEN not in printed
    emf = [json.loads(line) for line in printed.splitlines() if line.startswith('{"_aws"')]
    assert any(line.get("DiscoveryExposureUnreadable") in (1.0, [1.0]) for line in emf), emf
    assert sum('"directive failed"' in line for line in printed.splitlines()) == 1


def test_a_websocket_closed_before_authentication_is_bridge_unreachable(discover, alexa_schema):
    answer, _ = discover("assist", websocket=lambda peer: None)  # REST answers; the WebSocket hangs up at once
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["type"] == "BRIDGE_UNREACHABLE"
    assert "WebSocket API is unreachable" in answer["event"]["payload"]["message"]


def test_a_websocket_that_never_answers_is_bounded_by_the_discoverys_deadline(discover, alexa_schema):
    def silent(message, peer):
        peer.recv()  # never answers: waits for the client to hang up
        return {}

    answer, _ = discover("assist", answers(**{"config/entity_registry/list": silent}), remaining_ms=1500)
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["type"] == "BRIDGE_UNREACHABLE"
    assert "no answer before the deadline" in answer["event"]["payload"]["message"]
