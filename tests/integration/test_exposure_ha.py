"""ALEXA_EXPOSE against a real Home Assistant: exposure set through its own WebSocket commands
(`homeassistant/expose_entity`, `homeassistant/expose_new_entities/set`), labels through its label, entity and device
registries; every Discovery's endpoints are exactly the exposed ones, and an unreadable choice fails closed with a
valid ErrorResponse. Version-agnostic: what Home Assistant says is read from Home Assistant, never assumed."""

import pytest

from devtools.demo_ha import DemoHomeAssistant
from devtools.nginx import ReverseProxy
from fast_path import lambda_handler
from support import FakeContext
from test_refusals_ha import non_admin_token

# Home Assistant's defaults for an entity without a setting (exposed_entities.py), written out here rather than
# taken from the code under test.
DEFAULT_DOMAINS = {"climate", "cover", "fan", "humidifier", "light", "media_player", "scene", "switch", "todo",
                   "vacuum", "water_heater"}
DEFAULT_CLASSES = {"binary_sensor": {"door", "garage_door", "lock", "motion", "opening", "presence", "window"},
                   "sensor": {"aqi", "carbon_monoxide", "carbon_dioxide", "humidity", "pm10", "pm25", "temperature",
                              "volatile_organic_compounds"}}


@pytest.fixture(scope="module")
def own(ha_venv, tmp_path_factory):
    """A Home Assistant of this module's own: its exposure settings and labels are changed here."""
    home = DemoHomeAssistant(tmp_path_factory.mktemp("exposure"))
    try:
        home.start()
    except Exception as err:  # noqa: BLE001 - a Home Assistant that cannot start fails the test, never skips it
        pytest.fail(f"Home Assistant could not start: {err}", pytrace=False)
    yield home
    home.stop()


def discover(token: str) -> dict:
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "exposure"}
    return {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": token}}}}


def offered(home) -> list[str]:
    """The entities Home Assistant itself offers Alexa, in its order."""
    answer = home.api("POST", "/api/alexa/smart_home", discover(home.token)).body
    return [e["endpointId"].replace("#", ".", 1) for e in answer["event"]["payload"]["endpoints"]]


def bridge(alexa_schema, token: str) -> dict:
    answer = lambda_handler(discover(token), FakeContext())
    errors = sorted(alexa_schema.iter_errors(answer), key=str)
    assert not errors, errors[0].message[:300]
    return answer


def sent(answer) -> list[str]:
    assert answer["event"]["header"]["name"] == "Discover.Response", answer["event"]["payload"]
    return [e["endpointId"].replace("#", ".", 1) for e in answer["event"]["payload"]["endpoints"]]


def expose(home, assistant: str, should_expose: bool, *entity_ids: str) -> None:
    home.ws_command({"type": "homeassistant/expose_entity", "assistants": [assistant], "entity_ids": list(entity_ids),
                     "should_expose": should_expose})


def listed(home, assistant: str) -> set[str]:
    exposed = home.ws_command({"type": "homeassistant/expose_entity/list"})["exposed_entities"]
    return {entity_id for entity_id, assistants in exposed.items() if assistants.get(assistant)}


def test_assist_sends_exactly_what_home_assistant_lists_as_exposed_to_assist(own, bridge_env, alexa_schema):
    expose(own, "conversation", True, "lock.front_door", "number.volume")  # not exposed by default
    expose(own, "conversation", False, "light.bed_light", "media_player.walkman")  # exposed by default
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="assist")
    everything, exposed = offered(own), listed(own, "conversation")
    got = sent(bridge(alexa_schema, own.token))
    assert got == [entity_id for entity_id in everything if entity_id in exposed]
    assert {"lock.front_door", "number.volume", "light.kitchen_lights"} <= set(got)
    assert not {"light.bed_light", "media_player.walkman", "lock.kitchen_door"} & set(got)
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="all")
    assert sent(bridge(alexa_schema, own.token)) == everything


def test_cloud_follows_home_assistants_defaults_for_entities_without_a_setting(own, bridge_env, alexa_schema):
    registry = {e["entity_id"]: e for e in own.ws_command({"type": "config/entity_registry/list"})}
    states = {s["entity_id"]: s for s in own.api("GET", "/api/states").body}
    everything = offered(own)
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="cloud")
    own.ws_command({"type": "homeassistant/expose_new_entities/set", "assistant": "cloud.alexa", "expose_new": False})
    expose(own, "cloud.alexa", True, "switch.ac", "lock.front_door")
    assert sent(bridge(alexa_schema, own.token)) == [e for e in everything if e in {"switch.ac", "lock.front_door"}]

    own.ws_command({"type": "homeassistant/expose_new_entities/set", "assistant": "cloud.alexa", "expose_new": True})
    expose(own, "cloud.alexa", False, "light.kitchen_lights")

    def by_default(entity_id):
        entry, domain = registry.get(entity_id), entity_id.split(".")[0]
        if entry is None or entry.get("hidden_by") or entry.get("entity_category"):
            return False  # without a registry entry, Home Assistant lists only exposed ones: not sent
        device_class = states[entity_id]["attributes"].get("device_class")
        return domain in DEFAULT_DOMAINS or device_class in DEFAULT_CLASSES.get(domain, ())

    explicit = listed(own, "cloud.alexa")
    expected = [e for e in everything if e in explicit or (e != "light.kitchen_lights" and by_default(e))]
    got = sent(bridge(alexa_schema, own.token))
    assert got == expected
    assert {"switch.ac", "lock.front_door", "light.bed_light", "sensor.outside_temperature"} <= set(got)
    assert not {"light.kitchen_lights", "number.volume", "button.push", "lock.kitchen_door"} & set(got)


def test_a_label_sends_the_entities_that_carry_it_and_those_of_devices_that_do(own, bridge_env, alexa_schema):
    label = own.ws_command({"type": "config/label_registry/create", "name": "Alexa"})["label_id"]
    registry = {e["entity_id"]: e for e in own.ws_command({"type": "config/entity_registry/list"})}
    own.ws_command({"type": "config/entity_registry/update", "entity_id": "switch.decorative_lights",
                    "labels": [label]})
    device = registry["light.ceiling_lights"]["device_id"]
    own.ws_command({"type": "config/device_registry/update", "device_id": device, "labels": [label]})
    on_device = {entity_id for entity_id, entry in registry.items() if entry.get("device_id") == device}
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="label:alexa")
    got = sent(bridge(alexa_schema, own.token))
    assert got == [e for e in offered(own) if e == "switch.decorative_lights" or e in on_device]
    assert "light.ceiling_lights" in got and len(got) >= 2


def test_an_unknown_label_fails_closed(own, bridge_env, alexa_schema):
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="label:no such label")
    answer = bridge(alexa_schema, own.token)
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert "has no label 'no such label'" in answer["event"]["payload"]["message"]


def test_a_non_admin_token_fails_closed_for_the_expose_settings_but_reads_labels(own, bridge_env, alexa_schema):
    user_token = non_admin_token(own)
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="assist")
    answer = bridge(alexa_schema, user_token)
    assert answer["event"]["header"]["name"] == "ErrorResponse"  # never a Discover.Response: Alexa keeps its list
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert "only an administrator may" in answer["event"]["payload"]["message"]
    # Labels are the registries' to say, which any user may read.
    label = own.ws_command({"type": "config/label_registry/create", "name": "Voice"})["label_id"]
    own.ws_command({"type": "config/entity_registry/update", "entity_id": "switch.ac", "labels": [label]})
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="label:Voice")
    assert sent(bridge(alexa_schema, user_token)) == ["switch.ac"]


def test_a_proxy_that_does_not_pass_the_websocket_fails_closed(own, bridge_env, alexa_schema):
    try:
        proxy = ReverseProxy(own.port, websocket=False).start()
    except RuntimeError as err:  # never a skip: make test installs nginx
        pytest.fail(str(err), pytrace=False)
    try:
        bridge_env(HA_URL=proxy.url, ALEXA_EXPOSE="assist")
        answer = bridge(alexa_schema, own.token)
        assert answer["event"]["header"]["name"] == "ErrorResponse"
        assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
        assert "must pass WebSocket upgrades" in answer["event"]["payload"]["message"]
        bridge_env(HA_URL=proxy.url, ALEXA_EXPOSE="all")  # the REST Discovery itself passes the proxy
        assert sent(bridge(alexa_schema, own.token)) == offered(own)
    finally:
        proxy.stop()


def test_list_and_the_doctor_say_what_alexa_gets_by_the_ui_and_why_not(own, bridge_env):
    expose(own, "conversation", True, "lock.front_door")
    expose(own, "conversation", False, "light.bed_light")
    bridge_env(HA_URL=own.url, HA_TOKEN=own.token, ALEXA_EXPOSE="assist")
    listed_rows = lambda_handler({"devices": {"action": "list"}}, FakeContext(remaining_ms=10000))
    rows = {row["entity_id"]: row for row in listed_rows["entities"]}
    assert listed_rows["alexa"]["exposure"] == "assist"
    assert rows["lock.front_door"]["alexa"] is True
    assert rows["light.bed_light"]["alexa"] is False
    assert rows["light.bed_light"]["alexa_note"].startswith("not exposed to Assist in Home Assistant's UI")
    exposed = listed(own, "conversation")
    assert {e for e, row in rows.items() if row["alexa"]} == exposed & set(offered(own))
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    alexa = next(check for check in report["checks"] if check["check"] == "alexa")
    assert alexa["status"] in ("ok", "warning"), alexa  # the demo has endpoints the bridge repairs
    count = len(exposed & set(offered(own)))
    assert f"ALEXA_EXPOSE=assist: {count} of {len(offered(own))} offered are exposed" in alexa["detail"]
