"""bench.docs_figures: make bench rewrites the figures of the README and docs/performance.md between markers."""

import json

from bench import docs_figures
from support import ROOT


def test_each_block_is_rewritten_from_the_report_and_an_unmeasured_one_is_kept(tmp_path):
    report = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    report.pop("scale", None)  # as after `--homes none`
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- bench:start id=readme: why -->\nold figures 1 2 3\n<!-- bench:end -->\nmiddle\n"
                    "<!-- bench:start id=scale: why -->\nkept 4 5\n<!-- bench:end -->\nend\n")
    assert docs_figures.rewrite(report, [page]) == ["page.md:readme"]
    text = page.read_text()
    assert "old figures" not in text and "kept 4 5" in text and text.startswith("intro\n") and "\nmiddle\n" in text
    cold = report["stats"]["bridge"]["cold_ms"]["median"]
    assert f"takes **{cold:.0f}**" in text
    assert docs_figures.rewrite(report, [page]) == ["page.md:readme"] and page.read_text() == text  # idempotent
