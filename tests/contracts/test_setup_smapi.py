"""`make setup` end to end with the real ASK CLI against a local SMAPI stand-in that checks Amazon's definition.

The SAM side is recorded, not run: moto's CloudFormation cannot run SAM's transform (test_setup.py checks the exact
`sam deploy` arguments; test_template.py runs `sam validate --lint` and `sam build`); moto answers STS and the
stack's outputs. Node and npm are needed; the ASK CLI and ask-smapi-model are installed into the cache once.
"""

from __future__ import annotations

import argparse

import boto3
import pytest
from moto import mock_aws

from devtools import ask
from devtools.setup import checks, cli, plan
from devtools.setup.tools import Tools
from tests.smapi_standin import SmapiStandIn

REFRESH = "Atzr|IwEBIstandin-refresh-token-0123456789"
VENDOR = "M2STANDINVENDOR"
HA_URL = "https://ha.example.com"
HA_TOKEN = "eyJhbGciOiJIUzI1NiJ9.standin-long-lived-token.0123456789"
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def standin():
    with SmapiStandIn(ask.smapi_spec(), REFRESH, VENDOR) as server:
        yield server


class RecordedSam(Tools):
    """The real ASK CLI; `sam` recorded, and the stack output its deploy would leave."""

    def run_sam(self, args):
        self.sam_calls.append(args)
        if args[0] != "deploy":
            return 0, "Build Succeeded"
        region = args[args.index("--config-env") + 1]
        overrides = args[args.index("--parameter-overrides") + 1:]
        if overrides == self.last_overrides.get(region):
            return 0, "No changes to deploy. Stack ha-alexa-bridge is up to date"
        self.last_overrides[region] = overrides
        return 0, "Successfully created/updated stack - ha-alexa-bridge in " + plan.REGIONS[region].aws_region

    def stack_outputs(self, session, region_name, stack):
        return {"BridgeFunctionArn": f"arn:aws:lambda:{region_name}:{ACCOUNT}:function:{stack}"}


@pytest.fixture
def run(standin, tmp_path, monkeypatch):
    """Run the setup as `make setup ARGS` would; returns (exit code, output, sam calls, stand-in calls)."""
    # Each interaction model is one ASK CLI run (seconds each): two of skill-package's stand for all of them here;
    # tests/tooling/devtools/test_setup.py checks that the setup takes every locale the package ships.
    monkeypatch.setattr(plan, "assist_locales", lambda: ["de-DE", "en-US"])
    monkeypatch.setattr(checks, "home_assistant", lambda settings, accept: [
        checks.Finding("Home Assistant", True, "checked by test_setup.py and the integration suite")])
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": __import__("os").environ["PATH"], "HOME": str(home), "ASK_REFRESH_TOKEN": REFRESH,
           "ASK_VENDOR_ID": VENDOR, "ASK_SMAPI_SERVER_BASE_URL": standin.url, "ASK_LWA_TOKEN_HOST": standin.url,
           # The CLI's telemetry (always on for its environment profile) goes to the stand-in, which refuses it.
           "HTTPS_PROXY": standin.url, "NO_PROXY": "127.0.0.1"}
    ask.ensure_cli_config(home)
    state_path = tmp_path / "setup-state.json"
    settings = plan.Settings(HA_URL, HA_TOKEN, values={"HA_URL": HA_URL, "HA_TOKEN": HA_TOKEN, **env})
    sam_calls, last_overrides = [], {}

    def setup(*argv):
        args = cli.parse_args(list(argv))
        lines = []
        tools = RecordedSam(env, settings.secrets(), args.dry_run, lines.append, poll_s=0.05)
        tools.sam_calls, tools.last_overrides = sam_calls, last_overrides
        first = len(standin.calls)
        with mock_aws():
            session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing-secret-key-0123",
                                    region_name="us-east-1")
            try:
                code = cli.Setup(args, settings, tools, session, plan.State(state_path), lines.append).run()
            finally:
                tools.close()
        return argparse.Namespace(code=code, out="\n".join(lines), sam=list(sam_calls),
                                  calls=standin.calls[first:], state=plan.State(state_path))

    return setup


def writes(calls):
    return [(c["method"], c["template"]) for c in calls if c["method"] in ("POST", "PUT") and c.get("template")
            not in (None, "lwa")]


def test_first_run_creates_deploys_links_and_prints_the_state_report_lines_once(run, standin):
    result = run("--state-reports", "--assist")
    assert result.code == 0, result.out
    creates = [c for c in result.calls if c["method"] == "POST" and c.get("template") == "/v1/skills"]
    assert len(creates) == 2  # the Smart Home skill and the Assist skill, each once
    smart_home = creates[0]["body"]
    assert smart_home["vendorId"] == VENDOR
    assert "endpoint" not in smart_home["manifest"]["apis"]["smartHome"]  # the function does not exist yet
    assert smart_home["manifest"]["apis"]["smartHome"]["protocolVersion"] == "3"
    assert {"name": "alexa::async_event:write"} in smart_home["manifest"]["permissions"]
    assert set(smart_home["manifest"]["publishingInformation"]["locales"]) == set(plan.REGIONS["us"].locales)
    smart_home_id = result.state.get(plan.REGIONS["us"], "smart_home_skill_id")
    assist_id = result.state.get(plan.REGIONS["us"], "assist_skill_id")
    # The stack after the skills (its permission names their IDs), then the skills' endpoints.
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ha-alexa-bridge"
    assert result.sam == [["build"], ["deploy", "--config-env", "us", "--no-confirm-changeset",
                                      "--no-fail-on-empty-changeset", "--parameter-overrides",
                                      f"HomeAssistantUrl={HA_URL}", f"SmartHomeSkillId={smart_home_id}",
                                      f"AssistSkillId={assist_id}"]]
    manifests = {c["path"].split("/")[3]: c["body"]["manifest"] for c in result.calls
                 if c["method"] == "PUT" and c.get("template", "").endswith("/manifest")}
    assert manifests[smart_home_id]["apis"]["smartHome"]["endpoint"] == {"uri": arn}
    assert manifests[smart_home_id]["apis"]["smartHome"]["regions"] == {"NA": {"endpoint": {"uri": arn}}}
    assert manifests[assist_id]["apis"]["custom"]["endpoint"] == {"uri": arn}
    models = [c["path"].rsplit("/", 1)[1] for c in result.calls if c.get("template", "").endswith("{locale}")]
    assert sorted(models) == plan.assist_locales()
    linking = {c["path"].split("/")[3]: c["body"]["accountLinkingRequest"] for c in result.calls
               if c["method"] == "PUT" and c.get("template", "").endswith("accountLinkingClient")}
    for skill_id in (smart_home_id, assist_id):
        assert {k: v for k, v in linking[skill_id].items() if k != "clientSecret"} == {
            "type": "AUTH_CODE", "authorizationUrl": f"{HA_URL}/auth/authorize",
            "accessTokenUrl": f"{HA_URL}/auth/token", "clientId": "https://pitangui.amazon.com/",
            "accessTokenScheme": "REQUEST_BODY_CREDENTIALS", "scopes": ["smart_home"], "domains": []}
    # SMAPI's builds were polled until they succeeded.
    statuses = [c for c in result.calls if c.get("template") == "/v1/skills/{skillId}/status"]
    assert len(statuses) >= 2 * 2
    # The state report lines, the secret among them once; no other secret anywhere.
    assert result.out.count(standin.messaging_secret) == 1
    assert "endpoint: https://api.amazonalexa.com/v3/events" in result.out
    for secret in (REFRESH, HA_TOKEN, standin.access_token, "testing-secret-key-0123",
                   *[body["clientSecret"] for body in linking.values()]):
        assert secret not in result.out and secret not in result.state.path.read_text()
    assert standin.messaging_secret not in result.state.path.read_text()
    assert "discover devices" in result.out and "Enable to use" in result.out
    assert all(entry.startswith("CONNECT client-telemetry.amazonalexa.com") for entry in standin.outside)
    assert all(c.get("status", 200) < 400 or c["template"].endswith("accountLinkingClient") for c in result.calls)

    again = run("--assist")
    assert again.code == 0, again.out
    assert writes(again.calls) == []
    assert "Nothing to change" in again.out
    assert again.sam[-1][:3] == ["deploy", "--config-env", "us"]


def test_a_run_that_failed_half_way_continues_where_it_stopped(run, standin):
    standin.fail_next[("PUT", "/v1/skills/{skillId}/stages/{stageV2}/accountLinkingClient")] = 500
    first = run("--region", "eu")
    assert first.code == 1
    assert "Stopped" in first.out and "run the same command again" in first.out
    skill_id = first.state.get(plan.REGIONS["eu"], "smart_home_skill_id")
    assert skill_id
    second = run("--region", "eu")
    assert second.code == 0, second.out
    assert ("POST", "/v1/skills") not in writes(second.calls)  # the skill is not created twice
    assert writes(second.calls) == [("PUT", "/v1/skills/{skillId}/stages/{stageV2}/accountLinkingClient")]
    linked = standin.skills[skill_id]["linking"]
    assert linked["clientId"] == "https://layla.amazon.com/"
    assert standin.skills[skill_id]["manifest"]["apis"]["smartHome"]["regions"] == {
        "EU": {"endpoint": {"uri": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:ha-alexa-bridge"}}}
    assert REFRESH not in first.out + second.out and HA_TOKEN not in first.out + second.out


def test_dry_run_prints_every_command_and_changes_nothing(run, standin):
    result = run("--dry-run", "--region", "fe", "--state-reports")
    assert result.code == 0, result.out
    assert result.calls == [] and result.sam == []  # not even a read: there is nothing of its own yet
    assert result.state.data == {} and not result.state.path.exists()
    for command in ("$ ask smapi create-skill-for-vendor --manifest file:", "$ sam build",
                    "$ sam deploy --config-env fe --no-confirm-changeset", "$ ask smapi update-skill-manifest",
                    "$ ask smapi update-account-linking-info", "$ ask smapi get-skill-credentials"):
        assert command in result.out
    assert "nothing was changed" in result.out
