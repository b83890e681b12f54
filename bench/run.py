"""The benchmark's command line: `make bench` (`python -m bench.run [SECTION] [--runs 10] [--warm 100] ...`).

Every run is a fresh process through the real Lambda runtime interface client (bench/runtime_api.py) against
the real Home Assistant of the tests (devtools.demo_ha), reached over TLS through bench/tls_proxy.py, which adds a
network round-trip delay. The request is an Alexa Discovery directive carrying the user's token. What is compared
is in bench/variants.py; the runner is bench/runner.py, the statistics bench/stats.py, the writer bench/report.py.

Isolation: each function runs with a Python that sees only what Lambda's would. A throwaway venv of the same
interpreter plays Lambda's runtime: it holds awslambdaric, boto3 and their dependencies (urllib3 among them), linked
from .venv, and nothing else. The function's own directory (task root, first on PYTHONPATH) holds the rest: the
artifact ships its dependencies; a baseline's directory links what its deployment package would contain.

SECTION is `all` (the default: every section; writes bench/RESULTS.md, bench/results/latest.json, the pictures
and the figures the docs quote) or one section alone, printed and not written into RESULTS.md: `init-path`
(INIT's critical path, bench/init_path.py; it writes its picture), `scale` (Discovery at scale and bursts,
bench/scale.py), `emulator` (the cross-check against Amazon's emulator, bench/emulator.py) or `python314` (the
artifact on Python 3.13 and 3.14 side by side, bench/python314.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from bench import docs_figures, emulator, init_path, python314, report, scale
from bench.runner import Bench
from bench.stats import CPU_STRETCH, analyse
from bench.variants import BENCH_DIR, BUILD_DIR, all_variants, bridge, discovery, ensure_artifact, shims
from devtools.local_invoke import make_runtime

RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = BENCH_DIR / "results" / "latest.json"
SECTIONS = ("all", "init-path", "scale", "emulator", "python314")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("section", nargs="?", choices=SECTIONS, default="all",
                        help="what to measure: all (default, writes RESULTS.md) or one section alone (printed)")
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
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: write --out and the docs' figures again from --json's runs")
    scale.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warm < 1:
        parser.error("--runs and --warm must be at least 1")
    for candidate in args.candidate:
        if not (candidate / "lambda_function.py").exists():
            parser.error(f"--candidate {candidate}: no lambda_function.py there")
    return args


def cold_and_warm(bench: Bench, variants: list, args) -> tuple[dict, dict]:
    """The cold runs (variants taking turns within each round, after one discarded run each), then the warm ones."""
    for variant in variants:  # discarded: fills the disk cache, checks that each variant answers
        bench.cold(variant)
    cold = {v.key: [] for v in variants}
    for round_ in range(args.runs):
        print(f"bench: cold round {round_ + 1}/{args.runs}", file=sys.stderr, flush=True)
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            cold[variant.key].append(bench.cold_pause(variant, args.pause))
    warm_variants = [v for v in variants if v.warm]
    print(f"bench: {args.warm} warm requests each, taking turns: {', '.join(v.key for v in warm_variants)}",
          file=sys.stderr, flush=True)
    return cold, bench.warm(warm_variants, args.warm)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        return render(args)
    from bench.tls_proxy import ProxyProcess
    from devtools.demo_ha import DemoHomeAssistant

    started, load_before = time.monotonic(), report.load_average()
    artifact = ensure_artifact(args.build)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        python = make_runtime(work / "runtime")
        if args.section == "scale":
            print(scale.markdown(scale.measure(python, bridge(), args)))
            return 0
        print("bench: starting Home Assistant", file=sys.stderr, flush=True)
        ha = stack.enter_context(DemoHomeAssistant())
        proxy = stack.enter_context(ProxyProcess(ha.url, args.delay_ms))
        event = discovery(ha.token)
        bench = Bench(python, proxy, event, args.memory)
        if args.section == "emulator":
            bench.cold(bridge())  # discarded: fills the disk cache
            print(emulator.markdown(emulator.measure(bench, bridge(), args.runs, min(args.warm, 10))))
            return 0
        if args.section == "init-path":
            path = init_path.measure(bench, BUILD_DIR, shims(work), work, args.runs)
            init_path.write(path)
            print(init_path.markdown(path))
            return 0
        answer = ha.api("POST", "/api/alexa/smart_home", json=event).body
        floor_answer = work / "discovery-answer.json"
        floor_answer.write_text(json.dumps(answer))
        if args.section == "python314":
            print(python314.markdown(python314.measure(bench, work, floor_answer, args)))
            return 0
        shims_dir = shims(work)
        variants = all_variants(work, shims_dir, floor_answer, args.candidate)
        if args.only:
            wanted = set(args.only.split(",")) | {"bridge"}
            variants = [v for v in variants if v.key in wanted or v.key.startswith("candidate:")]
        cold, warm = cold_and_warm(bench, variants, args)
        path_report = init_path.measure(bench, BUILD_DIR, shims_dir, work, args.runs)
        the_bridge = next(v for v in variants if v.key == "bridge")
        scale_report = scale.measure(python, the_bridge, args)
        emulator_report = emulator.measure(bench, the_bridge, args.runs, min(args.warm, 10))
        python314_report = python314.measure(bench, work, floor_answer, args)
        leaked = list((work / "bridge-no-pyc").rglob("*.pyc"))
        if leaked:
            raise SystemExit(f"bench: the no-.pyc variant wrote {len(leaked)} .pyc files: its numbers are wrong")

    stats = analyse(cold, warm)
    init_path.write(path_report, init_path.floor(stats))
    results = {
        "argv": " ".join(sys.argv[1:] if argv is None else argv) or "(defaults)",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": time.monotonic() - started, "machine": report.machine(),
        "load": [load_before, report.load_average()],
        "python": platform.python_version(), "cache_tag": sys.implementation.cache_tag,
        "awslambdaric": metadata.version("awslambdaric"),
        "home_assistant": ha.version,  # the release that ran (devtools.demo_ha picks it)
        "answer_bytes": len(json.dumps(answer)), "endpoints": len(answer["event"]["payload"]["endpoints"]),
        "config": {"runs": args.runs, "warm": args.warm, "delay_ms": args.delay_ms, "pause_s": args.pause,
                   "memory": args.memory, "cpu_stretch": CPU_STRETCH},
        "artifact": artifact,
        "variants": [{"key": v.key, "label": v.label, "handler": v.handler, "note": v.note,
                      "env": {k: val for k, val in v.env.items() if k != "PYTHONPATH"}} for v in variants],
        "stats": stats, "cold": cold, "warm": warm,
    }
    results["scale"], results["emulator"] = scale_report, emulator_report
    results["python314"] = python314_report
    results["init_path"] = {k: v for k, v in path_report.items() if k != "median_run"}  # the picture has that run
    write(results, args, init_path.markdown(path_report))
    print(f"bench: wrote {args.out} and {args.json} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


def write(results: dict, args, path_section: str) -> None:
    """RESULTS.md (and its JSON) from `results`; with the default --out, the figures of the README and docs too."""
    stats = results["stats"]
    results["goals"] = {key: report.goals(stats, key) for key in ["bridge", *report.candidate_keys(stats)]}
    sections = (path_section + scale.markdown(results.get("scale") or {})
                + emulator.markdown(results.get("emulator")) + python314.markdown(results.get("python314")))
    text = report.markdown(results) + sections
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.out.resolve() == RESULTS_MD.resolve():
        rewritten = docs_figures.rewrite(results)
        print(f"bench: the figures of {', '.join(rewritten) or 'no page'} rewritten", file=sys.stderr)
    print(text.split("## How this is measured")[0] + sections)


def render(args) -> int:
    """--render: the report written again from the runs of --json (after a change to the writer, say)."""
    results = json.loads(args.json.read_text())
    write(results, args, init_path.markdown(results.get("init_path")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
