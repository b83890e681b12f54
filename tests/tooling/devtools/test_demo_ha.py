"""devtools.demo_ha without Home Assistant: a port or config dir that is someone else's, and a cached venv whose
interpreter is gone. Temporary cache and config dirs only; the real cache (~/.cache/ha-alexa-bridge) is never read."""

import fcntl
import os
import socket
import subprocess
import sys

import pytest

from devtools import demo_ha


@pytest.fixture
def no_install(monkeypatch, tmp_path):
    """A temporary BRIDGE_CACHE, and an install that fails the test if reached: these starts must stop before."""
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))

    def install(*args):
        raise AssertionError("start() went on to install and run Home Assistant")

    monkeypatch.setattr(demo_ha, "install", install)


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


def test_a_cached_venv_whose_python_is_gone_is_built_again(monkeypatch, tmp_path, capsys):
    """The venv links to the Python it was made with; once that Python is removed or upgraded, the venv is dead
    and its directory must not block the new one. pip and venv are stood in for; nothing is downloaded."""
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setitem(demo_ha.RELEASES, "2025.4.4", ((3, 11, 0), (3, 14)))  # whatever runs the tests
    venv = tmp_path / "cache" / f"ha-2025.4.4-py{py}"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / "site-packages").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "pyenv" / "versions" / "3.13.0" / "bin" / "python3.13")
    real_run = subprocess.run

    def run(args, **kwargs):
        args = [str(arg) for arg in args]
        if args[1:3] == ["-m", "venv"]:
            (demo_ha.Path(args[3]) / "bin").mkdir(parents=True)
            (demo_ha.Path(args[3]) / "bin" / "python").symlink_to(sys.executable)
        elif "download" in args:
            wheels = demo_ha.Path(args[args.index("-d") + 1])
            wheels.mkdir()
            (wheels / "homeassistant-0-py3-none-any.whl").write_bytes(b"")
        elif "install" not in args:
            return real_run(args, **kwargs)
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(demo_ha.subprocess, "run", run)
    monkeypatch.setattr(demo_ha, "_pins_and_requirements", lambda wheel, version: ("", []))

    assert demo_ha.install(python=sys.executable).venv == venv
    assert os.path.samefile(demo_ha.venv_python(venv), sys.executable)
    assert sorted(path.name for path in venv.parent.iterdir()) == [venv.name]  # nothing left aside
    assert "its interpreter" in capsys.readouterr().err
