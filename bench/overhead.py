"""The handler's own warm overhead per directive: RequestLatency minus HomeAssistantLatency, in-process.

    .venv/bin/python -m bench.overhead [--requests 60]

Runs against a demo Home Assistant (devtools.demo_ha) with INFO logs, reads both metrics from the EMF lines the
bridge prints, skips the first 10 requests of each directive (warm-up) and prints the median per directive.
"""

import argparse
import contextlib
import io
import json
import os
import statistics

from devtools.demo_ha import DemoHomeAssistant


def directive(namespace: str, name: str, token: str, endpoint_id: str | None = None) -> dict:
    header = {"namespace": namespace, "name": name, "payloadVersion": "3", "messageId": "m", "correlationToken": "c"}
    scope = {"type": "BearerToken", "token": token}
    if endpoint_id:
        return {"directive": {"header": header, "endpoint": {"endpointId": endpoint_id, "scope": scope},
                              "payload": {}}}
    return {"directive": {"header": header, "payload": {"scope": scope}}}


def overhead_ms(handler, event, requests: int) -> float:
    samples = []
    for index in range(requests):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            handler(event, None)
        metrics = {}
        for line in printed.getvalue().splitlines():
            if line.startswith('{"_aws"'):
                metrics.update(json.loads(line))
        if index >= 10:
            samples.append(metrics["RequestLatency"][0] - metrics["HomeAssistantLatency"][0])
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    with DemoHomeAssistant() as ha:
        os.environ.update(HA_URL=ha.url, POWERTOOLS_LOG_LEVEL="INFO")
        # After HA_URL is set (the preload connects to it); the logs go to a sink, as Lambda's go to a pipe.
        with contextlib.redirect_stdout(io.StringIO()):
            from fast_path import lambda_handler
        with contextlib.redirect_stderr(io.StringIO()):
            for label, event in (
                ("ReportState", directive("Alexa", "ReportState", ha.token, "light#kitchen_lights")),
                ("TurnOn", directive("Alexa.PowerController", "TurnOn", ha.token, "light#kitchen_lights")),
                ("Discover", directive("Alexa.Discovery", "Discover", ha.token)),
            ):
                print(f"{label}: {overhead_ms(lambda_handler, event, args.requests):.2f} ms median")


if __name__ == "__main__":
    main()
