"""The README's first command, `make demo`: with no HA_URL it starts a demo Home Assistant and answers Alexa,
through Amazon's Runtime Interface Emulator."""

import json
import os
import subprocess
import sys

from support import ROOT


def test_the_demo_runs_a_discovery_under_the_emulator_against_a_demo_home_assistant(ha_venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HA_", "BRIDGE_PRELOAD"))}
    run = subprocess.run([sys.executable, "-m", "devtools.local_invoke", "events/alexa.json", "--json",
                          "--env-vars", str(tmp_path / "absent.json")],  # a developer's env.json must not count
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "no HA_URL set: starting a demo Home Assistant" in run.stderr
    assert f"demo: Home Assistant {ha_venv.version} on Python " in run.stderr  # says which release runs
    (result,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert result["error"] is None
    event = result["response"]["event"]
    assert event["header"]["name"] == "Discover.Response"
    assert "light#kitchen_lights" in {endpoint["endpointId"] for endpoint in event["payload"]["endpoints"]}
    metrics = {metric["name"] for metric in result["metrics"]}
    assert {"ColdStart", "InitDuration", "RequestLatency", "HomeAssistantLatency"} <= metrics
    assert result["init_ms"] > 0
    # What the emulator printed, as `sam local invoke` shows it.
    assert "(rapid) exec " in run.stderr and "(rapid) INIT REPORT(durationMs:" in run.stderr
    assert f"REPORT RequestId: {result['request_id']}" in run.stderr
