"""Cross-check: the benchmark's own Runtime API against Amazon's Runtime Interface Emulator.

The benchmark times INIT and invocations with its instrumented Runtime API (bench/runtime_api.py), because it needs
CPU readings the emulator cannot give. This module shows that its times agree with the emulator's: in each round
the bridge artifact runs once under each (a cold request, then warm ones), with the same runtime, Home Assistant and
proxy, alternating which goes first. The emulator's figures are its `INIT REPORT(durationMs)` and its REPORT
`Duration` minus that INIT (its REPORT counts the INIT it ran on the first invocation in `Duration`, and prints a
near-zero `Init Duration`: both are shown as printed).

`python -m bench.run emulator [--runs 5] [--warm 10]` runs this section alone; `make bench` runs it near the end.
"""

from __future__ import annotations

import re
import sys

from bench.report import fmt
from bench.runner import check
from bench.stats import summary
from devtools import local_invoke


def _report_fields(result) -> dict:
    """The emulator's REPORT line as printed: Duration and Init Duration (ms), where present."""
    for line in result.logs:
        if line.startswith("REPORT RequestId:"):
            return {name: float(value) for name, value in re.findall(r"\t(Init Duration|Duration): ([\d.]+) ms", line)}
    return {}


def measure(bench, variant, runs: int, warm: int) -> dict:
    """`runs` rounds: the bridge once under the emulator and once under the benchmark's Runtime API, each a cold
    request and `warm` warm ones, in alternating order."""
    env = bench.env(variant)
    data = {key: {"init_ms": [], "first_ms": [], "warm_ms": []} for key in ("emulator", "runtime_api")}
    printed = {"init": [], "duration": []}
    events = [bench.event] * (warm + 1)
    for round_ in range(runs):
        print(f"bench.emulator: round {round_ + 1}/{runs}", file=sys.stderr, flush=True)
        order = ("emulator", "runtime_api") if round_ % 2 == 0 else ("runtime_api", "emulator")
        for key in order:
            if key == "emulator":
                results = local_invoke.invoke(events, env=env, memory=bench.memory, timeout=10,
                                              handler=variant.handler, task_root=variant.task_root,
                                              python=bench.python, echo=False)
                fields = _report_fields(results[0])
                printed["init"].append(fields.get("Init Duration"))
                printed["duration"].append(fields.get("Duration"))
            else:
                results = bench.invoke(variant, events)
            for result in results:
                check(variant, result)
            data[key]["init_ms"].append(results[0].init_ms)
            data[key]["first_ms"].append(results[0].duration_ms)
            data[key]["warm_ms"] += [r.duration_ms for r in results[1:]]
    return {"runs": runs, "warm": warm, "data": data, "printed": printed}


ROWS = (("INIT", "init_ms"), ("first invocation", "first_ms"), ("warm invocation", "warm_ms"))


def agreement(report: dict) -> list[dict]:
    """Per row: both summaries, the ratio of medians, and whether each median lies within the other's range."""
    rows = []
    for label, key in ROWS:
        emu, own = (summary(report["data"][side][key]) for side in ("emulator", "runtime_api"))
        within = bool(emu and own and own["min"] <= emu["median"] <= own["max"]
                      and emu["min"] <= own["median"] <= emu["max"])
        rows.append({"label": label, "emulator": emu, "runtime_api": own, "within": within,
                     "ratio": emu["median"] / own["median"] if emu and own and own["median"] else None})
    return rows


def markdown(report: dict | None) -> str:
    if not report:
        return ""
    intro = ("The bridge artifact under the emulator (`aws-lambda-rie` from the SAM CLI package,"
             " devtools/local_invoke.py) and under the benchmark's own Runtime API,"
             f" {report['runs']} rounds of a cold request and {report['warm']} warm ones each, alternating which runs"
             " first. Median (min-max), ms.")
    out = ["", "## Cross-check: Amazon's Runtime Interface Emulator", "", intro, "",
           "| | emulator | benchmark's Runtime API | emulator / benchmark | each median within the other's range |",
           "| --- | --- | --- | --- | --- |"]
    for row in agreement(report):
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        out.append(f"| {row['label']} | {fmt(row['emulator'])} | {fmt(row['runtime_api'])} | {ratio} |"
                   f" {'yes' if row['within'] else '**no**'} |")
    init, duration = summary(report["printed"]["init"]), summary(report["printed"]["duration"])
    out += ["", (f"As printed in the emulator's cold REPORT line: `Init Duration` {fmt(init, 2)} and `Duration`"
                 f" {fmt(duration)}: the emulator runs INIT inside the first invocation and bills it there, so the"
                 " figures above take INIT from its `INIT REPORT(durationMs)` line and subtract it from `Duration`."
                 " Its `Max Memory Used` is the configured memory size, not a measurement."), ""]
    return "\n".join(out)
