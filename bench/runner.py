"""The runner: cold and warm requests of a variant, each in fresh processes through bench.runtime_api.

`Bench` holds what every run shares (the runtime's Python, the TLS proxy in front of Home Assistant, the event,
the memory size); `invoke` runs one execution environment over a sequence of events, `cold` and `warm` turn its
results into the figures of the report.
"""

from __future__ import annotations

import json
import queue
import threading
import time

from bench import runtime_api
from bench.stats import model_128
from bench.variants import Variant


def metric(result, name: str) -> float | None:
    """The value of the EMF metric `name` the function printed during `result`'s invocation, or None."""
    for m in result.metrics:
        if m["name"] == name:
            value = m["value"]
            return float(sum(value) if isinstance(value, list) else value)
    return None


def check(variant: Variant, result) -> None:
    """Stop the benchmark when a run did not answer the Discovery: its numbers would be meaningless."""
    answer = result.response if isinstance(result.response, dict) else {}
    header = (answer.get("event") or {}).get("header") or {}
    endpoints = ((answer.get("event") or {}).get("payload") or {}).get("endpoints")
    if result.error is not None or header.get("name") != "Discover.Response" or not endpoints:
        logs = "\n".join(result.logs[-40:])
        raise SystemExit(f"bench: {variant.label} did not answer the Discovery: "
                         f"{json.dumps(result.error or result.response)[:500]}\n{logs}")


def warm_run(r) -> dict:
    """The figures of one warm invocation."""
    ha_ms, request_ms = metric(r, "HomeAssistantLatency"), metric(r, "RequestLatency")
    return {
        "ms": r.duration_ms, "cpu_ms": r.cpu_ms, "ms128": model_128(r.duration_ms, r.cpu_ms),
        "ha_ms": ha_ms, "request_ms": request_ms,
        "overhead_ms": r.duration_ms - ha_ms if ha_ms is not None else None,
        "handler_overhead_ms": request_ms - ha_ms if None not in (ha_ms, request_ms) else None,
    }


class Bench:
    def __init__(self, python, proxy, event: dict | None, memory: int):
        self.python, self.proxy, self.event, self.memory = str(python), proxy, event, memory

    def env(self, variant: Variant) -> dict:
        """The function's settings: Home Assistant through the proxy, trusted through its CA, no operator token."""
        return {"HA_URL": self.proxy.url, "HA_CA_BUNDLE": self.proxy.ca_file, "HA_TOKEN": "",
                "HA_TOKEN_PARAMETER": "", "HA_VERIFY_TLS": "true", **variant.env}

    def invoke(self, variant: Variant, events, on_result=None) -> list:
        """Run `events` in order in one fresh execution environment of `variant` (bench.runtime_api.invoke)."""
        python = variant.runtime(variant.task_root) if variant.runtime else self.python
        return runtime_api.invoke(events, env=self.env(variant), memory=self.memory, timeout=10,
                                  handler=variant.handler, task_root=variant.task_root, python=python,
                                  echo=False, on_result=on_result)

    def cold(self, variant: Variant) -> dict:
        """One cold request (INIT + first invocation) in a fresh process, checked, and its figures."""
        before = self.proxy.connections
        (r,) = self.invoke(variant, [self.event])
        check(variant, r)
        return {
            "init_ms": r.init_ms, "init_cpu_ms": r.init_cpu_ms, "first_ms": r.duration_ms,
            "first_cpu_ms": r.cpu_ms, "cold_ms": r.init_ms + r.duration_ms,
            "cold128_ms": r.init_ms + model_128(r.duration_ms, r.cpu_ms), "rss_mb": r.max_memory_mb,
            "ha_ms": metric(r, "HomeAssistantLatency"), "connections": self.proxy.connections - before,
        }

    def cold_pause(self, variant: Variant, pause_s: float) -> dict:
        time.sleep(pause_s)  # let Home Assistant finish the work the previous request left behind
        return self.cold(variant)

    def warm(self, variants: list[Variant], count: int) -> dict:
        """`count` warm requests per variant, after a cold one: one process per variant, all alive at once,
        taking turns one request at a time, so that whatever else the machine does falls on every variant alike."""
        turns = {v.key: queue.Queue() for v in variants}
        done: queue.Queue = queue.Queue()

        def events(key):
            while turns[key].get():
                yield self.event

        def run(variant):
            try:
                self.invoke(variant, events(variant.key), on_result=lambda r: done.put(r))
            except BaseException as err:  # handed to the coordinator, which stops every variant
                done.put(err)

        threads = [threading.Thread(target=run, args=(v,), name=f"warm-{v.key}", daemon=True) for v in variants]
        for thread in threads:
            thread.start()
        data = {v.key: {"runs": [], "new_connections": 0, "rss_mb": None} for v in variants}
        try:
            for round_ in range(count + 1):  # round 0 is each process's cold request
                shift = round_ % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    before = self.proxy.connections
                    turns[variant.key].put(True)
                    result = done.get(timeout=60)
                    if isinstance(result, BaseException):
                        raise result
                    check(variant, result)
                    if round_:
                        record = data[variant.key]
                        record["runs"].append(warm_run(result))
                        record["new_connections"] += self.proxy.connections - before
                        record["rss_mb"] = result.max_memory_mb
        finally:
            for variant in variants:
                turns[variant.key].put(False)
            for thread in threads:
                thread.join(15)
        return data
