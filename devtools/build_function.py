"""Build the Lambda artifact of BridgeFunction: `python3.13 devtools/build_function.py ARTIFACTS_DIR`.

`sam build` runs this through the Makefile's build-BridgeFunction target (template.yaml: BuildMethod makefile).
The artifact holds only what runs in Lambda: the entry modules, the feature packages and `gateway`, the
requirements.txt dependencies as wheels for linux arm64 / CPython 3.13, each checked against its sha256 in
requirements.txt, and a .pyc for every module.

Why the .pyc: /var/task is read-only, so without them every cold start compiles every module it imports.
They are unchecked-hash pyc because SAM's zip dates every file 1980, so timestamp pyc would never match
their source and would be ignored; a hash-based pyc does not look at the date (PEP 552).
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNTIME_MODULES = ("lambda_function.py", "fast_path.py")
RUNTIME_PACKAGES = ("gateway", "ha_alexa", "ha_assist", "ha_devices")
LAMBDA_PYTHON = (3, 13)
LAMBDA_PLATFORM = "manylinux2014_aarch64"  # template.yaml: Architectures [arm64]
LAMBDA_TASK_ROOT = "/var/task"  # where the code lives in Lambda: the file name compiled into each pyc
NOT_SHIPPED = shutil.ignore_patterns("__pycache__", "*.py[co]", ".*")


def install_dependencies(target: Path) -> None:
    """Install requirements.txt for Lambda's platform, whatever platform builds it.

    --require-hashes: every file must have a sha256 that requirements.txt lists (`make requirements` writes
    them), so an index that serves another file under the same name and version is refused.
    """
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--require-hashes", "--target", str(target), "--platform", LAMBDA_PLATFORM, "--only-binary=:all:",
         "--implementation", "cp", "--python-version", "{}.{}".format(*LAMBDA_PYTHON),
         "-r", str(PROJECT_ROOT / "requirements.txt")],
        check=True,
    )
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts (wsdump): nothing in Lambda runs them
    for tests in target.glob("*/tests"):  # a dependency's own test suite (websocket-client ships one)
        shutil.rmtree(tests)


def copy_code(target: Path) -> None:
    for name in RUNTIME_MODULES:
        shutil.copy2(PROJECT_ROOT / name, target / name)
    for name in RUNTIME_PACKAGES:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, target / name, ignore=NOT_SHIPPED)
        else:
            print(f"build_function: warning: package {name}/ does not exist, not shipped", file=sys.stderr)


def compile_all(target: Path) -> None:
    ok = compileall.compile_dir(
        target, quiet=1, workers=0, stripdir=str(target), prependdir=LAMBDA_TASK_ROOT,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        sys.exit("build_function: compileall failed")


def zipped_size(directory: Path) -> int:
    """Size in bytes of the directory as a deflated zip, close to what `sam deploy` uploads."""
    with tempfile.TemporaryFile() as buffer:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(directory.rglob("*")):
                archive.write(path, path.relative_to(directory))
        return buffer.tell()


def clear(target: Path) -> None:
    if target == PROJECT_ROOT or target in PROJECT_ROOT.parents:
        sys.exit(f"build_function: refusing to empty {target}: it holds the project")
    target.mkdir(parents=True, exist_ok=True)
    for child in target.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def build(target: Path) -> None:
    started = time.perf_counter()
    clear(target)
    install_dependencies(target)
    copy_code(target)
    compile_all(target)
    files = [path for path in target.rglob("*") if path.is_file()]
    unzipped = sum(path.stat().st_size for path in files)
    print(
        f"build_function: {target}: {len(files)} files, {unzipped} bytes, {zipped_size(target)} bytes zipped,"
        f" built in {time.perf_counter() - started:.1f} s"
    )


def main(argv: list[str]) -> None:
    if sys.version_info[:2] != LAMBDA_PYTHON:
        sys.exit("build_function: run with Python {}.{} (Lambda's runtime) so the .pyc are valid there, not {}"
                 .format(*LAMBDA_PYTHON, sys.version.split()[0]))
    if len(argv) != 1:
        sys.exit(f"usage: {Path(sys.executable).name} devtools/build_function.py ARTIFACTS_DIR")
    build(Path(argv[0]).resolve())


if __name__ == "__main__":
    main(sys.argv[1:])
