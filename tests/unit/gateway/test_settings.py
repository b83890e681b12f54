"""Settings read from the environment (gateway.config): a switch accepts exactly its documented values; anything
else is refused, naming the setting, on every path, before Home Assistant hears anything."""

import json

import pytest

from fast_path import lambda_handler
from gateway import config
from support import FakeContext
from test_assist import OPERATOR_TOKEN, assert_valid, assist_event
from test_smart_home import assert_error, directive, ha_response

SWITCHES = ["ASSIST_ALLOW_OPERATOR_TOKEN", "HA_VERIFY_TLS"]
# What the old reading took for "on": every value but 0/false/no/off. None of them is documented.
UNDOCUMENTED = ["disabled", "n", "none", "never", "0", "no", "off", "1", "yes", "on", "ture"]


@pytest.mark.parametrize("value, expected", [("true", True), ("false", False), ("TRUE", True), (" False\n", False),
                                             ("", None)])
def test_a_switch_takes_its_documented_values(bridge_env, value, expected):
    bridge_env(ASSIST_ALLOW_OPERATOR_TOKEN=value, HA_VERIFY_TLS=value)
    settings = config.settings()
    assert settings.assist_allow_operator_token is (False if expected is None else expected)
    assert settings.verify_tls is (True if expected is None else expected)


@pytest.mark.parametrize("value", UNDOCUMENTED)
def test_an_unlinked_user_never_acts_as_the_operator_on_an_undocumented_value(fake_ha, bridge_env, output, value):
    ha = fake_ha(lambda *request: (200, {}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=OPERATOR_TOKEN, ASSIST_ALLOW_OPERATOR_TOKEN=value)
    answer = lambda_handler(assist_event("unlock the front door"), FakeContext())
    assert_valid(answer)
    assert ha.requests == []  # the operator's token went nowhere
    printed = output()
    assert "ASSIST_ALLOW_OPERATOR_TOKEN must be true or false" in printed
    assert "unexpected failure" not in printed


@pytest.mark.parametrize("name", SWITCHES)
def test_an_undocumented_value_refuses_a_directive_naming_the_setting(fake_ha, bridge_env, alexa_schema, output,
                                                                       name):
    ha = fake_ha(lambda method, path, headers, body: (200, ha_response(json.loads(body)), None))
    bridge_env(HA_URL=ha.url, **{name: "disabled"})
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    assert f"{name} must be true or false" in event["payload"]["message"]
    assert ha.requests == []
    assert "unexpected failure" not in output()


@pytest.mark.parametrize("name", SWITCHES)
def test_an_undocumented_value_fails_the_doctors_first_check_and_operator_actions(fake_ha, bridge_env, name):
    ha = fake_ha(lambda *request: (200, {}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=OPERATOR_TOKEN, **{name: "never"})
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    first = report["checks"][0]
    assert (first["check"], first["status"]) == ("url", "failed")
    assert f"{name} must be true or false" in first["detail"] and "true or false" in first["fix"]
    answer = lambda_handler({"devices": {"action": "state", "entity_id": "light.kitchen"}}, FakeContext())
    assert answer["error"]["type"] == "CONFIGURATION_ERROR"
    assert f"{name} must be true or false" in answer["error"]["message"]
    assert ha.requests == []


def test_an_undocumented_value_leaves_init_standing(bridge_env):
    # gateway.log and gateway.metrics read their names at import, during INIT: a bad switch must not fail that.
    import os
    import subprocess
    import sys

    env = {**os.environ, "HA_VERIFY_TLS": "never", "BRIDGE_PRELOAD": "ha_alexa,ha_assist,ha_devices"}
    code = "import lambda_function, gateway.log, gateway.metrics; print(gateway.metrics.SERVICE)"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ha-alexa-bridge" and "failed" not in run.stdout + run.stderr
