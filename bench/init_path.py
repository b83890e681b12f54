"""INIT's critical path: where one cold request's time goes, per thread (`make bench`, or `python -m bench.run
init-path`).

The artifact runs cold through the trace shim (bench/shims/bench_trace.py), which records each import, the CA store's
loading, name resolution, TCP connect, the TLS handshake, thread joins and the first invocation's Home Assistant
exchange on the clock the benchmark's Runtime API shares. Each cold request becomes segments on a time line from
the process's start: the main thread's are the critical path (INIT ends when it calls /next), the preconnect
thread's run beside it. The hand-out's gap after /next (the runner's, not the function's) is left out, so the time
line's end is INIT + first invocation, the cold request of the main table. The picture shows the run of median
cold request; the table gives each segment's median over the runs.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from bench.variants import BENCH_DIR, PROJECT_ROOT, Variant, with_shims

PNG = BENCH_DIR / "results" / "init-critical-path.png"
TRACE_JSON = BENCH_DIR / "results" / "init-critical-path.json"
OURS = {"lambda_function", "fast_path", "gateway", "ha_alexa", "ha_assist", "ha_devices", "bench_trace"}
# What a module's import is counted as (by its top-level package); the rest of the standard library is "stdlib".
GROUPS = {
    "aws_lambda_powertools": "Powertools", "jmespath": "Powertools", "typing_extensions": "Powertools",
    "ssl": "ssl, http, email", "_ssl": "ssl, http, email", "http": "ssl, http, email", "email": "ssl, http, email",
    "urllib": "ssl, http, email", "socket": "ssl, http, email", "selectors": "ssl, http, email",
    "dataclasses": "dataclasses, inspect, typing", "inspect": "dataclasses, inspect, typing",
    "typing": "dataclasses, inspect, typing", "dis": "dataclasses, inspect, typing",
    "ast": "dataclasses, inspect, typing", "tokenize": "dataclasses, inspect, typing",
    "logging": "logging", "decimal": "decimal, numbers", "_pydecimal": "decimal, numbers",
    "numbers": "decimal, numbers",
}
COLOURS = {
    "runtime": "#b0b0b0", "ours": "#1f77b4", "Powertools": "#ff7f0e", "ssl, http, email": "#2ca02c",
    "dataclasses, inspect, typing": "#d62728", "logging": "#9467bd", "decimal, numbers": "#8c564b",
    "stdlib": "#7fc4e8", "third-party": "#e377c2", "ca": "#bcbd22", "dns": "#17becf", "connect": "#aec7e8",
    "tls": "#ffbb78", "wait": "#f0f0f0", "ha": "#98df8a", "handler": "#c5b0d5", "other": "#dddddd",
}
KIND_TEXT = {"ca": "TLS context and CA store", "dns": "name resolution", "connect": "TCP connect",
             "tls": "TLS handshake", "wait": "waiting for another thread", "ha": "Home Assistant request",
             "handler": "the handler's own work", "runtime": "the runtime (interpreter, awslambdaric, hand-out)"}


def variant(shims_dir: Path, task_root: Path, trace: Path) -> Variant:
    """The bridge with the template's settings, traced into `trace`."""
    return Variant("bridge_traced", "bridge (artifact), traced", task_root,
                   {"BRIDGE_PRELOAD": "ha_alexa", "BENCH_TRACE": str(trace), **with_shims(shims_dir, task_root)},
                   "bench_trace.lambda_handler", warm=False)


def group(module: str) -> str:
    top = module.split(".")[0]
    if top in OURS:
        return "ours"
    if top in GROUPS:
        return GROUPS[top]
    return "stdlib" if top in sys.stdlib_module_names else "third-party"


def measure(bench, task_root: Path, shims_dir: Path, work: Path, runs: int) -> dict:
    """`runs` cold requests of the traced artifact (each followed by a second event, which writes the trace)."""
    from bench.runner import check

    traces = []
    for index in range(runs + 1):  # the first is discarded: disk cache
        print(f"bench.init_path: traced cold start {index}/{runs}", file=sys.stderr, flush=True)
        trace = work / f"trace-{index}.json"
        traced = variant(shims_dir, task_root, trace)
        first, _ = bench.invoke(traced, [bench.event, bench.event])
        check(traced, first)
        if index:
            traces.append(timeline({**json.loads(trace.read_text()), "runner": first.marks}))
    return summarise(traces)


def timeline(trace: dict) -> dict:
    """One traced cold start as segments (ms from the process's start, the hand-out's gap removed)."""
    runner, marks = trace["runner"], trace["marks"]
    t0, gap = runner["started"], runner["handout"] - runner["next"]

    def ms(t):
        return round(((t - gap if t >= runner["handout"] else t) - t0) * 1000, 3)

    segments = [{"thread": "MainThread", "kind": "runtime", "label": "runtime: interpreter and awslambdaric",
                 "start": 0.0, "end": ms(marks["shim"]), "cpu": None, "depth": 0}]
    for thread, kind, label, start, end, cpu, depth in trace["spans"]:
        if start >= runner["response"]:
            continue  # the second event's, which only writes the trace
        segments.append({"thread": thread, "kind": kind, "label": label, "start": ms(start), "end": ms(end),
                         "cpu": round(cpu, 3), "depth": depth})
    segments.append({"thread": "MainThread", "kind": "runtime", "label": "runtime: to its first /next",
                     "start": ms(marks["imports_end"]), "end": ms(runner["next"]), "cpu": None, "depth": 0})
    handler = next(s for s in segments if s["kind"] == "handler")
    segments.append({"thread": "MainThread", "kind": "runtime", "label": "runtime: the event's hand-out",
                     "start": ms(runner["handout"]), "end": handler["start"], "cpu": None, "depth": 0})
    segments.append({"thread": "MainThread", "kind": "runtime", "label": "runtime: serialise and post the answer",
                     "start": handler["end"], "end": ms(runner["response"]), "cpu": None, "depth": 0})
    init_ms, cold_ms = ms(runner["next"]), ms(runner["response"])
    return {"segments": segments, "init_ms": init_ms, "cold_ms": cold_ms, "modules": trace["modules"],
            "phases": phases(segments, init_ms, cold_ms), "imports": import_self_ms(segments)}


def phases(segments: list[dict], init_ms: float, cold_ms: float) -> dict:
    """The cold request cut into the pieces of the critical-path table: (start, duration, CPU) of each."""
    main = [s for s in segments if s["thread"] == "MainThread"]
    other = [s for s in segments if s["thread"] != "MainThread"]
    imports = [s for s in main if s["kind"] == "import" and s["depth"] == 0 and s["end"] <= init_ms]
    out = {}

    def add(name, parts, critical):
        parts = list(parts)
        if parts:
            cpu = [p["cpu"] for p in parts if p["cpu"] is not None]
            out[name] = {"start": min(p["start"] for p in parts), "ms": sum(p["end"] - p["start"] for p in parts),
                         "cpu": sum(cpu) if cpu else None, "critical": critical}

    add("runtime start: interpreter and awslambdaric (before the handler's module)",
        [s for s in main if s["label"] == "runtime: interpreter and awslambdaric"], True)
    add("INIT: imports on the main thread", imports, True)
    waits = [s for s in main if s["kind"] == "wait" and s["end"] <= init_ms]
    add("INIT: waiting for the preconnect (join)", waits, True)
    if waits and "INIT: imports on the main thread" in out:  # the join runs inside fast_path's import
        out["INIT: imports on the main thread"]["ms"] -= out["INIT: waiting for the preconnect (join)"]["ms"]
    add("INIT: the runtime, to its first /next", [s for s in main if s["label"] == "runtime: to its first /next"],
        True)
    for kind in ("ca", "dns", "connect", "tls"):
        add(f"preconnect thread: {KIND_TEXT[kind]}", [s for s in other if s["kind"] == kind and s["depth"] == 0
                                                      and s["end"] <= init_ms], False)
    add("preconnect thread: imports", [s for s in other if s["kind"] == "import" and s["depth"] == 0], False)
    handler = next(s for s in main if s["kind"] == "handler")
    ha = [s for s in main if s["kind"] == "ha"]
    add("first invocation: the runtime's hand-out", [s for s in main if s["label"] == "runtime: the event's hand-out"],
        True)
    if ha:
        add("first invocation: handler before Home Assistant",
            [{**handler, "end": ha[0]["start"], "cpu": None}], True)
        add("first invocation: the Home Assistant request (round trip, HA's work, reading)", ha, True)
        add("first invocation: handler after Home Assistant (answer, metrics, logs)",
            [{**handler, "start": ha[-1]["end"], "cpu": None}], True)
    add("first invocation: imports in the handler (within the above)",
        [s for s in main if s["kind"] == "import" and s["depth"] == 0 and s["start"] >= init_ms], True)
    add("first invocation: the runtime serialises and posts the answer",
        [s for s in main if s["label"] == "runtime: serialise and post the answer"], True)
    out["INIT (process start to /next)"] = {"start": 0.0, "ms": init_ms, "cpu": None, "critical": True}
    out["cold request (INIT + first invocation)"] = {"start": 0.0, "ms": cold_ms, "cpu": None, "critical": True}
    return out


def import_self_ms(segments: list[dict]) -> dict:
    """Per thread and group, the imports' own time (each module's span minus its nested imports')."""
    out: dict[str, dict[str, float]] = {}
    imports = [s for s in segments if s["kind"] == "import"]
    for span in imports:
        children = sum(c["end"] - c["start"] for c in imports if c["thread"] == span["thread"]
                       and c["depth"] == span["depth"] + 1 and span["start"] <= c["start"] and c["end"] <= span["end"])
        thread = out.setdefault(span["thread"], {})
        thread[group(span["label"])] = thread.get(group(span["label"]), 0.0) + span["end"] - span["start"] - children
    return out


def summarise(traces: list[dict]) -> dict:
    """Medians of each phase over the runs, and the run of median cold request (drawn)."""
    ordered = sorted(traces, key=lambda t: t["cold_ms"])
    median_run = ordered[(len(ordered) - 1) // 2]
    names = [name for name in median_run["phases"]]
    table = {}
    for name in names:
        rows = [t["phases"][name] for t in traces if name in t["phases"]]
        cpu = [r["cpu"] for r in rows if r["cpu"] is not None]
        table[name] = {"start": statistics.median(r["start"] for r in rows),
                       "ms": statistics.median(r["ms"] for r in rows),
                       "cpu": statistics.median(cpu) if cpu else None, "critical": rows[0]["critical"]}
    imports = {}
    for thread in {th for t in traces for th in t["imports"]}:
        groups = {g for t in traces for g in t["imports"].get(thread, {})}
        imports[thread] = {g: statistics.median(t["imports"].get(thread, {}).get(g, 0.0) for t in traces)
                           for g in groups}
    return {"runs": len(traces), "phases": table, "imports": imports, "median_run": median_run,
            "init_ms": statistics.median(t["init_ms"] for t in traces),
            "cold_ms": statistics.median(t["cold_ms"] for t in traces)}


def floor(stats: dict) -> dict | None:
    """The floor's INIT and its cold request plus the bridge's warm HA call (the lower bound), medians, if measured."""
    from bench.stats import get

    init, cold, ha = get(stats, "floor", "init_ms"), get(stats, "floor", "cold_ms"), get(stats, "bridge", "ha_ms", True)
    if not (init and cold and ha):
        return None
    return {"init_ms": init["median"], "cold_ms": cold["median"] + ha["median"]}


def write(report: dict, floor: dict | None = None) -> None:
    """The trace as JSON and the picture (if matplotlib is there) in bench/results/."""
    TRACE_JSON.parent.mkdir(parents=True, exist_ok=True)
    TRACE_JSON.write_text(json.dumps(report, indent=1) + "\n")
    report["png"] = draw(report["median_run"], floor)


def draw(run: dict, floor: dict | None = None) -> str | None:
    """The median run's segments: one row per thread, each import coloured by its innermost package's group."""
    try:
        import matplotlib
    except ImportError:
        print("bench.init_path: matplotlib missing (requirements-dev.txt): no picture", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    threads = ["MainThread"] + sorted({s["thread"] for s in run["segments"]} - {"MainThread"})
    figure, axes = pyplot.subplots(figsize=(11, 1.6 + 0.9 * len(threads)), dpi=120)
    used = {}
    for row, thread in enumerate(threads):
        # parents first: a nested import drawn over its parent shows which module runs at each moment
        own = sorted((s for s in run["segments"] if s["thread"] == thread), key=lambda s: (s["depth"], s["start"]))
        for s in own:
            colour_key = group(s["label"]) if s["kind"] == "import" else s["kind"]
            colour = COLOURS.get(colour_key, COLOURS["other"])
            used[colour_key] = colour
            height = 0.7 if s["kind"] != "wait" else 0.35
            axes.broken_barh([(s["start"], max(s["end"] - s["start"], 0.05))], (row - height / 2, height),
                             facecolors=colour, edgecolors="grey" if s["kind"] == "wait" else "none", linewidth=0.5)
    axes.axvline(run["init_ms"], color="black", linewidth=1)
    axes.text(run["init_ms"], len(threads) - 0.45, f" end of INIT {run['init_ms']:.0f} ms", fontsize=8)
    axes.axvline(run["cold_ms"], color="black", linewidth=1)
    axes.text(run["cold_ms"], len(threads) - 0.45, f" answer {run['cold_ms']:.0f} ms", fontsize=8)
    if floor:
        for value, text in ((floor["init_ms"], "floor's INIT"), (floor["cold_ms"], "floor's request + HA call")):
            axes.axvline(value, color="grey", linestyle="--", linewidth=1)
            axes.text(value, -0.75, f"{text} {value:.0f} ", fontsize=7, color="grey", ha="right")
    axes.set_yticks(range(len(threads)), [t.replace("MainThread", "main thread") for t in threads])
    axes.set_ylim(len(threads) - 0.3, -0.9)
    axes.set_xlim(0, run["cold_ms"] * 1.12)
    axes.set_xlabel("ms since the process started (the runner's hand-out gap after /next left out)")
    axes.set_title("One cold Smart Home request of the bridge artifact: INIT's critical path, per thread")
    labels = {k: KIND_TEXT.get(k, f"import: {k}") for k in used}
    axes.legend(handles=[Patch(color=used[k], label=labels[k]) for k in used], fontsize=7, ncol=4,
                loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
    figure.tight_layout()
    PNG.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PNG, metadata={"Software": None})
    pyplot.close(figure)
    return str(PNG.relative_to(PROJECT_ROOT))


def markdown(report: dict | None) -> str:
    if not report:
        return ""
    out = ["", "## INIT's critical path", "",
           f"The artifact traced by bench/shims/bench_trace.py, {report['runs']} cold requests (INIT"
           f" {report['init_ms']:.1f} ms, cold request {report['cold_ms']:.1f} ms, medians: the tracing adds a few ms)."
           " Each segment's median start and duration in ms, and its own CPU where it ran on one thread; the"
           " critical path is the main thread's. The picture is the run of median cold request.", "",
           "| segment | critical path | start | duration | its CPU |", "| --- | --- | --- | --- | --- |"]
    for name, p in report["phases"].items():
        cpu = "-" if p["cpu"] is None else f"{p['cpu']:.1f}"
        out.append(f"| {name} | {'yes' if p['critical'] else 'beside it'} | {p['start']:.1f} | {p['ms']:.1f} |"
                   f" {cpu} |")
    out += ["", "Imports by group, own time in ms (medians; a module's nested imports counted in their own group):",
            "", "| thread | " + " | ".join(["group", "ms"]) + " |", "| --- | --- | --- |"]
    for thread, groups in sorted(report["imports"].items()):
        for name, value in sorted(groups.items(), key=lambda item: -item[1]):
            if value >= 0.5:
                out.append(f"| {thread.replace('MainThread', 'main')} | {name} | {value:.1f} |")
    if report.get("png"):
        out += ["", f"![INIT's critical path, per thread]({Path(report['png']).relative_to('bench')})"]
    return "\n".join(out) + "\n"
