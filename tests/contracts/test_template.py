"""template.yaml: SAM's own linter passes, and the settings Alexa and Lambda depend on are what they must be."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from devtools import build_function
from devtools.sam import sam, sam_command, sam_env
from support import load_template

ROOT = Path(__file__).resolve().parents[2]
NOT_RUNTIME = {"devtools", "tests", "bench", "events"}
# What Alexa, the warm-up rule and the stack output point at: the alias `live` with SnapStart, else the function.
ALIAS_OR_FUNCTION = {
    "Fn::If": ["SnapStartEnabled", {"Ref": "BridgeFunction.Alias"}, {"Fn::GetAtt": "BridgeFunction.Arn"}]
}


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def function(template):
    return template["Resources"]["BridgeFunction"]["Properties"]


def _permissions(template, principal):
    return [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Permission" and resource["Properties"]["Principal"] == principal
    ]


def test_sam_validate_lint_is_clean():
    """cfn-lint as `sam validate --lint` runs it: errors and warnings both fail (first run installs the SAM CLI)."""
    result = sam("validate", "--lint", "--region", "us-east-1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_runs_the_shipped_handler_on_python313_arm64(function):
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "lambda_function.lambda_handler"
    assert "lambda_function.py" in build_function.RUNTIME_MODULES
    assert build_function.LAMBDA_PYTHON == (3, 13) and build_function.LAMBDA_PLATFORM.endswith("aarch64")


def test_the_url_parameter_says_https_is_expected(template):
    assert "HTTPS is expected" in template["Parameters"]["HomeAssistantUrl"]["Description"]


def test_timeout_outlasts_alexas_eight_seconds(function):
    assert 8 < function["Timeout"] <= 15


def test_only_the_smart_home_skill_may_invoke_through_the_smart_home_principal(template):
    (permission,) = _permissions(template, "alexa-connectedhome.amazon.com")
    assert "Condition" not in permission
    assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    assert permission["Properties"]["EventSourceToken"] == {"Ref": "SmartHomeSkillId"}
    assert permission["Properties"]["FunctionName"] == ALIAS_OR_FUNCTION


def test_assist_skill_permission_is_optional_and_bound_to_its_skill(template):
    (permission,) = _permissions(template, "alexa-appkit.amazon.com")
    assert permission["Condition"] == "HasAssistSkill"
    assert permission["Properties"]["EventSourceToken"] == {"Ref": "AssistSkillId"}
    assert permission["Properties"]["FunctionName"] == ALIAS_OR_FUNCTION
    assert template["Parameters"]["AssistSkillId"]["Default"] == ""


def test_an_unlinked_assist_user_acts_as_the_operator_only_when_chosen(template, function):
    parameter = template["Parameters"]["AssistAllowOperatorToken"]
    assert parameter["Default"] == "false" and sorted(parameter["AllowedValues"]) == ["false", "true"]
    variables = function["Environment"]["Variables"]
    assert variables["ASSIST_ALLOW_OPERATOR_TOKEN"] == {"Ref": "AssistAllowOperatorToken"}


def test_snapstart_is_an_option_that_is_off_by_default(template):
    parameter = template["Parameters"]["EnableSnapStart"]
    assert parameter["Default"] == "false" and sorted(parameter["AllowedValues"]) == ["false", "true"]
    assert template["Conditions"]["SnapStartEnabled"] == {"Fn::Equals": [{"Ref": "EnableSnapStart"}, "true"]}


def test_snapstart_applies_to_published_versions_only_when_enabled(function):
    assert function["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartEnabled", "PublishedVersions", "None"]}}
    assert function["AutoPublishAlias"] == "live"  # SnapStart restores published versions only
    assert function["AutoPublishAliasAllProperties"] is True
    assert function["VersionDeletionPolicy"] == "Delete"  # a Python snapshot is billed while its version exists


def test_warmup_and_the_stack_output_follow_what_alexa_invokes(template):
    (target,) = template["Resources"]["WarmupRule"]["Properties"]["Targets"]
    assert target["Arn"] == ALIAS_OR_FUNCTION
    assert template["Resources"]["WarmupPermission"]["Properties"]["FunctionName"] == ALIAS_OR_FUNCTION
    assert template["Outputs"]["BridgeFunctionArn"]["Value"] == ALIAS_OR_FUNCTION


def test_environment_names_follow_the_design(function):
    assert set(function["Environment"]["Variables"]) == {
        "HA_URL", "HA_VERIFY_TLS", "HA_TOKEN", "HA_TOKEN_PARAMETER", "HA_HEADERS_PARAMETER", "BRIDGE_PRELOAD",
        "ASSIST_AGENT_ID", "ASSIST_LANGUAGE",
        "ASSIST_ALLOW_OPERATOR_TOKEN", "ASSIST_ROOMS", "ALEXA_EXPOSE",
        "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
    }  # fmt: skip
    # A secret never sits in the configuration: HA_TOKEN is declared empty, for `sam local invoke --env-vars`.
    assert function["Environment"]["Variables"]["HA_TOKEN"] == ""


@pytest.fixture(scope="module")
def role(template):
    return template["Resources"]["BridgeFunctionRole"]["Properties"]


def test_the_only_unnamed_resource_is_the_read_of_metrics(role):
    """The doctor's metrics check: CloudWatch's reads have no resource-level permissions, so only reads on "*"."""
    assert role["Policies"][1]["PolicyName"] == "read-own-metrics"
    (statement,) = role["Policies"][1]["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
                         "Resource": "*"}


def test_each_grant_is_conditional_and_covers_one_named_resource(role):
    grants = {}
    for policy in role["Policies"][2:]:
        condition, named, otherwise = policy["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}
        (statement,) = named["PolicyDocument"]["Statement"]
        grants[condition] = statement
    assert set(grants) == {"HasTokenParameter", "HasHeadersParameter", "HasRoomsParameter", "HasParameterKmsKey"}
    for condition, parameter in (("HasTokenParameter", "${HomeAssistantTokenParameter}"),
                                 ("HasHeadersParameter", "${HomeAssistantHeadersParameter}"),
                                 ("HasRoomsParameter", "/${AWS::StackName}/assist-rooms")):
        assert grants[condition]["Action"] == "ssm:GetParameter"
        assert grants[condition]["Resource"]["Fn::Sub"].endswith(f":parameter{parameter}")
    kms = grants["HasParameterKmsKey"]
    assert (kms["Action"], kms["Resource"]) == ("kms:Decrypt", {"Ref": "ParameterKmsKeyArn"})
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}


def test_the_log_group_the_function_and_its_role_agree_on_a_name_from_the_stack(template, function, role):
    """Named from the stack, not from the function: the role can name the group without depending on both."""
    assert function["FunctionName"] == {"Ref": "AWS::StackName"}
    assert function["Role"] == {"Fn::GetAtt": "BridgeFunctionRole.Arn"}
    log_group = template["Resources"]["BridgeLogGroup"]["Properties"]
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}"}
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                                                ":log-group:/aws/lambda/${AWS::StackName}:*"}


def test_build_ships_every_runtime_package():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - NOT_RUNTIME
    assert packages <= set(build_function.RUNTIME_PACKAGES)


# --- SnapStart and the alias, as SAM's own translator expands them -------------------------------------------------

REQUIRED = {"HomeAssistantUrl": "https://ha.example.com", "SmartHomeSkillId": "amzn1.ask.skill.test"}
PACKAGED_CODE = "s3://deploy-bucket/0123456789abcdef"  # what `sam package` puts in CodeUri
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# A redeploy that changes one parameter only, for each parameter that reaches the function's configuration.
PARAMETER_ONLY_CHANGES = {
    "HomeAssistantUrl": "https://ha2.example.com",
    "HomeAssistantVerifyTls": "false",
    "HomeAssistantTokenParameter": "/ha-alexa-bridge/token",
    "HomeAssistantHeadersParameter": "/ha-alexa-bridge/headers",
    "PreloadFeatures": "ha_alexa,ha_assist",
    "AssistAgentId": "conversation.openai",
    "AssistLanguage": "de",
    "AssistAllowOperatorToken": "true",
    "AssistRooms": "true",
    "LogLevel": "DEBUG",
    "MemorySize": "512",
    "EnableSnapStart": "true",
    "AlexaExpose": "label",
}
# Runs in the SAM CLI's venv, which has samtranslator (the transform CloudFormation runs, in the version
# `sam validate` uses): stdin {"template", "cases": [{"parameters", "code_uri", "properties"}]} -> translations.
_TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

request = json.load(sys.stdin)
results = []
for case in request["cases"]:
    template = yaml_parse(request["template"])
    properties = template["Resources"]["BridgeFunction"]["Properties"]
    properties.update(case["properties"], CodeUri=case["code_uri"])
    results.append(transform(template, case["parameters"], NoManagedPolicies()))
json.dump(results, sys.stdout)
"""


def _translate(cases: dict[str, dict]) -> dict[str, dict]:
    """Each case's CloudFormation template, as the AWS::Serverless transform makes it."""
    request = {
        "template": (ROOT / "template.yaml").read_text(),
        "cases": [
            {"parameters": {**REQUIRED, **case.get("parameters", {})}, "code_uri": case.get("code_uri", PACKAGED_CODE),
             "properties": case.get("properties", {})}
            for case in cases.values()
        ],
    }  # fmt: skip
    python = sam_command()[0]  # the SAM CLI venv's interpreter (installed on first use, as for the lint test)
    result = subprocess.run(
        [python, "-c", _TRANSLATE], input=json.dumps(request), capture_output=True, text=True, check=False,
        env={**sam_env(), "AWS_DEFAULT_REGION": "us-east-1"},  # the pseudo parameters need a region, nothing else
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(zip(cases, json.loads(result.stdout), strict=True))


@pytest.fixture(scope="module")
def translated():
    cases = {
        "base": {},
        "code": {"code_uri": "s3://deploy-bucket/fedcba9876543210"},  # a code-only change
        "timeout": {"properties": {"Timeout": 12}},  # a template-only change
    }
    cases |= {name: {"parameters": {name: value}} for name, value in PARAMETER_ONLY_CHANGES.items()}
    cases["everything"] = {"parameters": {**PARAMETER_ONLY_CHANGES, "ParameterKmsKeyArn": KMS_KEY,
                                          "AssistSkillId": "amzn1.ask.skill.assist",
                                          "WarmupSchedule": "rate(5 minutes)"}}
    return _translate(cases)


def _version(cfn):
    (logical_id,) = [key for key, resource in cfn["Resources"].items() if resource["Type"] == "AWS::Lambda::Version"]
    return logical_id, cfn["Resources"][logical_id]


def _parameter_values(template, overrides):
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    return values | REQUIRED | overrides


def _resolve(value, parameters, conditions=None):
    """What CloudFormation makes of the version description: Fn::Select, Fn::Sub, Fn::If and Ref of parameters.

    `conditions`: the template's, to evaluate an Fn::If; without them it is its longer branch (the worst case).
    """
    if isinstance(value, dict) and "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return _resolve(items[int(index)], parameters, conditions)
    if isinstance(value, dict) and "Fn::Sub" in value:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        values = {**parameters, **{name: _resolve(item, parameters, conditions) for name, item in variables.items()}}
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda match: values[match.group(1)], text)
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        if conditions is None:
            return max((_resolve(branch, parameters) for branch in (when_true, when_false)), key=len)
        chosen = when_true if _holds(conditions[condition], parameters) else when_false
        return _resolve(chosen, parameters, conditions)
    if isinstance(value, dict) and "Ref" in value:
        return parameters[value["Ref"]]
    return value


def _holds(condition, parameters) -> bool:
    """A template condition of Fn::Equals and Fn::Not over parameters."""
    if "Fn::Not" in condition:
        return not _holds(condition["Fn::Not"][0], parameters)
    left, right = (_resolve(side, parameters) for side in condition["Fn::Equals"])
    return left == right


def _parameters_used(value, template) -> set[str]:
    """The template parameters a value depends on, through Ref, Fn::Sub and the conditions of Fn::If."""
    if isinstance(value, list):
        return set().union(*(_parameters_used(item, template) for item in value))
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, item in value.items():
        if key == "Ref" and item in template["Parameters"]:
            found.add(item)
        elif key == "Fn::Sub":
            text = item if isinstance(item, str) else item[0]
            found |= set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text)) & set(template["Parameters"])
        elif key == "Fn::If":
            found |= _parameters_used(template["Conditions"][item[0]], template)
        found |= _parameters_used(item, template)
    return found


def test_the_alias_points_at_the_published_version_and_permissions_at_the_alias(translated):
    cfn = translated["base"]
    version_id, version = _version(cfn)
    assert version["DeletionPolicy"] == "Delete"
    alias = cfn["Resources"]["BridgeFunctionAliaslive"]
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert cfn["Resources"]["BridgeFunction"]["Properties"]["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["SnapStartEnabled", "PublishedVersions", "None"]}
    }
    alias_or_function = {"Fn::If": ["SnapStartEnabled", {"Ref": "BridgeFunctionAliaslive"},
                                    {"Fn::GetAtt": ["BridgeFunction", "Arn"]}]}  # fmt: skip
    permissions = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    assert {p["Properties"]["Principal"] for p in permissions} == {
        "alexa-connectedhome.amazon.com", "alexa-appkit.amazon.com", "events.amazonaws.com"
    }  # fmt: skip
    assert all(p["Properties"]["FunctionName"] == alias_or_function for p in permissions)
    assert cfn["Resources"]["WarmupRule"]["Properties"]["Targets"][0]["Arn"] == alias_or_function
    assert cfn["Outputs"]["BridgeFunctionArn"]["Value"] == alias_or_function


def test_code_and_template_changes_publish_a_new_version(translated):
    """SAM renames the Version when the packaged code or any function property changes: a new version."""
    base_id, _ = _version(translated["base"])
    assert _version(translated["code"])[0] != base_id
    assert _version(translated["timeout"])[0] != base_id


@pytest.mark.parametrize("name", sorted(PARAMETER_ONLY_CHANGES))
def test_a_parameter_only_redeploy_publishes_a_new_version(translated, template, name):
    """SAM keeps the Version's name (its hash is of the unresolved properties), so its Description must change:
    CloudFormation replaces an AWS::Lambda::Version whose Description changes, which publishes a new version."""
    base_id, base = _version(translated["base"])
    changed_id, changed = _version(translated[name])
    assert changed_id == base_id  # why the description is needed at all
    conditions = template["Conditions"]
    before = _resolve(base["Properties"]["Description"], _parameter_values(template, {}), conditions)
    changed_values = _parameter_values(template, {name: PARAMETER_ONLY_CHANGES[name]})
    after = _resolve(changed["Properties"]["Description"], changed_values, conditions)
    assert before != after


def test_the_version_description_names_exactly_the_parameters_of_the_functions_configuration(translated, template):
    """Every parameter that reaches the function must republish it; any other would make CloudFormation replace
    the Version while Lambda, seeing no change, hands back the version already published."""
    cfn = translated["base"]
    _, version = _version(cfn)
    in_description = _parameters_used(version["Properties"]["Description"], template)
    in_function = _parameters_used(cfn["Resources"]["BridgeFunction"]["Properties"], template)
    assert in_description == in_function == set(PARAMETER_ONLY_CHANGES)


def test_the_version_is_published_after_the_log_group_exists(translated):
    """With SnapStart, publishing runs INIT, whose logs would otherwise create the group without its retention."""
    _, version = _version(translated["base"])
    assert {"Ref": "BridgeLogGroup"} in version["Properties"]["Description"]["Fn::Select"][1]


def test_the_version_description_fits_lambdas_256_characters(template, function):
    """The longest values the parameters allow still fit, so a deploy cannot fail on the description."""

    def longest(spec):
        if "AllowedValues" in spec:
            return max(map(str, spec["AllowedValues"]), key=len)
        if "MaxValue" in spec:
            return str(spec["MaxValue"])
        return "x" * spec["MaxLength"]

    parameters = {name: longest(template["Parameters"][name]) for name in PARAMETER_ONLY_CHANGES}
    assert len(_resolve(function["VersionDescription"], parameters)) <= 256

def _branches(value):
    """Both branches of an Fn::If (whichever the conditions pick), without AWS::NoValue."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [item for branch in value["Fn::If"][1:] for item in _branches(branch)]
    return [] if value == {"Ref": "AWS::NoValue"} else [value]


@pytest.mark.parametrize("case", ["base", "everything"])
def test_the_function_may_write_only_to_its_own_log_group(translated, case):
    """As CloudFormation gets it from SAM's transform: one role, no managed policy (AWSLambdaBasicExecutionRole
    allows logs:CreateLogGroup/CreateLogStream/PutLogEvents on *), every logs action on the stack's group only."""
    cfn = translated[case]
    resources = cfn["Resources"]
    roles = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert list(roles) == ["BridgeFunctionRole"]
    assert resources["BridgeFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["BridgeFunctionRole", "Arn"]}
    assert not [r for r in resources.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    (role,) = roles.values()
    assert "ManagedPolicyArns" not in role
    statements = [statement for policy in role["Policies"] for named in _branches(policy)
                  for statement in named["PolicyDocument"]["Statement"]]
    assert len(statements) == 6  # logs, metrics (read), three SSM parameters, the KMS key
    own_group = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                            ":log-group:/aws/lambda/${AWS::StackName}:*"}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions
        if statement["Resource"] == "*":
            assert actions == ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
        if any(action.startswith("logs:") for action in actions):
            assert statement["Resource"] == own_group
            assert set(actions) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert resources["BridgeFunction"]["Properties"]["FunctionName"] == {"Ref": "AWS::StackName"}
    log_group = resources["BridgeLogGroup"]["Properties"]["LogGroupName"]
    assert log_group == {"Fn::Sub": "/aws/lambda/${AWS::StackName}"}

