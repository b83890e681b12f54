"""Shared test helpers: the Alexa schema, a Lambda-like context, bridge settings, a fake HA for unit tests."""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCHEMA = ROOT.parent / "shared" / "alexa" / "alexa_smart_home_message_schema.json"
TOKEN = "test-token-0123456789abcdef-SECRET"


class FakeContext:
    """The parts of the Lambda context the bridge reads."""

    def __init__(self, remaining_ms: int = 8000, request_id: str = "test-request"):
        import time

        self._until = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = request_id
        self.function_name = "test-bridge"

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._until - time.monotonic()) * 1000))


@pytest.fixture(scope="session")
def alexa_schema():
    """A validator for Alexa Smart Home messages (Amazon's schema, read from ../shared)."""
    if not SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the Alexa schema is missing at {SCHEMA}; CI must have ../shared")
        pytest.skip(f"the Alexa schema is not on this machine ({SCHEMA}); it ships beside the repo in CI")
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema)
    return validator


@pytest.fixture
def bridge_env(monkeypatch):
    """Set bridge settings for one test: `bridge_env(HA_URL=..., HA_TOKEN=...)`; other HA_ settings are cleared."""
    from gateway import config, ha_client, secrets

    for name in list(os.environ):
        if name.startswith(("HA_", "ASSIST_")):
            monkeypatch.delenv(name)

    def apply(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()
        ha_client._client.cache_clear()
        secrets._cache.clear()

    apply()
    yield apply
    config.settings.cache_clear()
    ha_client._client.cache_clear()
    secrets._cache.clear()


class FakeHomeAssistant:
    """A scripted HTTP server on 127.0.0.1 standing in for Home Assistant in unit tests.

    `answer` is a function (method, path, headers, body) -> (status, body bytes or JSON-able, headers dict);
    every request is recorded in `requests`.
    """

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as Home Assistant's server does; else each answer waits 40 ms

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload, headers = fake.answer(self.command, self.path, self.headers, body)
                if not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_ha():
    """Start a FakeHomeAssistant: `fake_ha(answer)`; stopped after the test."""
    servers = []

    def start(answer):
        server = FakeHomeAssistant(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
