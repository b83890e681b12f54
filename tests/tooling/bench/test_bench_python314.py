"""bench.python314: the table and the verdict from recorded figures, the runtime's argv, and "no 3.14 here" (no
timings asserted)."""

import sys
import types
from importlib import metadata
from pathlib import Path

import pytest

from bench import python314
from bench.runner import Bench
from bench.stats import model_128
from bench.variants import Variant
from devtools import pythons
from support import TIMED_HANDLERS

LABELS = {"bridge_313": "bridge, Python 3.13", "bridge_314": "bridge, Python 3.14",
          "floor_313": "floor, Python 3.13", "floor_314": "floor, Python 3.14"}


def cold(init: float, first: float, cpu: float) -> dict:
    """One cold request's figures, as bench.runner.Bench.cold gives them."""
    return {"init_ms": init, "init_cpu_ms": init * 0.8, "first_ms": first, "first_cpu_ms": cpu,
            "cold_ms": init + first, "cold128_ms": init + model_128(first, cpu), "rss_mb": 30, "ha_ms": None,
            "connections": 1}


def warm(ms: list[float], cpu: float) -> dict:
    """Warm requests' figures, as bench.runner.Bench.warm gives them."""
    runs = [{"ms": value, "cpu_ms": cpu, "ms128": model_128(value, cpu), "ha_ms": None, "request_ms": None,
             "overhead_ms": None, "handler_overhead_ms": None} for value in ms]
    return {"runs": runs, "new_connections": 0, "rss_mb": 30}


def recorded(bridge_314=(150.0, 50.0, 5.0), warm_314=(50.0, 51.0, 52.0), wrapper=(12.0, 13.0, 14.0)) -> dict:
    """A report as bench.python314.measure writes it: 3.13's figures fixed, 3.14's bridge given (its floor's INIT
    is 3.13's plus the wrapper's 13 ms and 5 ms of its own)."""
    init, first, cpu = bridge_314
    return {
        "runs": 3, "warm_count": 3, "wrapper_ms": list(wrapper), "labels": LABELS,
        "pythons": {"3.13": "Python 3.13.0 (/py313)", "3.14": "Python 3.14.8 (/usr/bin/python3.14 in a root)"},
        "pyc": {"tag": "cpython-314", "modules": 403, "unchecked_hash": 403},
        "cold": {"bridge_313": [cold(150.0 + d, 50.0, 6.0) for d in (-2, 0, 2)],
                 "bridge_314": [cold(init + d, first, cpu) for d in (-2, 0, 2)],
                 "floor_313": [cold(40.0 + d, 3.0, 2.0) for d in (-2, 0, 2)],
                 "floor_314": [cold(58.0 + d, 3.0, 2.0) for d in (-2, 0, 2)]},
        "warm": {"bridge_313": warm([50.0, 51.0, 52.0], 4.0), "bridge_314": warm(list(warm_314), 4.0),
                 "floor_313": warm([3.0, 3.1, 3.2], 2.0), "floor_314": warm([3.0, 3.1, 3.2], 2.0)},
    }


def oks(report: dict) -> dict:
    return {row["text"]: row["ok"] for row in python314.verdict(report)["rows"]}


def test_the_wrapper_is_taken_out_of_314s_cold_request_and_the_floor_out_of_each():
    judged = python314.verdict(recorded(bridge_314=(160.0, 50.0, 5.0)))  # 10 ms more INIT: less than the wrapper
    rows = {row["text"]: row for row in judged["rows"]}
    assert judged["wrapper_ms"] == 13.0
    measured = rows["cold request measured, wrapper out"]
    assert (measured["py313"], measured["py314"]) == (200.0, 197.0) and measured["ok"]
    minus_floor = rows["cold request measured, minus the floor"]
    assert (minus_floor["py313"], minus_floor["py314"]) == (157.0, 149.0) and minus_floor["ok"]
    assert rows["cold request modelled 128 MB, wrapper out"]["py314"] < rows[
        "cold request modelled 128 MB, wrapper out"]["py313"]  # 1 ms less CPU in the first invocation
    assert judged["wins"]


def test_314_does_not_win_when_it_is_higher_on_any_cold_comparison():
    report = recorded(bridge_314=(140.0, 50.0, 9.0))  # lower INIT, but 3 ms more CPU: higher modelled at 128 MB
    assert oks(report) == {"cold request measured, wrapper out": True, "cold request measured, minus the floor": True,
                           "cold request modelled 128 MB, wrapper out": False,
                           "cold request modelled 128 MB, minus the floor": False,
                           "warm request measured": True, "warm request modelled 128 MB": True}
    assert not python314.verdict(report)["wins"]
    assert not python314.verdict(recorded(bridge_314=(175.0, 50.0, 5.0)))["wins"]  # higher even without the wrapper


def test_a_cold_lead_within_the_noise_is_no_win():
    report = recorded(bridge_314=(162.0, 50.0, 5.0))  # 1 ms lower without the wrapper, noise 2 ms
    assert not oks(report)["cold request measured, wrapper out"]
    assert not python314.verdict(report)["wins"]


def test_warm_may_be_higher_within_the_noise_but_not_beyond_it():
    assert python314.verdict(recorded(warm_314=(50.5, 51.5, 52.5)))["wins"]  # 0.5 ms higher, noise 1 ms
    within = python314.markdown(recorded(bridge_314=(162.0, 50.0, 5.0)))  # 1 ms lower without the wrapper, noise 2
    assert "cold request measured, wrapper out: 3.14 lower, within the noise (200.0 vs 199.0, noise 2.00)" in within
    judged = python314.verdict(recorded(warm_314=(53.0, 54.0, 55.0)))
    assert not judged["wins"]
    assert not oks(recorded(warm_314=(53.0, 54.0, 55.0)))["warm request measured"]
    assert python314.mad([50.0, 51.0, 52.0, 60.0]) == 1.0


def test_the_section_is_a_table_of_the_four_variants_and_the_bridge_minus_the_floor_with_a_verdict():
    text = python314.markdown(recorded())
    lines = text.splitlines()
    assert lines[1] == "## Python 3.13 or 3.14"
    assert "Python 3.13.0 (/py313)" in text and "3 cold rounds" in text and "403 of 403 modules" in text
    assert "| variant | INIT | first invocation | its CPU | **cold request** | modelled 128 MB |" in text
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == [f"| {label}" for label in LABELS.values()] + [
        "| bridge - floor, Python 3.13 (medians)", "| bridge - floor, Python 3.14 (medians)"]
    assert rows[0].startswith("| bridge, Python 3.13 | 150.0 (148.0-152.0) | 50.0 (50.0-50.0) | 6.0 (6.0-6.0) |"
                              " **200.0 (198.0-202.0)** |")
    assert "| **51.00 (50.00-52.00)** |" in rows[0]
    assert rows[4].startswith("| bridge - floor, Python 3.13 (medians) | 110.0 | 47.0 | 4.0 | **157.0** |")
    assert all(len(row.split(" | ")) == 10 for row in rows)
    assert "The chroot wrapper alone" in text and "13.00 (12.00-14.00) ms" in text
    verdict = next(line for line in lines if line.startswith("Verdict: "))
    assert verdict.startswith("Verdict: **3.14 wins**")  # 3.14's bridge as 3.13's with 1 ms less CPU
    assert "cold request measured, wrapper out: 3.14 lower (200.0 vs 187.0, noise 2.00)" in verdict
    assert "warm request measured: neither lower, within the noise (51.0 vs 51.0, noise 1.00)" in verdict
    assert python314.markdown(recorded(bridge_314=(175.0, 50.0, 5.0))).count("**3.13 stays**") == 1
    assert python314.markdown(None) == ""


def test_without_a_python_314_the_section_says_so_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pythons, "candidates", lambda: [sys.executable])
    monkeypatch.setattr(pythons.os, "geteuid", lambda: 1000)  # not root: no Debian root either
    if sys.version_info[:2] == (3, 14):
        pytest.skip("this Python is itself 3.14")
    report = python314.measure(None, tmp_path, tmp_path / "answer.json", types.SimpleNamespace(runs=1, warm=1))
    assert "only root" in report["unavailable"]
    text = python314.markdown(report)
    assert text.strip().splitlines() == ["## Python 3.13 or 3.14", "",
                                         f"Not measured: no Python 3.14 here ({report['unavailable']})."]
    assert not (tmp_path / "cache").exists()  # nothing built


def test_the_runtime_execs_down_to_the_interpreter_after_a_cd_to_the_task_root(monkeypatch, tmp_path):
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "cache"))
    native = python314.Runtime(pythons.Python("/venv/bin/python", (3, 14, 8)), ("/work",))
    tail = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', "/task", "/venv/bin/python"]
    assert native("/task") == tail
    (tmp_path / "root" / "proc").mkdir(parents=True)
    chrooted = python314.Runtime(pythons.Python("/venv/bin/python", (3, 14, 8), tmp_path / "root"), ("/work",))
    argv = chrooted("/task")
    assert argv[0] == "unshare" and argv[-5:] == tail and "mount --bind /work " in argv[6]
    assert f"exec chroot {tmp_path / 'root'} " in argv[6]


def test_a_variant_with_its_own_runtime_runs_through_its_argv_and_is_measured_by_the_interpreters_pid(tmp_path):
    (tmp_path / "handlers.py").write_text(TIMED_HANDLERS)
    proxy = types.SimpleNamespace(url="https://127.0.0.1:9", ca_file="", connections=0)
    bench = Bench("/nonexistent/python", proxy, {}, 128)  # not used: the variant brings its own
    seen = []

    def runtime(task_root):
        seen.append(Path(task_root))
        return ["/usr/bin/env", sys.executable]  # env execs the interpreter: the pid stays the same

    variant = Variant("busy", "busy", tmp_path, handler="handlers.busy", runtime=runtime)
    (result,) = bench.invoke(variant, [{}])
    assert result.response == {"ok": True} and seen == [tmp_path]
    assert result.cpu_ms >= 50 and result.max_memory_mb > 5  # the interpreter's, not env's


def test_the_314_runtime_pins_the_313_runtimes_versions():
    pins = python314.runtime_pins()
    assert f"awslambdaric=={metadata.version('awslambdaric')}" in pins
    assert f"boto3=={metadata.version('boto3')}" in pins and any(pin.startswith("simplejson==") for pin in pins)
