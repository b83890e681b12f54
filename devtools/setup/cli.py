"""`make setup`: from an Amazon developer account, an AWS account and Home Assistant to a linked Smart Home skill."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

from devtools.setup import checks, plan
from devtools.setup.plan import Region, Settings, State
from devtools.setup.tools import NotFound, ToolError, Tools

NEW_SKILL = "<the new skill's ID>"
NEW_FUNCTION = "<the stack's BridgeFunctionArn>"


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make setup ARGS=...", description=__doc__)
    parser.add_argument("--region", choices=sorted(plan.REGIONS), default="us",
                        help="the Alexa region of your Amazon account and devices: us (North America, Brazil),"
                             " eu (Europe, India) or fe (Japan, Australia); also the samconfig.toml environment")
    parser.add_argument("--dry-run", action="store_true", help="print every step and command; change nothing")
    parser.add_argument("--function-arn", help="use this function (deployed another way) instead of deploying")
    parser.add_argument("--accept-unreachable-ha", action="store_true",
                        help="Home Assistant's checks warn instead of stopping (open it to the internet later)")
    parser.add_argument("--assist", action="store_true", help="also the Assist custom skill of skill-package/")
    parser.add_argument("--state-reports", action="store_true",
                        help="print the skill's messaging credentials once, as configuration.yaml lines")
    parser.add_argument("--verify", action="store_true",
                        help="only read the function's metrics in CloudWatch: did Alexa's requests reach it?")
    parser.add_argument("--days", type=int, default=3, help="how far back --verify looks (default 3 days)")
    parser.add_argument("--alarm-email", help="the stack's AlarmEmail: told when Alexa cannot reach Home Assistant")
    parser.add_argument("--ask-profile", help="the ASK CLI profile to use (default: the environment's, or default)")
    parser.add_argument("--env-vars", type=Path, default=plan.PROJECT_ROOT / "env.json",
                        help="settings in `sam local invoke --env-vars` format (default: env.json)")
    return parser.parse_args(argv)


class Setup:
    """One run: the checks, then each step, each saying whether it changed something."""

    def __init__(self, args, settings: Settings, tools: Tools, session, state: State, say=print):
        self.args, self.settings, self.tools, self.session, self.state, self.say = \
            args, settings, tools, session, state, say
        self.region: Region = plan.REGIONS[args.region]
        self.changes: list[str] = []
        self.account = ""
        self.created: set[str] = set()  # skills created in this run: SMAPI holds nothing else of theirs yet

    def step(self, text: str) -> None:
        self.say(f"\n== {text}")

    def changed(self, what: str) -> None:
        self.changes.append(what)
        self.say(("   would " if self.args.dry_run else "   done: ") + what)

    # ---- 1. checks ----

    def check(self) -> bool:
        self.step("Checks (nothing is created until all pass)")
        findings = checks.home_assistant(self.settings, self.args.accept_unreachable_ha)
        aws, self.account = checks.aws(self.session, self.region)
        findings += [aws, checks.ask_profile(self.tools.env, self.args.ask_profile, Path(self.tools.env.get(
            "HOME") or Path.home()))]
        for finding in findings:
            mark = "warning" if finding.warning else ("ok" if finding.ok else "FAILED")
            self.say(plan.masked(f"   [{mark}] {finding.what}: {finding.detail}", self.tools.secrets))
            if finding.fix and (not finding.ok or finding.warning):
                self.say(f"            fix: {finding.fix}")
        return all(finding.ok for finding in findings)

    # ---- 2. the skills ----

    def ensure_skill(self, key: str, name: str, manifest: dict) -> str:
        skill_id = self.state.get(self.region, key)
        if skill_id:
            self.say(f"   {name}: {skill_id} (created before)")
            return skill_id
        body = self.tools.file(f"{key}-create.json", plan.without_endpoint(manifest))
        answer = self.tools.ask("smapi", "create-skill-for-vendor", "--manifest", body, "--full-response",
                                change=True)
        if answer is None:
            self.changed(f"create the {name}")
            return NEW_SKILL
        skill_id = answer["body"]["skillId"]
        self.state.set(self.region, key, skill_id)  # at once: a run that stops later finds it again
        self.created.add(skill_id)
        self.changed(f"created the {name} {skill_id}")
        return skill_id  # its build is waited for with the endpoint's, below

    def ensure_manifest(self, skill_id: str, name: str, manifest: dict) -> None:
        if skill_id == NEW_SKILL:
            self.tools.show("ask", ("smapi", "update-skill-manifest", "-s", skill_id, "-g", "development",
                                    "--manifest", "file:<the manifest with the endpoint>"))
            self.changed(f"set the {name}'s manifest, its endpoint {self.function_arn}")
            return
        current = None if skill_id in self.created else self.tools.ask(
            "smapi", "get-skill-manifest", "-s", skill_id, "-g", "development")
        # A build an earlier run sent and did not see succeed is sent again: SMAPI keeps a failed build failed.
        pending = skill_id in self.state.get(self.region, "builds_pending", [])
        if current and plan.covers(current, manifest) and not pending:
            self.say(f"   {name}'s manifest: unchanged")
            return
        body = self.tools.file(f"{skill_id}-manifest.json", manifest)
        self.tools.ask("smapi", "update-skill-manifest", "-s", skill_id, "-g", "development", "--manifest", body,
                       change=True)
        self.changed(f"set the {name}'s manifest, its endpoint {self.function_arn}")

    def ensure_models(self, skill_id: str) -> dict | None:
        models = self.state.get(self.region, "assist_models", {})
        built = False
        for locale in plan.assist_locales():
            model = plan.assist_model(locale)
            digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
            if models.get(locale) == digest and skill_id != NEW_SKILL:
                continue
            body = self.tools.file(f"model-{locale}.json", model)
            self.tools.ask("smapi", "set-interaction-model", "-s", skill_id, "-g", "development", "-l", locale,
                           "--interaction-model", body, change=True)
            self.changed(f"build the {locale} interaction model" if self.args.dry_run
                         else f"built the {locale} interaction model")
            built = True
            models[locale] = digest
        if not built:
            self.say("   Assist interaction models: unchanged")
        return models if built else None

    def ensure_linking(self, skill_id: str, name: str) -> None:
        wanted = plan.account_linking(self.settings.ha_url, self.region, secrets.token_urlsafe(24))
        shown = {k: v for k, v in wanted["accountLinkingRequest"].items() if k != "clientSecret"}
        if skill_id != NEW_SKILL:
            try:
                current = None if skill_id in self.created else self.tools.ask(
                    "smapi", "get-account-linking-info", "-s", skill_id, "-g", "development")
            except NotFound:
                current = None
            if current and plan.covers(current.get("accountLinkingResponse"), shown):
                self.say(f"   {name}'s account linking: unchanged")
                return
            body = self.tools.file(f"{skill_id}-linking.json", wanted, secret=True)
            self.tools.ask("smapi", "update-account-linking-info", "-s", skill_id, "-g", "development",
                           "--account-linking-request", body, change=True)
        else:
            self.tools.show("ask", ("smapi", "update-account-linking-info", "-s", skill_id, "-g", "development",
                                    "--account-linking-request", "file:<account linking>"))
        self.changed(f"link the {name} to {shown['authorizationUrl']} and {shown['accessTokenUrl']}, client ID"
                     f" {shown['clientId']}, scope {plan.SCOPE}, credentials in the request body")

    # ---- 3. the stack ----

    def deploy(self, smart_home_id: str, assist_id: str | None) -> str:
        if self.args.function_arn:
            self.say(f"   the function {self.args.function_arn} (--function-arn): no deploy")
            self.ensure_permission(smart_home_id, "alexa-connectedhome.amazon.com")
            if assist_id:
                self.ensure_permission(assist_id, "alexa-appkit.amazon.com")
            return self.args.function_arn
        overrides = plan.saved_overrides(self.region)
        overrides.update(HomeAssistantUrl=self.settings.ha_url, SmartHomeSkillId=smart_home_id)
        if assist_id:
            overrides["AssistSkillId"] = assist_id
        if self.settings.ha_token_parameter:
            overrides["HomeAssistantTokenParameter"] = self.settings.ha_token_parameter
        if self.args.alarm_email:
            overrides["AlarmEmail"] = self.args.alarm_email
        self.say("   building (sam build) and deploying (sam deploy); the first deploy takes a few minutes")
        self.tools.sam("build")
        output = self.tools.sam(*plan.deploy_arguments(self.region, overrides))
        if self.args.dry_run:
            self.changed(f"deploy the stack {plan.stack_name(self.region)} in {self.region.aws_region} (sam deploy"
                         " changes nothing when nothing changed)")
            return self.state.get(self.region, "function_arn") or NEW_FUNCTION
        if "No changes to deploy" in output:
            self.say(f"   stack {plan.stack_name(self.region)}: unchanged")
        else:
            self.changed(f"deployed the stack {plan.stack_name(self.region)} in {self.region.aws_region}")
        arn = self.tools.stack_outputs(self.session, self.region.aws_region, plan.stack_name(self.region))[
            "BridgeFunctionArn"]
        self.state.set(self.region, "function_arn", arn)
        return arn

    def ensure_permission(self, skill_id: str, principal: str) -> None:
        """The permission a function deployed another way needs: only this skill may invoke it (as the stack's)."""
        arn = self.args.function_arn
        sid = "alexa-" + skill_id.rsplit(".", 1)[-1]
        command = (f"aws lambda add-permission --function-name {arn} --statement-id {sid} --action"
                   f" lambda:InvokeFunction --principal {principal} --event-source-token {skill_id}")
        if skill_id == NEW_SKILL:
            self.changed(f"let the skill invoke the function: {command}")
            return
        client = self.session.client("lambda", region_name=arn.split(":")[3])
        try:
            try:
                policy = client.get_policy(FunctionName=arn)["Policy"]
            except client.exceptions.ResourceNotFoundException:
                policy = ""  # a function without a resource policy yet
            if skill_id in policy or f'"{sid}"' in policy:
                self.say(f"   the function's permission for {skill_id}: unchanged")
                return
            self.tools.show("aws", command.split()[1:])
            if not self.args.dry_run:
                client.add_permission(FunctionName=arn, StatementId=sid, Action="lambda:InvokeFunction",
                                      Principal=principal, EventSourceToken=skill_id)
        except Exception as err:  # botocore's ClientError (AccessDenied, another account's function), no network
            raise ToolError(f"could not give the skill the function's permission ({type(err).__name__}): with the"
                            f" function's own account, run {command}") from None
        self.changed(f"let the skill {skill_id} invoke the function")

    # ---- the run ----

    def run(self) -> int:
        self.say(f"Setting up Alexa for {self.settings.ha_url or '(no HA_URL)'} in the {self.region.name} region"
                 f" ({self.region.aws_region}){' -- dry run: nothing is changed' if self.args.dry_run else ''}")
        if not self.check():
            self.say("\nNothing was created. Fix what failed above, then run `make setup` again.")
            return 1
        try:
            return self._steps()
        except (ToolError, KeyError, ValueError) as err:
            self.say(plan.masked(f"\nStopped: {err}", self.tools.secrets))
            self.say("What was done is kept (setup-state.json); run the same command again to continue from here.")
            return 1

    def built(self, skill_id: str, changed: bool) -> None:
        """Wait for SMAPI's builds of what changed, or of a change an earlier run sent but did not see built."""
        if self.args.dry_run:
            return
        pending = set(self.state.get(self.region, "builds_pending", []))
        if not changed and skill_id not in pending:
            return
        self.state.set(self.region, "builds_pending", sorted(pending | {skill_id}))
        self.tools.wait_for_builds(skill_id)
        self.state.set(self.region, "builds_pending", sorted(pending - {skill_id}))

    def _steps(self) -> int:
        self.function_arn = self.args.function_arn or NEW_FUNCTION
        self.step("The Smart Home skill (ASK CLI)")
        smart_home_id = self.ensure_skill("smart_home_skill_id", "Smart Home skill",
                                          plan.smart_home_manifest(self.region, None))
        assist_id = None
        if self.args.assist:
            self.step("The Assist custom skill (ASK CLI, skill-package/)")
            assist_id = self.ensure_skill("assist_skill_id", "Assist skill", plan.assist_manifest(None))
        self.step(f"The stack (SAM CLI, samconfig.toml environment {self.region.name})")
        self.function_arn = self.deploy(smart_home_id, assist_id)
        self.step("The skills' endpoints and account linking (SMAPI)")
        before = len(self.changes)
        self.ensure_manifest(smart_home_id, "Smart Home skill", plan.smart_home_manifest(self.region,
                                                                                           self.function_arn))
        self.built(smart_home_id, len(self.changes) > before)  # SMAPI checks the endpoint's permission as it builds
        self.ensure_linking(smart_home_id, "Smart Home skill")
        if assist_id:
            before = len(self.changes)
            self.ensure_manifest(assist_id, "Assist skill", plan.assist_manifest(self.function_arn))
            models = self.ensure_models(assist_id)
            self.built(assist_id, len(self.changes) > before)
            if models and not self.args.dry_run:
                self.state.set(self.region, "assist_models", models)  # only once SMAPI built them
            self.ensure_linking(assist_id, "Assist skill")
        if self.args.state_reports:
            self.state_reports(smart_home_id)
        self.say("")
        if not self.changes:
            self.say("Nothing to change: the skill, the stack and account linking are as they should be.")
        elif self.args.dry_run:
            self.say(f"Dry run: {len(self.changes)} change(s) would be made; nothing was changed.")
        else:
            self.say(f"Done: {len(self.changes)} change(s).")
        self.last_step(smart_home_id, assist_id)
        return 0

    def state_reports(self, skill_id: str) -> None:
        self.step("State reports (the skill's messaging credentials)")
        if skill_id == NEW_SKILL:
            self.tools.show("ask", ("smapi", "get-skill-credentials", "-s", skill_id))
            self.say("   would print the configuration.yaml lines")
            return
        answer = self.tools.ask("smapi", "get-skill-credentials", "-s", skill_id) or {}
        credentials = answer.get("skillMessagingCredentials") or {}
        if not credentials.get("clientId") or not credentials.get("clientSecret"):
            raise ToolError("SMAPI returned no messaging credentials for the skill")
        # Printed here once, on the terminal only: never kept in a file or a log.
        self.say("   Put these lines under `alexa: smart_home:` in Home Assistant's configuration.yaml (better: the"
                 " two values in secrets.yaml), restart Home Assistant, then disable and enable the skill:")
        self.say(f"       endpoint: {self.region.event_endpoint}")
        self.say(f"       client_id: {credentials['clientId']}")
        self.say(f"       client_secret: {credentials['clientSecret']}")
        self.tools.secrets.append(credentials["clientSecret"])

    def last_step(self, smart_home_id: str, assist_id: str | None) -> None:
        name = plan.smart_home_manifest(self.region, None)["manifest"]["publishingInformation"]["locales"]
        name = next(iter(name.values()))["name"]
        self.say("\nThe last step is yours (only you can sign in to your Home Assistant):")
        self.say(f"  1. In the Alexa app: More > Skills & Games > Your Skills > Dev > \"{name}\" ({smart_home_id},"
                 " https://developer.amazon.com/alexa/console/ask) > Enable to use.")
        self.say(f"  2. Sign in with your Home Assistant user at {self.settings.ha_url}.")
        self.say('  3. Say "Alexa, discover devices". Then `make setup ARGS="--verify'
                 f'{" --region " + self.region.name if self.region.name != "us" else ""}"` checks that Alexa'
                 " reached the function.")
        if assist_id:
            self.say("  For Assist: enable \"Home Assistant Assist\" the same way (Dev tab), and sign in too.")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings.load(env_file=args.env_vars)
    import boto3

    session = boto3.Session()
    if args.verify:
        from devtools.setup import verify

        return verify.main(args, settings, session)
    env = dict(os.environ)
    from devtools import ask

    ask.ensure_cli_config(Path(env.get("HOME") or Path.home()))
    tools = Tools(env, settings.secrets(), args.dry_run, print, args.ask_profile,
                  float(env.get("BRIDGE_SETUP_POLL_S", "3")))
    try:
        return Setup(args, settings, tools, session, State()).run()
    finally:
        tools.close()


