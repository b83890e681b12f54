"""The hot path's budget and contracts, each checked in a fresh interpreter as Lambda starts one."""

import json

import pytest

from fast_path import classify
from support import TOKEN, run_python

HEAVY = ("boto3", "botocore", "requests", "websocket", "urllib3")
DISCOVER = {"directive": {"header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                                     "messageId": "m"}, "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}


def emf(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]


def test_smart_home_path_never_imports_heavy_modules_or_other_features(fake_ha):
    ha = fake_ha(lambda *request: (200, {"event": {"header": {}, "payload": {}}}, None))
    script = f"""
import json, sys
heavy = {HEAVY!r}
import lambda_function
after_import = [m for m in heavy if m in sys.modules]
answer = lambda_function.lambda_handler({DISCOVER!r}, None)
after_request = [m for m in heavy + ("ha_assist", "ha_devices") if m in sys.modules]
print(json.dumps({{"import": after_import, "request": after_request, "answer": answer}}))
"""
    result = run_python(script, HA_URL=ha.url)["result"]
    assert result["answer"] == {"event": {"header": {}, "payload": {}}}  # the request really went through
    assert result["import"] == []
    assert result["request"] == []


def test_with_nothing_preloaded_the_entry_point_imports_only_the_standard_library():
    script = """
import json, sys
before = set(sys.modules)
import lambda_function
new = sorted(set(sys.modules) - before)
ours = {"lambda_function", "fast_path"}
foreign = [m for m in new if m.split(".")[0] not in sys.stdlib_module_names and m not in ours]
print(json.dumps({"new": new, "foreign": foreign}))
"""
    result = run_python(script, BRIDGE_PRELOAD="")["result"]
    assert "fast_path" in result["new"]
    assert result["foreign"] == []


def test_preload_imports_the_named_feature_during_init():
    script = """
import json, sys
import lambda_function
print(json.dumps({m: m in sys.modules for m in ("ha_alexa", "ha_assist", "aws_lambda_powertools")}))
"""
    assert run_python(script)["result"] == {"ha_alexa": True, "ha_assist": False, "aws_lambda_powertools": True}
    assert run_python(script, BRIDGE_PRELOAD="")["result"]["ha_alexa"] is False


def test_cold_start_metrics_are_reported_once_per_environment(fake_ha):
    answers = iter([(200, {"event": {"header": {}, "payload": {}}}, None), (401, b"no", None)])
    ha = fake_ha(lambda *request: next(answers))
    script = f"""
import json, lambda_function
for _ in range(2):
    lambda_function.lambda_handler({DISCOVER!r}, None)
print(json.dumps(None))
"""
    lines = emf(run_python(script, HA_URL=ha.url)["stdout"])
    names = [metric["Name"] for line in lines for d in line["_aws"]["CloudWatchMetrics"] for metric in d["Metrics"]]
    assert names.count("ColdStart") == 1
    assert names.count("InitDuration") == 1
    assert names.count("RequestLatency") == 2
    assert names.count("HomeAssistantLatency") == 2
    init = next(line for line in lines if "InitDuration" in line)
    assert init["InitDuration"][0] > 0
    errors = [line for line in lines if "Errors" in line]
    assert [line["ErrorType"] for line in errors] == ["INVALID_AUTHORIZATION_CREDENTIAL"]
    # Low-cardinality dimensions only: the ErrorType dimension stays on the Errors line.
    assert all(d == ["service"] for line in lines if "RequestLatency" in line for d in
               line["_aws"]["CloudWatchMetrics"][0]["Dimensions"])


def _cold_start_lines(stdout: str) -> list[dict]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "cold start"]


def test_the_first_invocation_logs_inits_phases_once_beside_init_duration(fake_ha):
    ha = fake_ha(lambda *request: (200, {"event": {"header": {}, "payload": {}}}, None))
    script = f"""
import json, sys, lambda_function
for _ in range(2):
    lambda_function.lambda_handler({DISCOVER!r}, None)
print(json.dumps(len(sys.modules)))
"""
    run = run_python(script, HA_URL=ha.url)
    (line,) = _cold_start_lines(run["stdout"])
    (init_duration,) = [emf_line["InitDuration"][0] for emf_line in emf(run["stdout"]) if "InitDuration" in emf_line]
    assert line["init_ms"] == init_duration > 0
    assert set(line["preload_ms"]) == {"ha_alexa"} and line["preload_ms"]["ha_alexa"] > 0
    assert 0 <= line["connect_wait_ms"] and 0 <= line["runtime_ms"] < line["init_ms"]
    assert line["runtime_ms"] + line["preload_ms"]["ha_alexa"] + line["connect_wait_ms"] <= line["init_ms"] + 1
    assert 0 < line["init_modules"] <= line["modules"] <= run["result"]


# displayCategories null, as Home Assistant sends for some entities: the guard repairs it and logs a summary line.
ENDPOINT = {"endpointId": "light#kitchen", "friendlyName": "Kitchen", "description": "d", "manufacturerName": "m",
            "displayCategories": None,
            "capabilities": [{"type": "AlexaInterface", "interface": "Alexa", "version": "3"}]}


def test_the_first_smart_home_request_imports_nothing_init_did_not(fake_ha):
    # An import after INIT runs on the invocation's CPU, which 128 MB slows about 14 times: INIT does them all.
    answer = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3",
                                   "messageId": "m"}, "payload": {"endpoints": [ENDPOINT]}}}
    ha = fake_ha(lambda *request: (200, answer, None))
    script = f"""
import json, sys, types, lambda_function
init = set(sys.modules)
context = types.SimpleNamespace(function_name="f", memory_limit_in_mb=128, aws_request_id="r",
                                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                                get_remaining_time_in_millis=lambda: 5000)
result = lambda_function.lambda_handler({DISCOVER!r}, context)
print(json.dumps([sorted(set(sys.modules) - init), result["event"]["payload"]["endpoints"][0]["endpointId"]]))
"""
    assert run_python(script, HA_URL=ha.url)["result"] == [[], ENDPOINT["endpointId"]]


def test_without_preload_or_ha_url_the_cold_start_line_says_so():
    script = """
import json, lambda_function
print(json.dumps(lambda_function.lambda_handler({"warmup": True}, None)))
"""
    run = run_python(script, BRIDGE_PRELOAD="")
    (line,) = _cold_start_lines(run["stdout"])
    assert line["preload_ms"] == {} and "connect_wait_ms" not in line  # Powertools leaves out None
    assert line["init_modules"] < line["modules"]  # the warm-up's metrics imported Powertools after INIT


def test_a_warm_up_imports_no_feature_and_is_not_counted_as_a_request():
    script = """
import json, sys, lambda_function
first = lambda_function.lambda_handler({"warmup": True}, None)
second = lambda_function.lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
print(json.dumps({"answers": [first, second], "features": [m for m in ("ha_alexa", "ha_assist", "ha_devices")
                                                           if m in sys.modules]}))
"""
    run = run_python(script, BRIDGE_PRELOAD="")
    assert run["result"] == {"answers": [{"warmup": "ok"}, {"warmup": "ok"}], "features": []}
    names = [m["Name"] for line in emf(run["stdout"]) for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert sorted(names) == ["ColdStart", "InitDuration"]


@pytest.mark.parametrize(
    "event, kind",
    [
        (DISCOVER, "smart_home"),
        ({"directive": {"header": {"payloadVersion": "2"}}}, "smart_home"),
        ({"version": "1.0", "session": {}, "request": {"type": "LaunchRequest"}}, "custom_skill"),
        ({"version": "1.0", "request": {"type": 5}}, None),
        ({"devices": {"action": "health"}}, "devices"),
        ({"devices": "health"}, None),
        ({"warmup": True}, "warmup"),
        ({"warmup": "yes"}, None),
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, "warmup"),
        ({}, None),
        ([DISCOVER], None),
        (None, None),
    ],
)
def test_events_are_classified_by_shape(event, kind):
    assert classify(event) == kind


def test_the_connection_opened_during_init_serves_the_first_request(fake_ha):
    ha = fake_ha(lambda *request: (200, {"event": {"header": {}, "payload": {}}}, None))
    script = f"""
import json, threading, lambda_function
from gateway import ha_client
for thread in threading.enumerate():
    if thread.name == "preconnect":
        thread.join(5)
opened_after_init = []
ha_client.open_socket = lambda *args: opened_after_init.append(args)  # the client's own way to a new connection
lambda_function.lambda_handler({DISCOVER!r}, None)
print(json.dumps([len(opened_after_init), ha_client.default_client().connections_opened]))
"""
    assert run_python(script, HA_URL=ha.url)["result"] == [0, 1]  # it took the socket INIT opened
    assert len(ha.requests) == 1


def test_after_a_snapstart_restore_the_old_connection_is_dropped(fake_ha):
    ha = fake_ha(lambda *request: (200, {"event": {"header": {}, "payload": {}}}, None))
    script = f"""
import json, fast_path
fast_path.lambda_handler({DISCOVER!r}, None)
fast_path.after_restore()
fast_path.lambda_handler({DISCOVER!r}, None)
from gateway.ha_client import default_client
print(json.dumps(default_client().connections_opened))
"""
    assert run_python(script, HA_URL=ha.url)["result"] == 2
