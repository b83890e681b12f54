"""ha_alexa against a scripted Home Assistant: tokens, error mapping, echoes, schema validity."""

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from fast_path import lambda_handler
from ha_alexa.directive import token_expired
from support import ROOT, TOKEN, FakeContext


def directive(namespace="Alexa.PowerController", name="TurnOn", token=TOKEN, endpoint_id="light#kitchen"):
    event = {
        "directive": {
            "header": {
                "namespace": namespace,
                "name": name,
                "payloadVersion": "3",
                "messageId": "m-1",
                "correlationToken": "corr-1",
            },
            "endpoint": {"endpointId": endpoint_id, "cookie": {}},
            "payload": {},
        }
    }
    if token is not None:
        event["directive"]["endpoint"]["scope"] = {"type": "BearerToken", "token": token}
    return event


def discovery(token=TOKEN):
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m-2"}
    return {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": token}}}}


def accept_grant(token=TOKEN):
    header = {"namespace": "Alexa.Authorization", "name": "AcceptGrant", "payloadVersion": "3", "messageId": "m-3"}
    payload = {"grant": {"type": "OAuth2.AuthorizationCode", "code": "c"}, "grantee": {"type": "BearerToken"}}
    payload["grantee"]["token"] = token
    return {"directive": {"header": header, "payload": payload}}


def ha_response(event):
    """What HA answers a control directive with, in the shape Alexa expects."""
    header = event["directive"]["header"]
    return {
        "event": {
            "header": {
                "namespace": "Alexa",
                "name": "Response",
                "payloadVersion": "3",
                "messageId": "ha-1",
                "correlationToken": header["correlationToken"],
            },
            "endpoint": {"endpointId": event["directive"]["endpoint"]["endpointId"]},
            "payload": {},
        }
    }


def assert_error(answer, schema, error_type, namespace="Alexa"):
    errors = sorted(schema.iter_errors(answer), key=str)
    assert not errors, errors[0].message
    assert answer["event"]["header"]["namespace"] == namespace
    assert answer["event"]["header"]["name"] == "ErrorResponse"
    assert answer["event"]["payload"]["type"] == error_type
    assert answer["event"]["payload"]["message"]
    return answer["event"]


def test_control_directive_is_forwarded_with_the_endpoint_token(fake_ha, bridge_env, alexa_schema):
    ha = fake_ha(lambda method, path, headers, body: (200, ha_response(json.loads(body)), None))
    bridge_env(HA_URL=ha.url, HA_TOKEN="operator-token")
    event = directive()
    answer = lambda_handler(event, FakeContext())
    assert answer == ha_response(event)
    assert not list(alexa_schema.iter_errors(answer))
    method, path, headers, body = ha.requests[0]
    assert (method, path) == ("POST", "/api/alexa/smart_home")
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(body) == event


@pytest.mark.parametrize(
    "event", [discovery(), accept_grant()], ids=["Discover: payload.scope", "AcceptGrant: payload.grantee"]
)
def test_token_is_read_where_each_directive_carries_it(fake_ha, bridge_env, event):
    ha = fake_ha(lambda *request: (200, {"event": {"header": {}, "payload": {}}}, None))
    bridge_env(HA_URL=ha.url)
    lambda_handler(event, FakeContext())
    assert ha.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"


def test_ha_token_is_used_only_when_the_directive_has_none(fake_ha, bridge_env):
    ha = fake_ha(lambda method, path, headers, body: (200, ha_response(json.loads(body)), None))
    bridge_env(HA_URL=ha.url, HA_TOKEN="operator-token")
    lambda_handler(directive(token=None), FakeContext())
    assert ha.requests[0][2]["Authorization"] == "Bearer operator-token"


def test_no_token_anywhere_is_an_authorization_error_without_calling_ha(fake_ha, bridge_env, alexa_schema):
    ha = fake_ha(lambda *request: (500, b"", None))
    bridge_env(HA_URL=ha.url)
    event = assert_error(lambda_handler(directive(token=None), FakeContext()), alexa_schema,
                         "INVALID_AUTHORIZATION_CREDENTIAL")
    assert event["header"]["correlationToken"] == "corr-1"
    assert event["endpoint"] == {"endpointId": "light#kitchen", "cookie": {}}
    assert ha.requests == []


@pytest.mark.parametrize(
    "status, body, error_type, words",
    [
        (401, b"401: Unauthorized", "INVALID_AUTHORIZATION_CREDENTIAL", "rejected the token"),
        (403, b"403: Forbidden", "INVALID_AUTHORIZATION_CREDENTIAL", "banned this address"),  # HA's IP ban
        (403, b"<html>Access denied</html>", "INVALID_AUTHORIZATION_CREDENTIAL", "rejected the token"),
        (404, b"404: Not Found", "INTERNAL_ERROR", "alexa: smart_home:"),
        (500, b"500 Internal Server Error", "INTERNAL_ERROR", "HTTP 500"),
        (502, b"Bad Gateway", "INTERNAL_ERROR", "HTTP 502"),
        (200, b"<html>login</html>", "INTERNAL_ERROR", "not JSON"),
        (200, b"[1, 2]", "INTERNAL_ERROR", "not an Alexa message"),
    ],
)
def test_ha_answers_map_to_alexa_errors(fake_ha, bridge_env, alexa_schema, status, body, error_type, words):
    ha = fake_ha(lambda *request: (status, body, {"Content-Type": "text/plain"}))
    bridge_env(HA_URL=ha.url)
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, error_type)
    assert words in event["payload"]["message"]
    assert event["header"]["correlationToken"] == "corr-1"
    assert event["endpoint"]["endpointId"] == "light#kitchen"
    assert "scope" not in event["endpoint"]


def test_refused_connection_is_bridge_unreachable(bridge_env, alexa_schema):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bridge_env(HA_URL=f"http://127.0.0.1:{port}")
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "BRIDGE_UNREACHABLE")
    assert "refused" in event["payload"]["message"]


def test_unresolvable_host_is_bridge_unreachable(bridge_env, alexa_schema):
    bridge_env(HA_URL="https://ha.invalid")
    assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "BRIDGE_UNREACHABLE")


def test_a_hanging_ha_is_answered_before_the_context_deadline(bridge_env, request):
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        bridge_env(HA_URL=f"http://127.0.0.1:{listener.getsockname()[1]}")
        context = FakeContext(remaining_ms=1500)
        answer = lambda_handler(directive(), context)
        assert context.get_remaining_time_in_millis() > 0, "answered after the Lambda deadline"
        # Asserted without the schema too, so that a checkout without ../shared still catches a lost margin.
        assert answer["event"]["payload"]["type"] == "BRIDGE_UNREACHABLE"
        assert "deadline" in answer["event"]["payload"]["message"]
        assert_error(answer, request.getfixturevalue("alexa_schema"), "BRIDGE_UNREACHABLE")
    finally:
        listener.close()


def test_accept_grant_failure_is_answered_in_its_own_namespace(bridge_env, alexa_schema):
    bridge_env(HA_URL="http://127.0.0.1:9")
    event = assert_error(lambda_handler(accept_grant(), FakeContext()), alexa_schema, "ACCEPT_GRANT_FAILED",
                         namespace="Alexa.Authorization")
    assert "unreachable" in event["payload"]["message"]


def test_missing_ha_url_is_an_internal_error_that_says_so(bridge_env, alexa_schema):
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    assert "HA_URL" in event["payload"]["message"]


@pytest.mark.parametrize(
    "event",
    [
        {"directive": {}},
        {"directive": {"header": "x"}},
        {"directive": {"header": {"payloadVersion": "2", "namespace": "Alexa", "name": "ReportState"}}},
        {"directive": {"header": {"payloadVersion": "3", "namespace": 7, "name": None, "messageId": "m"}}},
        {"directive": {"header": {"payloadVersion": "3", "namespace": "Alexa", "name": "ReportState"}}},
        {"directive": {"header": {"payloadVersion": "3", "namespace": "A", "name": "B", "messageId": "m",
                                  "correlationToken": ["x"]}, "payload": []}},
        {"directive": {"header": {"payloadVersion": "3", "namespace": "A", "name": "B", "messageId": "m"},
                       "payload": {}, "endpoint": {"endpointId": "bad id with spaces", "scope": {"token": 5}}}},
    ],
)
def test_malformed_directives_get_invalid_directive(bridge_env, alexa_schema, event):
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN="t")
    assert_error(lambda_handler(event, FakeContext()), alexa_schema, "INVALID_DIRECTIVE")


@pytest.mark.parametrize("event", [None, [], "directive", 3, 2.5, True, {"directive": None}, {"x": {"y": [1]}}])
def test_events_of_no_known_kind_get_an_error_object(event):
    answer = lambda_handler(event, None)
    assert answer["error"]["type"] == "UNSUPPORTED_EVENT"
    assert answer["error"]["message"]


def test_handler_survives_a_missing_context(fake_ha, bridge_env):
    ha = fake_ha(lambda method, path, headers, body: (200, ha_response(json.loads(body)), None))
    bridge_env(HA_URL=ha.url)
    assert lambda_handler(directive(), None)["event"]["header"]["name"] == "Response"


def test_no_log_line_contains_the_token(fake_ha):
    """A fresh process, as on Lambda: everything it prints (logs, metrics) is searched for the token."""
    answers = iter([(200, b"{}", None), (401, b"no", None), (500, b"boom " + TOKEN.encode(), None)])
    ha = fake_ha(lambda *request: next(answers))
    script = """
import json, sys
from fast_path import lambda_handler
for event in json.loads(sys.argv[1]):
    lambda_handler(event, None)
"""
    events = [directive(), discovery(), accept_grant(), directive(token=None, endpoint_id="x" * 300)]
    env = {**os.environ, "HA_URL": ha.url, "POWERTOOLS_LOG_LEVEL": "DEBUG"}
    env.pop("HA_TOKEN", None)
    run = subprocess.run([sys.executable, "-c", script, json.dumps(events)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert output.count("directive failed") == 4  # the logs were captured
    assert TOKEN not in output


def test_concurrent_requests_share_the_client_safely(fake_ha, bridge_env):
    ha = fake_ha(lambda method, path, headers, body: (200, ha_response(json.loads(body)), None))
    bridge_env(HA_URL=ha.url)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(lambda_handler(directive(), FakeContext())))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [a["event"]["header"]["name"] for a in answers] == ["Response"] * 5
    assert len(ha.requests) == 5


def jwt(claims, header=b'{"alg":"HS256","typ":"JWT"}', signature=b"sig") -> str:
    """A token shaped like Home Assistant's access tokens (the signature is never checked by the bridge)."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    body = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    return ".".join((b64(header), b64(body), b64(signature)))


NOW = 1_800_000_000


@pytest.mark.parametrize("token, expired", [
    (jwt({"iss": "abc", "iat": NOW - 3600, "exp": NOW - 1800}), True),
    (jwt({"exp": NOW - 0.5}), True),
    (jwt({"iss": "abc", "iat": NOW, "exp": NOW + 1800}), False),
    (jwt({"iss": "abc"}), False),  # no exp: nothing says it expired
    (jwt({"exp": str(NOW - 1800)}), False),
    (jwt({"exp": True}), False),
    (jwt({"exp": None}), False),
    (jwt([NOW - 1800]), False),
    (jwt(b"not json"), False),
    (jwt(b"\xff\xfe"), False),
    (jwt(b'{"exp": 1e999}'), False),
    (jwt(b'{"exp": NaN}'), False),
    (jwt(b'{"exp": -Infinity}'), True),
    (jwt(b"[" * 3000), False),
    (jwt(b'{"exp": ' + b"9" * 5000 + b"}"), False),
    ("a.b", False), ("a.b.c.d", False), ("", False), ("..", False), ("a.!!!$.c", False), ("a.é.c", False),
    ("x." + "A" * 100_000 + ".y", False), (TOKEN, False), (None, False), (42, False), (b"a.b.c", False),
])
def test_token_expired_reads_only_the_exp_claim_and_never_raises(token, expired):
    assert token_expired(token, now=NOW) is expired


def test_a_401_for_an_expired_jwt_is_expired_authorization_credential(fake_ha, bridge_env, alexa_schema, output):
    expired = jwt({"iss": "refresh-token-id", "iat": 1000, "exp": 2800})
    ha = fake_ha(lambda *request: (401, b"401: Unauthorized", {"Content-Type": "text/plain"}))
    bridge_env(HA_URL=ha.url)
    for event in (directive(token=expired), discovery(expired)):
        answer = assert_error(lambda_handler(event, FakeContext()), alexa_schema, "EXPIRED_AUTHORIZATION_CREDENTIAL")
        assert "expired" in answer["payload"]["message"]
    grant = assert_error(lambda_handler(accept_grant(expired), FakeContext()), alexa_schema, "ACCEPT_GRANT_FAILED",
                         namespace="Alexa.Authorization")
    assert "expired" in grant["payload"]["message"]
    printed = output()
    assert "EXPIRED_AUTHORIZATION_CREDENTIAL" in printed and expired not in printed
    assert expired.split(".")[1] not in printed


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_token_that_has_not_expired_stays_invalid(fake_ha, bridge_env, alexa_schema, status):
    ha = fake_ha(lambda *request: (status, b"no", {"Content-Type": "text/plain"}))
    bridge_env(HA_URL=ha.url)
    tokens = [jwt({"exp": 4_000_000_000}), jwt({"iss": "x"}), "x.y.z", TOKEN]
    if status == 403:  # a 403 is about rights, not age: Alexa must not refresh and retry
        tokens.append(jwt({"exp": 2800}))
    for token in tokens:
        assert_error(lambda_handler(directive(token=token), FakeContext()), alexa_schema,
                     "INVALID_AUTHORIZATION_CREDENTIAL")


# Home Assistant 2025.4.4's own answers (aiohttp's HTTPUnauthorized / HTTPForbidden, text/plain): a bad token, and
# any request from an address its IP ban lists (homeassistant/components/http/ban.py), whatever the token.
HA_401 = (401, b"401: Unauthorized", {"Content-Type": "text/plain; charset=utf-8"})
HA_BAN_403 = (403, b"403: Forbidden", {"Content-Type": "text/plain; charset=utf-8"})


@pytest.mark.parametrize("answer, says, does_not_say", [
    (HA_401, "rejected the token (HTTP 401)", "banned"),
    (HA_BAN_403, "ip_bans.yaml", "rejected the token"),
], ids=["bad token", "IP ban"])
def test_a_ban_is_told_apart_from_a_rejected_token(fake_ha, bridge_env, answer, says, does_not_say):
    ha = fake_ha(lambda *request: answer)
    bridge_env(HA_URL=ha.url)
    event = lambda_handler(directive(), FakeContext())["event"]
    assert event["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"
    assert says in event["payload"]["message"] and does_not_say not in event["payload"]["message"]


# --- the contract's facts, asserted directly: these hold, and are tested, without Amazon's schema file ----------


def test_an_error_response_echoes_the_correlation_token_and_endpoint_but_never_the_scope_token(fake_ha, bridge_env):
    ha = fake_ha(lambda *request: (500, b"500 Internal Server Error", {"Content-Type": "text/plain"}))
    bridge_env(HA_URL=ha.url)
    event = directive()
    event["directive"]["endpoint"]["cookie"] = {"room": "kitchen"}
    answer = lambda_handler(event, FakeContext())
    header = answer["event"]["header"]
    assert (header["namespace"], header["name"], header["payloadVersion"]) == ("Alexa", "ErrorResponse", "3")
    assert header["correlationToken"] == "corr-1"
    assert header["messageId"] not in ("", "m-1")
    assert answer["event"]["endpoint"] == {"endpointId": "light#kitchen", "cookie": {"room": "kitchen"}}
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert TOKEN not in json.dumps(answer)


@pytest.mark.parametrize("event", [directive(), discovery(), accept_grant()], ids=["endpoint.scope",
                                                                                  "payload.scope", "grantee"])
def test_the_directives_own_token_wins_over_ha_token(fake_ha, bridge_env, event):
    ha = fake_ha(lambda *request: (200, {"event": {"header": {}, "payload": {}}}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN="operator-token")
    lambda_handler(event, FakeContext())
    assert ha.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"


def test_the_deadline_keeps_a_margin_to_answer_and_alexas_budget():
    from gateway.ha_connection import deadline

    class Context:
        def __init__(self, remaining_ms):
            self.remaining_ms = remaining_ms

        def get_remaining_time_in_millis(self):
            return self.remaining_ms

    for remaining_ms, budget_s in ((2000, 1.7), (60_000, 6.5), (100, 0.0)):  # 0.3 s kept back; 6.5 s at most
        assert deadline(Context(remaining_ms)) - time.monotonic() == pytest.approx(budget_s, abs=0.05)


def test_a_successful_directive_and_discovery_log_no_token(fake_ha):
    """A fresh process at DEBUG, as on Lambda: answered directives (and a Discovery the guard repairs, which it
    logs) print nothing of the token they carried."""
    endpoint = {"endpointId": "light#kitchen", "friendlyName": "Kitchen", "description": "d", "manufacturerName": "m",
                "displayCategories": None, "capabilities": [{"type": "AlexaInterface", "interface": "Alexa",
                                                              "version": "3"}]}
    found = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3",
                                  "messageId": "d"}, "payload": {"endpoints": [endpoint]}}}

    def answer(method, path, headers, body):
        event = json.loads(body)
        return 200, found if event["directive"]["header"]["name"] == "Discover" else ha_response(event), None

    ha = fake_ha(answer)
    script = """
import json, sys
from fast_path import lambda_handler
for event in json.loads(sys.argv[1]):
    print(json.dumps(lambda_handler(event, None)))
"""
    env = {**os.environ, "HA_URL": ha.url, "POWERTOOLS_LOG_LEVEL": "DEBUG"}
    env.pop("HA_TOKEN", None)
    run = subprocess.run([sys.executable, "-c", script, json.dumps([directive(), discovery()])], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert output.count("directive answered") == 2 and "discovery answer changed" in output  # logs were captured
    assert [headers["Authorization"] for _, _, headers, _ in ha.requests] == [f"Bearer {TOKEN}"] * 2
    assert TOKEN not in output


# Home Assistant 2026.x describes a `remote` entity with Alexa's documented display category REMOTE.
@pytest.mark.parametrize("category", ["REMOTE", "AIR_PURIFIER"])
def test_the_schema_fixture_takes_alexas_documented_display_categories(alexa_schema, category):
    endpoint = {"endpointId": "remote#living_room", "manufacturerName": "Home Assistant", "friendlyName": "Living Room",
                "description": "remote", "displayCategories": [category], "cookie": {},
                "capabilities": [{"type": "AlexaInterface", "interface": "Alexa", "version": "3"}]}
    answer = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3",
                                   "messageId": "m-1"}, "payload": {"endpoints": [endpoint]}}}
    assert not [error.message for error in alexa_schema.iter_errors(answer)]
