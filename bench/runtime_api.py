"""The benchmark's own Lambda Runtime API: it reads the function's CPU time at the exact moments it needs.

Local runs use Amazon's Runtime Interface Emulator (devtools/local_invoke.py). The benchmark keeps this instrumented
Runtime API because it needs what the emulator cannot give: the process's CPU-time clock read at the moment the
runtime client asks for its first event (end of INIT), at the hand-out of each event and at the arrival of each
response, to model a 128 MB function. bench/emulator.py checks that its INIT and invocation times agree with the
emulator's. `invoke(events, ...)` sends the events in order to one fresh `python -m awslambdaric HANDLER` process:
the first invocation is cold, the rest warm; a timeout or a crash ends the process and the next event starts anew.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from devtools.local_invoke import PROJECT_ROOT, Result, emf_metrics, max_memory_mb

FUNCTION_NAME = "ha-alexa-bridge"
INIT_LIMIT_S = 10.0  # how long Lambda lets INIT run
PASS_NAMES = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
              "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL"}
PASS_PREFIXES = ("HA_", "ASSIST_", "BRIDGE_", "POWERTOOLS_", "AWS_")


@dataclass
class Run(Result):
    """A Result with the moments it was timed at: time.perf_counter() seconds, the clock every process shares
    (CLOCK_MONOTONIC), so a function's own readings can be placed on the same time line (bench.init_path)."""

    marks: dict = field(default_factory=dict)  # started (cold only), next (end of INIT), handout, response


class _RuntimeAPI(BaseHTTPRequestHandler):
    """The Runtime API endpoints awslambdaric calls; HTTP/1.1, so its libcurl connection stays open."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: don't let a delayed ACK add 40 ms

    def log_message(self, *args):  # no access log in the function's log stream
        pass

    def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": len(body), **(headers or {})}.items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        box = self.server.sandbox
        if not self.path.endswith("/runtime/invocation/next"):
            return self._reply(404, b'{"errorMessage": "unknown endpoint"}')
        box.messages.put(("next", None, time.perf_counter(), None, _cpu_ms(box.proc.pid)))
        item = box.events.get()  # long poll: wait for the next event
        if item is None:  # the sandbox is closing
            self.close_connection = True
            return
        request_id, body, timeout = item
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        headers = {"Lambda-Runtime-Aws-Request-Id": request_id,
                   "Lambda-Runtime-Deadline-Ms": int((time.time() + timeout) * 1000),
                   "Lambda-Runtime-Invoked-Function-Arn": box.function_arn, "Lambda-Runtime-Trace-Id": trace}
        box.messages.put(("handout", None, time.perf_counter(), None, _cpu_ms(box.proc.pid)))
        self._reply(200, body, headers)

    def do_POST(self):  # .../invocation/{id}/response, .../invocation/{id}/error, .../init/error
        box = self.server.sandbox
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        received, kind = time.perf_counter(), self.path.rstrip("/").rsplit("/", 1)[-1]
        if kind not in ("response", "error"):
            return self._reply(404, b'{"errorMessage": "unknown endpoint"}')
        kind = "init_error" if "/init/" in self.path else kind
        box.messages.put((kind, body, received, max_memory_mb(box.proc.pid), _cpu_ms(box.proc.pid)))
        self._reply(202, b'{"status": "OK"}')


class _Server(ThreadingHTTPServer):
    """The Runtime API's server, without the traceback printed when a process is killed while its keep-alive
    connection waits: the benchmark ends every process that way."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Sandbox:
    """One execution environment: a Runtime API server and the awslambdaric process polling it."""

    def __init__(self, cmd: list[str], env: dict, cwd: str, memory: int, echo: bool):
        self.messages, self.events = queue.Queue(), queue.Queue()
        self.memory, self.echo, self.init_ms, self.logs = memory, echo, None, []
        self.init_cpu_ms = None
        self.function_arn = f"arn:aws:lambda:{env['AWS_REGION']}:123456789012:function:{FUNCTION_NAME}"
        self.server = _Server(("127.0.0.1", 0), _RuntimeAPI)
        self.server.sandbox = self
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.server.server_address[1]}"}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.partial = {self.proc.stdout.fileno(): b"", self.proc.stderr.fileno(): b""}

    def log(self, line: str) -> None:
        self.logs.append(line)
        if self.echo:
            print(line, file=sys.stderr, flush=True)

    def pump(self, timeout: float) -> None:
        """Echo and collect the lines the function has written to stdout/stderr so far."""
        while self.partial and (ready := select.select(list(self.partial), [], [], timeout)[0]):
            for fd in ready:
                chunk = os.read(fd, 65536)
                lines = (self.partial.pop(fd) + chunk).split(b"\n")
                if chunk:  # else EOF: flush the last partial line and stop watching fd
                    self.partial[fd] = lines.pop()
                for line in filter(None, lines):  # awslambdaric joins a traceback's lines with \r
                    self.log(line.decode(errors="replace").replace("\r", "\n"))
            timeout = 0

    def invoke(self, event: object, timeout: float) -> Result:
        r = Run(request_id=str(uuid.uuid4()))
        self.logs, cold, handed, cpu_handed = r.logs, self.init_ms is None, None, None
        self.log(f"START RequestId: {r.request_id} Version: $LATEST")
        self.events.put((r.request_id, json.dumps(event).encode(), timeout))
        limit = time.perf_counter() + timeout + (INIT_LIMIT_S if cold else 1.0)
        while True:
            self.pump(0.01)  # messages carry their own timestamps: this poll interval costs no accuracy
            try:
                kind, payload, when, memory, cpu = self.messages.get_nowait()
            except queue.Empty:
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    why = f"exit status {code}" if code >= 0 else f"signal {-code}"
                    r.error = _error("Runtime.ExitError", r, f"Runtime exited with error: {why}")
                    break
                if time.perf_counter() > limit:  # like Lambda: stop the environment, the next event gets a new one
                    r.max_memory_mb = max_memory_mb(self.proc.pid)
                    r.duration_ms = (time.perf_counter() - handed) * 1000 if handed else 0.0
                    self.close()
                    message = f"Task timed out after {timeout:.2f} seconds"
                    self.log(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {r.request_id} {message}")
                    r.error = _error("Sandbox.Timedout", r, message)
                    break
                continue
            if kind == "next" and self.init_ms is None:
                self.init_ms, self.init_cpu_ms = (when - self.started) * 1000, cpu
                r.marks.update(started=self.started, next=when)
            elif kind == "handout":
                handed, limit, cpu_handed = when, when + timeout, cpu
                r.marks["handout"] = when
            elif kind in ("response", "error", "init_error"):
                r.marks["response"] = when
                if self.init_ms is None:  # INIT failed: it lasted until the init error
                    self.init_ms = (when - self.started) * 1000
                r.duration_ms, r.max_memory_mb = (when - (handed or when)) * 1000, memory
                if cpu is not None and cpu_handed is not None:
                    r.cpu_ms = cpu - cpu_handed
                setattr(r, "response" if kind == "response" else "error", _decode(payload))
                if kind == "init_error":  # awslambdaric exits after it
                    self.close()
                break
        self.pump(1.0 if self.proc.poll() is not None else 0)  # an exited process: read to EOF
        r.init_ms = self.init_ms if cold else None
        r.init_cpu_ms = self.init_cpu_ms if cold else None
        r.metrics = [m for line in r.logs for m in emf_metrics(line)]
        billed = math.ceil(r.duration_ms + (r.init_ms or 0))  # since August 2025 Lambda bills INIT too
        init = f"\tInit Duration: {r.init_ms:.2f} ms" if r.init_ms is not None else ""
        self.log(f"END RequestId: {r.request_id}")
        self.log(f"REPORT RequestId: {r.request_id}\tDuration: {r.duration_ms:.2f} ms\tBilled Duration: {billed} ms"
                 f"\tMemory Size: {self.memory} MB\tMax Memory Used: {r.max_memory_mb or 0} MB{init}")
        return r

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.pump(1.0)
        self.partial.clear()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.events.put(None)  # release a pending long poll
        self.server.shutdown()
        self.server.server_close()


def _error(error_type: str, r: Result, message: str) -> dict:
    return {"errorType": error_type, "errorMessage": f"RequestId: {r.request_id} Error: {message}"}


def _decode(payload: bytes) -> object:
    with contextlib.suppress(ValueError):
        return json.loads(payload)
    return payload.decode(errors="replace")


def _cpu_ms(pid: int) -> float | None:
    """CPU time (user + system, all threads, dead ones included) process `pid` has used, in ms; Linux only.

    Reads the process's CPU-time clock (clock_getcpuclockid(3): ~pid << 3 | CPUCLOCK_SCHED), which has
    nanosecond resolution where /proc/<pid>/stat has 10 ms ticks.
    """
    with contextlib.suppress(OSError, OverflowError, AttributeError):
        return time.clock_gettime((~pid << 3) | 2) * 1000
    return None


def lambda_env(memory: int, handler: str, task_root: str, extra: dict | None = None) -> dict:
    """The environment Lambda gives the function, plus the parent's HA_/BRIDGE_/POWERTOOLS_/AWS_... settings."""
    env = {k: v for k, v in os.environ.items()
           if k in PASS_NAMES or (k.startswith(PASS_PREFIXES) and not k.startswith("AWS_LAMBDA_"))}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    env = {"POWERTOOLS_SERVICE_NAME": "ha-alexa-bridge", "POWERTOOLS_METRICS_NAMESPACE": "HomeAssistantBridge",
           "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **env}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "LAMBDA_TASK_ROOT": task_root, "_HANDLER": handler,
        "PYTHONPATH": task_root, "PYTHONUNBUFFERED": "1",  # so each log line lands in its own invocation
    })
    return {**env, **(extra or {})}


def invoke(events: list, env: dict | None = None, memory: int = 256, timeout: float = 10,
           handler: str = "lambda_function.lambda_handler", task_root: str | os.PathLike | None = None,
           python: str | os.PathLike | list[str] = sys.executable, echo: bool = True,
           on_result=None) -> list[Result]:
    """Invoke the function once per event, in order, in one fresh execution environment (the first call is
    cold). Like Lambda, a timeout or a crash ends the environment and the next event starts a new one.
    `python` is the runtime's interpreter, or the argv that runs it (bench.python314: through chroot, `exec`ing
    it, so that the process's pid is the interpreter's and its CPU clock and VmHWM are the interpreter's).
    `echo` prints the log stream to stderr; `on_result(result)` is called as each invocation completes."""
    task_root = str(Path(task_root or PROJECT_ROOT).resolve())
    full_env, results, box = lambda_env(memory, handler, task_root, env), [], None
    runtime = [str(python)] if isinstance(python, str | os.PathLike) else list(python)
    try:
        for event in events:
            if box is None or box.proc.poll() is not None:
                if box:
                    box.close()
                box = _Sandbox([*runtime, "-m", "awslambdaric", handler], full_env, task_root, memory, echo)
            results.append(box.invoke(event, timeout))
            if on_result:
                on_result(results[-1])
    finally:
        if box:
            box.close()
    return results
