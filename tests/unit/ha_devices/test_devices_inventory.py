"""The list, state and call actions against a scripted Home Assistant (REST and WebSocket)."""

import json
import time

import pytest

from ha_devices import handle
from support import TOKEN, FakeContext
from test_ha_websocket import FakeHA, serve_home_assistant


def endpoint(endpoint_id: str) -> dict:
    """A Discovery endpoint that keeps to Alexa's rules (the bridge drops those that don't)."""
    return {"endpointId": endpoint_id, "friendlyName": endpoint_id, "description": "d", "manufacturerName": "m",
            "displayCategories": ["OTHER"], "capabilities": [{"type": "AlexaInterface", "interface": "Alexa",
                                                              "version": "3"}]}


AREAS = [{"area_id": "kitchen", "name": "Kitchen"}, {"area_id": "living_room", "name": "Living Room"}]
DEVICES = [
    {"id": "dev-lamp", "name": "Lamp 3000", "name_by_user": "Reading lamp", "area_id": "living_room"},
    {"id": "dev-fan", "name": "Ceiling fan", "name_by_user": None, "area_id": "living_room"},
]
ENTITIES = [
    # Its own area wins over its device's.
    {"entity_id": "light.lamp", "device_id": "dev-lamp", "area_id": "kitchen", "name": None, "original_name": "Lamp"},
    # No area of its own: the device's.
    {"entity_id": "fan.ceiling", "device_id": "dev-fan", "area_id": None},
    {"entity_id": "sensor.fan_power", "device_id": "dev-fan", "area_id": None, "entity_category": "diagnostic"},
    {"entity_id": "switch.hidden", "device_id": None, "area_id": None, "hidden_by": "user"},
    {"entity_id": "light.disabled", "device_id": None, "area_id": "kitchen", "disabled_by": "user",
     "original_name": "Old lamp"},
]
STATES = [
    {"entity_id": "light.lamp", "state": "on", "attributes": {"friendly_name": "Reading Lamp"}},
    {"entity_id": "fan.ceiling", "state": "off", "attributes": {"friendly_name": "Ceiling Fan"}},
    {"entity_id": "sensor.fan_power", "state": "12", "attributes": {"friendly_name": "Fan power"}},
    {"entity_id": "switch.hidden", "state": "off", "attributes": {}},
    # Not in the entity registry (no unique id), as some demo entities are.
    {"entity_id": "sun.sun", "state": "above_horizon", "attributes": {"friendly_name": "Sun"}},
]
DISCOVERY = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response"},
                       "payload": {"endpoints": [endpoint("light#lamp"), endpoint("fan#ceiling")]}}}
REGISTRY_ANSWERS = {"get_states": STATES, "config/entity_registry/list": ENTITIES,
                    "config/device_registry/list": DEVICES, "config/area_registry/list": AREAS}


def registries_in_reverse(peer):
    """Read all four commands first, then answer them last to first: results must be matched by id."""
    peer.send({"type": "auth_required"})
    peer.recv()
    peer.send({"type": "auth_ok", "ha_version": "2025.4.4"})
    commands = [peer.recv() for _ in REGISTRY_ANSWERS]
    peer.send({"id": commands[0]["id"], "type": "event", "event": {"unrelated": True}})
    for command in reversed(commands):
        peer.send({"id": command["id"], "type": "result", "success": True,
                   "result": REGISTRY_ANSWERS[command["type"]]})
    peer.recv()


def rest_with(**answers):
    def rest(method, path, body):
        return answers.get(f"{method} {path}", (404, {"message": "Not found"}))

    return rest


@pytest.fixture
def servers():
    started = []

    def start(**kwargs):
        started.append(FakeHA(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture
def listing(servers, bridge_env):
    def start(discovery=(200, DISCOVERY)):
        ha = servers(rest=rest_with(**{"POST /api/alexa/smart_home": discovery}), websocket=registries_in_reverse)
        bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
        return ha

    return start


def devices(**request):
    return handle({"devices": request}, FakeContext(remaining_ms=10000))


def test_list_joins_states_registries_areas_and_what_alexa_discovers(listing):
    ha = listing()
    answer = devices(action="list")
    rows = {row["entity_id"]: row for row in answer["entities"]}
    assert answer["count"] == len(rows) == 6
    assert list(rows) == sorted(rows)
    assert rows["light.lamp"] == {"entity_id": "light.lamp", "name": "Reading Lamp", "domain": "light",
                                  "state": "on", "device": "Reading lamp", "area": "Kitchen", "alexa": True,
                                  "alexa_name": "light#lamp"}  # the Discovery's friendlyName (the stand-in's)
    assert (rows["fan.ceiling"]["device"], rows["fan.ceiling"]["area"], rows["fan.ceiling"]["alexa"]) == (
        "Ceiling fan", "Living Room", True)
    assert rows["sun.sun"]["device"] is None and rows["sun.sun"]["area"] is None
    assert rows["light.disabled"]["state"] is None and rows["light.disabled"]["name"] == "Old lamp"
    assert answer["alexa"] == {"configured": True, "exposure": "all", "endpoints": 2}
    # Each entity Alexa does not get says why, as far as the registries tell.
    assert "disabled" in rows["light.disabled"]["alexa_note"]
    assert "hidden" in rows["switch.hidden"]["alexa_note"]
    assert "diagnostic" in rows["sensor.fan_power"]["alexa_note"]
    assert "filter" in rows["sun.sun"]["alexa_note"]
    assert "alexa_note" not in rows["light.lamp"]
    # All four registry commands went out on one connection before any result came back.
    assert [m.get("type") for m in ha.peers[0].received[1:5]] == list(REGISTRY_ANSWERS)
    discovery = json.loads(next(r[3] for r in ha.requests if r[1] == "/api/alexa/smart_home"))
    assert discovery["directive"]["payload"]["scope"]["token"] == TOKEN


@pytest.mark.parametrize(
    "request_fields, expected",
    [
        ({"domain": "light"}, ["light.disabled", "light.lamp"]),
        ({"area": "living room"}, ["fan.ceiling", "sensor.fan_power"]),
        ({"area": "kitchen"}, ["light.disabled", "light.lamp"]),
        ({"area": "Kitchen", "domain": "fan"}, []),
        ({"domain": "climate"}, []),
    ],
)
def test_list_filters_by_domain_and_by_area_id_or_name(listing, request_fields, expected):
    listing()
    answer = devices(action="list", **request_fields)
    assert [row["entity_id"] for row in answer["entities"]] == expected


def test_list_of_an_unknown_area_names_the_areas_there_are(listing):
    listing()
    answer = devices(action="list", area="attic")
    assert answer["error"]["type"] == "NOT_FOUND"
    assert "Kitchen, Living Room" in answer["error"]["message"]


def test_list_without_the_alexa_endpoint_still_lists_and_says_why_alexa_is_unknown(listing):
    listing(discovery=(404, b"404: Not Found"))
    answer = devices(action="list")
    assert answer["count"] == 6
    assert {row["alexa"] for row in answer["entities"]} == {None}
    assert answer["alexa"]["configured"] is False
    assert "alexa: smart_home:" in answer["alexa"]["note"]


def test_list_when_the_websocket_rejects_the_token(servers, bridge_env):
    ha = servers(websocket=serve_home_assistant({}, token="another"))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="list")
    assert answer["error"]["type"] == "INVALID_AUTHORIZATION"
    assert "WebSocket API" in answer["error"]["message"]
    assert TOKEN not in json.dumps(answer)


def test_list_when_a_registry_command_fails(servers, bridge_env):
    answers = dict(REGISTRY_ANSWERS)
    answers["config/device_registry/list"] = {"error": {"code": "unauthorized", "message": "Unauthorized"}}
    ha = servers(websocket=serve_home_assistant(answers))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="list")
    assert answer["error"]["type"] == "HA_ERROR"
    assert "unauthorized" in answer["error"]["message"]


def test_list_when_the_proxy_refuses_websockets(servers, bridge_env):
    ha = servers(upgrade_status=502)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="list")
    assert answer["error"]["type"] == "HA_ERROR"
    assert "HTTP 502" in answer["error"]["message"]


def test_list_from_a_banned_address_names_the_ban(servers, bridge_env):
    """Home Assistant's ban refuses the WebSocket upgrade with the same bare 403 as a REST request."""
    ha = servers(upgrade_status=403, upgrade_body=b"403: Forbidden")
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="list")
    assert answer["error"]["type"] == "INVALID_AUTHORIZATION"
    assert "banned this address" in answer["error"]["message"] and "ip_bans.yaml" in answer["error"]["message"]


def test_state_returns_the_entitys_state_without_its_context(servers, bridge_env):
    state = {"entity_id": "light.lamp", "state": "on", "attributes": {"brightness": 200},
             "last_changed": "t1", "last_updated": "t2", "context": {"user_id": "someone"}}
    ha = servers(rest=rest_with(**{"GET /api/states/light.lamp": (200, state)}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="state", entity_id="light.lamp")
    assert answer == {key: value for key, value in state.items() if key != "context"}
    assert ha.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"


def test_state_of_an_unknown_entity_is_not_found(servers, bridge_env):
    ha = servers(rest=rest_with())
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    assert devices(action="state", entity_id="light.nope")["error"] == {
        "type": "NOT_FOUND", "message": "Home Assistant has no entity light.nope"}


@pytest.mark.parametrize("entity_id", ["light", "Light.Kitchen", "light.kitchen/../../api", "light._x", ""])
def test_state_of_a_malformed_entity_id_is_refused_before_asking(servers, bridge_env, entity_id):
    ha = servers(rest=rest_with())
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="state", entity_id=entity_id)
    assert answer["error"]["type"] == "INVALID_INPUT"
    assert ha.requests == []


def test_call_posts_the_data_and_returns_the_changed_states(servers, bridge_env):
    changed = [{"entity_id": "light.lamp", "state": "off", "attributes": {}, "context": {}}]
    ha = servers(rest=rest_with(**{"POST /api/services/light/turn_off": (200, changed)}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="call", domain="light", service="turn_off", data={"entity_id": "light.lamp"})
    assert answer == {"called": "light.turn_off", "changed": [{"entity_id": "light.lamp", "state": "off",
                                                               "attributes": {}}]}
    assert json.loads(ha.requests[0][3]) == {"entity_id": "light.lamp"}


def test_call_with_return_response_returns_the_services_answer(servers, bridge_env):
    answer_body = {"changed_states": [], "service_response": {"weather.home": {"forecast": []}}}
    ha = servers(rest=rest_with(**{"POST /api/services/weather/get_forecasts?return_response": (200, answer_body)}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="call", domain="weather", service="get_forecasts", return_response=True,
                     data={"entity_id": "weather.home", "type": "daily"})
    assert answer == {"called": "weather.get_forecasts", "changed": [],
                      "response": {"weather.home": {"forecast": []}}}


SERVICES = [
    {"domain": "light", "services": {
        "turn_on": {"fields": {"brightness_pct": {}, "advanced_fields": {"fields": {"flash": {}}}}},
        "turn_off": {"fields": {}}}},
    {"domain": "weather", "services": {"get_forecasts": {"fields": {"type": {}}, "response": {"optional": False}}}},
]


@pytest.mark.parametrize(
    "domain, service, error_type, words",
    [
        ("lights", "turn_on", "NOT_FOUND", "no service domain lights"),
        ("light", "turn_up", "NOT_FOUND", "light has: turn_off, turn_on"),
        ("light", "turn_on", "INVALID_INPUT", "its fields: brightness_pct, flash"),
        ("weather", "get_forecasts", "INVALID_INPUT", '"return_response": true'),
    ],
)
def test_a_refused_call_is_explained_from_the_service_list(servers, bridge_env, domain, service, error_type, words):
    def rest(method, path, body):
        if path == "/api/services":
            return 200, SERVICES
        return 400, b"400: Bad Request", "text/plain"

    ha = servers(rest=rest)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="call", domain=domain, service=service, data={"brightness": "x"})
    assert answer["error"]["type"] == error_type
    assert words in answer["error"]["message"]


# Home Assistant 2025.4.4's own 400 answers (APIDomainServicesView.json_message) for return_response.
NO_RESPONSES = {"message": "Service does not support responses. Remove return_response from request."}
NEEDS_RESPONSES = {"message": "Service call requires responses but caller did not ask for responses. Add"
                              " ?return_response to query parameters."}


@pytest.mark.parametrize("service, return_response, body, words", [
    ("turn_on", True, NO_RESPONSES, ('Home Assistant refused light.turn_on (HTTP 400): Service does not support'
                                     ' responses. Remove return_response from request.; in the operator event:'
                                     ' "return_response": false')),
    ("get_forecasts", False, NEEDS_RESPONSES, 'in the operator event: "return_response": true'),
])
def test_home_assistants_own_reason_for_a_400_is_passed_on(servers, bridge_env, service, return_response, body,
                                                          words):
    domain = "light" if service == "turn_on" else "weather"

    def rest(method, path, _body):
        return (200, SERVICES) if path == "/api/services" else (400, body)

    ha = servers(rest=rest)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="call", domain=domain, service=service, return_response=return_response)
    assert answer["error"]["type"] == "INVALID_INPUT"
    assert words in answer["error"]["message"]
    assert "check the field names" not in answer["error"]["message"]


def test_home_assistants_reason_is_bounded_and_never_carries_the_token(servers, bridge_env):
    ha = servers(rest=lambda method, path, body: (400, {"message": f"bad {TOKEN} " + "x" * 5000}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    message = devices(action="call", domain="light", service="turn_on")["error"]["message"]
    assert TOKEN not in message and "bad [redacted] xxx" in message
    assert len(message) < 400


def test_a_service_that_fails_in_home_assistant_is_an_ha_error(servers, bridge_env):
    ha = servers(rest=lambda method, path, body: (500, b"500 Internal Server Error", "text/plain"))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="call", domain="light", service="turn_on")
    assert answer["error"]["type"] == "HA_ERROR"
    assert "HTTP 500" in answer["error"]["message"]


def test_home_assistants_reason_for_a_500_is_passed_on_redacted(servers, bridge_env):
    """HA 2026.10+ answers a HomeAssistantError with 500 and its message: passed on, through gateway.redact."""
    ha = servers(rest=lambda method, path, body: (500, {"message": f"Cannot reach the lamp with {TOKEN}"}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    message = devices(action="call", domain="light", service="turn_on")["error"]["message"]
    assert message == ("Home Assistant answered HTTP 500 to light.turn_on: the service failed: Cannot reach the"
                       " lamp with [redacted]")


@pytest.mark.parametrize("field, value", [("domain", "Light"), ("service", "turn on"), ("domain", "../api")])
def test_call_refuses_names_home_assistant_would_not_have(servers, bridge_env, field, value):
    ha = servers(rest=rest_with())
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    request = {"domain": "light", "service": "turn_on", field: value}
    assert devices(action="call", **request)["error"]["type"] == "INVALID_INPUT"
    assert ha.requests == []


def test_a_rejected_token_is_an_authorization_error(servers, bridge_env):
    ha = servers(rest=lambda method, path, body: (401, b"401: Unauthorized", "text/plain"))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="state", entity_id="light.lamp")
    assert answer["error"]["type"] == "INVALID_AUTHORIZATION"
    assert "long-lived access token" in answer["error"]["message"]


HA_401 = (401, b"401: Unauthorized", "text/plain; charset=utf-8")  # Home Assistant's own, for both causes
HA_BAN_403 = (403, b"403: Forbidden", "text/plain; charset=utf-8")  # its answer to an address it has banned


def test_a_call_refused_to_a_user_who_is_not_an_administrator_says_so(servers, bridge_env):
    """HA answers a valid token whose user is not an admin with the same 401 as a bad token (require_admin)."""
    ha = servers(rest=rest_with(**{"GET /api/": (200, {"message": "API running."}),
                                   "POST /api/services/homeassistant/restart": HA_401}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="call", domain="homeassistant", service="restart")
    assert answer["error"]["type"] == "INVALID_AUTHORIZATION"
    message = answer["error"]["message"]
    assert "accepts the token" in message and "not an administrator" in message
    assert "POST /api/services/homeassistant/restart" in message
    assert "long-lived access token" not in message


@pytest.mark.parametrize("request_fields", [{"action": "state", "entity_id": "light.lamp"},
                                            {"action": "call", "domain": "light", "service": "turn_on"}])
def test_a_token_rejected_everywhere_is_still_a_rejected_token(servers, bridge_env, request_fields):
    ha = servers(rest=lambda method, path, body: HA_401)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    message = devices(**request_fields)["error"]["message"]
    assert "rejected the token (HTTP 401)" in message and "administrator" not in message


def test_a_banned_address_is_named_instead_of_the_token(servers, bridge_env):
    ha = servers(rest=lambda method, path, body: HA_BAN_403)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = devices(action="state", entity_id="light.lamp")
    assert answer["error"]["type"] == "INVALID_AUTHORIZATION"
    assert "banned this address" in answer["error"]["message"] and "ip_bans.yaml" in answer["error"]["message"]
    assert "long-lived" not in answer["error"]["message"]


def test_an_unreachable_home_assistant_is_named(bridge_env):
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN=TOKEN)
    for request in ({"action": "state", "entity_id": "light.lamp"}, {"action": "list"}):
        answer = handle({"devices": request}, FakeContext())
        assert answer["error"]["type"] == "HA_UNREACHABLE", request


@pytest.mark.parametrize("env, words", [({}, "HA_URL"), ({"HA_URL": "http://127.0.0.1:9"}, "HA_TOKEN")])
def test_missing_configuration_is_a_configuration_error(bridge_env, env, words):
    bridge_env(**env)
    for request in ({"action": "state", "entity_id": "light.lamp"}, {"action": "list"},
                    {"action": "call", "domain": "light", "service": "turn_on"}):
        answer = handle({"devices": request}, FakeContext())
        assert answer["error"]["type"] == "CONFIGURATION_ERROR"
        assert words in answer["error"]["message"]


def test_unusable_extra_headers_are_a_configuration_error_that_hides_the_value(servers, bridge_env):
    from gateway import secrets

    ha = servers(rest=rest_with(), websocket=registries_in_reverse)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    secrets._cache["/bridge/headers"] = (time.monotonic(), "not json s3cret-value")
    for request in ({"action": "list"}, {"action": "state", "entity_id": "light.lamp"}):
        answer = devices(**request)
        assert answer["error"]["type"] == "CONFIGURATION_ERROR", request
        assert "HA_HEADERS_PARAMETER" in answer["error"]["message"]
        assert "s3cret" not in json.dumps(answer)
    assert ha.requests == []


def test_a_malformed_ha_url_is_not_repeated_as_it_may_hold_a_password(bridge_env):
    bridge_env(HA_URL="ftp://user:pa55word@ha.example.com", HA_TOKEN=TOKEN)
    answer = devices(action="state", entity_id="light.lamp")
    assert answer["error"]["type"] == "CONFIGURATION_ERROR"
    assert "HA_URL must be an http:// or https:// URL" in answer["error"]["message"]
    assert "pa55word" not in json.dumps(answer)


def test_an_entity_left_out_for_alexas_300_says_so_not_that_a_filter_excludes_it(listing):
    switches = [endpoint(f"switch#plug_{i}") for i in range(300)]  # devices, like the fan, and before it
    listing(discovery=(200, {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response"},
                                       "payload": {"endpoints": [*switches, endpoint("fan#ceiling")]}}}))
    answer = devices(action="list")
    rows = {row["entity_id"]: row for row in answer["entities"]}
    assert answer["alexa"] == {"configured": True, "exposure": "all", "endpoints": 300}
    assert rows["fan.ceiling"]["alexa"] is False
    assert rows["fan.ceiling"]["alexa_note"].startswith("offered by Home Assistant, but Alexa takes at most 300")
    assert "filter" in rows["sun.sun"]["alexa_note"] and "300" not in rows["sun.sun"]["alexa_note"]


def exposure_listing(servers, bridge_env, setting, discovery=DISCOVERY, **answers):
    """`list` with ALEXA_EXPOSE=`setting`: the registries and the exposure answered by command type."""
    script = serve_home_assistant({**REGISTRY_ANSWERS, "config/label_registry/list": [{"label_id": "alexa",
                                                                                      "name": "Alexa"}],
                                   "homeassistant/expose_new_entities/get": {"expose_new": True}, **answers})
    ha = servers(rest=rest_with(**{"POST /api/alexa/smart_home": (200, discovery)}), websocket=script)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ALEXA_EXPOSE=setting)
    answer = devices(action="list")
    return answer, {row["entity_id"]: row for row in answer["entities"]}


def test_list_says_which_entities_alexa_gets_by_label_and_why_not_the_others(servers, bridge_env):
    labelled = [{**entry, "labels": ["alexa"]} if entry["entity_id"] == "light.lamp" else entry for entry in ENTITIES]
    answer, rows = exposure_listing(servers, bridge_env, "label:Alexa", **{"config/entity_registry/list": labelled})
    assert answer["alexa"] == {"configured": True, "exposure": "label:Alexa", "endpoints": 1}
    assert rows["light.lamp"]["alexa"] is True
    assert rows["fan.ceiling"]["alexa"] is False  # offered by Home Assistant, not labelled
    assert rows["fan.ceiling"]["alexa_note"] == "neither it nor its device carries the label 'Alexa'"
    assert "filter" in rows["switch.hidden"]["alexa_note"]  # not offered by Home Assistant at all


def test_list_says_an_entity_is_hidden_in_the_ui(servers, bridge_env):
    exposed = {"exposed_entities": {"fan.ceiling": {"conversation": True}}}
    entities = [{**e, "options": {"conversation": {"should_expose": False}}} if e["entity_id"] == "light.lamp" else e
                for e in ENTITIES]
    answer, rows = exposure_listing(servers, bridge_env, "assist", **{"homeassistant/expose_entity/list": exposed,
                                                                      "config/entity_registry/list": entities})
    assert answer["alexa"]["exposure"] == "assist" and answer["alexa"]["endpoints"] == 1
    assert rows["fan.ceiling"]["alexa"] is True
    assert rows["light.lamp"]["alexa_note"].startswith("not exposed to Assist in Home Assistant's UI (Settings >")


def test_list_over_300_in_the_ui_says_to_expose_fewer_there(servers, bridge_env):
    switches = [endpoint(f"switch#plug_{i}") for i in range(300)]
    offer = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response"},
                       "payload": {"endpoints": [*switches, endpoint("fan#ceiling")]}}}
    entities = ENTITIES + [{"entity_id": f"switch.plug_{i}", "options": {}} for i in range(300)]
    answer, rows = exposure_listing(servers, bridge_env, "assist", discovery=offer, **{
        "homeassistant/expose_entity/list": {"exposed_entities": {"fan.ceiling": {"conversation": True}}},
        "config/entity_registry/list": entities})
    assert answer["alexa"]["endpoints"] == 300
    assert rows["fan.ceiling"]["alexa_note"].startswith("exposed, but Alexa takes at most 300")
    assert "ALEXA_EXPOSE=assist" in rows["fan.ceiling"]["alexa_note"]


def test_list_with_an_unreadable_exposure_says_so_and_claims_nothing(servers, bridge_env):
    refused = {"error": {"code": "unauthorized", "message": "Unauthorized"}}
    answer, rows = exposure_listing(servers, bridge_env, "cloud", **{"homeassistant/expose_entity/list": refused})
    assert "error" not in answer
    assert answer["alexa"]["exposure"] == "cloud"
    assert "only an administrator may" in answer["alexa"]["note"]
    assert {row["alexa"] for row in rows.values()} == {None}
