"""The local runner: Amazon's Runtime Interface Emulator running the real awslambdaric, with tiny test handlers.

The emulator ships in the SAM CLI's cached venv (devtools/sam.py; the first run installs it, as `make lint` does).
"""

import json
import sys
import types

import pytest

from devtools import local_invoke
from devtools.function_env import env_json, function_settings, load_template
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
             "LAMBDA_TASK_ROOT", "AWS_REGION", "POWERTOOLS_SERVICE_NAME", "HA_URL", "HA_TOKEN", "BRIDGE_PRELOAD",
             "HA_VERIFY_TLS", "AWS_LAMBDA_MAX_CONCURRENCY", "HA_CA_BUNDLE", "AWS_LAMBDA_INITIALIZATION_TYPE")
    importable = {}
    for module in ("awslambdaric", "boto3", "pytest", "yaml", "requests"):
        try:
            __import__(module)
            importable[module] = True
        except ImportError:
            importable[module] = False
    return {"event": event, "remaining_ms": context.get_remaining_time_in_millis(), "pid": os.getpid(),
            "request_id": context.aws_request_id, "arn": context.invoked_function_arn, "cwd": os.getcwd(),
            "env": {name: os.environ.get(name) for name in names}, "importable": importable}

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
    monkeypatch.setenv("HA_URL", "http://ha.invalid:8123")  # declared by the template: the shell's value is used
    monkeypatch.setenv("HA_CA_BUNDLE", "/x.pem")  # not declared: like `sam local invoke`, not passed
    monkeypatch.setenv("AWS_LAMBDA_MAX_CONCURRENCY", "4")  # must not leak into the function
    cold, warm = run(task_root, "echo", [{"n": 1}, {"n": 2}], env={"HA_TOKEN": "t0ken"}, memory=512, timeout=5)

    assert cold.error is None and warm.error is None
    assert [cold.response["event"], warm.response["event"]] == [{"n": 1}, {"n": 2}]
    assert cold.response["pid"] == warm.response["pid"]
    assert cold.init_ms > 0 and warm.init_ms is None
    assert 0 < cold.response["remaining_ms"] <= 5000
    assert cold.response["request_id"] == cold.request_id != warm.request_id
    assert cold.response["arn"].endswith(":function:ha-alexa-bridge")
    assert cold.response["cwd"] == str(task_root.resolve())
    assert cold.response["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "ha-alexa-bridge", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "_HANDLER": "handlers.echo",
        "LAMBDA_TASK_ROOT": str(task_root.resolve()), "AWS_REGION": cold.response["env"]["AWS_REGION"],
        "POWERTOOLS_SERVICE_NAME": "ha-alexa-bridge", "BRIDGE_PRELOAD": "ha_alexa", "HA_VERIFY_TLS": "true",
        "HA_URL": "http://ha.invalid:8123", "HA_TOKEN": "t0ken", "AWS_LAMBDA_MAX_CONCURRENCY": None,
        "HA_CA_BUNDLE": None, "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}
    # Lambda's Python runtime: awslambdaric and boto3, nothing of the dev venv.
    assert cold.response["importable"] == {"awslambdaric": True, "boto3": True, "pytest": False, "yaml": False,
                                           "requests": False}
    assert cold.max_memory_mb > 0 and cold.duration_ms >= 0
    assert any("(rapid) INIT REPORT(durationMs:" in line for line in cold.logs)
    assert f"START RequestId: {cold.request_id} Version: $LATEST" in cold.logs
    assert "handling {'n': 1}" in cold.logs
    assert f"END RequestId: {cold.request_id}" in cold.logs
    report = next(line for line in cold.logs if line.startswith("REPORT RequestId:"))
    assert report.startswith(f"REPORT RequestId: {cold.request_id}") and "Memory Size: 512 MB" in report
    assert not any("INIT START" in line for line in warm.logs) and "handling {'n': 2}" in warm.logs


def test_the_template_gives_the_handler_timeout_memory_and_environment():
    function = function_settings(load_template())
    assert (function["handler"], function["timeout"], function["memory"]) == ("lambda_function.lambda_handler", 10,
                                                                             256)
    variables = function["variables"]
    assert variables["HA_URL"] == "" and variables["HA_TOKEN"] == ""  # no default: set by the shell or env.json
    assert (variables["HA_VERIFY_TLS"], variables["BRIDGE_PRELOAD"]) == ("true", "ha_alexa")
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "HomeAssistantBridge"


def test_env_json_is_read_in_the_format_of_sam_local_invoke(tmp_path):
    path = tmp_path / "env.json"
    assert env_json(path) == {}
    path.write_text(json.dumps({"Parameters": {"HA_URL": "https://a", "POWERTOOLS_LOG_LEVEL": "DEBUG"},
                                "BridgeFunction": {"HA_URL": "https://b", "HA_TOKEN": 5}, "Other": {"X": "y"}}))
    assert env_json(path) == {"HA_URL": "https://b", "POWERTOOLS_LOG_LEVEL": "DEBUG", "HA_TOKEN": "5"}
    path.write_text("[]")
    with pytest.raises(SystemExit, match="expected"):
        env_json(path)


def test_an_exception_is_a_lambda_error_and_the_process_lives_on(task_root):
    failed, after = run(task_root, "boom", [{}, {}])
    assert failed.response is None
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "no such light"
    assert any(line.startswith("[ERROR] ValueError: no such light") for line in failed.logs)
    assert after.init_ms is None and after.error is not None  # warm: same execution environment


def test_a_timeout_kills_the_process_and_the_next_event_starts_a_new_one(task_root):
    late, fresh = run(task_root, "slow", [{"sleep": 30}, {"sleep": 0}], timeout=1)
    assert late.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in late.error["errorMessage"]
    assert any("Reset initiated: Timeout" in line for line in late.logs)
    assert late.init_ms + late.duration_ms >= 1000  # the emulator's first deadline counts INIT (Lambda's does not)
    assert fresh.error is None and isinstance(fresh.response, int)
    assert fresh.init_ms > 0 and fresh.response != late.response  # cold again: a new runtime process


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
    """The CLI runs the function from a task root made of the project's code: make it the test handlers."""
    monkeypatch.setattr(local_invoke, "make_task_root", lambda directory: task_root)
    event = task_root / "event.json"
    event.write_text(json.dumps({"hello": "world"}))
    return event


def test_cli_json_prints_one_object_per_invocation(project, monkeypatch, capsys):
    monkeypatch.setenv("HA_URL", "http://ha.invalid:8123")
    code = local_invoke.main([str(project), "--repeat", "2", "--json", "--quiet", "--handler", "handlers.echo",
                              "--env-vars", str(project.parent / "no-env.json")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 2
    cold, warm = map(json.loads, lines)
    assert cold["response"]["event"] == {"hello": "world"} and cold["error"] is None
    assert cold["init_ms"] > 0 and warm["init_ms"] is None
    assert set(cold) == {"request_id", "response", "error", "duration_ms", "init_ms", "max_memory_mb", "metrics"}


def test_cli_prints_the_response_and_the_log_stream(project, monkeypatch, capsys):
    monkeypatch.setenv("HA_URL", "http://ha.invalid:8123")
    env_vars = ["--env-vars", str(project.parent / "no-env.json")]
    assert local_invoke.main([str(project), "--handler", "handlers.emf", *env_vars]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == "ok"
    assert "using Home Assistant at http://ha.invalid:8123" in err
    # The emulator writes START and its (rapid) lines from different goroutines: their order varies under load.
    assert max(err.index("START RequestId"), err.index("(rapid) INIT START")) < err.index("REPORT RequestId")
    assert err.index("REPORT RequestId") < err.index("MEASURED INIT") < err.index("METRICS RequestLatency")
    assert local_invoke.main([str(project), "--handler", "handlers.boom", *env_vars]) == 1
    assert json.loads(capsys.readouterr().out)["errorType"] == "ValueError"


def test_cli_without_ha_url_starts_a_demo_home_assistant(project, monkeypatch, capsys):
    calls = []

    class FakeDemo:  # the API of devtools.demo_ha.DemoHomeAssistant, without installing Home Assistant
        url, token = "http://127.0.0.1:8999", "demo-token"

        def describe(self):
            return "Home Assistant 2026.11.0 on Python 3.14.2 (python3.14)"

        def __enter__(self):
            calls.append("start")
            return self

        def __exit__(self, *exc):
            calls.append("stop")

    monkeypatch.delenv("HA_URL", raising=False)
    monkeypatch.setitem(sys.modules, "devtools.demo_ha", types.SimpleNamespace(DemoHomeAssistant=FakeDemo))
    assert local_invoke.main([str(project), "--json", "--handler", "handlers.echo",
                              "--env-vars", str(project.parent / "no-env.json")]) == 0
    out, err = capsys.readouterr()
    env = json.loads(out)["response"]["env"]
    assert (env["HA_URL"], env["HA_TOKEN"]) == ("http://127.0.0.1:8999", "demo-token")
    assert "no HA_URL set: starting a demo Home Assistant at http://127.0.0.1:8999" in err
    assert "demo: Home Assistant 2026.11.0 on Python 3.14.2 (python3.14)" in err  # says which release runs
    assert calls == ["start", "stop"]


def test_cli_env_json_overrides_the_shell_and_says_what_sam_would_ignore(project, monkeypatch, capsys):
    monkeypatch.setenv("HA_URL", "http://shell.invalid")
    env_file = project.parent / "env.json"
    env_file.write_text(json.dumps({"BridgeFunction": {"HA_URL": "http://env-json.invalid", "HA_TOKEN": "tok",
                                                       "HA_CA_BUNDLE": "/ca.pem"}}))
    assert local_invoke.main([str(project), "--json", "--handler", "handlers.echo", "--env-vars", str(env_file)]) == 0
    out, err = capsys.readouterr()
    env = json.loads(out)["response"]["env"]
    assert (env["HA_URL"], env["HA_TOKEN"], env["HA_CA_BUNDLE"]) == ("http://env-json.invalid", "tok", "/ca.pem")
    assert "using Home Assistant at http://env-json.invalid" in err
    assert "env.json sets HA_CA_BUNDLE, which template.yaml does not declare" in err


def test_without_the_sam_cli_the_message_says_how_to_get_the_emulator(monkeypatch):
    import subprocess

    from devtools import sam

    def no_network():
        raise subprocess.CalledProcessError(1, ["pip", "install", "aws-sam-cli"])

    monkeypatch.setattr(sam, "ensure_sam_venv", no_network)
    with pytest.raises(SystemExit, match="could not install the SAM CLI, which ships the emulator .*run `make lint`"):
        local_invoke.emulator_binary()
    monkeypatch.setattr(local_invoke.platform, "machine", lambda: "riscv64")
    with pytest.raises(SystemExit, match="ships for x86_64 and arm64, not for riscv64"):
        local_invoke.emulator_binary()


def test_the_emulator_is_this_machines_binary_from_the_sam_cli_package(tmp_path, monkeypatch):
    from devtools import sam

    rapid = tmp_path / "lib" / "python3.13" / "site-packages" / "samcli" / "local" / "rapid"
    rapid.mkdir(parents=True)
    for arch in ("x86_64", "arm64"):
        (rapid / f"aws-lambda-rie-{arch}").touch()
    monkeypatch.setattr(sam, "ensure_sam_venv", lambda: tmp_path)
    for machine, arch in (("x86_64", "x86_64"), ("AMD64", "x86_64"), ("aarch64", "arm64"), ("arm64", "arm64")):
        monkeypatch.setattr(local_invoke.platform, "machine", lambda machine=machine: machine)
        assert local_invoke.emulator_binary() == rapid / f"aws-lambda-rie-{arch}"
