"""A Python of a given version for Home Assistant (or a benchmark): one on this machine, else a Debian root's.

``python_for((3, 14, 2), (3, 15))`` answers a :class:`Python` from, in order, ``$BRIDGE_HA_PYTHON``, PATH
(``python3.14``, ``python3``...) and pyenv's versions; failing those, for a version Debian's testing suite
ships, the ``python3.X`` of a Debian testing ("forky") root built with debootstrap under
``$BRIDGE_CACHE/debian-forky`` (once, about 2 minutes and 300 MB; built under a temporary name and renamed when
complete; rebuilt when broken). A root's Python runs through ``chroot`` in a private mount namespace
(``unshare --mount``): the machine's network is shared, so a server in it listens on the machine's 127.0.0.1,
and the cache and the given directories are bind-mounted at their own paths, so paths agree inside and out.
Those mounts live only as long as the process: nothing is left mounted after it exits, however it ends.

    from devtools import pythons
    py = pythons.python_for((3, 14, 2), (3, 15))     # raises pythons.Unavailable saying what is missing
    subprocess.run(py.command(["-c", "import sys; print(sys.version)"], binds=[workdir]))
    py.version, py.root                                # (3, 14, 8), Path(...)/debian-forky (None: native)

Only root can build the Debian root and chroot into it; without root :class:`Unavailable` says so.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

SUITE = "forky"  # Debian's testing suite in 2026: Python 3.14
ROOT_NAME = f"debian-{SUITE}"
ROOT_PACKAGES = ("python3.14", "python3.14-venv", "ca-certificates", "curl")
ROOT_PYTHONS = {(3, 14): "/usr/bin/python3.14"}  # what the root's packages install
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Files of this machine the root needs as they are here: its CA bundle (pip through the machine's proxy), DNS.
HOST_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/resolv.conf", "/etc/hosts")
CA_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class Unavailable(RuntimeError):
    """No such Python here, and none can be made: the message says what is missing and how to add it."""


class Python(NamedTuple):
    """An interpreter: ``executable`` as the process sees it; ``root`` the Debian root it runs in (None: native)."""

    executable: str
    version: tuple[int, int, int]
    root: Path | None = None

    def command(self, args: Sequence[str], binds: Iterable[str | os.PathLike] = ()) -> list[str]:
        """The argv that runs ``executable *args``; in a root, with the cache and ``binds`` at their own paths."""
        return self.wrap([self.executable, *map(str, args)], binds)

    def wrap(self, argv: Sequence[str], binds: Iterable[str | os.PathLike] = ()) -> list[str]:
        """The argv that runs any program of the root (or of this machine, for a native Python)."""
        if self.root is None:
            return list(argv)
        mounts = []
        cache_dir().mkdir(parents=True, exist_ok=True)
        for path in sorted({str(Path(p).resolve()) for p in [cache_dir(), *binds]}):  # parents before children
            target = self.root / path.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)  # a mount point; empty once the process ends
            mounts.append(f"mount --bind {shlex.quote(path)} {shlex.quote(str(target))}")
        mounts.append(f"mount -t proc proc {shlex.quote(str(self.root / 'proc'))}")
        # The root's own PATH, and its CA bundle (this machine's, copied in) wherever this machine names its own.
        env = [f"PATH={ROOT_PATH}", *(f"{name}={HOST_FILES[0]}" for name in CA_VARIABLES if name in os.environ)]
        unset = [word for name in ("PIP_FIND_LINKS",) if name in os.environ for word in ("-u", name)]  # not there
        script = " && ".join(mounts) + f" && exec chroot {shlex.quote(str(self.root))} /usr/bin/env"
        script += "".join(f" {shlex.quote(word)}" for word in [*unset, *env])
        # `exec` all the way down: the pid Popen knows is the program's own, so terminate() reaches it.
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script + ' "$@"', "sh", *argv]

    def exists(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` (following symlinks as the process would) exists for this interpreter."""
        if self.root is None:
            return os.path.exists(path)
        path, cache = Path(os.path.abspath(path)), Path(os.path.abspath(cache_dir()))
        for _ in range(40):  # resolve symlinks as the root sees them: the cache is this machine's, bound in
            inside = path if path.is_relative_to(cache) else self.root / str(path).lstrip("/")
            if not inside.is_symlink():
                return inside.exists()
            path = Path(os.path.abspath(path.parent / os.readlink(inside)))
        return False

    def describe(self) -> str:
        where = f" in the Debian {SUITE} root {self.root} (chroot)" if self.root else ""
        return f"Python {'.'.join(map(str, self.version))} ({self.executable}{where})"


def cache_dir() -> Path:
    return Path(os.environ.get("BRIDGE_CACHE") or Path.home() / ".cache" / "ha-alexa-bridge")


def python_for(lowest: tuple[int, ...], below: tuple[int, ...], build: bool = True, root: bool = True) -> Python:
    """A Python ``lowest <= version < below``: this machine's first, else (``root``) a Debian root's, built first
    if missing and ``build``."""
    for candidate in candidates():
        version = _version(candidate)
        if version and tuple(lowest) <= version < tuple(below):
            return Python(candidate, version)
    wanted = f"Python >= {'.'.join(map(str, lowest))} (below {'.'.join(map(str, below))})"
    if not root:
        raise Unavailable(f"no {wanted} on this machine")
    executable = ROOT_PYTHONS.get(tuple(lowest[:2]))
    if executable is None:
        raise Unavailable(f"no {wanted} on this machine: install one (pyenv install, or your system's packages),"
                          " or point BRIDGE_HA_PYTHON at it")
    if os.geteuid() != 0 or not shutil.which("chroot") or not shutil.which("unshare"):
        raise Unavailable(f"no {wanted} on this machine, and only root can make one in a Debian {SUITE} root"
                          " (debootstrap, chroot, unshare): install one (e.g. pyenv install 3.14), point"
                          " BRIDGE_HA_PYTHON at it, or run as root")
    py = Python(executable, (0, 0, 0), debian_root(build=build))
    version = _version_in(py)
    if not version or not tuple(lowest) <= version < tuple(below):
        raise Unavailable(f"the Debian {SUITE} root {py.root} has {py.describe()}, not {wanted}")
    return py._replace(version=version)


def candidates() -> list[str]:
    """Interpreters to try, in order: $BRIDGE_HA_PYTHON, PATH's python3.N/python3/python, pyenv's versions."""
    found = [os.environ["BRIDGE_HA_PYTHON"]] if os.environ.get("BRIDGE_HA_PYTHON") else []
    for name in ("python3.15", "python3.14", "python3.13", "python3", "python"):
        if path := shutil.which(name):
            found.append(path)
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.*", "bin", "python3")), reverse=True)
    return list(dict.fromkeys(found))


@functools.cache
def _version(python: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return tuple(int(p) for p in parts) if out.returncode == 0 and len(parts) == 3 else None  # type: ignore[return-value]


def _version_in(py: Python) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(py.command(["-c", "import sys, ssl, venv; print(*sys.version_info[:3])"]),
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return tuple(int(p) for p in parts) if out.returncode == 0 and len(parts) == 3 else None  # type: ignore[return-value]


@functools.cache
def debian_root(build: bool = True) -> Path:
    """The Debian testing root under the cache, checked once per process, built (or rebuilt) when needed."""
    root = cache_dir() / ROOT_NAME
    if root.is_dir() and not _healthy(root):
        print(f"the Debian {SUITE} root {root} is broken (no working {'/'.join(ROOT_PYTHONS.values())}): building"
              " it again", file=sys.stderr, flush=True)
        move_aside_and_delete(root)
    if not root.is_dir():
        if not build:
            raise Unavailable(f"no Debian {SUITE} root at {root} (building it was not allowed here)")
        _build(root)
    _refresh_host_files(root)
    return root


def _healthy(root: Path) -> bool:
    return all((root / exe.lstrip("/")).exists() for exe in ROOT_PYTHONS.values()) and (root / "bin/sh").exists()


def _refresh_host_files(root: Path) -> None:
    """This machine's CA bundle, resolver and hosts, copied in each time (they change; the root's own do not)."""
    for name in HOST_FILES:
        source = Path(os.environ.get("SSL_CERT_FILE", name)) if name.endswith(".crt") else Path(name)
        if source.is_file():
            target = root / name.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            shutil.copyfile(source, target)


def build_dir(target: Path) -> Path:
    """Where to build `target` so that an interrupted build is never taken for a good one: `.<name>.build-<pid>`
    beside it, empty, once the leftovers of killed builds are removed; rename it to `target` when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.build-*"):  # left by a killed build
        pid = stale.name.rsplit("-", 1)[1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    build = target.with_name(f".{target.name}.build-{os.getpid()}")
    shutil.rmtree(build, ignore_errors=True)
    return build


def _build(root: Path) -> None:
    build = build_dir(root)
    debootstrap = _debootstrap()
    command = [debootstrap, "--variant=minbase", f"--include={','.join(ROOT_PACKAGES)}", SUITE, str(build)]
    script = Path(f"/usr/share/debootstrap/scripts/{SUITE}")
    if not script.exists():  # an older debootstrap (Debian 12's) predates the suite: sid's script fits testing
        command += [_debian_mirror(), str(script.with_name("sid"))]
    print(f"building a Debian {SUITE} root with Python 3.14 in {root} (first time, about 2 minutes, 300 MB):"
          f" {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    log = root.with_name(f"{root.name}.debootstrap.log")
    try:
        with open(log, "wb") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise Unavailable(f"debootstrap failed (exit {done.returncode}); its log {log}:\n{tail}")
        if not _healthy(build):
            raise Unavailable(f"debootstrap made {build} without {'/'.join(ROOT_PYTHONS.values())}; log {log}")
        try:
            build.rename(root)
        except OSError:  # another process finished the same build first
            if not _healthy(root):
                raise
            shutil.rmtree(build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    print(f"built the Debian {SUITE} root in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def _debootstrap() -> str:
    """debootstrap, installed with apt-get first when missing (root only)."""
    found = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap")
                                            else None)
    if found:
        return found
    if not shutil.which("apt-get"):
        raise Unavailable("debootstrap is missing and there is no apt-get to install it: install debootstrap")
    print("installing debootstrap (apt-get)", file=sys.stderr, flush=True)
    install = ["apt-get", "install", "-y", "-qq", "debootstrap"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        done = subprocess.run(install, capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"apt-get could not install debootstrap: {done.stderr.strip()[-500:]}")
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def _debian_mirror(sources: Iterable[Path] = ()) -> str:
    """The Debian mirror this machine's apt uses (its sources), for a debootstrap that must be told one."""
    sources = sources or [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            if "security" not in match.group(1) and match.group(1).rstrip("/").endswith("/debian"):
                return match.group(1)
    raise Unavailable(f"this debootstrap has no script for {SUITE} and apt's sources name no Debian mirror to"
                      " give it: upgrade debootstrap, or add a Debian mirror to /etc/apt/sources.list")


def move_aside_and_delete(path: Path) -> None:
    """Delete `path` (a broken build), first renamed out of the way so that nothing takes it for a good one."""
    aside = path.with_name(f".{path.name}.build-broken-{os.getpid()}")
    try:
        path.rename(aside)
    except FileNotFoundError:  # another process moved it first
        return
    shutil.rmtree(aside, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.pythons 3.14.2``: find or build such a Python and say which, or say what is missing."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devtools.pythons", description=main.__doc__)
    parser.add_argument("lowest", help="e.g. 3.14.2")
    parser.add_argument("--below", help="default: the next minor version")
    parser.add_argument("--no-build", dest="build", action="store_false", help="never build the Debian root")
    args = parser.parse_args(argv)
    lowest = tuple(int(p) for p in args.lowest.split("."))
    below = tuple(int(p) for p in args.below.split(".")) if args.below else (lowest[0], lowest[1] + 1)
    try:
        py = python_for(lowest, below, build=args.build)
    except Unavailable as err:
        print(err, file=sys.stderr)
        return 3
    print(py.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
