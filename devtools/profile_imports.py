"""Import profile of the built artifact's hot path: `python -m devtools.profile_imports [ARTIFACT]`, `make profile`.

Runs `python -X importtime -c "import lambda_function"` in fresh processes inside the artifact that `sam build`
made (its hash-based .pyc, its dependencies, nothing from the checkout), for the default BRIDGE_PRELOAD and for an
empty one, and prints medians grouped by top-level package, with the seed's budgets beside them. Only the
`import lambda_function` tree counts: the interpreter's own start-up imports (site, encodings) are left out. HA_URL
is unset, so no connection is opened; the numbers are pure import time on this machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARTIFACT = PROJECT_ROOT / ".aws-sam" / "build" / "BridgeFunction"
OURS = {"lambda_function", "fast_path", "gateway", "ha_alexa", "ha_assist", "ha_devices"}
POWERTOOLS = "aws_lambda_powertools"
# The seed's budgets: few packages on the hot path beyond the standard library and Powertools, and an import
# time well under 500 ms.
MAX_OTHER_PACKAGES = 4  # "fewer than 5"
MAX_TOTAL_MS = 500
SHOWN_MS = 1.0  # standard-library packages cheaper than this are folded into one row
# The modules loaded, printed after the import (print imports nothing new).
_SCRIPT = "import lambda_function, sys; print(*[name for name, module in sys.modules.items() if module is not None])"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")


def parse(stderr: str, loaded: set[str], root: str = "lambda_function") -> list[tuple[str, int, float, float]]:
    """(module, depth, self ms, cumulative ms) of each module that `import root` loaded, in importtime's order.

    importtime also lists imports that failed (`nt` on Linux, the `botocore` that gateway.powertools hides):
    only modules in `loaded` (sys.modules afterwards) count.
    """
    block = []
    for self_us, cumulative_us, indent, name in _LINE.findall(stderr):
        depth = (len(indent) - 1) // 2
        if name in loaded:
            block.append((name, depth, int(self_us) / 1000, int(cumulative_us) / 1000))
        if depth == 0:
            if name == root:
                return block
            block = []  # a start-up import of the interpreter, not the hot path's
    raise ValueError(f"no `import {root}` in the importtime output")


def group(block: list[tuple[str, int, float, float]]) -> dict[str, dict[str, float]]:
    """Per top-level package: modules, own ms (its modules' self time) and cumulative ms (with what it imported
    first: the cumulative time of each import that entered the package from outside it)."""
    groups: dict[str, dict[str, float]] = {}
    parents: dict[int, str] = {}  # importtime prints a module after its imports: the parent comes later, at depth-1
    for name, depth, self_ms, cumulative_ms in reversed(block):
        package = name.split(".")[0]
        parents[depth] = package
        entry = groups.setdefault(package, {"modules": 0, "own_ms": 0.0, "cumulative_ms": 0.0})
        entry["modules"] += 1
        entry["own_ms"] += self_ms
        if depth == 0 or parents.get(depth - 1) != package:
            entry["cumulative_ms"] += cumulative_ms
    return groups


def kind(package: str) -> str:
    if package in OURS:
        return "ours"
    if package == POWERTOOLS:
        return "Powertools"
    if package in sys.stdlib_module_names:
        return "stdlib"
    return "third-party"


def profile(artifact: Path, preload: str, runs: int, python: str) -> dict:
    """Medians over `runs` fresh processes: total ms, and per package modules, own ms and cumulative ms."""
    env = {"PATH": os.environ.get("PATH", ""), "BRIDGE_PRELOAD": preload, "LANG": "C.UTF-8"}
    totals, per_run = [], []
    for _ in range(runs):
        # -B: never write .pyc into the artifact; -E -s: no PYTHON* variables, no user site (as in Lambda).
        command = [python, "-B", "-E", "-s", "-X", "importtime", "-c", _SCRIPT]
        run = subprocess.run(command, cwd=artifact, env=env, capture_output=True, text=True, check=False, timeout=120)
        if run.returncode != 0:
            sys.exit(f"profile_imports: `import lambda_function` failed in {artifact}:\n{run.stderr[-2000:]}")
        block = parse(run.stderr, set(run.stdout.split()))
        totals.append(block[-1][3])
        per_run.append(group(block))
    packages = {}
    for package in {name for groups in per_run for name in groups}:
        rows = [groups.get(package, {"modules": 0, "own_ms": 0.0, "cumulative_ms": 0.0}) for groups in per_run]
        packages[package] = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    return {"total_ms": statistics.median(totals), "packages": packages}


def report(label: str, result: dict, runs: int) -> tuple[list[str], bool]:
    packages = result["packages"]
    rows = sorted(packages.items(), key=lambda item: (-item[1]["cumulative_ms"], item[0]))
    shown = [(name, row) for name, row in rows if kind(name) != "stdlib" or row["cumulative_ms"] >= SHOWN_MS]
    folded = [row for name, row in rows if (name, row) not in shown]
    lines = [f"## BRIDGE_PRELOAD={label}: `import lambda_function`, medians of {runs} fresh processes", "",
             "| package | kind | modules | own ms | cumulative ms |", "| --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    lines += [f"| {name} | {kind(name)} | {row['modules']:.0f} | {row['own_ms']:.1f} | {row['cumulative_ms']:.1f} |"
              for name, row in shown]  # fmt: skip
    if folded:
        lines.append(f"| {len(folded)} more packages, each under {SHOWN_MS:g} ms | stdlib | "
                     f"{sum(r['modules'] for r in folded):.0f} | {sum(r['own_ms'] for r in folded):.1f} | |")
    by_kind: dict[str, list[str]] = {}
    for name in packages:
        by_kind.setdefault(kind(name), []).append(name)
    modules = {k: sum(packages[name]["modules"] for name in names) for k, names in by_kind.items()}
    third_party = sorted(by_kind.get("third-party", []))
    ok_other, ok_total = len(third_party) <= MAX_OTHER_PACKAGES, result["total_ms"] < MAX_TOTAL_MS
    lines += [
        "",
        f"modules loaded: {sum(modules.values()):.0f} ("
        + ", ".join(f"{k} {modules[k]:.0f}" for k in ("stdlib", "Powertools", "third-party", "ours") if k in modules)
        + f"); our packages: {', '.join(sorted(by_kind.get('ours', [])))}",
        f"budget: third-party packages besides Powertools: {len(third_party)} ({', '.join(third_party) or 'none'}),"
        f" fewer than {MAX_OTHER_PACKAGES + 1}: {'ok' if ok_other else 'OVER'}",
        f"budget: import time {result['total_ms']:.1f} ms, under {MAX_TOTAL_MS} ms: {'ok' if ok_total else 'OVER'}",
        "",
    ]
    return lines, ok_other and ok_total


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", nargs="?", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=sys.executable, help="the interpreter (Lambda's runtime: 3.13)")
    args = parser.parse_args(argv)
    if not (args.artifact / "lambda_function.py").is_file():
        sys.exit(f"profile_imports: no built function in {args.artifact}: run `make build` first")
    ok = True
    shown = args.artifact.relative_to(PROJECT_ROOT) if args.artifact.is_relative_to(PROJECT_ROOT) else args.artifact
    print(f"# Import profile of {shown}")
    print("own ms: the package's modules' own import time; cumulative ms: with what it imported first\n")
    for label, preload in (("ha_alexa (default)", "ha_alexa"), ('"" (nothing preloaded)', "")):
        lines, within = report(label, profile(args.artifact, preload, args.runs, args.python), args.runs)
        print("\n".join(lines))
        ok &= within
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
