"""Python 3.13 or 3.14: the artifact on each, side by side (`make bench`, or `python -m bench.run python314`).

Lambda has had a python3.14 runtime since November 2025; template.yaml says python3.13. This section runs the
bridge artifact and the floor (bench/baselines/floor) on each Python in the same run: cold (the four variants
taking turns within each round, after one discarded run each) and warm (a few tens of requests, one process per
variant, taking turns), through the benchmark's Runtime API, with its figures (bench.runner).

- Python 3.13 is the benchmark's own runtime (this machine's interpreter, the venv bench.run makes) and the built
  artifact as it is.
- Python 3.14 is devtools.pythons': this machine's if it has one, else a Debian testing root's python3.14 run
  through chroot (root only). Its runtime is a venv of it cached under $BRIDGE_CACHE, holding awslambdaric, boto3
  and their dependencies at the 3.13 runtime's versions (installed from inside the root, wheels only). Its
  artifact is a copy of the built one with the .pyc compiled by 3.14 (unchecked-hash, named for /var/task, as
  devtools/build_function.py compiles them). The artifact's dependencies must be pure Python: it is built for
  arm64, so a compiled one would run on neither Python here (checked).
- Through chroot the process is `unshare`, which `exec`s sh, which mounts, `exec`s chroot, a `cd` to the task root
  and the interpreter: the pid the runner reads the CPU clock and VmHWM of is the interpreter's from then on, and
  the wrapper's time is in 3.14's INIT. In each round the wrapper is timed alone (spawn to exit of /bin/true run
  through it, minus /bin/true run directly) and its median is taken out of 3.14's cold request for the verdict.
  Bridge minus floor takes out each Python's own start as well (and the difference between these two builds of
  CPython, neither of which is Lambda's).
- The verdict: 3.14 wins only if its cold request, and its cold request minus its floor's, are both lower than
  3.13's beyond the noise, measured and modelled at 128 MB, and its warm request, measured and modelled, is not
  higher beyond the noise (the noise: the larger of the two Pythons' median absolute deviations, shown beside each
  comparison).
"""

from __future__ import annotations

import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from bench.report import fmt
from bench.stats import analyse, get, summary
from bench.variants import BRIDGE_ENV, BUILD_DIR, Variant, baseline_root, copy_without_pyc, pyc_status
from devtools import pythons
from devtools.build_function import LAMBDA_TASK_ROOT
from devtools.local_invoke import RUNTIME_DISTRIBUTIONS, distribution_closure

WANTED = ((3, 14), (3, 15))  # python_for's lowest and below
WARM_MAX = 30  # warm requests per variant: a few tens
TITLE = "## Python 3.13 or 3.14"
COLD = (("cold_ms", "cold request measured"), ("cold128_ms", "cold request modelled 128 MB"))
WARM = (("ms", "warm request measured"), ("ms128", "warm request modelled 128 MB"))


class Runtime(NamedTuple):
    """Starts the runtime venv's interpreter (`python.executable`) for a task root: in the root, if any, after a
    `cd` to the task root (Lambda starts the runtime in /var/task), with `binds` visible at their own paths."""

    python: pythons.Python
    binds: tuple[str, ...]

    def __call__(self, task_root) -> list[str]:
        argv = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(task_root), self.python.executable]
        return self.python.wrap(argv, self.binds)


def runtime_pins() -> list[str]:
    """The 3.13 runtime's distributions (awslambdaric, boto3 and their requirements) at its versions."""
    return sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in distribution_closure(RUNTIME_DISTRIBUTIONS))


def runtime_venv(py: pythons.Python) -> Path:
    """A venv of `py` holding only `runtime_pins()`, cached (built under a temporary name and renamed when
    complete; rebuilt when the pins change)."""
    pins = "\n".join(runtime_pins()) + "\n"
    name = "lambda-runtime-py{}.{}".format(*py.version[:2]) + (f"-{py.root.name}" if py.root else "")
    venv, pins_file = pythons.cache_dir() / name, pythons.cache_dir() / name / "pins.txt"
    if py.exists(venv / "bin" / "python") and pins_file.is_file() and pins_file.read_text() == pins:
        return venv
    build = pythons.build_dir(venv)
    print(f"bench.python314: installing the Lambda runtime ({', '.join(runtime_pins()[:2])}...) for {py.describe()}"
          f" into {venv}", file=sys.stderr, flush=True)
    try:
        subprocess.run(py.command(["-m", "venv", str(build)]), check=True)
        pip = py.wrap([str(build / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"])
        subprocess.run([*pip, "install", "--only-binary=:all:", *pins.split()], check=True)
        subprocess.run([*pip, "uninstall", "-y", "pip"], check=True)  # the 3.13 runtime has none either
        (build / "pins.txt").write_text(pins)
        shutil.rmtree(venv, ignore_errors=True)
        build.rename(venv)
    except subprocess.CalledProcessError as err:
        raise pythons.Unavailable(f"installing the Lambda runtime for {py.describe()} failed (exit {err.returncode})"
                                  f" in {build}") from None
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return venv


def compile_with(py: pythons.Python, target: Path, *options: str) -> None:
    """`py -m compileall` over `target` (under the work directory, bound into the root)."""
    argv = ["-m", "compileall", "-q", "-j", "0", *options, str(target)]
    subprocess.run(py.command(argv, binds=[target]), check=True, stdout=sys.stderr)


def artifact(py: pythons.Python, target: Path) -> Path:
    """A copy of the built artifact at `target` with its .pyc compiled by `py` as devtools/build_function.py
    compiles them; refused if the artifact holds a compiled extension (built for 3.13's ABI only)."""
    extensions = [str(p.relative_to(BUILD_DIR)) for p in BUILD_DIR.rglob("*") if p.suffix in (".so", ".pyd")]
    if extensions:
        raise SystemExit(f"bench.python314: the artifact holds compiled extensions ({', '.join(extensions[:5])}),"
                         " built for Python 3.13: install their cp314 builds into its 3.14 copy (pip --target, with"
                         " requirements.txt's hashes) before measuring it")
    copy_without_pyc(BUILD_DIR, target)
    compile_with(py, target, "--invalidation-mode", "unchecked-hash", "-s", str(target), "-p", LAMBDA_TASK_ROOT)
    return target


def wrapper_ms(runtime: Runtime, task_root: Path) -> float:
    """The wrapper's own time: spawn to exit of /bin/true run through it, minus /bin/true run directly (ms)."""
    def spawn(argv: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(argv, check=True)
        return time.perf_counter() - started

    through = Runtime(runtime.python._replace(executable="/bin/true"), runtime.binds)(task_root)
    return (spawn(through) - spawn(["/bin/true"])) * 1000


def variants(py: pythons.Python, runtime: Runtime, work: Path, floor_answer: Path) -> list[Variant]:
    """The bridge and the floor on each Python; the 3.14 task roots are made under `work`."""
    floor_env, on_314 = {"BENCH_FLOOR_ANSWER": str(floor_answer)}, {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.14"}
    floor_314 = baseline_root("floor", work / "py314-floor")
    compile_with(py, floor_314)  # the installed module's timestamp .pyc, as baseline_root makes for 3.13
    return [
        Variant("bridge_313", "bridge, Python 3.13", BUILD_DIR, dict(BRIDGE_ENV)),
        Variant("bridge_314", "bridge, Python 3.14", artifact(py, work / "py314-bridge"), {**BRIDGE_ENV, **on_314},
                runtime=runtime),
        Variant("floor_313", "floor, Python 3.13", baseline_root("floor", work / "py313-floor"), floor_env),
        Variant("floor_314", "floor, Python 3.14", floor_314, {**floor_env, **on_314}, runtime=runtime),
    ]


def measure(bench, work: Path, floor_answer: Path, args) -> dict:
    """`args.runs` cold rounds of the four variants (and the wrapper alone), then `min(args.warm, WARM_MAX)` warm
    requests each; {"unavailable": why} when no Python 3.14 (or its runtime) can be had here."""
    try:
        py = pythons.python_for(*WANTED)
        venv = runtime_venv(py)
    except pythons.Unavailable as err:
        print(f"bench.python314: not measured: {err}", file=sys.stderr, flush=True)
        return {"unavailable": " ".join(str(err).split())}
    runtime = Runtime(py._replace(executable=str(venv / "bin" / "python")),
                      (str(work), str(Path(bench.proxy.ca_file).parent)))
    print(f"bench.python314: {py.describe()}, runtime {venv}", file=sys.stderr, flush=True)
    measured = variants(py, runtime, work, floor_answer)
    for variant in measured:  # discarded: fills the disk cache, checks that each variant answers
        bench.cold(variant)
    cold, wrapper = {v.key: [] for v in measured}, []
    for round_ in range(args.runs):
        print(f"bench.python314: cold round {round_ + 1}/{args.runs}", file=sys.stderr, flush=True)
        wrapper.append(wrapper_ms(runtime, work))
        shift = round_ % len(measured)
        for variant in measured[shift:] + measured[:shift]:
            cold[variant.key].append(bench.cold_pause(variant, args.pause))
    count = min(args.warm, WARM_MAX)
    print(f"bench.python314: {count} warm requests each, taking turns", file=sys.stderr, flush=True)
    warm = bench.warm(measured, count)
    tag = "cpython-{}{}".format(*py.version[:2])
    return {"runs": args.runs, "warm_count": count, "cold": cold, "warm": warm, "wrapper_ms": wrapper,
            "labels": {v.key: v.label for v in measured},
            "pythons": {"3.13": f"Python {platform.python_version()} ({Path(sys.executable).resolve()})",
                        "3.14": py.describe()},
            "pyc": {"tag": tag, **pyc_status(work / "py314-bridge", tag)}}


def mad(values: list[float]) -> float:
    """The median absolute deviation from the median."""
    middle = statistics.median(values)
    return statistics.median(abs(v - middle) for v in values)


def net(stats: dict, version: str, name: str, warm: bool = False) -> float:
    """Bridge minus floor on one Python ("313" or "314"): the difference of their medians of figure `name`."""
    return get(stats, f"bridge_{version}", name, warm)["median"] - get(stats, f"floor_{version}", name, warm)["median"]


def verdict(report: dict) -> dict:
    """Each comparison of the verdict, 3.13's median against 3.14's (ms), the noise (the larger of the two bridges'
    median absolute deviations), whether 3.14 passes it, and whether 3.14 wins: a lower cold request on each cold
    row, a warm request not higher beyond the noise on each warm row."""
    stats = analyse(report["cold"], report["warm"])
    wrapper = statistics.median(report["wrapper_ms"]) if report["wrapper_ms"] else 0.0
    rows = []
    for name, text in COLD:
        noise = max(mad([run[name] for run in report["cold"][key]]) for key in ("bridge_313", "bridge_314"))
        rows.append({"text": f"{text}, wrapper out", "py313": get(stats, "bridge_313", name)["median"],
                     "py314": get(stats, "bridge_314", name)["median"] - wrapper, "noise": noise, "cold": True})
        rows.append({"text": f"{text}, minus the floor", "py313": net(stats, "313", name),
                     "py314": net(stats, "314", name), "noise": noise, "cold": True})
    for name, text in WARM:
        old, new = ([run[name] for run in report["warm"][key]["runs"]] for key in ("bridge_313", "bridge_314"))
        rows.append({"text": text, "py313": statistics.median(old), "py314": statistics.median(new),
                     "noise": max(mad(old), mad(new)), "cold": False})
    for row in rows:
        # A win must beat the noise: lower beyond it on each cold row; warm, not higher beyond it.
        row["ok"] = (row["py314"] < row["py313"] - row["noise"] if row["cold"]
                     else row["py314"] <= row["py313"] + row["noise"])
    return {"rows": rows, "wins": all(row["ok"] for row in rows), "wrapper_ms": wrapper, "stats": stats}


def verdict_line(judged: dict) -> str:
    """The verdict in one line: which Python is lower on each comparison, and what follows for the template."""
    parts = []
    for row in judged["rows"]:
        lower = "3.14" if row["py314"] < row["py313"] else "3.13" if row["py314"] > row["py313"] else "neither"
        within = ", within the noise" if abs(row["py314"] - row["py313"]) <= row["noise"] else ""
        parts.append(f"{row['text']}: {lower} lower{within} ({row['py313']:.1f} vs {row['py314']:.1f},"
                     f" noise {row['noise']:.2f})")
    head = ("**3.14 wins**: lower beyond the noise on every cold comparison and not worse warm; the template could"
            " move to python3.14 once Lambda's own two runtimes agree (the two Pythons here are different builds)"
            if judged["wins"] else "**3.13 stays**: 3.14 does not win beyond the noise on everything; the template"
            " keeps python3.13")
    return f"Verdict: {head}. 3.13 vs 3.14, medians in ms: {'; '.join(parts)}."


def markdown(report: dict | None) -> str:
    if not report:
        return ""
    if "unavailable" in report:
        return f"\n{TITLE}\n\nNot measured: no Python 3.14 here ({report['unavailable']}).\n"
    judged = verdict(report)
    stats, labels, pyc, runs = judged["stats"], report["labels"], report["pyc"], report["runs"]
    out = ["", TITLE, "",
           f"The bridge artifact and the floor on {report['pythons']['3.13']} and on {report['pythons']['3.14']}, in"
           f" the same run: {runs} cold round{'s' * (runs != 1)}, the four taking turns, then {report['warm_count']}"
           " warm requests each, taking turns. 3.14's artifact is the built one with"
           f" {pyc['unchecked_hash']} of {pyc['modules']} modules compiled to unchecked-hash .pyc for {pyc['tag']}."
           " Median (min-max), ms, MB.", "",
           "| variant | INIT | first invocation | its CPU | **cold request** | modelled 128 MB | INIT CPU | peak RSS |"
           " **warm request** | warm, modelled 128 MB |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in ("bridge_313", "bridge_314", "floor_313", "floor_314"):
        s, w = stats[key], stats[key]["warm"]
        out.append(f"| {labels[key]} | {fmt(s['init_ms'])} | {fmt(s['first_ms'])} | {fmt(s['first_cpu_ms'])} |"
                   f" **{fmt(s['cold_ms'])}** | {fmt(s['cold128_ms'])} | {fmt(s['init_cpu_ms'])} |"
                   f" {fmt(s['rss_mb'], 0)} | **{fmt(w['ms'], 2)}** | {fmt(w['ms128'], 2)} |")
    for version in ("313", "314"):
        cells = [f"{net(stats, version, name):.1f}" for name in ("init_ms", "first_ms", "first_cpu_ms")]
        cells += [f"**{net(stats, version, 'cold_ms'):.1f}**", f"{net(stats, version, 'cold128_ms'):.1f}",
                  f"{net(stats, version, 'init_cpu_ms'):.1f}", f"{net(stats, version, 'rss_mb'):.0f}",
                  f"{net(stats, version, 'ms', True):.2f}", f"{net(stats, version, 'ms128', True):.2f}"]
        out.append(f"| bridge - floor, Python 3.{version[1:]} (medians) | {' | '.join(cells)} |")
    out += ["", "The chroot wrapper alone (spawn to exit of /bin/true through it, minus /bin/true):"
            f" {fmt(summary(report['wrapper_ms']), 2)} ms, within each 3.14 INIT above; the verdict takes its median"
            " out of 3.14's cold request.", "", verdict_line(judged), ""]
    return "\n".join(out)
