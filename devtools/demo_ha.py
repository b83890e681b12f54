"""A real Home Assistant core on 127.0.0.1 for the demo and the integration tests, with no human step.

The release is ``BRIDGE_HA_VERSION``'s (``oldest``, ``newest`` or the version); unset, it is the newest this
machine's own Pythons run. devtools.ha_install picks it and its Python and builds its cached venv the first time;
this module runs it as a subprocess with the demo integration. A long-lived token is created through onboarding
the first time and kept in the config dir, so a restart of the same config dir reuses it.

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

from devtools import ha_install, pythons

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

    headers, data = {}, None
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
        ``version``: the release (ha_install.RELEASES, ``oldest``, ``newest``); default $BRIDGE_HA_VERSION, else the
        newest this machine's own Pythons run. ``self.version`` is the one running once started.
        """
        self.requested = version
        self.version: str | None = None
        self.installed: ha_install.Installed | None = None
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
            self.installed = ha_install.install(self.requested)
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
            # Started: every integration set up and its entities added (a big home's YAML ones included), and then
            # no entity added or removed for a second (2026.x adds the backup event entity after it says RUNNING),
            # so that two Discoveries in a row offer the same endpoints, however loaded the machine.
            self._wait(deadline, "its start", self._started())
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
        return self.installed.describe() + ("" if self.requested or ha_install.requested_version() else
                                            ha_install.why_not_newest(self.version))

    def http_config(self) -> dict | None:
        """HA 2026.8+'s stored http: settings (WebSocket ``http/config``: stable, pending, revert_at), else None."""
        if not ha_install.version_at_least(self.version or "", HTTP_STORE):
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
        if ha_install.version_at_least(self.version or "", HTTP_STORE):
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

    def _started(self, quiet_s: float = 1.0):
        """A check for _wait: true once Home Assistant says RUNNING and the entity IDs in /api/states have not
        changed for ``quiet_s``."""
        last = [None, time.monotonic()]

        def check() -> bool:
            config = self.api("GET", "/api/config").body
            if not (isinstance(config, dict) and config.get("state") == "RUNNING"):
                return False
            seen = {state["entity_id"] for state in self.api("GET", "/api/states").body}
            if seen != last[0]:
                last[:] = seen, time.monotonic()
            return time.monotonic() - last[1] >= quiet_s
        return check

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


def _ws_command(url: str, token: str, msg: dict, timeout: float = 30) -> Any:
    """One command over the bridge's own WebSocket client (gateway.ha_websocket); raises its HomeAssistantError."""
    from gateway import ha_websocket
    from gateway.ha_client import HomeAssistantClient

    until = time.monotonic() + timeout
    with ha_websocket.connect(HomeAssistantClient(url), token, until) as ws:
        return ws.command(msg, until)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m devtools.demo_ha", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    versions = (f"oldest, newest, {', '.join(ha_install.RELEASES)} (default: $BRIDGE_HA_VERSION, else the newest"
                " that runs here)")
    install_cmd = sub.add_parser("install", help="build the cached Home Assistant venv only")
    check = sub.add_parser("python", help="say which Home Assistant and Python would run, or what is missing")
    start = sub.add_parser("start", help="start the demo Home Assistant until Ctrl-C")
    for command in (install_cmd, check, start):
        command.add_argument("--version", help=versions)
    start.add_argument("--config-dir", help="kept between runs, so the token stays the same (default:"
                       f" {ha_install.cache_dir() / 'demo-config-VERSION'})")
    start.add_argument("--port", type=int)
    start.add_argument("--no-alexa", dest="alexa", action="store_false", help="leave out `alexa: smart_home:`")
    args = parser.parse_args(argv)

    if args.command == "python":
        try:
            version, python = ha_install.find_python(args.version)
        except (pythons.Unavailable, RuntimeError) as err:
            print(err, file=sys.stderr)
            return 3
        print(f"Home Assistant {version} on {python.describe()}")
        return 0
    if args.command == "install":
        installed = ha_install.install(args.version)
        print(f"{installed.describe()}: {installed.venv}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # One config dir per release: a newer Home Assistant migrates .storage, which an older one cannot read.
    config_dir = args.config_dir or ha_install.cache_dir() / f"demo-config-{ha_install.find_python(args.version)[0]}"
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
