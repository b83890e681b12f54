"""The way to Home Assistant below HTTP: HA_URL's address, the TLS settings, a socket connected within one deadline.

Standard library socket and ssl only, without http.client: fast_path imports this module first in INIT and starts
the TLS handshake (one round trip) on a thread of its own (`preopen`), before the bridge's other imports, which
then run while it waits for Home Assistant; the first request takes that socket (`take_preopened`). The HTTP on
top of it is gateway.ha_client's, the WebSocket gateway.ha_websocket's.
"""

import io
import select
import socket
import ssl
import threading
import time
from collections import namedtuple
from functools import cache
from urllib.parse import urlsplit

from gateway.config import settings
from gateway.errors import HomeAssistantUnreachable

# Home Assistant's server (aiohttp) drops idle keep-alive connections after 75 s, and proxies in front of
# it often sooner: a connection idle longer than this is replaced instead of racing the server's close.
KEEPALIVE_IDLE_S = 50.0

# Alexa gives up 8 s after it sent the directive; Lambda's own start and hand-over come out of that.
ALEXA_BUDGET_S = 6.5
RESPONSE_MARGIN_S = 0.3
URL_NFKC = (
    "HA_URL has a character that Unicode normalisation turns into one of # / ? @ : in its host part (a full-width"
    " or other look-alike sign, as pasted from a document): retype the URL in plain ASCII"
)
CLOSED_TLS = "does it require a client certificate? see HA_CLIENT_CERT"


def deadline(context=None, budget_s: float = ALEXA_BUDGET_S) -> float:
    """The monotonic time by which Home Assistant must have answered this invocation."""
    remaining = budget_s
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(get_remaining):
        remaining = min(remaining, get_remaining() / 1000 - RESPONSE_MARGIN_S)
    return time.monotonic() + max(remaining, 0.0)


def hostport(host: str, port: int) -> str:
    """`host:port` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def left(until: float) -> float:
    """Seconds until `until`; raises TimeoutError once it has passed."""
    left = until - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline reached")
    return left


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


READ_AHEAD = 4096


class DeadlineSocket:
    """A connected socket whose blocking calls share one deadline (`until`): each waits at most what is left
    of it, so a peer that trickles its answer cannot stretch the exchange past it, whatever the reads."""

    def __init__(self, sock, until: float = float("inf")):
        self.sock = sock
        self.until = until
        self.timeout = None  # a shorter limit a library sets for one operation (websocket-client's close)
        self._ahead = bytearray()  # read ahead of a small recv, not yet asked for

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

    def recv(self, size: int, *flags):
        """Up to `size` bytes. A small read (websocket-client reads the upgrade answer one byte at a time) reads
        what has arrived, up to READ_AHEAD bytes, and keeps the rest for the next reads."""
        if self._ahead:
            data = bytes(self._ahead[:size])
            del self._ahead[:size]
            return data
        if size >= READ_AHEAD or flags:
            return self._bounded(self.sock.recv, size, *flags)
        data = self._bounded(self.sock.recv, READ_AHEAD)
        self._ahead += memoryview(data)[size:]
        return data[:size]

    def recv_into(self, buffer, size: int = 0, *flags):
        if self._ahead:
            view = memoryview(buffer).cast("B")
            n = min(len(self._ahead), size or len(view))
            view[:n] = self._ahead[:n]
            del self._ahead[:n]
            return n
        return self._bounded(self.sock.recv_into, buffer, size, *flags)

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


def still_open(sock) -> bool:
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


def tls_alert(sock) -> HomeAssistantUnreachable | None:
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


# Where HA_URL points: its host, port and path, and the TLS settings (None for plain HTTP).
Address = namedtuple("Address", "host port base_path tls")


@cache
def address(base_url: str, verify_tls: bool = True, ca_bundle: str = "", client_cert: str = "",
            client_key: str = "") -> Address:
    """HA_URL and the TLS settings as an Address; raises ValueError, naming the setting, when one cannot be used.

    The same settings give the same Address, with the same TLS context: its CA store is loaded once.
    """
    try:
        parts = urlsplit(base_url)
    except ValueError:  # urlsplit's own text quotes the netloc: the user name and password with it
        raise ValueError(URL_NFKC) from None
    problem = url_problem(parts)
    if problem:
        raise ValueError(problem)
    tls = tls_context(verify_tls, ca_bundle, client_cert, client_key) if parts.scheme == "https" else None
    return Address(parts.hostname, parts.port or (443 if tls else 80), parts.path.rstrip("/"), tls)


_preopened = {}  # Address -> (DeadlineSocket, when it was opened): opened during INIT, for the first request
# Held while preopen runs: a request that comes first waits for its connection instead of opening a second one.
_preopen_lock = threading.Lock()


def preopen(budget_s: float = 2.0) -> None:
    """Open a connection to the configured Home Assistant now, for the first request (fast_path, during INIT).

    Quiet when it cannot: that request connects again and reports the fault in its caller's protocol.
    """
    with _preopen_lock:
        try:
            s = settings()
            if not s.ha_url:
                return
            where = address(s.ha_url, s.verify_tls, s.ca_bundle, s.client_cert, s.client_key)
            _preopened[where] = (open_socket(where.host, where.port, where.tls, time.monotonic() + budget_s),
                                 time.monotonic())
        except Exception:  # noqa: S110 - the first request meets the same fault and reports it
            pass


def take_preopened(where: Address, until: float):
    """The connection `preopen` opened to `where` (waited for until `until` if still opening), if it is still
    good to use; else None."""
    if not _preopen_lock.acquire(timeout=max(until - time.monotonic(), 0.0)):
        return None
    try:
        sock, opened = _preopened.pop(where, (None, 0.0))
    finally:
        _preopen_lock.release()
    if sock is not None and time.monotonic() - opened < KEEPALIVE_IDLE_S and still_open(sock):
        return sock
    if sock is not None:
        sock.close()
    return None


def close_preopened() -> None:
    """Close a connection preopened and not yet taken: after a SnapStart restore it belongs to another machine."""
    with _preopen_lock:
        opened = list(_preopened.values())
        _preopened.clear()
    for sock, _ in opened:
        sock.close()
