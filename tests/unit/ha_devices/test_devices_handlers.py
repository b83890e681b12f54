"""The operator event: parsing, clear errors for bad input, never an exception, never a token echoed."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fast_path
from ha_devices import handle, handlers
from support import ROOT, TOKEN, FakeContext, run_python
from test_ha_websocket import FakeHA, serve_home_assistant

EVENTS = sorted((ROOT / "events").glob("devices_*.json"))


def devices(request, context=None):
    return handle({"devices": request}, context or FakeContext())


@pytest.mark.parametrize(
    "request_fields, words",
    [
        ({}, "`devices.action` must be one of: call, health, list, state"),
        ({"action": 3}, "`devices.action` must be one of"),
        ({"action": "reboot"}, "unknown action 'reboot'; the actions are: call, health, list, state"),
        ({"action": "health", "verbose": True}, "the health action takes no fields; unknown: verbose"),
        ({"action": "list", "room": "x"}, "the list action takes area, domain; unknown: room"),
        ({"action": "state"}, "the state action needs `entity_id`"),
        ({"action": "state", "entity_id": None}, "the state action needs `entity_id`"),
        ({"action": "state", "entity_id": ["light.a"]}, "`entity_id` must be a string, not a list"),
        ({"action": "list", "domain": 7}, "`domain` must be a string, not a number"),
        ({"action": "call", "domain": "light"}, "the call action needs `service`"),
        ({"action": "call", "domain": "light", "service": "turn_on", "data": "on"},
         "`data` must be an object, not a string"),
        ({"action": "call", "domain": "light", "service": "turn_on", "return_response": 1},
         "`return_response` must be true or false, not a number"),
    ],
)
def test_bad_input_gets_a_clear_error_without_contacting_home_assistant(bridge_env, request_fields, words):
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN=TOKEN)
    answer = devices(request_fields)
    assert answer["error"]["type"] == "INVALID_INPUT"
    assert words in answer["error"]["message"]


@pytest.mark.parametrize("field", ["token", "access_token", "url", "HA_URL"])
def test_an_event_carrying_a_token_or_url_is_refused(bridge_env, field):
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN=TOKEN)
    answer = devices({"action": "state", "entity_id": "light.a", field: "https://evil.example.com"})
    assert answer["error"]["type"] == "INVALID_INPUT"
    assert "cannot carry a token or a URL" in answer["error"]["message"]
    assert "evil" not in json.dumps(answer)


def test_an_event_that_is_not_an_operator_event_is_refused_when_handed_over_directly():
    for event in (None, [], {"devices": "health"}, {"other": {}}):
        assert handle(event, None)["error"]["type"] == "INVALID_INPUT"


def test_an_explicit_null_is_the_same_as_leaving_a_field_out(monkeypatch):
    seen = {}
    monkeypatch.setitem(handlers.ACTIONS, "list", handlers.Action(lambda until, **fields: seen.update(fields) or {},
                                                                  {"domain": str, "area": str}))
    assert devices({"action": "list", "domain": None, "area": "kitchen"}) == {}
    assert seen == {"area": "kitchen"}


def test_an_action_that_crashes_answers_an_internal_error_and_logs_where(monkeypatch, caplog):
    def crash(until):
        raise ZeroDivisionError(TOKEN)  # a message may hold anything: it is neither answered nor logged

    monkeypatch.setitem(handlers.ACTIONS, "health", handlers.Action(crash))
    answer = devices({"action": "health"})
    assert answer == {"error": {"type": "INTERNAL_ERROR", "message": "the bridge failed: ZeroDivisionError"}}
    [record] = [record for record in caplog.records if record.getMessage() == "devices action crashed"]
    assert record.crash.startswith("ZeroDivisionError at test_devices_handlers.py:")
    assert record.crash.endswith(" in crash")
    assert TOKEN not in " ".join(repr(vars(record)) for record in caplog.records)


def test_the_deadline_is_the_time_lambda_has_left_less_a_margin():
    before = time.monotonic()
    until = handlers.operator_deadline(FakeContext(remaining_ms=10000))
    assert before + 10 - handlers.OPERATOR_MARGIN_S - 0.5 <= until <= time.monotonic() + 10 - handlers.OPERATOR_MARGIN_S
    assert handlers.operator_deadline(FakeContext(remaining_ms=100)) <= time.monotonic()  # nothing left: no time
    assert handlers.operator_deadline(None) >= before + handlers.OPERATOR_BUDGET_S


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(["action", "entity_id", "domain", "service", "data", "area", "return_response", "x"])
requests = st.dictionaries(fields, json_values | st.sampled_from(["health", "list", "state", "call"]), max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests)
def test_any_request_is_answered_and_never_raises(bridge_env, request):
    bridge_env()  # no HA_URL: nothing leaves this process
    answer = devices(request)
    assert isinstance(answer, dict)
    json.dumps(answer)  # an answer Lambda can serialise
    if "error" in answer:
        assert set(answer["error"]) == {"type", "message"}
        assert answer["error"]["type"] in ("INVALID_INPUT", "CONFIGURATION_ERROR")
    else:
        assert answer["ok"] is False and answer["checks"][0]["check"] == "url"


def test_the_token_is_never_echoed_or_logged(bridge_env, capsys, caplog):
    ha = FakeHA(rest=lambda method, path, body: (401, b"401: Unauthorized", "text/plain"),
                websocket=serve_home_assistant({}, token="another"))
    try:
        bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
        answers = [
            devices({"action": "health"}),
            devices({"action": "list"}),
            devices({"action": "state", "entity_id": "light.a"}),
            devices({"action": "call", "domain": "light", "service": "turn_on", "data": {"entity_id": "light.a"}}),
            devices({"action": TOKEN}),
            devices({"action": "state", "entity_id": TOKEN}),
            devices({"action": "list", TOKEN: TOKEN}),
        ]
    finally:
        ha.close()
    assert any(request[1] == "/api/" for request in ha.requests)  # HA really was asked, with the token
    assert all(answer for answer in answers)
    assert TOKEN not in json.dumps(answers)
    assert "devices action failed" in [record.getMessage() for record in caplog.records]  # logs were written
    assert TOKEN not in " ".join(repr(vars(record)) for record in caplog.records)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err


def test_the_events_directory_has_one_valid_event_per_action():
    assert [path.name for path in EVENTS] == [f"devices_{name}.json" for name in sorted(handlers.ACTIONS)]
    for path in EVENTS:
        event = json.loads(path.read_text())
        assert fast_path.classify(event) == "devices"
        name, _fields = handlers.parse(event)
        assert path.name == f"devices_{name}.json"


def test_an_operator_event_reaches_ha_devices_through_the_entry_point(bridge_env):
    import lambda_function

    bridge_env()
    answer = lambda_function.lambda_handler({"devices": {"action": "health"}}, FakeContext())
    assert answer["ok"] is False
    assert answer["checks"][0] == {**answer["checks"][0], "check": "url", "status": "failed"}


def test_websocket_client_and_ha_devices_stay_off_the_smart_home_path(tmp_path):
    discover = {"directive": {"header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                                         "messageId": "m"}, "payload": {"scope": {"type": "BearerToken",
                                                                                  "token": TOKEN}}}}
    states = {"entity_id": "light.a", "state": "on"}
    ha = FakeHA(rest=lambda method, path, body: (200, discovery_or(path, states)),
                websocket=serve_home_assistant({"get_states": [], "config/entity_registry/list": [],
                                                "config/device_registry/list": [],
                                                "config/area_registry/list": []}))
    script = f"""
import json, sys
import lambda_function
from support import FakeContext
loaded = lambda: [m for m in ("websocket", "ha_devices") if m in sys.modules]
answer = lambda_function.lambda_handler({discover!r}, FakeContext())
smart_home = loaded()
state = lambda_function.lambda_handler({{"devices": {{"action": "state", "entity_id": "light.a"}}}}, FakeContext())
after_state = loaded()
listed = lambda_function.lambda_handler({{"devices": {{"action": "list"}}}}, FakeContext())
print(json.dumps({{"answer": answer, "smart_home": smart_home, "state": state, "after_state": after_state,
                  "listed": listed, "after_list": loaded()}}))
"""
    try:
        result = run_python(script, HA_URL=ha.url, HA_TOKEN=TOKEN, PYTHONPATH=str(ROOT / "tests"))["result"]
    finally:
        ha.close()
    assert result["answer"]["event"]["header"]["name"] == "Discover.Response"  # the directive really went through
    assert result["smart_home"] == []
    assert result["state"]["state"] == "on"
    assert result["after_state"] == ["ha_devices"]  # REST actions need no websocket-client
    assert result["listed"]["count"] == 0
    assert result["after_list"] == ["websocket", "ha_devices"]


def discovery_or(path, states):
    if path == "/api/alexa/smart_home":
        return {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response"},
                          "payload": {"endpoints": []}}}
    return states
