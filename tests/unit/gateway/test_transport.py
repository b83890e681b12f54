"""Issue 12's transport defects, through the real handler on every path: answers that close the connection,
requests never sent twice, failures that leave no broken connection, one deadline for the whole exchange
(HTTP and WebSocket), tokens that cannot be sent, malformed host names."""

import base64
import hashlib
import json
import time

import pytest

from fast_path import lambda_handler
from support import TOKEN, FakeContext, http_answer
from test_assist import skill_event
from test_ha_websocket import WS_GUID
from test_smart_home import assert_error, directive, ha_response


def answer_to(request: bytes, close=False) -> bytes:
    event = json.loads(request.partition(b"\r\n\r\n")[2])
    return http_answer(json.dumps(ha_response(event)).encode(), close=close)


def test_every_directive_is_answered_when_the_proxy_closes_every_third_connection(scripted, bridge_env,
                                                                                 alexa_schema, output):
    def keepalive_requests_3(server, conn, index):
        for n in (1, 2, 3):
            request = server.read_request(conn)
            if request is None:
                return
            conn.sendall(answer_to(request, close=n == 3))

    bridge_env(HA_URL=scripted(keepalive_requests_3).url)
    for n in range(9):
        event = directive(endpoint_id=f"light#lamp_{n}")
        assert lambda_handler(event, FakeContext()) == ha_response(event)
    assert "directive failed" not in output()


def test_a_directive_whose_connection_drops_after_sending_is_sent_once(scripted, bridge_env, alexa_schema):
    def drop_the_second(server, conn, index):
        conn.sendall(answer_to(server.read_request(conn)))
        if index == 0:
            server.read_request(conn)  # read, then the connection drops without an answer
            return
        while request := server.read_request(conn):
            conn.sendall(answer_to(request))

    server = scripted(drop_the_second)
    bridge_env(HA_URL=server.url)
    lambda_handler(directive(), FakeContext())
    adjust = directive("Alexa.BrightnessController", "AdjustBrightness")
    adjust["directive"]["payload"] = {"brightnessDelta": 25}
    event = assert_error(lambda_handler(adjust, FakeContext()), alexa_schema, "BRIDGE_UNREACHABLE")
    assert event["header"]["correlationToken"] == "corr-1"
    time.sleep(0.1)
    assert [request.count(b"brightnessDelta") for request in server.requests] == [0, 1]  # +25, not +50
    assert lambda_handler(directive(), FakeContext()) == ha_response(directive())


def test_after_an_answer_that_is_not_http_the_next_directives_work(scripted, bridge_env, alexa_schema):
    def banana_first(server, conn, index):
        while request := server.read_request(conn):
            conn.sendall(b"HTTP/1.1 banana\r\n\r\n" if index == 0 else answer_to(request))
            if index == 0:
                time.sleep(5)

    bridge_env(HA_URL=scripted(banana_first).url)
    assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    for _ in range(3):
        assert lambda_handler(directive(), FakeContext()) == ha_response(directive())


def test_a_trickling_answer_gets_an_error_response_before_the_deadline(scripted, bridge_env, alexa_schema):
    def trickle(server, conn, index):
        answer = answer_to(server.read_request(conn))
        head, sep, body = answer.partition(b"\r\n\r\n")
        conn.sendall(head + sep)
        server.trickle(conn, body)

    server = scripted(trickle)
    bridge_env(HA_URL=server.url)
    answer = lambda_handler(directive(), FakeContext(remaining_ms=1500))
    arrived = server.trickled
    assert_error(answer, alexa_schema, "BRIDGE_UNREACHABLE")
    assert "before the deadline" in answer["event"]["payload"]["message"]
    assert arrived < 60  # of about 280 bytes: answered at the deadline, not when the answer was complete


# ---- tokens that cannot be sent in a header: refused before anything is sent, never quoted ----

BAD_TOKENS = [TOKEN + "\n", TOKEN[:10] + "\n" + TOKEN[10:], TOKEN + "é", TOKEN + "\u2028", TOKEN + " x"]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_directive_token_that_cannot_be_a_header_is_an_invalid_credential(fake_ha, bridge_env, alexa_schema,
                                                                           output, token):
    ha = fake_ha(lambda method, path, headers, body: (200, ha_response(json.loads(body)), None))
    bridge_env(HA_URL=ha.url)
    event = assert_error(lambda_handler(directive(token=token), FakeContext()), alexa_schema,
                         "INVALID_AUTHORIZATION_CREDENTIAL")
    assert ha.requests == []
    assert lambda_handler(directive(), FakeContext()) == ha_response(directive())  # the connection is fine
    printed = output() + json.dumps(event)
    assert TOKEN[:20] not in printed and TOKEN[10:] not in printed


@pytest.mark.parametrize("token", [BAD_TOKENS[1], BAD_TOKENS[2], BAD_TOKENS[4]])
def test_an_assist_token_that_cannot_be_a_header_is_spoken_as_a_link_problem(fake_ha, bridge_env, output, token):
    ha = fake_ha(lambda *request: (200, {}, None))
    bridge_env(HA_URL=ha.url)
    answer = lambda_handler(skill_event(intent="AssistIntent", query="turn on the light", access_token=token),
                            FakeContext())
    assert ha.requests == []
    assert answer["response"]["card"]["type"] == "LinkAccount"
    printed = output() + json.dumps(answer)
    assert TOKEN[:20] not in printed and TOKEN[10:] not in printed


# ---- malformed host names: a clear error on every path, no traceback ----

MALFORMED = ["https://ha..example.com", f"https://{'x' * 64}.example.com"]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_host_name_is_named_on_the_smart_home_path(bridge_env, alexa_schema, output, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    assert "host name" in event["payload"]["message"] and "malformed" in event["payload"]["message"]
    assert "Traceback" not in output()


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_host_name_is_spoken_and_logged_on_the_assist_path(bridge_env, caplog, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN, ASSIST_ALLOW_OPERATOR_TOKEN="true")
    answer = lambda_handler(skill_event(intent="AssistIntent", query="turn on the light"), FakeContext())
    assert answer["response"]["outputSpeech"]["ssml"]
    failed = [record for record in caplog.records if record.getMessage() == "assist failed"]
    assert failed and "malformed" in failed[0].reason
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_host_name_is_a_configuration_error_for_list(bridge_env, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    answer = lambda_handler({"devices": {"action": "list"}}, FakeContext())
    assert answer["error"]["type"] == "CONFIGURATION_ERROR"
    assert "host name" in answer["error"]["message"] and "malformed" in answer["error"]["message"]


@pytest.mark.parametrize("url", MALFORMED)
def test_the_doctor_fails_the_url_check_for_a_malformed_host_name(bridge_env, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    assert report["checks"][0]["check"] == "url" and report["checks"][0]["status"] == "failed"
    assert "malformed" in report["checks"][0]["detail"]
    assert {entry["status"] for entry in report["checks"][1:]} == {"skipped"}


@pytest.mark.parametrize("url", ["https://ha.example.com/api", "https://ha.example.com/api/"])
def test_a_url_ending_in_api_is_named_on_the_smart_home_path(bridge_env, alexa_schema, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    assert "ends in /api" in event["payload"]["message"]
    assert "alexa: smart_home" not in event["payload"]["message"]


# ---- the WebSocket: the deadline bounds the upgrade and the authentication, not each read ----


def websocket_upgrade(request: bytes) -> bytes:
    key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID.encode()).digest())
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def frame(message: dict) -> bytes:
    data = json.dumps(message).encode()
    return bytes([0x81, len(data)]) + data


REST = {b"/api/": b'{"message": "API running."}', b"/api/config": b'{"version": "2025.4.4"}'}


def trickling_websocket(what: str):
    """A Home Assistant whose REST API answers (REST above; 404 elsewhere) and whose WebSocket trickles `what`."""

    def serve(server, conn, index):
        while request := server.read_request(conn):
            if b"upgrade: websocket" not in request.lower():
                path = request.split(b" ", 2)[1]
                conn.sendall(http_answer(REST[path]) if path in REST else
                             http_answer(b'{"message": "Not found"}', "404 Not Found"))
                continue
            if what == "upgrade":
                server.trickle(conn, websocket_upgrade(request) + frame({"type": "auth_required"}))
            else:
                conn.sendall(websocket_upgrade(request))
                server.trickle(conn, frame({"type": "auth_required", "ha_version": "2025.4.4"}))
            return

    return serve


@pytest.mark.parametrize("what", ["upgrade", "auth_required"])
def test_list_answers_before_its_deadline_when_the_websocket_trickles(scripted, bridge_env, what):
    server = scripted(trickling_websocket(what))
    bridge_env(HA_URL=server.url, HA_TOKEN=TOKEN)
    started = time.monotonic()
    answer = lambda_handler({"devices": {"action": "list"}}, FakeContext(remaining_ms=2000))
    arrived = server.trickled
    assert answer["error"]["type"] == "HA_UNREACHABLE", answer
    assert "deadline" in answer["error"]["message"]
    assert arrived < (110 if what == "upgrade" else 40)  # the trickle was cut short, not waited out
    assert time.monotonic() - started < 2.0  # within what Lambda gave the invocation


def test_the_doctor_keeps_its_report_when_the_websocket_check_runs_out_of_time(bridge_env, monkeypatch, scripted):
    from ha_devices import doctor

    server = scripted(trickling_websocket("upgrade"))
    bridge_env(HA_URL=server.url, HA_TOKEN=TOKEN)
    monkeypatch.setattr(doctor, "CHECK_TIMEOUT_S", 1.0)
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    checks = {entry["check"]: entry for entry in report["checks"]}
    assert checks["token"]["status"] == "ok" and checks["version"]["status"] == "ok"
    assert checks["websocket"]["status"] == "warning"
    assert "deadline" in checks["websocket"]["detail"]
    assert checks["latency"]["status"] == "ok"  # the report went on after the check that ran out of time
    assert server.trickled < 110


# ---- issue 17: the connect phase inside the one deadline; a proxy's interim answers ----


def test_a_lost_syn_and_a_stalled_handshake_are_answered_while_lambda_time_is_left(dropping, bridge_env,
                                                                                  alexa_schema, output):
    server = dropping()
    server.admit(after_s=0.3)  # the first SYN is lost; the one Linux sends 1 s later gets in, then TLS stalls
    bridge_env(HA_URL=f"https://127.0.0.1:{server.port}")
    context = FakeContext(remaining_ms=2300)
    event = assert_error(lambda_handler(directive(), context), alexa_schema, "BRIDGE_UNREACHABLE")
    assert context.get_remaining_time_in_millis() > 0, "answered after the function would have ended"
    assert "deadline" in event["payload"]["message"]
    assert "directive failed" in output()


def test_each_directive_gets_its_own_answer_behind_a_proxy_that_sends_early_hints(scripted, bridge_env):
    def early_hints(server, conn, index):
        while request := server.read_request(conn):
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n" + answer_to(request))

    bridge_env(HA_URL=scripted(early_hints).url)
    for n in range(3):
        event = directive(endpoint_id=f"light#lamp_{n}")
        event["directive"]["header"]["correlationToken"] = f"corr-{n}"
        assert lambda_handler(event, FakeContext()) == ha_response(event)


# ---- issue 17: HA_URL parsed without quoting it; what HTTP cannot carry is named for what it is ----

# A full-width number sign, which NFKC turns into "#": urlsplit's own error then quotes the netloc, password and all.
NFKC_URLS = ["https://owner:pa55word\uff03x@ha.example.com", "http://owner:pa55word\uff03x@192.0.2.1:8123"]


@pytest.mark.parametrize("url", NFKC_URLS)
def test_a_url_that_urlsplit_refuses_is_named_on_every_path_without_its_password(bridge_env, alexa_schema, output,
                                                                                 caplog, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN, ASSIST_ALLOW_OPERATOR_TOKEN="true")
    answers = [
        assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR"),
        lambda_handler(skill_event(intent="AssistIntent", query="turn on the light"), FakeContext()),
        lambda_handler({"devices": {"action": "list"}}, FakeContext()),
        lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000)),
    ]
    assert "HA_URL" in answers[0]["payload"]["message"]
    assert answers[2]["error"]["type"] == "CONFIGURATION_ERROR" and "HA_URL" in answers[2]["error"]["message"]
    assert (answers[3]["checks"][0]["check"], answers[3]["checks"][0]["status"]) == ("url", "failed")
    printed = output() + caplog.text + json.dumps(answers)
    assert "pa55word" not in printed and "owner" not in printed
    assert "Traceback" not in printed


@pytest.mark.parametrize("url", ["https://ha.example.com/h\u00e4user", "https://ha.example.com/ha\u0661"])
def test_a_url_whose_path_is_not_ascii_is_refused_with_the_reason(bridge_env, alexa_schema, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    assert "HA_URL's path" in event["payload"]["message"] and "not resolved" not in event["payload"]["message"]
    report = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10000))
    assert (report["checks"][0]["check"], report["checks"][0]["status"]) == ("url", "failed")
    assert "HA_URL's path" in report["checks"][0]["detail"]


@pytest.mark.parametrize("url", ["https://ha.example.com/api/alexa/smart_home", "https://ha.example.com/api/states/",
                                 "http://h:8123/ha/api/alexa"])
def test_a_url_with_a_path_under_api_is_named_not_blamed_on_the_alexa_config(bridge_env, alexa_schema, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    event = assert_error(lambda_handler(directive(), FakeContext()), alexa_schema, "INTERNAL_ERROR")
    assert "/api" in event["payload"]["message"] and "base URL" in event["payload"]["message"]
    assert "alexa: smart_home" not in event["payload"]["message"]


@pytest.mark.parametrize("entity_id", ["light.lamp_\u0661", "light.lamp_\uff11", "sensor\u0662.x"])
def test_an_entity_id_with_a_digit_that_is_not_ascii_is_invalid_input(fake_ha, bridge_env, entity_id):
    ha = fake_ha(lambda *request: (200, {"entity_id": "light.lamp_1", "state": "on"}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    answer = lambda_handler({"devices": {"action": "state", "entity_id": entity_id}}, FakeContext())
    assert answer["error"]["type"] == "INVALID_INPUT", answer
    assert ha.requests == []


@pytest.mark.parametrize("field, value", [("domain", "light\u0661"), ("service", "turn_on_\uff12")])
def test_a_service_with_a_digit_that_is_not_ascii_is_invalid_input(fake_ha, bridge_env, field, value):
    ha = fake_ha(lambda *request: (200, [], None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    call = {"action": "call", "domain": "light", "service": "turn_on", field: value}
    answer = lambda_handler({"devices": call}, FakeContext())
    assert answer["error"]["type"] == "INVALID_INPUT", answer
    assert ha.requests == []


def test_a_request_http_cannot_carry_is_not_called_a_dns_failure(fake_ha):
    from gateway.errors import HomeAssistantBadAnswer
    from gateway.ha_client import HomeAssistantClient

    ha = fake_ha(lambda *request: (200, {}, None))
    client = HomeAssistantClient(ha.url)
    with pytest.raises(HomeAssistantBadAnswer) as caught:
        client.request("GET", "/api/states/light.lamp_\u0661", token=TOKEN, until=time.monotonic() + 5)
    assert caught.value.reason == "unsendable" and "not resolved" not in caught.value.detail
    assert ha.requests == []
    assert client.request("GET", "/api/", token=TOKEN, until=time.monotonic() + 5).status == 200
