"""The alarms and the dashboard name exactly the metrics the code emits: namespace, name and dimension set.

CloudWatch matches an alarm or a widget to a metric only when all three are equal, and says nothing when they
are not: the alarm just never fires. So the metrics here are read from the EMF lines that the real handler
prints in fresh processes, configured as the template configures it, on a success, an unreachable Home
Assistant and rejected tokens (a scripted Home Assistant on 127.0.0.1).
"""

import base64
import json
import re
import socket

import pytest

from support import FakeHomeAssistant, load_template, run_python

FUNCTION_NAME = "ha-alexa-bridge-BridgeFunction-0TEST"  # what !Ref BridgeFunction resolves to
SUBSTITUTIONS = {"BridgeFunction": FUNCTION_NAME, "AWS::Region": "eu-west-1", "AWS::StackName": "ha-alexa-bridge"}
LAMBDA_METRICS = {"Invocations", "Errors", "Throttles", "Duration"}  # AWS/Lambda's, by FunctionName alone
GOOD_TOKEN = "linked-token-accepted"
EXPIRED_JWT = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                       for part in ({"alg": "HS256"}, {"exp": 1_600_000_000}, {"sig": 1}))  # fmt: skip

ENDPOINT = {"endpointId": "light#kitchen", "friendlyName": "Kitchen", "description": "Kitchen light by HA",
            "manufacturerName": "Home Assistant", "displayCategories": ["LIGHT"],
            "capabilities": [{"type": "AlexaInterface", "interface": "Alexa", "version": "3"}]}  # fmt: skip
DISCOVERY_ANSWER = {"event": {
    "header": {"namespace": "Alexa.Discovery", "name": "Discover.Response", "payloadVersion": "3", "messageId": "a"},
    "payload": {"endpoints": [
        ENDPOINT,
        {**ENDPOINT, "endpointId": "binary_sensor#leak", "displayCategories": None},  # repaired: becomes OTHER
        {**ENDPOINT, "endpointId": "switch#empty", "capabilities": []},  # dropped: no capabilities
    ]},
}}  # fmt: skip


def _discover(token: str) -> dict:
    header = {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3", "messageId": "m"}
    return {"directive": {"header": header, "payload": {"scope": {"type": "BearerToken", "token": token}}}}


def _turn_on(token: str) -> dict:
    header = {"namespace": "Alexa.PowerController", "name": "TurnOn", "payloadVersion": "3", "messageId": "m",
              "correlationToken": "c"}  # fmt: skip
    endpoint = {"endpointId": "light#kitchen", "scope": {"type": "BearerToken", "token": token}}
    return {"directive": {"header": header, "endpoint": endpoint, "payload": {}}}


def _assist(token: str) -> dict:
    user = {"userId": "amzn1.ask.account.A", "accessToken": token}
    return {
        "version": "1.0",
        "session": {"new": True, "sessionId": "s", "application": {"applicationId": "amzn1.ask.skill.a"}, "user": user},
        "context": {"System": {"application": {"applicationId": "amzn1.ask.skill.a"}, "user": user}},
        "request": {"type": "IntentRequest", "requestId": "r", "locale": "en-US", "intent": {
            "name": "AssistIntent", "slots": {"query": {"name": "query", "value": "turn on the kitchen light"}}}},
    }  # fmt: skip


def _home_assistant(method, path, headers, body):
    if headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
        return 401, b"401: Unauthorized", {"Content-Type": "text/plain"}
    return 200, DISCOVERY_ANSWER, None


def _invoke(events: list[dict], ha_url: str, environment: dict) -> tuple[list, list[dict]]:
    """Each event through lambda_handler in one fresh process: the answers, and the EMF lines printed."""
    script = f"""
import json, lambda_function
print(json.dumps([lambda_function.lambda_handler(event, None) for event in {events!r}]))
"""
    run = run_python(script, HA_URL=ha_url, AWS_LAMBDA_FUNCTION_NAME=FUNCTION_NAME, **environment)
    lines = [json.loads(line) for line in run["stdout"].splitlines() if line.startswith('{"_aws"')]
    return run["result"], lines


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def environment(template):
    """The Powertools settings exactly as the template gives them to the function."""
    variables = template["Resources"]["BridgeFunction"]["Properties"]["Environment"]["Variables"]
    names = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")
    assert all(isinstance(variables[name], str) for name in names)  # literals the alarms can repeat
    return {name: variables[name] for name in names}


@pytest.fixture(scope="module")
def runs(environment):
    ha = FakeHomeAssistant(_home_assistant)
    try:
        answered = _invoke([_discover(GOOD_TOKEN), _turn_on("revoked-token"), _discover(EXPIRED_JWT),
                            _assist("revoked-token")], ha.url, environment)  # fmt: skip
    finally:
        ha.close()
    unreachable = _invoke([_discover(GOOD_TOKEN), _assist(GOOD_TOKEN)], f"http://127.0.0.1:{_closed_port()}",
                          environment)  # fmt: skip
    # The exposure setting with a Home Assistant that serves no WebSocket: the choice is unreadable.
    ha = FakeHomeAssistant(_home_assistant)
    try:
        exposure = _invoke([_discover(GOOD_TOKEN)], ha.url, {**environment, "ALEXA_EXPOSE": "assist"})
    finally:
        ha.close()
    return {"answered": answered, "unreachable": unreachable, "exposure": exposure}


@pytest.fixture(scope="module")
def emitted(runs) -> dict[tuple, set]:
    """(namespace, metric name, frozenset of (dimension, value)) -> units, for every metric in the EMF lines."""
    found = {}
    for _, lines in runs.values():
        for line in lines:
            for directive in line["_aws"]["CloudWatchMetrics"]:
                for dimension_set in directive["Dimensions"]:
                    dimensions = frozenset((name, line[name]) for name in dimension_set)
                    for metric in directive["Metrics"]:
                        key = (directive["Namespace"], metric["Name"], dimensions)
                        found.setdefault(key, set()).add(metric["Unit"])
    return found


def _alarms(template) -> dict[str, dict]:
    resources = template["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _alarm_metrics(alarm: dict) -> list[tuple[dict, str | None]]:
    """Each metric an alarm reads (Namespace, MetricName, Dimensions), with the unit it asks for."""
    if "MetricName" in alarm:
        return [(alarm, alarm.get("Unit"))]
    return [(query["MetricStat"]["Metric"], query["MetricStat"].get("Unit"))
            for query in alarm["Metrics"] if "MetricStat" in query]  # fmt: skip


def _dimensions(listed: list[dict]) -> frozenset:
    """The (name, value) pairs of a Dimensions list; an intrinsic function as a value is kept as its JSON."""
    return frozenset((d["Name"], d["Value"] if isinstance(d["Value"], str) else json.dumps(d["Value"])) for d in listed)


def test_the_invocations_produced_each_fault_the_alarms_watch(runs):
    (ok, invalid, expired, assist_auth), _ = runs["answered"]
    (smart_home, assist), _ = runs["unreachable"]
    assert [e["endpointId"] for e in ok["event"]["payload"]["endpoints"]] == ["light#kitchen", "binary_sensor#leak"]
    assert invalid["event"]["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"
    assert expired["event"]["payload"]["type"] == "EXPIRED_AUTHORIZATION_CREDENTIAL"
    assert smart_home["event"]["payload"]["type"] == "BRIDGE_UNREACHABLE"
    assert assist_auth["response"]["card"]["type"] == "LinkAccount"  # Home Assistant refused the linked token
    assert "reach Home Assistant" in assist["response"]["outputSpeech"]["ssml"]
    (unreadable,), _ = runs["exposure"]
    assert unreadable["event"]["header"]["name"] == "ErrorResponse"  # Alexa keeps its devices


def test_every_metric_of_every_alarm_is_one_the_code_emits(template, emitted):
    alarms = _alarms(template)
    assert len(alarms) >= 5
    for name, alarm in alarms.items():
        for metric, unit in _alarm_metrics(alarm):
            dimensions = _dimensions(metric["Dimensions"])
            if metric["Namespace"] == "AWS/Lambda":  # Lambda's own metrics: for every version and alias
                assert metric["MetricName"] in LAMBDA_METRICS, name
                assert dimensions == {("FunctionName", json.dumps({"Ref": "BridgeFunction"}))}, name
                continue
            key = (metric["Namespace"], metric["MetricName"], dimensions)
            assert key in emitted, f"{name} watches {key}, which no invocation emitted; emitted: {sorted(emitted)}"
            assert unit is None or emitted[key] == {unit}, name


def test_the_alarms_watch_what_a_household_needs(template):
    watched = {
        (metric["Namespace"], metric["MetricName"], dict(_dimensions(metric["Dimensions"])).get("ErrorType"))
        for alarm in _alarms(template).values() if "Dimensions" in alarm or "Metrics" in alarm
        for metric, _ in _alarm_metrics(alarm)
    }  # fmt: skip
    for error_type in ("BRIDGE_UNREACHABLE", "ASSIST_UNREACHABLE", "INVALID_AUTHORIZATION_CREDENTIAL",
                       "EXPIRED_AUTHORIZATION_CREDENTIAL", "ASSIST_AUTH"):  # fmt: skip
        assert ("HomeAssistantBridge", "Errors", error_type) in watched
    assert {("AWS/Lambda", "Errors", None), ("AWS/Lambda", "Throttles", None)} <= watched
    slow = [a for a in _alarms(template).values() if a.get("MetricName") == "RequestLatency"]
    assert [(a["ExtendedStatistic"], a["Threshold"]) for a in slow] == [("p95", 6000)]  # Alexa gives up at 8 s


def test_alarms_exist_only_with_an_email_and_say_what_to_do(template):
    resources = template["Resources"]
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    topic = resources["AlarmTopic"]
    assert topic["Condition"] == "HasAlarmEmail"
    assert topic["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    for name, alarm in _alarms(template).items():
        assert resources[name]["Condition"] == "HasAlarmEmail"
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching", name  # a quiet household is not an outage
        assert "events/devices_health.json" in alarm["AlarmDescription"]["Fn::Sub"], name  # run the doctor


def test_metric_math_uses_only_the_queries_it_defines(template):
    for name, alarm in _alarms(template).items():
        queries = alarm.get("Metrics", [])
        ids = {query["Id"] for query in queries}
        expressions = [query for query in queries if "Expression" in query]
        assert [query["ReturnData"] for query in queries if query not in expressions] == [False] * (len(ids) - 1)
        for query in expressions:
            names = set(re.findall(r"\b([a-z][A-Za-z0-9_]*)\b(?!\()", query["Expression"]))
            assert names <= ids, (name, names - ids)
            assert query["ReturnData"] is True


def _dashboard(template) -> dict:
    body = template["Resources"]["BridgeDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    used = set(re.findall(r"\$\{([^}]+)\}", body))
    assert used <= set(SUBSTITUTIONS), used - set(SUBSTITUTIONS)
    return json.loads(re.sub(r"\$\{([^}]+)\}", lambda match: SUBSTITUTIONS[match.group(1)], body))


def _widget_metrics(dashboard) -> list[tuple[str, str, frozenset, str | None]]:
    """(namespace, name, dimensions, stat) of every graphed metric; a SEARCH gives its schema's dimension names."""
    found = []
    for widget in dashboard["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        assert properties["region"] == SUBSTITUTIONS["AWS::Region"]
        for row in properties["metrics"]:
            options = row[-1] if isinstance(row[-1], dict) else {}
            if "expression" in options:
                search = re.fullmatch(r"SEARCH\('\{([^}]+)\} MetricName=\"(\w+)\" (.*)', '(\w+)', \d+\)",
                                      options["expression"])  # fmt: skip
                namespace, *names = search.group(1).split(",")
                filters = frozenset(re.findall(r'(\w+)="([^"]*)"', search.group(3)))
                found.append((namespace, search.group(2), frozenset(names), filters))
                continue
            fields = [field for field in row if not isinstance(field, dict)]
            namespace, name, *pairs = fields
            stat = options.get("stat", properties.get("stat"))
            found.append((namespace, name, frozenset(zip(pairs[::2], pairs[1::2], strict=True)), stat))
    return found


def test_every_dashboard_metric_is_one_the_code_emits_and_every_emitted_one_is_shown(template, emitted):
    shown = set()
    for namespace, name, dimensions, extra in _widget_metrics(_dashboard(template)):
        if namespace == "AWS/Lambda":
            assert name in LAMBDA_METRICS and dimensions == {("FunctionName", FUNCTION_NAME)}
        elif isinstance(extra, frozenset):  # a SEARCH: the schema is the exact dimension set, filters its values
            matches = {key for key in emitted if key[:2] == (namespace, name)
                       and {dim for dim, _ in key[2]} == dimensions and extra <= key[2]}  # fmt: skip
            assert matches, f"SEARCH {namespace} {name} {sorted(dimensions)} matches nothing emitted"
            shown |= matches
        else:
            assert (namespace, name, dimensions) in emitted, (namespace, name, dimensions)
            shown.add((namespace, name, dimensions))
    assert set(emitted) - shown == set(), "emitted but on no widget"


def test_the_dashboard_shows_what_the_issue_asks_for(template):
    graphed = {(namespace, name, extra) for namespace, name, _, extra in _widget_metrics(_dashboard(template))}
    for name in ("RequestLatency", "HomeAssistantLatency", "InitDuration"):
        assert {("HomeAssistantBridge", name, "p50"), ("HomeAssistantBridge", name, "p95")} <= graphed
    names = {(namespace, name) for namespace, name, _ in graphed}
    ours = {"ColdStart", "Errors", "DiscoveryEndpointsRepaired", "DiscoveryEndpointsDropped"}
    lambdas = {"Invocations", "Duration", "Throttles"}
    assert {("HomeAssistantBridge", n) for n in ours} | {("AWS/Lambda", n) for n in lambdas} <= names
    assert "Condition" not in template["Resources"]["BridgeDashboard"]  # always there
