"""`sam build` through the real SAM CLI: the artifact holds only what runs in Lambda, compiled for it."""

import subprocess
import sys
import zipfile

import pytest

from devtools.sam import sam


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    run = sam("build", "--build-dir", str(build_dir))
    assert run.returncode == 0, run.stdout + run.stderr
    return build_dir / "BridgeFunction"


def test_sam_build_ships_only_runtime_code_with_hash_based_pyc(artifact):
    top = {path.name for path in artifact.iterdir()}
    assert {"lambda_function.py", "fast_path.py", "gateway", "ha_alexa", "ha_assist", "ha_devices",
            "aws_lambda_powertools", "websocket"} <= top
    assert not top & {"tests", "events", "devtools", "bench", "README.md", ".venv", "template.yaml", "boto3"}
    sources = [path for path in artifact.rglob("*.py") if "__pycache__" not in path.parts]
    for source in sources:
        cached = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        assert cached.exists(), f"no pyc for {source.relative_to(artifact)}"
        flags = int.from_bytes(cached.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{cached.name} is not an unchecked hash-based pyc"  # PEP 552
    assert len(sources) > 100


def test_the_artifact_imports_from_its_pyc_alone(artifact, tmp_path):
    """As on Lambda: a read-only copy, dated 1980 by SAM's zip, imports without compiling anything."""
    archive = tmp_path / "artifact.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in artifact.rglob("*"):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(artifact)), (1980, 1, 1, 0, 0, 0))
                zipped.writestr(info, path.read_bytes())
    task = tmp_path / "task"
    zipfile.ZipFile(archive).extractall(task)
    # Sources that would fail if compiled: importing them proves their pyc were used, dates notwithstanding.
    for module in ("fast_path.py", "gateway/ha_client.py", "ha_alexa/handlers.py", "aws_lambda_powertools/__init__.py"):
        with open(task / module, "a") as source:
            source.write("\nraise RuntimeError('compiled from source')\n")
    subprocess.run(["chmod", "-R", "a-w", str(task)], check=True)
    script = ("import sys, lambda_function;"
              " print(sorted(m for m in ('ha_alexa', 'aws_lambda_powertools') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-B", "-c", script], cwd=task, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(task)}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["['aws_lambda_powertools',", "'ha_alexa']"]
