"""The shipped dependencies are pinned with hashes, and the build refuses a file whose hash does not match."""

import os
import re
import subprocess
import sys
import zipfile

import pytest

from devtools import build_function
from support import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path) -> dict[str, str]:
    """{canonical name: version} of the `name==version` lines of a requirements or constraints file."""
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            found[canonical(match.group(1))] = match.group(2)
    return found


def shipped() -> list[tuple[str, str, list[str]]]:
    """(name, version, hashes) of each requirement in requirements.txt (its continuation lines joined)."""
    text = (ROOT / "requirements.txt").read_text().replace("\\\n", " ")
    entries = []
    for line in text.splitlines():
        if match := PIN.match(line):
            entries.append((match.group(1), match.group(2), HASH.findall(line)))
    return entries


def test_every_shipped_dependency_is_pinned_with_its_hashes():
    entries = shipped()
    assert entries
    for name, version, hashes in entries:
        assert hashes, f"{name}=={version} has no --hash"
    direct = {canonical(name) for name in pins(ROOT / "requirements.in")}
    assert direct <= {canonical(name) for name, _, _ in entries}
    assert "-r requirements.in" in (ROOT / "requirements-dev.txt").read_text()  # the dev venv installs the same


def test_the_dev_venv_tests_the_versions_that_ship():
    constraints = pins(ROOT / "constraints.txt")
    for name, version, _ in shipped():
        assert constraints.get(canonical(name)) == version, name


def fake_wheel(directory, name: str, version: str):
    """A valid, installable wheel with the name and version of a pinned requirement, and other contents."""
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"
    path = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        module = f"swapped_{stem.split('-')[0]}.py"
        wheel.writestr(module, "raise SystemExit('a swapped wheel ran')\n")
        wheel.writestr(f"{stem}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{stem}.dist-info/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{stem}.dist-info/RECORD", f"{module},,\n{stem}.dist-info/METADATA,,\n"
                                                   f"{stem}.dist-info/WHEEL,,\n{stem}.dist-info/RECORD,,\n")
    return path


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A directory of wheels that pip uses as its only index: no PyPI, none of this machine's pip configuration."""
    directory = tmp_path / "index"
    directory.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(directory))
    return directory


def test_the_build_refuses_a_wheel_whose_hash_does_not_match(index, tmp_path, capfd):
    """A compromised index: every pinned name and version is there, with other files. The build installs nothing."""
    entries = shipped()
    for name, version, _ in entries:
        fake_wheel(index, name, version)
    target = tmp_path / "artifact"
    target.mkdir()
    with pytest.raises(subprocess.CalledProcessError):
        build_function.install_dependencies(target)
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in capfd.readouterr().err
    assert not list(target.glob("swapped_*"))

    # The same files install without hash checking: the hashes, nothing else, stopped them.
    control = tmp_path / "control"
    pins = [f"{name}=={version}" for name, version, _ in entries]
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(control), *pins],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert len(list(control.glob("swapped_*"))) == len(entries)


def test_the_build_refuses_a_requirement_added_without_its_hash(index, tmp_path, monkeypatch, capfd):
    """Hand-edited requirements.txt: a line without --hash (any hash in the file would check only the others)."""
    fake_wheel(index, "websocket-client", "1.9.2")
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("websocket-client==1.9.2\n")
    monkeypatch.setattr(build_function, "PROJECT_ROOT", project)
    target = tmp_path / "artifact"
    target.mkdir()
    with pytest.raises(subprocess.CalledProcessError):
        build_function.install_dependencies(target)
    assert "Hashes are required in --require-hashes mode" in capfd.readouterr().err
    assert not list(target.glob("swapped_*"))
