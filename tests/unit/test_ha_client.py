"""The keep-alive client: reuse, replacement of idle or dropped connections, the one safe retry, limits."""

import socket
import threading
import time

import pytest

from gateway import ha_client
from gateway.errors import HomeAssistantBadAnswer, HomeAssistantUnreachable
from gateway.ha_client import HomeAssistantClient


def ok(*request):
    return 200, {"ok": True}, None


def until(seconds=5.0):
    return time.monotonic() + seconds


def test_one_connection_serves_many_requests(fake_ha):
    ha = fake_ha(ok)
    client = HomeAssistantClient(ha.url)
    for _ in range(5):
        assert client.request("GET", "/api/", token="t", until=until()).json() == {"ok": True}
    assert client.connections_opened == 1
    assert len(ha.requests) == 5


def test_a_connection_idle_too_long_is_replaced_before_use(fake_ha, monkeypatch):
    ha = fake_ha(ok)
    client = HomeAssistantClient(ha.url)
    client.request("GET", "/api/", token="t", until=until())
    monkeypatch.setattr(ha_client, "KEEPALIVE_IDLE_S", 0.0)
    client.request("GET", "/api/", token="t", until=until())
    assert client.connections_opened == 2
    assert len(ha.requests) == 2


class OneShotServer:
    """Answers one request per connection, then closes without saying so (a stale keep-alive)."""

    def __init__(self, hang=False):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = 0
        self.hang = hang
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                if not conn.recv(65536):
                    continue
                self.requests += 1
                if self.hang:
                    time.sleep(3)
                    continue
                body = b'{"n": %d}' % self.requests
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
                time.sleep(0.05)


def test_a_request_lost_on_a_stale_connection_is_retried_once(monkeypatch):
    server = OneShotServer()
    client = HomeAssistantClient(server.url)
    assert client.request("GET", "/api/", token="t", until=until()).json() == {"n": 1}
    time.sleep(0.2)  # the server has closed its end
    # Make the pre-use check miss the close, as when it races the request: the retry must cover it.
    monkeypatch.setattr(ha_client.select, "select", lambda *args: ([], [], []))
    assert client.request("POST", "/api/x", token="t", until=until(), body={}).json() == {"n": 2}
    assert server.requests == 2  # the lost request reached the server once, on the fresh connection
    assert client.connections_opened == 2


def test_a_connection_the_server_closed_is_replaced_before_use():
    server = OneShotServer()
    client = HomeAssistantClient(server.url)
    client.request("GET", "/api/", token="t", until=until())
    time.sleep(0.2)  # the server has closed its end, as HA does on restart or after its keep-alive window
    assert client.request("GET", "/api/", token="t", until=until()).json() == {"n": 2}
    assert client.connections_opened == 2
    assert server.requests == 2


def test_a_request_that_timed_out_is_never_retried():
    server = OneShotServer(hang=True)
    client = HomeAssistantClient(server.url)
    with pytest.raises(HomeAssistantUnreachable) as caught:
        client.request("POST", "/api/x", token="t", until=until(0.5), body={})
    assert caught.value.reason == "timeout"
    time.sleep(0.1)
    assert server.requests == 1


def test_an_answer_larger_than_the_limit_is_refused(fake_ha, monkeypatch):
    monkeypatch.setattr(ha_client, "MAX_BODY_BYTES", 1000)
    answers = iter([b"x" * 5000, b"{}"])
    ha = fake_ha(lambda *request: (200, next(answers), None))
    client = HomeAssistantClient(ha.url)
    with pytest.raises(HomeAssistantBadAnswer) as caught:
        client.request("GET", "/api/", token="t", until=until())
    assert caught.value.reason == "too_large"
    assert client.request("GET", "/api/", token="t", until=until()).json() == {}  # on a fresh connection
    assert client.connections_opened == 2


def test_tls_to_a_plain_http_server_fails_as_tls(fake_ha):
    ha = fake_ha(ok)
    client = HomeAssistantClient(ha.url.replace("http://", "https://"))
    with pytest.raises(HomeAssistantUnreachable) as caught:
        client.request("GET", "/api/", token="t", until=until())
    assert caught.value.reason == "tls"


@pytest.mark.parametrize("url", ["", "ha.local:8123", "ftp://ha", "http://"])
def test_urls_that_are_not_http_are_refused_clearly(url):
    with pytest.raises(ValueError, match="HA_URL"):
        HomeAssistantClient(url)


def test_base_path_of_the_url_is_kept(fake_ha):
    ha = fake_ha(ok)
    HomeAssistantClient(ha.url + "/ha/").request("GET", "/api/", token="t", until=until())
    assert ha.requests[0][1] == "/ha/api/"


def test_deadline_follows_the_lambda_context():
    class Context:
        def get_remaining_time_in_millis(self):
            return 2000

    assert ha_client.deadline(Context()) - time.monotonic() == pytest.approx(2.0 - ha_client.RESPONSE_MARGIN_S, abs=0.05)
    assert ha_client.deadline(None) - time.monotonic() == pytest.approx(ha_client.ALEXA_BUDGET_S, abs=0.05)
