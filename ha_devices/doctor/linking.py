"""The doctor's checks of what Alexa's servers need: account linking, and state reports from Home Assistant."""

from urllib.parse import urlsplit

from gateway import ha_websocket
from gateway.config import settings
from gateway.errors import HomeAssistantError
from gateway.ha_connection import hostport
from gateway.secrets import SecretError
from ha_devices.doctor.advice import FIX_EVENTS, FIX_LINKING_URL
from ha_devices.doctor.api import http_get, json_field
from ha_devices.doctor.network import is_private
from ha_devices.doctor.outcome import Outcome, Probe, failed, passed, warned

# Alexa's account-linking client IDs: its redirect origins (trailing slash required), by the Amazon account's region.
ALEXA_CLIENT_IDS = {
    "https://pitangui.amazon.com/": "North America and Brazil",
    "https://layla.amazon.com/": "Europe, India and the Middle East",
    "https://alexa.amazon.co.jp/": "Japan and Australia",
}


def check_account_linking(probe: Probe) -> Outcome:
    """Home Assistant's OAuth pages answer, and the values the Alexa console's Account Linking page needs."""
    client, scheme = probe.client, urlsplit(settings().ha_url).scheme  # the URL without a user name or password
    default_port = {"https": 443, "http": 80}.get(scheme)
    base = (f"{scheme}://{hostport(client.host, client.port).removesuffix(f':{default_port}')}"
            f"{client.base_path.rstrip('/')}")
    values = {"Authorization URI": f"{base}/auth/authorize", "Access Token URI": f"{base}/auth/token",
              "Client ID": ALEXA_CLIENT_IDS, "Your Secret": "anything: Home Assistant does not check it",
              "Your Authentication Scheme": "Credentials in request body", "Scope": "smart_home"}
    outcome, page = http_get(probe, "/auth/authorize")
    if outcome:
        return outcome
    if page.status != 200 or not page.content_type.startswith("text/html"):
        return failed(f"GET /auth/authorize answered HTTP {page.status} ({page.content_type or 'no content type'}),"
                      " not Home Assistant's login page: Alexa could not link accounts",
                      "Home Assistant serves its login page with `frontend:` (part of default_config:); a reverse proxy"
                      " must pass /auth/ to Home Assistant")
    outcome, answer = http_get(probe, "/auth/providers")
    if outcome:
        return outcome
    providers = json_field(answer, "providers") if answer.status == 200 else None
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
    if probe.addresses and all(is_private(sockaddr[0]) for _, sockaddr in probe.addresses):
        problems.append("HA_URL names a private address, which Alexa's servers cannot reach")
    if problems:
        return Outcome("warning", f"{detail}; but Alexa cannot link with this URL: {'; '.join(problems)}",
                       FIX_LINKING_URL, values)
    return Outcome("ok", detail, values=values)


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
