"""Run the function locally under Amazon's Lambda Runtime Interface Emulator, without Docker.

`python -m devtools.local_invoke EVENT_FILE [EVENT_FILE...]` starts the emulator (`aws-lambda-rie`, the binary
that ships in the aws-sam-cli package and that `sam local invoke` runs in its container) with the real runtime
interface client (`python -m awslambdaric HANDLER`), and POSTs it the events in order: the first invocation is
cold, the rest warm. The function runs as in Lambda: its code as the task root (the modules and packages the
build ships, and requirements.txt's dependencies), a Python that holds only what Lambda's runtime provides
(awslambdaric, boto3), and the environment variables template.yaml declares, resolved with the parameters'
defaults, overridden by the shell for the names it declares and by `env.json` (`sam local invoke --env-vars`
format). Each response goes to stdout; the emulator's log stream (its `(rapid)` lines, the function's output,
START/END/REPORT) and a METRICS summary of the EMF lines go to stderr. Without HA_URL it starts a demo Home
Assistant first. Python API: `invoke(events, ...)`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import venv
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from devtools.function_env import ENV_JSON, PROJECT_ROOT, env_json, function_settings, lambda_env, load_template

# What Lambda's Python runtime provides beside the standard library.
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
INVOCATIONS = "/2015-03-31/functions/function/invocations"
RIE_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass
class Result:
    request_id: str
    response: object = None
    error: dict | None = None  # Lambda's shape: errorMessage, errorType, ...
    duration_ms: float = 0.0
    init_ms: float | None = None  # only on an invocation that ran INIT (cold, or after a crash or timeout)
    max_memory_mb: int | None = None
    cpu_ms: float | None = None  # CPU time of the invocation: bench/runtime_api.py only
    init_cpu_ms: float | None = None  # CPU time of INIT: bench/runtime_api.py only
    metrics: list[dict] = field(default_factory=list)  # {"name", "value", "unit", "dimensions"} from EMF lines
    logs: list[str] = field(default_factory=list)


# -- the runtime and the task root ---------------------------------------------------------------------------------


def distribution_closure(names) -> list[metadata.Distribution]:
    """The installed distributions `names` and everything they require (extras left out), each once."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen, found, todo = set(), [], list(names)
    while todo:
        name = canonicalize_name(todo.pop(0))
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        found.append(dist)
        for text in dist.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def link_distributions(names, target: Path) -> list[str]:
    """Symlink the installed files of `names` and their requirements into `target` (as pip --target would
    install them, with the .pyc the installer compiled); returns the distribution names."""
    target.mkdir(parents=True, exist_ok=True)
    dists = distribution_closure(names)
    for dist in dists:
        for file in dist.files or ():
            top = file.parts[0]
            if top == ".." or file.name.endswith(".pth"):
                continue  # console scripts outside site-packages; path hooks no Lambda package relies on
            if top == "__pycache__":  # the .pyc of a top-level module (six.py, typing_extensions.py)
                link, source = target / "__pycache__" / file.name, Path(dist.locate_file(file))
                link.parent.mkdir(exist_ok=True)
            else:
                link, source = target / top, Path(dist.locate_file(top))
            if not link.exists() and source.exists():
                link.symlink_to(source)
    return sorted(dist.metadata["Name"] for dist in dists)


def make_runtime(directory: Path) -> Path:
    """A venv of this interpreter holding only what Lambda's Python runtime holds; returns its python."""
    venv.create(directory, with_pip=False, symlinks=True)
    site_packages = next(directory.glob("lib/python*/site-packages"))
    link_distributions(RUNTIME_DISTRIBUTIONS, site_packages)
    return directory / "bin" / "python"


def make_task_root(directory: Path) -> Path:
    """The function's code as `sam build` ships it (devtools/build_function.py), linked rather than copied."""
    from devtools.build_function import RUNTIME_MODULES, RUNTIME_PACKAGES

    directory.mkdir(parents=True, exist_ok=True)
    for name in (*RUNTIME_MODULES, *RUNTIME_PACKAGES):
        (directory / name).symlink_to(PROJECT_ROOT / name)
    requirements = (PROJECT_ROOT / "requirements.txt").read_text()
    link_distributions(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", requirements, re.MULTILINE), directory)
    return directory


def emulator_binary() -> Path:
    """This machine's `aws-lambda-rie` from the SAM CLI's cached venv (installed first if missing, as `make lint`)."""
    from devtools.sam import ensure_sam_venv

    arch = RIE_ARCHITECTURES.get(platform.machine().lower())
    if arch is None:
        raise SystemExit(f"local_invoke: the Runtime Interface Emulator ships for x86_64 and arm64, not for"
                         f" {platform.machine()}")
    try:
        sam_venv = ensure_sam_venv()
    except (OSError, subprocess.CalledProcessError) as err:
        raise SystemExit(f"local_invoke: could not install the SAM CLI, which ships the emulator ({err}); run `make"
                         " lint` once with access to PyPI, or set BRIDGE_CACHE to where it is installed") from None
    found = sorted(sam_venv.glob(f"lib/python*/site-packages/samcli/local/rapid/aws-lambda-rie-{arch}"))
    if not found:
        raise SystemExit(f"local_invoke: no aws-lambda-rie-{arch} in {sam_venv}: delete that venv and rerun")
    return found[0]


# -- one execution environment ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """One execution environment: the emulator process, which starts the runtime on the first invocation."""

    def __init__(self, binary: Path, python: str, handler: str, env: dict, task_root: str, echo: bool):
        self.port, self.echo, self.lines = free_port(), echo, queue.Queue()
        cmd = [str(binary), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
               "--runtime-api-address", f"127.0.0.1:{free_port()}", python, "-m", "awslambdaric", handler]
        self.proc = subprocess.Popen(cmd, cwd=task_root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:  # awslambdaric joins a traceback's lines with \r
            self.lines.put(raw.decode(errors="replace").rstrip("\n").replace("\r", "\n"))
        self.lines.put(None)

    def _collect(self, logs: list, until: float, done) -> None:
        """Move the emulator's lines into `logs` (echoing them) until `done(line)` or `until`."""
        while (left := until - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return
            if line is None:
                self.lines.put(None)
                return
            logs.append(line)
            if self.echo:
                print(line, file=sys.stderr, flush=True)
            if done(line):
                return

    def invoke(self, event: object, timeout: int) -> Result:
        r, body = Result(request_id=""), json.dumps(event).encode()
        until = time.monotonic() + 5
        while True:  # the emulator listens within milliseconds of its start
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout + 15)
                conn.request("POST", INVOCATIONS, body=body, headers={"Content-Type": "application/json"})
                break
            except ConnectionRefusedError:
                if time.monotonic() > until or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)
        with contextlib.closing(conn):
            answer = conn.getresponse()
            status, payload = answer.status, answer.read()
        # The REPORT line follows the answer; an invocation whose runtime died has none.
        self._collect(r.logs, time.monotonic() + (2.0 if status == 200 else 0.3),
                      lambda line: line.startswith("REPORT RequestId:"))
        self._collect(r.logs, time.monotonic() + 0.05, lambda line: False)  # a line the runtime wrote late
        r.max_memory_mb = max_memory_mb(self.runtime_pid())
        for line in r.logs:
            if match := re.match(r"START RequestId: (\S+)", line):
                r.request_id = match.group(1)
            elif r.init_ms is None and (match := re.search(r"INIT REPORT\(durationMs: ([\d.]+)\)", line)):
                r.init_ms = float(match.group(1))
            elif match := re.match(r"REPORT RequestId: .*?\tDuration: ([\d.]+) ms", line):
                r.duration_ms = float(match.group(1))  # the emulator counts the INIT it ran in the Duration
        r.duration_ms = max(r.duration_ms - (r.init_ms or 0.0), 0.0)
        r.metrics = [m for line in r.logs for m in emf_metrics(line)]
        decoded = _decode(payload)
        if isinstance(decoded, str) and "Task timed out" in decoded:
            r.error = {"errorType": "Sandbox.Timedout", "errorMessage": decoded}
        elif status != 200 or (isinstance(decoded, dict) and {"errorType", "errorMessage"} <= decoded.keys()):
            r.error = decoded if isinstance(decoded, dict) else _failure(r.logs, status, decoded)
        else:
            r.response = decoded
        return r

    def runtime_pid(self) -> int | None:
        """The runtime process the emulator started (its child), if it is alive."""
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                children = (task / "children").read_text().split()
                if children:
                    return int(children[0])
        return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # the emulator stops the runtime and exits
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._collect([], time.monotonic() + 1.0, lambda line: False)
        self.proc.stdout.close()


def _failure(logs: list[str], status: int, body: str) -> dict:
    """Lambda's error for an answer without one (the emulator's 502 with an empty body), from its log lines."""
    text = "\n".join(logs)
    kind = re.search(r"\(rapid\) Invoke DONE failed: (\S+)", text)
    why = re.search(r"\(rapid\) (?:Init|Invoke) failed.*?error=(.+?)(?: InvokeID=|$)", text, re.MULTILINE)
    return {"errorType": kind.group(1) if kind else f"HTTP {status}",
            "errorMessage": why.group(1) if why else body or f"the emulator answered HTTP {status}"}


def _decode(payload: bytes) -> object:
    with contextlib.suppress(ValueError):
        return json.loads(payload)
    return payload.decode(errors="replace")


def max_memory_mb(pid: int | None) -> int | None:
    """The process's peak resident memory (VmHWM): Lambda's Max Memory Used."""
    with contextlib.suppress(OSError, TypeError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
    return None


def emf_metrics(line: str) -> list[dict]:
    """The metrics in one CloudWatch Embedded Metric Format log line; none for any other line."""
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        doc = json.loads(line)
        directives = doc["_aws"]["CloudWatchMetrics"]
        return [{"name": m["Name"], "value": doc.get(m["Name"]), "unit": m.get("Unit", "None"),
                 "dimensions": {k: doc.get(k) for dims in d.get("Dimensions", []) for k in dims}}
                for d in directives for m in d.get("Metrics", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def format_metrics(metrics: list[dict]) -> str:
    """`ColdStart=1 InitDuration=123.4ms Errors[ErrorType=X]=1`, without the constant dimensions."""
    units, parts = {"Milliseconds": "ms", "Seconds": "s", "Count": "", "None": ""}, []
    for m in metrics:
        dims = ",".join(f"{k}={v}" for k, v in m["dimensions"].items() if k not in ("service", "function_name"))
        values = m["value"] if isinstance(m["value"], list) else [m["value"]]
        shown = ",".join(f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in values)
        parts.append(f"{m['name']}{f'[{dims}]' if dims else ''}={shown}{units.get(m['unit'], ' ' + m['unit'])}")
    return " ".join(parts)


def invoke(events, env: dict | None = None, memory: int | None = None, timeout: float | None = None,
           handler: str | None = None, task_root: str | os.PathLike | None = None, python: str | None = None,
           echo: bool = True, on_result=None) -> list[Result]:
    """Invoke the function once per event, in order, in one fresh execution environment under the emulator (the
    first call is cold). Like Lambda, a timeout or a crash ends the runtime and the next event starts a new one.
    Settings not given come from template.yaml; `env` overrides its variables (and the shell's); the timeout is
    whole seconds, as the emulator takes it. `echo` prints the log stream to stderr; `on_result(result)` is called
    as each invocation completes."""
    function = function_settings(load_template())
    handler, memory = handler or function["handler"], memory or function["memory"]
    timeout = max(1, math.ceil(timeout or function["timeout"]))
    declared = function["variables"]
    variables = {**declared, **{k: os.environ[k] for k in declared if k in os.environ}, **(env or {})}
    binary, results = emulator_binary(), []
    with tempfile.TemporaryDirectory(prefix="local-invoke-") as work:
        root = str(Path(task_root).resolve()) if task_root else str(make_task_root(Path(work, "task")))
        python = python or str(make_runtime(Path(work, "runtime")))
        box = Emulator(binary, python, handler, lambda_env(memory, timeout, handler, root, variables), root, echo)
        try:
            for event in events:
                results.append(box.invoke(event, timeout))
                if on_result:
                    on_result(results[-1])
        finally:
            box.close()
    return results


def _home_assistant(stack: contextlib.ExitStack, configured: dict) -> dict:
    """Nothing if HA_URL is set, else the URL and token of a demo Home Assistant started for this run."""
    if configured.get("HA_URL"):
        print(f"using Home Assistant at {configured['HA_URL']}", file=sys.stderr)
        return {}
    from devtools.demo_ha import DemoHomeAssistant

    demo = DemoHomeAssistant()
    print(f"no HA_URL set: starting a demo Home Assistant at {demo.url} (the first run installs it)",
          file=sys.stderr, flush=True)
    stack.enter_context(demo)  # starts it; on exit stops it and removes its config dir
    print(f"demo: {demo.describe()}", file=sys.stderr, flush=True)
    # The sample Assist events carry no linked token: against the demo, the person running it is the operator.
    allow = os.environ.get("ASSIST_ALLOW_OPERATOR_TOKEN", "true")
    return {"HA_URL": demo.url, "HA_TOKEN": demo.token, "ASSIST_ALLOW_OPERATOR_TOKEN": allow}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.local_invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("events", nargs="+", metavar="EVENT_FILE", help="JSON event file ('-' for stdin)")
    parser.add_argument("--repeat", type=int, default=1, help="send the events N times (first cold, then warm)")
    parser.add_argument("--env-vars", type=Path, default=ENV_JSON,
                        help="environment overrides in `sam local invoke --env-vars` format (default: env.json)")
    parser.add_argument("--memory", type=int, help="memory size in MB (default: the template's)")
    parser.add_argument("--timeout", type=int, help="seconds per invocation (default: the template's)")
    parser.add_argument("--handler", help="default: the template's")
    parser.add_argument("--json", action="store_true", help="print one JSON object per invocation")
    parser.add_argument("--quiet", action="store_true", help="do not echo the log stream to stderr")
    args = parser.parse_args(argv)
    events = [json.loads(sys.stdin.read() if name == "-" else Path(name).read_text()) for name in args.events]
    overrides = env_json(args.env_vars)
    undeclared = sorted(set(overrides) - set(function_settings(load_template())["variables"]))
    if undeclared:
        print(f"note: {args.env_vars.name} sets {', '.join(undeclared)}, which template.yaml does not declare: used"
              " here, but `sam local invoke` ignores them", file=sys.stderr)

    def show(r: Result) -> None:
        if args.json:
            keys = ("request_id", "response", "error", "duration_ms", "init_ms", "max_memory_mb", "metrics")
            print(json.dumps({k: getattr(r, k) for k in keys}), flush=True)
            return
        if not args.quiet:
            init = f"INIT {r.init_ms:.1f} ms, " if r.init_ms is not None else ""
            why = "counts INIT in Duration and " if r.init_ms is not None else ""
            print(f"MEASURED {init}invocation {r.duration_ms:.1f} ms, peak memory {r.max_memory_mb or '?'} MB (the"
                  f" emulator's REPORT {why}shows the memory size as used)", file=sys.stderr, flush=True)
            if r.metrics:
                print(f"METRICS {format_metrics(r.metrics)}", file=sys.stderr, flush=True)
        print(json.dumps(r.error if r.error is not None else r.response, indent=2), flush=True)

    with contextlib.ExitStack() as stack:
        configured = {"HA_URL": os.environ.get("HA_URL", ""), **overrides}
        env = {**overrides, **_home_assistant(stack, configured)}
        results = invoke(events * args.repeat, env, args.memory, args.timeout, args.handler,
                         echo=not args.quiet, on_result=show)
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
