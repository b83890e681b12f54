"""Test helpers importable by every test module (`from support import ...`); fixtures live in conftest.py."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "alexa" / "alexa_smart_home_message_schema.json"
TOKEN = "test-token-0123456789abcdef-SECRET"


def run_python(script: str, **env) -> dict:
    """Run `script` in a fresh interpreter in the project root; it prints one JSON line last."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HA_", "BRIDGE_", "POWERTOOLS_"))}
    full_env.update(env)
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=full_env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    return {"result": json.loads(run.stdout.strip().splitlines()[-1]), "stdout": run.stdout, "stderr": run.stderr}


class FakeContext:
    """The parts of the Lambda context the bridge reads."""

    def __init__(self, remaining_ms: int = 8000, request_id: str = "test-request"):
        self._until = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = request_id
        self.function_name = "test-bridge"
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:test-bridge"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._until - time.monotonic()) * 1000))


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


def load_template() -> dict:
    """template.yaml with its short forms in long form (!Ref X -> {"Ref": "X"}, !Sub s -> {"Fn::Sub": s})."""
    from devtools.function_env import load_template as load

    return load(ROOT / "template.yaml")


class ScriptedServer:
    """A TCP server on 127.0.0.1 that misbehaves on purpose: `serve(conn, index)` runs for each connection.

    `read_request(conn)` gives a script the next request; every request read is counted in `requests`, so a
    test can tell whether a request was sent again. `trickled` counts the bytes `trickle` has sent so far.
    """

    def __init__(self, serve):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = []
        self.trickled = 0
        self._serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        index = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()
            index += 1

    def _run(self, conn, index):
        with conn:
            try:
                self._serve(self, conn, index)
            except OSError:
                pass

    def read_request(self, conn) -> bytes | None:
        """The next whole request on `conn` (head and body), or None when the client closed it."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append(head + b"\r\n\r\n" + body)
        return self.requests[-1]

    def trickle(self, conn, data: bytes, every_s: float = 0.05) -> None:
        """Send `data` a byte at a time: each read on the other side gets something well within any timeout."""
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            self.trickled += 1
            time.sleep(every_s)

    def close(self):
        self.listener.close()


def http_answer(body: bytes = b'{"ok": true}', status: str = "200 OK", close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status.encode(), len(body), connection, body))


class DroppingListener:
    """A listener on 127.0.0.1 whose accept queue is full (backlog 0, one connection waiting): the kernel drops
    every further SYN, as on a lost packet or a dead address. `admit()` frees the queue once, so a retransmitted
    SYN gets through, and holds that connection open without a word (a stalled TLS handshake)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port))
        self.held = []

    def admit(self, after_s: float) -> None:
        def run():
            time.sleep(after_s)
            try:
                self.held.append(self.listener.accept()[0])  # the filler: the queue has room for one SYN again
                self.held.append(self.listener.accept()[0])  # the client's retransmitted SYN; never answered
            except OSError:  # closed by the test's end
                pass

        threading.Thread(target=run, daemon=True).start()

    def close(self):
        for sock in [self.filler, self.listener, *self.held]:
            sock.close()


def resolving(monkeypatch, name: str, *ports: int, delay_s: float = 0.0):
    """Make `name` resolve to 127.0.0.1 on each of `ports` in turn (one address each), after `delay_s`."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        time.sleep(delay_s)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p)) for p in ports]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# A handler module for the benchmark runner's tests: `busy` spends 50 ms of CPU, `idle` sleeps 100 ms.
TIMED_HANDLERS = (
    "import time\n"
    "def busy(event, context):\n"
    "    until = time.process_time() + 0.05\n"
    "    while time.process_time() < until:\n"
    "        pass\n"
    "    return {'ok': True}\n"
    "def idle(event, context):\n"
    "    time.sleep(0.1)\n"
)
