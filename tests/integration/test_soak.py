"""Soak: 1,000 sequential warm invocations in one fresh process against the real Home Assistant (bench/soak.py)."""

import json
import os
import subprocess
import sys

from support import ROOT


def test_a_thousand_warm_invocations_all_succeed_without_memory_growth(ha):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HA_", "BRIDGE_", "POWERTOOLS_"))}
    env.update(HA_URL=ha.url, HA_TOKEN=ha.token)
    run = subprocess.run([sys.executable, "-m", "bench.soak", "--requests", "1000", "--max-growth-kb", "1024"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(result))  # shown with -s or on failure: the timings of this run
    assert result["failed"] == 0, result["failures"]
    assert result["rss_growth_kb"] <= 1024, result
    assert result["connections_opened"] == 1  # one keep-alive connection served them all
    assert run.returncode == 0, run.stderr
