"""Soak: sequential warm invocations in one process against a real Home Assistant; memory must stay flat.

    python -m bench.soak [--requests 1000] [--warm-up 100] [--max-growth-kb 1024]

Uses HA_URL and HA_TOKEN, or starts the demo Home Assistant of the tests (devtools.demo_ha) when HA_URL is unset.
The directives cycle through ReportState, Discover and TurnOn. Resident memory is read after a warm-up (imports,
caches, the first connection) and after the run. Prints one JSON line; exits 1 on a failed request or on growth
beyond the limit. tests/integration/test_soak.py runs it.
"""

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Context:
    """The parts of the Lambda context the bridge reads (Powertools' log keys too): 8 s, as Alexa allows."""

    aws_request_id = "soak"
    function_name = "soak-bridge"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:soak-bridge"

    def __init__(self):
        self.until = time.monotonic() + 8.0

    def get_remaining_time_in_millis(self) -> int:
        return int((self.until - time.monotonic()) * 1000)


def directives(token: str):
    """Endless directives, each with what it must be answered with."""
    def make(namespace, name, endpoint_id=None):
        header = {"namespace": namespace, "name": name, "payloadVersion": "3", "messageId": str(uuid.uuid4())}
        scope = {"type": "BearerToken", "token": token}
        if endpoint_id is None:
            return {"directive": {"header": header, "payload": {"scope": scope}}}
        header["correlationToken"] = str(uuid.uuid4())
        endpoint = {"endpointId": endpoint_id, "cookie": {}, "scope": scope}
        return {"directive": {"header": header, "endpoint": endpoint, "payload": {}}}

    while True:
        yield make("Alexa", "ReportState", "light#kitchen_lights"), "StateReport"
        yield make("Alexa.Discovery", "Discover"), "Discover.Response"
        yield make("Alexa", "ReportState", "switch#decorative_lights"), "StateReport"
        yield make("Alexa.PowerController", "TurnOn", "light#ceiling_lights"), "Response"


def rss_kb() -> int:
    gc.collect()
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def soak(requests: int, warm_up: int, token: str) -> dict:
    with contextlib.redirect_stdout(open(os.devnull, "w")):  # the function's logs and metrics
        import lambda_function
        from gateway import ha_client

        stream = directives(token)
        failures = []

        def invoke(count):
            for _ in range(count):
                event, wanted = next(stream)
                answer = lambda_function.lambda_handler(event, Context())
                name = answer.get("event", {}).get("header", {}).get("name")
                if name != wanted:
                    failures.append({"wanted": wanted, "answer": answer})

        invoke(warm_up)
        before = rss_kb()
        started = time.perf_counter()
        invoke(requests)
        seconds = time.perf_counter() - started
        after = rss_kb()
    return {"requests": requests, "failures": failures[:5], "failed": len(failures), "rss_kb_before": before,
            "rss_kb_after": after, "rss_growth_kb": after - before, "seconds": round(seconds, 2),
            "ms_per_request": round(seconds * 1000 / requests, 2),
            "connections_opened": ha_client.default_client().connections_opened}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=100)
    parser.add_argument("--max-growth-kb", type=int, default=1024)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if not os.environ.get("HA_URL"):
            from devtools.demo_ha import DemoHomeAssistant

            ha = stack.enter_context(DemoHomeAssistant())
            os.environ.update(HA_URL=ha.url, HA_TOKEN=ha.token)
        result = soak(args.requests, args.warm_up, os.environ["HA_TOKEN"])
    print(json.dumps(result))
    return 0 if not result["failed"] and result["rss_growth_kb"] <= args.max_growth_kb else 1


if __name__ == "__main__":
    sys.exit(main())
