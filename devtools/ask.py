"""Run the real Alexa Skills Kit CLI (npm `ask-cli`, pinned) from its own directory in the cache.

`python -m devtools.ask ARGS...` runs `ask ARGS...`; `devtools.setup` calls `ask_command` and `ask_env`. Like the
SAM CLI (devtools/sam.py) it is installed on first use into $BRIDGE_CACHE, in a temporary directory renamed into
place once complete, with Node's npm. Two facts of ask-cli 2.30.7 shape the install and the environment:
- npm resolves its dependency @alexa/acdl's `antlr4ts ^0.5.0-alpha.4` to 0.5.0-dev, whose `require('antlr4ts')`
  throws "Class extends value undefined": an npm `overrides` pin to 0.5.0-alpha.4 makes the CLI start.
- Its environment profile (ASK_REFRESH_TOKEN or ASK_ACCESS_TOKEN, ASK_VENDOR_ID, AWS_ACCESS_KEY_ID and
  AWS_SECRET_ACCESS_KEY) still reads ~/.ask/cli_config: `{"profiles": {}}` is created when there is none (an
  owner's own file is never touched), so the setup works where `ask configure` never ran.
The same install holds ask-smapi-model, whose spec.json (Amazon's SMAPI definition) the tests check requests with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools.sam import cache_dir

ASK_CLI_VERSION = "2.30.7"
SMAPI_MODEL_VERSION = "1.24.0"
ANTLR4TS_PIN = "0.5.0-alpha.4"
_COMPLETE = ".complete"
# Only for the environment profile's presence check: `ask smapi` never uses AWS credentials.
AWS_PLACEHOLDER = "unused-by-ask-smapi"


def ask_dir() -> Path:
    return cache_dir() / f"ask-cli-{ASK_CLI_VERSION}"


def _usable(directory: Path) -> bool:
    return (directory / _COMPLETE).exists() and (directory / "node_modules/ask-cli/package.json").exists()


def ensure_ask() -> Path:
    """Return the ASK CLI's install directory, installing it first if the cache has none."""
    directory = ask_dir()
    if _usable(directory):
        return directory
    if not shutil.which("npm"):
        raise RuntimeError("the ASK CLI needs Node.js and npm: install them (Debian/Ubuntu: sudo apt-get install nodejs"
                           " npm; or https://nodejs.org), then run this again")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        print(f"devtools.ask: installing ask-cli@{ASK_CLI_VERSION} into {directory} (once)", file=sys.stderr)
        (tmp / "package.json").write_text(json.dumps({
            "name": "ha-alexa-bridge-ask-cli", "private": True,
            "dependencies": {"ask-cli": ASK_CLI_VERSION, "ask-smapi-model": SMAPI_MODEL_VERSION},
            "overrides": {"antlr4ts": ANTLR4TS_PIN}}, indent=2))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                       cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        (tmp / _COMPLETE).write_text(f"ask-cli@{ASK_CLI_VERSION}\n")
        tmp.chmod(0o755)
        try:
            tmp.rename(directory)
        except OSError:
            if not _usable(directory):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def smapi_spec() -> Path:
    """Amazon's SMAPI Swagger definition, from the ask-smapi-model package."""
    return ensure_ask() / "node_modules/ask-smapi-model/spec.json"


def ask_command(*args: str) -> list[str]:
    return ["node", str(ensure_ask() / "node_modules/ask-cli/dist/bin/ask.js"), *args]


def ensure_cli_config(home: Path | None = None) -> Path:
    """~/.ask/cli_config, created empty when missing; an existing one is left exactly as it is."""
    config = (home or Path.home()) / ".ask" / "cli_config"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('{"profiles": {}}\n')
    return config


def ask_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `ask`: no npm version check; the environment profile complete when it is used."""
    env = dict(os.environ if base is None else base)
    env["ASK_SKIP_NEW_VERSION_REMINDER"] = "true"
    env.setdefault("ASK_SHARE_USAGE", "false")  # honoured for ask configure's profiles (not the environment's)
    if env.get("ASK_VENDOR_ID") and (env.get("ASK_REFRESH_TOKEN") or env.get("ASK_ACCESS_TOKEN")):
        env.setdefault("AWS_ACCESS_KEY_ID", AWS_PLACEHOLDER)
        env.setdefault("AWS_SECRET_ACCESS_KEY", AWS_PLACEHOLDER)
    return env


def main(argv: list[str]) -> int:
    ensure_cli_config()
    try:
        return subprocess.call(ask_command(*argv), env=ask_env())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
