"""Changed copies of the built artifact, to measure a change before anyone makes it in the code.

    python -m bench.experiments.candidates /tmp/cand          # from .aws-sam/build/BridgeFunction
    python -m bench.run --only bridge,eager,one_file,floor --candidate /tmp/cand/lean_join_freeze ...

Each candidate is the artifact with text patches applied and its .pyc rebuilt the way devtools/build_function.py
builds them. The patches match the sources as of the benchmark in bench/results/candidates.md and stop with an
error when those sources have changed: this is an experiment to rerun, not a way to ship code.

- ticket: gateway/ha_client.py keeps an idle TLS connection that is readable only because of TLS 1.3 session
  tickets (which arrive one round trip after the handshake) instead of discarding it, so the preconnected
  connection survives an INIT longer than a round trip.
- join: fast_path waits at the end of INIT for the preconnect thread, so the handshake's CPU is spent on INIT's
  boosted CPU; the first request would wait for it anyway (the thread holds the client's lock).
- freeze: `gc.freeze()` at the end of INIT, so no collection scans what INIT built (and none is due at once).
- lean: ticket, plus gateway/powertools.py on the standard library (bench/experiments/stdlib_powertools.py)
  and NamedTuple instead of dataclasses (whose import pulls in inspect) for the three records on the hot path.
- lean_freeze, lean_join_freeze: the combinations.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from devtools.build_function import compile_all

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build" / "BridgeFunction"


def patch(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        sys.exit(f"candidates: {path} has changed since this experiment: cannot patch\n{old}")
    path.write_text(text.replace(old, new))


def ticket(root: Path) -> None:
    client = root / "gateway" / "ha_client.py"
    patch(client, """            if fresh and not select.select([conn.sock], [], [], 0)[0]:
                return conn, True""", """            if fresh and not _unusable(conn.sock):
                return conn, True""")
    client.write_text(client.read_text() + '''

def _unusable(sock) -> bool:
    """Whether an idle connection must not be reused: the server closed it or sent something unasked.

    Readable is not enough to tell: after a TLS 1.3 handshake the server sends session tickets, which make a fresh
    connection readable one round trip later. Reading them (they carry no application data) keeps it usable."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    if not isinstance(sock, ssl.SSLSocket):
        return True
    timeout = sock.gettimeout()
    try:
        sock.settimeout(0)
        sock.recv(1)  # application data or the end of the stream on an idle connection: unusable
        return True
    except ssl.SSLWantReadError:
        return False  # only TLS records without application data (session tickets)
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)
''')


def join(root: Path) -> None:
    patch(root / "fast_path.py", """if _PRELOAD.strip():
    preconnect()
preload(_PRELOAD)
""", """_preconnecting = preconnect() if _PRELOAD.strip() else None
preload(_PRELOAD)
if _preconnecting is not None:
    _preconnecting.join(2.5)  # its own deadline is 2 s
""")


def freeze(root: Path) -> None:
    path = root / "fast_path.py"
    path.write_text(path.read_text() + "\nimport gc  # noqa: E402\n\ngc.freeze()\n")


def lean(root: Path) -> None:
    ticket(root)
    shutil.copy2(Path(__file__).with_name("stdlib_powertools.py"), root / "gateway" / "powertools.py")
    for rel, old in (("gateway/config.py", "@dataclass(frozen=True)\nclass Settings:"),
                     ("ha_alexa/directive.py", "@dataclass(frozen=True)\nclass Directive:"),
                     ("gateway/ha_client.py", "@dataclass\nclass Response:")):
        name = old.split("class ")[1].rstrip(":")
        patch(root / rel, "from dataclasses import dataclass\n", "from typing import NamedTuple\n")
        patch(root / rel, old, f"class {name}(NamedTuple):")


CANDIDATES = {
    "ticket": [ticket], "join": [join], "freeze": [freeze], "lean": [lean], "lean_freeze": [lean, freeze],
    "lean_join_freeze": [lean, join, freeze],
}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.exit("usage: python -m bench.experiments.candidates OUTPUT_DIR")
    if not (BUILD_DIR / "lambda_function.py").exists():
        sys.exit(f"candidates: no artifact at {BUILD_DIR}: run `make build` first")
    out = Path(argv[0])
    for name, changes in CANDIDATES.items():
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(BUILD_DIR, target, symlinks=True)
        for change in changes:
            change(target)
        compile_all(target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
