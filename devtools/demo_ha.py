"""A real Home Assistant core on 127.0.0.1 for the demo and the integration tests, with no human step.

Two releases are known (RELEASES): the oldest the bridge supports and the newest tested. ``BRIDGE_HA_VERSION``
picks one (``oldest``, ``newest`` or the version); unset, it is the newest this machine's own Pythons run.
Home Assistant is installed once into its own venv, cached outside the checkout in
``$BRIDGE_CACHE/ha-<version>-py<major.minor>`` (default ``~/.cache/ha-alexa-bridge``), and run as a
subprocess with the demo integration. A Python the release needs that the machine lacks (3.14 for 2026.11)
comes from a Debian root run through chroot (devtools.pythons), only when that release is asked for by name.
A long-lived token is created through onboarding the first time and kept in the config dir, so a restart of
the same config dir reuses it.

    python -m devtools.demo_ha start      # prints HA_URL=... and HA_TOKEN=..., runs until Ctrl-C
    python -m devtools.demo_ha install    # only builds the cached venv
    python -m devtools.demo_ha python     # says which Home Assistant and Python would run, or what is missing
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

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
# From HA 2026.8 the http: settings live in storage (.storage/http); http: in YAML is migrated into it once, as a
# trial that HA reverts, restarting, unless promoted within 5 minutes (homeassistant/components/http/config.py).
HTTP_STORE = "2026.8"

CONFIG_TEMPLATE = Path(__file__).with_name("ha_config") / "configuration.yaml"
TOKEN_FILE = "demo_token.json"
LOG_FILE = "hass.log"
LOCK_FILE = "demo_ha.lock"  # held by the running hass; holds its URL
# Home Assistant's log line when its port is taken; HA 2026.8+ then goes on with its stored settings (port 8123).
BIND_FAILED = ("Failed to create HTTP server at port", "The new HTTP configuration could not be applied")
READY_ENTITY = "light.kitchen_lights"
AUTHORIZE_PAGE = "<!DOCTYPE html><html><head><title>Home Assistant</title></head><body>demo login</body></html>\n"
USER = {"name": "Demo", "username": "demo", "password": "demo-password", "language": "en"}


class Response(NamedTuple):
    status: int
    body: Any  # parsed JSON when the body is JSON, else text


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
    venv.parent.mkdir(parents=True, exist_ok=True)
    for stale in venv.parent.glob(f".{venv.name}.build-*"):  # left by a killed build
        if not _alive(int(stale.name.rsplit("-", 1)[1])):
            shutil.rmtree(stale, ignore_errors=True)
    build = venv.with_name(f".{venv.name}.build-{os.getpid()}")
    shutil.rmtree(build, ignore_errors=True)
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
    aside = venv.with_name(f".{venv.name}.build-broken-{os.getpid()}")
    try:
        venv.rename(aside)
    except FileNotFoundError:  # another install moved it first
        return
    shutil.rmtree(aside, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, token: str | None = None, json_body: Any = None,
         form: dict | None = None, timeout: float = 10) -> Response:
    """One HTTP request; HTTP error statuses are returned, not raised."""
    import urllib.error  # here, like websocket below: importing this module stays cheap
    import urllib.parse
    import urllib.request

    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode(errors="replace")
    try:
        return Response(status, json.loads(text))
    except ValueError:
        return Response(status, text)


class DemoHomeAssistant:
    """A Home Assistant core with the demo integration on 127.0.0.1, started as a subprocess."""

    def __init__(self, config_dir: str | os.PathLike | None = None, alexa: bool | dict = True,
                 port: int | None = None, http: dict | None = None, extra_config: str = "",
                 version: str | None = None):
        """``alexa``: add ``alexa: smart_home:``; a dict is its content, e.g. ``{"filter": {...}}``.

        ``http``: more settings of the ``http:`` block, e.g. ``{"login_attempts_threshold": 3}``.
        ``extra_config``: configuration.yaml lines to add (top-level keys the template does not use).
        ``version``: the release (RELEASES, ``oldest``, ``newest``); default $BRIDGE_HA_VERSION, else the newest
        this machine's own Pythons run. ``self.version`` is the one running once started.
        """
        self.requested = version
        self.version: str | None = None
        self.installed: Installed | None = None
        self.http = http or {}
        self._own_dir = config_dir is None
        self.config_dir = Path(config_dir or tempfile.mkdtemp(prefix="demo-ha-"))
        self.alexa = alexa
        self.extra_config = extra_config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token: str | None = None
        self.process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.config_dir / LOG_FILE

    def start(self, timeout: float = 120) -> DemoHomeAssistant:
        """Install if needed, start hass, create or reuse the token, wait for the demo entities.

        ``timeout`` counts from the start of hass, not the first install. Raises RuntimeError, before touching
        the config dir's files, when another Home Assistant runs on the config dir or anything holds the port.
        """
        lock = self._lock_config_dir()
        try:
            self._check_port()
            self.installed = install(self.requested)
            self.version = self.installed.version
            self._write_config()
            with open(self.log_path, "wb") as log:  # this run's output; HA keeps home-assistant.log(.1) too
                self.process = subprocess.Popen(
                    self.installed.command(["-m", "homeassistant", "--skip-pip", "--log-no-color",
                                            "-c", str(self.config_dir)], binds=[self.config_dir]),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, pass_fds=(lock,),
                )
        finally:
            os.close(lock)  # hass holds the lock from here on, until it exits
        token_file = self.config_dir / TOKEN_FILE
        self.token = json.loads(token_file.read_text())["token"] if token_file.exists() else None
        deadline = time.monotonic() + timeout
        try:
            if self.token is None:
                self._wait(deadline, "onboarding", lambda: self._get("/api/onboarding").status == 200)
                self.token = self._create_token()
                token_file.write_text(json.dumps({"token": self.token}))
            self._wait(deadline, "the API", self._api_ready)
            self._promote_http_trial()
            self._wait(deadline, READY_ENTITY,
                       lambda: self.api("GET", f"/api/states/{READY_ENTITY}").status == 200)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30) -> None:
        """Terminate hass (it saves its state), kill it if it has not exited after ``timeout`` s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, timeout: float = 120) -> DemoHomeAssistant:
        """Stop and start again: same port, same config dir, same token."""
        self.stop()
        return self.start(timeout)

    def api(self, method: str, path: str, json: Any = None) -> Response:
        """A REST call with the token, e.g. ``api("GET", "/api/states/light.kitchen_lights")``."""
        return http(method, self.url + path, token=self.token, json_body=json)

    def ws_command(self, msg: dict) -> Any:
        """Send one WebSocket command (``{"type": ..., ...}``, no id) and return its result."""
        return _ws_command(self.url, self.token, msg)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> DemoHomeAssistant:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.config_dir, ignore_errors=True)

    def describe(self) -> str:
        """Which Home Assistant runs, on which Python, and (none asked for) what keeps the newest away."""
        return self.installed.describe() + ("" if self.requested or requested_version() else
                                            why_not_newest(self.version))

    def http_config(self) -> dict | None:
        """HA 2026.8+'s stored http: settings (WebSocket ``http/config``: stable, pending, revert_at), else None."""
        if not version_at_least(self.version or "", HTTP_STORE):
            return None
        return self.ws_command({"type": "http/config"})

    def _promote_http_trial(self) -> None:
        """Promote the trial HA 2026.8+ makes of http: in YAML, as an owner does in the UI; unpromoted, HA would
        revert to the default settings (port 8123) and restart, which ends a plain ``hass``, 5 minutes on."""
        state = self.http_config()
        if state and state.get("pending"):
            self.ws_command({"type": "http/config/promote"})

    def _write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        if version_at_least(self.version or "", HTTP_STORE):
            # Migrated once, http: in YAML is ignored after: this run's settings (port, the test's http) are the
            # YAML's only if the store made from the last run's is gone. HA is not running (the lock is held).
            (self.config_dir / ".storage" / "http").unlink(missing_ok=True)
        template = string.Template(CONFIG_TEMPLATE.read_text())
        alexa = ""
        if self.alexa:  # JSON is YAML: a dict goes in as a flow mapping
            smart_home = json.dumps(self.alexa) if isinstance(self.alexa, dict) else ""
            alexa = f"alexa:\n  smart_home: {smart_home}\n"
        http = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in self.http.items())
        config = template.substitute(port=self.port, config_dir=json.dumps(str(self.config_dir.resolve())),
                                     alexa=alexa, http=http)
        (self.config_dir / "configuration.yaml").write_text(config + "\n" + self.extra_config)
        # The frontend's login page (/auth/authorize), where Alexa's account linking starts; the real one is in the
        # frontend package, which the demo does not install (configuration.yaml: development_repo).
        (self.config_dir / "hass_frontend").mkdir(exist_ok=True)
        (self.config_dir / "hass_frontend" / "authorize.html").write_text(AUTHORIZE_PAGE)

    def _lock_config_dir(self) -> int:
        """Lock the config dir (an fd hass inherits): two Home Assistants on one .storage spoil each other's."""
        import fcntl

        self.config_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.config_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = os.read(fd, 200).decode(errors="replace").strip() or "an unknown port"
            os.close(fd)
            raise RuntimeError(f"another Home Assistant already runs on {self.config_dir} (at {running}): stop it"
                               " (Ctrl-C where it was started), or use another config dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, self.url.encode())
        return fd

    def _check_port(self) -> None:
        """Refuse a port something listens on: hass would fail to bind it and keep running without HTTP, while
        whatever holds the port answered in its place."""
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as hass binds: TIME_WAIT is no hindrance
            try:
                sock.bind(("127.0.0.1", self.port))
            except OSError as err:
                raise RuntimeError(f"port {self.port} on 127.0.0.1 is taken ({err.strerror}), by a program that is"
                                   " not this Home Assistant: stop it, or choose another port (--port; without it a"
                                   " free one is picked)") from None

    def _get(self, path: str) -> Response:
        try:
            return http("GET", self.url + path, token=self.token, timeout=5)
        except OSError as err:  # not listening yet
            return Response(0, str(err))

    def _api_ready(self) -> bool:
        status = self._get("/api/").status
        if status in (401, 403):
            raise RuntimeError(f"Home Assistant rejected the token saved in {self.config_dir / TOKEN_FILE}")
        return status == 200

    def _wait(self, deadline: float, what: str, ready) -> None:
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"hass exited with code {self.process.returncode} while waiting for "
                                   f"{what}; log {self.log_path}:\n{self.log_tail()}")
            log = self.log_tail(lines=10_000)
            failed = next((words for words in BIND_FAILED if words in log), None)
            if failed:  # another program took the port after the check: hass runs on without HTTP, or elsewhere
                line = next(line for line in log.splitlines() if failed in line)
                raise RuntimeError(f"Home Assistant could not listen on 127.0.0.1:{self.port}: another program"
                                   f" holds the port (its log: {line[line.index(failed):]}); start again on"
                                   " another port (--port; without it a free one is picked)")
            if "Activating recovery mode" in log:
                raise RuntimeError(f"Home Assistant started in recovery mode (bad configuration?); "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Home Assistant not ready ({what}) at {self.url}; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.2)

    def _create_token(self) -> str:
        """Onboard the owner user, log in with the auth code, and make a long-lived token."""
        client_id = self.url + "/"
        answer = http("POST", self.url + "/api/onboarding/users", json_body={"client_id": client_id, **USER})
        if answer.status != 200:
            raise RuntimeError(f"onboarding failed ({answer.status}: {answer.body}); if {self.config_dir} "
                               f"was onboarded before, its {TOKEN_FILE} is lost: delete the dir")
        answer = http("POST", self.url + "/auth/token", form={
            "grant_type": "authorization_code", "code": answer.body["auth_code"], "client_id": client_id})
        if answer.status != 200:
            raise RuntimeError(f"login failed ({answer.status}: {answer.body})")
        return _ws_command(self.url, answer.body["access_token"], {
            "type": "auth/long_lived_access_token",
            "client_name": f"demo_ha {uuid.uuid4().hex[:8]}",
            "lifespan": 365,
        })


def _ws_command(url: str, token: str, msg: dict) -> Any:
    import websocket  # websocket-client

    ws = websocket.create_connection(url.replace("http", "ws", 1) + "/api/websocket", timeout=30)
    try:
        ws.recv()  # auth_required
        ws.send(json.dumps({"type": "auth", "access_token": token}))
        answer = json.loads(ws.recv())
        if answer.get("type") != "auth_ok":
            raise RuntimeError(f"WebSocket auth failed: {answer}")
        ws.send(json.dumps({**msg, "id": 1}))
        while True:
            answer = json.loads(ws.recv())
            if answer.get("id") == 1 and answer.get("type") == "result":
                break
    finally:
        ws.close()
    if not answer.get("success"):
        raise RuntimeError(f"WebSocket command {msg.get('type')} failed: {answer.get('error')}")
    return answer.get("result")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m devtools.demo_ha", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    versions = f"oldest, newest, {', '.join(RELEASES)} (default: $BRIDGE_HA_VERSION, else the newest that runs here)"
    install_cmd = sub.add_parser("install", help="build the cached Home Assistant venv only")
    check = sub.add_parser("python", help="say which Home Assistant and Python would run, or what is missing")
    start = sub.add_parser("start", help="start the demo Home Assistant until Ctrl-C")
    for command in (install_cmd, check, start):
        command.add_argument("--version", help=versions)
    start.add_argument("--config-dir", help="kept between runs, so the token stays the same (default:"
                       f" {cache_dir() / 'demo-config-VERSION'})")
    start.add_argument("--port", type=int)
    start.add_argument("--no-alexa", dest="alexa", action="store_false", help="leave out `alexa: smart_home:`")
    args = parser.parse_args(argv)

    if args.command == "python":
        try:
            version, python = find_python(args.version)
        except (pythons.Unavailable, RuntimeError) as err:
            print(err, file=sys.stderr)
            return 3
        print(f"Home Assistant {version} on {python.describe()}")
        return 0
    if args.command == "install":
        installed = install(args.version)
        print(f"{installed.describe()}: {installed.venv}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # One config dir per release: a newer Home Assistant migrates .storage, which an older one cannot read.
    config_dir = args.config_dir or cache_dir() / f"demo-config-{find_python(args.version)[0]}"
    ha = DemoHomeAssistant(config_dir, alexa=args.alexa, port=args.port, version=args.version)
    try:
        started = time.monotonic()
        ha.start()
        print(f"{ha.installed.describe()} ready in {time.monotonic() - started:.1f} s; log {ha.log_path}; Ctrl-C"
              " stops it", file=sys.stderr, flush=True)
        print(f"HA_URL={ha.url}\nHA_TOKEN={ha.token}", flush=True)
        while ha.process.poll() is None:
            time.sleep(1)
        print(f"hass exited with code {ha.process.returncode}:\n{ha.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        ha.stop()


if __name__ == "__main__":
    sys.exit(main())
