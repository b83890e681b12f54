"""Upstream error bodies never reach a log line or an answer: gateway.redact, and the three paths that use it.

The fake Home Assistant here is a proxy's error page that echoes the request it got, headers included: the
Authorization header (the linked token, or the operator's) and the Cloudflare Access headers of
HA_HEADERS_PARAMETER.
"""

import json
import time

import pytest

from fast_path import lambda_handler
from gateway import redact
from gateway.ha_client import Response
from gateway.secrets import SecretError
from support import TOKEN, FakeContext
from test_assist import assist_event
from test_ha_websocket import FakeHA, WebSocketPeer
from test_smart_home import directive

LINKED = "linked-refresh-token-7f3a9c-SECRET"
CF_HEADERS = {"CF-Access-Client-Id": "0c1d2e3f.access-ID", "CF-Access-Client-Secret": "cf-client-SECRET-5e6f7a8b9c"}
SECRETS = (TOKEN, LINKED, *CF_HEADERS.values())
HEADERS_PARAMETER = "/bridge/headers"


def echo(headers) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in dict(headers).items())


def echo_body(kind: str, headers):
    """What an echoing proxy answers: an HTML page, or JSON whose `message` holds the request's headers."""
    if kind == "html":
        return f"<html><body><h1>502 Bad Gateway</h1><pre>{echo(headers)}</pre></body></html>".encode(), "text/html"
    return json.dumps({"message": f"upstream failed for request with headers {echo(headers)}"}).encode(), \
        "application/json"


@pytest.fixture
def with_headers(bridge_env):
    """Settings with the operator token and Cloudflare Access headers (as read from SSM)."""
    from gateway import secrets

    def apply(url, **more):
        bridge_env(HA_URL=url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER=HEADERS_PARAMETER, **more)
        secrets._cache[HEADERS_PARAMETER] = (time.monotonic(), json.dumps(CF_HEADERS))

    return apply


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


class FakeClient:
    def __init__(self, headers=None):
        self.headers = headers if headers is not None else CF_HEADERS

    def extra_headers(self):
        if isinstance(self.headers, Exception):
            raise self.headers
        return self.headers


# --- the one place: gateway.redact ---------------------------------------------------------------------------


def test_error_message_is_home_assistants_message_with_every_secret_sent_replaced():
    body = json.dumps({"message": f"Authorization: Bearer {LINKED}\nCF-Access-Client-Secret: "
                                  f"{CF_HEADERS['CF-Access-Client-Secret']} id={CF_HEADERS['CF-Access-Client-Id']}"})
    message = redact.error_message(Response(500, body.encode(), "application/json"), FakeClient(), LINKED)
    assert message == "Authorization: [redacted] CF-Access-Client-Secret: [redacted] id=[redacted]"


def test_error_message_is_none_for_anything_but_a_json_message():
    for body in (f"<html>{LINKED}</html>".encode(), b"[1, 2]", json.dumps({"message": 5}).encode(),
                 json.dumps({"error": LINKED}).encode(), b"[" * 100_000, b"\xff\xfe"):
        assert redact.error_message(Response(500, body, "text/html"), FakeClient(), LINKED) is None


def test_error_message_is_one_bounded_line():
    body = json.dumps({"message": "Invalid\n\tdata " + "x" * 5000}).encode()
    message = redact.error_message(Response(400, body, "application/json"), FakeClient(), LINKED)
    assert message.startswith("Invalid data xx") and len(message) == redact.MAX_MESSAGE_CHARS
    assert "\n" not in message


def test_a_secret_is_replaced_before_the_text_is_cut():
    text = "x" * 190 + LINKED  # cut first, the token's first 10 characters would stay
    assert redact.redacted(text, FakeClient(), LINKED, limit=200) == "x" * 190 + "[redacted]"
    assert redact.redacted(text + "yz", FakeClient(), LINKED, limit=200) == "x" * 190 + "[redacted…"


def test_credentials_altered_on_the_way_are_caught_by_their_shape():
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhYmMifQ.c2lnbmF0dXJl"
    cleaned = redact.redacted(f"got bearer {LINKED[:20]}; token {jwt[:40]}", FakeClient({}), "another-token")
    assert cleaned == "got [redacted] token [redacted]"


def test_short_header_values_and_unreadable_headers_do_not_garble_or_crash():
    assert redact.redacted("Home Assistant 2025.4", FakeClient({"X-Env": "a"}), TOKEN) == "Home Assistant 2025.4"
    assert redact.redacted(f"x {TOKEN}", FakeClient(SecretError("ssm down")), TOKEN) == "x [redacted]"


# --- the Smart Home path --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 500, 502])
@pytest.mark.parametrize("kind", ["html", "json"])
def test_smart_home_never_logs_or_answers_an_echoed_request(fake_ha, with_headers, alexa_schema, output, status, kind):
    ha = fake_ha(lambda method, path, headers, body: (status, *echo_body(kind, headers)[:1],
                                                      {"Content-Type": echo_body(kind, headers)[1]}))
    with_headers(ha.url)
    answer = lambda_handler(directive(token=LINKED), FakeContext())
    assert ha.requests[0][2]["Authorization"] == f"Bearer {LINKED}"  # it was sent, and echoed
    assert ha.requests[0][2]["CF-Access-Client-Secret"] == CF_HEADERS["CF-Access-Client-Secret"]
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["header"]["name"] == "ErrorResponse"
    printed = output()
    assert "directive failed" in printed
    assert_no_secret(printed, json.dumps(answer))


# --- the Assist path ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400, 401, 500, 502])
@pytest.mark.parametrize("kind", ["html", "json"])
def test_assist_never_logs_or_speaks_an_echoed_request(fake_ha, with_headers, output, status, kind):
    ha = fake_ha(lambda method, path, headers, body: (status, *echo_body(kind, headers)[:1],
                                                      {"Content-Type": echo_body(kind, headers)[1]}))
    with_headers(ha.url)
    answer = lambda_handler(assist_event(access_token=LINKED), FakeContext())
    assert ha.requests[0][2]["Authorization"] == f"Bearer {LINKED}"
    printed = output()
    assert "assist failed" in printed
    assert_no_secret(printed, json.dumps(answer))


def test_assist_still_logs_home_assistants_own_message(fake_ha, with_headers, output):
    ha = fake_ha(lambda *request: (400, {"message": "Message format incorrect: invalid agent ID"}, None))
    with_headers(ha.url)
    lambda_handler(assist_event(access_token=LINKED), FakeContext())
    assert "HTTP 400: Message format incorrect: invalid agent ID" in output()


# --- the operator path ----------------------------------------------------------------------------------------


def echoing_home_assistant(servers_status: int):
    """REST echoes each request's headers as HA's JSON message; WebSocket commands fail quoting the auth message."""
    server = FakeHA()

    def rest(method, path, body):
        return servers_status, json.loads(echo_body("json", server.requests[-1][2])[0])

    def websocket(peer: WebSocketPeer):
        peer.send({"type": "auth_required", "ha_version": "2025.4.4"})
        auth = peer.recv()
        peer.send({"type": "auth_ok", "ha_version": "2025.4.4"})
        headers = echo(server.requests[-1][2])
        while (message := peer.recv()) is not None:
            peer.send({"id": message["id"], "type": "result", "success": False,
                       "error": {"code": "echo", "message": f"you sent {json.dumps(auth)} with {headers}"}})

    server.rest, server.websocket = rest, websocket
    return server


@pytest.mark.parametrize("status", [200, 400, 500])
@pytest.mark.parametrize("action", [{"action": "health"}, {"action": "list"},
                                    {"action": "state", "entity_id": "light.lamp"},
                                    {"action": "call", "domain": "light", "service": "turn_on"}])
def test_operator_actions_never_log_or_answer_an_echoed_request(with_headers, output, status, action):
    ha = echoing_home_assistant(status)
    try:
        with_headers(ha.url)
        answer = lambda_handler({"devices": action}, FakeContext(remaining_ms=10_000))
    finally:
        ha.close()
    sent = CF_HEADERS["CF-Access-Client-Secret"]
    assert any(headers.get("CF-Access-Client-Secret") == sent for _, _, headers, _ in ha.requests)
    printed = output()
    assert "devices action" in printed or "doctor finished" in printed
    assert_no_secret(printed, json.dumps(answer))


def test_the_doctor_quotes_home_assistant_redacted(with_headers, output):
    ha = echoing_home_assistant(200)
    try:
        with_headers(ha.url)
        report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10_000))
    finally:
        ha.close()
    checks = {check["check"]: check for check in report["checks"]}
    assert checks["token"]["status"] == "ok"
    assert "Authorization: [redacted]" in checks["token"]["detail"]
    assert "[redacted]" in checks["websocket"]["detail"]
    assert_no_secret(json.dumps(report), output())
