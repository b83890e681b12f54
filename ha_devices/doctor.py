"""The doctor: checks the way from this function to Home Assistant, step by step, and says what to fix first.

Each check returns an Outcome: "ok", "warning" (works, but something needs care, or only a feature other than
Alexa Smart Home is affected) or "failed" (Alexa Smart Home cannot work). A check whose prerequisite did not
pass is "skipped" with the reason. The report's `ok` is true when no check failed.
"""

import ipaddress
import socket
import ssl
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway import ha_websocket
from gateway.alexa_endpoints import MAX_ENDPOINTS, check_endpoints, domain_of, filter_snippet, propose_filter, summary
from gateway.config import settings
from gateway.errors import (
    BANNED,
    BANNED_BODY,
    HomeAssistantBadAnswer,
    HomeAssistantError,
    HomeAssistantUnreachable,
    banned,
)
from gateway.ha_client import default_client
from gateway.log import logger
from gateway.redact import error_message, redacted
from gateway.secrets import SecretError, default_token
from ha_devices import certificate, home_assistant
from ha_devices.errors import crash_site

CHECK_TIMEOUT_S = 4.0  # one check's share: a hung step must leave time to report the others
MIN_CHECK_S = 0.2  # with less time left, a check is not started: it fails, naming the function's Timeout
LATENCY_ROUNDS = 3
SLOW_MS = 1500.0  # Alexa waits 8 s for the whole answer; a slower round trip leaves too little of it
# A question Home Assistant's built-in agent answers in each language without touching a device, so that an error
# answer means the agent does not understand the language (HassGetCurrentTime).
CONVERSATION_PROBES = {"en": "what time is it", "de": "wie spät ist es", "fr": "quelle heure est-il",
                       "es": "qué hora es", "it": "che ore sono", "nl": "hoe laat is het"}

FIX_URL = "set HA_URL to the external base URL of your Home Assistant, e.g. https://ha.example.com"
FIX_UNREACHABLE = (
    "make Home Assistant reachable from the internet at HA_URL: it must be running, and your router or firewall"
    " must forward the port to it (AWS Lambda runs outside your network)"
)
FIX_PROXY = (
    "the server at HA_URL accepts connections but does not answer like Home Assistant: check the reverse proxy"
    " or tunnel in front of it"
)
FIX_TOKEN = (
    "the token was rejected: create a long-lived access token (Home Assistant profile, Security tab) and put it"
    " into HA_TOKEN or the SSM parameter named by HA_TOKEN_PARAMETER"
)
FIX_HEADERS = (
    "HA_HEADERS_PARAMETER must name a readable SSM SecureString holding a JSON object of header names to values"
)
FIX_DISCOVERY = (
    "an endpoint that breaks Alexa's discovery rules can make Alexa fail the discovery of every device; the bridge"
    " mends or leaves out those listed: fix the entity in Home Assistant (name, category) or exclude it with the"
    " `filter:` under `alexa: smart_home:`"
)
FIX_NO_ALEXA = "add `alexa: smart_home:` to Home Assistant's configuration.yaml and restart Home Assistant"
TLS_FIXES = {
    10: "the certificate has expired: renew it (Let's Encrypt certificates last 90 days: check the renewal)",
    18: "a self-signed certificate: use one from a public CA (e.g. Let's Encrypt), or set HA_CA_BUNDLE to it",
    19: "the chain ends in a private CA: use a certificate from a public CA, or set HA_CA_BUNDLE to your CA",
    20: "the server does not send the intermediate certificates: serve the full chain (fullchain.pem)",
    21: "the server does not send the intermediate certificates: serve the full chain (fullchain.pem)",
    62: "the certificate is for another name: use the host name it was issued for in HA_URL, or get one for it",
    64: "the certificate is not for this IP address: use the host name it was issued for in HA_URL",
}
FIX_TLS = "fix the server's certificate, or set HA_CA_BUNDLE to the CA that issued it"
FIX_CLIENT_CERT = (
    "the server (or the proxy in front of it) wants a client certificate it accepts (mutual TLS): set"
    " HA_CLIENT_CERT and HA_CLIENT_KEY to a certificate and key it trusts"
)


@dataclass
class Outcome:
    status: str  # "ok", "warning" or "failed"
    detail: str
    fix: str | None = None
    values: dict | None = None  # settings to copy somewhere, e.g. the Alexa console's


def passed(detail: str) -> Outcome:
    return Outcome("ok", detail)


def warned(detail: str, fix: str) -> Outcome:
    return Outcome("warning", detail, fix)


def failed(detail: str, fix: str) -> Outcome:
    return Outcome("failed", detail, fix)


@dataclass
class Probe:
    """What the checks find out and hand on to the checks after them."""

    until: float
    client: object = None
    token: str = ""
    language: str = ""  # Home Assistant's own, from the version check
    addresses: list = field(default_factory=list)  # (family, sockaddr) from the DNS check
    address: tuple | None = None  # the one the TCP check connected to
    check_until: float = 0.0

    def timeout(self) -> float:
        return max(self.check_until - time.monotonic(), 0.001)


# ---- the checks, in the order they run ----


def check_url(probe: Probe) -> Outcome:
    url = settings().ha_url
    if not url:
        return failed("HA_URL is not set", FIX_URL)
    try:
        probe.client = client = default_client()
    except ValueError as err:
        problem = str(err)  # never quotes HA_URL, which may hold a password
        if problem.startswith("HA_URL"):
            return failed(problem, FIX_URL)
        return failed(problem, "fix or remove the setting named: the bridge builds its TLS settings from it")
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{_hostport(client.host, client.port)}{client.base_path}"
    if parts.username or parts.password:
        return warned(f"{shown} carries a user name or password, which the bridge never sends",
                      "remove them from HA_URL: the bridge authenticates with the token only")
    verify = "on" if settings().verify_tls else "OFF (HA_VERIFY_TLS=false)"
    return passed(f"{shown}" + (f", certificate checks {verify}" if client.tls is not None else ", plain HTTP"))


def check_dns(probe: Probe) -> Outcome:
    host, port = probe.client.host, probe.client.port
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        probe.addresses = [(info[0], info[4]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        return passed(f"{host} is an IP address: no lookup needed" + _private_note(host))
    timeout = probe.timeout()
    try:
        infos = _resolve(host, port, timeout)
    except socket.gaierror as err:
        return failed(f"{host} does not resolve ({err.strerror})",
                      "check the host name in HA_URL: it must be in public DNS, as AWS resolves it, not your router")
    except TimeoutError:
        return failed(f"no DNS answer for {host} within {timeout:.1f} s", "check the DNS of your domain")
    probe.addresses = list(dict.fromkeys((info[0], info[4]) for info in infos))
    shown = list(dict.fromkeys(sockaddr[0] for _, sockaddr in probe.addresses))
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    return passed(f"{host} resolves to {', '.join(shown[:3])}{more}" + _private_note(*shown))


def check_tcp(probe: Probe) -> Outcome:
    errors = []
    for family, sockaddr in probe.addresses:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(probe.timeout())
                sock.connect(sockaddr)
        except OSError as err:
            errors.append((sockaddr, err))
            continue
        probe.address = (family, sockaddr)
        return passed(f"connected to {_hostport(sockaddr[0], sockaddr[1])}")
    sockaddr, err = errors[0] if errors else ((probe.client.host, probe.client.port), OSError("no address"))
    where = _hostport(sockaddr[0], sockaddr[1])
    if any(isinstance(e, ConnectionRefusedError) for _, e in errors):
        return failed(f"connection refused by {where}: nothing listens there (is Home Assistant running?)",
                      "start Home Assistant, and check the port in HA_URL and your router's port forwarding")
    if isinstance(err, TimeoutError):
        return failed(f"no answer from {where} in time: the connection attempt is dropped on the way",
                      FIX_UNREACHABLE)
    return failed(f"cannot connect to {where} ({err.strerror or type(err).__name__})", FIX_UNREACHABLE)


def check_tls(probe: Probe) -> Outcome:
    client, host = probe.client, probe.client.host
    if client.tls is None:
        if all(_is_private(sockaddr[0]) for _, sockaddr in probe.addresses):
            return passed("not used: HA_URL is http:// to a private address")
        return warned("not used: HA_URL is http://, so the token crosses the internet unencrypted",
                      "serve Home Assistant over https:// (e.g. a reverse proxy with Let's Encrypt) and use that URL")
    started = time.perf_counter()
    try:
        with _tls_connection(probe, client.tls) as tls:
            handshake_ms = round((time.perf_counter() - started) * 1000, 1)
            cert, version = certificate.peer_certificate(tls), tls.version()
            refusal = _refusal_after_handshake(tls, host)
    except ssl.SSLCertVerificationError as err:
        about = ""
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        try:
            with _tls_connection(probe, unverified) as tls:
                cert = certificate.peer_certificate(tls)
            about = f"; the certificate is {certificate.summary(cert)}" if cert else ""
        except OSError:
            pass
        return failed(f"the certificate is not trusted ({err.verify_message}){about}",
                      TLS_FIXES.get(err.verify_code, FIX_TLS))
    except ssl.SSLError as err:
        reason = err.reason or str(err)
        return failed(f"the TLS handshake failed ({reason})", FIX_CLIENT_CERT if "CERTIFICATE" in reason else (
            "the port in HA_URL does not speak TLS as expected: use http:// if it serves plain HTTP, else check the"
            " port and the proxy's TLS settings (a server that wants a client certificate: HA_CLIENT_CERT)"))
    except OSError as err:
        what = "no TLS answer in time" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        return failed(f"the TLS handshake failed ({what})", FIX_PROXY)
    if refusal:
        return failed(f"the server hung up right after the handshake: {refusal}",
                      FIX_CLIENT_CERT if "CERTIFICATE" in refusal.upper() or "reset" in refusal else FIX_TLS)
    if cert is None:
        return passed(f"{version}, handshake {handshake_ms} ms; certificate details unavailable")
    detail = f"{version}, handshake {handshake_ms} ms; certificate {certificate.summary(cert)}"
    problems = certificate.problems(cert, host)
    if not settings().verify_tls:
        found = f": {', '.join(problems)}" if problems else ""
        return warned(f"{detail}; not checked (HA_VERIFY_TLS=false){found}",
                      "use a certificate the bridge can check (or HA_CA_BUNDLE for your own CA) and remove"
                      " HA_VERIFY_TLS=false")
    if problems:
        return warned(f"{detail}; {', '.join(problems)}", "renew the certificate before it expires")
    return passed(detail)


def check_token(probe: Probe) -> Outcome:
    s = settings()
    source = "HA_TOKEN" if s.ha_token else f"SSM parameter {s.ha_token_parameter}"
    try:
        probe.token = default_token()
    except SecretError as err:
        return failed(str(err), "give the function's role ssm:GetParameter on the parameter (and kms:Decrypt"
                                " for its key), and check the parameter's name in HA_TOKEN_PARAMETER")
    if not probe.token:
        return failed("no token is configured", "set HA_TOKEN, or HA_TOKEN_PARAMETER to an SSM SecureString holding"
                                                " a long-lived access token")
    outcome, response = _get(probe, "/api/")
    if outcome:
        return outcome
    if banned(response):
        return failed(f"Home Assistant answered HTTP 403 ({BANNED_BODY.decode()!r}), its answer to a banned address:"
                      " it did not even read the token", BANNED)
    if response.status == 403:
        return failed(f"GET /api/ answered HTTP 403 ({response.content_type or 'no content type'}), which is not"
                      " Home Assistant's own answer", "something in front of Home Assistant (a proxy, Cloudflare"
                      " Access, a firewall rule) refuses the request: check its rules, and HA_HEADERS_PARAMETER")
    if response.status == 401:
        return failed(f"the token from {source} was rejected (HTTP 401)", FIX_TOKEN)
    if response.status == 404:
        return failed("GET /api/ answered HTTP 404: that is not Home Assistant's API",
                      "HA_URL must be the base URL of Home Assistant itself, and the `api:` integration (part of"
                      " default_config:) must be loaded")
    if response.status != 200:
        return failed(f"GET /api/ answered HTTP {response.status}", FIX_PROXY)
    message = error_message(response, probe.client, probe.token)
    if message is None:
        return failed(f"GET /api/ answered {response.content_type or 'no content type'}, not Home Assistant's API",
                      "something in front of Home Assistant (a login page, Cloudflare Access, a proxy) answers"
                      " instead of it")
    return passed(f"the token from {source} was accepted ({message})")


def check_version(probe: Probe) -> Outcome:
    outcome, response = _get(probe, "/api/config")
    if outcome:
        return outcome
    version = _json(response, "version") if response.status == 200 else None
    if version is None:
        return failed(f"GET /api/config answered HTTP {response.status} without a version", FIX_PROXY)
    name = _json(response, "location_name")
    probe.language = _json(response, "language") or ""
    return passed(f"Home Assistant {version}" + (f" ({name})" if name else ""))


def check_alexa(probe: Probe) -> Outcome:
    started = time.perf_counter()
    try:
        response = probe.client.request("POST", home_assistant.SMART_HOME_PATH, token=probe.token,
                                        until=probe.check_until, body=home_assistant.discovery_directive(probe.token))
    except HomeAssistantError as err:
        return failed(f"POST {home_assistant.SMART_HOME_PATH} failed ({err.detail})", FIX_PROXY)
    except SecretError as err:
        return failed(str(err), FIX_HEADERS)
    ms = round((time.perf_counter() - started) * 1000, 1)
    if response.status == 404:
        return failed(f"POST {home_assistant.SMART_HOME_PATH} answered HTTP 404: Home Assistant has no Alexa"
                      " Smart Home endpoint", FIX_NO_ALEXA)
    if response.status != 200:
        return failed(f"POST {home_assistant.SMART_HOME_PATH} answered HTTP {response.status}", FIX_PROXY)
    try:
        answer = response.json()
    except ValueError:
        return failed("Home Assistant's Alexa endpoint answered with something that is not JSON", FIX_PROXY)
    endpoints = home_assistant.discovered_endpoints(answer)
    if endpoints is None:
        return failed(f"Home Assistant refused the Discovery ({home_assistant.alexa_error(answer)})",
                      "read Home Assistant's log for the Alexa integration's error")
    if not endpoints:
        return failed("a Discovery found no endpoints: Alexa would discover no devices",
                      "Home Assistant exposes nothing to Alexa: check the `filter:` under `alexa: smart_home:`"
                      " (without one, every supported entity is exposed)")
    checked = check_endpoints(endpoints)
    kept, problems = checked.kept, checked.problems
    found = f"a Discovery found {len(kept)} endpoints in {ms} ms: the devices Alexa discovers"
    if checked.left_out:
        return warned(_left_out(endpoints, checked), _filter_fix(endpoints))
    if problems:
        listed = "; ".join(f"{p['endpointId']} {p['action']}: {p['reason']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return warned(f"{found}; the bridge {_repaired_dropped(problems)} so that Alexa accepts the rest: "
                      f"{listed}{more}", FIX_DISCOVERY)
    return passed(found)


def _left_out(endpoints: list, checked) -> str:
    """`1,157 offered, Alexa takes 300: 857 left out: 601 input_boolean, ...`, and what else the bridge changed."""
    said = summary(checked, len(endpoints))
    domains = ", ".join(f"{count:,} {domain}" for domain, count in said["dropped_domains"].items())
    kept = Counter(domain_of(endpoint) for endpoint in checked.kept)
    text = (f"{len(endpoints):,} offered, Alexa takes {MAX_ENDPOINTS}: {said['dropped']:,} left out: {domains}; "
            f"Alexa gets {len(checked.kept)}: " + ", ".join(f"{n} {domain}" for domain, n in kept.most_common()))
    reasons = "; ".join(f"{count} {reason}" for reason, count in said["reasons"].items())
    return f"{text} (why: {reasons})"


def _filter_fix(endpoints: list) -> str:
    domains, exposed = propose_filter(endpoints)
    if exposed > MAX_ENDPOINTS:
        return (f"the devices alone are {exposed} endpoints: Alexa takes {MAX_ENDPOINTS}; the bridge keeps the"
                f" first of them. To choose, list them under `include_entities:` in the `filter:` of `alexa:"
                f" smart_home:` in configuration.yaml")
    room = f"; room for {MAX_ENDPOINTS - exposed} more under `include_entities:`" if exposed < MAX_ENDPOINTS else ""
    return (f"choose what Alexa gets: this `filter:` in configuration.yaml exposes {exposed} endpoints, every device"
            f" among them (it replaces a filter you have; with a filter, Home Assistant also exposes config and"
            f" diagnostic entities of these domains: run the doctor again after the restart{room}):\n"
            f"{filter_snippet(domains)}")


def _repaired_dropped(problems: list[dict]) -> str:
    counts = {action: sum(p["action"] == action for p in problems) for action in ("repaired", "dropped")}
    return " and ".join(f"{action} {count}" for action, count in counts.items() if count)


def check_conversation(probe: Probe) -> Outcome:
    s = settings()
    language = s.assist_language or probe.language or "en"
    text = CONVERSATION_PROBES.get(language.split("-")[0].lower(), CONVERSATION_PROBES["en"])
    body = {"text": text, "language": language}
    if s.assist_agent_id:
        body["agent_id"] = s.assist_agent_id
    try:
        response = probe.client.request("POST", "/api/conversation/process", token=probe.token,
                                        until=probe.check_until, body=body)
    except HomeAssistantError as err:
        return warned(f"POST /api/conversation/process failed ({err.detail})", FIX_PROXY)
    except SecretError as err:
        return warned(str(err), FIX_HEADERS)
    only = "; only the Alexa custom skill needs it"
    if response.status == 404:
        return warned("POST /api/conversation/process answered HTTP 404: no conversation API" + only,
                      "add `conversation:` (part of default_config:) to configuration.yaml")
    answer = _json(response, "response") if response.status == 200 else None
    if not isinstance(answer, dict):
        return warned(f"POST /api/conversation/process answered HTTP {response.status}" + only,
                      "check ASSIST_AGENT_ID and ASSIST_LANGUAGE, and Home Assistant's log")
    speech = ((answer.get("speech") or {}).get("plain") or {}).get("speech") or ""
    shown = speech if len(speech) <= 80 else speech[:77] + "..."
    agent = s.assist_agent_id or "Home Assistant's default agent"
    where = "ASSIST_LANGUAGE" if s.assist_language else (
        "Home Assistant's language; without ASSIST_LANGUAGE the skill sends each request's locale")
    asked = f"{agent} answered {text!r} in {language} ({where})"
    if answer.get("response_type") == "error":
        code = (answer.get("data") or {}).get("code") or "no code"
        return warned(f"{asked} with an error ({code}): {shown!r}" + only,
                      f"the agent does not understand {language}: set ASSIST_LANGUAGE to a language it supports, or"
                      " ASSIST_AGENT_ID to an agent that speaks this one (Home Assistant: Settings, Voice assistants)")
    return passed(f"{asked} ({answer.get('response_type')}): {shown!r}")


def check_websocket(probe: Probe) -> Outcome:
    only = "; only the `list` action needs it"
    try:
        with ha_websocket.connect(probe.client, probe.token, probe.check_until) as ws:
            started = time.perf_counter()
            ws.command({"type": "ping"}, probe.check_until)
            ping_ms = round((time.perf_counter() - started) * 1000, 1)
            user = _user_rights(ws, probe.check_until)
    except ha_websocket.WebSocketAuthFailed as err:
        return warned(f"the WebSocket API rejected the token ({err.detail})" + only, FIX_TOKEN)
    except HomeAssistantBadAnswer as err:
        return warned(f"the WebSocket API failed ({err.detail})" + only,
                      "your reverse proxy must pass WebSocket upgrades for /api/websocket (nginx: proxy_http_version"
                      " 1.1 and the Upgrade and Connection headers)")
    except HomeAssistantUnreachable as err:
        return warned(f"the WebSocket API is unreachable ({err.detail})" + only, FIX_PROXY)
    except HomeAssistantError as err:
        return warned(f"the WebSocket API failed ({err.detail})" + only, FIX_PROXY)
    except SecretError as err:
        return warned(str(err), FIX_HEADERS)
    version = f" (Home Assistant {ws.ha_version})" if ws.ha_version else ""
    return passed(f"authenticated{version}; ping answered in {ping_ms} ms{user}")


def _user_rights(ws, until: float) -> str:
    """Whether the token's user is an administrator, for the report; "" when Home Assistant does not say."""
    try:
        user = ws.command({"type": "auth/current_user"}, until)
    except ha_websocket.WebSocketCommandFailed:
        return ""
    is_admin = user.get("is_admin") if isinstance(user, dict) else None
    if is_admin is False:
        return ("; the token's user is not an administrator: the `call` action of services that need one (such"
                " as homeassistant.restart) is refused")
    return "; the token's user is an administrator" if is_admin is True else ""


def check_latency(probe: Probe) -> Outcome:
    rounds = []
    for _ in range(LATENCY_ROUNDS):
        started = time.perf_counter()
        outcome, _response = _get(probe, "/api/")
        if outcome:
            return outcome
        rounds.append((time.perf_counter() - started) * 1000)
    median = statistics.median(rounds)
    detail = (f"GET /api/ round trip: median {median:.1f} ms (min {min(rounds):.1f}, max {max(rounds):.1f},"
              f" {len(rounds)} requests over the kept-alive connection)")
    if median > SLOW_MS:
        return warned(detail + "; Alexa allows 8 s for the whole answer",
                      "Home Assistant or the way to it is slow: check its load, and deploy the function in the AWS"
                      " region nearest to it")
    return passed(detail)


# Alexa's account-linking client IDs: its redirect origins (trailing slash required), by the Amazon account's region.
ALEXA_CLIENT_IDS = {
    "https://pitangui.amazon.com/": "North America and Brazil",
    "https://layla.amazon.com/": "Europe, India and the Middle East",
    "https://alexa.amazon.co.jp/": "Japan and Australia",
}
FIX_LINKING_URL = (
    "Alexa's servers link accounts only with an https:// URL on port 443 that is reachable from the internet and has"
    " a publicly trusted certificate: serve Home Assistant that way (e.g. a reverse proxy with Let's Encrypt) and"
    " use that URL in HA_URL and in the Alexa console"
)


def check_account_linking(probe: Probe) -> Outcome:
    """Home Assistant's OAuth pages answer, and the values the Alexa console's Account Linking page needs."""
    client, scheme = probe.client, urlsplit(settings().ha_url).scheme  # the URL without a user name or password
    default_port = {"https": 443, "http": 80}.get(scheme)
    base = (f"{scheme}://{_hostport(client.host, client.port).removesuffix(f':{default_port}')}"
            f"{client.base_path.rstrip('/')}")
    values = {"Authorization URI": f"{base}/auth/authorize", "Access Token URI": f"{base}/auth/token",
              "Client ID": ALEXA_CLIENT_IDS, "Your Secret": "anything: Home Assistant does not check it",
              "Your Authentication Scheme": "Credentials in request body", "Scope": "smart_home"}
    outcome, page = _get(probe, "/auth/authorize")
    if outcome:
        return outcome
    if page.status != 200 or not page.content_type.startswith("text/html"):
        return failed(f"GET /auth/authorize answered HTTP {page.status} ({page.content_type or 'no content type'}),"
                      " not Home Assistant's login page: Alexa could not link accounts",
                      "Home Assistant serves its login page with `frontend:` (part of default_config:); a reverse proxy"
                      " must pass /auth/ to Home Assistant")
    outcome, answer = _get(probe, "/auth/providers")
    if outcome:
        return outcome
    providers = _json(answer, "providers") if answer.status == 200 else None
    types = [p.get("type") for p in providers if isinstance(p, dict)] if isinstance(providers, list) else []
    if not types:
        return failed(f"GET /auth/providers answered HTTP {answer.status} without a login provider: nobody could log"
                      " in to link Alexa", "check `auth_providers:` in configuration.yaml (the default,"
                      " `homeassistant`, logs in with a user name and password)")
    detail = (f"the login page and its providers answer ({', '.join(map(str, types))}); paste `values` into the"
              f" Alexa console's Account Linking page: Authorization URI {values['Authorization URI']}, Access Token"
              f" URI {values['Access Token URI']}, the Client ID of your Amazon account's region,"
              " scheme Credentials in request body, scope smart_home")
    problems = []
    if scheme != "https":
        problems.append("HA_URL is not https://")
    elif client.port != 443:
        problems.append(f"HA_URL uses port {client.port}, not 443")
    if probe.addresses and all(_is_private(sockaddr[0]) for _, sockaddr in probe.addresses):
        problems.append("HA_URL names a private address, which Alexa's servers cannot reach")
    if problems:
        return Outcome("warning", f"{detail}; but Alexa cannot link with this URL: {'; '.join(problems)}",
                       FIX_LINKING_URL, values)
    return Outcome("ok", detail, values=values)


FIX_EVENTS = (
    "turn on *Send Alexa Events* on the Smart Home skill's Permissions page, put the Alexa Skill Messaging client ID"
    " and secret it shows and your region's event endpoint under `alexa: smart_home:` (`client_id`,"
    " `client_secret`, `endpoint`), restart Home Assistant, then disable and enable the skill in the Alexa app so"
    " that Alexa sends a new AcceptGrant"
)
# What Home Assistant's Alexa integration logs when state reports fail (homeassistant/components/alexa: auth.py,
# state_report.py), and what each means.
ALEXA_LOG_MEANINGS = (
    ("could not get access token", "Home Assistant has no Alexa event token: no AcceptGrant reached it since"
                                   " `client_id`/`client_secret` were set, or it failed"),
    ("LWA", "Home Assistant could not get or refresh its Alexa event token from Login with Amazon (wrong client ID or"
            " secret, or an AcceptGrant code that was already used)"),
    ("ChangeReport", "Alexa refused Home Assistant's state reports"),
    ("report to Alexa", "Home Assistant's state reports to Alexa time out"),
)
STATE_REPORTS_UNSEEN = (
    "the bridge cannot see whether Home Assistant holds Alexa's event token (from an AcceptGrant) or sends state"
    " reports: they go from Home Assistant to Alexa directly; AcceptGrant itself passes through this function, whose"
    " log says \"directive answered\" with Alexa.Authorization.AcceptGrant when it does"
)


def check_state_reports(probe: Probe) -> Outcome:
    """What Home Assistant's log says about its state reports to Alexa; says what the bridge cannot see."""
    try:
        with ha_websocket.connect(probe.client, probe.token, probe.check_until) as ws:
            records = ws.command({"type": "system_log/list"}, probe.check_until)
    except ha_websocket.WebSocketCommandFailed as err:
        return passed(f"Home Assistant's log is not readable with this token ({err.reason}; an administrator's token"
                      f" can read it); {STATE_REPORTS_UNSEEN}")
    except (HomeAssistantError, SecretError) as err:
        return passed(f"Home Assistant's log could not be read ({getattr(err, 'detail', err)}); {STATE_REPORTS_UNSEEN}")
    found = []
    for record in records if isinstance(records, list) else []:
        if not (isinstance(record, dict) and str(record.get("name", "")).startswith("homeassistant.components.alexa")):
            continue
        text = " ".join(map(str, record.get("message") or []))
        meaning = next((m for pattern, m in ALEXA_LOG_MEANINGS if pattern in text), None)
        if meaning:
            found.append(f"{meaning} ({record.get('count', 1)}x, e.g. {text[:120]!r})")
    if found:
        return warned("Home Assistant's log: " + "; ".join(dict.fromkeys(found)), FIX_EVENTS)
    return passed(f"no Alexa state report errors in Home Assistant's log; {STATE_REPORTS_UNSEEN}")


CHECKS = [  # (name, check, the checks it needs)
    ("url", check_url, ()),
    ("dns", check_dns, ("url",)),
    ("tcp", check_tcp, ("dns",)),
    ("tls", check_tls, ("tcp",)),
    ("token", check_token, ("tls",)),
    ("version", check_version, ("token",)),
    ("alexa", check_alexa, ("token",)),
    ("conversation", check_conversation, ("token",)),
    ("websocket", check_websocket, ("token",)),
    ("latency", check_latency, ("token",)),
    ("account_linking", check_account_linking, ("token",)),
    ("state_reports", check_state_reports, ("websocket",)),
]


def examine(until: float) -> dict:
    """Run every check in order and report; never raises."""
    probe, statuses, causes, report = Probe(until), {}, {}, []
    for name, check, needs in CHECKS:
        started = time.perf_counter()
        blocked = [need for need in needs if statuses[need] not in ("ok", "warning")]
        left = until - time.monotonic()
        if blocked:
            causes[name] = cause = causes.get(blocked[0], blocked[0])  # name the check that stopped the chain
            outcome = Outcome("skipped", f"not run: the {cause} check {_past(statuses[cause])}")
        elif left < MIN_CHECK_S:
            outcome = failed("not run: no time left before the function's timeout", "raise the function's Timeout")
        else:
            probe.check_until = time.monotonic() + min(CHECK_TIMEOUT_S, left)
            try:
                outcome = check(probe)
            except Exception as err:  # a check must not take the report down with it
                logger.error("doctor check crashed", extra={"check": name, "crash": crash_site(err)})
                outcome = failed(f"the check itself failed ({type(err).__name__})", "report this as a bug")
        statuses[name] = outcome.status
        # Details quote Home Assistant (its version, messages, an agent's answer): never a secret sent to it.
        detail = redacted(outcome.detail, probe.client, probe.token)
        entry = {"check": name, "status": outcome.status, "detail": detail,
                 "ms": round((time.perf_counter() - started) * 1000, 1)}
        if outcome.fix and outcome.status != "ok":
            entry["fix"] = outcome.fix
        if outcome.values:
            entry["values"] = outcome.values
        report.append(entry)
    return _summary(report)


def _summary(report: list[dict]) -> dict:
    failures = [entry for entry in report if entry["status"] == "failed"]
    warnings = [entry for entry in report if entry["status"] == "warning"]
    if failures:
        first = failures[0]
        summary = f"failed at the {first['check']} check: {first['detail']}"
    elif warnings:
        summary = f"Alexa Smart Home should work; {len(warnings)} warning(s): " + ", ".join(
            entry["check"] for entry in warnings)
    else:
        summary = f"all {len(report)} checks passed"
    answer = {"ok": not failures, "summary": summary}
    first_fix = next((entry["fix"] for entry in failures + warnings if entry.get("fix")), None)
    if first_fix:
        answer["advice"] = first_fix
    answer["checks"] = report
    logger.info("doctor finished", extra={"ok": not failures, "failed_check": failures[0]["check"] if failures
                                           else None})
    return answer


def _past(status: str) -> str:
    return "was skipped" if status == "skipped" else status


def _get(probe: Probe, path: str):
    """(None, response), or (a failed Outcome, None) when no HTTP answer came."""
    try:
        return None, probe.client.request("GET", path, token=probe.token, until=probe.check_until)
    except HomeAssistantUnreachable as err:
        return failed(f"GET {path} got no answer ({err.detail})", FIX_PROXY), None
    except HomeAssistantBadAnswer as err:
        return failed(f"GET {path} got an unusable answer ({err.detail})", FIX_PROXY), None
    except SecretError as err:
        return failed(str(err), FIX_HEADERS), None


def _json(response, key: str):
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer.get(key) if isinstance(answer, dict) else None


def _resolve(host: str, port: int, timeout: float) -> list:
    """getaddrinfo with a timeout: it has none of its own, and a stuck resolver must not stall the report."""
    box = {}

    def lookup():
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as err:
            box["error"] = err

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no DNS answer within {timeout:.1f} s")
    if "error" in box:
        raise box["error"]
    return box["infos"]


def _tls_connection(probe: Probe, context: ssl.SSLContext):
    family, sockaddr = probe.address
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(probe.timeout())
        sock.connect(sockaddr)
        return context.wrap_socket(sock, server_hostname=probe.client.host)
    except BaseException:
        sock.close()
        raise


SILENT_CLOSE = "it closed the TLS connection without an alert (a client certificate it wants?)"


def _refusal_after_handshake(tls: ssl.SSLSocket, host: str) -> str | None:
    """Why the server hangs up once it has read the client's first bytes, if it does.

    TLS 1.3 checks the client certificate after the handshake: a server that wants one (or another one) says so
    only then, with an alert, or with a reset that may overtake the alert. `HEAD /` needs no token, so it never
    counts as a failed login in Home Assistant's ban list.
    """
    hung_up = None
    try:
        tls.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    except ssl.SSLEOFError:  # the alert can be lost in the race with the close
        return SILENT_CLOSE
    except ssl.SSLError as err:
        return err.reason or str(err)
    except (ConnectionResetError, BrokenPipeError) as err:
        hung_up = f"it reset the connection ({type(err).__name__})"
    except OSError:
        return None
    try:
        tls.recv(1)
    except ssl.SSLEOFError:
        return SILENT_CLOSE
    except ssl.SSLError as err:
        return err.reason or str(err)
    except ConnectionResetError as err:
        return f"it reset the connection ({type(err).__name__})"
    except OSError:  # a timeout is for the HTTP checks to report
        return hung_up
    return hung_up


def _is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local


def _private_note(*addresses: str) -> str:
    if addresses and all(_is_private(address) for address in addresses):
        return " (a private address: reachable from your network only, not from AWS Lambda outside a VPC)"
    return ""


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
