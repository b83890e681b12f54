"""HTTP client for Home Assistant: one keep-alive connection per execution environment, deadline-bound.

The socket below it (the address, TLS, the connect phase under the one deadline) is gateway.ha_connection's.
"""

import http.client
import json
import re
import threading
import time
from collections import namedtuple
from functools import cache, lru_cache

from gateway import ha_connection, secrets
from gateway.config import settings
from gateway.errors import (
    HomeAssistantBadAnswer,
    HomeAssistantError,
    HomeAssistantUnreachable,
    UnsendableRequest,
    UnusableToken,
)
from gateway.ha_connection import (
    KEEPALIVE_IDLE_S,
    address,
    open_socket,
    still_open,
    tls_alert,
    unreachable,
)

MAX_BODY_BYTES = 8 * 1024 * 1024
# Headers this client sets itself: extra headers (HA_HEADERS_PARAMETER) may not replace or double them.
OWN_HEADERS = {"authorization", "accept", "content-type", "content-length", "host", "connection",
               "transfer-encoding"}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
INSECURE_WARNING = (
    "HA_VERIFY_TLS is false: Home Assistant's certificate is not checked, so whoever can intercept the "
    "connection can read the tokens sent to it; trust its certificate with HA_CA_BUNDLE instead"
)


class Response(namedtuple("Response", "status body content_type")):
    __slots__ = ()

    def json(self):
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body)


class HomeAssistantClient:
    """Talks to one Home Assistant over one reused connection; safe to share across warm invocations."""

    def __init__(self, base_url: str, verify_tls: bool = True, ca_bundle: str = "", client_cert: str = "",
                 client_key: str = "", headers_parameter: str = ""):
        """Raises ValueError, naming the setting, when the URL or a TLS file cannot be used."""
        self.address = address(base_url, verify_tls, ca_bundle, client_cert, client_key)
        self.host, self.port, self.base_path, self.tls = self.address
        self.headers_parameter = headers_parameter
        self._warn_insecure = self.tls is not None and not verify_tls  # logged on the first request
        self.connections_opened = 0  # the benchmark and tests read this to see reuse
        self._conn = None
        self._idle_since = 0.0
        self._lock = threading.Lock()

    def request(self, method: str, path: str, *, token: str, until: float, body=None) -> Response:
        """Send one request; raises HomeAssistantError (UnusableToken, HomeAssistantUnreachable,
        HomeAssistantBadAnswer) or secrets.SecretError.

        `until` bounds the whole exchange. A request is sent again only when it provably did not reach Home
        Assistant: the kept connection failed while the request was being sent. Once written, never again.
        """
        if not secrets.USABLE_TOKEN.fullmatch(token):
            raise UnusableToken("token", "the token has a character that cannot be sent in an HTTP header "
                                         "(a line break, a space or a non-ASCII character)")
        if self._warn_insecure:
            from gateway.log import logger

            self._warn_insecure = False
            logger.warning(INSECURE_WARNING)
        headers = {**self.extra_headers(), "Authorization": f"Bearer {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        with self._lock:
            for attempt in (1, 2):
                conn, reused = self._connection(until)
                conn.sock.until = until
                try:
                    conn.request(method, self.base_path + path, body=payload, headers=headers)
                except ConnectionError as err:  # the send failed: broken pipe or reset
                    alert = tls_alert(conn.sock)
                    self.close()
                    if alert is not None:
                        raise alert from None
                    if reused and attempt == 1:  # a kept connection the server had closed: HA did not get it
                        continue
                    raise failure(err) from None
                except Exception as err:
                    self.close()
                    raise failure(err) from None
                try:
                    return self._read(conn.getresponse())
                except Exception as err:  # whatever it was, the connection is in doubt: the next one starts clean
                    self.close()
                    raise failure(err) from None
        raise AssertionError("the loop returns or raises")  # pragma: no cover

    def connect(self, until: float) -> None:
        """Open the connection now (or keep the live one), so that a later request skips the handshake."""
        with self._lock:
            self._connection(until)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def extra_headers(self) -> dict:
        """The headers of HA_HEADERS_PARAMETER (e.g. Cloudflare Access), sent with every request."""
        if not self.headers_parameter:
            return {}
        return _parse_headers(self.headers_parameter, secrets.parameter(self.headers_parameter))

    def _connection(self, until: float):
        conn = self._conn
        if conn is not None and conn.sock is not None:
            if time.monotonic() - self._idle_since < KEEPALIVE_IDLE_S and still_open(conn.sock):
                return conn, True
        self.close()
        if self.tls is None:
            conn = http.client.HTTPConnection(self.host, self.port)
        else:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls)
        conn.response_class = FinalResponse
        conn.auto_open = 0  # http.client's own connect would give each step the whole timeout again: never
        try:  # the connection fast_path opened during INIT, if there is one
            conn.sock = (ha_connection.take_preopened(self.address, until)
                         or open_socket(self.host, self.port, self.tls, until))
        except (OSError, UnicodeError) as err:
            raise unreachable(err) from None
        self.connections_opened += 1
        self._conn = conn
        self._idle_since = time.monotonic()
        return conn, False

    def _read(self, response) -> Response:
        if response.status < 200:  # 101 to a plain request: what follows is not this request's answer
            raise HomeAssistantBadAnswer("not_http", f"not an HTTP answer (an interim HTTP {response.status})")
        chunks, size = [], 0
        while chunk := response.read(65536):  # each read is bounded by the deadline (DeadlineSocket)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HomeAssistantBadAnswer("too_large", f"answer larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        if response.length:  # closed before all it announced: http.client's read(n) does not raise
            raise http.client.IncompleteRead(b"", response.length)
        if response.will_close:  # a normal answer (Connection: close, HTTP/1.0): the next request reconnects
            self.close()
        else:
            self._idle_since = time.monotonic()
        return Response(response.status, b"".join(chunks), response.getheader("Content-Type", ""))


class FinalResponse(http.client.HTTPResponse):
    """An answer read past the interim (1xx) answers before it, as RFC 9110 asks of a client: http.client skips
    only 100 Continue, so a proxy's 103 Early Hints would be taken for the answer, and the real answer, left
    unread on the kept connection, for the next request's."""

    def _read_status(self):
        while True:
            version, status, reason = super()._read_status()
            if not 101 < status < 200:  # 100: http.client skips it itself; 101 answers no request of ours
                return version, status, reason
            http.client.parse_headers(self.fp)  # an interim answer has headers and no body


@lru_cache(maxsize=2)
def _parse_headers(name: str, raw: str) -> dict:
    """The extra headers in an SSM parameter's JSON; errors name the parameter and header, never a value."""
    try:
        headers = json.loads(raw)
    except ValueError:
        headers = None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise secrets.SecretError(f"SSM parameter {name!r} (HA_HEADERS_PARAMETER) must hold a JSON object of "
                                  "header names to string values")
    for header, value in headers.items():
        if not HEADER_NAME.fullmatch(header) or header.lower() in OWN_HEADERS:
            raise secrets.SecretError(f"SSM parameter {name!r} (HA_HEADERS_PARAMETER) may not set header "
                                      f"{header[:40]!r}")
        headers[header] = value = value.strip()  # a value pasted with its line break
        if any(c in value for c in "\r\n\0"):
            raise secrets.SecretError(f"SSM parameter {name!r} (HA_HEADERS_PARAMETER): the value of "
                                      f"{header!r} has a line break or NUL")
        try:
            value.encode("latin-1")  # what http.client sends a header value as (RFC 9110: ASCII, at most Latin-1)
        except UnicodeEncodeError:
            raise secrets.SecretError(
                f"SSM parameter {name!r} (HA_HEADERS_PARAMETER): the value of {header!r} has a character an HTTP "
                "header cannot carry (a typographic quote or apostrophe, say, from pasting): copy it again as plain "
                "text") from None
    return headers


def failure(err: Exception) -> HomeAssistantError:
    """What went wrong in an exchange with Home Assistant, in words of our own: an exception's text can quote
    a header, and with it a token or a secret header value."""
    if isinstance(err, HomeAssistantError):
        return err
    if isinstance(err, http.client.RemoteDisconnected):
        return HomeAssistantUnreachable("connection", "Home Assistant closed the connection without answering")
    if isinstance(err, http.client.IncompleteRead):
        return HomeAssistantBadAnswer("cut_off", "answer cut off: IncompleteRead")
    if isinstance(err, UnicodeError):  # http.client encodes before sending: a path or header value HTTP cannot carry
        return UnsendableRequest("unsendable", "the request was not sent: its path or a header has a character HTTP "
                                               "cannot carry (a path must be ASCII, a header value Latin-1)")
    if isinstance(err, (OSError, UnicodeError)):
        return unreachable(err)
    if isinstance(err, http.client.HTTPException):
        return HomeAssistantBadAnswer("not_http", f"not an HTTP answer ({type(err).__name__})")
    return HomeAssistantBadAnswer("failed", f"the request failed ({type(err).__name__})")


@cache
def _client(url: str, verify_tls: bool, ca_bundle: str, client_cert: str, client_key: str,
            headers_parameter: str) -> HomeAssistantClient:
    return HomeAssistantClient(url, verify_tls, ca_bundle, client_cert, client_key, headers_parameter)


def default_client() -> HomeAssistantClient:
    """The client for the configured Home Assistant; raises ValueError when HA_URL is unset or invalid."""
    s = settings()
    if not s.ha_url:
        raise ValueError("HA_URL is not set: configure the URL of your Home Assistant")
    return _client(s.ha_url, s.verify_tls, s.ca_bundle, s.client_cert, s.client_key, s.headers_parameter)


def forget_clients() -> None:
    """Drop the clients made so far: the next default_client() is built anew (tests, after changing the settings)."""
    _client.cache_clear()
    ha_connection.address.cache_clear()
    ha_connection.close_preopened()


def close_connections() -> None:
    """Close the kept connection, if a client was made: after a SnapStart restore it belongs to another machine."""
    if _client.cache_info().currsize:
        default_client().close()
