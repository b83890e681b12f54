"""devtools.ha_install without installing Home Assistant: a cached venv whose interpreter is gone. A temporary cache
only; the real cache (~/.cache/ha-alexa-bridge) is never read."""

import os
import subprocess
import sys
from pathlib import Path

from devtools import ha_install


def test_a_cached_venv_whose_python_is_gone_is_built_again(monkeypatch, tmp_path, capsys):
    """The venv links to the Python it was made with; once that Python is removed or upgraded, the venv is dead
    and its directory must not block the new one. pip and venv are stood in for; nothing is downloaded."""
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setitem(ha_install.RELEASES, "2025.4.4", ((3, 11, 0), (3, 14)))  # whatever runs the tests
    venv = tmp_path / "cache" / f"ha-2025.4.4-py{py}"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / "site-packages").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "pyenv" / "versions" / "3.13.0" / "bin" / "python3.13")
    real_run = subprocess.run

    def run(args, **kwargs):
        args = [str(arg) for arg in args]
        if args[1:3] == ["-m", "venv"]:
            (Path(args[3]) / "bin").mkdir(parents=True)
            (Path(args[3]) / "bin" / "python").symlink_to(sys.executable)
        elif "download" in args:
            wheels = Path(args[args.index("-d") + 1])
            wheels.mkdir()
            (wheels / "homeassistant-0-py3-none-any.whl").write_bytes(b"")
        elif "install" not in args:
            return real_run(args, **kwargs)
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(ha_install.subprocess, "run", run)
    monkeypatch.setattr(ha_install, "_pins_and_requirements", lambda wheel, version: ("", []))

    assert ha_install.install(python=sys.executable).venv == venv
    assert os.path.samefile(ha_install.venv_python(venv), sys.executable)
    assert sorted(path.name for path in venv.parent.iterdir()) == [venv.name]  # nothing left aside
    assert "its interpreter" in capsys.readouterr().err
