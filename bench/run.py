"""The cold-start benchmark: `make bench` (`python -m bench.run [--runs 10] [--warm 100] [--delay-ms 40]`).

Every run is a fresh process through the real Lambda runtime interface client (bench/runtime_api.py) against
the real Home Assistant of the tests (devtools.demo_ha), reached over TLS through bench/tls_proxy.py, which adds a
network round-trip delay. The request is an Alexa Discovery directive carrying the user's token. Compared:

- bridge            the built artifact (.aws-sam/build/BridgeFunction: dependencies and hash-based .pyc);
- bridge, no .pyc   the same files without any .pyc, nothing written (PYTHONDONTWRITEBYTECODE): SAM's default;
- eager             baseline (a), bench/baselines/eager: boto3, requests, websocket-client, Powertools at module
                    level, requests to Home Assistant;
- one-file proxy    baseline (b), bench/baselines/one_file_proxy: urllib3, a new pool per invocation;
- floor             bench/baselines/floor: answers with a stored Discovery answer, calls nothing: the cost of
                    the interpreter and the runtime client alone (a reference, not a competitor);
- candidate NAME    with --candidate DIR (repeatable): a changed copy of the artifact, to measure a change
                    before making it.

and, for the INIT choices, the artifact with the preconnect off and/or nothing preloaded (bench/shims).

Isolation: each function runs with a Python that sees only what Lambda's would. A throwaway venv of the same
interpreter plays Lambda's runtime: it holds awslambdaric, boto3 and their dependencies (urllib3 among them), linked
from .venv, and nothing else. The function's own directory (task root, first on PYTHONPATH) holds the rest: the
artifact ships its dependencies; a baseline's directory links what its deployment package would contain.

Results: a table on stdout, bench/RESULTS.md (quoted by the README) and bench/results/latest.json (every run).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime
import json
import os
import platform
import py_compile
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

from devtools.local_invoke import link_distributions, make_runtime

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_ROOT / "bench"
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build" / "BridgeFunction"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = BENCH_DIR / "results" / "latest.json"

# What each baseline's deployment package would hold (pip install -r requirements.txt into the zip).
EAGER_DISTRIBUTIONS = ("requests", "websocket-client", "aws-lambda-powertools")

# The 128 MB model: Lambda gives one full vCPU at 1769 MB and CPU in proportion to memory below that, while
# on-demand INIT runs on boosted CPU. So INIT counts at its measured wall time, and each CPU millisecond of an
# invocation takes 1769/128 ms at 128 MB: measured wall time + CPU time x (1769/128 - 1).
FULL_VCPU_MB = 1769
MODEL_MB = 128
CPU_STRETCH = FULL_VCPU_MB / MODEL_MB - 1

# The goals of the issue: (key, text, ratio or limit).
GOALS = {
    "cold_vs_one_file": 0.5, "cold_vs_eager": 0.3, "cold128_vs_one_file": 0.5, "cold128_vs_eager": 0.3,
    "warm128_vs_one_file": 0.4, "overhead_ms": 2.0, "warm_new_connections": 0, "rss_vs_eager": 0.5,
}


def model_128(wall_ms: float, cpu_ms: float) -> float:
    """Modelled wall time at 128 MB of an invocation measured at full CPU (see CPU_STRETCH)."""
    return wall_ms + cpu_ms * CPU_STRETCH


def summary(values) -> dict | None:
    """Median, min, max (and count) of the values that are not None; None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# -- the environment the functions run in ---------------------------------------------------------------------


def pyc_status(root: Path) -> dict:
    """How many modules under `root` have an unchecked-hash .pyc for this Python (PEP 552 flags == 0b01)."""
    tag = sys.implementation.cache_tag
    counts = {"modules": 0, "unchecked_hash": 0, "checked_hash": 0, "timestamp": 0, "missing": 0}
    for source in root.rglob("*.py"):
        counts["modules"] += 1
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not pyc.exists():
            counts["missing"] += 1
            continue
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        counts["unchecked_hash" if flags == 1 else "checked_hash" if flags == 3 else "timestamp"] += 1
    return counts


def artifact_is_stale() -> list[str]:
    """The runtime sources whose copy in the artifact differs from the checkout (or is missing)."""
    from devtools.build_function import RUNTIME_MODULES, RUNTIME_PACKAGES

    stale = []
    sources = [PROJECT_ROOT / name for name in RUNTIME_MODULES]
    for package in RUNTIME_PACKAGES:
        sources += sorted((PROJECT_ROOT / package).rglob("*.py"))
    for source in sources:
        copy = BUILD_DIR / source.relative_to(PROJECT_ROOT)
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            stale.append(str(source.relative_to(PROJECT_ROOT)))
    return stale


def ensure_artifact(build: str) -> dict:
    """Build the artifact with `make build` when it is missing (or stale, or asked); describe it."""
    stale = artifact_is_stale() if (BUILD_DIR / "lambda_function.py").exists() else ["(no artifact)"]
    if build == "always" or (build == "auto" and stale):
        print(f"bench: building the artifact (make build); differs from the checkout: {', '.join(stale[:5])}",
              file=sys.stderr, flush=True)
        subprocess.run(["make", "build"], cwd=PROJECT_ROOT, check=True, stdout=sys.stderr)
        stale = artifact_is_stale()
    elif stale:
        print(f"bench: warning: the artifact differs from the checkout ({', '.join(stale[:5])}); measuring it"
              " anyway (--build auto rebuilds it)", file=sys.stderr, flush=True)
    from devtools.build_function import zipped_size

    files = [path for path in BUILD_DIR.rglob("*") if path.is_file()]
    return {"path": str(BUILD_DIR.relative_to(PROJECT_ROOT)), "files": len(files),
            "bytes": sum(path.stat().st_size for path in files), "zipped_bytes": zipped_size(BUILD_DIR),
            "pyc": pyc_status(BUILD_DIR), "stale_sources": stale}


def copy_without_pyc(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
    return target


def baseline_root(name: str, target: Path, distributions=()) -> Path:
    """A baseline's task root: its lambda_function.py (compiled, as an installed module is) and its packages."""
    target.mkdir(parents=True)
    shutil.copy2(BENCH_DIR / "baselines" / name / "lambda_function.py", target / "lambda_function.py")
    compileall.compile_dir(target, quiet=1)
    if distributions:
        link_distributions(distributions, target)
    return target


# -- variants and runs -----------------------------------------------------------------------------------------


@dataclass
class Variant:
    key: str
    label: str
    task_root: Path
    env: dict = field(default_factory=dict)
    handler: str = "lambda_function.lambda_handler"
    warm: bool = True  # also measured warm (the INIT-choice variants are measured cold only)
    note: str = ""


def discovery(token: str) -> dict:
    return {"directive": {
        "header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                   "messageId": "bench-discover-0001"},
        "payload": {"scope": {"type": "BearerToken", "token": token}}}}


def metric(result, name: str) -> float | None:
    for m in result.metrics:
        if m["name"] == name:
            value = m["value"]
            return float(sum(value) if isinstance(value, list) else value)
    return None


def check(variant: Variant, result) -> None:  # noqa: D103
    """Stop the benchmark when a run did not answer the Discovery: its numbers would be meaningless."""
    answer = result.response if isinstance(result.response, dict) else {}
    header = (answer.get("event") or {}).get("header") or {}
    endpoints = ((answer.get("event") or {}).get("payload") or {}).get("endpoints")
    if result.error is not None or header.get("name") != "Discover.Response" or not endpoints:
        logs = "\n".join(result.logs[-40:])
        raise SystemExit(f"bench: {variant.label} did not answer the Discovery: "
                         f"{json.dumps(result.error or result.response)[:500]}\n{logs}")


class Bench:
    def __init__(self, python: Path, proxy, event: dict, memory: int):
        self.python, self.proxy, self.event, self.memory = str(python), proxy, event, memory

    def _invoke(self, variant: Variant, events, on_result=None):
        from bench.runtime_api import invoke

        env = {"HA_URL": self.proxy.url, "HA_CA_BUNDLE": self.proxy.ca_file, "HA_TOKEN": "",
               "HA_TOKEN_PARAMETER": "", "HA_VERIFY_TLS": "true", **variant.env}
        return invoke(events, env=env, memory=self.memory, timeout=10, handler=variant.handler,
                      task_root=variant.task_root, python=self.python, echo=False, on_result=on_result)

    def cold(self, variant: Variant) -> dict:
        before = self.proxy.connections
        (r,) = self._invoke(variant, [self.event])
        check(variant, r)
        return {
            "init_ms": r.init_ms, "init_cpu_ms": r.init_cpu_ms, "first_ms": r.duration_ms,
            "first_cpu_ms": r.cpu_ms, "cold_ms": r.init_ms + r.duration_ms,
            "cold128_ms": r.init_ms + model_128(r.duration_ms, r.cpu_ms), "rss_mb": r.max_memory_mb,
            "ha_ms": metric(r, "HomeAssistantLatency"), "connections": self.proxy.connections - before,
        }

    def cold_pause(self, variant: Variant, pause_s: float) -> dict:
        time.sleep(pause_s)  # let Home Assistant finish the work the previous request left behind
        return self.cold(variant)

    def warm(self, variants: list[Variant], count: int) -> dict:
        """`count` warm requests per variant, after a cold one: one process per variant, all alive at once,
        taking turns one request at a time, so that whatever else the machine does falls on every variant alike."""
        turns = {v.key: queue.Queue() for v in variants}
        done: queue.Queue = queue.Queue()

        def events(key):
            while turns[key].get():
                yield self.event

        def run(variant):
            try:
                self._invoke(variant, events(variant.key), on_result=lambda r: done.put(r))
            except BaseException as err:  # handed to the coordinator, which stops every variant
                done.put(err)

        threads = [threading.Thread(target=run, args=(v,), name=f"warm-{v.key}", daemon=True) for v in variants]
        for thread in threads:
            thread.start()
        data = {v.key: {"runs": [], "new_connections": 0, "rss_mb": None} for v in variants}
        try:
            for round_ in range(count + 1):  # round 0 is each process's cold request
                shift = round_ % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    before = self.proxy.connections
                    turns[variant.key].put(True)
                    result = done.get(timeout=60)
                    if isinstance(result, BaseException):
                        raise result
                    check(variant, result)
                    if round_:
                        record = data[variant.key]
                        record["runs"].append(warm_run(result))
                        record["new_connections"] += self.proxy.connections - before
                        record["rss_mb"] = result.max_memory_mb
        finally:
            for variant in variants:
                turns[variant.key].put(False)
            for thread in threads:
                thread.join(15)
        return data


def warm_run(r) -> dict:
    ha_ms, request_ms = metric(r, "HomeAssistantLatency"), metric(r, "RequestLatency")
    return {
        "ms": r.duration_ms, "cpu_ms": r.cpu_ms, "ms128": model_128(r.duration_ms, r.cpu_ms),
        "ha_ms": ha_ms, "request_ms": request_ms,
        "overhead_ms": r.duration_ms - ha_ms if ha_ms is not None else None,
        "handler_overhead_ms": request_ms - ha_ms if None not in (ha_ms, request_ms) else None,
    }


def variants(work: Path, shims: Path, floor_answer: Path, candidates=()) -> list[Variant]:
    nopyc = copy_without_pyc(BUILD_DIR, work / "bridge-no-pyc")
    with_shims = {"PYTHONPATH": f"{BUILD_DIR}{os.pathsep}{shims}"}
    extra = [Variant(f"candidate:{path.name}", f"candidate {path.name}", path.resolve(), {"BRIDGE_PRELOAD": "ha_alexa"},
                     note=f"a changed artifact: {path}") for path in candidates]
    return [*extra,
        Variant("bridge", "bridge (artifact)", BUILD_DIR, {"BRIDGE_PRELOAD": "ha_alexa"},
                note="preload ha_alexa + preconnect (the defaults)"),
        Variant("bridge_nopyc", "bridge, no .pyc", nopyc,
                {"BRIDGE_PRELOAD": "ha_alexa", "PYTHONDONTWRITEBYTECODE": "1"},
                note="the artifact without any .pyc, none written: what SAM's default build ships"),
        Variant("eager", "baseline (a) eager", baseline_root("eager", work / "eager", EAGER_DISTRIBUTIONS)),
        Variant("one_file", "baseline (b) one-file proxy", baseline_root("one_file_proxy", work / "one_file")),
        Variant("floor", "floor: runtime only", baseline_root("floor", work / "floor"),
                {"BENCH_FLOOR_ANSWER": str(floor_answer)}, note="stored answer, no Home Assistant call"),
        Variant("no_preconnect", "bridge: preload, no preconnect", BUILD_DIR,
                {"BRIDGE_PRELOAD": "ha_alexa", **with_shims}, "bench_no_preconnect.lambda_handler", warm=False),
        Variant("no_preload", "bridge: no preload, no preconnect", BUILD_DIR, {"BRIDGE_PRELOAD": ""}, warm=False),
        Variant("preconnect_only", "bridge: no preload, preconnect", BUILD_DIR,
                {"BRIDGE_PRELOAD": "", **with_shims}, "bench_preconnect_only.lambda_handler", warm=False),
    ]


# -- the report ------------------------------------------------------------------------------------------------

MAIN = ("bridge", "bridge_nopyc", "eager", "one_file", "floor")
SHORT = {"eager": "(a)", "one_file": "(b)"}
INIT_CHOICES = {"bridge": "`ha_alexa` / on (the default)", "no_preconnect": "`ha_alexa` / off",
                "preconnect_only": "empty / on (shim)", "no_preload": "empty / off"}


def candidate_keys(stats: dict) -> list[str]:
    return [key for key in stats if key.startswith("candidate:")]


def fmt(s: dict | None, digits: int = 1) -> str:
    if s is None:
        return "-"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def ratio(a: dict | None, b: dict | None) -> float | None:
    return a["median"] / b["median"] if a and b and b["median"] else None


def analyse(cold: dict, warm: dict) -> dict:
    stats = {}
    for key, runs in cold.items():
        stats[key] = {name: summary(run[name] for run in runs) for name in runs[0]}
    for key, data in warm.items():
        stats[key]["warm"] = {name: summary(run[name] for run in data["runs"]) for name in data["runs"][0]}
        stats[key]["warm"]["new_connections"] = data["new_connections"]
        stats[key]["warm"]["rss_mb"] = data["rss_mb"]
    return stats


def _get(stats: dict, key: str, name: str, warm: bool = False) -> dict | None:
    s = stats.get(key)
    if s is None:
        return None
    return (s.get("warm") or {}).get(name) if warm else s.get(name)


def lower_bounds(stats: dict) -> dict | None:
    """What no function can beat here: the floor's cold or warm request plus the bridge's warm HA call (one round
    trip and Home Assistant's own work), the two things every variant must do."""
    ha = _get(stats, "bridge", "ha_ms", warm=True)
    if ha is None or "floor" not in stats or not stats["floor"].get("warm"):
        return None
    floor = stats["floor"]
    return {"cold": floor["cold_ms"]["median"] + ha["median"],
            "cold128": floor["cold128_ms"]["median"] + ha["median"],
            "warm128": floor["warm"]["ms128"]["median"] + ha["median"]}


def goals(stats: dict, key: str = "bridge") -> list[tuple[str, str, str, bool | None]]:
    rows = []

    def add(text, target, value, ok, digits=2):
        shown = "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        rows.append((text, target, shown, None if value is None else ok(value)))

    for name, text in (("cold_ms", "measured"), ("cold128_ms", "modelled 128 MB")):
        for other, label, limit in (("one_file", "(b) one-file proxy", 0.5), ("eager", "(a) eager", 0.3)):
            add(f"cold request vs {label}, {text}", f"<= {limit}x",
                ratio(_get(stats, key, name), _get(stats, other, name)), lambda v, limit=limit: v <= limit)
    add("warm request vs (b) one-file proxy, modelled 128 MB", "<= 0.4x",
        ratio(_get(stats, key, "ms128", True), _get(stats, "one_file", "ms128", True)), lambda v: v <= 0.4)
    own = _get(stats, key, "handler_overhead_ms", True)
    add("handler's own warm overhead: RequestLatency - HomeAssistantLatency, median ms", "< 2",
        own and own["median"], lambda v: v < 2.0)
    total, floor = _get(stats, key, "overhead_ms", True), _get(stats, "floor", "ms", True)
    add("warm invocation - HA call - the floor's invocation (info), median ms", "< 2",
        total and floor and total["median"] - floor["median"], lambda v: v < 2.0)
    warm = (stats.get(key) or {}).get("warm") or {}
    add("new TLS connections during the warm requests, at the proxy", "0", warm.get("new_connections"),
        lambda v: v == 0)
    add("peak RSS after a cold Discovery vs (a) eager", "<= 0.5x",
        ratio(_get(stats, key, "rss_mb"), _get(stats, "eager", "rss_mb")), lambda v: v <= 0.5)
    return rows


def markdown(report: dict) -> str:
    stats, cfg, art = report["stats"], report["config"], report["artifact"]
    labels = {v["key"]: v["label"] for v in report["variants"]}
    subjects = ["bridge", *candidate_keys(stats)]
    main = subjects + [k for k in MAIN[1:] if k in stats]
    pyc = art["pyc"]
    out = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m bench.run {report['argv']}`) on {report['date']}, in"
        f" {report['elapsed_s']:.0f} s. Do not edit: rerun it.",
        "",
        f"- Machine: {report['machine']}; load average {report['load'][0]} at the start, {report['load'][1]} at"
        " the end (other work on the machine shows up as spread between min and max).",
        f"- Python {report['python']}, awslambdaric {report['awslambdaric']}, Home Assistant"
        f" {report['home_assistant']} (devtools.demo_ha, demo integration: a Discovery answer of"
        f" {report['answer_bytes'] / 1000:.0f} kB, {report['endpoints']} endpoints) behind bench/tls_proxy.py with a"
        f" {cfg['delay_ms']:g} ms round trip.",
        f"- Artifact `{art['path']}`: {art['files']} files, {art['bytes'] / 1e6:.2f} MB,"
        f" **{art['zipped_bytes'] / 1e6:.2f} MB zipped**; {pyc['unchecked_hash']} of {pyc['modules']} modules"
        f" with an unchecked-hash .pyc for {report['cache_tag']}"
        + (f" ({pyc['missing']} without)" if pyc["missing"] else "")
        + (f"; **stale: differs from the checkout in {len(art['stale_sources'])} files**"
           if art["stale_sources"] else "; built from the checkout as measured") + ".",
        f"- Each cell: median (min-max). Cold: {cfg['runs']} fresh processes per variant. Warm: {cfg['warm']}"
        " requests in one process after its cold one. Times in ms, memory in MB. The method is at the end.",
        "",
        "## Cold request: INIT + first invocation",
        "",
        "| variant | INIT | first invocation | its CPU | **cold request** | modelled 128 MB | INIT CPU | peak RSS |"
        " TLS connections |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in main:
        s = stats[key]
        out.append(f"| {labels[key]} | {fmt(s['init_ms'])} | {fmt(s['first_ms'])} | {fmt(s['first_cpu_ms'])} | "
                   f"**{fmt(s['cold_ms'])}** | {fmt(s['cold128_ms'])} | {fmt(s['init_cpu_ms'])} | "
                   f"{fmt(s['rss_mb'], 0)} | {fmt(s['connections'], 0)} |")
    out += [
        "",
        "## Warm request",
        "",
        "| variant | **warm request** | its CPU | modelled 128 MB | HA call | minus HA call |"
        " new TLS connections |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in main:
        w = stats[key].get("warm")
        if w:
            out.append(f"| {labels[key]} | **{fmt(w['ms'], 2)}** | {fmt(w['cpu_ms'], 2)} | {fmt(w['ms128'], 2)} | "
                       f"{fmt(w['ha_ms'], 2)} | {fmt(w['overhead_ms'], 2)} | {w['new_connections']} of {cfg['warm']} |")
    for key in subjects:
        own = _get(stats, key, "handler_overhead_ms", True)
        if own:
            out += ["", f"{labels[key]}: the handler alone (its RequestLatency minus its HomeAssistantLatency)"
                    f" takes {fmt(own, 2)} ms; \"minus HA call\" adds the metrics flush and the runtime client's"
                    " work, which the floor's invocation shows on its own."]
    heads = [f"bridge vs {SHORT[o]} {o.replace('_', '-')}" for o in ("eager", "one_file")]
    out += ["", "## Ratios (medians)", "",
            "| | " + " | ".join(heads) + " | no .pyc / bridge |"
            + "".join(f" {labels[k]} / bridge |" for k in subjects[1:]),
            "| --- " * (len(heads) + len(subjects) + 1) + "|"]
    rows = [("cold request, measured", "cold_ms", False), ("cold request, modelled 128 MB", "cold128_ms", False),
            ("INIT", "init_ms", False), ("first invocation", "first_ms", False),
            ("first invocation CPU", "first_cpu_ms", False), ("peak RSS", "rss_mb", False),
            ("warm request, measured", "ms", True), ("warm request, modelled 128 MB", "ms128", True),
            ("warm CPU", "cpu_ms", True)]
    for text, name, warm in rows:
        cells = [ratio(_get(stats, k, name, warm), _get(stats, o, name, warm))
                 for k in subjects[:1] for o in ("eager", "one_file")]
        cells.append(ratio(_get(stats, "bridge_nopyc", name, warm), _get(stats, "bridge", name, warm)))
        cells += [ratio(_get(stats, k, name, warm), _get(stats, "bridge", name, warm)) for k in subjects[1:]]
        out.append(f"| {text} | " + " | ".join("-" if c is None else f"{c:.2f}x" for c in cells) + " |")
    for key in subjects:
        out += ["", f"## Goals: {labels[key]}", "", "| goal | target | measured | met |", "| --- | --- | --- | --- |"]
        for text, target, shown, ok in report["goals"][key]:
            out.append(f"| {text} | {target} | {shown} | {'yes' if ok else 'n/a' if ok is None else '**no**'} |")
    bounds = lower_bounds(stats)
    if bounds:
        def versus(value, name, warm=False):
            parts = [f"{value / _get(stats, o, name, warm)['median']:.2f}x {SHORT[o]}"
                     for o in ("eager", "one_file") if _get(stats, o, name, warm)]
            return ", ".join(parts)
        out += ["", "Lower bounds here, for any function: the floor's request plus the bridge's warm Home Assistant"
                " call (one round trip and Home Assistant's own work), which every variant must make:"
                f" cold {bounds['cold']:.0f} ms ({versus(bounds['cold'], 'cold_ms')}), cold modelled 128 MB"
                f" {bounds['cold128']:.0f} ms ({versus(bounds['cold128'], 'cold128_ms')}), warm modelled 128 MB"
                f" {bounds['warm128']:.0f} ms ({versus(bounds['warm128'], 'ms128', True)}). A goal below its bound"
                " cannot be met on this setup by any code."]
    init_keys = [k for k in INIT_CHOICES if k in stats]
    out += ["", "## INIT choices (the artifact, cold)", "",
            "| BRIDGE_PRELOAD / preconnect | INIT | first invocation | its CPU | cold request | modelled 128 MB |"
            " TLS connections |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for key in init_keys:
        s = stats[key]
        out.append(f"| {INIT_CHOICES[key]} | {fmt(s['init_ms'])} | {fmt(s['first_ms'])} | {fmt(s['first_cpu_ms'])} |"
                   f" {fmt(s['cold_ms'])} | {fmt(s['cold128_ms'])} | {fmt(s['connections'], 0)} |")
    out += ["", "## How this is measured", "", METHOD.format(
        cfg=cfg, stretch=CPU_STRETCH, full=FULL_VCPU_MB, mb=MODEL_MB).strip(), ""]
    return "\n".join(out)


METHOD = """
- **Runs.** Every cold run is a fresh process: `python -m awslambdaric lambda_function.lambda_handler` (the real
  runtime interface client) polling the benchmark's own Lambda Runtime API (bench/runtime_api.py; the last section
  cross-checks its times against Amazon's Runtime Interface Emulator). The variants take turns within each round,
  after one discarded run each (disk cache, Home Assistant's first call), with a {cfg[pause_s]:g} s pause before
  each cold run so that Home Assistant has finished the previous request's work.
  Warm: one process per variant, all alive, taking turns one request at a time.
- **INIT** is process start to the runtime's first `/next` call (Lambda's Init Duration); **first invocation**
  is the event's hand-out to the response's arrival at the Runtime API (Lambda's Duration); **cold request** is
  their sum. **CPU** is the process's CPU-time clock (user + system, all threads, nanoseconds) read by the runner
  at those moments. **Peak RSS** is VmHWM at the response (Lambda's Max Memory Used). **HA call** is the
  function's own HomeAssistantLatency metric (the eager baseline emits one too). **TLS connections** are counted
  at the proxy.
- **Modelled {mb} MB** is a model, not a measurement: Lambda gives a function one full vCPU at {full} MB and CPU in
  proportion below that, while on-demand INIT runs on boosted CPU. So INIT counts at its measured wall time and
  each CPU millisecond of an invocation stretches to {full}/{mb} ms: *INIT wall + invocation wall + invocation CPU
  x ({full}/{mb} - 1 = {stretch:.2f})*; a warm request is *wall + CPU x {stretch:.2f}*. Waits (network, Home
  Assistant) do not stretch; the CPU of this machine is not Lambda's, so read the ratios rather than the values.
- **Network.** Home Assistant listens on plain HTTP on 127.0.0.1; bench/tls_proxy.py terminates TLS with a
  throwaway CA (trusted through `HA_CA_BUNDLE`, by the baselines too) and delays every chunk by half the round
  trip ({cfg[delay_ms]:g} ms) in each direction, TLS records included: a TLS 1.3 handshake costs one round trip,
  each request one more. TCP's own handshake is not delayed (the kernel completes it), which favours the
  functions that reconnect (the one-file proxy: every request).
- **Isolation.** Lambda's runtime is played by a throwaway venv of the same Python (3.13, site enabled as in
  Lambda) holding only awslambdaric, boto3 and their dependencies (urllib3 among them), linked from .venv. The
  task root is first on `PYTHONPATH`: the artifact ships its own dependencies; the eager baseline's task root
  links requests, websocket-client, Powertools and their dependencies, with the .pyc pip compiled; the one-file
  proxy has only its file, its urllib3 is the runtime's. The baselines get valid .pyc; deployed with SAM's
  default build they would not have them, and would be slower. "bridge, no .pyc" is the artifact with every .pyc
  removed, run with `PYTHONDONTWRITEBYTECODE=1` (checked: it wrote none), like a read-only /var/task.
- **INIT choices.** The preconnect is turned off by a shim handler (bench/shims/bench_no_preconnect.py) that
  hides `HA_URL` while `fast_path` initialises. With `BRIDGE_PRELOAD` empty `fast_path` opens no connection
  during INIT; bench/shims/bench_preconnect_only.py opens it anyway, to separate the two choices.
"""


class QuietServer(ThreadingHTTPServer):
    """bench.runtime_api's server, minus the traceback printed when a run's process is killed while its
    keep-alive connection waits: the benchmark ends every process that way."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def main(argv: list[str] | None = None) -> int:
    from bench import emulator, scale

    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="cold runs per variant (default 10)")
    parser.add_argument("--warm", type=int, default=100, help="warm requests per variant (default 100)")
    parser.add_argument("--delay-ms", type=float, default=40.0, help="network round trip added (default 40)")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds to wait before each cold run")
    parser.add_argument("--memory", type=int, default=256, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE given")
    parser.add_argument("--build", choices=("auto", "always", "never"), default="auto",
                        help="make build when the artifact is missing or stale (auto), always, or never")
    parser.add_argument("--candidate", type=Path, action="append", default=[],
                        help="also measure this changed copy of the artifact (repeatable)")
    parser.add_argument("--only", help="comma-separated variant keys (default: all; bridge always runs)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD, help="markdown report (default bench/RESULTS.md)")
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, help="every run as JSON (default %(default)s)")
    scale.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warm < 1:
        parser.error("--runs and --warm must be at least 1")
    for candidate in args.candidate:
        if not (candidate / "lambda_function.py").exists():
            parser.error(f"--candidate {candidate}: no lambda_function.py there")

    from bench import runtime_api
    from bench.tls_proxy import ProxyProcess
    from devtools.demo_ha import HA_VERSIONS, DemoHomeAssistant

    runtime_api.ThreadingHTTPServer = QuietServer

    started, load_before = time.monotonic(), load_average()
    artifact = ensure_artifact(args.build)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        python = make_runtime(work / "runtime")
        shims = work / "shims"
        shutil.copytree(BENCH_DIR / "shims", shims, ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(shims, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        print("bench: starting Home Assistant", file=sys.stderr, flush=True)
        ha = stack.enter_context(DemoHomeAssistant())
        proxy = stack.enter_context(ProxyProcess(ha.url, args.delay_ms))
        event = discovery(ha.token)
        answer = ha.api("POST", "/api/alexa/smart_home", json=event).body
        floor_answer = work / "discovery-answer.json"
        floor_answer.write_text(json.dumps(answer))
        all_variants = variants(work, shims, floor_answer, args.candidate)
        if args.only:
            wanted = set(args.only.split(",")) | {"bridge"}
            all_variants = [v for v in all_variants if v.key in wanted or v.key.startswith("candidate:")]
        bench = Bench(python, proxy, event, args.memory)

        for variant in all_variants:  # discarded: fills the disk cache, checks that each variant answers
            bench.cold(variant)
        cold = {v.key: [] for v in all_variants}
        for round_ in range(args.runs):
            print(f"bench: cold round {round_ + 1}/{args.runs}", file=sys.stderr, flush=True)
            shift = round_ % len(all_variants)
            for variant in all_variants[shift:] + all_variants[:shift]:
                cold[variant.key].append(bench.cold_pause(variant, args.pause))
        warm_variants = [v for v in all_variants if v.warm]
        print(f"bench: {args.warm} warm requests each, taking turns: {', '.join(v.key for v in warm_variants)}",
              file=sys.stderr, flush=True)
        warm = bench.warm(warm_variants, args.warm)
        scale_report = scale.measure(python, args, Bench, next(v for v in all_variants if v.key == "bridge"))
        emulator_report = emulator.measure(bench, next(v for v in all_variants if v.key == "bridge"), args.runs,
                                           min(args.warm, 10))
        leaked = list((work / "bridge-no-pyc").rglob("*.pyc"))
        if leaked:
            raise SystemExit(f"bench: the no-.pyc variant wrote {len(leaked)} .pyc files: its numbers are wrong")

    stats = analyse(cold, warm)
    report = {
        "argv": " ".join(sys.argv[1:] if argv is None else argv) or "(defaults)",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": time.monotonic() - started, "machine": machine(), "load": [load_before, load_average()],
        "python": platform.python_version(), "cache_tag": sys.implementation.cache_tag,
        "awslambdaric": metadata.version("awslambdaric"),
        "home_assistant": HA_VERSIONS.get("{}.{}".format(*sys.version_info[:2]), "?"),
        "answer_bytes": len(json.dumps(answer)), "endpoints": len(answer["event"]["payload"]["endpoints"]),
        "config": {"runs": args.runs, "warm": args.warm, "delay_ms": args.delay_ms, "pause_s": args.pause,
                   "memory": args.memory, "cpu_stretch": CPU_STRETCH},
        "artifact": artifact,
        "variants": [{"key": v.key, "label": v.label, "handler": v.handler, "note": v.note,
                      "env": {k: val for k, val in v.env.items() if k != "PYTHONPATH"}} for v in all_variants],
        "stats": stats, "cold": cold, "warm": warm,
    }
    report["goals"] = {key: goals(stats, key) for key in ["bridge", *candidate_keys(stats)]}
    report["scale"], report["emulator"] = scale_report, emulator_report
    text = markdown(report) + scale.markdown(scale_report) + emulator.markdown(emulator_report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(text.split("## How this is measured")[0] + scale.markdown(scale_report) + emulator.markdown(emulator_report))
    print(f"bench: wrote {args.out} and {args.json} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
