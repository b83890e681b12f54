"""Home Assistant's installation for devtools.demo_ha: which release runs, on which Python, and its cached venv.

Two releases are known (RELEASES): the oldest the bridge supports and the newest tested. ``BRIDGE_HA_VERSION``
picks one (``oldest``, ``newest`` or the version); unset, it is the newest this machine's own Pythons run.
Home Assistant is installed once into its own venv, cached outside the checkout in
``$BRIDGE_CACHE/ha-<version>-py<major.minor>`` (default ``~/.cache/ha-alexa-bridge``), with the requirements of
the integrations the demo loads (hass then runs with --skip-pip). A Python the release needs that the machine
lacks (3.14 for 2026.11) comes from a Debian root run through chroot (devtools.pythons), only when that release
is asked for by name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from devtools import pythons

# The Home Assistant releases the demo and the tests run, oldest first, with the Pythons each accepts
# (lowest, below): the oldest the bridge supports and the newest tested.
RELEASES = {"2025.4.4": ((3, 13, 0), (3, 14)), "2026.11.0": ((3, 14, 2), (3, 15))}
OLDEST, NEWEST = next(iter(RELEASES)), next(reversed(RELEASES))
# Integrations whose requirements are pre-installed (hass runs with --skip-pip): what the config loads,
# what HA always loads, and the platforms of the demo integration. Their dependencies are added from
# the manifests. Not frontend's own requirement: its package is big and the UI is not needed.
INTEGRATIONS = """
    frontend homeassistant persistent_notification logger network system_log http api websocket_api config intent
    conversation alexa demo analytics application_credentials backup hardware system_health automation
    person scene script tag zone counter input_boolean input_button input_datetime input_number
    input_select input_text schedule timer sun air_quality alarm_control_panel binary_sensor button
    camera calendar climate cover date datetime event fan humidifier light lock media_player notify
    number select sensor siren stt switch text time update vacuum valve water_heater weather tts
    image_processing device_tracker
""".split()
# What the demo of HA 2026.x loads besides: its infrared and radio_frequency platforms, and assist_satellite,
# which HA's service descriptions import (without it /api/services answers 500).
INTEGRATIONS_2026 = "infrared radio_frequency assist_satellite assist_pipeline".split()
# Requirements of a release that have no wheel for its Python, and the release of the same package that has one
# with the same API: HA 2026.11's assist_pipeline pins pymicro-vad 1.0.1 and pyspeex-noise 1.0.2, which need a
# C++ compiler on Python 3.14; their 2.x are abi3 wheels of the same classes (MicroVad, AudioProcessor).
WHEEL_OVERRIDES = {"2026.11.0": {"pymicro-vad": "2.1.0", "pyspeex-noise": "2.0.1"}}
# HA 2025.4's own pins allow josepy 2, which breaks its acme (via hass-nabucasa): every request would answer
# 500. HA 2026.x's hass-nabucasa needs josepy 2.
EXTRA_CONSTRAINTS = {"2025.4.4": ["josepy<2"]}


class Installed(NamedTuple):
    """A cached Home Assistant: its version, its venv, and the venv's interpreter (in a Debian root, or not)."""

    version: str
    venv: Path
    python: pythons.Python

    def command(self, args: list[str], binds: list[Path] = ()) -> list[str]:
        return self.python._replace(executable=str(venv_python(self.venv))).command(args, binds)

    def describe(self) -> str:
        return f"Home Assistant {self.version} on {self.python.describe()}"


def cache_dir() -> Path:
    return pythons.cache_dir()


def version_at_least(version: str, least: str) -> bool:
    """``version_at_least("2026.11.0", "2026.8")``: release numbers compared as numbers."""
    def numbers(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())
    return numbers(version) >= numbers(least)


def requested_version(version: str | None = None) -> str | None:
    """The release asked for (argument, else $BRIDGE_HA_VERSION; ``oldest``/``newest`` named), None for any."""
    version = (version or os.environ.get("BRIDGE_HA_VERSION") or "").strip()
    version = {"oldest": OLDEST, "newest": NEWEST}.get(version, version)
    if version and version not in RELEASES:
        raise RuntimeError(f"BRIDGE_HA_VERSION={version}: not a release this project runs; use oldest, newest or"
                           f" one of {', '.join(RELEASES)}")
    return version or None


def find_python(version: str | None = None, python: str | pythons.Python | None = None
                ) -> tuple[str, pythons.Python]:
    """The release to run and its Python. A release asked for by name may use a Debian root's Python (root only);
    with none asked for, the newest release this machine's own Pythons run is taken."""
    version = requested_version(version)
    if isinstance(python, str):  # an interpreter given: the release it runs
        python = pythons.Python(python, pythons._version(python) or (0, 0, 0))
    if python is not None:
        fits = [v for v, (lowest, below) in RELEASES.items() if lowest <= python.version < below]
        if version in fits or (version is None and fits):
            return version or fits[-1], python
        raise RuntimeError(f"{python.describe()} runs no Home Assistant release of {', '.join(RELEASES)}"
                           + (f" but not {version}" if version else ""))
    if version:
        return version, pythons.python_for(*RELEASES[version])
    missing = []
    for candidate in reversed(RELEASES):
        try:
            return candidate, pythons.python_for(*RELEASES[candidate], root=False)
        except pythons.Unavailable as err:
            missing.append(f"Home Assistant {candidate}: {err}")
    raise pythons.Unavailable("no Python here runs a Home Assistant this project knows:\n" + "\n".join(missing))


def why_not_newest(version: str) -> str:
    """What keeps this machine from the newest release without root tricks ("" when it runs it), for the demo."""
    if version == NEWEST:
        return ""
    lowest = ".".join(map(str, RELEASES[NEWEST][0]))
    return (f" (Home Assistant {NEWEST} needs Python >= {lowest}, which this machine lacks: install it, or, as root,"
            f" BRIDGE_HA_VERSION=newest runs it from a Debian root)")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def install(version: str | None = None, python: str | pythons.Python | None = None) -> Installed:
    """Return the cached Home Assistant venv of the release asked for, building it first if it is missing."""
    version, python = find_python(version, python)
    py = f"{python.version[0]}.{python.version[1]}"
    venv = cache_dir() / (f"ha-{version}-py{py}" + (f"-{python.root.name}" if python.root else ""))
    installed = Installed(version, venv, python)
    if python.exists(venv_python(venv)):
        return installed
    _discard_broken(venv)
    # Build under a temporary name and rename when complete: an interrupted build is never taken for a
    # good one. The venv is always run as `python -m ...`, so its scripts' absolute paths don't matter.
    build = pythons.build_dir(venv)
    print(f"installing {installed.describe()} into {venv} (first time, about 2 minutes)",
          file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        subprocess.run(python.command(["-m", "venv", str(build)]), check=True)
        pip = python.wrap([str(venv_python(build)), "-m", "pip", "--disable-pip-version-check"])
        wheels = build / "wheels"
        subprocess.run([*pip, "download", "-q", "--no-deps", f"homeassistant=={version}", "-d", str(wheels)],
                       check=True)
        wheel = next(wheels.glob("homeassistant-*.whl"))
        constraints, requirements = _pins_and_requirements(wheel, version)
        overrides = WHEEL_OVERRIDES.get(version, {})
        constraints = "\n".join(line for line in constraints.splitlines() if line.split("==")[0] not in overrides)
        requirements = [f"{r.split('==')[0]}=={overrides[r.split('==')[0]]}" if r.split("==")[0] in overrides
                        else r for r in requirements]
        constraints_file = build / "constraints.txt"
        constraints_file.write_text(constraints + "\n" + "\n".join(EXTRA_CONSTRAINTS.get(version, [])) + "\n")
        print(f"  {len(requirements)} integration requirements: {' '.join(requirements)}",
              file=sys.stderr, flush=True)
        subprocess.run([*pip, "install", "-q", "-c", str(constraints_file), str(wheel), *requirements],
                       check=True)
        shutil.rmtree(wheels)
        try:
            build.rename(venv)
        except OSError:  # another process finished the same build first
            if not venv_python(venv).exists():
                raise
            shutil.rmtree(build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    print(f"installed Home Assistant {version} in {time.monotonic() - started:.0f} s", file=sys.stderr,
          flush=True)
    return installed


def _discard_broken(venv: Path) -> None:
    """Delete a cached venv whose interpreter is gone (the Python it links to was removed or upgraded).

    Such a venv cannot run or be repaired, and its directory would block the rename of the new build. It is
    moved aside first, under the name the stale-build sweep knows, so that a concurrent install never sees half.
    """
    if not venv.is_dir():
        return
    link = venv_python(venv)
    target = os.readlink(link) if link.is_symlink() else "missing"
    print(f"the cached Home Assistant venv {venv} is broken: its interpreter {link} -> {target} is gone (was that"
          " Python removed or upgraded?); building it again", file=sys.stderr, flush=True)
    pythons.move_aside_and_delete(venv)


def _pins_and_requirements(wheel: Path, version: str = OLDEST) -> tuple[str, list[str]]:
    """HA's package_constraints.txt and the requirements of INTEGRATIONS and their dependencies."""
    import zipfile

    with zipfile.ZipFile(wheel) as whl:
        constraints = whl.read("homeassistant/package_constraints.txt").decode()
        names = set(whl.namelist())
        seen: set[str] = set()
        requirements: set[str] = set()
        todo = INTEGRATIONS + (INTEGRATIONS_2026 if version_at_least(version, "2026.1") else [])
        while todo:
            domain = todo.pop()
            path = f"homeassistant/components/{domain}/manifest.json"
            if domain in seen or path not in names:
                continue
            seen.add(domain)
            manifest = json.loads(whl.read(path))
            if domain != "frontend":
                requirements.update(manifest.get("requirements", []))
            todo += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
    return constraints, sorted(requirements)
