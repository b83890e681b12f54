"""Account linking the way Alexa links, against a real Home Assistant: login flow, code, refresh, then requests.

For each Alexa region's client ID (Home Assistant's Alexa documentation: the redirect origin, trailing slash
included) and its `/api/skill/link/<vendor ID>` redirect URI (same origin as the client ID, so Home Assistant accepts it
without fetching the client ID's page), as Alexa's account linking does it: Home Assistant's
login flow with the user's name and password, the code exchanged at /auth/token ("Credentials in request body":
a client secret Home Assistant ignores), the refresh grant, then Smart Home directives and an Assist utterance
carrying the linked access token, changing state in Home Assistant. Then the two answers to a rejected token.
"""

import base64
import hashlib
import hmac
import json
import time

import pytest

from devtools.demo_ha import USER, DemoHomeAssistant, http
from fast_path import lambda_handler
from support import FakeContext

VENDOR_ID = "M2ABCDEFGHIJKL"  # Alexa's redirect URIs end in the developer account's vendor ID
CLIENT_IDS = {"US": "https://pitangui.amazon.com/", "EU": "https://layla.amazon.com/",
              "FE": "https://alexa.amazon.co.jp/"}
SWITCH = "switch.decorative_lights"


@pytest.fixture(scope="module")
def home(ha_venv, tmp_path_factory):
    """A Home Assistant of this module's own: linking adds refresh tokens and the tests switch devices."""
    demo = DemoHomeAssistant(tmp_path_factory.mktemp("ha-linking"), alexa=True)
    try:
        demo.start()
    except Exception as err:  # noqa: BLE001 - a failure to start fails the tests, never skips them
        pytest.fail(f"Home Assistant could not start: {err}", pytrace=False)
    yield demo
    demo.stop()


def link(home, client_id: str) -> dict:
    """Alexa's account linking: login flow, code exchange; returns /auth/token's answer."""
    redirect_uri = f"{client_id}api/skill/link/{VENDOR_ID}"
    providers = http("GET", home.url + "/auth/providers").body["providers"]
    assert "homeassistant" in {provider["type"] for provider in providers}  # user name and password
    flow = http("POST", home.url + "/auth/login_flow", json_body={
        "client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": redirect_uri})
    assert flow.status == 200 and flow.body["type"] == "form", flow
    assert {field["name"] for field in flow.body["data_schema"]} >= {"username", "password"}
    done = http("POST", f"{home.url}/auth/login_flow/{flow.body['flow_id']}", json_body={
        "client_id": client_id, "username": USER["username"], "password": USER["password"]})
    assert done.status == 200 and done.body["type"] == "create_entry", done
    tokens = http("POST", home.url + "/auth/token", form={
        "grant_type": "authorization_code", "code": done.body["result"], "client_id": client_id,
        "client_secret": "anything"})
    assert tokens.status == 200, tokens
    return tokens.body


def refresh(home, client_id: str, refresh_token: str) -> dict:
    answer = http("POST", home.url + "/auth/token", form={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id,
        "client_secret": "anything"})
    assert answer.status == 200, answer
    return answer.body


def directive(namespace: str, name: str, token: str, endpoint_id: str | None = None) -> dict:
    header = {"namespace": namespace, "name": name, "payloadVersion": "3", "messageId": f"m-{name}",
              "correlationToken": "corr-link"}
    scope = {"type": "BearerToken", "token": token}
    if endpoint_id is None:
        return {"directive": {"header": header, "payload": {"scope": scope}}}
    return {"directive": {"header": header, "endpoint": {"endpointId": endpoint_id, "scope": scope, "cookie": {}},
                          "payload": {}}}


def assist(utterance: str, token: str) -> dict:
    user = {"userId": "amzn1.ask.account.LINKED", "accessToken": token}
    request = {"type": "IntentRequest", "requestId": "amzn1.echo-api.request.link", "locale": "en-US",
               "timestamp": "2025-01-01T00:00:00Z",
               "intent": {"name": "AssistIntent", "confirmationStatus": "NONE",
                          "slots": {"query": {"name": "query", "value": utterance, "confirmationStatus": "NONE"}}}}
    event = {"version": "1.0", "session": {"new": True, "sessionId": "amzn1.echo-api.session.link",
                                           "attributes": {}, "user": user},
             "context": {"System": {"user": user}}, "request": request}
    return lambda_handler(event, FakeContext())


def state(home, entity_id: str, wanted: str, timeout: float = 10.0) -> str:
    until = time.monotonic() + timeout
    while (current := home.api("GET", f"/api/states/{entity_id}").body["state"]) != wanted:
        if time.monotonic() > until:
            break
        time.sleep(0.1)
    return current


def valid(schema, answer) -> dict:
    errors = sorted(schema.iter_errors(answer), key=str)
    assert not errors, errors[0].message
    return answer["event"]


@pytest.mark.parametrize("region", CLIENT_IDS)
def test_alexa_links_and_the_linked_token_controls_home_assistant(home, bridge_env, alexa_schema, region):
    client_id = CLIENT_IDS[region]
    bridge_env(HA_URL=home.url)  # no HA_TOKEN: only the linked token can work
    tokens = link(home, client_id)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800  # 30 minutes, then Alexa refreshes
    fresh = refresh(home, client_id, tokens["refresh_token"])
    assert fresh["expires_in"] == 1800 and "refresh_token" not in fresh  # Alexa keeps the refresh token
    token = fresh["access_token"]

    found = valid(alexa_schema, lambda_handler(directive("Alexa.Discovery", "Discover", token), FakeContext()))
    assert "switch#decorative_lights" in {e["endpointId"] for e in found["payload"]["endpoints"]}
    for name, wanted in (("TurnOff", "off"), ("TurnOn", "on")):
        answer = lambda_handler(directive("Alexa.PowerController", name, token, "switch#decorative_lights"),
                                FakeContext())
        assert valid(alexa_schema, answer)["header"]["name"] == "Response"
        assert state(home, SWITCH, wanted) == wanted

    spoken = assist("turn off the ceiling lights", token)["response"]["outputSpeech"]["ssml"]
    assert "Turned off" in spoken, spoken
    assert state(home, "light.ceiling_lights", "off") == "off"
    home.api("POST", "/api/services/light/turn_on", json={"entity_id": "light.ceiling_lights"})


def sign(claims: dict, key: str) -> str:
    """An HS256 JWT, as Home Assistant signs its access tokens."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    signed = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signed}.{b64(hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest())}"


def jwt_key(home, refresh_token_id: str, timeout: float = 10.0) -> str:
    """The refresh token's signing key, from Home Assistant's auth store (saved a second after a change)."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            stored = json.loads((home.config_dir / ".storage" / "auth").read_text())["data"]["refresh_tokens"]
        except (OSError, ValueError, KeyError):
            stored = []
        for entry in stored:
            if entry["id"] == refresh_token_id:
                return entry["jwt_key"]
        time.sleep(0.2)
    raise AssertionError(f"refresh token {refresh_token_id} not in {home.config_dir}/.storage/auth")


def test_an_expired_linked_token_is_expired_and_a_revoked_one_invalid(home, bridge_env, alexa_schema, output):
    bridge_env(HA_URL=home.url)
    tokens = link(home, CLIENT_IDS["EU"])
    issuer = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))["iss"]
    now = int(time.time())
    # The token Home Assistant issued 31 minutes ago: its own signature and issuer, only the time has passed.
    expired = sign({"iss": issuer, "iat": now - 1860, "exp": now - 60}, jwt_key(home, issuer))
    for event in (directive("Alexa.Discovery", "Discover", expired),
                  directive("Alexa.PowerController", "TurnOff", expired, "switch#decorative_lights")):
        answer = valid(alexa_schema, lambda_handler(event, FakeContext()))
        assert answer["payload"]["type"] == "EXPIRED_AUTHORIZATION_CREDENTIAL", answer
    assert state(home, SWITCH, "on", timeout=0) == "on"

    current = tokens["access_token"]
    assert http("POST", home.url + "/auth/revoke", form={"token": tokens["refresh_token"]}).status == 200
    answer = valid(alexa_schema, lambda_handler(directive("Alexa.Discovery", "Discover", current), FakeContext()))
    assert answer["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL", answer  # revoked, not expired
    printed = output()
    assert "EXPIRED_AUTHORIZATION_CREDENTIAL" in printed
    assert expired not in printed and current not in printed


def test_the_doctor_names_the_console_values_and_why_alexa_cannot_link_with_a_local_url(home, bridge_env):
    bridge_env(HA_URL=home.url, HA_TOKEN=home.token)
    answer = lambda_handler({"devices": {"action": "health"}}, FakeContext(remaining_ms=10_000))
    check = next(entry for entry in answer["checks"] if entry["check"] == "account_linking")
    assert check["status"] == "warning", check  # http:// on 127.0.0.1: Alexa's servers could not link
    assert "not https://" in check["detail"] and "private address" in check["detail"]
    assert check["values"]["Authorization URI"] == f"{home.url}/auth/authorize"
    assert check["values"]["Access Token URI"] == f"{home.url}/auth/token"
    assert set(check["values"]["Client ID"]) == set(CLIENT_IDS.values())
    assert "homeassistant" in check["detail"]  # the login provider Home Assistant lists
    assert answer["ok"] is True
