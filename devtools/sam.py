"""Run the real AWS SAM CLI from its own cached venv.

`python -m devtools.sam ARGS...` runs `sam ARGS...` and exits with its exit code; tests call `sam(*args)`.
The SAM CLI pins versions that conflict with the dev venv (boto3, PyYAML, ...), so it lives in a venv of its
own under $BRIDGE_CACHE (default ~/.cache/ha-alexa-bridge). That venv is a cache, never a requirement: a fresh
machine builds it on first use (about a minute), in a temporary directory renamed into place once complete,
so an interrupted or concurrent install never leaves a half-built venv behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SAM_CLI_VERSION = "1.170.0"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_COMPLETE = ".complete"  # written last inside the temp venv, so a present venv is a finished one


def cache_dir() -> Path:
    return Path(os.environ.get("BRIDGE_CACHE") or Path.home() / ".cache" / "ha-alexa-bridge")


def sam_venv() -> Path:
    return cache_dir() / f"sam-cli-{SAM_CLI_VERSION}"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _usable(venv: Path) -> bool:
    return (venv / _COMPLETE).exists() and _venv_python(venv).exists()  # python: a symlink to the base interpreter


def ensure_sam_venv() -> Path:
    """Return the SAM CLI venv, creating it first if it is not in the cache yet."""
    venv = sam_venv()
    if _usable(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{venv.name}-", dir=venv.parent))
    try:
        print(f"devtools.sam: installing aws-sam-cli=={SAM_CLI_VERSION} into {venv} (once)", file=sys.stderr)
        # Run as `python -m` throughout: console-script shebangs would point at the temp path after the rename.
        subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
        subprocess.run(
            [str(_venv_python(tmp)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"aws-sam-cli=={SAM_CLI_VERSION}"],
            check=True,
        )
        (tmp / _COMPLETE).write_text(f"aws-sam-cli=={SAM_CLI_VERSION}\n")
        tmp.chmod(0o755)  # mkdtemp made it private
        try:
            tmp.rename(venv)
        except OSError:
            if _usable(venv):  # a concurrent install won the race
                return venv
            # A broken venv (its base interpreter is gone): move it aside, then put the new one in its place.
            stale = Path(tempfile.mkdtemp(prefix=f".{venv.name}-stale-", dir=venv.parent))
            venv.rename(stale / venv.name)
            shutil.rmtree(stale, ignore_errors=True)
            tmp.rename(venv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return venv


def sam_command(*args: str) -> list[str]:
    return [str(_venv_python(ensure_sam_venv())), "-m", "samcli", *args]


def sam_env() -> dict[str, str]:
    return {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def sam(*args: str, cwd: str | os.PathLike[str] = PROJECT_ROOT, **kwargs) -> subprocess.CompletedProcess:
    """Run `sam ARGS` in the project root, capturing text output unless told otherwise (for tests)."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(sam_command(*args), cwd=cwd, env=sam_env(), check=False, **kwargs)


def main(argv: list[str]) -> int:
    try:
        return subprocess.call(sam_command(*argv), env=sam_env())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
