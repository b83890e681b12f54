"""Faults between the bridge and Home Assistant, one table, against real servers on 127.0.0.1: the real Home
Assistant, a private one to stop or restart, and a proxy in front of the real one that misbehaves on cue.

For each fault: Alexa gets a schema-valid answer with the mapped error type, before the context's deadline; the
next request in the same process works; and nothing printed contains a token.
"""

import http.client
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import urlsplit

import pytest

from devtools.demo_ha import free_port
from fast_path import lambda_handler
from support import FakeContext

BAD_TOKEN = "not-a-token-but-SECRET-all-the-same"
CONTEXT_MS = 2500
HUGE = 9 * 1024 * 1024  # over the client's 8 MiB limit


class FaultyProxy(ThreadingHTTPServer):
    """Forwards to Home Assistant, except that each queued fault replaces the forwarding of one request."""

    daemon_threads = True

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.faults: list[Callable] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.faults:
                    self.close_connection = True
                    return proxy.faults.pop(0)(self)
                forward(self)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def handle_error(self, request, client_address):
        pass  # the bridge hanging up on a fault is what these tests provoke


def send(handler, status: int, body: bytes, content_type="application/json", length=None):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    if handler.close_connection:  # a fault closes the connection after answering, and says so as servers do;
        handler.send_header("Connection", "close")  # a silent close racing the next request is another fault
    handler.end_headers()
    handler.wfile.write(body)


def forward(handler):
    """Home Assistant's answer to the request `handler` read."""
    upstream = handler.server.upstream
    conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
    headers = {k: v for k, v in handler.headers.items() if k in ("Authorization", "Content-Type", "Accept")}
    conn.request(handler.command, handler.path, body=handler.body, headers=headers)
    answer = conn.getresponse()
    send(handler, answer.status, answer.read(), answer.getheader("Content-Type", ""))
    conn.close()


def early_hints(handler):
    """A proxy's 103 Early Hints (Cloudflare's, say) before Home Assistant's answer, on a kept connection."""
    handler.close_connection = False
    handler.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </frontend_latest/app.js>; rel=preload\r\n\r\n")
    forward(handler)


def hang(handler):
    handler.connection.settimeout(30)
    handler.connection.recv(1)  # until the bridge gives up and closes


def close_without_answer(handler):
    pass


def cut_off(handler):
    send(handler, 200, b'{"event": {"header": ', length=5000)


def trickle(handler):
    """Headers at once, then the body a byte every 50 ms: each read gets something, the answer never ends in time."""
    send(handler, 200, b"", length=200)
    for _ in range(200):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.05)


def not_http(handler):
    handler.wfile.write(b"HTTP/1.1 banana\r\n\r\n")


def answer(status: int, body: bytes, content_type="text/plain"):
    return lambda handler: send(handler, status, body, content_type)


def huge(handler):
    send(handler, 200, b"", length=HUGE)
    for _ in range(HUGE // 65536):
        handler.wfile.write(b" " * 65536)


@dataclass
class World:
    ha: object  # the shared Home Assistant
    make_ha: Callable
    proxy: FaultyProxy
    configure: Callable  # bridge_env
    monkeypatch: pytest.MonkeyPatch

    def through_proxy(self, fault):
        self.proxy.faults.append(fault)
        self.configure(HA_URL=self.proxy.url)
        return self.ha


def restarted(world: World):
    """A private Home Assistant restarted after a first request: the kept connection is now a dead one."""
    own = world.make_ha()
    world.configure(HA_URL=own.url)
    assert lambda_handler(report_state(own.token), FakeContext())["event"]["header"]["name"] == "StateReport"
    own.restart()
    return own


def ssm_unavailable(world: World):
    """HA_TOKEN_PARAMETER set, and neither the Parameters and Secrets extension nor SSM answering."""
    for name, value in {"AWS_SESSION_TOKEN": "session", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(free_port()),
                        "AWS_ENDPOINT_URL_SSM": f"http://127.0.0.1:{free_port()}", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        world.monkeypatch.setenv(name, value)
    world.configure(HA_URL=world.ha.url, HA_TOKEN_PARAMETER="/ha-alexa-bridge/token")
    return world.ha


def configured(**settings):
    def arrange(world: World):
        world.configure(**{name: value(world) if callable(value) else value for name, value in settings.items()})
        return world.ha

    return arrange


def without_alexa(world: World):
    own = world.make_ha(alexa=False)
    world.configure(HA_URL=own.url)
    return own


@dataclass
class Fault:
    arrange: Callable[[World], object]  # configures the bridge; returns the Home Assistant whose token to send
    error_type: str | None  # None: the request must succeed
    words: str = ""  # in the error message
    token: str | None = ""  # the directive's token: "" for the target's own, None for none
    transient: bool = True  # the next request goes where this one went; else to the shared Home Assistant


FAULTS = {
    "connection refused": Fault(configured(HA_URL=lambda w: f"http://127.0.0.1:{free_port()}"), "BRIDGE_UNREACHABLE",
                                "refused", transient=False),
    "DNS failure": Fault(configured(HA_URL="http://ha.invalid:8123"), "BRIDGE_UNREACHABLE", "not resolved",
                         transient=False),
    "TLS failure": Fault(configured(HA_URL=lambda w: w.proxy.url.replace("http:", "https:")), "BRIDGE_UNREACHABLE",
                         "TLS", transient=False),
    "HA hangs past the deadline": Fault(lambda w: w.through_proxy(hang), "BRIDGE_UNREACHABLE", "deadline"),
    "HA closes the connection before answering": Fault(lambda w: w.through_proxy(close_without_answer),
                                                       "BRIDGE_UNREACHABLE", "closed"),
    "HA closes the connection mid response": Fault(lambda w: w.through_proxy(cut_off), "INTERNAL_ERROR", "cut off"),
    "an answer trickling a byte at a time": Fault(lambda w: w.through_proxy(trickle), "BRIDGE_UNREACHABLE", "deadline"),
    "an answer that is not HTTP": Fault(lambda w: w.through_proxy(not_http), "INTERNAL_ERROR", "not an HTTP answer"),
    "a token with a line break (a direct invoker)": Fault(configured(HA_URL=lambda w: w.ha.url),
                                                          "INVALID_AUTHORIZATION_CREDENTIAL", "HTTP header",
                                                          token=BAD_TOKEN[:9] + "\n" + BAD_TOKEN[9:]),
    "a malformed host name in HA_URL": Fault(configured(HA_URL="https://ha..example.com"), "INTERNAL_ERROR",
                                             "malformed", transient=False),
    "HA_URL ending in /api": Fault(configured(HA_URL=lambda w: w.ha.url + "/api"), "INTERNAL_ERROR", "ends in /api",
                                   transient=False),
    "HA_URL with the endpoint pasted whole": Fault(configured(HA_URL=lambda w: w.ha.url + "/api/alexa/smart_home"),
                                                   "INTERNAL_ERROR", "without /api and what follows", transient=False),
    "HA 401": Fault(configured(HA_URL=lambda w: w.ha.url), "INVALID_AUTHORIZATION_CREDENTIAL", "HTTP 401",
                    token=BAD_TOKEN),
    "HA 403 (an access proxy)": Fault(lambda w: w.through_proxy(answer(403, b"Forbidden")),
                                      "INVALID_AUTHORIZATION_CREDENTIAL", "HTTP 403"),
    "HA 404 (no alexa: smart_home:)": Fault(without_alexa, "INTERNAL_ERROR", "alexa: smart_home:", transient=False),
    "HA 500": Fault(lambda w: w.through_proxy(answer(500, b"500 Internal Server Error")), "INTERNAL_ERROR",
                    "HTTP 500"),
    "a body that is not JSON": Fault(lambda w: w.through_proxy(answer(200, b"<html>login</html>", "text/html")),
                                     "INTERNAL_ERROR", "not JSON"),
    "a huge body": Fault(lambda w: w.through_proxy(huge), "INTERNAL_ERROR", "larger than"),
    "a stale keep-alive connection after an HA restart": Fault(restarted, None),
    "a proxy's 103 Early Hints before HA's answer": Fault(lambda w: w.through_proxy(early_hints), None),
    "SSM unavailable": Fault(ssm_unavailable, "INTERNAL_ERROR", "SSM parameter '/ha-alexa-bridge/token'", token=None),
}


def report_state(token: str | None) -> dict:
    header = {"namespace": "Alexa", "name": "ReportState", "payloadVersion": "3", "messageId": str(uuid.uuid4()),
              "correlationToken": f"corr-{uuid.uuid4()}"}
    endpoint = {"endpointId": "light#kitchen_lights", "cookie": {}}
    if token is not None:
        endpoint["scope"] = {"type": "BearerToken", "token": token}
    return {"directive": {"header": header, "endpoint": endpoint, "payload": {}}}


def valid(schema, answer) -> dict:
    errors = sorted(schema.iter_errors(answer), key=str)
    assert not errors, f"{errors[0].message} in {answer}"
    return answer["event"]


@pytest.fixture
def world(ha, make_ha, bridge_env, monkeypatch):
    proxy = FaultyProxy(ha.url)
    yield World(ha, make_ha, proxy, bridge_env, monkeypatch)
    proxy.shutdown()
    proxy.server_close()


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
def test_fault(world, alexa_schema, output, fault):
    target = fault.arrange(world)
    token = target.token if fault.token == "" else fault.token
    context = FakeContext(remaining_ms=CONTEXT_MS)
    directive = report_state(token)

    event = valid(alexa_schema, lambda_handler(directive, context))

    assert context.get_remaining_time_in_millis() > 0, "answered after the Lambda deadline"
    assert event["header"]["correlationToken"] == directive["directive"]["header"]["correlationToken"]
    if fault.error_type is None:
        assert event["header"]["name"] == "StateReport"
    else:
        assert (event["header"]["name"], event["payload"]["type"]) == ("ErrorResponse", fault.error_type)
        assert fault.words in event["payload"]["message"]

    if not fault.transient:
        world.configure(HA_URL=world.ha.url)
        target = world.ha
    next_directive = report_state(target.token)
    following = valid(alexa_schema, lambda_handler(next_directive, FakeContext(remaining_ms=CONTEXT_MS)))
    assert following["header"]["name"] == "StateReport", following
    assert following["header"]["correlationToken"] == next_directive["directive"]["header"]["correlationToken"]

    printed = output()
    assert "directive answered" in printed  # the logs were captured
    for secret in (world.ha.token, target.token, BAD_TOKEN[:9], BAD_TOKEN[9:]):
        assert secret not in printed


def test_discovery_of_the_real_home_assistant_is_repaired_not_dropped(ha, bridge_env, alexa_schema):
    """HA 2025.4 answers `displayCategories: null` for its demo moisture sensor and event entity, and lists the
    thermostat mode CUSTOM twice where two HVAC modes map to it."""
    bridge_env(HA_URL=ha.url)
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m-1"}
    directive = {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": ha.token}}}}
    straight = ha.api("POST", "/api/alexa/smart_home", json=directive).body["event"]["payload"]["endpoints"]

    endpoints = lambda_handler(directive, FakeContext())["event"]["payload"]["endpoints"]

    assert [e["endpointId"] for e in endpoints] == [e["endpointId"] for e in straight]
    repaired = {e["endpointId"] for e in straight if not e["displayCategories"]}
    assert {"binary_sensor#basement_floor_wet", "event#push_button_press"} <= repaired
    thermostats = {"climate#hvac", "climate#ecobee"}
    for before, after in zip(straight, endpoints, strict=True):
        if before["endpointId"] in repaired:
            assert after == {**before, "displayCategories": ["OTHER"]}
        elif before["endpointId"] in thermostats:
            modes = [c["configuration"]["supportedModes"] for c in after["capabilities"]
                     if c["interface"] == "Alexa.ThermostatController"][0]
            assert len(modes) == len(set(modes)) and "CUSTOM" in modes
            assert {**after, "capabilities": None} == {**before, "capabilities": None}
        else:
            assert after == before
