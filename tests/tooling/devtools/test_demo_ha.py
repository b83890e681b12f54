"""devtools.demo_ha without Home Assistant: a port or config dir that is someone else's. Temporary cache and config
dirs only; the real cache (~/.cache/ha-alexa-bridge) is never read."""

import fcntl
import socket

import pytest

from devtools import demo_ha, ha_install


@pytest.fixture
def no_install(monkeypatch, tmp_path):
    """A temporary BRIDGE_CACHE, and an install that fails the test if reached: these starts must stop before."""
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))

    def install(*args):
        raise AssertionError("start() went on to install and run Home Assistant")

    monkeypatch.setattr(ha_install, "install", install)


def test_a_port_another_server_holds_is_refused_at_once_naming_it(no_install, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:  # a server that is not Home Assistant
        port = server.getsockname()[1]
        demo = demo_ha.DemoHomeAssistant(tmp_path / "config", port=port)
        with pytest.raises(RuntimeError) as refused:
            demo.start()
    message = str(refused.value)
    assert f"port {port} on 127.0.0.1 is taken" in message and "--port" in message
    assert not demo.log_path.exists() and not (demo.config_dir / demo_ha.TOKEN_FILE).exists()


def test_a_config_dir_another_home_assistant_runs_on_is_refused_and_its_log_kept(no_install, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / demo_ha.LOG_FILE).write_text("the running one's log\n")
    with open(config / demo_ha.LOCK_FILE, "w") as held:  # what a running hass holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("http://127.0.0.1:8123")
        held.flush()
        with pytest.raises(RuntimeError) as refused:
            demo_ha.DemoHomeAssistant(config, port=demo_ha.free_port()).start()
    assert f"another Home Assistant already runs on {config} (at http://127.0.0.1:8123)" in str(refused.value)
    assert (config / demo_ha.LOG_FILE).read_text() == "the running one's log\n"


def test_started_waits_past_running_until_no_entity_has_come_or_gone_for_a_second(tmp_path, monkeypatch):
    """Home Assistant 2026.x says RUNNING and then adds the backup integration's event entity: a Discovery right
    after start() and one a moment later offered different homes (test_big_home's rare failure)."""
    import time

    demo = demo_ha.DemoHomeAssistant(tmp_path / "config")
    began = time.monotonic()

    def api(method, path, json=None):
        if path == "/api/config":
            return demo_ha.Response(200, {"state": "RUNNING"})
        late = [{"entity_id": "event.backup_automatic_backup"}] if time.monotonic() - began > 0.5 else []
        return demo_ha.Response(200, [{"entity_id": "light.kitchen_lights"}, *late])

    monkeypatch.setattr(demo, "api", api)
    started = demo._started(quiet_s=1.0)
    checks = []
    while not started():
        checks.append(time.monotonic() - began)
        assert checks[-1] < 5, "never settled"
        time.sleep(0.1)
    assert time.monotonic() - began >= 1.5  # the late entity came at 0.5 s, then a quiet second
