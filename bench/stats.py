"""The benchmark's statistics: summaries of runs, the 128 MB model, ratios and percentiles (no I/O)."""

from __future__ import annotations

import statistics

# The 128 MB model: Lambda gives one full vCPU at 1769 MB and CPU in proportion to memory below that, while
# on-demand INIT runs on boosted CPU. So INIT counts at its measured wall time, and each CPU millisecond of an
# invocation takes 1769/128 ms at 128 MB: measured wall time + CPU time x (1769/128 - 1).
FULL_VCPU_MB = 1769
MODEL_MB = 128
CPU_STRETCH = FULL_VCPU_MB / MODEL_MB - 1


def model_128(wall_ms: float, cpu_ms: float) -> float:
    """Modelled wall time at 128 MB of an invocation measured at full CPU (see CPU_STRETCH)."""
    return wall_ms + cpu_ms * CPU_STRETCH


def summary(values) -> dict | None:
    """Median, min, max (and count) of the values that are not None; None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio(a: dict | None, b: dict | None) -> float | None:
    """The ratio of two summaries' medians, or None when either is missing."""
    return a["median"] / b["median"] if a and b and b["median"] else None


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` from 0 to 1) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def analyse(cold: dict, warm: dict) -> dict:
    """Per variant, a summary of each figure of its cold runs and (under "warm") of its warm ones."""
    stats = {}
    for key, runs in cold.items():
        stats[key] = {name: summary(run[name] for run in runs) for name in runs[0]}
    for key, data in warm.items():
        stats[key]["warm"] = {name: summary(run[name] for run in data["runs"]) for name in data["runs"][0]}
        stats[key]["warm"]["new_connections"] = data["new_connections"]
        stats[key]["warm"]["rss_mb"] = data["rss_mb"]
    return stats


def get(stats: dict, key: str, name: str, warm: bool = False) -> dict | None:
    """The summary of figure `name` of variant `key` (cold, or warm), or None."""
    s = stats.get(key)
    if s is None:
        return None
    return (s.get("warm") or {}).get(name) if warm else s.get(name)
