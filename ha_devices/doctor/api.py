"""The doctor's checks of Home Assistant's APIs: the token, the version, Alexa Smart Home, conversation,
the WebSocket API and the round trip."""

import statistics
import time
from collections import Counter

from gateway import ha_websocket
from gateway.alexa_endpoints import MAX_ENDPOINTS, check_endpoints, domain_of, filter_snippet, propose_filter, summary
from gateway.alexa_exposure import ASSISTANTS, ExposureUnreadable, exposed_endpoints, mode
from gateway.config import settings
from gateway.errors import (
    BANNED,
    BANNED_BODY,
    HomeAssistantBadAnswer,
    HomeAssistantError,
    HomeAssistantUnreachable,
    agent_refused,
    banned,
)
from gateway.redact import error_message
from gateway.secrets import SecretError, default_token
from ha_devices import home_assistant
from ha_devices.doctor.advice import (
    EXPOSE_PAGE,
    FIX_DISCOVERY,
    FIX_EXPOSURE,
    FIX_HEADERS,
    FIX_NO_ALEXA,
    FIX_PROXY,
    FIX_TOKEN,
)
from ha_devices.doctor.outcome import Outcome, Probe, failed, passed, warned

LATENCY_ROUNDS = 3
SLOW_MS = 1500.0  # Alexa waits 8 s for the whole answer; a slower round trip leaves too little of it
# A question Home Assistant's built-in agent answers without touching a device (HassGetCurrentTime), in each
# language the Assist skill speaks, and Polish; each checked against home-assistant-intents' sentences of 2025.4 and
# 2026.11 (hi and ja only in 2026.11). The same words serve pt and pt-BR.
CONVERSATION_PROBES = {"ar": "كم الساعة", "de": "wie spät ist es", "en": "what time is it", "es": "qué hora es",
                       "fr": "quelle heure est-il", "hi": "समय क्या है", "it": "che ore sono", "ja": "今何時ですか",
                       "nl": "hoe laat is het", "pl": "która jest godzina", "pt": "que horas são"}
# Error codes that say the agent did not know the sentence, which says nothing about the language.
UNKNOWN_SENTENCE = ("no_intent_match", "no_valid_targets")
DEFAULT_AGENT = "conversation.home_assistant"



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
    outcome, response = http_get(probe, "/api/")
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
    outcome, response = http_get(probe, "/api/config")
    if outcome:
        return outcome
    version = json_field(response, "version") if response.status == 200 else None
    if version is None:
        return failed(f"GET /api/config answered HTTP {response.status} without a version", FIX_PROXY)
    name = json_field(response, "location_name")
    probe.language = json_field(response, "language") or ""
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
    try:
        chosen, offered = mode(settings().alexa_expose), endpoints
        endpoints, hidden = exposed_endpoints(probe.client, probe.token, probe.check_until, chosen, offered)
    except ExposureUnreadable as err:
        return failed(f"ALEXA_EXPOSE={settings().alexa_expose}: {err.message}; until it is mended, Alexa's Discovery"
                      " answers an error, so Alexa keeps the devices it has and discovers nothing new",
                      FIX_EXPOSURE.get(err.reason, FIX_PROXY))
    checked = check_endpoints(endpoints)
    kept, problems = checked.kept, checked.problems
    exposure = _exposure(chosen, offered, endpoints, hidden)
    found = f"a Discovery found {len(kept)} endpoints in {ms} ms: the devices Alexa discovers; {exposure}"
    if checked.left_out:
        fix = _hide_fix(chosen, endpoints, checked) if chosen.ui_based else _filter_fix(endpoints)
        return warned(f"{_left_out(endpoints, checked)}; {exposure}", fix)
    if problems:
        listed = "; ".join(f"{p['endpointId']} {p['action']}: {p['reason']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return warned(f"{found}; the bridge {_repaired_dropped(problems)} so that Alexa accepts the rest: "
                      f"{listed}{more}", FIX_DISCOVERY)
    return passed(found)


def _exposure(chosen, offered: list, exposed: list, hidden: dict) -> str:
    """`ALEXA_EXPOSE=assist: 40 of 58 offered are exposed, 18 hidden (...)`, or what `all` means."""
    if not chosen.ui_based:
        return f"ALEXA_EXPOSE={chosen}: Alexa gets what `alexa: smart_home:` offers (its `filter:` chooses)"
    why = "; ".join(f"{len(endpoints)} {reason}" for reason, endpoints in sorted(
        hidden.items(), key=lambda item: -len(item[1]))[:3])
    admin = "" if chosen.kind == "label" else (
        "; read with the doctor's token: Alexa reads it with the linked account's, which must be an administrator's")
    return (f"ALEXA_EXPOSE={chosen}: {len(exposed):,} of {len(offered):,} offered are exposed, "
            f"{len(offered) - len(exposed):,} hidden" + (f" ({why})" if why else "") + admin)


def _hide_fix(chosen, exposed: list, checked) -> str:
    """Over 300 with the choice made in the UI: hide or unlabel, in the UI, what the bridge leaves out."""
    left_out = [e for endpoints in checked.left_out.values() for e in endpoints]
    domains = ", ".join(f"{n} {domain}" for domain, n in Counter(map(domain_of, left_out)).most_common(5))
    over = len(exposed) - MAX_ENDPOINTS
    if chosen.kind == "label":
        how = f"remove the label {chosen.label!r} from {over:,} of them (or from their devices)"
    else:
        how = f"hide {over:,} of them from {ASSISTANTS[chosen.kind][1]} in {EXPOSE_PAGE}"
    return (f"choose in Home Assistant's UI what Alexa gets: {len(exposed):,} endpoints are exposed, Alexa takes"
            f" {MAX_ENDPOINTS} and the bridge sends devices first, leaving out {domains}; {how}, then ask Alexa to"
            " discover devices")


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
    own = CONVERSATION_PROBES.get(language.split("-")[0].lower())
    text = own or CONVERSATION_PROBES["en"]  # no sentence in this language: the agent's own list of languages decides
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
    answer = json_field(response, "response") if response.status == 200 else None
    refused = agent_refused(s.assist_agent_id, response.status, error_message(response, probe.client, probe.token))
    if refused:
        cause, fix = refused
        return warned(f"POST /api/conversation/process refused the agent: {cause}" + only, fix)
    if not isinstance(answer, dict):
        return warned(f"POST /api/conversation/process answered HTTP {response.status}" + only,
                      "check ASSIST_AGENT_ID and ASSIST_LANGUAGE, and Home Assistant's log")
    speech = ((answer.get("speech") or {}).get("plain") or {}).get("speech") or ""
    shown = speech if len(speech) <= 80 else speech[:77] + "..."
    agent = s.assist_agent_id or "Home Assistant's default agent"
    where = "ASSIST_LANGUAGE" if s.assist_language else (
        "Home Assistant's language; without ASSIST_LANGUAGE the skill sends the language of each request's locale, as"
        " Home Assistant writes it: de-DE as de, pt-BR as pt-BR")
    asked = f"{agent} answered {text!r} in {language} ({where})"
    if answer.get("response_type") != "error":
        return passed(f"{asked} ({answer.get('response_type')}): {shown!r}")
    code = (answer.get("data") or {}).get("code") or "no code"
    unsupported = (f"set ASSIST_LANGUAGE to a language it supports, or ASSIST_AGENT_ID to an agent that speaks"
                   f" {language} (Home Assistant: Settings, Voice assistants)")
    if own and code not in UNKNOWN_SENTENCE:
        return warned(f"{asked} with an error ({code}): {shown!r}" + only, "check Home Assistant's log; " + unsupported)
    speaks, why = _speaks(probe, s.assist_agent_id or DEFAULT_AGENT, language)
    if speaks is False:
        return warned(f"{asked} with an error ({code}), and the agent does not support {language} (its own list of"
                      " languages)" + only, unsupported)
    unknown = f"{asked} with {code} ({shown!r}): it does not know the probe sentence"
    if speaks:
        return passed(f"{unknown}, but it supports {language}: this Home Assistant may have no current-time sentence in"
                      f" {language} (older releases have none), so the check shows only that Assist answers")
    return warned(f"{unknown}; whether it supports {language} the bridge does not know ({why})" + only,
                  f"ask the Assist skill something in {language}; if it is not understood, {unsupported}")


def _speaks(probe: Probe, agent_id: str, language: str) -> tuple[bool | None, str]:
    """Whether the agent lists `language` among its languages (Home Assistant's conversation/agent/list, which
    matches the language as the agent would), and if that cannot be told, why."""
    try:
        with ha_websocket.connect(probe.client, probe.token, probe.check_until) as ws:
            result = ws.command({"type": "conversation/agent/list", "language": language}, probe.check_until)
    except HomeAssistantError as err:
        return None, f"its list of agents could not be read: {err.detail}"
    except SecretError as err:
        return None, str(err)
    agents = result.get("agents") if isinstance(result, dict) else None
    for agent in agents if isinstance(agents, list) else []:
        if isinstance(agent, dict) and agent.get("id") == agent_id:
            languages = agent.get("supported_languages")
            return languages == "*" or bool(languages), ""
    return None, f"Home Assistant lists no agent {agent_id}"


def check_websocket(probe: Probe) -> Outcome:
    only = "; only the `list` action needs it"
    if settings().alexa_expose != "all":
        only = (f"; the `list` action needs it, and ALEXA_EXPOSE={settings().alexa_expose}: Alexa's Discovery reads"
                " the owner's choice through it")
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
        outcome, _response = http_get(probe, "/api/")
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


def http_get(probe: Probe, path: str):
    """(None, response), or (a failed Outcome, None) when no HTTP answer came."""
    try:
        return None, probe.client.request("GET", path, token=probe.token, until=probe.check_until)
    except HomeAssistantUnreachable as err:
        return failed(f"GET {path} got no answer ({err.detail})", FIX_PROXY), None
    except HomeAssistantBadAnswer as err:
        return failed(f"GET {path} got an unusable answer ({err.detail})", FIX_PROXY), None
    except SecretError as err:
        return failed(str(err), FIX_HEADERS), None


def json_field(response, key: str):
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer.get(key) if isinstance(answer, dict) else None
