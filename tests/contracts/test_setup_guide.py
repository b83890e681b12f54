"""The setup guide's facts that live in code: stack outputs, metric dimensions, regions, client IDs, SnapStart's
schedule and the ASK CLI's project file. Each is read from the page that states it (the README, docs/) and checked
against what the code does."""

import json
import re
import tomllib

import pytest

from ha_devices import doctor
from support import ROOT, load_template, run_python

README = (ROOT / "README.md").read_text()
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
GUIDE = "\n".join([README, DEPLOY, OPERATIONS])


def test_every_stack_output_the_guide_names_exists():
    outputs = set(load_template()["Outputs"])
    named = set(re.findall(r"(?:stack )?outputs? `([A-Za-z]+)`", GUIDE))
    assert {"BridgeFunctionArn", "BridgeLogGroupName"} <= named
    assert named <= outputs, named - outputs


def test_the_metric_dimensions_are_what_the_operations_page_says(fake_ha):
    """A cold request that fails prints every metric the function emits; docs/operations.md names their dimensions."""
    ha = fake_ha(lambda *request: (500, b"boom", {"Content-Type": "text/plain"}))
    script = """
import json
import lambda_function
event = {"directive": {"header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
         "messageId": "m"}, "payload": {"scope": {"type": "BearerToken", "token": "t"}}}}
answer = lambda_function.lambda_handler(event, None)
print(json.dumps(answer["event"]["payload"]["type"]))
"""
    run = run_python(script, HA_URL=ha.url)
    assert run["result"] == "INTERNAL_ERROR"
    dimensions = {}
    for line in run["stdout"].splitlines():
        if line.startswith('{"_aws"'):
            doc = json.loads(line)
            for directive in doc["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    dimensions[metric["Name"]] = sorted(name for names in directive["Dimensions"] for name in names)
    assert dimensions == {"ColdStart": ["function_name", "service"], "Errors": ["ErrorType", "service"],
                          "InitDuration": ["service"], "RequestLatency": ["service"],
                          "HomeAssistantLatency": ["service"]}
    assert "`ColdStart` has `function_name` and `service`, `Errors` has `service` and `ErrorType`" in OPERATIONS
    assert "the others `service` alone" in OPERATIONS


def region_rows() -> list[list[str]]:
    row = r"^\s*\| `(\w+)` \| `([a-z0-9-]+)` \(.*?\) \| (.*?) \| `(https://[^`]+)` \|$"  # env, region, locales, ID
    rows = re.findall(row, DEPLOY, re.MULTILINE)
    assert len(rows) == 3, rows
    return rows


def test_each_region_row_names_its_samconfig_environment_and_client_id():
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for environment, region, _locales, client_id in region_rows():
        assert samconfig[environment]["global"]["parameters"]["region"] == region
        assert client_id in doctor.ALEXA_CLIENT_IDS and client_id.endswith("/")
    locales = {row[0]: row[2] for row in region_rows()}
    assert "Portuguese (BR)" in locales["us"] and "Arabic (SA)" in locales["eu"] and "English (AU)" in locales["fe"]
    assert {row[3] for row in region_rows()} == set(doctor.ALEXA_CLIENT_IDS)


def _condition(template: dict, name: str, parameters: dict) -> bool:
    """CloudFormation's condition functions, for the conditions of this template."""
    def value(node):
        if isinstance(node, dict) and "Ref" in node:
            return parameters[node["Ref"]]
        if isinstance(node, dict) and "Condition" in node:
            return _condition(template, node["Condition"], parameters)
        if isinstance(node, dict):
            ((function, args),) = node.items()
            args = [value(arg) for arg in args]
            return {"Fn::Equals": lambda: args[0] == args[1], "Fn::Not": lambda: not args[0],
                    "Fn::Or": lambda: any(args), "Fn::And": lambda: all(args)}[function]()
        return node
    return value(template["Conditions"][name])


@pytest.mark.parametrize("snapstart, schedule, expected", [
    ("false", "", None),
    ("false", "rate(5 minutes)", "rate(5 minutes)"),
    ("true", "", "rate(1 day)"),  # a SnapStart version idle for 14 days goes inactive: never let it
    ("true", "rate(10 minutes)", "rate(10 minutes)"),
])
def test_snapstart_keeps_a_warm_up_of_at_most_a_day(snapstart, schedule, expected):
    template = load_template()
    parameters = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    parameters |= {"EnableSnapStart": snapstart, "WarmupSchedule": schedule}
    rule, permission = template["Resources"]["WarmupRule"], template["Resources"]["WarmupPermission"]
    assert rule["Condition"] == permission["Condition"]
    if not _condition(template, rule["Condition"], parameters):
        assert expected is None
        return
    when, given, otherwise = rule["Properties"]["ScheduleExpression"]["Fn::If"]
    assert (parameters[given["Ref"]] if _condition(template, when, parameters) else otherwise) == expected
    assert "`rate(1 day)`" in DEPLOY and "14 days" in DEPLOY


def test_ask_deploy_finds_the_skill_package():
    resources = json.loads((ROOT / "ask-resources.json").read_text())
    assert resources["askcliResourcesVersion"] == "2020-03-31"
    source = resources["profiles"]["default"]["skillMetadata"]["src"]
    manifest = json.loads((ROOT / source / "skill.json").read_text())["manifest"]
    assert "custom" in manifest["apis"]
    assert (ROOT / source / "interactionModels" / "custom" / "en-US.json").exists()


def test_make_setup_and_the_manual_steps_name_the_same_client_ids_urls_and_names():
    """docs/deploy.md's manual fallback against what `make setup` sends (devtools.setup.plan)."""
    from devtools.setup import plan

    manual = DEPLOY[DEPLOY.index("## By hand"):]
    for environment, region, _locales, client_id in region_rows():
        assert (plan.REGIONS[environment].aws_region, plan.REGIONS[environment].client_id) == (region, client_id)
        assert f"`{plan.REGIONS[environment].client_id}`" in manual
    linking = plan.account_linking("https://ha.example.com", plan.REGIONS["us"], "x")["accountLinkingRequest"]
    assert f"Authorization URI: `{linking['authorizationUrl']}`" in manual
    assert f"Access Token URI: `{linking['accessTokenUrl']}`" in manual
    assert f"Scope `{linking['scopes'][0]}`" in manual and linking["scopes"] == ["smart_home"]
    assert linking["accessTokenScheme"] == "REQUEST_BODY_CREDENTIALS" and "*Credentials in request body*" in manual
    events = set(re.findall(r"https://api(?:\.[a-z]+)?\.amazonalexa\.com/v3/events", manual))
    assert events == {region.event_endpoint for region in plan.REGIONS.values()}
    # The stack parameters the setup passes are the ones the manual steps name, and the template declares.
    parameters = set(load_template()["Parameters"])
    for name in ("HomeAssistantUrl", "SmartHomeSkillId", "AssistSkillId", "HomeAssistantTokenParameter",
                 "AlarmEmail"):
        assert name in parameters and f"`{name}`" in manual and f"`{name}`" in DEPLOY[:DEPLOY.index("## By hand")]
    assert "make setup" in README and "docs/deploy.md" in README
