"""The discovery guard: endpoints Alexa would refuse are repaired or dropped, the others pass through untouched."""

import copy
import gc
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fast_path import lambda_handler
from gateway.alexa_endpoints import MAX_ENDPOINTS, check_endpoints
from support import TOKEN, FakeContext
from test_smart_home import directive


def endpoint(endpoint_id="switch#decorative_lights", name="Decorative Lights", categories=("SWITCH",), **fields):
    """An endpoint as Home Assistant 2025.4 describes it in a Discover.Response."""
    domain = endpoint_id.split("#")[0]
    return {
        "displayCategories": list(categories) if categories is not None else None,
        "cookie": {},
        "endpointId": endpoint_id,
        "friendlyName": name,
        "description": f"{endpoint_id.replace('#', '.')} via Home Assistant",
        "manufacturerName": "Home Assistant",
        "additionalAttributes": {"manufacturer": "Home Assistant", "model": domain, "softwareVersion": "2025.4.4",
                                 "customIdentifier": f"-{endpoint_id.replace('#', '.')}"},
        "capabilities": [
            {"type": "AlexaInterface", "interface": "Alexa.PowerController", "version": "3",
             "properties": {"supported": [{"name": "powerState"}], "proactivelyReported": True, "retrievable": True}},
            {"type": "AlexaInterface", "interface": "Alexa", "version": "3"},
        ],
        **fields,
    }


# What Home Assistant answers for a moisture binary_sensor and an event entity of its demo (2024.3 to 2025.4).
MOISTURE = endpoint("binary_sensor#basement_floor_wet", "Basement Floor Wet", None)
EVENT = endpoint("event#push_button_press", "Push Button press", None)


def discover_response(endpoints):
    header = {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3", "messageId": "m"}
    return {"event": {"header": header, "payload": {"endpoints": endpoints}}}


def assert_valid(schema, endpoints):
    errors = sorted(schema.iter_errors(discover_response(endpoints)), key=str)
    assert not errors, errors[0].message


def test_null_display_categories_become_other_and_fine_endpoints_pass_untouched(alexa_schema):
    fine = [endpoint(), endpoint("light#kitchen_lights", "Kitchen Lights", ["LIGHT"])]
    endpoints = [MOISTURE, fine[0], EVENT, fine[1]]
    before = copy.deepcopy(endpoints)
    kept, problems, _ = check_endpoints(endpoints)
    assert [e["endpointId"] for e in kept] == [e["endpointId"] for e in endpoints]
    assert kept[1] is fine[0] and kept[3] is fine[1]
    assert kept[0] == {**MOISTURE, "displayCategories": ["OTHER"]}
    assert kept[2] == {**EVENT, "displayCategories": ["OTHER"]}
    assert endpoints == before  # HA's answer itself is left as it was
    assert [(p["endpointId"], p["action"]) for p in problems] == [
        ("binary_sensor#basement_floor_wet", "repaired"), ("event#push_button_press", "repaired")]
    assert "displayCategories None became ['OTHER']" in problems[0]["reason"]
    assert problems[0]["friendlyName"] == "Basement Floor Wet"
    assert_valid(alexa_schema, kept)


@pytest.mark.parametrize(
    "broken, reason",
    [
        (endpoint(displayCategories=[]), "displayCategories [] became ['OTHER']"),
        (endpoint(displayCategories="SWITCH"), "displayCategories 'SWITCH' became ['OTHER']"),
        (endpoint(displayCategories=["SWITCH", "NOT_A_CATEGORY", "SWITCH"]), "became ['SWITCH']"),
        (endpoint(displayCategories=[["LIGHT"], {"x": 1}]), "became ['OTHER']"),
        (endpoint(name="N" * 200), "friendlyName cut to 128 characters"),
        (endpoint(description="d" * 129), "description cut to 128 characters"),
        (endpoint(description=""), "description was missing or empty"),
        (endpoint(description=None), "description was missing or empty"),
        (endpoint(manufacturerName=7), "manufacturerName was missing or empty"),
        (endpoint(cookie={"n": 1}), "cookie was not an object of strings"),
        (endpoint(cookie=None), "cookie was not an object of strings"),
        (endpoint(additionalAttributes={"customIdentifier": "x" * 300}), "additionalAttributes"),
        (endpoint(additionalAttributes={"room": "kitchen"}), "additionalAttributes"),
        (endpoint(additionalAttributes="HA"), "additionalAttributes"),
    ],
)
def test_what_can_be_repaired_is_repaired(alexa_schema, broken, reason):
    kept, problems, _ = check_endpoints([broken])
    [problem] = problems
    assert problem["action"] == "repaired"
    assert reason in problem["reason"]
    assert kept[0]["endpointId"] == broken["endpointId"]
    assert_valid(alexa_schema, kept)


@pytest.mark.parametrize(
    "broken, reason",
    [
        ("switch#x", "not an object"),
        (None, "not an object"),
        (endpoint("light kitchen"), "endpointId"),
        (endpoint("x" * 257), "endpointId"),
        (endpoint(""), "endpointId"),
        (endpoint(endpointId=None), "endpointId"),
        (endpoint(name=""), "no friendlyName"),
        (endpoint(name="   "), "no friendlyName"),
        (endpoint(name=["Kitchen"]), "no friendlyName"),
        (endpoint(capabilities=[]), "no capabilities"),
        (endpoint(capabilities=None), "no capabilities"),
        (endpoint(capabilities=[{"type": "AlexaInterface", "interface": "Alexa"}]), "a capability lacks"),
        (endpoint(capabilities=["Alexa"]), "a capability lacks"),
    ],
)
def test_what_cannot_be_repaired_is_dropped_and_the_rest_is_kept(alexa_schema, broken, reason):
    fine = endpoint("light#kitchen_lights", "Kitchen Lights", ["LIGHT"])
    kept, problems, _ = check_endpoints([broken, fine])
    assert kept == [fine]
    [problem] = problems
    assert (problem["action"], problem["reason"][:len(reason)]) == ("dropped", reason)
    json.dumps(problems)  # plain data, for the doctor and the logs
    assert_valid(alexa_schema, kept)


def test_a_repeated_endpoint_id_keeps_the_first():
    first, second = endpoint(name="First"), endpoint(name="Second")
    kept, problems, _ = check_endpoints([first, second])
    assert kept == [first]
    assert problems[0]["friendlyName"] == "Second"
    assert problems[0]["reason"] == "endpointId is not unique"


def test_at_most_300_endpoints_are_sent_the_rest_left_out_unexamined(alexa_schema):
    endpoints = [endpoint(f"switch#s{i}", f"Switch {i}") for i in range(MAX_ENDPOINTS + 5)]
    endpoints[-1] = "not even an object"  # never examined: Alexa has no room for it anyway
    kept, problems, left_out = check_endpoints(endpoints)
    assert kept == endpoints[:MAX_ENDPOINTS]
    assert problems == []
    assert left_out == {"Alexa takes at most 300 endpoints": endpoints[MAX_ENDPOINTS:]}
    assert_valid(alexa_schema, kept)


@pytest.mark.parametrize("endpoints", [None, "x", {"a": 1}])
def test_an_endpoint_list_that_is_not_a_list_has_nothing_to_keep(endpoints):
    assert check_endpoints(endpoints) == ([], [], {})


def test_the_bridge_answers_alexa_with_the_repaired_discovery_logs_and_counts_it(fake_ha, bridge_env, alexa_schema,
                                                                                 capsys, monkeypatch):
    from gateway.log import logger

    fine = endpoint()
    ha = fake_ha(lambda *request: (200, discover_response([MOISTURE, fine, endpoint("bad id")]), None))
    bridge_env(HA_URL=ha.url)
    warnings = []
    monkeypatch.setattr(logger, "warning", lambda message, *args, extra=None, **kw: warnings.append((message, extra)))
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m-2"}
    event = {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}
    answer = lambda_handler(event, FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["endpoints"] == [{**MOISTURE, "displayCategories": ["OTHER"]}, fine]
    [(message, said)] = warnings  # one line per Discovery
    assert message == "discovery answer changed for Alexa"
    assert said["offered"] == 3 and said["sent"] == 2 and said["repaired"] == 1 and said["dropped"] == 1
    assert said["reasons"] == {"repaired: displayCategories None became ['OTHER']": 1,
                               "dropped: endpointId must be 1 to 256 letters, digits or _-=#;:?@&": 1}
    assert said["examples"] == {"repaired": ["binary_sensor#basement_floor_wet"], "dropped": ["bad id"]}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    counted = {name: line[name] for line in lines for name in ("DiscoveryEndpointsRepaired",
                                                               "DiscoveryEndpointsDropped") if name in line}
    assert counted == {"DiscoveryEndpointsRepaired": [1.0], "DiscoveryEndpointsDropped": [1.0]}
    # On the request's own metric line: no dimension beyond the service's.
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
               for line in lines if "DiscoveryEndpointsDropped" in line)


def test_a_clean_discovery_is_answered_as_home_assistant_gave_it(fake_ha, bridge_env):
    response = discover_response([endpoint(), endpoint("light#kitchen_lights", "Kitchen Lights", ["LIGHT"])])
    ha = fake_ha(lambda *request: (200, response, None))
    bridge_env(HA_URL=ha.url)
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m-2"}
    event = {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}
    assert lambda_handler(event, FakeContext()) == response


def test_no_garbage_collection_runs_during_a_discovery_and_the_collector_is_back_after(fake_ha, bridge_env):
    """A big home's answers are tens of thousands of dicts and lists without cycles: a collection during the
    Discovery would walk them and free nothing."""
    response = discover_response([endpoint()])
    collecting = []

    def answer(method, path, headers, body):
        collecting.append(gc.isenabled())
        if json.loads(body)["directive"]["header"]["namespace"] == "Alexa.Discovery":
            return 200, response, None
        return 500, {"message": "broken"}, None  # a failing directive: the collector must come back all the same

    ha = fake_ha(answer)
    bridge_env(HA_URL=ha.url)
    discover = {"directive": {"header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                                         "messageId": "m-2"},
                              "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}
    assert gc.isenabled()
    assert lambda_handler(discover, FakeContext()) == response
    assert collecting == [False] and gc.isenabled()
    power = directive()
    assert lambda_handler(power, FakeContext())["event"]["header"]["name"] == "ErrorResponse"
    assert collecting == [False, True] and gc.isenabled()  # other directives leave the collector alone
    gc.disable()  # and a collector that was off stays off
    try:
        lambda_handler(discover, FakeContext())
        assert not gc.isenabled()
    finally:
        gc.enable()


# Property: whatever Home Assistant gets wrong in an endpoint's fields, what the guard keeps is valid for Alexa.
SCHEMA_CATEGORIES = ["LIGHT", "SWITCH", "OTHER", "SMARTPLUG", "THERMOSTAT", "CAMERA", "DOOR"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
broken_values = {
    "endpointId": st.from_regex(r"[a-z_#]{1,20}", fullmatch=True) | st.text(max_size=300) | json_values,
    "friendlyName": st.text(max_size=200) | json_values,
    "description": st.text(max_size=200) | json_values,
    "manufacturerName": st.text(max_size=200) | json_values,
    "displayCategories": st.lists(st.sampled_from(SCHEMA_CATEGORIES) | st.text(max_size=12), max_size=4) | json_values,
    "cookie": st.dictionaries(st.text(max_size=5), st.text(max_size=5) | json_values, max_size=3) | json_values,
    "additionalAttributes": st.dictionaries(st.sampled_from(["model", "manufacturer", "room"]),
                                            st.text(max_size=300) | json_values, max_size=3) | json_values,
    "capabilities": st.sampled_from([None, [], "Alexa", [1], [{"type": "AlexaInterface", "version": "3"}]]),
}
broken_endpoint = st.builds(
    lambda index, changes, missing: {**{k: v for k, v in endpoint(f"switch#s{index}").items() if k not in missing},
                                     **changes},
    st.integers(0, 5),
    st.fixed_dictionaries({}, optional=broken_values),
    st.sets(st.sampled_from(sorted(broken_values)), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(broken_endpoint | st.just(endpoint()) | json_values, max_size=6))
def test_any_damage_leaves_a_valid_answer_and_fine_endpoints_untouched(alexa_schema, endpoints):
    kept, problems, left_out = check_endpoints(endpoints)
    assert not left_out
    assert len(kept) + sum(p["action"] == "dropped" for p in problems) == len(endpoints)
    assert_valid(alexa_schema, kept)
    repaired = {p["endpointId"] for p in problems if p["action"] == "repaired"}
    assert all(any(e is k for e in endpoints) for k in kept if k["endpointId"] not in repaired)


def test_duplicate_supported_modes_are_removed_and_the_rest_kept():
    thermostat = {
        "endpointId": "climate#hvac", "friendlyName": "Hvac", "description": "d", "manufacturerName": "m",
        "displayCategories": ["THERMOSTAT"],
        "capabilities": [
            {"type": "AlexaInterface", "interface": "Alexa.ThermostatController", "version": "3",
             "configuration": {"supportsScheduling": False, "supportedModes": ["OFF", "HEAT", "CUSTOM", "CUSTOM"]}},
            {"type": "AlexaInterface", "interface": "Alexa", "version": "3"},
        ],
    }
    (kept,), (problem,), _ = check_endpoints([thermostat])
    assert kept["capabilities"][0]["configuration"] == {"supportsScheduling": False,
                                                         "supportedModes": ["OFF", "HEAT", "CUSTOM"]}
    assert kept["capabilities"][1] is thermostat["capabilities"][1]
    assert problem["action"] == "repaired" and "supportedModes" in problem["reason"]
    assert thermostat["capabilities"][0]["configuration"]["supportedModes"][-1] == "CUSTOM"  # input untouched
    assert len(thermostat["capabilities"][0]["configuration"]["supportedModes"]) == 4


# Big homes: which 300 Alexa gets.
def sensor(name):
    return endpoint(f"sensor#{name}", name, ["TEMPERATURE_SENSOR"], capabilities=[
        {"type": "AlexaInterface", "interface": "Alexa.TemperatureSensor", "version": "3"},
        {"type": "AlexaInterface", "interface": "Alexa", "version": "3"}])


def test_over_300_devices_go_first_then_helpers_then_read_only_each_in_home_assistants_order(alexa_schema):
    helpers = [endpoint(f"input_boolean#b{i}", f"B {i}") for i in range(300)]
    lights = [endpoint(f"light#l{i}", f"L {i}", ["LIGHT"]) for i in range(20)]
    scripts = [endpoint(f"script#s{i}", f"S {i}", ["ACTIVITY_TRIGGER"]) for i in range(20)]
    sensors = [sensor(f"t{i}") for i in range(40)]
    locks = [endpoint(f"lock#d{i}", f"D {i}", ["SMARTLOCK"]) for i in range(3)]
    # HA's order: helpers first, as in the household of issue 9; devices scattered among them.
    endpoints = (helpers[:100] + sensors[:20] + lights[:10] + scripts + locks + helpers[100:] + sensors[20:]
                 + lights[10:])
    kept, problems, left_out = check_endpoints(endpoints)
    assert kept == lights[:10] + locks + lights[10:] + helpers[:100] + scripts + helpers[100:257]
    assert problems == []
    assert left_out == {"Alexa takes at most 300 endpoints": helpers[257:] + sensors}
    assert check_endpoints(list(endpoints)) == (kept, problems, left_out)  # the same from one Discovery to the next
    assert_valid(alexa_schema, kept)


def test_a_broken_device_gives_its_slot_to_the_next_endpoint():
    endpoints = [endpoint(f"switch#s{i}", f"S {i}") for i in range(MAX_ENDPOINTS)] + [sensor("t1"), sensor("t2")]
    endpoints[5] = endpoint("switch#broken", "", ["SWITCH"])
    kept, problems, left_out = check_endpoints(endpoints)
    assert len(kept) == MAX_ENDPOINTS and kept[-1] is endpoints[-2]
    assert [(p["endpointId"], p["action"]) for p in problems] == [("switch#broken", "dropped")]
    assert left_out == {"Alexa takes at most 300 endpoints": [endpoints[-1]]}


@pytest.mark.parametrize("endpoint_id, capabilities, expected", [
    ("light#x", [], 1), ("remote#tv", [], 1), ("alarm_control_panel#home", [], 1), ("scene#x", [], 2),
    ("input_number#x", [], 2), ("timer#x", [], 2), ("binary_sensor#door", [], 3), ("camera#x", [], 3),
    ("lawn_mower#x", ["Alexa.PowerController", "Alexa"], 2),  # unknown domain: the interfaces decide
    ("weather#x", ["Alexa.TemperatureSensor", "Alexa.EndpointHealth", "Alexa"], 3),
    ("nodomain", ["Alexa"], 3), (None, ["Alexa.PowerController"], 2),
])
def test_the_priority_comes_from_the_endpoint_id_domain_then_the_interfaces(endpoint_id, capabilities, expected):
    from gateway.alexa_endpoints import priority

    caps = [{"type": "AlexaInterface", "interface": name, "version": "3"} for name in capabilities]
    assert priority({"endpointId": endpoint_id, "capabilities": caps}) == expected
    assert priority("not an endpoint") == 3


def test_an_answer_over_lambdas_6_mb_limit_loses_its_lowest_priority_endpoints_first(alexa_schema):
    from gateway.alexa_endpoints import MAX_RESPONSE_BYTES

    blob = "x" * 40_000  # a cookie of strings is valid; forty of these make a megabyte and a half
    sensors = [sensor(f"t{i}") | {"cookie": {"blob": blob}} for i in range(60)]
    lights = [endpoint(f"light#l{i}", f"L {i}", ["LIGHT"], cookie={"blob": blob}) for i in range(120)]
    endpoints = sensors + lights
    kept, problems, left_out = check_endpoints(endpoints, answer_bytes=len(json.dumps(endpoints)))
    size = len(json.dumps(discover_response(kept)).encode())
    assert MAX_RESPONSE_BYTES - 50_000 < size <= MAX_RESPONSE_BYTES
    assert kept[:120] == lights and all(e in sensors for e in kept[120:])  # devices first, sensors cut
    [(reason, cut)] = left_out.items()
    assert "6 MB" in reason and cut == sensors[len(kept) - 120:]
    assert check_endpoints(endpoints) == (kept, problems, left_out)  # without its size: measured all the same
    assert_valid(alexa_schema, kept)
    # A small answer is not measured at all: nothing to spend on it.
    assert check_endpoints(endpoints[:3], answer_bytes=len(json.dumps(endpoints[:3]))).kept == endpoints[:3]


def test_a_big_home_is_logged_in_one_line_and_counted(fake_ha, bridge_env, alexa_schema, output):
    endpoints = ([endpoint(f"input_boolean#b{i}", f"B {i}") for i in range(700)] + [MOISTURE, EVENT]
                 + [sensor(f"t{i}") for i in range(300)] + [endpoint(f"light#l{i}", f"L {i}", ["LIGHT"])
                                                            for i in range(50)])
    ha = fake_ha(lambda *request: (200, discover_response(endpoints), None))
    bridge_env(HA_URL=ha.url, POWERTOOLS_LOG_LEVEL="INFO")
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m-3"}
    event = {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}
    answer = lambda_handler(event, FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    sent = answer["event"]["payload"]["endpoints"]
    assert len(sent) == MAX_ENDPOINTS and [e["endpointId"] for e in sent[:50]] == [f"light#l{i}" for i in range(50)]
    lines = [json.loads(line) for line in output().splitlines() if line.startswith("{")]
    logs = [line for line in lines if "_aws" not in line]
    assert [line["message"] for line in logs] == ["discovery answer changed for Alexa", "directive answered"]
    said = logs[0]
    assert (said["offered"], said["sent"], said["dropped"], said["repaired"]) == (1052, 300, 752, 0)
    assert said["dropped_domains"] == {"input_boolean": 450, "sensor": 300, "binary_sensor": 1, "event": 1}
    assert said["reasons"] == {"dropped: Alexa takes at most 300 endpoints": 752}
    assert said["examples"]["dropped"] == ["input_boolean#b250", "input_boolean#b251", "input_boolean#b252"]
    assert len(json.dumps(said)) < 2000
    metrics = {name: line[name] for line in lines if "_aws" in line for name in ("DiscoveryEndpointsDropped",
                                                                                "DiscoveryEndpointsRepaired")
               if name in line}
    assert metrics == {"DiscoveryEndpointsDropped": [752.0]}


def test_alexa_gets_300_endpoints_at_most():
    """Alexa's limit, spelled out: a raised constant must fail a test even where Amazon's schema is absent."""
    kept, _, left_out = check_endpoints([endpoint(f"switch#s{i}", f"S {i}") for i in range(301)])
    assert len(kept) == 300
    assert [e["endpointId"] for e in left_out["Alexa takes at most 300 endpoints"]] == ["switch#s300"]
