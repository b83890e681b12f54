"""The local runner: real awslambdaric in a child process against our Runtime API, with tiny test handlers."""

import json
import sys
import types

import pytest

from devtools import local_invoke
from devtools.local_invoke import Result, format_metrics, invoke

HANDLERS = '''
import json, os, sys, time

EMF = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "HomeAssistantBridge",
       "Dimensions": [["service", "ErrorType"]], "Metrics": [{"Name": "RequestLatency", "Unit": "Milliseconds"},
       {"Name": "Errors", "Unit": "Count"}]}]}, "service": "svc", "ErrorType": "BRIDGE_UNREACHABLE",
       "RequestLatency": [12.5], "Errors": [1.0]}

def echo(event, context):
    print("handling", event)
    names = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_EXECUTION_ENV", "_HANDLER",
             "LAMBDA_TASK_ROOT", "AWS_REGION", "POWERTOOLS_SERVICE_NAME", "HA_URL", "HA_TOKEN",
             "AWS_LAMBDA_MAX_CONCURRENCY")
    return {"event": event, "remaining_ms": context.get_remaining_time_in_millis(), "pid": os.getpid(),
            "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "env": {name: os.environ.get(name) for name in names}}

def boom(event, context):
    raise ValueError("no such light")

def slow(event, context):
    time.sleep(event["sleep"])
    return os.getpid()

def emf(event, context):
    print(json.dumps(EMF))
    print("not EMF: {}", file=sys.stderr)
    return "ok"

def die(event, context):
    os._exit(3)
'''


@pytest.fixture
def task_root(tmp_path):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    (tmp_path / "exits.py").write_text("import os\nos._exit(2)\n")
    return tmp_path


def run(task_root, handler, events, **kwargs) -> list[Result]:
    """Invoke `handlers.<handler>` (or a dotted handler as is) from the test task root."""
    handler = handler if "." in handler else f"handlers.{handler}"
    return invoke(events, handler=handler, task_root=task_root, echo=False, **kwargs)


def test_first_invocation_is_cold_the_rest_warm_in_the_same_process(task_root, monkeypatch):
    monkeypatch.setenv("HA_URL", "http://ha.invalid:8123")
    monkeypatch.setenv("AWS_LAMBDA_MAX_CONCURRENCY", "4")  # must not leak into the child
    cold, warm = run(task_root, "echo", [{"n": 1}, {"n": 2}], env={"HA_TOKEN": "t0ken"}, memory=512, timeout=5)

    assert cold.error is None and warm.error is None
    assert [cold.response["event"], warm.response["event"]] == [{"n": 1}, {"n": 2}]
    assert cold.response["pid"] == warm.response["pid"]
    assert cold.init_ms > 0 and warm.init_ms is None
    assert 0 < cold.response["remaining_ms"] <= 5000
    assert cold.response["request_id"] == cold.request_id != warm.request_id
    assert cold.response["arn"].endswith(":function:ha-alexa-bridge")
    assert cold.response["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "ha-alexa-bridge", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "_HANDLER": "handlers.echo",
        "LAMBDA_TASK_ROOT": str(task_root.resolve()), "AWS_REGION": cold.response["env"]["AWS_REGION"],
        "POWERTOOLS_SERVICE_NAME": cold.response["env"]["POWERTOOLS_SERVICE_NAME"],
        "HA_URL": "http://ha.invalid:8123", "HA_TOKEN": "t0ken", "AWS_LAMBDA_MAX_CONCURRENCY": None}
    assert cold.max_memory_mb > 0 and cold.duration_ms >= 0
    assert cold.logs[0] == f"START RequestId: {cold.request_id} Version: $LATEST"
    assert "handling {'n': 1}" in cold.logs
    assert cold.logs[-2] == f"END RequestId: {cold.request_id}"
    assert cold.logs[-1].startswith(f"REPORT RequestId: {cold.request_id}\tDuration: ")
    assert "Memory Size: 512 MB" in cold.logs[-1] and "Init Duration" in cold.logs[-1]
    assert "Init Duration" not in warm.logs[-1] and "handling {'n': 2}" in warm.logs


def test_an_exception_is_a_lambda_error_and_the_process_lives_on(task_root):
    failed, after = run(task_root, "boom", [{}, {}])
    assert failed.response is None
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "no such light"
    assert any(line.startswith("[ERROR] ValueError: no such light") for line in failed.logs)
    assert after.init_ms is None  # warm: same execution environment


def test_a_timeout_kills_the_process_and_the_next_event_starts_a_new_one(task_root):
    late, fresh = run(task_root, "slow", [{"sleep": 30}, {"sleep": 0}], timeout=0.5)
    assert late.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 0.50 seconds" in late.error["errorMessage"]
    assert any(line.endswith("Task timed out after 0.50 seconds") for line in late.logs)
    assert late.duration_ms >= 500
    assert fresh.error is None and isinstance(fresh.response, int)
    assert fresh.init_ms > 0  # cold again


def test_emf_lines_become_metrics(task_root):
    [result] = run(task_root, "emf", [{}])
    assert result.response == "ok"
    assert result.metrics == [
        {"name": "RequestLatency", "value": [12.5], "unit": "Milliseconds",
         "dimensions": {"service": "svc", "ErrorType": "BRIDGE_UNREACHABLE"}},
        {"name": "Errors", "value": [1.0], "unit": "Count",
         "dimensions": {"service": "svc", "ErrorType": "BRIDGE_UNREACHABLE"}}]
    assert "not EMF: {}" in result.logs
    assert format_metrics(result.metrics) == (
        "RequestLatency[ErrorType=BRIDGE_UNREACHABLE]=12.5ms Errors[ErrorType=BRIDGE_UNREACHABLE]=1")
    assert format_metrics([{"name": "ColdStart", "value": 1.0, "unit": "Count",
                            "dimensions": {"function_name": "f", "service": "s"}}]) == "ColdStart=1"


def test_an_init_error_is_reported_and_the_next_event_retries_init(task_root):
    first, second = run(task_root, "broken.handler", [{}, {}])
    for result in (first, second):
        assert result.error["errorType"] == "Runtime.ImportModuleError"
        assert "no_such_module_here" in result.error["errorMessage"]
        assert result.init_ms > 0


def test_a_process_that_exits_is_a_runtime_exit_error(task_root):
    [result] = run(task_root, "die", [{}])
    assert result.error["errorType"] == "Runtime.ExitError"
    assert result.error["errorMessage"].endswith("Runtime exited with error: exit status 3")
    [during_init] = run(task_root, "exits.handler", [{}])
    assert during_init.error["errorMessage"].endswith("Runtime exited with error: exit status 2")


@pytest.fixture
def project(task_root, monkeypatch):
    """The CLI runs the function from the project root: point that at the test handlers."""
    monkeypatch.setattr(local_invoke, "PROJECT_ROOT", task_root)
    event = task_root / "event.json"
    event.write_text(json.dumps({"hello": "world"}))
    return event


def test_cli_json_prints_one_object_per_invocation(project, monkeypatch, capsys):
    monkeypatch.setenv("HA_URL", "http://ha.invalid:8123")
    code = local_invoke.main([str(project), "--repeat", "2", "--json", "--quiet", "--handler", "handlers.echo"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 2
    cold, warm = map(json.loads, lines)
    assert cold["response"]["event"] == {"hello": "world"} and cold["error"] is None
    assert cold["init_ms"] > 0 and warm["init_ms"] is None
    assert set(cold) == {"request_id", "response", "error", "duration_ms", "init_ms", "max_memory_mb", "metrics"}


def test_cli_prints_the_response_and_the_log_stream(project, monkeypatch, capsys):
    monkeypatch.setenv("HA_URL", "http://ha.invalid:8123")
    assert local_invoke.main([str(project), "--handler", "handlers.emf"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == "ok"
    assert "using Home Assistant at http://ha.invalid:8123" in err
    assert err.index("START RequestId") < err.index("REPORT RequestId") < err.index("METRICS RequestLatency")
    assert local_invoke.main([str(project), "--handler", "handlers.boom"]) == 1
    assert json.loads(capsys.readouterr().out)["errorType"] == "ValueError"


def test_cli_without_ha_url_starts_a_demo_home_assistant(project, monkeypatch, capsys):
    calls = []

    class FakeDemo:  # the API of devtools.demo_ha.DemoHomeAssistant, without installing Home Assistant
        url, token = "http://127.0.0.1:8999", "demo-token"

        def __enter__(self):
            calls.append("start")
            return self

        def __exit__(self, *exc):
            calls.append("stop")

    monkeypatch.delenv("HA_URL", raising=False)
    monkeypatch.setitem(sys.modules, "devtools.demo_ha", types.SimpleNamespace(DemoHomeAssistant=FakeDemo))
    assert local_invoke.main([str(project), "--json", "--handler", "handlers.echo"]) == 0
    out, err = capsys.readouterr()
    env = json.loads(out)["response"]["env"]
    assert (env["HA_URL"], env["HA_TOKEN"]) == ("http://127.0.0.1:8999", "demo-token")
    assert "no HA_URL set: starting a demo Home Assistant at http://127.0.0.1:8999" in err
    assert calls == ["start", "stop"]
