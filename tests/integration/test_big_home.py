"""A big household through the bridge: the demo plus about 1,100 generated endpoints (devtools.big_home), written
as YAML into the configuration of the real Home Assistant these tests start."""

import sys

import pytest
import yaml

from bench import scale
from bench.runner import Bench
from bench.tls_proxy import ProxyProcess
from bench.variants import PROJECT_ROOT, bridge
from devtools.big_home import home_config
from devtools.demo_ha import DemoHomeAssistant
from fast_path import lambda_handler
from support import FakeContext

HOME = 1150
# The class 1, written out here rather than taken from the code under test.
DEVICES = {"light", "switch", "lock", "cover", "climate", "fan", "media_player", "vacuum", "humidifier",
           "water_heater", "valve", "alarm_control_panel"}


def started(home: DemoHomeAssistant) -> DemoHomeAssistant:
    try:
        return home.start()
    except Exception as err:  # noqa: BLE001 - a Home Assistant that cannot start fails the test, never skips it
        pytest.fail(f"Home Assistant could not start: {err}", pytrace=False)


@pytest.fixture(scope="module")
def big_ha(ha_venv, tmp_path_factory):
    home = started(DemoHomeAssistant(tmp_path_factory.mktemp("big"), extra_config=home_config(HOME)))
    yield home
    home.stop()


def discover(token: str) -> dict:
    return {"directive": {"header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                                     "messageId": "big-home"},
                          "payload": {"scope": {"type": "BearerToken", "token": token}}}}


def offered(home: DemoHomeAssistant) -> list[dict]:
    """What Home Assistant itself offers Alexa, without the bridge."""
    return home.api("POST", "/api/alexa/smart_home", discover(home.token)).body["event"]["payload"]["endpoints"]


def devices(endpoints) -> list[str]:
    return [e["endpointId"] for e in endpoints if e["endpointId"].split("#")[0] in DEVICES]


def assert_valid(schema, answer):
    errors = sorted(schema.iter_errors(answer), key=str)
    assert not errors, errors[0].message[:300]


def test_alexa_gets_every_device_fills_its_300_and_the_bridge_says_so_in_one_line(big_ha, bridge_env,
                                                                                    alexa_schema, output):
    everything = offered(big_ha)
    assert len(everything) > 1000
    assert len(devices(everything)) > 100
    assert devices(everything) != devices(everything[:300])  # in Home Assistant's order, devices come late
    bridge_env(HA_URL=big_ha.url)
    answer = lambda_handler(discover(big_ha.token), FakeContext())
    assert_valid(alexa_schema, answer)
    sent = answer["event"]["payload"]["endpoints"]
    assert len(sent) == 300  # every slot used
    assert devices(sent) == devices(everything)  # every device kept, in Home Assistant's order
    logs = [line for line in output().splitlines() if line.startswith("{") and '"_aws"' not in line]
    assert len(logs) <= 3, logs
    assert any(f'"offered":{len(everything)},"sent":300' in line for line in logs), logs


def test_the_doctor_counts_what_is_left_out_and_its_filter_brings_the_home_under_300_with_every_device(
        big_ha, bridge_env, tmp_path):
    everything = offered(big_ha)
    bridge_env(HA_URL=big_ha.url, HA_TOKEN=big_ha.token)
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    alexa = next(check for check in report["checks"] if check["check"] == "alexa")
    assert alexa["status"] == "warning"
    assert alexa["detail"].startswith(f"{len(everything):,} offered, Alexa takes 300: "
                                      f"{len(everything) - 300:,} left out: ")
    snippet = yaml.safe_load(alexa["fix"].split(":\n", 1)[1])
    include = snippet["alexa"]["smart_home"]["filter"]["include_domains"]
    assert DEVICES & {e["endpointId"].split("#")[0] for e in everything} <= set(include)
    # The same home with the proposed filter, in a Home Assistant of its own.
    filtered = started(DemoHomeAssistant(tmp_path, alexa=snippet["alexa"]["smart_home"],
                                         extra_config=home_config(HOME)))
    try:
        now = offered(filtered)
    finally:
        filtered.stop()
    assert 200 < len(now) <= 300
    assert set(devices(everything)) <= set(devices(now))


def test_16_cold_starts_at_once_all_answer_in_time_and_warm_bursts_reuse_their_connections(big_ha, alexa_schema):
    with ProxyProcess(big_ha.url, delay_ms=10) as proxy:
        bench = Bench(sys.executable, proxy, None, 256)
        variant = bridge(PROJECT_ROOT, "bridge (source)")
        rounds, connections = scale.burst(
            lambda events, on_result: bench.invoke(variant, events, on_result=on_result),
            scale.burst_events(big_ha.token, 3), lambda: proxy.connections)
    for results in rounds:
        for result in results:
            assert result.error is None, result.error
            assert_valid(alexa_schema, result.response)
            assert result.response["event"]["header"]["name"] == "Response"
    figures = scale.burst_figures(rounds, connections)
    assert figures["environments"] == 16 and figures["answered"] == 48
    assert figures["cold_ms"]["max"] < 8000  # Alexa's limit; the median and p95 are bench.scale's to report
    assert figures["cold_connections"] == 16 and figures["warm_new_connections"] == 0
    state = big_ha.api("GET", "/api/states/light.big_lamp_15").body
    assert state["state"] == "on"  # rounds: TurnOn, TurnOff, TurnOn


def test_with_a_label_the_big_home_sends_only_the_labelled_entities_and_devices(big_ha, bridge_env, alexa_schema):
    everything = [e["endpointId"].replace("#", ".", 1) for e in offered(big_ha)]
    registry = {e["entity_id"]: e for e in big_ha.ws_command({"type": "config/entity_registry/list"})}
    label = big_ha.ws_command({"type": "config/label_registry/create", "name": "Alexa"})["label_id"]
    chosen = [e for e in everything if registry.get(e, {}).get("platform") == "template"][-40:]  # late in HA's order
    for entity_id in chosen:
        big_ha.ws_command({"type": "config/entity_registry/update", "entity_id": entity_id, "labels": [label]})
    on_device = next(e for e in everything if registry.get(e, {}).get("device_id"))  # one of the demo's devices
    device = registry[on_device]["device_id"]
    big_ha.ws_command({"type": "config/device_registry/update", "device_id": device, "labels": [label]})
    labelled = set(chosen) | {e for e, entry in registry.items() if entry.get("device_id") == device}
    bridge_env(HA_URL=big_ha.url, ALEXA_EXPOSE="label:Alexa")
    answer = lambda_handler(discover(big_ha.token), FakeContext())
    assert_valid(alexa_schema, answer)
    sent = [e["endpointId"].replace("#", ".", 1) for e in answer["event"]["payload"]["endpoints"]]
    assert sent == [entity_id for entity_id in everything if entity_id in labelled]
    assert on_device in sent and len(sent) > 40 and len(everything) > 1000


def test_over_300_with_assist_the_doctor_proposes_hiding_in_the_ui(big_ha, bridge_env):
    bridge_env(HA_URL=big_ha.url, HA_TOKEN=big_ha.token, ALEXA_EXPOSE="assist")
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    alexa = next(check for check in report["checks"] if check["check"] == "alexa")
    assert alexa["status"] == "warning", alexa
    assert "ALEXA_EXPOSE=assist: " in alexa["detail"] and " hidden (" in alexa["detail"]
    assert "from Assist in Settings > Voice assistants > Expose" in alexa["fix"] and "filter:" not in alexa["fix"]
