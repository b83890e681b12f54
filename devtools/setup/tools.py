"""How the setup runs the real ASK CLI and SAM CLI: each command shown (secrets masked), skipped in a dry run."""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from devtools import ask, sam
from devtools.setup.plan import masked

BUILD_TIMEOUT_S = 300.0


class ToolError(RuntimeError):
    """A command failed; its message is masked and names the command."""


class NotFound(ToolError):
    """SMAPI answered 404."""


class Tools:
    """The ASK CLI and the SAM CLI as the setup uses them; tests replace `run_sam` (and point `env` at a stand-in)."""

    def __init__(self, env: dict, secrets, dry_run: bool, say, profile: str | None = None, poll_s: float = 3.0):
        self.env, self.secrets, self.dry_run, self.say = ask.ask_env(env), list(secrets), dry_run, say
        self.profile, self.poll_s = profile, poll_s
        self.files = tempfile.TemporaryDirectory(prefix="ha-alexa-setup-")  # private (0700), removed at exit

    def close(self) -> None:
        self.files.cleanup()

    def file(self, name: str, body: dict, secret: bool = False) -> str:
        """`file:PATH` for a request body; the file lives in the private directory until the run ends."""
        path = Path(self.files.name) / name
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False))
        path.chmod(0o600)
        if secret:
            self.secrets.append(json.dumps(body))  # never shown, even in a dry run's listing
        return f"file:{path}"

    def show(self, tool: str, args) -> None:
        self.say("  $ " + masked(" ".join(shlex.quote(a) for a in (tool, *args)), self.secrets))

    def ask(self, *args: str, change: bool = False) -> dict | None:
        """`ask smapi ...` and its JSON answer; a change is only shown in a dry run."""
        if self.profile and not (self.env.get("ASK_VENDOR_ID") and self.env.get("ASK_REFRESH_TOKEN")):
            args = (*args, "--profile", self.profile)
        self.show("ask", args)
        if self.dry_run and change:
            return None
        result = subprocess.run(ask.ask_command(*args), env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            text = masked((result.stderr or result.stdout).strip(), self.secrets)
            message = _error_message(text)
            if "status code 404" in text or "404" in message.split(":")[0]:
                raise NotFound(message)
            raise ToolError(f"`ask {args[0]} {args[1]}` failed: {message}")
        out = result.stdout.strip()
        if not out.startswith(("{", "[")):
            return {}
        return json.loads(out)

    def wait_for_builds(self, skill_id: str) -> None:
        """Poll the skill's status until SMAPI's manifest and interaction model builds are done."""
        if self.dry_run:
            return
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while True:
            status = self.ask("smapi", "get-skill-status", "-s", skill_id) or {}
            resources = [("manifest", status.get("manifest") or {})]
            resources += [(f"interaction model {loc}", s) for loc, s in (status.get("interactionModel") or {}).items()]
            states = {name: (res.get("lastUpdateRequest") or {}) for name, res in resources}
            failed = {name: s for name, s in states.items() if s.get("status") == "FAILED"}
            if failed:
                errors = "; ".join(f"{name}: {json.dumps(s.get('errors', []))[:300]}" for name, s in failed.items())
                raise ToolError(f"SMAPI could not build the skill {skill_id}: {errors}")
            if all(s.get("status") in (None, "SUCCEEDED") for s in states.values()):
                return
            if time.monotonic() > deadline:
                raise ToolError(f"SMAPI still builds the skill {skill_id} after {BUILD_TIMEOUT_S:.0f} s: rerun later")
            time.sleep(self.poll_s)

    def sam(self, *args: str) -> str:
        """`sam ARGS` in the checkout; its output (masked), or ToolError with its last lines."""
        self.show("sam", args)
        if self.dry_run:
            return ""
        code, output = self.run_sam(list(args))
        output = masked(output, self.secrets)
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ToolError(f"`sam {args[0]}` failed (exit {code}):\n{tail}")
        return output

    def stack_outputs(self, session, region_name: str, stack: str) -> dict[str, str]:
        described = session.client("cloudformation", region_name=region_name).describe_stacks(StackName=stack)
        return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}

    def run_sam(self, args: list[str]) -> tuple[int, str]:
        result = sam.sam(*args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, capture_output=False)
        return result.returncode, result.stdout or ""


def _error_message(text: str) -> str:
    """The ASK CLI's `[Error]: {"message": ...}` reduced to its message, or its last line."""
    start = text.find("{")
    if start >= 0:
        try:
            return str(json.loads(text[start:]).get("message", text))[:500]
        except ValueError:
            pass
    return (text.splitlines() or ["no output"])[-1][:500]
