"""The Home Assistant the integration tests run against: what the other tests rely on."""

import socket
import time
import uuid

import pytest

from devtools.demo_ha import HTTP_STORE, DemoHomeAssistant
from devtools.ha_install import version_at_least


def discovery_directive(token: str) -> dict:
    return {
        "directive": {
            "header": {
                "namespace": "Alexa.Discovery",
                "name": "Discover",
                "payloadVersion": "3",
                "messageId": str(uuid.uuid4()),
            },
            "payload": {"scope": {"type": "BearerToken", "token": token}},
        }
    }


def test_api_answers_with_the_token(ha):
    assert ha.url.startswith("http://127.0.0.1:")
    assert ha.api("GET", "/api/") == (200, {"message": "API running."})


def test_demo_entities_exist(ha):
    status, light = ha.api("GET", "/api/states/light.kitchen_lights")
    assert status == 200
    assert light["attributes"]["friendly_name"] == "Kitchen Lights"
    assert ha.api("GET", "/api/states/lock.front_door").status == 200


def test_alexa_discovery_lists_the_demo_endpoints(ha):
    status, answer = ha.api("POST", "/api/alexa/smart_home", json=discovery_directive(ha.token))
    assert status == 200
    assert answer["event"]["header"]["namespace"] == "Alexa.Discovery"
    assert answer["event"]["header"]["name"] == "Discover.Response"
    endpoint_ids = {endpoint["endpointId"] for endpoint in answer["event"]["payload"]["endpoints"]}
    assert {"light#kitchen_lights", "lock#front_door", "switch#decorative_lights"} <= endpoint_ids


def test_without_alexa_the_endpoint_is_missing(make_ha):
    own = make_ha(alexa=False)
    assert own.api("POST", "/api/alexa/smart_home", json=discovery_directive(own.token)).status == 404


def test_alexa_config_can_filter_the_endpoints(make_ha):
    own = make_ha(alexa={"filter": {"include_entities": ["light.kitchen_lights", "lock.front_door"]}})
    answer = own.api("POST", "/api/alexa/smart_home", json=discovery_directive(own.token)).body
    endpoint_ids = {endpoint["endpointId"] for endpoint in answer["event"]["payload"]["endpoints"]}
    assert endpoint_ids == {"light#kitchen_lights", "lock#front_door"}


def test_restart_keeps_token_and_areas(make_ha):
    own = make_ha()
    area = own.ws_command({"type": "config/area_registry/create", "name": f"Harness {uuid.uuid4().hex[:6]}"})
    # On the device: HA 2026.10+ refuses an area of its own to an entity without a name of its own (the demo's).
    device_id = own.ws_command({"type": "config/entity_registry/get", "entity_id": "light.kitchen_lights"})[
        "device_id"]
    own.ws_command({"type": "config/device_registry/update", "device_id": device_id, "area_id": area["area_id"]})
    token, url = own.token, own.url

    own.restart()

    assert (own.token, own.url) == (token, url)
    assert own.api("GET", "/api/").status == 200
    listed = own.ws_command({"type": "config/device_registry/list"})
    assert [device["area_id"] for device in listed if device["id"] == device_id] == [area["area_id"]]


def test_a_second_start_never_hands_out_another_instances_url_and_token(make_ha, tmp_path):
    """A second start on the same config dir, or on a port a Home Assistant holds, is refused at once: it never
    waits, never truncates the running one's log, never reports the running one as its own."""
    own = make_ha()
    log = own.log_path.read_text()
    for second, words in ((DemoHomeAssistant(own.config_dir, port=own.port), f"already runs on {own.config_dir}"),
                          (DemoHomeAssistant(tmp_path / "fresh", port=own.port), f"port {own.port} on 127.0.0.1")):
        with pytest.raises(RuntimeError) as refused:
            second.start(timeout=20)
        assert words in str(refused.value) and "onboarded" not in str(refused.value)
        assert second.token is None and second.process is None
    assert own.log_path.read_text().startswith(log)
    assert own.api("GET", "/api/").status == 200


def test_a_port_taken_after_the_check_is_reported_from_home_assistants_log(ha_venv, tmp_path, monkeypatch):
    """Home Assistant keeps running when it cannot bind its port; its log line says so within a second."""
    with socket.create_server(("127.0.0.1", 0)) as taken:  # not Home Assistant; grabbed between check and bind
        demo = DemoHomeAssistant(tmp_path / "config", port=taken.getsockname()[1])
        monkeypatch.setattr(demo, "_check_port", lambda: None)
        started = time.monotonic()
        with pytest.raises(RuntimeError) as refused:
            demo.start(timeout=100)
    assert f"could not listen on 127.0.0.1:{demo.port}" in str(refused.value)
    assert "address already in use" in str(refused.value)  # HA's log line, quoted
    assert time.monotonic() - started < 60  # not the whole timeout
    assert demo.process is None  # stopped


def test_http_settings_need_no_trial_so_home_assistant_keeps_answering_past_five_minutes(make_ha):
    """HA 2026.8+ migrates http: from YAML into storage as a pending trial that it reverts, restarting (a plain
    hass exits), 5 minutes on unless promoted; the YAML port is ignored after. Started, nothing is pending and
    no revert is scheduled, and the settings are the YAML's, again after a restart."""
    own = make_ha(http={"login_attempts_threshold": 5})
    if not version_at_least(own.version, HTTP_STORE):
        assert own.http_config() is None
        pytest.skip(f"Home Assistant {own.version} reads http: from YAML at each start: there is no trial")
    for _ in range(2):
        state = own.http_config()
        assert (state["pending"], state["revert_at"], state["active_config_type"]) == (None, None, "stable")
        assert state["stable"]["server_port"] == own.port and state["stable"]["login_attempts_threshold"] == 5
        own.restart()
