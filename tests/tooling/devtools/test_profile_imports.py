"""devtools.profile_imports (`make profile`): importtime's lines read right, and a real profile of a small artifact."""

import shutil
import sys

import pytest

from devtools import profile_imports
from support import ROOT

# importtime prints a module after its imports, indented two spaces a level; start-up imports come first.
IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       600 |       1200 | site
import time:       100 |        100 |       nt
import time:       200 |        200 |       json.decoder
import time:       300 |        500 |     json
import time:        50 |         50 |       aws_lambda_powertools.shared
import time:       400 |        450 |     aws_lambda_powertools
import time:      1000 |       1950 |   gateway
import time:       100 |       2050 | lambda_function
"""
LOADED = {"site", "json", "json.decoder", "aws_lambda_powertools", "aws_lambda_powertools.shared", "gateway",
          "lambda_function"}  # fmt: skip


def test_only_the_modules_import_lambda_function_loaded_count():
    block = profile_imports.parse(IMPORTTIME, LOADED)
    assert [name for name, *_ in block] == ["json.decoder", "json", "aws_lambda_powertools.shared",
                                            "aws_lambda_powertools", "gateway", "lambda_function"]  # fmt: skip
    assert block[-1] == ("lambda_function", 0, 0.1, 2.05)
    with pytest.raises(ValueError):
        profile_imports.parse(IMPORTTIME.replace("lambda_function", "other"), LOADED)


def test_packages_get_their_modules_own_time_and_what_they_imported_first():
    groups = profile_imports.group(profile_imports.parse(IMPORTTIME, LOADED))
    assert groups["json"] == {"modules": 2, "own_ms": 0.5, "cumulative_ms": 0.5}
    assert groups["aws_lambda_powertools"] == {"modules": 2, "own_ms": 0.45, "cumulative_ms": 0.45}
    assert groups["gateway"] == {"modules": 1, "own_ms": 1.0, "cumulative_ms": 1.95}
    assert [profile_imports.kind(name) for name in ("gateway", "aws_lambda_powertools", "json", "jmespath")] == [
        "ours", "Powertools", "stdlib", "third-party"]  # fmt: skip


def test_a_real_profile_of_the_entry_point_alone(tmp_path):
    """With nothing preloaded, the entry point needs only its two modules: the profile runs on them alone."""
    for name in ("lambda_function.py", "fast_path.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = profile_imports.profile(tmp_path, preload="", runs=3, python=sys.executable)
    assert result["packages"]["fast_path"]["modules"] == 1
    assert 0 < result["packages"]["fast_path"]["own_ms"] <= result["total_ms"]
    assert {profile_imports.kind(name) for name in result["packages"]} == {"ours", "stdlib"}
    lines, within = profile_imports.report("''", result, 3)
    assert within and any(line.startswith("budget: import time") and line.endswith(": ok") for line in lines)
