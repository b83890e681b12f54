"""bench.init_path: a traced cold start becomes the critical-path table and picture (no timings asserted)."""

from bench import init_path


def trace(shift: float = 0.0) -> dict:
    """A cold start as bench/shims/bench_trace.py writes it (perf_counter seconds), with the runner's marks."""
    s = 100.0 + shift
    spans = [
        ["MainThread", "import", "fast_path", s + 0.040, s + 0.100, 50.0, 0],
        ["MainThread", "import", "ssl", s + 0.041, s + 0.050, 8.0, 1],
        ["MainThread", "import", "aws_lambda_powertools", s + 0.055, s + 0.085, 29.0, 1],
        ["MainThread", "wait", "waiting for a thread (join)", s + 0.086, s + 0.099, 0.0, 0],
        ["preconnect", "ca", "TLS context", s + 0.051, s + 0.053, 1.5, 0],
        ["preconnect", "connect", "TCP connect", s + 0.053, s + 0.054, 0.1, 0],
        ["preconnect", "tls", "TLS handshake", s + 0.054, s + 0.099, 2.0, 0],
        ["MainThread", "handler", "the handler (first invocation)", s + 0.301, s + 0.350, 5.0, 0],
        ["MainThread", "ha", "Home Assistant request", s + 0.302, s + 0.345, 1.0, 0],
        ["MainThread", "wait", "waiting for a thread (join)", s + 0.500, s + 0.501, 0.0, 0],  # second event's
    ]
    return {"marks": {"shim": s + 0.038, "imports_start": s + 0.039, "imports_end": s + 0.100}, "spans": spans,
            "modules": 150, "runner": {"started": s, "next": s + 0.101, "handout": s + 0.300,
                                       "response": s + 0.352}}


def test_a_traced_cold_start_is_cut_into_the_critical_path_with_the_runners_gap_left_out():
    run = init_path.timeline(trace())
    assert round(run["init_ms"], 3) == 101.0 and round(run["cold_ms"], 3) == 153.0  # 352 - (300 - 101)
    phases = run["phases"]
    assert round(phases["INIT: waiting for the preconnect (join)"]["ms"], 3) == 13.0
    assert round(phases["INIT: imports on the main thread"]["ms"], 3) == 47.0  # the join inside fast_path left out
    assert round(phases["preconnect thread: TLS handshake"]["ms"], 3) == 45.0
    assert not phases["preconnect thread: TLS handshake"]["critical"]
    assert round(phases["first invocation: the Home Assistant request (round trip, HA's work, reading)"]["ms"],
                 3) == 43.0
    assert max(s["end"] for s in run["segments"]) <= run["cold_ms"]  # nothing of the second event
    assert round(run["imports"]["MainThread"]["Powertools"], 3) == 30.0


def test_the_summary_renders_a_table_and_the_picture(tmp_path, monkeypatch):
    monkeypatch.setattr(init_path, "PNG", tmp_path / "results" / "path.png")
    monkeypatch.setattr(init_path, "TRACE_JSON", tmp_path / "results" / "path.json")
    monkeypatch.setattr(init_path, "PROJECT_ROOT", tmp_path)
    report = init_path.summarise([init_path.timeline(trace(shift)) for shift in (0.0, 1.0, 2.0)])
    init_path.write(report, {"init_ms": 40.0, "cold_ms": 90.0})
    assert (tmp_path / "results" / "path.png").stat().st_size > 1000
    text = init_path.markdown({**report, "png": "bench/results/path.png"})
    assert "## INIT's critical path" in text
    assert "| INIT: waiting for the preconnect (join) | yes | 86.0 | 13.0 | 0.0 |" in text
    assert "| preconnect thread: TLS handshake | beside it |" in text
    assert "](results/path.png)" in text
    assert init_path.markdown(None) == ""
