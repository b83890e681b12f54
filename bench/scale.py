"""Discovery at scale and bursts: part of `make bench`, or alone: `python -m bench.run scale [--homes 60,300,1100]`.

For each home size a real Home Assistant is started with the demo plus generated configuration
(devtools.big_home), reached through bench/tls_proxy.py, and the built artifact answers Discoveries in fresh
processes through the real Lambda runtime interface client (bench.runner), as in the cold table: a few cold ones,
then warm ones in one process. The floor is the work no bridge can skip: `json.loads` of Home Assistant's answer
plus the runtime's own serialisation of the bridge's answer (awslambdaric's encoder), timed in a fresh process of
the same Python between the warm invocations. For the big home (the one of the burst) a second row measures the
same Discovery with ALEXA_EXPOSE=assist: the bridge also reads the owner's choice over one WebSocket connection,
and the floor also parses the WebSocket answers it reads.

Burst: 16 execution environments started at the same moment against the big home, each switching one light (an
Alexa routine), then warm bursts of 16 at once in the same environments, counting new TLS connections at the proxy.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.runner import Bench, metric
from bench.stats import model_128, percentile, summary
from bench.variants import discovery

BENCH_DIR = Path(__file__).resolve().parent
PNG = BENCH_DIR / "results" / "discovery-at-scale.png"
SCALE_JSON = BENCH_DIR / "results" / "scale.json"
HOMES = (60, 300, 1100, 2000)
EXPOSURE = "assist"  # the exposure-filtered row: the expose settings and the entity registry over the WebSocket
BURST = 16
ALEXA_LIMIT_MS = 8000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Discovery at scale (bench.scale)")
    group.add_argument("--homes", default=",".join(map(str, HOMES)), help="home sizes in endpoints, or 'none'")
    group.add_argument("--scale-cold", type=int, default=3, help="cold Discoveries per home (default 3)")
    group.add_argument("--scale-warm", type=int, default=30, help="warm Discoveries per home (default 30)")
    group.add_argument("--burst-rounds", type=int, default=3, help="warm bursts after the cold one (default 3)")


# -- bursts -----------------------------------------------------------------------------------------------------


def burst(invoke, events: list[list], connections=None, timeout: float = 120) -> tuple[list[list], list[int]]:
    """Execution environments side by side, one per list in `events`: round r hands every environment its event r
    at the same moment, once all have answered round r - 1 (round 0 starts them all: cold).

    `invoke(events, on_result)` runs one environment (a fresh process) over an iterable of events. Returns the
    results per round, and `connections()` read before the first round and after each round.
    """
    marks: list[int] = []
    barrier = threading.Barrier(len(events), action=lambda: marks.append(connections() if connections else 0))
    results: list[list] = [[] for _ in events]
    failures: list[BaseException] = []

    def feed(own):
        for event in own:
            barrier.wait(timeout)
            yield event
        barrier.wait(timeout)  # the last round's mark

    def run(index):
        try:
            invoke(feed(events[index]), results[index].append)
        except BaseException as err:  # noqa: BLE001 - handed to the caller; the others must not wait for it
            failures.append(err)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), name=f"burst-{i}", daemon=True) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout * (len(events[0]) + 1))
    if failures:
        raise failures[0]
    return [[own[r] for own in results] for r in range(len(events[0]))], marks


def power_directive(endpoint_id: str, token: str, name: str = "TurnOn") -> dict:
    return {"directive": {
        "header": {"namespace": "Alexa.PowerController", "name": name, "payloadVersion": "3",
                   "messageId": f"burst-{endpoint_id}-{time.monotonic_ns()}", "correlationToken": "burst"},
        "endpoint": {"endpointId": endpoint_id, "cookie": {}, "scope": {"type": "BearerToken", "token": token}},
        "payload": {}}}


def burst_events(token: str, rounds: int) -> list[list]:
    """Per environment, a TurnOn / TurnOff of its own lamp of the big home, one per round."""
    return [[power_directive(f"light#big_lamp_{i}", token, ("TurnOn", "TurnOff")[r % 2]) for r in range(rounds)]
            for i in range(BURST)]


def burst_figures(rounds: list[list], marks: list[int]) -> dict:
    cold = [r.init_ms + r.duration_ms for r in rounds[0] if r.init_ms is not None]
    warm = [r.duration_ms for results in rounds[1:] for r in results]
    return {
        "environments": len(rounds[0]), "answered": sum(_answered(r) for results in rounds for r in results),
        "requests": sum(len(results) for results in rounds),
        "cold_ms": {"median": statistics.median(cold), "p95": percentile(cold, 0.95), "max": max(cold)},
        "warm_ms": {"median": statistics.median(warm), "p95": percentile(warm, 0.95), "max": max(warm)} if warm
        else None,
        "cold_connections": marks[1] - marks[0], "warm_new_connections": marks[-1] - marks[1],
        "warm_bursts": len(rounds) - 1,
    }


def _answered(result) -> bool:
    event = (result.response or {}).get("event", {}) if isinstance(result.response, dict) else {}
    return result.error is None and event.get("header", {}).get("name") == "Response"


# -- Discovery at scale -----------------------------------------------------------------------------------------


def raw_discovery(ha, event: dict) -> bytes:
    request = urllib.request.Request(ha.url + "/api/alexa/smart_home", data=json.dumps(event).encode(),
                                     headers={"Authorization": f"Bearer {ha.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read()


FLOOR_SCRIPT = """
import json, sys, time
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
raw, answer = open(sys.argv[1], "rb").read(), json.load(open(sys.argv[2], encoding="utf-8"))
frames = [open(path, "rb").read() for path in sys.argv[3:]]  # WebSocket answers the bridge parses too
marshaller = LambdaMarshaller()
for _ in sys.stdin:
    started = time.thread_time_ns()
    json.loads(raw)
    for frame in frames:
        json.loads(frame)
    parsed = time.thread_time_ns()
    marshaller.marshal_response(answer)[0].encode()
    done = time.thread_time_ns()
    print(json.dumps({"loads_ms": (parsed - started) / 1e6, "dumps_ms": (done - parsed) / 1e6}), flush=True)
"""


class Floor:
    """The work no bridge can skip, timed on request in a fresh process of the functions' Python (its heap, and so
    the garbage collector's work, is a function's): json.loads of Home Assistant's answer, then the runtime's
    serialisation of the bridge's answer (awslambdaric's encoder, as on Lambda's python3.13). Asked between the
    bridge's warm invocations, so that whatever else the machine does falls on both alike."""

    def __init__(self, python, raw: bytes, answer: dict, frames: list[bytes] = ()):
        self.work = tempfile.TemporaryDirectory(prefix="bench-floor-")
        raw_file, answer_file = Path(self.work.name, "ha.json"), Path(self.work.name, "alexa.json")
        raw_file.write_bytes(raw)
        answer_file.write_text(json.dumps(answer), encoding="utf-8")
        frame_files = [Path(self.work.name, f"ws-{i}.json") for i in range(len(frames))]
        for frame_file, frame in zip(frame_files, frames, strict=True):
            frame_file.write_bytes(frame)
        self.process = subprocess.Popen([str(python), "-c", FLOOR_SCRIPT, str(raw_file), str(answer_file),
                                         *map(str, frame_files)],
                                        env={**os.environ, "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"},
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.samples: list[dict] = []
        self.sample()
        self.samples.clear()  # the first one warms up

    def sample(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.samples.append(json.loads(self.process.stdout.readline()))

    def close(self) -> dict:
        self.process.stdin.close()
        self.process.wait(10)
        self.work.cleanup()
        loads, dumps = (statistics.median(s[key] for s in self.samples) for key in ("loads_ms", "dumps_ms"))
        return {"loads_ms": loads, "dumps_ms": dumps, "samples": [s["loads_ms"] + s["dumps_ms"] for s in self.samples],
                "ms": statistics.median(s["loads_ms"] + s["dumps_ms"] for s in self.samples)}


def log_lines(result) -> int:
    """Lines the function wrote during one invocation (logs and metrics; not the runner's START/END/REPORT)."""
    return sum(not line.startswith(("START ", "END ", "REPORT ")) for line in result.logs)


def raw_websocket(ha) -> list[bytes]:
    """The WebSocket answers the bridge reads for ALEXA_EXPOSE=EXPOSURE, as Home Assistant sends them."""
    import websocket  # websocket-client

    from gateway.alexa_exposure import commands, mode

    ws = websocket.create_connection(ha.url.replace("http", "ws", 1) + "/api/websocket", timeout=60)
    try:
        ws.recv()  # auth_required
        ws.send(json.dumps({"type": "auth", "access_token": ha.token}))
        ws.recv()  # auth_ok
        frames = []
        for message_id, message in enumerate(commands(mode(EXPOSURE)).values(), 1):
            ws.send(json.dumps({**message, "id": message_id}))
            frames.append(ws.recv().encode())
    finally:
        ws.close()
    return frames


def discoveries(bench, variant, event: dict, raw: bytes, args, size: int, frames: list[bytes] = ()) -> dict:
    """Cold and warm Discoveries of `variant`, with the floor sampled before each warm one."""
    cold = [bench.cold(variant) for _ in range(args.scale_cold)]
    runs: list = []
    floor: list[Floor] = []

    def events():  # this process's first request, then warm ones, each after a sample of the floor
        yield event
        floor.append(Floor(bench.python, raw, runs[0].response, frames))
        for _ in range(args.scale_warm):
            floor[0].sample()
            yield event

    bench.invoke(variant, events(), on_result=runs.append)
    warm = runs[1:]
    for result in runs:
        if result.error is not None:
            raise SystemExit(f"bench.scale: the {size}-endpoint home failed ({variant.key}): {result.error}")
    answer = warm[-1].response
    if answer["event"]["header"]["name"] != "Discover.Response":
        raise SystemExit(f"bench.scale: the {size}-endpoint home ({variant.key}) answered {answer['event']}")
    figures = {
        "sent": len(answer["event"]["payload"]["endpoints"]),
        "ha_bytes": len(raw), "answer_bytes": len(json.dumps(answer, ensure_ascii=False).encode()),
        "floor": floor[0].close(),
        "ha_ms": summary(metric(r, "HomeAssistantLatency") for r in warm),
        "ms": summary(r.duration_ms for r in warm), "cpu_ms": summary(r.cpu_ms for r in warm),
        "ms128": summary(model_128(r.duration_ms, r.cpu_ms) for r in warm),
        "cold_ms": summary(c["cold_ms"] for c in cold), "cold128_ms": summary(c["cold128_ms"] for c in cold),
        "rss_mb": max(r.max_memory_mb or 0 for r in runs), "log_lines": summary(log_lines(r) for r in warm),
    }
    # Each warm invocation against the floor sample taken just before it: drifts in the machine's load cancel.
    pairs = zip(warm, figures["floor"]["samples"], strict=True)
    figures["cpu_ratio"] = statistics.median(r.cpu_ms / f for r, f in pairs)
    return figures


def measure_home(size: int, python, variant, args, burst_home: int | None = None) -> dict:
    """One home: start its Home Assistant and proxy, measure cold and warm Discoveries of `variant` (and a burst
    when `size` is `burst_home`)."""
    from bench.tls_proxy import ProxyProcess
    from devtools.big_home import home_config
    from devtools.demo_ha import DemoHomeAssistant

    with contextlib.ExitStack() as stack:
        ha = stack.enter_context(DemoHomeAssistant(extra_config=home_config(size)))
        proxy = stack.enter_context(ProxyProcess(ha.url, args.delay_ms))
        event = discovery(ha.token)
        raw = raw_discovery(ha, event)
        offered = len(json.loads(raw)["event"]["payload"]["endpoints"])
        bench = Bench(python, proxy, event, args.memory)
        figures = {"home": size, "offered": offered, **discoveries(bench, variant, event, raw, args, size)}
        if size == burst_home:
            print(f"bench.scale: the {offered}-endpoint home with ALEXA_EXPOSE={EXPOSURE}", file=sys.stderr,
                  flush=True)
            exposed = dataclasses.replace(variant, key=f"{variant.key}:exposure",
                                          env={**variant.env, "ALEXA_EXPOSE": EXPOSURE})
            frames = raw_websocket(ha)
            figures["exposure"] = {"mode": EXPOSURE, "ws_bytes": sum(map(len, frames)), "offered": offered,
                                   **discoveries(bench, exposed, event, raw, args, size, frames)}
            print(f"bench.scale: burst of {BURST} cold starts against the {offered}-endpoint home",
                  file=sys.stderr, flush=True)
            rounds, marks = burst(lambda events, on_result: bench.invoke(variant, events, on_result=on_result),
                                  burst_events(ha.token, args.burst_rounds + 1), lambda: proxy.connections)
            figures["burst"] = burst_figures(rounds, marks)
    return figures


def measure(python, variant, args) -> dict:
    """Every home of `args.homes` (the options of add_arguments, and delay_ms and memory), with `python`."""
    homes = [] if args.homes == "none" else [int(size) for size in args.homes.split(",")]
    if not homes:
        return {}
    burst_home = max((h for h in homes if h <= 1500), default=max(homes))  # the big home of the tests
    started, results = time.monotonic(), []
    for size in homes:
        print(f"bench.scale: home of about {size} endpoints", file=sys.stderr, flush=True)
        results.append(measure_home(size, python, variant, args, burst_home))
    report = {"homes": results, "delay_ms": args.delay_ms, "elapsed_s": time.monotonic() - started,
              "cold_runs": args.scale_cold, "warm_runs": args.scale_warm}
    report["png"] = draw(results)
    SCALE_JSON.parent.mkdir(parents=True, exist_ok=True)
    SCALE_JSON.write_text(json.dumps(report, indent=1) + "\n")
    return report


def draw(homes: list[dict]) -> str | None:
    """CPU per warm Discovery against the endpoints offered: the bridge's invocation and the floor."""
    try:
        import matplotlib
    except ImportError:
        print("bench.scale: matplotlib missing (requirements-dev.txt): no picture", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    offered = [h["offered"] for h in homes]
    figure, axes = pyplot.subplots(figsize=(7, 4), dpi=120)
    axes.plot(offered, [h["cpu_ms"]["median"] for h in homes], "o-", label="bridge: warm Discovery, CPU")
    axes.plot(offered, [h["floor"]["ms"] for h in homes], "s--",
              label="floor: json.loads(HA answer) + serialising Alexa's")
    axes.plot(offered, [1.5 * h["floor"]["ms"] for h in homes], ":", color="grey", label="1.5 x floor (the goal)")
    axes.axvline(300, color="lightgrey", linewidth=1)
    axes.text(305, axes.get_ylim()[1] * 0.95, "Alexa takes 300", va="top", fontsize=8, color="grey")
    axes.set_xlabel("endpoints Home Assistant offers")
    axes.set_ylabel("CPU per Discovery (ms, median)")
    axes.set_title("Discovery at scale: cost against the size of the home")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    figure.tight_layout()
    PNG.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PNG, metadata={"Software": None})
    pyplot.close(figure)
    return str(PNG.relative_to(BENCH_DIR.parent))


def markdown(report: dict) -> str:
    homes = report.get("homes") or []
    if not homes:
        return ""
    out = ["", "## Discovery at scale", "",
           f"The artifact answering a Discovery of homes of growing size (devtools/big_home.py: the demo plus helpers,"
           f" scripts, sensors, lamps and plugs as YAML), {report['warm_runs']} warm requests in one process and"
           f" {report['cold_runs']} cold ones, {report['delay_ms']:g} ms round trip. Medians; times in ms. **CPU /"
           " floor** is the median of each warm invocation's CPU over the floor's, timed just before it in a fresh"
           " process of the same Python: `json.loads` of Home Assistant's answer plus the runtime's serialisation"
           " of the bridge's (goal for a home over 1,000 endpoints: at most 1.5x). The `ALEXA_EXPOSE` row reads the"
           " owner's choice over one WebSocket connection too (HA call: the REST Discovery only), and its floor"
           " also parses the WebSocket answers.", "",
           "| endpoints offered / sent | HA answer | bridge answer | HA call | warm invocation | its CPU | floor CPU |"
           " **CPU / floor** | modelled 128 MB | cold request | cold, 128 MB | peak RSS | log lines |",
           "| --- " * 13 + "|"]
    for h in homes:
        out.append(
            f"| {h['offered']:,} / {h['sent']} | {h['ha_bytes'] / 1e3:,.0f} kB | {h['answer_bytes'] / 1e3:,.0f} kB |"
            f" {h['ha_ms']['median']:.1f} | {h['ms']['median']:.1f} | {h['cpu_ms']['median']:.1f} |"
            f" {h['floor']['ms']:.1f} | **{h['cpu_ratio']:.2f}x** | {h['ms128']['median']:.0f} |"
            f" {h['cold_ms']['median']:.0f} | {h['cold128_ms']['median']:.0f} | {h['rss_mb']} MB |"
            f" {h['log_lines']['median']:.0f} |")
        if "exposure" in h:
            e = h["exposure"]
            out.append(
                f"| {e['offered']:,} / {e['sent']}, `ALEXA_EXPOSE={e['mode']}` | {e['ha_bytes'] / 1e3:,.0f} kB +"
                f" {e['ws_bytes'] / 1e3:,.0f} kB WebSocket | {e['answer_bytes'] / 1e3:,.0f} kB |"
                f" {e['ha_ms']['median']:.1f} | {e['ms']['median']:.1f} | {e['cpu_ms']['median']:.1f} |"
                f" {e['floor']['ms']:.1f} | **{e['cpu_ratio']:.2f}x** | {e['ms128']['median']:.0f} |"
                f" {e['cold_ms']['median']:.0f} | {e['cold128_ms']['median']:.0f} | {e['rss_mb']} MB |"
                f" {e['log_lines']['median']:.0f} |")
    if report.get("png"):
        out += ["", f"![CPU per Discovery against the home's size]({Path(report['png']).relative_to('bench')})"]
    burst_home = next((h for h in homes if "burst" in h), None)
    if burst_home:
        b = burst_home["burst"]
        warm = b["warm_ms"]
        out += ["", "## Bursts", "",
                f"{b['environments']} execution environments started at the same moment (an Alexa routine switching"
                f" {b['environments']} lights), each a fresh process through the runtime interface client, against"
                f" the {burst_home['offered']:,}-endpoint home on this machine's {os.cpu_count()} CPUs, then"
                f" {b['warm_bursts']} warm bursts of {b['environments']} at once in the same environments."
                f" {b['answered']} of {b['requests']} answered with a valid Alexa Response.", "",
                "| | median | p95 | slowest | TLS connections |", "| --- | --- | --- | --- | --- |",
                f"| cold burst: INIT + invocation | {b['cold_ms']['median']:.0f} | {b['cold_ms']['p95']:.0f} |"
                f" {b['cold_ms']['max']:.0f} (Alexa waits {ALEXA_LIMIT_MS}) | {b['cold_connections']} |"]
        if warm:
            out.append(f"| warm bursts: invocation | {warm['median']:.0f} | {warm['p95']:.0f} | {warm['max']:.0f} |"
                       f" {b['warm_new_connections']} new |")
    return "\n".join(out) + "\n"
