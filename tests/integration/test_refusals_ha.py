"""Home Assistant's refusals, told apart on every path: a bad token, a user who is not an administrator, and an
address Home Assistant has banned after failed logins (a real ban, provoked in a test's own Home Assistant)."""

from devtools.demo_ha import HTTP_STORE, DemoHomeAssistant, http
from devtools.ha_install import version_at_least
from fast_path import lambda_handler
from gateway.errors import BANNED
from support import FakeContext

KITCHEN = "light.kitchen_lights"


def devices(**request):
    return lambda_handler({"devices": request}, FakeContext(remaining_ms=10000))


def checks(report: dict) -> dict:
    return {entry["check"]: entry for entry in report["checks"]}


def non_admin_token(ha: DemoHomeAssistant) -> str:
    """A token of a new user in the "Users" group, made through Home Assistant's own WebSocket and auth APIs."""
    return user_token(ha, "system-users", local_only=False, username="alexa-bridge")


def user_token(ha: DemoHomeAssistant, group: str, local_only: bool, username: str) -> str:
    """A new user's token (logged in from 127.0.0.1, the local network), made through Home Assistant's APIs."""
    user = ha.ws_command({"type": "config/auth/create", "name": username, "group_ids": [group],
                          "local_only": local_only})["user"]
    assert user["group_ids"] == [group]
    login = {"username": username, "password": "bridge-password-1"}
    ha.ws_command({"type": "config/auth_provider/homeassistant/create", "user_id": user["id"], **login})
    client = {"client_id": ha.url + "/"}
    flow = http("POST", ha.url + "/auth/login_flow",
                json_body={**client, "handler": ["homeassistant", None], "redirect_uri": ha.url + "/"}).body
    done = http("POST", f"{ha.url}/auth/login_flow/{flow['flow_id']}", json_body={**client, **login}).body
    assert done.get("type") == "create_entry", done
    answer = http("POST", ha.url + "/auth/token",
                  form={**client, "grant_type": "authorization_code", "code": done["result"]})
    return answer.body["access_token"]


def turn_on_kitchen(token: str) -> dict:
    header = {"namespace": "Alexa.PowerController", "name": "TurnOn", "payloadVersion": "3", "messageId": "m",
              "correlationToken": "c"}
    endpoint = {"endpointId": "light#kitchen_lights", "scope": {"type": "BearerToken", "token": token}}
    return {"directive": {"header": header, "endpoint": endpoint, "payload": {}}}


def test_a_non_admin_user_a_bad_token_and_a_banned_address_each_get_their_own_answer(make_ha, bridge_env):
    own = make_ha(http={"ip_ban_enabled": True, "login_attempts_threshold": 3})
    # Where the ban's settings live: HA 2026.8+ keeps them in its store (the UI's), YAML's only imported once
    # (read now: a banned address gets no WebSocket either).
    if version_at_least(own.version, HTTP_STORE):
        assert own.http_config()["stable"]["login_attempts_threshold"] == 3
        assert "Settings > System > Network > HTTP server" in BANNED
    else:
        assert own.http_config() is None and "under `http:` in configuration.yaml" in BANNED

    user_token = non_admin_token(own)

    # A least-privilege user: the doctor passes, states are read, an administrator's service is refused for
    # what it is (Home Assistant answers it with the same 401 as a bad token). Failed login 1 of 3.
    bridge_env(HA_URL=own.url, HA_TOKEN=user_token)
    report = checks(devices(action="health"))
    assert report["token"]["status"] == "ok"
    assert "the token's user is not an administrator" in report["websocket"]["detail"]
    assert devices(action="state", entity_id=KITCHEN)["entity_id"] == KITCHEN
    refused = devices(action="call", domain="homeassistant", service="restart")["error"]
    assert refused["type"] == "INVALID_AUTHORIZATION"
    assert "accepts the token" in refused["message"] and "not an administrator" in refused["message"]

    # A bad token is still a bad token. Failed login 2.
    bridge_env(HA_URL=own.url, HA_TOKEN="not-a-valid-token")
    report = devices(action="health")
    assert checks(report)["token"]["status"] == "failed" and "long-lived access token" in report["advice"]

    # Failed login 3: Home Assistant bans 127.0.0.1 and says so in its log.
    assert "rejected the token" in devices(action="state", entity_id=KITCHEN)["error"]["message"]
    assert "Banned IP 127.0.0.1 for too many login attempts" in own.log_path.read_text()

    # Now even the owner's valid token is refused, and every path names the ban instead of the token.
    bridge_env(HA_URL=own.url, HA_TOKEN=own.token)
    report = devices(action="health")
    assert report["summary"].startswith("failed at the token check") and "banned address" in report["summary"]
    assert report["advice"] == BANNED
    assert devices(action="state", entity_id=KITCHEN)["error"]["message"] == BANNED
    assert devices(action="list")["error"]["message"] == BANNED  # the WebSocket upgrade gets the same 403
    payload = lambda_handler(turn_on_kitchen(own.token), FakeContext())["event"]["payload"]
    assert payload == {"type": "INVALID_AUTHORIZATION_CREDENTIAL", "message": BANNED}
    user = {"userId": "u", "accessToken": own.token}  # account-linked: the token is the user's own
    intent = {"name": "AssistIntent", "slots": {"query": {"name": "query", "value": "what time is it"}}}
    assist = {"version": "1.0", "session": {"new": True, "sessionId": "s", "attributes": {}, "user": user},
              "context": {"System": {"user": user}},
              "request": {"type": "IntentRequest", "requestId": "r", "locale": "en-US",
                          "timestamp": "2025-01-01T00:00:00Z", "intent": intent}}
    speech = lambda_handler(assist, FakeContext())["response"]["outputSpeech"]["ssml"]
    assert "blocked the bridge after failed logins" in speech


def test_a_user_who_may_only_log_in_from_the_local_network_is_named_among_the_causes(make_ha, bridge_env):
    """Home Assistant refuses a "local network only" user's token from the internet (REST since before 2025.4, the
    WebSocket since 2026.5) with the 401 of a bad token, so the doctor names both causes and their fixes. Here the
    internet is a documentation address nginx puts in X-Forwarded-For, which Home Assistant trusts from 127.0.0.1."""
    from devtools.nginx import ReverseProxy

    own = make_ha(http={"use_x_forwarded_for": True, "trusted_proxies": ["127.0.0.1"]})
    token = user_token(own, "system-admin", local_only=True, username="local-only")
    assert http("GET", own.url + "/api/", token=token).status == 200  # from 127.0.0.1: the local network
    with ReverseProxy(own.port, forwarded_for="203.0.113.7") as proxy:
        bridge_env(HA_URL=proxy.url, HA_TOKEN=own.token)  # the owner's token from "the internet": accepted
        assert checks(devices(action="health"))["token"]["status"] == "ok"
        bridge_env(HA_URL=proxy.url, HA_TOKEN=token)
        report = devices(action="health")
    assert checks(report)["token"]["status"] == "failed"
    assert "long-lived access token" in report["advice"]
    assert "Can only log in from the local network" in report["advice"]
