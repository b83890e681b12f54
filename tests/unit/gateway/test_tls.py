"""TLS options against a real TLS server on 127.0.0.1 with certificates made here: CA bundle, verification off,
mutual TLS; and what each certificate fault becomes."""

import datetime
import ipaddress
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fast_path import lambda_handler
from gateway.config import PLAIN_HTTP_WARNING, plain_http_to_another_machine
from gateway.errors import HomeAssistantUnreachable
from gateway.ha_client import INSECURE_WARNING, HomeAssistantClient
from gateway.ha_connection import deadline
from support import TOKEN, FakeContext, run_python

EMPTY_DISCOVERY = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response",
                                      "payloadVersion": "3", "messageId": "m"}, "payload": {"endpoints": []}}}
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def make_cert(name, issuer=None, *, hosts=(), ca=False, client=False, expired=False):
    """A (certificate, key) pair signed by `issuer` (a pair), or self-signed without one."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer or (None, key)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - 30 * DAY)
               .not_valid_after(NOW - DAY if expired else NOW + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if not ca:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def pem(cert=None, key=None) -> str:
    text = b""
    if cert is not None:
        text += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        text += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    return text.decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """PEM files: a CA, server certificates (good, wrong host, expired, self-signed) and a client certificate."""
    folder = tmp_path_factory.mktemp("pki")
    ca = make_cert("Test Home CA", ca=True)
    pairs = {
        "ca": ca,
        "good": make_cert("ha.local", ca, hosts=["127.0.0.1", "localhost"]),
        "wrong_host": make_cert("ha.example.com", ca, hosts=["ha.example.com"]),
        "expired": make_cert("ha.local", ca, hosts=["127.0.0.1"], expired=True),
        "self_signed": make_cert("ha.local", hosts=["127.0.0.1"]),
        "client": make_cert("bridge-client", ca, client=True),
    }
    files = {}
    for name, (cert, key) in pairs.items():
        (folder / f"{name}.pem").write_text(pem(cert))
        (folder / f"{name}.key").write_text(pem(key=key))
        (folder / f"{name}.both.pem").write_text(pem(cert, key))
        files[name] = str(folder / f"{name}.pem")
        files[f"{name}.key"] = str(folder / f"{name}.key")
        files[f"{name}.both"] = str(folder / f"{name}.both.pem")
    files["ca.text"] = pem(ca[0])
    return files


class TLSServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 answering every request with an empty Discover.Response and the client certificate's CN."""

    daemon_threads = True

    def __init__(self, cert_file, key_file, client_ca=None):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        if client_ca:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(client_ca)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                peer = self.connection.getpeercert()
                client = dict(field[0] for field in peer["subject"])["commonName"] if peer else None
                body = json.dumps({**EMPTY_DISCOVERY, "client": client}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def get_request(self):
        sock, address = self.socket.accept()
        # The handshake runs in the request's thread, on its first read: a failing one stalls no other.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        pass  # a refused handshake is what these tests provoke


@pytest.fixture
def tls_server(pki):
    servers = []

    def start(cert, client_ca=None):
        server = TLSServer(pki[cert], pki[f"{cert}.key"], pki[client_ca] if client_ca else None)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client_seen_by(url, **options):
    """The CN of the client certificate the server saw, None for none; raises when the request fails."""
    return HomeAssistantClient(url, **options).request("GET", "/api/", token="t", until=deadline()).json()["client"]


@pytest.mark.parametrize(
    "cert, options",
    [
        ("good", {"ca_bundle": "ca"}),
        ("good", {"ca_bundle": "ca.text"}),  # the PEM text itself, as an environment variable can hold it
        ("self_signed", {"ca_bundle": "self_signed"}),
        ("self_signed", {"verify_tls": False}),
        ("wrong_host", {"verify_tls": False}),
        ("expired", {"verify_tls": False}),
    ],
)
def test_a_trusted_or_unverified_certificate_is_accepted(tls_server, pki, cert, options):
    server = tls_server(cert)
    if "ca_bundle" in options:
        options = {"ca_bundle": pki[options["ca_bundle"]]}
    assert client_seen_by(server.url, **options) is None


@pytest.mark.parametrize(
    "cert, ca_bundle, words",
    [
        ("self_signed", None, "self-signed certificate"),
        ("good", None, "unable to get local issuer certificate"),  # a private CA, not in the bundle
        ("wrong_host", "ca", "mismatch"),
        ("expired", "ca", "certificate has expired"),
    ],
)
def test_certificate_faults_are_tls_failures_that_say_why(tls_server, pki, cert, ca_bundle, words):
    server = tls_server(cert)
    with pytest.raises(HomeAssistantUnreachable) as caught:
        client_seen_by(server.url, ca_bundle=pki[ca_bundle] if ca_bundle else "")
    assert caught.value.reason == "tls"
    assert words in caught.value.detail


def test_mutual_tls_sends_the_client_certificate(tls_server, pki):
    server = tls_server("good", client_ca="ca")
    options = {"ca_bundle": pki["ca"], "client_cert": pki["client"], "client_key": pki["client.key"]}
    assert client_seen_by(server.url, **options) == "bridge-client"
    assert client_seen_by(server.url, ca_bundle=pki["ca"], client_cert=pki["client.both"]) == "bridge-client"


def test_a_server_that_wants_a_client_certificate_fails_as_tls_without_one(tls_server, pki, bridge_env, alexa_schema):
    server = tls_server("good", client_ca="ca")
    bridge_env(HA_URL=server.url, HA_TOKEN=TOKEN, HA_CA_BUNDLE=pki["ca"])
    answer = lambda_handler(discover(), FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["type"] == "BRIDGE_UNREACHABLE"
    assert "certificate" in answer["event"]["payload"]["message"].lower()


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"HA_CA_BUNDLE": "/nonexistent/ca.pem"}, "HA_CA_BUNDLE"),
        ({"HA_CA_BUNDLE": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"}, "HA_CA_BUNDLE"),
        ({"HA_CLIENT_CERT": "/nonexistent/client.pem"}, "HA_CLIENT_CERT"),
        ({"HA_CLIENT_CERT": "client", "HA_CLIENT_KEY": "good.key"}, "HA_CLIENT_CERT"),  # not the cert's key
        ({"HA_CLIENT_KEY": "client.key"}, "HA_CLIENT_KEY is set without HA_CLIENT_CERT"),
    ],
)
def test_tls_files_that_cannot_be_used_are_an_internal_error_naming_the_setting(pki, bridge_env, alexa_schema,
                                                                                settings, words):
    settings = {name: pki.get(value, value) for name, value in settings.items()}
    bridge_env(HA_URL="https://127.0.0.1:9", HA_TOKEN=TOKEN, **settings)
    answer = lambda_handler(discover(), FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert words in answer["event"]["payload"]["message"]


def test_turning_verification_off_is_warned_about_once(tls_server, bridge_env, monkeypatch):
    from gateway.log import logger

    server = tls_server("self_signed")
    bridge_env(HA_URL=server.url, HA_TOKEN=TOKEN, HA_VERIFY_TLS="false")
    warnings = []
    monkeypatch.setattr(logger, "warning", lambda message, *args, **kwargs: warnings.append(message))
    for _ in range(3):
        assert lambda_handler(discover(), FakeContext())["event"]["header"]["name"] == "Discover.Response"
    assert warnings == [INSECURE_WARNING]


def discover():
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m-1"}
    return {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": TOKEN}}}}


def test_a_connection_opened_ahead_survives_the_session_tickets_tls13_sends_after_the_handshake(tls_server, pki):
    """The preconnect's connection must serve the first request, though the tickets made it readable."""
    client = HomeAssistantClient(tls_server("good").url, ca_bundle=pki["ca"])
    client.connect(deadline())
    assert client._conn.sock.version() == "TLSv1.3"
    time.sleep(0.2)  # the tickets have arrived
    for _ in range(3):
        assert client.request("GET", "/api/", token="t", until=deadline()).status == 200
    assert client.connections_opened == 1


@pytest.mark.parametrize("url, warned", [
    ("http://ha.example.com:8123", True), ("HTTP://ha.example.com", True), ("http://192.168.1.5:8123", True),
    ("http://[2001:db8::1]:8123", True), ("https://ha.example.com", False), ("http://127.0.0.1:8123", False),
    ("http://127.1.2.3", False), ("http://localhost:8123", False), ("http://[::1]:8123", False), ("", False),
])
def test_plain_http_is_told_apart_from_https_and_this_machine(url, warned):
    assert plain_http_to_another_machine(url) is warned


def test_plain_http_to_another_machine_is_warned_about_once_per_execution_environment():
    """A fresh process, as Lambda starts one; three directives (without a token, so nothing goes on the network)."""
    script = """
import json, lambda_function
from support import FakeContext
directive = {"directive": {"header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                                      "messageId": "m"}, "payload": {"scope": {"type": "BearerToken"}}}}
types = [lambda_function.lambda_handler(directive, FakeContext())["event"]["payload"]["type"] for _ in range(3)]
print(json.dumps(types))
"""
    script = "import sys; sys.path.insert(0, 'tests')\n" + script
    for url, count in (("http://ha.example.com:8123", 1), ("https://ha.example.com", 0), ("http://127.0.0.1:8123", 0)):
        run = run_python(script, HA_URL=url, BRIDGE_PRELOAD="")
        assert run["result"] == ["INVALID_AUTHORIZATION_CREDENTIAL"] * 3
        lines = [line for line in (run["stdout"] + run["stderr"]).splitlines() if PLAIN_HTTP_WARNING in line]
        assert len(lines) == count, url
        assert all(json.loads(line)["level"] == "WARNING" for line in lines)
