"""The benchmark's parts that can break unseen: the TLS proxy, the baselines, the shims, the model, the report.

No timing thresholds: the only times asserted are lower bounds the proxy's own sleeps guarantee.
"""

import http.client
import importlib
import json
import os
import ssl
import subprocess
import sys
import time
import types

import pytest

from bench import report, stats, variants
from bench.runtime_api import invoke
from bench.tls_proxy import DelayedTLSProxy, ProxyProcess
from devtools.local_invoke import link_distributions
from support import ROOT, TIMED_HANDLERS, TOKEN

DISCOVER_ANSWER = {"event": {"header": {"namespace": "Alexa.Discovery", "name": "Discover.Response",
                                        "payloadVersion": "3", "messageId": "m"},
                             "payload": {"endpoints": [{"endpointId": "light#kitchen"}]}}}


def ok(method, path, headers, body):
    return 200, DISCOVER_ANSWER, None


def https(proxy, port=None):
    port = port or int(proxy.url.rsplit(":", 1)[1])
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                       context=ssl.create_default_context(cafile=proxy.ca_file))


def test_the_proxy_terminates_tls_with_its_own_ca_and_forwards_to_the_upstream(fake_ha):
    ha = fake_ha(ok)
    with DelayedTLSProxy(ha.url, delay_ms=0) as proxy:
        assert proxy.url.startswith("https://127.0.0.1:")
        conn = https(proxy)
        for _ in range(2):  # one keep-alive connection, two exchanges
            conn.request("POST", "/api/alexa/smart_home", body=b'{"x": 1}', headers={"Authorization": "Bearer t"})
            response = conn.getresponse()
            assert (response.status, json.loads(response.read())) == (200, DISCOVER_ANSWER)
        conn.close()
        assert proxy.connections == 1
        with pytest.raises(ssl.SSLCertVerificationError):  # the certificate is not publicly trusted
            http.client.HTTPSConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]), timeout=10).connect()
        assert proxy.connections == 2
    method, path, headers, body = ha.requests[0]
    assert (method, path, headers["Authorization"], body) == ("POST", "/api/alexa/smart_home", "Bearer t", b'{"x": 1}')


def test_the_proxy_delays_each_exchange_by_the_round_trip(fake_ha):
    ha = fake_ha(ok)
    with DelayedTLSProxy(ha.url, delay_ms=100) as proxy:
        conn = https(proxy)
        started = time.monotonic()
        conn.connect()  # TLS 1.3: one round trip
        handshake = time.monotonic() - started
        conn.request("GET", "/")
        conn.getresponse().read()  # one more
        total = time.monotonic() - started
        conn.close()
    assert handshake >= 0.1
    assert total >= 0.2


def test_the_proxy_process_answers_counts_and_stops(fake_ha):
    ha = fake_ha(ok)
    proxy = ProxyProcess(ha.url, delay_ms=0).start()
    try:
        assert proxy.connections == 0
        conn = https(proxy)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
        assert proxy.connections == 1
        ca_file = proxy.ca_file
    finally:
        proxy.stop()
    assert not os.path.exists(ca_file)  # the throwaway CA goes with the proxy


def test_the_model_stretches_only_the_invocation_cpu():
    assert stats.CPU_STRETCH == pytest.approx(1769 / 128 - 1)
    assert stats.model_128(100.0, 10.0) == pytest.approx(100.0 + 10.0 * (1769 / 128 - 1))
    assert stats.model_128(50.0, 0.0) == 50.0


def test_summary_ignores_missing_values():
    assert stats.summary([3, None, 1, 2]) == {"median": 2, "min": 1, "max": 3, "n": 3}
    assert stats.summary([None]) is None


def test_the_runner_measures_the_cpu_time_of_each_invocation(tmp_path):
    (tmp_path / "handlers.py").write_text(TIMED_HANDLERS)
    (busy,) = invoke([{}], handler="handlers.busy", task_root=tmp_path, echo=False)
    (idle,) = invoke([{}], handler="handlers.idle", task_root=tmp_path, echo=False)
    assert busy.cpu_ms >= 50 and busy.init_cpu_ms > 0
    assert idle.cpu_ms < idle.duration_ms


@pytest.mark.parametrize("name", ["eager", "one_file_proxy", "required"])
def test_a_baseline_forwards_the_directive_with_its_token_over_tls(name, fake_ha, monkeypatch):
    ha = fake_ha(ok)
    event = variants.discovery(TOKEN)
    with DelayedTLSProxy(ha.url, delay_ms=0) as proxy:
        monkeypatch.setenv("HA_URL", proxy.url)
        monkeypatch.setenv("HA_CA_BUNDLE", proxy.ca_file)
        monkeypatch.syspath_prepend(str(ROOT / "bench" / "baselines" / name))
        monkeypatch.delitem(sys.modules, "lambda_function", raising=False)
        baseline = importlib.import_module("lambda_function")
        try:
            context = types.SimpleNamespace(
                function_name="bench", memory_limit_in_mb=128, aws_request_id="r",
                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench")
            answer = baseline.lambda_handler(event, context)
        finally:
            del sys.modules["lambda_function"]
    assert answer == DISCOVER_ANSWER
    method, path, headers, body = ha.requests[0]
    assert (method, path, headers["Authorization"]) == ("POST", "/api/alexa/smart_home", f"Bearer {TOKEN}")
    assert json.loads(body) == event


def test_the_no_preconnect_shim_opens_nothing_during_init_and_puts_ha_url_back():
    script = """
import json, sys, threading
import bench_no_preconnect
from gateway import ha_client
for thread in threading.enumerate():
    if thread.name == "preconnect":
        thread.join()
import os
print(json.dumps({"clients": ha_client._client.cache_info().currsize, "url": os.environ.get("HA_URL"),
                  "preloaded": "ha_alexa" in sys.modules}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HA_", "BRIDGE_"))}
    env.update(HA_URL="http://127.0.0.1:9", BRIDGE_PRELOAD="ha_alexa",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "bench" / "shims")]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert json.loads(out.splitlines()[-1]) == {"clients": 0, "url": "http://127.0.0.1:9", "preloaded": True}


def test_link_distributions_mirrors_an_installed_package_with_its_pyc(tmp_path):
    names = link_distributions(["python-dateutil"], tmp_path)
    assert names == ["python-dateutil", "six"]
    assert (tmp_path / "dateutil").is_symlink() and (tmp_path / "six.py").is_symlink()
    assert list((tmp_path / "__pycache__").glob("six.*.pyc"))


def fake_stats():
    """Runs shaped like a real benchmark's, for every variant."""
    def cold(scale, cpu, rss):
        return [{"init_ms": 100 * scale + i, "init_cpu_ms": 90 * scale, "first_ms": 80 * scale, "first_cpu_ms": cpu,
                 "cold_ms": 180 * scale + i, "cold128_ms": stats.model_128(180 * scale + i, cpu),
                 "rss_mb": rss, "ha_ms": 60.0, "connections": 1} for i in range(3)]

    def warm(ms, cpu, connections, ha=True):
        runs = [{"ms": ms, "cpu_ms": cpu, "ms128": stats.model_128(ms, cpu), "ha_ms": 50.0 if ha else None,
                 "request_ms": 51.0 if ha else None, "overhead_ms": ms - 50.0 if ha else None,
                 "handler_overhead_ms": 1.0 if ha else None} for _ in range(4)]
        return {"runs": runs, "new_connections": connections, "rss_mb": 30}

    cold_runs = {"bridge": cold(1, 5.0, 30), "eager": cold(3, 20.0, 80), "one_file": cold(1.5, 10.0, 30),
                 "floor": cold(0.3, 3.0, 16), "no_preload": cold(1.2, 50.0, 30), "required": cold(0.9, 4.0, 28)}
    warm_runs = {"bridge": warm(55.0, 4.0, 0), "eager": warm(60.0, 7.0, 0),
                 "one_file": warm(100.0, 8.0, 4, ha=False), "floor": warm(4.0, 3.0, 0, ha=False)}
    return stats.analyse(cold_runs, warm_runs)


def test_the_report_judges_the_goals_and_renders_with_any_subset_of_variants():
    figures = fake_stats()
    goals = {text: ok for text, _, _, ok in report.goals(figures)}
    floor = "cold request vs the floor (a function that calls nothing, plus the HA call), "
    assert goals[floor + "measured"] is False  # 181 / (55 + 50) = 1.72 > 1.6
    assert goals[floor + "modelled 128 MB"] is False  # (181 + 5 x 12.82) / (55 + 3 x 12.82 + 50) = 1.71
    assert goals["cold request vs (b) one-file proxy, measured"] is True  # 181/271 = 0.67
    assert goals["warm request vs (b) one-file proxy, modelled 128 MB (no worse than before)"] is True
    assert goals["handler's own warm overhead: RequestLatency - HomeAssistantLatency, median ms"] is True
    assert goals["new TLS connections during the warm requests, at the proxy"] is True
    labels = {"bridge": "bridge", "eager": "(a)", "one_file": "(b)", "floor": "floor", "no_preload": "empty",
              "required": "required"}
    for keys in (list(labels), ["bridge"]):
        sub = {k: v for k, v in figures.items() if k in keys}
        results = {
            "stats": sub, "goals": {"bridge": report.goals(sub)}, "argv": "", "date": "today", "elapsed_s": 1,
            "machine": "m", "load": ["0", "0"], "python": "3.13.0", "cache_tag": "cpython-313",
            "awslambdaric": "4", "home_assistant": "2025", "answer_bytes": 1000, "endpoints": 1,
            "config": {"runs": 3, "warm": 4, "delay_ms": 40.0, "pause_s": 0.1},
            "artifact": {"path": "a", "files": 1, "bytes": 1, "zipped_bytes": 1, "stale_sources": [],
                         "pyc": {"modules": 1, "unchecked_hash": 1, "missing": 0}},
            "variants": [{"key": k, "label": labels[k]} for k in keys],
        }
        text = report.markdown(results)
        assert "## Goals: bridge" in text and "## How this is measured" in text
    assert "Lower bounds here" in report.markdown({**results, "stats": figures, "variants": [
        {"key": k, "label": v} for k, v in labels.items()]})



def test_the_report_reads_the_bridge_against_what_the_missions_own_parts_cost():
    figures = fake_stats()
    labels = {"bridge": "bridge", "eager": "(a)", "one_file": "(b)", "floor": "floor", "required": "required"}
    results = {
        "stats": figures, "goals": {"bridge": report.goals(figures)}, "argv": "", "date": "today", "elapsed_s": 1,
        "machine": "m", "load": ["0", "0"], "python": "3.13.0", "cache_tag": "cpython-313", "awslambdaric": "4",
        "home_assistant": "2025", "answer_bytes": 1000, "endpoints": 1,
        "config": {"runs": 3, "warm": 4, "delay_ms": 40.0, "pause_s": 0.1},
        "artifact": {"path": "a", "files": 1, "bytes": 1, "zipped_bytes": 1, "stale_sources": [],
                     "pyc": {"modules": 1, "unchecked_hash": 1, "missing": 0}},
        "variants": [{"key": k, "label": v} for k, v in labels.items()],
    }
    text = report.markdown(results)
    # required: cold 0.9 x 180 + 1 = 163 (median), the floor bound 0.3 x 180 + 1 + the bridge's warm HA call 50 = 105
    assert "takes 163 ms cold, 1.55x the floor bound" in text
    assert "the bridge takes 1.11x" in text  # 181 / 163
    results["stats"] = {k: v for k, v in figures.items() if k != "required"}
    assert "What the mission's own parts cost" not in report.markdown(results)
