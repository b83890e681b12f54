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


def registry(home) -> dict:
    return {e["entity_id"]: e for e in home.ws_command({"type": "config/entity_registry/list"})}


def picked(home) -> dict:
    """Entities of the demo to change, chosen by what they are rather than by name (the demo's names vary)."""
    everything, entries = offered(home), registry(home)
    lights = [e for e in everything if e.startswith("light.") and e in entries]
    others = [e for e in everything if e.split(".")[0] in ("lock", "number", "button", "valve")]
    with_device = [e for e in everything if entries.get(e, {}).get("device_id")]
    return {"lights": lights, "others": others, "device_entity": with_device[0]}


def test_assist_sends_exactly_what_home_assistant_lists_as_exposed_to_assist(own, bridge_env, alexa_schema):
    chosen = picked(own)
    expose(own, "conversation", True, *chosen["others"][:2])  # not exposed by default
    expose(own, "conversation", False, chosen["lights"][0])  # exposed by default
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="assist")
    everything, exposed = offered(own), listed(own, "conversation")
    got = sent(bridge(alexa_schema, own.token))
    assert got == [entity_id for entity_id in everything if entity_id in exposed]
    assert {*chosen["others"][:2], chosen["lights"][1]} <= set(got)
    assert chosen["lights"][0] not in got
    assert len(got) < len(everything)
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="all")
    assert sent(bridge(alexa_schema, own.token)) == everything


def test_cloud_follows_home_assistants_defaults_for_entities_without_a_setting(own, bridge_env, alexa_schema):
    entries, chosen = registry(own), picked(own)
    states = {s["entity_id"]: s for s in own.api("GET", "/api/states").body}
    everything = offered(own)
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="cloud")
    own.ws_command({"type": "homeassistant/expose_new_entities/set", "assistant": "cloud.alexa", "expose_new": False})
    explicit = {chosen["lights"][1], chosen["others"][0]}
    expose(own, "cloud.alexa", True, *explicit)
    assert sent(bridge(alexa_schema, own.token)) == [e for e in everything if e in explicit]

    own.ws_command({"type": "homeassistant/expose_new_entities/set", "assistant": "cloud.alexa", "expose_new": True})
    hidden = chosen["lights"][2]
    expose(own, "cloud.alexa", False, hidden)

    def by_default(entity_id):
        entry, domain = entries.get(entity_id), entity_id.split(".")[0]
        if entry is None or entry.get("hidden_by") or entry.get("entity_category"):
            return False  # without a registry entry, Home Assistant lists only exposed ones: not sent
        device_class = states[entity_id]["attributes"].get("device_class")
        return domain in DEFAULT_DOMAINS or device_class in DEFAULT_CLASSES.get(domain, ())

    now_listed = listed(own, "cloud.alexa")
    expected = [e for e in everything if e in now_listed or (e != hidden and by_default(e))]
    got = sent(bridge(alexa_schema, own.token))
    assert got == expected
    assert explicit | {chosen["lights"][3]} <= set(got)  # a light without a setting: exposed by default
    assert hidden not in got and chosen["others"][1] not in got  # its own False; not a default domain


def test_a_label_sends_the_entities_that_carry_it_and_those_of_devices_that_do(own, bridge_env, alexa_schema):
    label = own.ws_command({"type": "config/label_registry/create", "name": "Alexa"})["label_id"]
    entries, chosen = registry(own), picked(own)
    device = entries[chosen["device_entity"]]["device_id"]
    on_device = {entity_id for entity_id, entry in entries.items() if entry.get("device_id") == device}
    labelled = next(e for e in offered(own) if e in entries and e not in on_device)
    own.ws_command({"type": "config/entity_registry/update", "entity_id": labelled, "labels": [label]})
    own.ws_command({"type": "config/device_registry/update", "device_id": device, "labels": [label]})
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="label:alexa")
    got = sent(bridge(alexa_schema, own.token))
    assert got == [e for e in offered(own) if e == labelled or e in on_device]
    assert {labelled, chosen["device_entity"]} <= set(got)


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
    entity_id = picked(own)["lights"][0]
    own.ws_command({"type": "config/entity_registry/update", "entity_id": entity_id, "labels": [label]})
    bridge_env(HA_URL=own.url, ALEXA_EXPOSE="label:Voice")
    assert sent(bridge(alexa_schema, user_token)) == [entity_id]


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
    chosen = picked(own)
    shown, hidden = chosen["others"][0], chosen["lights"][0]
    expose(own, "conversation", True, shown)
    expose(own, "conversation", False, hidden)
    bridge_env(HA_URL=own.url, HA_TOKEN=own.token, ALEXA_EXPOSE="assist")
    listed_rows = lambda_handler({"devices": {"action": "list"}}, FakeContext(remaining_ms=10000))
    rows = {row["entity_id"]: row for row in listed_rows["entities"]}
    assert listed_rows["alexa"]["exposure"] == "assist"
    assert rows[shown]["alexa"] is True
    assert rows[hidden]["alexa"] is False
    assert rows[hidden]["alexa_note"].startswith("not exposed to Assist in Home Assistant's UI")
    exposed = listed(own, "conversation")
    assert {e for e, row in rows.items() if row["alexa"]} == exposed & set(offered(own))
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    alexa = next(check for check in report["checks"] if check["check"] == "alexa")
    assert alexa["status"] in ("ok", "warning"), alexa  # the demo has endpoints the bridge repairs
    count = len(exposed & set(offered(own)))
    assert f"ALEXA_EXPOSE=assist: {count} of {len(offered(own))} offered are exposed" in alexa["detail"]
