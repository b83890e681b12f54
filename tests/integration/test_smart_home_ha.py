"""Smart Home directives through the bridge to a real Home Assistant core on 127.0.0.1."""

import time
import uuid

import pytest

from fast_path import lambda_handler
from support import FakeContext


def directive(namespace, name, token, endpoint_id=None, payload=None):
    header = {"namespace": namespace, "name": name, "payloadVersion": "3", "messageId": str(uuid.uuid4()),
              "correlationToken": f"corr-{uuid.uuid4()}"}
    event = {"directive": {"header": header, "payload": payload or {}}}
    if endpoint_id:
        event["directive"]["endpoint"] = {"endpointId": endpoint_id, "cookie": {},
                                          "scope": {"type": "BearerToken", "token": token}}
    if namespace == "Alexa.Discovery":
        del header["correlationToken"]
        event["directive"]["payload"] = {"scope": {"type": "BearerToken", "token": token}}
    return event


def valid(schema, answer):
    import jsonschema

    error = jsonschema.exceptions.best_match(schema.iter_errors(answer))
    assert error is None, f"{error.message[:300]} at {list(error.absolute_path)}"
    return answer["event"]


def wait_for_state(ha, entity_id, predicate, timeout=10.0):
    """HA answers a control directive before the service call has finished: poll the state."""
    until = time.monotonic() + timeout
    while True:
        state = ha.api("GET", f"/api/states/{entity_id}").body
        if predicate(state) or time.monotonic() > until:
            return state
        time.sleep(0.1)


@pytest.fixture
def bridge(ha, bridge_env):
    bridge_env(HA_URL=ha.url)
    return ha


def test_discovery_lists_the_demo_endpoints(bridge, alexa_schema):
    event = valid(alexa_schema, lambda_handler(directive("Alexa.Discovery", "Discover", bridge.token), FakeContext()))
    assert event["header"]["name"] == "Discover.Response"
    ids = {endpoint["endpointId"] for endpoint in event["payload"]["endpoints"]}
    assert {"light#kitchen_lights", "light#ceiling_lights", "switch#decorative_lights"} <= ids


def test_turn_off_and_on_change_the_light_in_home_assistant(bridge, alexa_schema):
    for name, wanted in (("TurnOff", "off"), ("TurnOn", "on")):
        event = directive("Alexa.PowerController", name, bridge.token, "light#kitchen_lights")
        answer = valid(alexa_schema, lambda_handler(event, FakeContext()))
        assert answer["header"]["name"] == "Response"
        assert answer["header"]["correlationToken"] == event["directive"]["header"]["correlationToken"]
        state = wait_for_state(bridge, "light.kitchen_lights", lambda s, wanted=wanted: s["state"] == wanted)
        assert state["state"] == wanted


def test_set_brightness_changes_the_brightness(bridge, alexa_schema):
    event = directive("Alexa.BrightnessController", "SetBrightness", bridge.token, "light#kitchen_lights",
                      {"brightness": 42})
    valid(alexa_schema, lambda_handler(event, FakeContext()))
    state = wait_for_state(bridge, "light.kitchen_lights",
                           lambda s: s["attributes"].get("brightness") == round(42 * 255 / 100))
    assert state["attributes"]["brightness"] == round(42 * 255 / 100)


def test_report_state_answers_with_the_current_state(bridge, alexa_schema):
    bridge.api("POST", "/api/services/light/turn_on", {"entity_id": "light.kitchen_lights"})
    wait_for_state(bridge, "light.kitchen_lights", lambda s: s["state"] == "on")
    answer = lambda_handler(directive("Alexa", "ReportState", bridge.token, "light#kitchen_lights"), FakeContext())
    event = valid(alexa_schema, answer)
    assert event["header"]["name"] == "StateReport"
    power = [p for p in answer["context"]["properties"] if p["name"] == "powerState"]
    assert power and power[0]["value"] == "ON"


def test_unknown_endpoint_is_answered_with_home_assistants_error(bridge, alexa_schema):
    answer = lambda_handler(directive("Alexa.PowerController", "TurnOn", bridge.token, "light#nope"), FakeContext())
    event = valid(alexa_schema, answer)
    assert event["header"]["name"] == "ErrorResponse"
    assert event["payload"]["type"] == "NO_SUCH_ENDPOINT"


def test_accept_grant_is_forwarded_and_answered(bridge, alexa_schema):
    payload = {"grant": {"type": "OAuth2.AuthorizationCode", "code": "test-code"},
               "grantee": {"type": "BearerToken", "token": bridge.token}}
    answer = lambda_handler(directive("Alexa.Authorization", "AcceptGrant", bridge.token, payload=payload),
                            FakeContext())
    event = valid(alexa_schema, answer)
    assert event["header"]["namespace"] == "Alexa.Authorization"


def test_a_bad_token_is_an_authorization_error(bridge, alexa_schema):
    answer = lambda_handler(directive("Alexa.PowerController", "TurnOn", "not-a-token", "light#kitchen_lights"),
                            FakeContext())
    event = valid(alexa_schema, answer)
    assert event["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"


def test_home_assistant_stopped_is_bridge_unreachable_and_restarted_is_served_again(make_ha, bridge_env,
                                                                                   alexa_schema):
    own = make_ha()
    bridge_env(HA_URL=own.url)
    event = directive("Alexa.Discovery", "Discover", own.token)
    assert valid(alexa_schema, lambda_handler(event, FakeContext()))["header"]["name"] == "Discover.Response"
    own.stop()
    context = FakeContext(remaining_ms=3000)
    stopped = valid(alexa_schema, lambda_handler(event, context))
    assert stopped["payload"]["type"] == "BRIDGE_UNREACHABLE"
    assert context.get_remaining_time_in_millis() > 0
    own.start()
    assert valid(alexa_schema, lambda_handler(event, FakeContext()))["header"]["name"] == "Discover.Response"


def test_a_restart_between_two_warm_invocations_is_invisible_to_alexa(make_ha, bridge_env, alexa_schema):
    """The kept connection dies with the old Home Assistant; the next directive must still succeed."""
    from gateway.ha_client import default_client

    own = make_ha()
    bridge_env(HA_URL=own.url)
    event = directive("Alexa.Discovery", "Discover", own.token)
    assert valid(alexa_schema, lambda_handler(event, FakeContext()))["header"]["name"] == "Discover.Response"
    own.restart()
    assert valid(alexa_schema, lambda_handler(event, FakeContext()))["header"]["name"] == "Discover.Response"
    assert default_client().connections_opened == 2


def test_home_assistant_without_the_alexa_endpoint_is_explained(make_ha, bridge_env, alexa_schema):
    own = make_ha(alexa=False)
    bridge_env(HA_URL=own.url)
    event = valid(alexa_schema, lambda_handler(directive("Alexa.Discovery", "Discover", own.token), FakeContext()))
    assert event["payload"]["type"] == "INTERNAL_ERROR"
    assert "alexa: smart_home:" in event["payload"]["message"]


OFFER = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
         "a=rtpmap:96 H264/90000\r\na=recvonly\r\n")


def test_webrtc_cameras_get_home_assistants_answer_within_alexas_8_s(ha_venv, bridge_env, custom_ha):
    """HA 2026.11's Alexa.RTCSessionController waits up to 5 s for a camera's SDP answer and its ICE gathering. The
    bridge's budget leaves it that: a camera answering at 4.5 s (gathering never done) gets its answer, a silent
    one HA's ENDPOINT_UNREACHABLE, each well within Alexa's 8 s (tests/integration/ha_custom: the cameras)."""
    from devtools.ha_install import version_at_least

    if not version_at_least(ha_venv.version, "2026.11"):
        pytest.skip(f"Home Assistant {ha_venv.version} has no Alexa.RTCSessionController (2026.11)")
    own, _ = custom_ha("camera bridge:\n  - platform: bridge_camera\n",
                       lambda own: own.api("GET", "/api/states/camera.bridge_silent").status == 200)
    bridge_env(HA_URL=own.url, HA_TOKEN=own.token)
    found = lambda_handler(directive("Alexa.Discovery", "Discover", own.token), FakeContext())
    interfaces = {e["endpointId"]: {c["interface"] for c in e["capabilities"]}
                  for e in found["event"]["payload"]["endpoints"]}
    assert "Alexa.RTCSessionController" in interfaces["camera#bridge_slow"], interfaces.get("camera#bridge_slow")
    for camera, wanted in (("slow", "AnswerGeneratedForSession"), ("silent", "ErrorResponse")):
        started = time.monotonic()
        answer = lambda_handler(directive("Alexa.RTCSessionController", "InitiateSessionWithOffer", own.token,
                                          f"camera#bridge_{camera}",
                                          {"sessionId": f"s-{camera}", "offer": {"format": "SDP", "value": OFFER}}),
                                FakeContext(remaining_ms=8000))
        took = time.monotonic() - started
        assert answer["event"]["header"]["name"] == wanted, (answer["event"]["payload"], took)
        assert 4.4 < took < 7.5, took  # HA's 5 s, not the bridge's 6.5 s budget, and within Alexa's 8 s
        if wanted == "ErrorResponse":
            assert answer["event"]["payload"]["type"] == "ENDPOINT_UNREACHABLE"
        else:
            assert answer["event"]["payload"]["answer"]["value"].startswith("v=0")
