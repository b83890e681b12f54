"""The benchmark's figures in the README and docs/performance.md, rewritten by `make bench` from the same run.

Each block stands between `<!-- bench:start id=NAME ... -->` and `<!-- bench:end -->`; `rewrite` replaces what is
between them with the block NAME rendered from the report (bench/results/latest.json's dict). A block whose section
was not measured (`--homes none`, say) keeps its text. tests/contracts/test_docs.py checks every number shown against
bench/RESULTS.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.stats import get

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAGES = (PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "performance.md")
BLOCK = re.compile(r"(<!-- bench:start id=([\w-]+)\b[^\n]*?-->\n)(.*?)(<!-- bench:end -->)", re.S)


def _m(stats, key, name, warm=False):
    s = get(stats, key, name, warm)
    return s["median"] if s else None


def readme(report: dict) -> str | None:
    st, cfg = report["stats"], report["config"]
    cold, one, eager = (_m(st, k, "cold_ms") for k in ("bridge", "one_file", "eager"))
    warm, bound = _m(st, "bridge", "ms", True), _lower_bound(st)
    if None in (cold, one, eager, warm, bound):
        return None
    new = st["bridge"]["warm"]["new_connections"]
    return (f"From the latest `make bench` (medians, ms, a {cfg['delay_ms']:g} ms round trip to Home Assistant): a cold"
            f" request, INIT and the\nfirst invocation, takes **{cold:.0f}**, {cold / bound:.2f}x the floor of any"
            f" function here ({bound:.0f}: one that calls\nnothing, plus the Home Assistant call), against {one:.0f}"
            f" for a one-file proxy and {eager:.0f} for a function that imports\nboto3, requests, websocket-client and"
            f" Powertools at start; a warm request takes **{warm:.0f}**, with {new} new TLS connections\nin"
            f" {cfg['warm']}.\n")


def _lower_bound(stats: dict) -> float | None:
    floor, ha = _m(stats, "floor", "cold_ms"), _m(stats, "bridge", "ha_ms", True)
    return floor + ha if None not in (floor, ha) else None


def performance(report: dict) -> str | None:
    st = report["stats"]
    rows = (("cold request: INIT + first invocation", "cold_ms", False, 0, "**"),
            ("cold request, modelled at 128 MB", "cold128_ms", False, 0, "**"),
            ("warm request", "ms", True, 0, "**"), ("warm request, modelled at 128 MB", "ms128", True, 0, "**"),
            ("peak memory after a cold Discovery", "rss_mb", False, 0, ""))
    keys = ("bridge", "one_file", "eager")
    if any(k not in st for k in (*keys, "floor")):
        return None
    out = [f"Latest run ({report['machine']}; Python {report['python']}; medians, ms):", "",
           "| | this bridge | (b) one-file proxy: urllib3, a new connection each request | (a) eager: boto3,"
           " requests, websocket-client, Powertools at import |", "| --- | --- | --- | --- |"]
    for text, name, warm, digits, bold in rows:
        cells = [_m(st, k, name, warm) for k in keys]
        unit = " MB" if name == "rss_mb" else ""
        shown = [f"{c:.{digits}f}{unit}" if c is not None else "-" for c in cells]
        out.append(f"| {text} | {bold}{shown[0]}{bold} | {shown[1]} | {shown[2]} |")
    warm = [st[k]["warm"]["new_connections"] for k in keys]
    out.append(f"| new TLS connections in {report['config']['warm']} warm requests | **{warm[0]}** | {warm[1]} |"
               f" {warm[2]} |")
    cold, bound = _m(st, "bridge", "cold_ms"), _lower_bound(st)
    floor, ha = _m(st, "floor", "cold_ms"), _m(st, "bridge", "ha_ms", True)
    lazy, own128 = _m(st, "no_preload", "cold128_ms"), _m(st, "bridge", "cold128_ms")
    nopyc = _m(st, "bridge_nopyc", "cold_ms")
    text = [f"A function that does nothing at all takes {floor:.0f} ms cold here, and the Home Assistant call itself"
            f" (one round\ntrip plus Home Assistant's own work) about {ha:.0f} ms: no function can answer a cold"
            f" request in less than their\nsum, {bound:.0f} ms; the bridge takes {cold / bound:.2f}x that."]
    if lazy and own128:
        text.append(f"Modelled at 128 MB, lazy loading with no connection opened during INIT would take {lazy:.0f} ms"
                    f" against\n{own128:.0f}.")
    if nopyc and cold:
        text.append(f"Without the hash-based .pyc (SAM's default build), the cold request takes {nopyc / cold:.2f}x"
                    " as long.")
    emulator = (report.get("emulator") or {}).get("data")
    if emulator:
        from bench.stats import summary

        emu, own = (summary(emulator[side]["init_ms"])["median"] for side in ("emulator", "runtime_api"))
        text.append(f"The emulator and the benchmark's API agree: INIT {emu:.0f} ms under the emulator, {own:.0f} ms"
                    " under the\nbenchmark's API.")
    return "\n".join(out) + "\n\n" + "\n".join(text) + "\n"


def init_path(report: dict) -> str | None:
    phases = (report.get("init_path") or {}).get("phases")
    if not phases:
        return None
    out = ["| segment of one cold request (traced) | start | duration | its CPU |", "| --- | --- | --- | --- |"]
    for name, p in phases.items():
        cpu = "-" if p["cpu"] is None else f"{p['cpu']:.1f}"
        out.append(f"| {name} | {p['start']:.1f} | {p['ms']:.1f} | {cpu} |")
    return "\n".join(out) + "\n"


def scale(report: dict) -> str | None:
    homes = (report.get("scale") or {}).get("homes")
    if not homes:
        return None
    out = ["| endpoints offered / sent | HA answer | bridge answer | invocation CPU | floor CPU | CPU / floor |"
           " modelled 128 MB | peak RSS | log lines |", "| --- " * 9 + "|"]
    for h in homes:
        out.append(f"| {h['offered']:,} / {h['sent']} | {h['ha_bytes'] / 1e3:,.0f} kB | {h['answer_bytes'] / 1e3:,.0f}"
                   f" kB | {h['cpu_ms']['median']:.1f} | {h['floor']['ms']:.1f} | **{h['cpu_ratio']:.2f}x** |"
                   f" {h['ms128']['median']:.0f} | {h['rss_mb']} MB | {h['log_lines']['median']:.0f} |")
        e = h.get("exposure")
        if e:
            out.append(f"| {e['offered']:,} / {e['sent']}, `ALEXA_EXPOSE={e['mode']}` | {e['ha_bytes'] / 1e3:,.0f} kB +"
                       f" {e['ws_bytes'] / 1e3:,.0f} kB WebSocket | {e['answer_bytes'] / 1e3:,.0f} kB |"
                       f" {e['cpu_ms']['median']:.1f} | {e['floor']['ms']:.1f} | **{e['cpu_ratio']:.2f}x** |"
                       f" {e['ms128']['median']:.0f} | {e['rss_mb']} MB | {e['log_lines']['median']:.0f} |")
    big = [h for h in homes if h["offered"] > 1000]
    text = []
    if big:
        rows = [(h["cpu_ratio"], f"{h['offered']:,}") for h in big] + [
            (h["exposure"]["cpu_ratio"], f"{h['offered']:,} with `ALEXA_EXPOSE={h['exposure']['mode']}`")
            for h in big if h.get("exposure")]
        text.append("Over 1,000 endpoints (the goal: at most 1.5x the floor's CPU): "
                    + ", ".join(f"**{ratio:.2f}x** at {where}" for ratio, where in rows) + ".")
    burst_home = next((h for h in homes if "burst" in h), None)
    if burst_home:
        b = burst_home["burst"]
        text.append(f"Bursts: {b['environments']} execution environments started at the same moment against the"
                    f" {burst_home['offered']:,}-endpoint\nhome: {b['answered']} of {b['requests']} answered validly;"
                    f" cold request median {b['cold_ms']['median']:,.0f} ms, slowest {b['cold_ms']['max']:,.0f} ms"
                    f" (Alexa waits\n8,000), then {b['warm_bursts']} warm bursts of {b['environments']}"
                    + (f" at once: median {b['warm_ms']['median']:.0f} ms, slowest {b['warm_ms']['max']:.0f} ms"
                       if b["warm_ms"] else "")
                    + f", and {b['warm_new_connections']} new TLS connections.")
    return "\n".join(out) + "\n" + ("\n" + "\n\n".join(text) + "\n" if text else "")


RENDERERS = {"readme": readme, "performance": performance, "init-path": init_path, "scale": scale}


def rewrite(report: dict, pages=PAGES) -> list[str]:
    """Rewrite every known block of `pages` from `report`; returns the blocks rewritten, as page:id."""
    done = []
    for page in pages:
        text = page.read_text()

        def render(match, page=page):
            rendered = RENDERERS[match[2]](report) if match[2] in RENDERERS else None
            if rendered is None:
                return match[0]
            done.append(f"{page.name}:{match[2]}")
            return f"{match[1]}\n{rendered}\n{match[4]}"

        new = BLOCK.sub(render, text)
        if new != text:
            page.write_text(new)
    return done
