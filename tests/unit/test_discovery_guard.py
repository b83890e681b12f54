"""The discovery guard: endpoints Alexa would refuse are repaired or dropped, the others pass through untouched."""

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fast_path import lambda_handler
from gateway.alexa_endpoints import MAX_ENDPOINTS, check_endpoints
from support import TOKEN, FakeContext


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
    kept, problems = check_endpoints(endpoints)
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
    kept, problems = check_endpoints([broken])
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
    kept, problems = check_endpoints([broken, fine])
    assert kept == [fine]
    [problem] = problems
    assert (problem["action"], problem["reason"][:len(reason)]) == ("dropped", reason)
    json.dumps(problems)  # plain data, for the doctor and the logs
    assert_valid(alexa_schema, kept)


def test_a_repeated_endpoint_id_keeps_the_first():
    first, second = endpoint(name="First"), endpoint(name="Second")
    kept, problems = check_endpoints([first, second])
    assert kept == [first]
    assert problems[0]["friendlyName"] == "Second"
    assert problems[0]["reason"] == "endpointId is not unique"


def test_at_most_300_endpoints_are_sent(alexa_schema):
    endpoints = [endpoint(f"switch#s{i}", f"Switch {i}") for i in range(MAX_ENDPOINTS + 5)]
    kept, problems = check_endpoints(endpoints)
    assert kept == endpoints[:MAX_ENDPOINTS]
    assert [p["endpointId"] for p in problems] == [f"switch#s{i}" for i in range(MAX_ENDPOINTS, MAX_ENDPOINTS + 5)]
    assert all(p["action"] == "dropped" and "300" in p["reason"] for p in problems)
    assert_valid(alexa_schema, kept)


@pytest.mark.parametrize("endpoints", [None, "x", {"a": 1}])
def test_an_endpoint_list_that_is_not_a_list_has_nothing_to_keep(endpoints):
    assert check_endpoints(endpoints) == ([], [])


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
    assert [(message, extra["endpointId"]) for message, extra in warnings] == [
        ("discovery endpoint repaired", "binary_sensor#basement_floor_wet"), ("discovery endpoint dropped", "bad id")]
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
    kept, problems = check_endpoints(endpoints)
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
    (kept,), (problem,) = check_endpoints([thermostat])
    assert kept["capabilities"][0]["configuration"] == {"supportsScheduling": False,
                                                         "supportedModes": ["OFF", "HEAT", "CUSTOM"]}
    assert kept["capabilities"][1] is thermostat["capabilities"][1]
    assert problem["action"] == "repaired" and "supportedModes" in problem["reason"]
    assert thermostat["capabilities"][0]["configuration"]["supportedModes"][-1] == "CUSTOM"  # input untouched
    assert len(thermostat["capabilities"][0]["configuration"]["supportedModes"]) == 4
