"""devtools.pythons without debootstrap or chroot: which Python is taken, the command a root's Python runs
with, paths seen from inside a root, and a broken or half-built root. Temporary caches only."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import pythons

HERE = tuple(sys.version_info[:3])


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))
    pythons.debian_root.cache_clear()
    yield tmp_path / "cache"
    pythons.debian_root.cache_clear()


def fake_root(path: Path) -> Path:
    """The files a healthy root has, as debootstrap would leave them (the interpreter a symlink, as Debian's)."""
    (path / "usr" / "bin").mkdir(parents=True)
    (path / "usr" / "bin" / "python3.14").write_text("")
    (path / "usr" / "bin" / "python3").symlink_to("python3.14")
    (path / "bin").mkdir()
    (path / "bin" / "sh").write_text("")
    (path / "proc").mkdir()
    return path


def test_this_machines_python_is_taken_first_and_runs_as_it_is(monkeypatch, cache):
    monkeypatch.setenv("BRIDGE_HA_PYTHON", sys.executable)
    py = pythons.python_for(HERE[:2], (HERE[0], HERE[1] + 1))
    assert py == pythons.Python(sys.executable, HERE, None)
    assert py.command(["-c", "pass"], binds=["/somewhere"]) == [sys.executable, "-c", "pass"]
    assert subprocess.run(py.command(["-c", "import sys; sys.exit(7)"])).returncode == 7


def test_without_such_a_python_and_without_root_it_says_what_is_missing(monkeypatch, cache):
    if HERE >= (3, 14, 2):
        pytest.skip("this Python is itself >= 3.14.2: the make test runs on 3.13 and 3.11 check this")
    monkeypatch.setattr(pythons, "candidates", lambda: [sys.executable])
    monkeypatch.setattr(pythons.os, "geteuid", lambda: 1000)
    with pytest.raises(pythons.Unavailable) as missing:
        pythons.python_for((3, 14, 2), (3, 15))
    message = str(missing.value)
    assert "no Python >= 3.14.2 (below 3.15) on this machine" in message
    assert "only root" in message and "BRIDGE_HA_PYTHON" in message
    assert not cache.exists()  # nothing built
    with pytest.raises(pythons.Unavailable, match="no Python >= 3.99"):  # a version no Debian root has
        pythons.python_for((3, 99), (3, 100))


def test_a_roots_python_runs_in_a_private_mount_namespace_with_the_cache_and_binds_at_their_own_paths(cache, tmp_path):
    root = fake_root(tmp_path / "root")
    work = tmp_path / "work dir"
    py = pythons.Python("/usr/bin/python3.14", (3, 14, 8), root)
    argv = py.command(["-c", "print(1)"], binds=[work])
    assert argv[:5] == ["unshare", "--mount", "--propagation", "private", "sh"]  # mounts die with the process
    script = argv[6]
    assert script.index(f"mount --bind {cache} ") < script.index("mount -t proc")
    assert f"mount --bind '{work}' '{root}{work}'" in script  # quoted; at the same path inside
    assert f"exec chroot {root} /usr/bin/env" in script and "PATH=/usr/local/sbin:" in script
    assert argv[-3:] == ["/usr/bin/python3.14", "-c", "print(1)"]
    assert (root / str(cache).lstrip("/")).is_dir() and (root / str(work).lstrip("/")).is_dir()  # mount points


def test_paths_are_seen_as_the_root_sees_them_and_the_cache_as_this_machines(cache, tmp_path):
    root = fake_root(tmp_path / "root")
    venv = cache / "ha-venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to("python3.14")  # as `python3.14 -m venv` makes it, inside the root
    (venv / "python3.14").symlink_to("/usr/bin/python3.14")
    py = pythons.Python("/usr/bin/python3.14", (3, 14, 8), root)
    assert py.exists("/usr/bin/python3") and py.exists(venv / "python")
    os.remove(root / "usr" / "bin" / "python3.14")
    assert not py.exists(venv / "python") and not py.exists("/usr/bin/python3")


def test_a_broken_root_is_rebuilt_and_a_killed_builds_leftovers_swept(monkeypatch, cache, capsys):
    root = cache / pythons.ROOT_NAME
    (root / "etc").mkdir(parents=True)  # no Python: an interrupted rename or a removed package
    stale = cache / f".{pythons.ROOT_NAME}.build-999999999"  # no such process
    stale.mkdir()
    debootstrap = cache.parent / "debootstrap"
    # debootstrap's last two arguments are the suite and the target when it knows the suite, else mirror, script
    debootstrap.write_text("#!/bin/sh\nfor a; do case $a in */.debian-forky.build-*) t=$a;; esac; done\n"
                           "mkdir -p $t/usr/bin $t/bin && touch $t/usr/bin/python3.14 $t/bin/sh && echo made $t\n")
    debootstrap.chmod(0o755)
    monkeypatch.setattr(pythons, "_debootstrap", lambda: str(debootstrap))
    monkeypatch.setattr(pythons, "_debian_mirror", lambda: "http://mirror.invalid/debian")

    assert pythons.debian_root() == root
    assert (root / "usr" / "bin" / "python3.14").exists() and not (root / "etc" / "hosts").is_symlink()
    assert sorted(p.name for p in cache.iterdir()) == [pythons.ROOT_NAME, f"{pythons.ROOT_NAME}.debootstrap.log"]
    err = capsys.readouterr().err
    assert "is broken" in err and "building a Debian forky root" in err and "built the Debian forky root" in err
    if Path("/etc/resolv.conf").is_file():
        assert (root / "etc" / "resolv.conf").read_bytes() == Path("/etc/resolv.conf").read_bytes()


def test_a_failed_debootstrap_says_why_and_leaves_nothing_half_built(monkeypatch, cache):
    debootstrap = cache.parent / "debootstrap"
    debootstrap.write_text("#!/bin/sh\necho 'E: Failed getting release file' >&2\nexit 1\n")
    debootstrap.chmod(0o755)
    monkeypatch.setattr(pythons, "_debootstrap", lambda: str(debootstrap))
    monkeypatch.setattr(pythons, "_debian_mirror", lambda: "http://mirror.invalid/debian")
    with pytest.raises(pythons.Unavailable, match="(?s)debootstrap failed .exit 1.*Failed getting release file"):
        pythons.debian_root()
    assert [p.name for p in cache.iterdir()] == [f"{pythons.ROOT_NAME}.debootstrap.log"]


def test_the_mirror_is_the_one_apts_sources_name(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
                      "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert pythons._debian_mirror([tmp_path / "missing", deb822]) == "http://mirror.example/debian"
    assert pythons._debian_mirror([one_line]) == "http://other.example/debian"
    with pytest.raises(pythons.Unavailable, match="name no Debian mirror"):
        pythons._debian_mirror([tmp_path / "missing"])
