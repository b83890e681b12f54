"""Secrets from SSM: through the Parameters and Secrets extension or boto3 (moto), cached, never logged."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.demo_ha import free_port
from fast_path import lambda_handler
from gateway import secrets
from gateway.secrets import SecretError, default_token
from support import TOKEN, FakeContext

PARAMETER = "/ha-alexa-bridge/token"
SESSION_TOKEN = "session-token-from-lambda"
CF_HEADERS = {"CF-Access-Client-Id": "client-id.access", "CF-Access-Client-Secret": "cf-SECRET-0123456789"}


@pytest.fixture
def extension(fake_ha, monkeypatch):
    """A fake Parameters and Secrets extension: `extension(values)` serves {name: value}; returns its requests."""

    def start(values, status=200):
        def answer(method, path, headers, body):
            name = parse_qs(urlsplit(path).query)["name"][0]
            if status != 200 or name not in values:
                return status if status != 200 else 400, b"parameter not found", {"Content-Type": "text/plain"}
            return 200, {"Parameter": {"Name": name, "Type": "SecureString", "Value": values[name]}}, None

        server = fake_ha(answer)
        monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
        monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", server.url.rsplit(":", 1)[1])
        return server.requests

    return start


def directive_without_token():
    header = {"namespace": "Alexa.PowerController", "name": "TurnOn", "payloadVersion": "3", "messageId": "m-1",
              "correlationToken": "corr-1"}
    return {"directive": {"header": header, "endpoint": {"endpointId": "light#kitchen"}, "payload": {}}}


def ok_for(event):
    header = event["directive"]["header"]
    return {"event": {"header": {"namespace": "Alexa", "name": "Response", "payloadVersion": "3", "messageId": "r",
                                 "correlationToken": header["correlationToken"]},
                      "endpoint": {"endpointId": "light#kitchen"}, "payload": {}}}


def test_the_token_parameter_is_read_through_boto3_and_cached(ssm, bridge_env, monkeypatch):
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    assert default_token() == TOKEN
    ssm.put_parameter(Name=PARAMETER, Value="rotated", Type="SecureString", Overwrite=True)
    assert default_token() == TOKEN  # from the cache
    monkeypatch.setattr(secrets, "CACHE_TTL_S", 0.0)
    assert default_token() == "rotated"  # a rotation is picked up once the cache expires


def test_ha_token_wins_over_the_parameter_and_nothing_configured_is_empty(bridge_env):
    bridge_env(HA_TOKEN="plain", HA_TOKEN_PARAMETER=PARAMETER)
    assert default_token() == "plain"
    bridge_env(HA_TOKEN="", HA_TOKEN_PARAMETER="")
    assert default_token() == ""


def test_the_extension_is_used_when_it_listens_and_gets_the_session_token(extension, bridge_env, monkeypatch):
    requests = extension({PARAMETER: TOKEN})
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"http://127.0.0.1:{free_port()}")  # boto3 would fail
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    assert default_token() == TOKEN
    assert default_token() == TOKEN
    [(method, path, headers, _)] = requests  # the second read came from the cache
    assert (method, urlsplit(path).path) == ("GET", "/systemsmanager/parameters/get")
    assert parse_qs(urlsplit(path).query) == {"name": [PARAMETER], "withDecryption": ["true"]}
    assert headers["X-Aws-Parameters-Secrets-Token"] == SESSION_TOKEN


def test_without_a_listening_extension_boto3_reads_the_parameter(ssm, bridge_env, monkeypatch):
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(free_port()))  # nothing listens there
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    assert default_token() == TOKEN


@pytest.mark.parametrize("status", [400, 500])
def test_an_extension_that_fails_is_an_error_that_names_the_parameter(extension, bridge_env, status):
    extension({}, status=status)
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    with pytest.raises(SecretError, match=f"{PARAMETER}.*HTTP {status}"):
        default_token()


def test_a_missing_parameter_is_an_error_that_names_it(ssm, bridge_env):
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    with pytest.raises(SecretError, match=f"{PARAMETER}.*ParameterNotFound"):
        default_token()


def test_a_cached_value_outlives_an_ssm_outage(ssm, bridge_env, monkeypatch, output):
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    assert default_token() == TOKEN
    ssm.delete_parameter(Name=PARAMETER)
    monkeypatch.setattr(secrets, "CACHE_TTL_S", 0.0)
    assert default_token() == TOKEN
    printed = output()
    assert "serving a cached SSM parameter" in printed
    assert TOKEN not in printed


def test_ssm_failure_without_a_directive_token_is_an_internal_error(ssm, fake_ha, bridge_env, alexa_schema, output):
    ha = fake_ha(lambda *request: (200, {}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN_PARAMETER=PARAMETER)
    answer = lambda_handler(directive_without_token(), FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert PARAMETER in answer["event"]["payload"]["message"]
    assert answer["event"]["header"]["correlationToken"] == "corr-1"
    assert ha.requests == []
    assert "unexpected failure" not in output()  # an expected fault, not a crash


def test_the_token_from_ssm_is_sent_to_ha_and_never_logged(ssm, fake_ha, bridge_env, output):
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    ha = fake_ha(lambda method, path, headers, body: (200, ok_for(json.loads(body)), None))
    bridge_env(HA_URL=ha.url, HA_TOKEN_PARAMETER=PARAMETER)
    assert lambda_handler(directive_without_token(), FakeContext())["event"]["header"]["name"] == "Response"
    assert ha.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"
    printed = output()
    assert "directive answered" in printed
    assert TOKEN not in printed


def test_extra_headers_from_ssm_go_with_every_request_and_are_never_logged(ssm, fake_ha, bridge_env, output):
    ssm.put_parameter(Name="/bridge/headers", Value=json.dumps(CF_HEADERS), Type="SecureString")
    ha = fake_ha(lambda method, path, headers, body: (200, ok_for(json.loads(body)), None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    for _ in range(2):
        assert lambda_handler(directive_without_token(), FakeContext())["event"]["header"]["name"] == "Response"
    for _, _, headers, _ in ha.requests:
        assert {name: headers[name] for name in CF_HEADERS} == CF_HEADERS
        assert headers["Authorization"] == f"Bearer {TOKEN}"
    printed = output()
    assert "directive answered" in printed
    assert CF_HEADERS["CF-Access-Client-Secret"] not in printed


@pytest.mark.parametrize(
    "value, words",
    [
        ("not json " + CF_HEADERS["CF-Access-Client-Secret"], "JSON object"),
        (json.dumps(["CF-Access-Client-Id"]), "JSON object"),
        (json.dumps({"CF-Access-Client-Id": 5}), "JSON object"),
        (json.dumps({"authorization": "Bearer other"}), "may not set header 'authorization'"),
        (json.dumps({"Bad Header": "x"}), "may not set header 'Bad Header'"),
        (json.dumps({"CF-Access-Client-Secret": CF_HEADERS["CF-Access-Client-Secret"] + "\r\nX: y"}), "line break"),
    ],
)
def test_unusable_extra_headers_are_an_internal_error_that_hides_the_value(ssm, fake_ha, bridge_env, alexa_schema,
                                                                           output, value, words):
    ssm.put_parameter(Name="/bridge/headers", Value=value, Type="SecureString")
    ha = fake_ha(lambda *request: (200, {}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    answer = lambda_handler(directive_without_token(), FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert words in answer["event"]["payload"]["message"]
    assert "HA_HEADERS_PARAMETER" in answer["event"]["payload"]["message"]
    assert ha.requests == []
    printed = output()
    assert "directive failed" in printed
    assert CF_HEADERS["CF-Access-Client-Secret"] not in printed + json.dumps(answer)


# ---- issue 12: a SecureString stored from a file (`--value file://token.txt`) ends in a line break ----


def operator_state(ha):
    """An operator action that sends the configured token to Home Assistant; returns its answer."""
    return lambda_handler({"devices": {"action": "state", "entity_id": "light.kitchen"}}, FakeContext())


def state_ha(fake_ha):
    """A Home Assistant that answers directives, and a light's state."""
    return fake_ha(lambda method, path, headers, body: (
        200, ok_for(json.loads(body)) if path == "/api/alexa/smart_home" else {"entity_id": "light.kitchen",
                                                                               "state": "on"}, None))


@pytest.mark.parametrize("stored", [TOKEN + "\n", TOKEN + "\r\n", f"  {TOKEN}\n\n"])
def test_a_token_stored_from_a_file_works_through_the_extension(extension, fake_ha, bridge_env, output, stored):
    extension({PARAMETER: stored})
    ha = state_ha(fake_ha)
    bridge_env(HA_URL=ha.url, HA_TOKEN_PARAMETER=PARAMETER)
    assert operator_state(ha)["state"] == "on"
    assert lambda_handler(directive_without_token(), FakeContext())["event"]["header"]["name"] == "Response"
    assert {request[2]["Authorization"] for request in ha.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in output()


def test_a_token_stored_from_a_file_works_through_boto3(ssm, fake_ha, bridge_env, output):
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN + "\n", Type="SecureString")
    ha = state_ha(fake_ha)
    bridge_env(HA_URL=ha.url, HA_TOKEN_PARAMETER=PARAMETER)
    assert operator_state(ha)["state"] == "on"
    assert ha.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in output()


def test_headers_stored_from_a_file_are_stripped(ssm, fake_ha, bridge_env, output):
    stored = json.dumps({name: value + "\n" for name, value in CF_HEADERS.items()}) + "\n"
    ssm.put_parameter(Name="/bridge/headers", Value=stored, Type="SecureString")
    ha = state_ha(fake_ha)
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    assert operator_state(ha)["state"] == "on"
    assert {name: ha.requests[0][2][name] for name in CF_HEADERS} == CF_HEADERS
    assert CF_HEADERS["CF-Access-Client-Secret"] not in output()


@pytest.mark.parametrize("stored", [TOKEN[:12] + "\n" + TOKEN[12:], TOKEN[:12] + " " + TOKEN[12:], TOKEN + "é"])
def test_a_token_with_a_break_inside_is_named_as_unusable_and_never_quoted(ssm, fake_ha, bridge_env, alexa_schema,
                                                                          output, stored):
    ssm.put_parameter(Name=PARAMETER, Value=stored, Type="SecureString")
    ha = state_ha(fake_ha)
    bridge_env(HA_URL=ha.url, HA_TOKEN_PARAMETER=PARAMETER)
    answer = operator_state(ha)
    assert answer["error"]["type"] == "CONFIGURATION_ERROR"
    assert PARAMETER in answer["error"]["message"] and "not a usable token" in answer["error"]["message"]
    alexa = lambda_handler(directive_without_token(), FakeContext())
    assert not list(alexa_schema.iter_errors(alexa))
    assert alexa["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert ha.requests == []
    printed = output() + json.dumps(answer) + json.dumps(alexa)
    assert TOKEN[:12] not in printed and TOKEN[12:] not in printed


# ---- issue 17: botocore's timeouts and dropped connections carry response=None ----


def ssm_endpoint(scripted, monkeypatch, then: str):
    """An SSM endpoint on 127.0.0.1 (boto3's path) that answers GetParameter with CF_HEADERS once, then `then`s:
    "hangs" past boto3's read timeout (ReadTimeoutError) or "drops" the connection (ConnectionClosedError)."""

    def serve(server, conn, index):
        while request := server.read_request(conn):
            if len(server.requests) > 1:
                if then == "hangs":
                    time.sleep(3)
                return
            name = json.loads(request.partition(b"\r\n\r\n")[2])["Name"]
            body = json.dumps({"Parameter": {"Name": name, "Type": "SecureString", "Value": json.dumps(CF_HEADERS),
                                             "Version": 1}}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))

    server = scripted(serve)
    for name, value in {"AWS_ENDPOINT_URL_SSM": server.url, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(secrets, "SSM_READ_TIMEOUT_S", 0.3)
    return server


@pytest.mark.parametrize("then", ["hangs", "drops"])
def test_a_cached_value_is_served_when_ssm_times_out_or_drops_the_connection(scripted, fake_ha, bridge_env,
                                                                             monkeypatch, output, then):
    ssm_endpoint(scripted, monkeypatch, then)
    ha = fake_ha(lambda method, path, headers, body: (200, ok_for(json.loads(body)), None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    assert lambda_handler(directive_without_token(), FakeContext())["event"]["header"]["name"] == "Response"
    monkeypatch.setattr(secrets, "CACHE_TTL_S", 0.0)  # the refresh is due
    assert lambda_handler(directive_without_token(), FakeContext())["event"]["header"]["name"] == "Response"
    assert [request[2]["CF-Access-Client-Secret"] for request in ha.requests] == [CF_HEADERS[
        "CF-Access-Client-Secret"]] * 2
    printed = output()
    assert "serving a cached SSM parameter" in printed and "Traceback" not in printed
    assert CF_HEADERS["CF-Access-Client-Secret"] not in printed


@pytest.mark.parametrize("then", ["hangs", "drops"])
def test_an_ssm_timeout_without_a_cached_value_names_the_parameter_and_the_fault(scripted, bridge_env,
                                                                                 monkeypatch, then):
    ssm_endpoint(scripted, monkeypatch, then)
    bridge_env(HA_TOKEN_PARAMETER=PARAMETER)
    secrets.parameter("/bridge/headers")  # the endpoint's one answer, used up
    secrets._cache.clear()
    with pytest.raises(SecretError, match=f"{PARAMETER}.*(ReadTimeoutError|ConnectionClosedError)"):
        default_token()


# ---- issue 17: a header value HTTP cannot carry is refused at load, naming the parameter ----


@pytest.mark.parametrize("value", ["cf\u2019SECRET-0123456789", "\u201ccf-SECRET-0123456789\u201d",
                                   "cf-SECRET-\U0001f511"])
def test_a_header_value_that_is_not_latin_1_is_named_at_load_not_called_a_dns_failure(ssm, fake_ha, bridge_env,
                                                                                      alexa_schema, output, value):
    headers = {**CF_HEADERS, "CF-Access-Client-Secret": value}
    ssm.put_parameter(Name="/bridge/headers", Value=json.dumps(headers), Type="SecureString")
    ha = fake_ha(lambda *request: (200, {}, None))
    bridge_env(HA_URL=ha.url, HA_TOKEN=TOKEN, HA_HEADERS_PARAMETER="/bridge/headers")
    answer = lambda_handler(directive_without_token(), FakeContext())
    assert not list(alexa_schema.iter_errors(answer))
    message = answer["event"]["payload"]["message"]
    assert answer["event"]["payload"]["type"] == "INTERNAL_ERROR"
    assert "HA_HEADERS_PARAMETER" in message and "CF-Access-Client-Secret" in message and "not resolved" not in message
    assert ha.requests == []
    assert "SECRET" not in output() + json.dumps(answer)
