"""The WebSocket client: authentication, ids matched to results, events kept, deadlines, clear errors.

Also home of the fakes the ha_devices tests share: `FakeHA` (REST and WebSocket on one port, as Home Assistant
serves them, optionally over TLS) and `make_certificate`.
"""

import base64
import datetime
import hashlib
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway import ha_websocket
from gateway.errors import HomeAssistantBadAnswer, HomeAssistantUnreachable
from gateway.ha_client import HomeAssistantClient
from support import ROOT, TOKEN, resolving

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HA_VERSION = "2025.4.4"


class WebSocketPeer:
    """The server's side of one WebSocket: JSON messages in and out (RFC 6455 framing, text frames only)."""

    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self.received = []

    def send(self, message) -> None:
        self.send_raw(json.dumps(message).encode())

    def send_raw(self, data: bytes, opcode: int = 0x1) -> None:
        size = len(data)
        if size < 126:
            header = bytes([0x80 | opcode, size])
        elif size < 65536:
            header = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
        self.wfile.write(header + data)
        self.wfile.flush()

    def recv(self):
        """The next JSON message from the client; None when it closed."""
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return None
            opcode, size = head[0] & 0x0F, head[1] & 0x7F
            if size == 126:
                size = int.from_bytes(self.rfile.read(2), "big")
            elif size == 127:
                size = int.from_bytes(self.rfile.read(8), "big")
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
            if opcode == 0x8:  # close: answer it and stop
                self.send_raw(data[:2], opcode=0x8)
                return None
            if opcode == 0x1:
                message = json.loads(data)
                self.received.append(message)
                return message


def serve_home_assistant(commands: dict, token: str = TOKEN, version: str = HA_VERSION):
    """A WebSocket script that authenticates like Home Assistant and answers commands by type.

    `commands` maps a command type to its result, or to a function (message, peer) -> result that may send
    messages of its own; a result of the form {"error": {...}} is sent as a failed result.
    """

    def script(peer: WebSocketPeer) -> None:
        peer.send({"type": "auth_required", "ha_version": version})
        auth = peer.recv()
        if not auth or auth.get("access_token") != token:
            peer.send({"type": "auth_invalid", "message": "Invalid access token or password"})
            return
        peer.send({"type": "auth_ok", "ha_version": version})
        while (message := peer.recv()) is not None:
            if message["type"] == "ping":
                peer.send({"id": message["id"], "type": "pong"})
                continue
            unknown = {"error": {"code": "unknown_command", "message": "Unknown command."}}
            answer = commands.get(message["type"], unknown)
            if callable(answer):
                answer = answer(message, peer)
            if isinstance(answer, dict) and set(answer) == {"error"}:
                peer.send({"id": message["id"], "type": "result", "success": False, **answer})
            else:
                peer.send({"id": message["id"], "type": "result", "success": True, "result": answer})

    return script


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (the doctor's TLS probes do, by design) are no test failure


class FakeHA:
    """Home Assistant's REST and WebSocket APIs on one 127.0.0.1 port, each scripted by the test.

    `rest(method, path, body) -> (status, JSON-able or bytes[, content type])`; `websocket(peer)` runs the
    WebSocket side (see `serve_home_assistant`). `tls` is an ssl.SSLContext for https/wss.
    """

    def __init__(self, rest=None, websocket=None, tls: ssl.SSLContext | None = None, upgrade_status: int = 101,
                 upgrade_body: bytes = b""):
        self.rest = rest or (lambda method, path, body: (404, {"message": "Not found"}))
        self.websocket = websocket or serve_home_assistant({})
        self.upgrade_status, self.upgrade_body = upgrade_status, upgrade_body
        self.requests, self.peers = [], []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                if self.path.endswith("/api/websocket") and self.headers.get("Upgrade", "").lower() == "websocket":
                    return self._upgrade()
                self._rest()

            def do_POST(self):
                self._rest()

            def _rest(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                answer = fake.rest(self.command, self.path, json.loads(body) if body else None)
                status, payload = answer[0], answer[1]
                content_type = answer[2] if len(answer) > 2 else "application/json"
                if not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _upgrade(self):
                fake.requests.append(("WEBSOCKET", self.path, dict(self.headers), b""))
                if fake.upgrade_status != 101:
                    self.send_response(fake.upgrade_status)
                    self.send_header("Content-Length", str(len(fake.upgrade_body)))
                    self.end_headers()
                    self.wfile.write(fake.upgrade_body)
                    return
                key = self.headers["Sec-WebSocket-Key"]
                accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.end_headers()
                self.wfile.flush()
                peer = WebSocketPeer(self.rfile, self.wfile)
                fake.peers.append(peer)
                try:
                    fake.websocket(peer)
                except OSError:
                    pass
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_certificate(directory, names=("localhost", "127.0.0.1"), days=365, expired=False):
    """A self-signed certificate for `names`; returns (cert path, server ssl.SSLContext)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    start, end = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days))
    alt = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bridge Test CA")])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"cert-{names[0]}.pem", directory / f"key-{names[0]}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return cert_path, server


@pytest.fixture
def fake_ha_ws():
    """Start a FakeHA: `fake_ha_ws(rest=..., websocket=...)`; closed after the test."""
    servers = []

    def start(**kwargs):
        servers.append(FakeHA(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def until(seconds=5.0):
    return time.monotonic() + seconds


# ---- the tests ----


def test_authenticates_and_matches_a_result_to_its_command(fake_ha_ws):
    ha = fake_ha_ws(websocket=serve_home_assistant({"get_config": {"version": HA_VERSION}}))
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        assert ws.ha_version == HA_VERSION
        assert ws.command({"type": "get_config"}, until()) == {"version": HA_VERSION}
        assert ws.command({"type": "ping"}, until()) is None
    auth, command, ping = ha.peers[0].received[:3]
    assert auth == {"type": "auth", "access_token": TOKEN}
    assert command == {"type": "get_config", "id": 1}
    assert ping == {"type": "ping", "id": 2}


def test_results_arriving_out_of_order_and_events_before_them_are_kept(fake_ha_ws):
    def script(peer):
        peer.send({"type": "auth_required"})
        peer.recv()
        peer.send({"type": "auth_ok", "ha_version": HA_VERSION})
        first, second, third = peer.recv(), peer.recv(), peer.recv()
        # Events of the subscription, then the results in reverse order, one frame holding two messages.
        peer.send({"id": first["id"], "type": "event", "event": {"n": 1}})
        peer.send({"id": first["id"], "type": "event", "event": {"n": 2}})
        peer.send({"id": third["id"], "type": "result", "success": True, "result": "third"})
        peer.send([{"id": second["id"], "type": "result", "success": True, "result": "second"},
                   {"id": first["id"], "type": "result", "success": True, "result": None}])
        peer.send({"id": first["id"], "type": "event", "event": {"n": 3}})
        peer.recv()

    ha = fake_ha_ws(websocket=script)
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        subscription = ws.send({"type": "subscribe_events"})
        second, third = ws.send({"type": "a"}), ws.send({"type": "b"})
        assert ws.result(second, until()) == "second"
        assert ws.result(third, until()) == "third"
        assert ws.result(subscription, until()) is None
        assert [ws.next_event(subscription, until())["n"] for _ in range(3)] == [1, 2, 3]
    assert [m["id"] for m in ha.peers[0].received[1:4]] == [1, 2, 3]


def test_a_rejected_token_raises_auth_failed_without_the_token(fake_ha_ws):
    ha = fake_ha_ws(websocket=serve_home_assistant({}, token="another"))
    with pytest.raises(ha_websocket.WebSocketAuthFailed) as caught:
        ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until())
    assert "rejected the token" in caught.value.detail
    assert TOKEN not in str(caught.value)


def test_pipelined_commands_go_with_the_auth_message_and_their_results_still_match_them(fake_ha_ws):
    """connect(pipelined=True) does not wait for auth_ok: the commands sent next reach Home Assistant before it
    has answered the auth message (one round trip for authentication and commands), and their results, in any
    order, are matched by id."""

    def script(peer):
        peer.send({"type": "auth_required", "ha_version": HA_VERSION})
        peer.recv()
        # Nothing is answered until all three commands are in: a client waiting for auth_ok first would time out.
        early = [peer.recv() for _ in range(3)]
        peer.send({"type": "auth_ok", "ha_version": HA_VERSION})
        for message in (early[2], early[0], early[1]):
            peer.send({"id": message["id"], "type": "result", "success": True, "result": message["type"]})
        peer.recv()

    ha = fake_ha_ws(websocket=script)
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until(2), pipelined=True) as ws:
        assert ws.ha_version == ""  # not read yet
        ids = {name: ws.send({"type": name}) for name in ("first", "second", "third")}
        assert {name: ws.result(message_id, until(2)) for name, message_id in ids.items()} == {
            "first": "first", "second": "second", "third": "third"}
        assert ws.ha_version == HA_VERSION
    auth, *commands = ha.peers[0].received[:4]
    assert auth == {"type": "auth", "access_token": TOKEN}
    assert commands == [{"type": "first", "id": 1}, {"type": "second", "id": 2}, {"type": "third", "id": 3}]


def test_a_pipelined_connection_raises_auth_failed_at_the_first_result(fake_ha_ws):
    """A rejected token: Home Assistant answers auth_invalid and closes, perhaps before the commands are even sent;
    the answer still says why."""
    ha = fake_ha_ws(websocket=serve_home_assistant({"get_config": {}}, token="another"))
    for _ in range(5):  # the server may close before, while or after the commands are sent
        with pytest.raises(ha_websocket.WebSocketAuthFailed) as caught:
            with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until(), pipelined=True) as ws:
                ids = [ws.send({"type": "get_config"}) for _ in range(3)]
                ws.result(ids[0], until())
        assert "rejected the token" in caught.value.detail
        assert TOKEN not in str(caught.value)


def test_closing_sends_the_close_frame_without_waiting_for_home_assistants(fake_ha_ws):
    """Nothing is read after the close frame: waiting for Home Assistant's would cost a round trip."""
    opcodes = []

    def script(peer):
        peer.send({"type": "auth_required"})
        peer.recv()
        peer.send({"type": "auth_ok"})
        opcodes.append(peer.rfile.read(2)[0] & 0x0F)  # the close frame's opcode, left unanswered
        time.sleep(1)  # the connection stays open, silent

    ha = fake_ha_ws(websocket=script)
    ws = ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until())
    started = time.monotonic()
    ws.close()
    assert time.monotonic() - started < 0.25  # it waited 0.5 s for an answer that never came
    deadline = time.monotonic() + 2
    while not opcodes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert opcodes == [0x8]


def test_a_failed_command_carries_home_assistants_code_and_message(fake_ha_ws):
    ha = fake_ha_ws(websocket=serve_home_assistant({"bad": {"error": {"code": "invalid_format", "message": "x is"
                                                                                                          " wrong"}}}))
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        with pytest.raises(ha_websocket.WebSocketCommandFailed) as caught:
            ws.command({"type": "bad"}, until())
        # The connection stays usable after a failed command.
        assert ws.command({"type": "ping"}, until()) is None
    assert (caught.value.reason, caught.value.detail) == ("invalid_format", "x is wrong")


def test_a_silent_server_times_out_at_the_deadline(fake_ha_ws):
    def silent(peer):
        peer.send({"type": "auth_required"})
        peer.recv()
        peer.send({"type": "auth_ok"})
        peer.recv()  # reads the command, never answers it
        peer.recv()

    ha = fake_ha_ws(websocket=silent)
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        with pytest.raises(HomeAssistantUnreachable) as caught:
            ws.command({"type": "get_states"}, until(0.3))
    assert caught.value.reason == "timeout"


def test_a_deadline_already_past_fails_before_connecting(fake_ha_ws):
    ha = fake_ha_ws()
    with pytest.raises(HomeAssistantUnreachable) as caught:
        ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, time.monotonic() - 1)
    assert caught.value.reason == "timeout"
    assert ha.requests == []


def test_a_server_closing_mid_command_is_unreachable(fake_ha_ws):
    def closing(peer):
        peer.send({"type": "auth_required"})
        peer.recv()
        peer.send({"type": "auth_ok"})
        peer.recv()
        peer.send_raw(b"\x03\xe8", opcode=0x8)  # close frame, normal closure

    ha = fake_ha_ws(websocket=closing)
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        with pytest.raises(HomeAssistantUnreachable) as caught:
            ws.command({"type": "get_states"}, until())
    assert caught.value.reason == "connection"


def test_a_refused_upgrade_names_the_http_status(fake_ha_ws):
    ha = fake_ha_ws(upgrade_status=404)
    with pytest.raises(HomeAssistantBadAnswer) as caught:
        ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until())
    assert caught.value.reason == "upgrade_refused"
    assert "HTTP 404" in caught.value.detail


def test_something_other_than_home_assistant_is_a_bad_answer(fake_ha_ws):
    def not_ha(peer):
        peer.send_raw(b"hello, I am not JSON")
        peer.recv()

    ha = fake_ha_ws(websocket=not_ha)
    with pytest.raises(HomeAssistantBadAnswer) as caught:
        ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until())
    assert caught.value.reason == "not_json"


def test_a_refused_connection_is_unreachable():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(HomeAssistantUnreachable) as caught:
        ha_websocket.connect(HomeAssistantClient(f"http://127.0.0.1:{port}"), TOKEN, until())
    assert caught.value.reason == "refused"


def test_a_dead_address_before_a_live_one_leaves_the_websocket_time_to_connect(fake_ha_ws, dropping, monkeypatch):
    ha = fake_ha_ws(websocket=serve_home_assistant({}))
    port = int(ha.url.rsplit(":", 1)[1])
    resolving(monkeypatch, "ha.test", dropping().port, port)  # the first address drops every SYN
    with ha_websocket.connect(HomeAssistantClient(f"http://ha.test:{port}"), TOKEN, until(2.0)) as ws:
        assert ws.ha_version == HA_VERSION


def test_wss_uses_the_clients_tls_context(fake_ha_ws, tmp_path):
    cert, server_tls = make_certificate(tmp_path)
    ha = fake_ha_ws(tls=server_tls, websocket=serve_home_assistant({}))
    with pytest.raises(HomeAssistantUnreachable) as caught:  # the default trust store does not know the test CA
        ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until())
    assert caught.value.reason == "tls"
    with ha_websocket.connect(HomeAssistantClient(ha.url, ca_bundle=str(cert)), TOKEN, until()) as ws:
        assert ws.command({"type": "ping"}, until()) is None
    with ha_websocket.connect(HomeAssistantClient(ha.url, verify_tls=False), TOKEN, until()) as ws:
        assert ws.ha_version == HA_VERSION


def test_the_upgrade_request_carries_the_extra_headers(fake_ha_ws, monkeypatch):
    from gateway import secrets

    headers = {"CF-Access-Client-Id": "id.access", "CF-Access-Client-Secret": "s3cret"}
    monkeypatch.setitem(secrets._cache, "/bridge/headers", (time.monotonic(), json.dumps(headers)))
    ha = fake_ha_ws(websocket=serve_home_assistant({}))
    with ha_websocket.connect(HomeAssistantClient(ha.url, headers_parameter="/bridge/headers"), TOKEN, until()):
        pass
    method, path, sent, _ = ha.requests[0]
    assert (method, path) == ("WEBSOCKET", "/api/websocket")
    assert {name: sent[name] for name in headers} == headers


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://127.0.0.1:8123", "ws://127.0.0.1:8123/api/websocket"),
        ("https://ha.example.com", "wss://ha.example.com:443/api/websocket"),
        ("https://example.com/home-assistant/", "wss://example.com:443/home-assistant/api/websocket"),
        ("http://[::1]:8123", "ws://[::1]:8123/api/websocket"),
    ],
)
def test_the_websocket_url_follows_ha_url(url, expected):
    assert ha_websocket.websocket_url(HomeAssistantClient(url)) == expected


def test_importing_the_client_does_not_import_websocket_client():
    script = "import sys, gateway.ha_websocket; print('websocket' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_a_big_answer_is_decoded_by_pythons_codec_not_websocket_clients_byte_by_byte_check(fake_ha_ws, monkeypatch):
    """websocket-client checks text frames as UTF-8 in pure Python unless told not to: about 0.4 ms per kB, over
    200 ms for the entity registry of a big home, on every Discovery with ALEXA_EXPOSE. Python's own decoding
    checks the same, at C speed."""
    import websocket._abnf

    checked = []
    monkeypatch.setattr(websocket._abnf, "validate_utf8", lambda data: checked.append(len(data)) or True)
    registry = [{"entity_id": f"sensor.küche_{i}", "options": {}} for i in range(2000)]
    ha = fake_ha_ws(websocket=serve_home_assistant({"config/entity_registry/list": registry}))
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        assert ws.command({"type": "config/entity_registry/list"}, until()) == registry
    assert checked == []


def test_a_frame_that_is_not_utf8_is_a_bad_answer(fake_ha_ws):
    def script(peer):
        peer.send({"type": "auth_required", "ha_version": HA_VERSION})
        peer.recv()
        peer.send({"type": "auth_ok", "ha_version": HA_VERSION})
        peer.recv()
        peer.send_raw(b'{"id": 1, "type": "result", "success": true, "result": "\xff\xfe"}')
        peer.recv()

    ha = fake_ha_ws(websocket=script)
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        with pytest.raises(HomeAssistantBadAnswer) as caught:
            ws.command({"type": "ping"}, until())
    assert "UTF-8" in caught.value.detail


def test_the_upgrade_answer_is_read_in_a_few_reads_not_one_per_byte(fake_ha_ws, monkeypatch):
    """websocket-client reads the upgrade answer's headers with recv(1), a socket read (and a TLS record's) per
    byte: the socket reads ahead of a small read instead, and the next reads take what it kept."""
    from gateway import ha_connection

    reads = []
    bounded = ha_connection.DeadlineSocket._bounded

    def counted(self, operation, *args):
        reads.append(operation.__name__)
        return bounded(self, operation, *args)

    monkeypatch.setattr(ha_connection.DeadlineSocket, "_bounded", counted)
    ha = fake_ha_ws(websocket=serve_home_assistant({"get_config": {"version": HA_VERSION}}))
    with ha_websocket.connect(HomeAssistantClient(ha.url), TOKEN, until()) as ws:
        assert ws.command({"type": "get_config"}, until()) == {"version": HA_VERSION}
    # The upgrade answer (over 100 bytes), auth_required, auth_ok and the result: a read or two each at most.
    assert 3 <= reads.count("recv") <= 8, reads


@pytest.mark.parametrize("sizes", [[1] * 5 + [4096], [2, 5000, 1, 3], [4096, 4096]])
def test_bytes_read_ahead_come_out_once_and_in_order_whatever_the_read_sizes(sizes):
    from gateway.ha_connection import DeadlineSocket

    ours, theirs = socket.socketpair()
    data = bytes(range(256)) * 20  # 5,120 bytes: more than one read ahead
    theirs.sendall(data)
    theirs.close()
    sock, got = DeadlineSocket(ours, until()), bytearray()
    try:
        for n, size in enumerate(sizes * 4):
            if n % 2:  # http.client reads through recv_into: it must see what recv read ahead
                buffer = bytearray(size)
                got += buffer[:sock.recv_into(buffer)]
            else:
                got += sock.recv(size)
        got += sock.recv(10000)
        assert bytes(got) == data
        assert sock.recv(10) == b""  # then the end, as the socket gives it
    finally:
        ours.close()
