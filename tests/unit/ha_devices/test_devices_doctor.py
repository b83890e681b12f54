"""The doctor against scripted Home Assistants: each fault is named by the right check, with what to do."""

import json
import socket
import ssl
import time
from urllib.parse import urlsplit

import pytest

from ha_devices import doctor
from support import TOKEN
from test_ha_websocket import FakeHA, make_certificate, serve_home_assistant

CHECK_NAMES = ["url", "dns", "tcp", "tls", "token", "version", "alexa", "conversation", "websocket", "latency",
               "account_linking", "state_reports", "rooms"]  # then metrics, which needs none of them
ENDPOINT = {"endpointId": "light#kitchen", "friendlyName": "Kitchen", "description": "light.kitchen via HA",
            "manufacturerName": "Home Assistant", "displayCategories": ["LIGHT"],
            "capabilities": [{"type": "AlexaInterface", "interface": "Alexa", "version": "3"}]}


def discovery(endpoints):
    return {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3",
                                 "messageId": "m"}, "payload": {"endpoints": endpoints}}}


def healthy_rest(**overrides):
    """A REST script of a healthy Home Assistant; `overrides` maps a path to another answer."""
    answers = {
        "/api/": (200, {"message": "API running."}),
        "/api/config": (200, {"version": "2025.4.4", "location_name": "Home", "components": ["alexa"]}),
        "/api/alexa/smart_home": (200, discovery([ENDPOINT, {**ENDPOINT, "endpointId": "switch#fan"}])),
        "/api/conversation/process": (200, {"response": {"response_type": "action_done",
                                                         "speech": {"plain": {"speech": "Hello."}}}}),
        "/auth/authorize": (200, b"<!DOCTYPE html><html><body>Home Assistant</body></html>", "text/html"),
        "/auth/providers": (200, {"providers": [{"name": "Home Assistant Local", "id": None, "type": "homeassistant"}],
                                  "preselect_remember_me": True}),
    }
    answers.update(overrides)

    def rest(method, path, body):
        return answers.get(path, (404, {"message": "Not found"}))

    return rest


@pytest.fixture
def servers():
    started = []

    def start(**kwargs):
        kwargs.setdefault("rest", healthy_rest())
        kwargs.setdefault("websocket", serve_home_assistant({}))
        started.append(FakeHA(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


def examine(seconds=10.0) -> dict:
    return doctor.examine(time.monotonic() + seconds)


def by_name(report: dict) -> dict:
    return {entry["check"]: entry for entry in report["checks"]}


def test_a_healthy_home_assistant_passes_every_check(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    assert [entry["check"] for entry in report["checks"]] == [*CHECK_NAMES, "metrics"]
    # Alexa cannot link accounts with http://127.0.0.1:port: the only warning (the check's "ok" case is below).
    assert {entry["check"]: entry["status"] for entry in report["checks"]} == {
        **dict.fromkeys(CHECK_NAMES, "ok"), "account_linking": "warning", "metrics": "skipped"}  # not in Lambda
    assert report["ok"] is True
    assert report["advice"] == doctor.FIX_LINKING_URL
    checks = by_name(report)
    assert "2 endpoints" in checks["alexa"]["detail"]
    assert "2025.4.4" in checks["version"]["detail"]
    assert all(isinstance(entry["ms"], float) and entry["ms"] >= 0 for entry in report["checks"])
    assert TOKEN not in json.dumps(report)
    # The Discovery carried the operator's token where Alexa puts it, and the bridge's own Authorization.
    method, path, headers, body = next(r for r in ha.requests if r[1] == "/api/alexa/smart_home")
    directive = json.loads(body)["directive"]
    assert (directive["header"]["namespace"], directive["header"]["name"]) == ("Alexa.Discovery", "Discover")
    assert directive["payload"]["scope"]["token"] == TOKEN
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_without_ha_url_the_first_check_fails_and_the_rest_are_skipped(bridge_env):
    bridge_env(HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert report["ok"] is False
    assert checks["url"]["status"] == "failed"
    assert "HA_URL" in checks["url"]["fix"] and report["advice"] == checks["url"]["fix"]
    assert all(checks[name]["status"] == "skipped" for name in CHECK_NAMES[1:])
    assert checks["latency"]["detail"] == "not run: the url check failed"


@pytest.mark.parametrize("url", ["ftp://user:pa55word@ha.example.com", "https://ha.example.com/api"])
def test_a_malformed_ha_url_fails_the_url_check(bridge_env, url):
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["url"]["status"] == "failed"
    assert checks["dns"]["status"] == "skipped"
    assert "pa55word" not in json.dumps(report)


def test_a_password_in_ha_url_is_a_warning_and_not_repeated(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url.replace("http://", "http://user:pa55word@"), HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["url"]["status"] == "warning"
    assert checks["token"]["status"] == "ok"
    assert "pa55word" not in json.dumps(report)


def test_a_host_that_does_not_resolve_fails_the_dns_check(bridge_env, monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    bridge_env(HA_URL="https://ha.example.test", HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["dns"]["status"] == "failed"
    assert "does not resolve" in checks["dns"]["detail"] and "public DNS" in checks["dns"]["fix"]
    assert checks["tcp"]["status"] == "skipped"
    assert report["summary"].startswith("failed at the dns check")


def test_a_resolver_that_hangs_fails_the_dns_check_instead_of_stalling(bridge_env, monkeypatch):
    release = []

    def hanging(*args, **kwargs):
        while not release:
            time.sleep(0.01)
        raise socket.gaierror(socket.EAI_AGAIN, "gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setattr(doctor, "CHECK_TIMEOUT_S", 0.2)
    bridge_env(HA_URL="https://ha.example.test", HA_TOKEN=TOKEN)
    try:
        checks = by_name(examine())
    finally:
        release.append(True)
    assert checks["dns"]["status"] == "failed"
    assert "no DNS answer" in checks["dns"]["detail"]


def test_a_stopped_home_assistant_fails_the_tcp_check(bridge_env):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    bridge_env(HA_URL=f"http://127.0.0.1:{port}", HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["dns"]["status"] == "ok"
    assert checks["tcp"]["status"] == "failed"
    assert "connection refused" in checks["tcp"]["detail"]
    assert "start Home Assistant" in report["advice"]
    assert all(checks[name]["detail"] == "not run: the tcp check failed" for name in CHECK_NAMES[3:])


def test_a_rejected_token_fails_the_token_check(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/": (401, b"401: Unauthorized", "text/plain")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["token"]["status"] == "failed"
    assert "rejected" in checks["token"]["detail"] and "HA_TOKEN" in checks["token"]["detail"]
    assert "long-lived access token" in report["advice"]
    assert all(checks[name]["status"] == "skipped" for name in CHECK_NAMES[5:])
    assert TOKEN not in json.dumps(report)


def test_an_ip_ban_fails_the_token_check_with_the_ban_advice(servers, bridge_env):
    """Home Assistant's answer to a banned address, whatever the token: a new token would change nothing."""
    ha = servers(rest=healthy_rest(**{"/api/": (403, b"403: Forbidden", "text/plain; charset=utf-8")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    token = by_name(report)["token"]
    assert token["status"] == "failed"
    assert "banned address" in token["detail"] and "rejected" not in token["detail"]
    assert report["advice"] == (
        "Home Assistant has banned this address after failed logins (HTTP 403, whatever the token): remove the"
        " address from ip_bans.yaml in Home Assistant's config dir and restart Home Assistant; AWS Lambda's"
        " addresses change, so consider turning the IP ban off (`ip_ban_enabled: false`) or raising its"
        " `login_attempts_threshold`: on Home Assistant 2026.8 and later in Settings > System > Network > HTTP"
        " server (http: in configuration.yaml is imported once, then ignored), before 2026.8 under `http:` in"
        " configuration.yaml")


def test_a_403_that_is_not_home_assistants_names_what_is_in_front_of_it(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/": (403, b"<html>Forbidden by policy</html>", "text/html")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    token = by_name(report)["token"]
    assert token["status"] == "failed" and "not Home Assistant's own answer" in token["detail"]
    assert "proxy" in report["advice"] and "ip_bans" not in report["advice"] and "long-lived" not in report["advice"]


def test_no_token_at_all_fails_the_token_check_without_asking_home_assistant(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url)
    checks = by_name(examine())
    assert checks["token"]["status"] == "failed"
    assert "HA_TOKEN" in checks["token"]["fix"]
    assert ha.requests == []


def test_a_login_page_in_front_of_home_assistant_is_recognised(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/": (200, b"<html>Sign in</html>", "text/html")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    checks = by_name(examine())
    assert checks["token"]["status"] == "failed"
    assert "text/html" in checks["token"]["detail"]
    assert "Cloudflare Access" in checks["token"]["fix"]


def test_without_alexa_smart_home_the_alexa_check_fails_and_says_what_to_add(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (404, b"404: Not Found", "text/plain")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert report["ok"] is False
    assert checks["alexa"]["status"] == "failed"
    assert "alexa: smart_home:" in report["advice"]
    assert report["summary"].startswith("failed at the alexa check")
    # Checks that do not depend on the Alexa endpoint still run.
    assert checks["conversation"]["status"] == checks["websocket"]["status"] == "ok"


def test_a_discovery_without_endpoints_fails_the_alexa_check(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (200, discovery([]))}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    checks = by_name(examine())
    assert checks["alexa"]["status"] == "failed"
    assert "filter" in checks["alexa"]["fix"]


def test_endpoints_that_break_alexas_rules_are_listed_as_a_warning(servers, bridge_env):
    broken = [{**ENDPOINT, "endpointId": "binary_sensor#wet", "displayCategories": None},
              {**ENDPOINT, "endpointId": "bad id"}]
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (200, discovery([ENDPOINT, *broken]))}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    alexa = by_name(report)["alexa"]
    assert report["ok"] is True  # Alexa discovers the rest
    assert alexa["status"] == "warning"
    assert "found 2 endpoints" in alexa["detail"]
    assert "repaired 1 and dropped 1" in alexa["detail"]
    assert "binary_sensor#wet repaired: displayCategories None became ['OTHER']" in alexa["detail"]
    assert "filter" in alexa["fix"]


def test_an_alexa_error_response_is_shown(servers, bridge_env):
    refused = {"event": {"header": {"name": "ErrorResponse", "namespace": "Alexa"},
                         "payload": {"type": "INVALID_AUTHORIZATION_CREDENTIAL", "message": "bad"}}}
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (200, refused)}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    checks = by_name(examine())
    assert checks["alexa"]["status"] == "failed"
    assert "INVALID_AUTHORIZATION_CREDENTIAL" in checks["alexa"]["detail"]


def test_a_missing_conversation_api_is_a_warning_not_a_failure(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/conversation/process": (404, b"404: Not Found", "text/plain")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["conversation"]["status"] == "warning"
    assert "conversation:" in checks["conversation"]["fix"]
    assert report["ok"] is True
    assert report["advice"] == checks["conversation"]["fix"]


def test_the_conversation_check_uses_the_configured_agent_and_language(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_AGENT_ID="conversation.llm", ASSIST_LANGUAGE="nl")
    examine()
    body = next(json.loads(r[3]) for r in ha.requests if r[1] == "/api/conversation/process")
    assert (body["agent_id"], body["language"]) == ("conversation.llm", "nl")


# Home Assistant 2025.4.4's built-in agent asked in German what it cannot match: an error answer, HTTP 200.
GERMAN_ERROR = {"response": {"speech": {"plain": {"speech": "Entschuldigung, das habe ich nicht verstanden",
                                                  "extra_data": None}},
                             "card": {}, "language": "de", "response_type": "error",
                             "data": {"code": "no_intent_match"}},
                "conversation_id": "01JQ7Z0000000000000000000", "continue_conversation": False}


@pytest.mark.parametrize("env, agent", [({}, "Home Assistant's default agent"),
                                        ({"ASSIST_AGENT_ID": "conversation.llm"}, "conversation.llm")])
def test_an_assist_error_answer_is_a_warning_naming_the_language_and_the_agent(servers, bridge_env, env, agent):
    ha = servers(rest=healthy_rest(**{"/api/conversation/process": (200, GERMAN_ERROR)}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_LANGUAGE="de", **env)
    report = examine()
    conversation = by_name(report)["conversation"]
    assert conversation["status"] == "warning"
    assert f"{agent} answered 'wie spät ist es' in de (ASSIST_LANGUAGE) with no_intent_match" in (
        conversation["detail"])
    assert "does not know" in conversation["detail"]  # the sentence unknown; the language not judged from it
    assert "Entschuldigung" in conversation["detail"]
    assert "ASSIST_LANGUAGE" in conversation["fix"] and "de" in conversation["fix"]
    assert report["ok"] is True  # only the custom skill is affected


@pytest.mark.parametrize("assist_language, ha_language, sent, text", [
    ("de-DE", "en", "de-DE", "wie spät ist es"),  # ASSIST_LANGUAGE wins
    ("", "fr", "fr", "quelle heure est-il"),  # else Home Assistant's own language
    ("pl", "en", "pl", "która jest godzina"),  # its own probe since issue 17
])
def test_the_conversation_probe_is_asked_in_the_language_assist_will_hear(servers, bridge_env, assist_language,
                                                                            ha_language, sent, text):
    config = (200, {"version": "2025.4.4", "location_name": "Home", "language": ha_language})
    ha = servers(rest=healthy_rest(**{"/api/config": config}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_LANGUAGE=assist_language)
    conversation = by_name(examine())["conversation"]
    body = next(json.loads(r[3]) for r in ha.requests if r[1] == "/api/conversation/process")
    assert (body["language"], body["text"]) == (sent, text)
    assert conversation["status"] == "ok" and f"in {sent} (" in conversation["detail"]


def test_a_proxy_that_refuses_websockets_is_named(servers, bridge_env):
    ha = servers(upgrade_status=400)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["websocket"]["status"] == "warning"
    assert "HTTP 400" in checks["websocket"]["detail"]
    assert "Upgrade" in checks["websocket"]["fix"]
    assert "only the `list` action needs it" in checks["websocket"]["detail"]
    assert report["ok"] is True


def test_with_alexa_expose_a_refused_websocket_fails_the_alexa_check_and_the_websocket_check_says_why(servers,
                                                                                                     bridge_env):
    ha = servers(upgrade_status=400)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ALEXA_EXPOSE="assist")
    report = examine()
    checks = by_name(report)
    assert checks["alexa"]["status"] == "failed" and report["ok"] is False
    assert "must pass WebSocket upgrades" in checks["alexa"]["detail"]
    assert "Upgrade" in checks["alexa"]["fix"]
    assert "ALEXA_EXPOSE=assist: Alexa's Discovery reads the owner's choice through it" in checks["websocket"]["detail"]


@pytest.mark.parametrize("is_admin, words", [(False, "the token's user is not an administrator: the `call` action"),
                                              (True, "the token's user is an administrator")])
def test_the_websocket_check_says_whether_the_tokens_user_is_an_administrator(servers, bridge_env, is_admin, words):
    user = {"id": "abc", "name": "Alexa bridge", "is_owner": False, "is_admin": is_admin, "credentials": []}
    ha = servers(websocket=serve_home_assistant({"auth/current_user": user}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    websocket = by_name(examine())["websocket"]
    assert websocket["status"] == "ok" and words in websocket["detail"]


def test_a_websocket_that_rejects_the_token_is_named(servers, bridge_env):
    ha = servers(websocket=serve_home_assistant({}, token="another"))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    checks = by_name(examine())
    assert checks["websocket"]["status"] == "warning"
    assert "rejected the token" in checks["websocket"]["detail"]


def test_no_time_left_fails_instead_of_reporting_nothing(bridge_env):
    bridge_env(HA_URL="http://127.0.0.1:9", HA_TOKEN=TOKEN)
    report = doctor.examine(time.monotonic() - 1)
    checks = by_name(report)
    assert report["ok"] is False
    assert checks["url"]["status"] == "failed"
    assert "Timeout" in checks["url"]["fix"]


def test_a_check_that_crashes_is_reported_and_the_rest_still_run(servers, bridge_env, monkeypatch):
    def broken(probe):
        raise KeyError("surprise")

    monkeypatch.setattr(doctor, "CHECKS", [(n, broken if n == "version" else c, d) for n, c, d in doctor.CHECKS])
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["version"]["status"] == "failed"
    assert "KeyError" in checks["version"]["detail"]
    assert checks["alexa"]["status"] == "ok"


def test_extra_headers_go_with_every_check_that_talks_to_home_assistant(servers, bridge_env):
    from gateway import secrets

    headers = {"CF-Access-Client-Id": "id.access", "CF-Access-Client-Secret": "s3cret"}
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    secrets._cache["/bridge/headers"] = (time.monotonic(), json.dumps(headers))
    report = examine()
    assert report["ok"] is True
    assert {r[1] for r in ha.requests} >= {"/api/", "/api/config", "/api/alexa/smart_home", "/api/websocket"}
    assert all({name: r[2][name] for name in headers} == headers for r in ha.requests)
    assert "s3cret" not in json.dumps(report)


def test_unusable_extra_headers_fail_the_token_check_without_their_value(servers, bridge_env):
    from gateway import secrets

    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    secrets._cache["/bridge/headers"] = (time.monotonic(), "not json s3cret")
    report = examine()
    checks = by_name(report)
    assert checks["token"]["status"] == "failed"
    assert "HA_HEADERS_PARAMETER" in checks["token"]["detail"] and "HA_HEADERS_PARAMETER" in report["advice"]
    assert "s3cret" not in json.dumps(report)
    assert ha.requests == []


def test_an_unusable_ca_bundle_fails_the_url_check_naming_it(bridge_env, tmp_path):
    bridge_env(HA_URL="https://ha.example.test", HA_TOKEN=TOKEN, HA_CA_BUNDLE=str(tmp_path / "missing.pem"))
    checks = by_name(examine())
    assert checks["url"]["status"] == "failed"
    assert "HA_CA_BUNDLE" in checks["url"]["detail"]


# ---- TLS ----


def test_a_trusted_certificate_passes_with_its_details(servers, bridge_env, tmp_path):
    cert, server_tls = make_certificate(tmp_path, names=("localhost", "127.0.0.1"), days=90)
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_CA_BUNDLE=str(cert))
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "ok", checks["tls"]
    assert "for localhost (and 1 more name)" in checks["tls"]["detail"]
    assert "valid until" in checks["tls"]["detail"] and "days left" in checks["tls"]["detail"]
    assert checks["websocket"]["status"] == "ok"  # wss through the same trust
    assert report["ok"] is True


def test_an_untrusted_certificate_fails_and_still_shows_what_it_is(servers, bridge_env, tmp_path):
    _, server_tls = make_certificate(tmp_path, names=("localhost", "127.0.0.1"))
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "failed"
    assert "not trusted" in checks["tls"]["detail"]
    assert "for localhost" in checks["tls"]["detail"] and "Bridge Test CA" in checks["tls"]["detail"]
    assert "HA_CA_BUNDLE" in report["advice"]
    assert checks["token"]["status"] == "skipped"


# The advice for each is spelled out, not read from doctor.TLS_FIXES: swapped advice must fail a test.
SELF_SIGNED_ADVICE = ("a self-signed certificate: use one from a public CA (e.g. Let's Encrypt), or set HA_CA_BUNDLE"
                      " to it")
PRIVATE_CA_ADVICE = "the chain ends in a private CA: use a certificate from a public CA, or set HA_CA_BUNDLE to your CA"


def test_a_self_signed_certificate_gets_the_self_signed_advice(servers, bridge_env, tmp_path):
    _, server_tls = make_certificate(tmp_path, names=("localhost", "127.0.0.1"))
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    assert "self-signed certificate" in by_name(report)["tls"]["detail"]
    assert report["advice"] == SELF_SIGNED_ADVICE


def test_a_chain_to_a_private_ca_gets_the_private_ca_advice(servers, bridge_env, tmp_path):
    from test_tls import make_cert, pem

    ca = make_cert("Home Private CA", ca=True)
    leaf, key = make_cert("ha.home", ca, hosts=["127.0.0.1", "localhost"])
    chain, key_file = tmp_path / "fullchain.pem", tmp_path / "key.pem"
    chain.write_text(pem(leaf) + pem(ca[0]))  # the server sends its CA too, as a full chain does
    key_file.write_text(pem(key=key))
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(chain, key_file)
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    report = examine()
    assert "self-signed certificate in certificate chain" in by_name(report)["tls"]["detail"]
    assert report["advice"] == PRIVATE_CA_ADVICE


def test_a_certificate_for_another_name_fails_with_the_name_advice(servers, bridge_env, tmp_path):
    cert, server_tls = make_certificate(tmp_path, names=("ha.example.test",))
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_CA_BUNDLE=str(cert))
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "failed"
    assert report["advice"] == doctor.TLS_FIXES[64]


def test_an_expired_certificate_fails_the_tls_check(servers, bridge_env, tmp_path):
    cert, server_tls = make_certificate(tmp_path, expired=True)
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_CA_BUNDLE=str(cert))
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "failed"
    assert "expired on" in checks["tls"]["detail"]
    assert report["advice"] == doctor.TLS_FIXES[10]


def test_a_certificate_about_to_expire_is_a_warning(servers, bridge_env, tmp_path):
    cert, server_tls = make_certificate(tmp_path, days=5)
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_CA_BUNDLE=str(cert))
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "warning"
    assert "expires in less than 14 days" in checks["tls"]["detail"]
    assert report["ok"] is True


def test_with_verification_off_the_certificate_is_still_described(servers, bridge_env, tmp_path):
    _, server_tls = make_certificate(tmp_path, names=("ha.example.test",), expired=True)
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_VERIFY_TLS="false")
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "warning"
    detail = checks["tls"]["detail"]
    assert "HA_VERIFY_TLS=false" in detail
    assert "for ha.example.test" in detail and "it has expired" in detail and "not valid for 127.0.0.1" in detail
    assert checks["token"]["status"] == "ok"
    assert report["ok"] is True


def test_plain_http_to_a_public_address_is_a_warning():
    probe = doctor.Probe(time.monotonic() + 5)
    probe.client = type("Client", (), {"tls": None, "host": "ha.example.com"})()
    probe.addresses = [(socket.AF_INET, ("1.1.1.1", 80))]
    outcome = doctor.check_tls(probe)
    assert outcome.status == "warning"
    assert "https://" in outcome.fix
    probe.addresses = [(socket.AF_INET, ("192.168.1.5", 80))]
    assert doctor.check_tls(probe).status == "ok"


def test_a_port_that_does_not_speak_tls_fails_the_handshake(servers, bridge_env):
    ha = servers()  # plain HTTP
    bridge_env(HA_URL=ha.url.replace("http://", "https://"), HA_TOKEN=TOKEN)
    report = examine()
    checks = by_name(report)
    assert checks["tcp"]["status"] == "ok"
    assert checks["tls"]["status"] == "failed"
    assert "http://" in checks["tls"]["fix"]


def test_a_server_that_wants_a_client_certificate_is_named_at_the_tls_check(servers, bridge_env, tmp_path):
    cert, server_tls = make_certificate(tmp_path)
    server_tls.verify_mode = ssl.CERT_REQUIRED
    server_tls.load_verify_locations(cert)  # trusts only clients with the test CA's certificate
    ha = servers(tls=server_tls)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_CA_BUNDLE=str(cert))
    report = examine()
    checks = by_name(report)
    assert checks["tls"]["status"] == "failed"
    assert "hung up right after the handshake" in checks["tls"]["detail"]  # an alert, or a reset overtaking it
    assert "HA_CLIENT_CERT" in report["advice"]
    # With the certificate it trusts, every check passes, the WebSocket too.
    bridge_env(HA_CLIENT_CERT=str(cert), HA_CLIENT_KEY=str(tmp_path / "key-localhost.pem"))
    report = examine()
    assert report["ok"] is True, report
    assert by_name(report)["websocket"]["status"] == "ok"


def test_a_home_over_alexas_300_says_what_is_left_out_and_proposes_a_filter(servers, bridge_env):
    import yaml

    def many(domain, count, interface="Alexa.PowerController"):
        return [{**ENDPOINT, "endpointId": f"{domain}#e{i}", "capabilities": [
            {"type": "AlexaInterface", "interface": interface, "version": "3"}]} for i in range(count)]

    endpoints = (many("input_boolean", 601) + many("light", 40) + many("script", 100) + many("lock", 3)
                 + many("sensor", 200, "Alexa.TemperatureSensor") + many("scene", 20) + many("input_number", 150))
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (200, discovery(endpoints))}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    alexa = by_name(examine())["alexa"]
    assert alexa["status"] == "warning"
    assert alexa["detail"] == ("1,114 offered, Alexa takes 300: 814 left out: 344 input_boolean, 200 sensor,"
                               " 150 input_number, 100 script, 20 scene; Alexa gets 300: 257 input_boolean, 40 light,"
                               " 3 lock (why: 814 dropped: Alexa takes at most 300 endpoints); ALEXA_EXPOSE=all: Alexa"
                               " gets what `alexa: smart_home:` offers (its `filter:` chooses)")
    snippet = yaml.safe_load(alexa["fix"].split(":\n", 1)[1])
    # Every device, then whole domains of scripts and helpers while they fit: 40 + 3 + 100 + 20 + 150 = 313 is
    # too many, so input_number stays out; the sensors' 200 would not fit either.
    assert snippet == {"alexa": {"smart_home": {"filter": {"include_domains": ["light", "lock", "script", "scene"]}}}}
    assert "exposes 163 endpoints" in alexa["fix"] and "room for 137 more" in alexa["fix"]


def exposure_answers(listed, expose_new=True, entities=None, **more):
    """The WebSocket answers ALEXA_EXPOSE=assist reads: `listed` entity IDs exposed to Assist explicitly."""
    return serve_home_assistant({
        "homeassistant/expose_entity/list": {"exposed_entities": {e: {"conversation": True} for e in listed}},
        "homeassistant/expose_new_entities/get": {"expose_new": expose_new},
        "config/entity_registry/list": entities or [], **more})


def test_the_alexa_check_says_which_exposure_is_in_force_and_counts_exposed_and_hidden(servers, bridge_env):
    ha = servers(websocket=exposure_answers(["light.kitchen"]))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ALEXA_EXPOSE="assist")
    alexa = by_name(examine())["alexa"]
    assert alexa["status"] == "ok"
    assert "found 1 endpoints" in alexa["detail"]
    assert "ALEXA_EXPOSE=assist: 1 of 2 offered are exposed, 1 hidden (1 not exposed to Assist in Home" in alexa[
        "detail"]


def test_over_300_with_the_choice_in_the_ui_the_advice_is_to_hide_in_the_ui_not_a_yaml_filter(servers, bridge_env):
    lamps = [{**ENDPOINT, "endpointId": f"light#lamp_{i}"} for i in range(320)]
    entities = [{"entity_id": f"light.lamp_{i}", "options": {}} for i in range(320)]  # no setting: lights by default
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (200, discovery(lamps + [ENDPOINT]))}),
                 websocket=exposure_answers([], entities=entities))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ALEXA_EXPOSE="assist")
    alexa = by_name(examine())["alexa"]
    assert alexa["status"] == "warning"
    assert "ALEXA_EXPOSE=assist: 320 of 321 offered are exposed, 1 hidden" in alexa["detail"]
    assert "hide 20 of them from Assist in Settings > Voice assistants > Expose" in alexa["fix"]
    assert "filter:" not in alexa["fix"]


def test_over_300_with_a_label_the_advice_is_to_remove_it_from_some(servers, bridge_env):
    lamps = [{**ENDPOINT, "endpointId": f"light#lamp_{i}"} for i in range(305)]
    entities = [{"entity_id": f"light.lamp_{i}", "labels": ["alexa"]} for i in range(305)]
    ha = servers(rest=healthy_rest(**{"/api/alexa/smart_home": (200, discovery(lamps))}),
                 websocket=serve_home_assistant({"config/label_registry/list": [{"label_id": "alexa", "name": "Alexa"}],
                                                 "config/entity_registry/list": entities,
                                                 "config/device_registry/list": []}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ALEXA_EXPOSE="label")
    alexa = by_name(examine())["alexa"]
    assert alexa["status"] == "warning"
    assert "remove the label 'Alexa' from 5 of them" in alexa["fix"]


def test_an_unreadable_exposure_fails_the_alexa_check_naming_the_cause(servers, bridge_env):
    refused = {"error": {"code": "unauthorized", "message": "Unauthorized"}}
    ha = servers(websocket=exposure_answers([], **{"homeassistant/expose_entity/list": refused}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ALEXA_EXPOSE="cloud")
    report = examine()
    alexa = by_name(report)["alexa"]
    assert alexa["status"] == "failed" and report["ok"] is False
    assert alexa["detail"].startswith("ALEXA_EXPOSE=cloud: Home Assistant refused homeassistant/expose_entity/list")
    assert "Alexa keeps the devices it has" in alexa["detail"]
    assert "administrator" in alexa["fix"]


class ScriptedClient:
    """The client's request(), answering from a table: the account_linking check on a URL a test cannot serve."""

    def __init__(self, host, port, answers):
        self.host, self.port, self.base_path, self.answers = host, port, "", answers

    def request(self, method, path, *, token, until, body=None):
        from gateway.ha_client import Response

        status, payload, content_type = self.answers[path]
        return Response(status, payload if isinstance(payload, bytes) else json.dumps(payload).encode(), content_type)


LOGIN_PAGE = (200, b"<!DOCTYPE html><html></html>", "text/html; charset=utf-8")
PROVIDERS = (200, {"providers": [{"name": "Home Assistant Local", "id": None, "type": "homeassistant"}]},
             "application/json")


def linking(bridge_env, url, address, answers=None) -> doctor.Outcome:
    bridge_env(HA_URL=url, HA_TOKEN=TOKEN)
    parts = urlsplit(url)
    probe = doctor.Probe(time.monotonic() + 5, token=TOKEN, check_until=time.monotonic() + 5,
                         addresses=[(socket.AF_INET, (address, parts.port or 443))])
    probe.client = ScriptedClient(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                  answers or {"/auth/authorize": LOGIN_PAGE, "/auth/providers": PROVIDERS})
    return doctor.check_account_linking(probe)


def test_account_linking_gives_the_alexa_console_values(bridge_env):
    outcome = linking(bridge_env, "https://user:pa55word@ha.example.com/", "93.184.215.14")
    assert outcome.status == "ok", outcome
    assert outcome.values == {
        "Authorization URI": "https://ha.example.com/auth/authorize",
        "Access Token URI": "https://ha.example.com/auth/token",
        "Client ID": {"https://pitangui.amazon.com/": "North America and Brazil",
                      "https://layla.amazon.com/": "Europe, India and the Middle East",
                      "https://alexa.amazon.co.jp/": "Japan and Australia"},
        "Your Secret": "anything: Home Assistant does not check it",
        "Your Authentication Scheme": "Credentials in request body", "Scope": "smart_home"}
    assert "https://ha.example.com/auth/authorize" in outcome.detail and "(homeassistant)" in outcome.detail


@pytest.mark.parametrize("url, address, problems", [
    ("https://ha.example.com:8123", "93.184.215.14", ["port 8123, not 443"]),
    ("http://ha.example.com", "93.184.215.14", ["not https://"]),
    ("https://ha.example.com", "192.168.1.20", ["private address"]),
    ("http://homeassistant.local:8123", "10.0.0.2", ["not https://", "private address"]),
])
def test_account_linking_warns_about_a_url_alexa_cannot_link_with(bridge_env, url, address, problems):
    outcome = linking(bridge_env, url, address)
    assert outcome.status == "warning" and outcome.fix == doctor.FIX_LINKING_URL
    assert all(problem in outcome.detail for problem in problems), outcome.detail
    assert outcome.values["Authorization URI"] == url.rstrip("/") + "/auth/authorize"


@pytest.mark.parametrize("answers, words", [
    ({"/auth/authorize": (404, b"404: Not Found", "text/plain"), "/auth/providers": PROVIDERS},
     "HTTP 404 (text/plain), not Home Assistant's login page"),
    ({"/auth/authorize": (200, b"{}", "application/json"), "/auth/providers": PROVIDERS}, "not Home Assistant's"),
    ({"/auth/authorize": LOGIN_PAGE, "/auth/providers": (200, {"providers": []}, "application/json")},
     "without a login provider"),
    ({"/auth/authorize": LOGIN_PAGE, "/auth/providers": (400, {"message": "Onboarding not finished"},
                                                         "application/json")}, "HTTP 400 without a login provider"),
])
def test_account_linking_fails_when_home_assistant_cannot_log_anyone_in(bridge_env, answers, words):
    outcome = linking(bridge_env, "https://ha.example.com", "93.184.215.14", answers)
    assert outcome.status == "failed" and words in outcome.detail and outcome.fix


def test_account_linking_in_the_report_carries_the_values(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    entry = by_name(examine())["account_linking"]
    assert entry["values"]["Authorization URI"] == f"{ha.url}/auth/authorize"
    assert "not https://" in entry["detail"] and "private address" in entry["detail"]


def alexa_record(message, count=3, name="homeassistant.components.alexa.state_report"):
    return {"name": name, "message": [message], "level": "ERROR", "source": ["x.py", 1], "timestamp": 1.0,
            "exception": "", "count": count, "first_occurred": 1.0}


@pytest.mark.parametrize("records, words", [
    ([alexa_record("Error when sending ChangeReport to Alexa, could not get access token")],
     "no Alexa event token: no AcceptGrant reached it"),
    ([alexa_record("Error calling LWA to get auth token", name="homeassistant.components.alexa.auth")],
     "could not get or refresh its Alexa event token from Login with Amazon"),
    ([alexa_record("Error when sending ChangeReport for light.kitchen to Alexa: INVALID_ACCESS_TOKEN_EXCEPTION: x")],
     "Alexa refused Home Assistant's state reports (3x"),
])
def test_state_report_errors_in_home_assistants_log_are_a_warning(servers, bridge_env, records, words):
    noise = alexa_record("Setup failed for demo", name="homeassistant.setup")
    ha = servers(websocket=serve_home_assistant({"system_log/list": [noise, *records]}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    check = by_name(examine())["state_reports"]
    assert check["status"] == "warning" and words in check["detail"], check
    assert "Send Alexa Events" in check["fix"] and "Setup failed" not in check["detail"]


@pytest.mark.parametrize("log, words", [
    ([alexa_record("Setup failed for demo", name="homeassistant.setup")], "no Alexa state report errors"),
    ({"error": {"code": "unauthorized", "message": "Unauthorized"}}, "not readable with this token (unauthorized"),
])
def test_without_state_report_errors_the_doctor_says_what_it_cannot_see(servers, bridge_env, log, words):
    ha = servers(websocket=serve_home_assistant({"system_log/list": log}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    check = by_name(examine())["state_reports"]
    assert check["status"] == "ok" and words in check["detail"], check
    assert "cannot see whether Home Assistant holds Alexa's event token" in check["detail"]


# --- ASSIST_ROOMS: the Echos' rooms -----------------------------------------------------------------------------

ROOM_REGISTRIES = {
    "config/area_registry/list": [{"area_id": "kitchen", "name": "Kitchen"}, {"area_id": "hall", "name": "Hall"}],
    "config/device_registry/list": [{"id": "d-lamp", "area_id": "kitchen"}, {"id": "d-satellite", "area_id": "hall"}],
    "config/entity_registry/list_for_display": {"entities": [{"ei": "assist_satellite.hall", "di": "d-satellite"}]},
}


def test_without_assist_rooms_the_rooms_check_passes_saying_so(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN)
    rooms = by_name(examine())["rooms"]
    assert rooms == {**rooms, "status": "ok", "detail": "ASSIST_ROOMS is not set: Assist hears no Echo's room"}


def test_the_rooms_check_lists_each_mapped_echo_and_the_device_sent_for_it(servers, bridge_env):
    ha = servers(websocket=serve_home_assistant(ROOM_REGISTRIES, version="2026.11.0"))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_ROOMS=json.dumps({"amzn1.ask.device.K": "kitchen"}))
    rooms = by_name(examine())["rooms"]
    assert rooms["status"] == "ok"
    assert rooms["detail"] == "1 Echo(s) mapped: amzn1.ask.device.K -> 'kitchen' (sent as device d-lamp)"


def test_an_area_that_does_not_exist_or_has_only_a_satellite_is_a_warning(servers, bridge_env):
    ha = servers(websocket=serve_home_assistant(ROOM_REGISTRIES, version="2026.11.0"))
    rooms = {"amzn1.ask.device.G": "Garage", "amzn1.ask.device.H": "Hall", "amzn1.ask.device.K": "Kitchen"}
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_ROOMS=json.dumps(rooms))
    report = examine()
    check = by_name(report)["rooms"]
    assert check["status"] == "warning" and report["ok"] is True
    assert "amzn1.ask.device.G -> 'Garage': Home Assistant has no area 'Garage'" in check["detail"]
    assert "amzn1.ask.device.H -> 'Hall': area 'Hall' has no device the bridge can name" in check["detail"]
    assert "amzn1.ask.device.K -> 'Kitchen' (sent as device d-lamp)" in check["detail"]
    assert "2 of them go without a room" in check["detail"]
    assert "Settings, Areas" in check["fix"]


def test_a_home_assistant_before_2026_4_is_named_as_the_reason_rooms_do_not_reach_assist(servers, bridge_env):
    ha = servers(websocket=serve_home_assistant(ROOM_REGISTRIES, version="2025.4.4"))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_ROOMS=json.dumps({"amzn1.ask.device.K": "kitchen"}))
    check = by_name(examine())["rooms"]
    assert check["status"] == "warning"
    assert "Home Assistant 2025.4.4 takes no device_id in its conversation API" in check["detail"]
    assert check["fix"] == "update Home Assistant to 2026.4 or later"


def test_a_malformed_assist_rooms_is_a_warning_naming_the_setting_not_its_value(servers, bridge_env):
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_ROOMS='{"amzn1.ask.device.SECRETISH": 7}')
    check = by_name(examine())["rooms"]
    assert check["status"] == "warning"
    assert check["detail"].startswith("ASSIST_ROOMS: the area of entry 1 is not a non-empty string")
    assert "SECRETISH" not in json.dumps(check)


# ---- issue 17: the conversation probe in the owner's language; an unknown sentence is not an unknown language ----

NO_MATCH = {"response": {"speech": {"plain": {"speech": "Sorry, I couldn't understand that", "extra_data": None}},
                         "card": {}, "language": "pt-BR", "response_type": "error",
                         "data": {"code": "no_intent_match"}}, "conversation_id": None, "continue_conversation": False}


def agents_speaking(*languages):
    """conversation/agent/list as Home Assistant answers it for a language: the default agent's matching languages."""
    return lambda message, peer: {"agents": [{"id": "conversation.home_assistant", "name": "Home Assistant",
                                              "supported_languages": [
                                                  lang for lang in languages if lang == message.get("language")]}]}


@pytest.mark.parametrize("language, sentence", [
    ("pt-BR", "que horas são"), ("pl", "która jest godzina"), ("ja-JP", "今何時ですか"), ("hi", "समय क्या है"),
    ("ar", "كم الساعة"), ("es", "qué hora es"), ("it", "che ore sono")])
def test_the_conversation_probe_is_asked_in_the_language(servers, bridge_env, language, sentence):
    ha = servers()
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_LANGUAGE=language)
    conversation = by_name(examine())["conversation"]
    body = next(json.loads(r[3]) for r in ha.requests if r[1] == "/api/conversation/process")
    assert (body["text"], body["language"]) == (sentence, language)
    assert conversation["status"] == "ok"


@pytest.mark.parametrize("code", ["no_intent_match", "no_valid_targets"])
def test_an_unknown_probe_sentence_in_a_supported_language_is_not_called_an_unsupported_language(servers, bridge_env,
                                                                                                code):
    error = {**NO_MATCH, "response": {**NO_MATCH["response"], "data": {"code": code}}}
    ha = servers(rest=healthy_rest(**{"/api/conversation/process": (200, error)}),
                 websocket=serve_home_assistant({"conversation/agent/list": agents_speaking("pt-BR")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_LANGUAGE="pt-BR")
    conversation = by_name(examine())["conversation"]
    assert conversation["status"] == "ok", conversation
    assert "supports pt-BR" in conversation["detail"] and "does not understand" not in conversation["detail"]
    assert "current-time" in conversation["detail"]


def test_a_language_the_agent_does_not_list_is_a_warning_naming_it(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/conversation/process": (200, NO_MATCH)}),
                 websocket=serve_home_assistant({"conversation/agent/list": agents_speaking("en")}))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_LANGUAGE="pt-BR")
    conversation = by_name(examine())["conversation"]
    assert conversation["status"] == "warning"
    assert "does not support pt-BR" in conversation["detail"] and "ASSIST_LANGUAGE" in conversation["fix"]


def test_when_the_agents_languages_cannot_be_read_the_check_says_it_does_not_know(servers, bridge_env):
    ha = servers(rest=healthy_rest(**{"/api/conversation/process": (200, NO_MATCH)}))  # no conversation/agent/list
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, ASSIST_LANGUAGE="pt-BR")
    conversation = by_name(examine())["conversation"]
    assert conversation["status"] == "warning"
    assert "does not know" in conversation["detail"] and "does not understand" not in conversation["detail"]
