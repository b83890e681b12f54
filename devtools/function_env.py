"""The function's environment as SAM reads it: template.yaml's settings of the function (resolved as `sam local
invoke` resolves them), env.json's overrides, and the variables Lambda itself sets. Used by devtools.local_invoke,
the benchmark and the tests."""

import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = PROJECT_ROOT / "template.yaml"
ENV_JSON = PROJECT_ROOT / "env.json"
FUNCTION = "BridgeFunction"  # the template's logical ID: env.json's key, as for `sam local invoke`
FUNCTION_NAME = "ha-alexa-bridge"
# From the shell, beside the names the template declares: what a process needs, and AWS credentials (as
# `sam local invoke` passes them) for the SSM parameters.
PASS_NAMES = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "AWS_REGION", "AWS_DEFAULT_REGION",
              "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def load_template(path: Path = TEMPLATE) -> dict:
    """template.yaml, with CloudFormation's short forms (!Ref X, !If [...]) read as their long forms."""
    import yaml  # PyYAML: a dev dependency (moto's), not the function's

    class Loader(yaml.SafeLoader):
        pass

    def short_form(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", short_form)
    return yaml.load(path.read_text(), Loader=Loader)


def function_settings(template: dict, logical_id: str = FUNCTION) -> dict:
    """Handler, Timeout, MemorySize and Environment of the function, each resolved as `sam local invoke` does:
    a parameter's value is its default; what cannot be resolved locally is empty."""
    defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}

    def resolve(value):
        if isinstance(value, dict):
            return defaults.get(value.get("Ref"), "") if set(value) == {"Ref"} else ""
        return "" if value is None else str(value)

    props = {**template.get("Globals", {}).get("Function", {}), **template["Resources"][logical_id]["Properties"]}
    variables = props.get("Environment", {}).get("Variables", {})
    return {"handler": props["Handler"], "timeout": int(resolve(props.get("Timeout", 3)) or 3),
            "memory": int(resolve(props.get("MemorySize", 128)) or 128),
            "variables": {name: resolve(value) for name, value in variables.items()}}


def env_json(path: Path = ENV_JSON, logical_id: str = FUNCTION) -> dict:
    """The overrides an env.json gives this function: its `Parameters` (all functions), then its own object."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected {{\"{logical_id}\": {{\"NAME\": \"value\", ...}}}}")
    return {k: str(v) for part in (data.get("Parameters"), data.get(logical_id)) if isinstance(part, dict)
            for k, v in part.items()}


def lambda_env(memory: int, timeout: int, handler: str, task_root: str, variables: dict) -> dict:
    """The environment of the emulator and the function: Lambda's reserved names, then the function's variables."""
    shell = {k: os.environ[k] for k in PASS_NAMES if k in os.environ}
    region = shell.get("AWS_REGION") or shell.get("AWS_DEFAULT_REGION") or "us-east-1"
    return {**shell, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",  # Lambda sets it (fast_path reads it); the emulator does not
            "LAMBDA_TASK_ROOT": task_root, "_HANDLER": handler, "PYTHONPATH": task_root,
            "PYTHONUNBUFFERED": "1",  # so each log line lands in its own invocation
            **variables}
