"""bench.scale's own logic: bursts start together and take turns by round; the report shows what was measured."""

import threading
import time
from types import SimpleNamespace

from bench import scale


def test_a_burst_hands_each_round_to_every_environment_at_once_after_the_last_round_is_answered():
    handed, lock = [], threading.Lock()

    def invoke(events, on_result):  # one "environment": answers each event after a while
        for event in events:
            with lock:
                handed.append((event["round"], time.monotonic()))
            time.sleep(0.05 if event["env"] == 0 else 0.001)  # one slow environment holds back the next round
            on_result(SimpleNamespace(event=event))

    events = [[{"env": env, "round": r} for r in range(3)] for env in range(4)]
    marks = iter(range(100))
    rounds, connections = scale.burst(invoke, events, lambda: next(marks))
    assert [[r.event for r in results] for results in rounds] == [[events[env][r] for env in range(4)]
                                                                  for r in range(3)]
    assert connections == [0, 1, 2, 3]  # before the first round and after each
    starts = {r: [t for rr, t in handed if rr == r] for r in range(3)}
    for r in (1, 2):  # no environment got round r before the slow one had answered round r - 1
        assert min(starts[r]) >= max(starts[r - 1]) + 0.04


def test_burst_figures_are_taken_over_the_cold_round_and_the_warm_rounds():
    def result(init, duration, name="Response"):
        return SimpleNamespace(init_ms=init, duration_ms=duration, error=None,
                               response={"event": {"header": {"name": name}}})

    rounds = [[result(100, 50 + i) for i in range(16)], [result(None, 10 + i) for i in range(16)]]
    rounds[1][3] = result(None, 12, "ErrorResponse")
    figures = scale.burst_figures(rounds, [0, 16, 16])
    assert figures["cold_ms"] == {"median": 157.5, "p95": 165, "max": 165}
    assert figures["warm_ms"]["max"] == 25
    assert (figures["answered"], figures["requests"]) == (31, 32)
    assert (figures["cold_connections"], figures["warm_new_connections"]) == (16, 0)


def test_the_markdown_section_shows_each_home_and_the_burst():
    stat = {"median": 10.0, "min": 9.0, "max": 11.0, "n": 3}
    home = {"home": 1100, "offered": 1100, "sent": 300, "ha_bytes": 1_013_000, "answer_bytes": 285_000,
            "floor": {"ms": 12.0}, "ha_ms": stat, "ms": stat, "cpu_ms": stat, "ms128": stat, "cold_ms": stat,
            "cold128_ms": stat, "rss_mb": 45, "log_lines": stat, "cpu_ratio": 1.4,
            "burst": {"environments": 16, "answered": 48, "requests": 48, "warm_bursts": 2,
                      "cold_ms": {"median": 1000, "p95": 1100, "max": 1200}, "warm_ms": None,
                      "cold_connections": 16, "warm_new_connections": 0}}
    text = scale.markdown({"homes": [home], "delay_ms": 40, "cold_runs": 3, "warm_runs": 20,
                           "png": "bench/results/discovery-at-scale.png"})
    assert "## Discovery at scale" in text and "| 1,100 / 300 | 1,013 kB | 285 kB |" in text
    assert "**1.40x**" in text and "](results/discovery-at-scale.png)" in text
    assert "| cold burst: INIT + invocation | 1000 | 1100 | 1200 (Alexa waits 8000) | 16 |" in text
    assert scale.markdown({"homes": []}) == ""
