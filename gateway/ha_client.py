"""HTTP client for Home Assistant: one keep-alive connection per execution environment, deadline-bound.

Longer than the project's 400 lines on purpose: it is the one module of the Smart Home path's network code, which
fast_path imports during INIT to open the connection early, so every piece of one request's way (the URL, TLS
settings, the connect phase under the one deadline, the kept connection, the error mapping) is in it, and a split
would add a module to the hot path's import that `make profile` counts.
"""

import http.client
import io
import json
import re
import select
import socket
import ssl
import threading
import time
from collections import namedtuple
from functools import cache, lru_cache
from urllib.parse import urlsplit

from gateway import secrets
from gateway.config import settings
from gateway.errors import (
    HomeAssistantBadAnswer,
    HomeAssistantError,
    HomeAssistantUnreachable,
    UnsendableRequest,
    UnusableToken,
)

# Home Assistant's server (aiohttp) drops idle keep-alive connections after 75 s, and proxies in front of
# it often sooner: a connection idle longer than this is replaced instead of racing the server's close.
KEEPALIVE_IDLE_S = 50.0
MAX_BODY_BYTES = 8 * 1024 * 1024
# Alexa gives up 8 s after it sent the directive; Lambda's own start and hand-over come out of that.
ALEXA_BUDGET_S = 6.5
RESPONSE_MARGIN_S = 0.3
# Headers this client sets itself: extra headers (HA_HEADERS_PARAMETER) may not replace or double them.
OWN_HEADERS = {"authorization", "accept", "content-type", "content-length", "host", "connection",
               "transfer-encoding"}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
URL_NFKC = (
    "HA_URL has a character that Unicode normalisation turns into one of # / ? @ : in its host part (a full-width"
    " or other look-alike sign, as pasted from a document): retype the URL in plain ASCII"
)
CLOSED_TLS = "does it require a client certificate? see HA_CLIENT_CERT"
INSECURE_WARNING = (
    "HA_VERIFY_TLS is false: Home Assistant's certificate is not checked, so whoever can intercept the "
    "connection can read the tokens sent to it; trust its certificate with HA_CA_BUNDLE instead"
)


def deadline(context=None, budget_s: float = ALEXA_BUDGET_S) -> float:
    """The monotonic time by which Home Assistant must have answered this invocation."""
    remaining = budget_s
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(get_remaining):
        remaining = min(remaining, get_remaining() / 1000 - RESPONSE_MARGIN_S)
    return time.monotonic() + max(remaining, 0.0)


# A namedtuple, not a dataclass: `dataclasses` imports `inspect`, about 10 ms before the INIT connection could start.
class Response(namedtuple("Response", "status body content_type")):
    __slots__ = ()

    def json(self):
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body)


def hostport(host: str, port: int) -> str:
    """`host:port` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def left(until: float) -> float:
    """Seconds until `until`; raises TimeoutError once it has passed."""
    left = until - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline reached")
    return left


class HomeAssistantClient:
    """Talks to one Home Assistant over one reused connection; safe to share across warm invocations."""

    def __init__(self, base_url: str, verify_tls: bool = True, ca_bundle: str = "", client_cert: str = "",
                 client_key: str = "", headers_parameter: str = ""):
        """Raises ValueError, naming the setting, when the URL or a TLS file cannot be used."""
        try:
            parts = urlsplit(base_url)
        except ValueError:  # urlsplit's own text quotes the netloc: the user name and password with it
            raise ValueError(URL_NFKC) from None
        problem = url_problem(parts)
        if problem:
            raise ValueError(problem)
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.tls = None
        if parts.scheme == "https":
            self.tls = tls_context(verify_tls, ca_bundle, client_cert, client_key)
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
                    alert = _tls_alert(conn.sock)
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
            if time.monotonic() - self._idle_since < KEEPALIVE_IDLE_S and _still_open(conn.sock):
                return conn, True
        self.close()
        if self.tls is None:
            conn = http.client.HTTPConnection(self.host, self.port)
        else:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls)
        conn.response_class = FinalResponse
        conn.auto_open = 0  # http.client's own connect would give each step the whole timeout again: never
        try:
            conn.sock = open_socket(self.host, self.port, self.tls, until)
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


def open_socket(host: str, port: int, tls: ssl.SSLContext | None, until: float):
    """A connected DeadlineSocket (TLS when `tls` is set), every step within `until`: the name lookup, the
    attempt at each address, the TLS handshake. socket.create_connection would give each address the whole
    timeout, and the handshake would get it again however long TCP took."""
    addresses = resolve(host, port, until)
    sock = None
    for n, (family, kind, proto, _, sockaddr) in enumerate(addresses):
        sock = socket.socket(family, kind, proto)
        try:
            # Each address gets its share of what is left: a dead first address (an AAAA record without an
            # IPv6 route, say) leaves time for the next one.
            sock.settimeout(left(until) / (len(addresses) - n))
            sock.connect(sockaddr)
            break
        except OSError:
            sock.close()
            sock = None
            if n == len(addresses) - 1:
                raise
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does: no 40 ms waits
        if tls is not None:
            sock.settimeout(left(until))  # the handshake as a whole: CPython bounds it in total, not per read
            sock = tls.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return DeadlineSocket(sock, until)


def resolve(host: str, port: int, until: float) -> list:
    """getaddrinfo for a TCP connection, within `until`. The lookup has no timeout of its own and cannot be
    interrupted, so a name is looked up on a thread that is given up on at the deadline (it ends when the
    resolver does); an IP address needs no lookup and no thread."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    box = {}

    def lookup():
        try:
            box["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as err:
            box["error"] = err

    worker = threading.Thread(target=lookup, name="resolve", daemon=True)
    worker.start()
    worker.join(left(until))
    if worker.is_alive():
        raise TimeoutError("no DNS answer before the deadline")
    if "error" in box:
        raise box["error"]
    return box["addresses"]


class DeadlineSocket:
    """A connected socket whose blocking calls share one deadline (`until`): each waits at most what is left
    of it, so a peer that trickles its answer cannot stretch the exchange past it, whatever the reads."""

    def __init__(self, sock, until: float = float("inf")):
        self.sock = sock
        self.until = until
        self.timeout = None  # a shorter limit a library sets for one operation (websocket-client's close)

    def __getattr__(self, name):
        return getattr(self.sock, name)

    def settimeout(self, timeout) -> None:
        self.timeout = timeout

    def gettimeout(self) -> float:
        remaining = left(self.until)
        return remaining if self.timeout is None else min(self.timeout, remaining)

    def _bounded(self, operation, *args):
        self.sock.settimeout(self.gettimeout())
        return operation(*args)

    def recv(self, *args):
        return self._bounded(self.sock.recv, *args)

    def recv_into(self, *args):
        return self._bounded(self.sock.recv_into, *args)

    def send(self, *args):
        return self._bounded(self.sock.send, *args)

    def sendall(self, *args):  # bounded in total since Python 3.5, as TLS handshakes are
        return self._bounded(self.sock.sendall, *args)

    def makefile(self, mode="rb", buffering=None, **_):
        """A binary reader whose reads go through this object (http.client reads answers through one)."""
        self.sock._io_refs += 1  # as socket.makefile does: the socket closes once its last reader is closed
        return io.BufferedReader(socket.SocketIO(self, "rb"), buffering or io.DEFAULT_BUFFER_SIZE)


def url_problem(parts) -> str:
    """What makes HA_URL (split by urlsplit) unusable, or "". Never quotes the URL: it may hold a password."""
    try:
        port = parts.port
    except ValueError:
        return "HA_URL has a port that is not a number from 0 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return "HA_URL must be an http:// or https:// URL with a host name, e.g. https://ha.example.com"
    try:
        parts.hostname.encode("idna")  # what the resolver would refuse: an empty label, one over 63 characters
    except UnicodeError:
        return (f"HA_URL's host name {parts.hostname[:80]!r} is malformed (an empty label, a label longer than 63 "
                "characters, or a character no host name has): check it for a typo")
    if not parts.path.isascii():  # http.client sends paths as ASCII only
        return ("HA_URL's path has a character that is not ASCII: percent-encode it (ä is %C3%A4) or check it "
                "for a typo")
    segments = parts.path.rstrip("/").split("/")
    if segments[-1] == "api":
        return ("HA_URL ends in /api: set it to the base URL of Home Assistant (e.g. https://ha.example.com), "
                "without /api; the bridge adds the API paths itself")
    if "api" in segments:  # an endpoint pasted whole, e.g. .../api/alexa/smart_home
        return ("HA_URL's path goes into Home Assistant's API (/api/...): set it to the base URL of Home Assistant "
                "(e.g. https://ha.example.com), without /api and what follows; the bridge adds the API paths itself")
    return ""


def tls_context(verify: bool, ca_bundle: str, client_cert: str, client_key: str) -> ssl.SSLContext:
    """The TLS settings for Home Assistant; raises ValueError naming the setting that cannot be used."""
    pem = ca_bundle if ca_bundle.startswith("-----BEGIN") else None  # the PEM text itself, not a path
    try:
        context = ssl.create_default_context(cafile=None if pem else ca_bundle or None, cadata=pem)
    except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
        raise ValueError(f"HA_CA_BUNDLE cannot be used: {_why(err)}") from None
    if client_cert or client_key:
        if not client_cert:
            raise ValueError("HA_CLIENT_KEY is set without HA_CLIENT_CERT")
        try:
            context.load_cert_chain(client_cert, client_key or None)
        except OSError as err:
            raise ValueError(f"HA_CLIENT_CERT or HA_CLIENT_KEY cannot be used: {_why(err)}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _why(err: Exception) -> str:
    if isinstance(err, ssl.SSLError):
        return err.reason or str(err)
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror} ({err.filename})" if err.filename else err.strerror
    return str(err)


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


def _still_open(sock) -> bool:
    """Whether an idle connection can carry a request: not closed by the server, nothing unasked waiting."""
    sock = getattr(sock, "sock", sock)
    if not select.select([sock], [], [], 0)[0]:
        return True
    if not isinstance(sock, ssl.SSLSocket):
        return False  # end of file, or bytes nobody asked for
    # TLS 1.3 servers send session tickets after the handshake: a fresh connection is readable but fine.
    try:
        sock.settimeout(0)
        sock.recv(1)
    except ssl.SSLWantReadError:
        return True  # only TLS records were waiting
    except OSError:
        return False
    return False


def _tls_alert(sock) -> HomeAssistantUnreachable | None:
    """The TLS alert a server sent before closing, if any: TLS 1.3 refuses a client certificate after the handshake,
    so a missing one shows as a broken pipe on sending unless the alert is read."""
    sock = getattr(sock, "sock", sock)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    try:
        sock.settimeout(0)
        sock.recv(1)
    except ssl.SSLWantReadError:
        return None
    except ssl.SSLError as err:
        return unreachable(err)
    except OSError:
        return None
    return None


def unreachable(err: OSError | UnicodeError) -> HomeAssistantUnreachable:
    """The socket error `err` as HomeAssistantUnreachable, with a reason word and a plain detail."""
    if isinstance(err, TimeoutError):
        return HomeAssistantUnreachable("timeout", "no answer before the deadline")
    if isinstance(err, socket.gaierror):
        return HomeAssistantUnreachable("dns", f"host name not resolved ({err.strerror})")
    if isinstance(err, UnicodeError):  # the resolver's own refusal of a malformed name (an empty label, ...)
        return HomeAssistantUnreachable("dns", "host name not resolved (not a valid host name)")
    if isinstance(err, ConnectionRefusedError):
        return HomeAssistantUnreachable("refused", "connection refused")
    if isinstance(err, ssl.SSLCertVerificationError):
        return HomeAssistantUnreachable("tls", f"certificate not trusted ({err.verify_message})")
    if isinstance(err, ssl.SSLEOFError):  # the alert can be lost in the race with the close
        return HomeAssistantUnreachable("tls", f"TLS closed by the server ({CLOSED_TLS})")
    if isinstance(err, ssl.SSLError):
        return HomeAssistantUnreachable("tls", f"TLS failed ({err.reason or type(err).__name__})")
    return HomeAssistantUnreachable("connection", f"{type(err).__name__}: {err.strerror or 'connection failed'}")


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


def close_connections() -> None:
    """Close the kept connection, if a client was made: after a SnapStart restore it belongs to another machine."""
    if _client.cache_info().currsize:
        default_client().close()
