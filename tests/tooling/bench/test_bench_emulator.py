"""bench.emulator's report: how the emulator's figures are read and compared (no timings asserted)."""

from bench import emulator
from devtools.local_invoke import Result


def report(emulator_ms: dict, own_ms: dict) -> dict:
    return {"runs": 3, "warm": 2, "data": {"emulator": emulator_ms, "runtime_api": own_ms},
            "printed": {"init": [0.02, 0.05, 0.03], "duration": [301.0, 280.5, 350.0]}}


def test_the_report_line_is_read_as_printed():
    report = ("REPORT RequestId: r\tInit Duration: 0.06 ms\tDuration: 223.22 ms\tBilled Duration: 224 ms\t"
              "Memory Size: 256 MB\tMax Memory Used: 256 MB\t")
    result = Result("r", logs=["START RequestId: r Version: $LATEST", report])
    assert emulator._report_fields(result) == {"Init Duration": 0.06, "Duration": 223.22}
    assert emulator._report_fields(Result("r", logs=["no report"])) == {}


def test_agreement_needs_each_median_within_the_other_range():
    same = {"init_ms": [200, 210, 260], "first_ms": [60, 65, 70], "warm_ms": [50, 55, 60, 52]}
    slow_init = {**same, "init_ms": [400, 420, 430]}
    rows = {row["label"]: row for row in emulator.agreement(report(slow_init, same))}
    assert rows["INIT"]["within"] is False and round(rows["INIT"]["ratio"], 2) == 2.0
    assert rows["first invocation"]["within"] is True and rows["first invocation"]["ratio"] == 1.0
    text = emulator.markdown(report(slow_init, same))
    assert "## Cross-check: Amazon's Runtime Interface Emulator" in text
    assert "| INIT | 420.0 (400.0-430.0) | 210.0 (200.0-260.0) | 2.00x | **no** |" in text
    assert "`Init Duration` 0.03 (0.02-0.05)" in text
    assert emulator.markdown(None) == ""
