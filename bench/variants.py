"""What the benchmark measures: the built artifact (built or checked first), the baselines and the shims' variants.

- bridge            the built artifact (.aws-sam/build/BridgeFunction: dependencies and hash-based .pyc);
- bridge, no .pyc   the same files without any .pyc, nothing written (PYTHONDONTWRITEBYTECODE): SAM's default;
- eager             baseline (a), bench/baselines/eager: boto3, requests, websocket-client, Powertools at module
                    level, requests to Home Assistant;
- one-file proxy    baseline (b), bench/baselines/one_file_proxy: urllib3, a new pool per invocation;
- floor             bench/baselines/floor: answers with a stored Discovery answer, calls nothing: the cost of
                    the interpreter and the runtime client alone (a reference, not a competitor);
- required          bench/baselines/required: the floor plus what the mission asks of any bridge (Powertools'
                    metrics, one HTTPS request with http.client on a connection opened during INIT), nothing more:
                    the bridge's dependencies at their least (a reference, not a competitor);
- candidate NAME    with --candidate DIR (repeatable): a changed copy of the artifact, to measure a change
                    before making it;

and, for the INIT choices, the artifact with the preconnect off and/or nothing preloaded (bench/shims).
"""

from __future__ import annotations

import compileall
import os
import py_compile
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devtools.local_invoke import link_distributions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_ROOT / "bench"
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build" / "BridgeFunction"
SHIMS_DIR = BENCH_DIR / "shims"
# What each baseline's deployment package would hold (pip install -r requirements.txt into the zip).
EAGER_DISTRIBUTIONS = ("requests", "websocket-client", "aws-lambda-powertools")
BRIDGE_ENV = {"BRIDGE_PRELOAD": "ha_alexa"}  # the template's default


@dataclass
class Variant:
    key: str
    label: str
    task_root: Path
    env: dict = field(default_factory=dict)
    handler: str = "lambda_function.lambda_handler"
    warm: bool = True  # also measured warm (the INIT-choice variants are measured cold only)
    note: str = ""
    # Who runs it: None, the bench's runtime; else a function of the task root giving the argv that starts the
    # runtime's interpreter (bench.python314's Python 3.14, through chroot).
    runtime: object = None


def bridge(task_root: Path = BUILD_DIR, label: str = "bridge (artifact)") -> Variant:
    """The bridge with the template's settings, from the built artifact (or another task root)."""
    return Variant("bridge", label, task_root, dict(BRIDGE_ENV), note="preload ha_alexa + preconnect (the defaults)")


def discovery(token: str) -> dict:
    """The request every variant answers: an Alexa Discovery directive carrying the user's token."""
    return {"directive": {
        "header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                   "messageId": "bench-discover-0001"},
        "payload": {"scope": {"type": "BearerToken", "token": token}}}}


# -- the artifact ----------------------------------------------------------------------------------------------


def pyc_status(root: Path, tag: str = sys.implementation.cache_tag) -> dict:
    """How many modules under `root` have an unchecked-hash .pyc for `tag`, by default this Python's (PEP 552
    flags == 0b01)."""
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


# -- the other task roots --------------------------------------------------------------------------------------


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


def shims(work: Path) -> Path:
    """bench/shims copied into `work` and compiled as the artifact is (unchecked-hash .pyc)."""
    target = work / "shims"
    shutil.copytree(SHIMS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(target, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return target


def with_shims(shims_dir: Path, task_root: Path = BUILD_DIR) -> dict:
    """The environment that puts the shims after the task root on the function's path."""
    return {"PYTHONPATH": f"{task_root}{os.pathsep}{shims_dir}"}


def all_variants(work: Path, shims_dir: Path, floor_answer: Path, candidates=()) -> list[Variant]:
    """Every variant of the cold and warm tables, the candidates first; task roots are made under `work`."""
    nopyc = copy_without_pyc(BUILD_DIR, work / "bridge-no-pyc")
    shimmed = with_shims(shims_dir)
    extra = [Variant(f"candidate:{path.name}", f"candidate {path.name}", path.resolve(), dict(BRIDGE_ENV),
                     note=f"a changed artifact: {path}") for path in candidates]
    return [*extra,
        bridge(),
        Variant("bridge_nopyc", "bridge, no .pyc", nopyc, {**BRIDGE_ENV, "PYTHONDONTWRITEBYTECODE": "1"},
                note="the artifact without any .pyc, none written: what SAM's default build ships"),
        Variant("eager", "baseline (a) eager", baseline_root("eager", work / "eager", EAGER_DISTRIBUTIONS)),
        Variant("one_file", "baseline (b) one-file proxy", baseline_root("one_file_proxy", work / "one_file")),
        Variant("floor", "floor: runtime only", baseline_root("floor", work / "floor"),
                {"BENCH_FLOOR_ANSWER": str(floor_answer)}, note="stored answer, no Home Assistant call"),
        Variant("required", "reference: required parts only", baseline_root(
            "required", work / "required", ("aws-lambda-powertools",)),
                note="Powertools' metrics and one http.client request on a connection opened during INIT"),
        Variant("no_preconnect", "bridge: preload, no preconnect", BUILD_DIR, {**BRIDGE_ENV, **shimmed},
                "bench_no_preconnect.lambda_handler", warm=False),
        Variant("no_preload", "bridge: no preload, no preconnect", BUILD_DIR, {"BRIDGE_PRELOAD": ""}, warm=False),
        Variant("preconnect_only", "bridge: no preload, preconnect", BUILD_DIR,
                {"BRIDGE_PRELOAD": "", **shimmed}, "bench_preconnect_only.lambda_handler", warm=False),
    ]
