"""template.yaml: SAM's own linter passes, and the settings Alexa and Lambda depend on are what they must be."""

from pathlib import Path

import pytest
import yaml

from devtools import build_function
from devtools.sam import sam

ROOT = Path(__file__).resolve().parents[2]
NOT_RUNTIME = {"devtools", "tests", "bench", "events"}


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation short forms (!Ref X, !GetAtt A.B, !If [...]) as their long forms."""


def _short_form(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _short_form)


@pytest.fixture(scope="module")
def template():
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormationLoader)


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


def test_timeout_outlasts_alexas_eight_seconds(function):
    assert 8 < function["Timeout"] <= 15


def test_only_the_smart_home_skill_may_invoke_through_the_smart_home_principal(template):
    (permission,) = _permissions(template, "alexa-connectedhome.amazon.com")
    assert "Condition" not in permission
    assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    assert permission["Properties"]["EventSourceToken"] == {"Ref": "SmartHomeSkillId"}
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": "BridgeFunction.Arn"}


def test_assist_skill_permission_is_optional_and_bound_to_its_skill(template):
    (permission,) = _permissions(template, "alexa-appkit.amazon.com")
    assert permission["Condition"] == "HasAssistSkill"
    assert permission["Properties"]["EventSourceToken"] == {"Ref": "AssistSkillId"}
    assert template["Parameters"]["AssistSkillId"]["Default"] == ""


def test_environment_names_follow_the_design(function):
    assert set(function["Environment"]["Variables"]) == {
        "HA_URL", "HA_VERIFY_TLS", "HA_TOKEN_PARAMETER", "BRIDGE_PRELOAD",
        "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
    }  # fmt: skip
    assert "HA_TOKEN" not in function["Environment"]["Variables"]  # a secret never sits in the configuration


def test_token_parameter_grant_is_conditional_and_covers_one_parameter(function):
    (policy,) = function["Policies"]
    condition, document, otherwise = policy["Fn::If"]
    assert condition == "HasTokenParameter" and otherwise == {"Ref": "AWS::NoValue"}
    (statement,) = document["Statement"]
    assert statement["Action"] == "ssm:GetParameter"
    assert statement["Resource"]["Fn::Sub"].endswith(":parameter${HomeAssistantTokenParameter}")


def test_log_group_is_the_functions_and_has_a_retention(template):
    log_group = template["Resources"]["BridgeLogGroup"]["Properties"]
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${BridgeFunction}"}
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


def test_build_ships_every_runtime_package():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - NOT_RUNTIME
    assert packages <= set(build_function.RUNTIME_PACKAGES)
