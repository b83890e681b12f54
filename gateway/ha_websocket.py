"""WebSocket client for Home Assistant's API: authentication, numbered commands, results matched to them.

Only operator actions use it, so websocket-client is imported inside `connect`, never at module level: the
Smart Home path neither imports this module nor pays for the library.
"""

import json
from collections import defaultdict, deque
from urllib.parse import quote

from gateway.errors import BANNED, BANNED_BODY, HomeAssistantBadAnswer, HomeAssistantError, HomeAssistantUnreachable
from gateway.ha_connection import hostport, open_socket, unreachable

WEBSOCKET_PATH = "/api/websocket"
# Answers that close a command: "result" for commands, "pong" for {"type": "ping"}.
FINAL_TYPES = ("result", "pong")


class WebSocketAuthFailed(HomeAssistantError):
    """Home Assistant answered the WebSocket authentication with `auth_invalid`."""


class WebSocketCommandFailed(HomeAssistantError):
    """A command's result had `success: false`; `reason` is Home Assistant's error code."""


def websocket_url(client) -> str:
    """The WebSocket URL of the Home Assistant that `client` (a HomeAssistantClient) talks to."""
    scheme = "wss" if client.tls is not None else "ws"
    return f"{scheme}://{hostport(client.host, client.port)}{quote(client.base_path)}{WEBSOCKET_PATH}"


class HomeAssistantWebSocket:
    """One authenticated connection. Messages for other ids (events, earlier results) are kept, not lost."""

    def __init__(self, ws, sock, ha_version: str = ""):
        self.ha_version = ha_version
        self._ws = ws
        self._sock = sock  # the DeadlineSocket under ws
        self._next_id = 1
        self._results: dict[int, dict] = {}
        self._events: dict[int, deque] = defaultdict(deque)
        self._hello: dict | None = None  # auth_required, while the answer to the auth message is unread

    def send(self, message: dict) -> int:
        """Send a command (a dict with "type", without "id"); returns the id its result will carry."""
        message_id = self._next_id
        self._next_id += 1
        try:
            self._io(lambda: self._ws.send(json.dumps({**message, "id": message_id})))
        except HomeAssistantError as err:
            if self._hello is None:
                raise
            # Pipelined: Home Assistant may have answered the auth message and closed before this was sent; its
            # answer, if it arrived, says why (WebSocketAuthFailed for a rejected token).
            try:
                self._authenticated(self._sock.until)
            except WebSocketAuthFailed:
                raise
            except HomeAssistantError:
                pass
            raise err from None
        return message_id

    def result(self, message_id: int, until: float):
        """The result of command `message_id`, waiting for it until `until`; raises WebSocketCommandFailed."""
        while message_id not in self._results:
            self._receive(until)
        answer = self._results.pop(message_id)
        if answer.get("type") == "pong":
            return None
        if not answer.get("success"):
            error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
            raise WebSocketCommandFailed(str(error.get("code") or "failed"), str(error.get("message") or answer))
        return answer.get("result")

    def command(self, message: dict, until: float):
        """Send one command and return its result."""
        return self.result(self.send(message), until)

    def next_event(self, message_id: int, until: float) -> dict:
        """The next event of subscription `message_id`, buffered or waited for."""
        while not self._events[message_id]:
            self._receive(until)
        return self._events[message_id].popleft()

    def close(self) -> None:
        """Send the close frame and drop the connection. Home Assistant's own close frame is not waited for:
        nothing more is read from it, and the wait would cost a round trip."""
        try:
            self._ws.send_close()
        except Exception:  # closing a broken connection may fail: it is closed either way
            pass
        finally:
            self._ws.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _receive(self, until: float) -> None:
        """Read one frame and file its messages by id (Home Assistant may send a list of messages)."""
        if self._hello is not None:  # a pipelined connection: the answer to the auth message comes first
            self._authenticated(until)
            return
        for message in _messages(self._io(self._ws.recv, until)):
            message_id = message.get("id")
            if not isinstance(message_id, int):
                continue
            if message.get("type") in FINAL_TYPES:
                self._results[message_id] = message
            elif message.get("type") == "event":
                self._events[message_id].append(message.get("event"))

    def _authenticated(self, until: float) -> None:
        """Read Home Assistant's answer to the auth message; raises WebSocketAuthFailed when it rejects the token."""
        answer = _first(self._io(self._ws.recv, until))
        if answer.get("type") == "auth_invalid":
            message = str(answer.get("message") or "invalid access token")
            raise WebSocketAuthFailed("auth", f"Home Assistant rejected the token ({message})")
        if answer.get("type") != "auth_ok":
            raise HomeAssistantBadAnswer("websocket", f"expected auth_ok, got {answer.get('type')!r}")
        self.ha_version = str(answer.get("ha_version") or self._hello.get("ha_version") or "")
        self._hello = None

    def _io(self, operation, until: float | None = None):
        try:
            if until is not None:
                self._sock.until = until
            return operation()
        except Exception as err:
            raise _failure(err) from None


def connect(client, token: str, until: float, *, pipelined: bool = False) -> HomeAssistantWebSocket:
    """Open and authenticate a WebSocket to the Home Assistant of `client`.

    Raises HomeAssistantError (WebSocketAuthFailed when the token is rejected), or secrets.SecretError.

    `pipelined` returns once the auth message is sent, without waiting for Home Assistant's answer: the commands
    sent next travel with it, a round trip sooner (Home Assistant reads each message in turn, and reads commands
    only once it has accepted the token; it answers a rejected one with auth_invalid and closes, unread). The
    first result read then reads that answer first, and raises WebSocketAuthFailed there.
    """
    import websocket  # websocket-client: heavy and needed only by operator actions

    # The upgrade request passes the same gates as every REST request (e.g. Cloudflare Access headers); it
    # raises secrets.SecretError when their parameter cannot be read.
    headers = client.extra_headers()
    sock = None
    try:
        # The socket is made here, not by websocket-client, so that one deadline bounds the whole exchange
        # (name lookup, each address, TLS, upgrade, authentication, each command) however slowly the answers
        # trickle in. Like the HTTP client, it reaches Home Assistant directly: no proxy from the environment.
        sock = open_socket(client.host, client.port, client.tls, until)
        # websocket-client's own UTF-8 check runs in pure Python, byte by byte (over 200 ms for a big home's entity
        # registry); decoding the frame checks the same at C speed.
        ws = websocket.create_connection(websocket_url(client), header=headers, socket=sock,
                                         skip_utf8_validation=True)
    except Exception as err:
        if sock is not None:
            sock.close()
        raise _failure(err) from None
    connection = HomeAssistantWebSocket(ws, sock)
    try:
        hello = _first(connection._io(ws.recv, until))
        if hello.get("type") != "auth_required":
            raise HomeAssistantBadAnswer("websocket", f"expected auth_required, got {hello.get('type')!r}")
        connection._io(lambda: ws.send(json.dumps({"type": "auth", "access_token": token})), until)
        connection._hello = hello
        if not pipelined:
            connection._authenticated(until)
    except BaseException:
        connection.close()
        raise
    return connection


def _messages(frame) -> list[dict]:
    if frame in ("", b""):  # websocket-client's answer to a close frame
        raise HomeAssistantUnreachable("connection", "Home Assistant closed the WebSocket")
    try:
        decoded = json.loads(frame)
    except ValueError:
        raise HomeAssistantBadAnswer("not_json", "a WebSocket message is not JSON") from None
    messages = decoded if isinstance(decoded, list) else [decoded]
    return [message for message in messages if isinstance(message, dict)]


def _first(frame) -> dict:
    messages = _messages(frame)
    if not messages:
        raise HomeAssistantBadAnswer("websocket", "an empty WebSocket message")
    return messages[0]


def _failure(err: Exception) -> HomeAssistantError:
    """The gateway error for anything websocket-client or the socket under it raises."""
    if isinstance(err, HomeAssistantError):
        return err
    if isinstance(err, UnicodeDecodeError):  # a text frame (decoded by websocket-client's recv) that is not UTF-8
        return HomeAssistantBadAnswer("not_utf8", "a WebSocket message is not UTF-8 text")
    import websocket

    if isinstance(err, websocket.WebSocketTimeoutException):
        return HomeAssistantUnreachable("timeout", "no answer before the deadline")
    if isinstance(err, websocket.WebSocketBadStatusException):
        if err.status_code == 403 and (err.resp_body or b"").strip() == BANNED_BODY:
            return HomeAssistantBadAnswer("banned", BANNED)
        return HomeAssistantBadAnswer(
            "upgrade_refused", f"HTTP {err.status_code} instead of a WebSocket upgrade at {WEBSOCKET_PATH}"
        )
    if isinstance(err, websocket.WebSocketAddressException):
        return HomeAssistantUnreachable("dns", "host name not resolved")
    if isinstance(err, websocket.WebSocketConnectionClosedException):
        return HomeAssistantUnreachable("connection", "Home Assistant closed the WebSocket")
    if isinstance(err, (OSError, UnicodeError)):
        return unreachable(err)
    if isinstance(err, websocket.WebSocketException):  # its text can quote the answer's headers: not shown
        return HomeAssistantBadAnswer("websocket", f"WebSocket failed ({type(err).__name__})")
    return HomeAssistantBadAnswer("websocket", type(err).__name__)
