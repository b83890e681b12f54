"""`make setup`'s parts without the ASK CLI: the plan (manifests, account linking, `sam deploy`), the checks, --verify.

The manifests and account-linking bodies are checked against Amazon's SMAPI definition (spec.json of ask-smapi-model,
in the ASK CLI's cache directory) by the same strict validation the stand-in applies.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devtools import ask
from devtools.setup import checks, cli, plan, verify
from ha_devices import doctor
from ha_devices.doctor import metrics
from tests.smapi_standin import SmapiSpec

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def spec():
    return SmapiSpec(ask.smapi_spec())


def _check(spec, method, path, body):
    _template, operation, params = spec.match(method, path)
    return spec.check_request(operation, params, {}, body)


def test_the_setup_uses_the_doctors_client_ids_one_per_region():
    assert {region.client_id for region in plan.REGIONS.values()} == set(doctor.ALEXA_CLIENT_IDS)
    assert plan.REGIONS["us"].client_id == "https://pitangui.amazon.com/"
    assert plan.REGIONS["eu"].client_id == "https://layla.amazon.com/"
    assert plan.REGIONS["fe"].client_id == "https://alexa.amazon.co.jp/"


@pytest.mark.parametrize("name", sorted(plan.REGIONS))
def test_manifests_and_account_linking_are_valid_smapi_requests(spec, name):
    region = plan.REGIONS[name]
    arn = plan.function_arn_guess(region, "123456789012", "ha-alexa-bridge")
    update, link = "/v1/skills/x/stages/development/manifest", "/v1/skills/x/stages/development/accountLinkingClient"
    new = plan.without_endpoint(plan.smart_home_manifest(region, None))
    assert _check(spec, "POST", "/v1/skills", {"vendorId": "M1", **new}) == []
    manifest = plan.smart_home_manifest(region, arn)
    assert _check(spec, "PUT", update, manifest) == []
    assert manifest["manifest"]["apis"]["smartHome"]["regions"] == {region.smapi_region: {"endpoint": {"uri": arn}}}
    assert set(manifest["manifest"]["publishingInformation"]["locales"]) == set(region.locales)
    assert _check(spec, "PUT", update, plan.assist_manifest(arn)) == []
    body = plan.account_linking("https://ha.example.com", region, "s3cr3t-not-checked")
    assert _check(spec, "PUT", link, body) == []
    assert body["accountLinkingRequest"]["clientId"] == region.client_id


def test_the_stand_in_refuses_what_the_definition_does_not_declare(spec):
    body = plan.account_linking("https://ha.example.com", plan.REGIONS["us"], "secret")
    body["accountLinkingRequest"]["scope"] = ["smart_home"]  # a typo SMAPI would ignore silently
    body["accountLinkingRequest"]["accessTokenScheme"] = "BODY"
    problems = _check(spec, "PUT", "/v1/skills/x/stages/development/accountLinkingClient", body)
    assert any("scope" in p for p in problems) and any("BODY" in p for p in problems)


def test_assist_models_are_every_locale_of_skill_package():
    shipped = sorted(p.stem for p in (ROOT / "skill-package/interactionModels/custom").glob("*.json"))
    assert plan.assist_locales() == shipped and "en-US" in shipped
    assert plan.assist_model("en-US")["interactionModel"]["languageModel"]["invocationName"]


def test_sam_deploy_keeps_the_owners_saved_overrides_and_adds_the_setups(tmp_path):
    samconfig = tmp_path / "samconfig.toml"
    saved = 'parameter_overrides = "MemorySize=\\"512\\" SmartHomeSkillId=\\"amzn1.ask.skill.old\\""\n'
    samconfig.write_text((ROOT / "samconfig.toml").read_text().replace(
        "[eu.deploy.parameters]\n", "[eu.deploy.parameters]\n" + saved))
    region = plan.REGIONS["eu"]
    overrides = plan.saved_overrides(region, samconfig)
    assert overrides == {"MemorySize": "512", "SmartHomeSkillId": "amzn1.ask.skill.old"}
    overrides.update(HomeAssistantUrl="https://ha.example.com", SmartHomeSkillId="amzn1.ask.skill.new")
    assert plan.deploy_arguments(region, overrides) == [
        "deploy", "--config-env", "eu", "--no-confirm-changeset", "--no-fail-on-empty-changeset",
        "--parameter-overrides", "MemorySize=512", "SmartHomeSkillId=amzn1.ask.skill.new",
        "HomeAssistantUrl=https://ha.example.com"]
    assert plan.stack_name(region, samconfig) == "ha-alexa-bridge"


def test_the_deploy_passes_the_token_parameter_and_alarm_email():
    class Recorder:
        secrets, dry_run = [], False

        def __init__(self):
            self.calls = []

        def sam(self, *args):
            self.calls.append(list(args))
            return "No changes to deploy"

        def stack_outputs(self, session, region_name, stack):
            return {"BridgeFunctionArn": f"arn:aws:lambda:{region_name}:1:function:{stack}"}

    settings = plan.Settings("https://ha.example.com", "", "/ha-alexa-bridge/token", {})
    tools, lines = Recorder(), []
    args = cli.parse_args(["--region", "fe", "--alarm-email", "me@example.com"])
    setup = cli.Setup(args, settings, tools, None, _State(), lines.append)
    arn = setup.deploy("amzn1.ask.skill.1", None)
    assert arn == "arn:aws:lambda:us-west-2:1:function:ha-alexa-bridge"
    assert tools.calls[1][-4:] == ["HomeAssistantUrl=https://ha.example.com", "SmartHomeSkillId=amzn1.ask.skill.1",
                                   "HomeAssistantTokenParameter=/ha-alexa-bridge/token", "AlarmEmail=me@example.com"]
    assert any("unchanged" in line for line in lines) and setup.changes == []


class _State:
    def __init__(self):
        self.data = {}

    def get(self, region, key, default=None):
        return self.data.get((region.name, key), default)

    def set(self, region, key, value):
        self.data[(region.name, key)] = value


def test_home_assistant_checks_fail_before_anything_and_accept_unreachable_turns_them_into_warnings():
    settings = plan.Settings("http://127.0.0.1:9", "a-token-that-is-long-enough",
                             values={"HA_URL": "http://127.0.0.1:9", "HA_TOKEN": "a-token-that-is-long-enough"})
    findings = checks.home_assistant(settings, accept_unreachable=False)
    failed = [f for f in findings if not f.ok]
    assert failed[0].what == "Home Assistant URL" and "not https://" in failed[0].detail
    assert "443" in failed[0].fix and "--accept-unreachable-ha" in failed[0].fix
    assert any(f.what == "Home Assistant tcp" for f in failed)  # the doctor's own check, run from here
    accepted = checks.home_assistant(settings, accept_unreachable=True)
    assert all(f.ok for f in accepted) and any(f.warning for f in accepted)


def test_an_amazon_login_from_the_environment_or_a_profile_or_a_fix(tmp_path):
    assert checks.ask_profile({"ASK_REFRESH_TOKEN": "r", "ASK_VENDOR_ID": "v"}, None, tmp_path).ok
    missing = checks.ask_profile({}, None, tmp_path)
    assert not missing.ok and "ask configure" in missing.fix and "ASK_REFRESH_TOKEN" in missing.fix
    config = ask.ensure_cli_config(tmp_path)
    assert json.loads(config.read_text()) == {"profiles": {}}
    config.write_text(json.dumps({"profiles": {"work": {"vendor_id": "v", "token": {"refresh_token": "r"}}}}))
    assert checks.ask_profile({}, "work", tmp_path).ok
    ask.ensure_cli_config(tmp_path)  # an owner's file is never overwritten
    assert "work" in json.loads(config.read_text())["profiles"]


@mock_aws
def test_aws_credentials_name_the_account():
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    finding, account = checks.aws(session, plan.REGIONS["eu"])
    assert finding.ok and re.fullmatch(r"\d{12}", account) and "eu-west-1" in finding.detail


def test_secrets_are_masked():
    assert plan.masked("token abcdefgh12345 and short", ["abcdefgh12345", "short"]) == "token **** and short"


@mock_aws
def test_verify_counts_requests_and_errors_and_names_the_causes_when_none_arrived(monkeypatch, capsys):
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1")
    args = cli.parse_args(["--verify", "--region", "eu"])
    assert verify.main(args, None, session) == 1
    out = capsys.readouterr().out
    assert out.startswith("eu-west-1: no request reached the function in the last 3 days")
    assert "(1) the skill's region and the function's differ" in out and "(3)" in out
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    service = [{"Name": "service", "Value": "ha-alexa-bridge"}]
    session.client("cloudwatch").put_metric_data(Namespace="HomeAssistantBridge", MetricData=[
        {"MetricName": "RequestLatency", "Dimensions": service, "Value": v, "Unit": "Milliseconds", "Timestamp": now}
        for v in (120.0, 80.0)] + [{"MetricName": "Errors", "Dimensions": [*service, {
            "Name": "ErrorType", "Value": "BRIDGE_UNREACHABLE"}], "Value": 1, "Unit": "Count", "Timestamp": now}])
    assert metrics.activity(session.client("cloudwatch"), 3) == {"requests": 2, "errors": {"BRIDGE_UNREACHABLE": 1}}
    assert verify.main(args, None, session) == 0
    assert "2 request(s) reached the function in the last 3 days" in capsys.readouterr().out


def test_make_setup_is_a_thin_target_over_the_module():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^setup: venv\n\t\$\(PY\) -m devtools\.setup \$\(ARGS\)$", makefile, re.M)
    assert "setup-state.json" in (ROOT / ".gitignore").read_text()


@mock_aws
def test_a_function_deployed_another_way_gets_the_skills_permission_once():
    import io
    import zipfile

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1")
    role = session.client("iam").create_role(RoleName="bridge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    arn = session.client("lambda").create_function(
        FunctionName="bridge", Runtime="python3.13", Role=role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": code.getvalue()})["FunctionArn"]
    skill_id = "amzn1.ask.skill.0a1b2c3d-0000-4000-8000-000000000001"
    lines = []
    setup = cli.Setup(cli.parse_args(["--region", "eu", "--function-arn", arn]), plan.Settings("https://h.example"),
                      type("T", (), {"secrets": [], "show": lambda self, tool, args: lines.append(" ".join(args))})(),
                      session, _State(), lines.append)
    assert setup.deploy(skill_id, None) == arn
    policy = json.loads(session.client("lambda").get_policy(FunctionName=arn)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] in ("alexa-connectedhome.amazon.com", {"Service": "alexa-connectedhome.amazon.com"})
    assert setup.changes == [f"let the skill {skill_id} invoke the function"]
    again = cli.Setup(cli.parse_args(["--region", "eu", "--function-arn", arn]), plan.Settings("https://h.example"),
                      setup.tools, session, _State(), lines.append)
    again.deploy(skill_id, None)
    assert again.changes == [] and any("unchanged" in line for line in lines)
    assert len(json.loads(session.client("lambda").get_policy(FunctionName=arn)["Policy"])["Statement"]) == 1


def test_a_build_an_earlier_run_did_not_see_succeed_is_sent_again_and_waited_for():
    """SMAPI keeps a failed build failed: a manifest already in place is sent again when its build is pending."""
    region = plan.REGIONS["us"]
    manifest = plan.smart_home_manifest(region, "arn:aws:lambda:us-east-1:1:function:ha-alexa-bridge")

    class Recorder:
        secrets, dry_run = [], False

        def __init__(self):
            self.calls = []

        def ask(self, *args, change=False):
            self.calls.append(args[1])
            return manifest if args[1] == "get-skill-manifest" else {}

        def file(self, name, body, secret=False):
            return "file:" + name

        def wait_for_builds(self, skill_id):
            self.calls.append("wait")

    state, tools = _State(), Recorder()
    state.set(region, "builds_pending", ["amzn1.ask.skill.1"])
    setup = cli.Setup(cli.parse_args([]), plan.Settings("https://h.example"), tools, None, state, print)
    setup.function_arn = "arn:aws:lambda:us-east-1:1:function:ha-alexa-bridge"
    setup.ensure_manifest("amzn1.ask.skill.1", "Smart Home skill", manifest)
    setup.built("amzn1.ask.skill.1", bool(setup.changes))
    assert tools.calls == ["get-skill-manifest", "update-skill-manifest", "wait"]
    assert state.get(region, "builds_pending") == []
    tools.calls.clear()
    setup.changes.clear()
    setup.ensure_manifest("amzn1.ask.skill.1", "Smart Home skill", manifest)  # built now: nothing to send
    setup.built("amzn1.ask.skill.1", bool(setup.changes))
    assert tools.calls == ["get-skill-manifest"]
