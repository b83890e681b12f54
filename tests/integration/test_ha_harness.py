"""The Home Assistant the integration tests run against: what the other tests rely on."""

import uuid


def discovery_directive(token: str) -> dict:
    return {
        "directive": {
            "header": {
                "namespace": "Alexa.Discovery",
                "name": "Discover",
                "payloadVersion": "3",
                "messageId": str(uuid.uuid4()),
            },
            "payload": {"scope": {"type": "BearerToken", "token": token}},
        }
    }


def test_api_answers_with_the_token(ha):
    assert ha.url.startswith("http://127.0.0.1:")
    assert ha.api("GET", "/api/") == (200, {"message": "API running."})


def test_demo_entities_exist(ha):
    status, light = ha.api("GET", "/api/states/light.kitchen_lights")
    assert status == 200
    assert light["attributes"]["friendly_name"] == "Kitchen Lights"
    assert ha.api("GET", "/api/states/lock.front_door").status == 200


def test_alexa_discovery_lists_the_demo_endpoints(ha):
    status, answer = ha.api("POST", "/api/alexa/smart_home", json=discovery_directive(ha.token))
    assert status == 200
    assert answer["event"]["header"]["namespace"] == "Alexa.Discovery"
    assert answer["event"]["header"]["name"] == "Discover.Response"
    endpoint_ids = {endpoint["endpointId"] for endpoint in answer["event"]["payload"]["endpoints"]}
    assert {"light#kitchen_lights", "lock#front_door", "switch#decorative_lights"} <= endpoint_ids


def test_without_alexa_the_endpoint_is_missing(make_ha):
    own = make_ha(alexa=False)
    assert own.api("POST", "/api/alexa/smart_home", json=discovery_directive(own.token)).status == 404


def test_alexa_config_can_filter_the_endpoints(make_ha):
    own = make_ha(alexa={"filter": {"include_entities": ["light.kitchen_lights", "lock.front_door"]}})
    answer = own.api("POST", "/api/alexa/smart_home", json=discovery_directive(own.token)).body
    endpoint_ids = {endpoint["endpointId"] for endpoint in answer["event"]["payload"]["endpoints"]}
    assert endpoint_ids == {"light#kitchen_lights", "lock#front_door"}


def test_restart_keeps_token_and_areas(make_ha):
    own = make_ha()
    area = own.ws_command({"type": "config/area_registry/create", "name": f"Harness {uuid.uuid4().hex[:6]}"})
    own.ws_command({"type": "config/entity_registry/update", "entity_id": "light.kitchen_lights",
                    "area_id": area["area_id"]})
    token, url = own.token, own.url

    own.restart()

    assert (own.token, own.url) == (token, url)
    assert own.api("GET", "/api/").status == 200
    entity = own.ws_command({"type": "config/entity_registry/get", "entity_id": "light.kitchen_lights"})
    assert entity["area_id"] == area["area_id"]
