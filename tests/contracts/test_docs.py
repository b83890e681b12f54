"""The README and docs/: the README's links and anchors resolve, every setting the code reads is on the
configuration page, and every benchmark figure they show is one that `make bench` wrote into bench/RESULTS.md.

`mkdocs build --strict` (make test) checks the links and anchors inside docs/; the README is outside mkdocs' tree.
"""

import ast
import re
from decimal import Decimal

import pytest

from support import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
SHIPPED = [ROOT / "lambda_function.py", ROOT / "fast_path.py",
           *(path for package in ("gateway", "ha_alexa", "ha_assist", "ha_devices")
             for path in sorted((ROOT / package).rglob("*.py")))]
BENCH_BLOCK = re.compile(r"<!-- bench:start\b.*?-->(.*?)<!-- bench:end -->", re.S)
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")
# Set by Lambda itself (the runtime, the function's name, credentials): not settings of the bridge.
LAMBDA_SETS = re.compile(r"AWS_\w+")
# Read by Powertools itself, not by the bridge's code; still a setting an owner may change.
READ_BY_POWERTOOLS = {"POWERTOOLS_LOG_LEVEL"}


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension (mkdocs, and GitHub for these headings) gives a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(heading) for heading in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_the_readme_links_resolve_to_files_and_headings():
    text = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        target, _, anchor = link.partition("#")
        path = ROOT / target if target else ROOT / "README.md"
        assert path.exists(), link
        if anchor:
            assert anchor in anchors(path), link


def test_the_readme_is_a_five_minute_read():
    """At most 1,500 words outside code blocks, counted as the project's before-stop hook counts them."""
    text = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(re.findall(r"[A-Za-z0-9][\w'-]*", text)) <= 1500


def names_read(path) -> set[str]:
    """The environment variables a module reads: os.environ.get/os.getenv/os.environ[...], and config's helpers."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = ast.unparse(node.func)
            if function in ("os.environ.get", "os.getenv", "environ.get", "env", "_flag", "os.environ.setdefault"):
                found.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
            if isinstance(node.slice, ast.Constant):
                found.add(node.slice.value)
    return {name for name in found if isinstance(name, str) and name.isupper()}


def documented_settings() -> set[str]:
    """The names in the first column of docs/configuration.md's tables."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    cells = re.findall(r"^\| ([^|]+) \|", text, re.M)
    return {name for cell in cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def test_the_configuration_page_lists_every_setting_the_code_reads_and_no_other():
    config = names_read(ROOT / "gateway" / "config.py")
    assert {"HA_URL", "HA_TOKEN", "HA_VERIFY_TLS", "ASSIST_ALLOW_OPERATOR_TOKEN"} <= config  # the scan works
    read = {name for path in SHIPPED for name in names_read(path) if not LAMBDA_SETS.fullmatch(name)}
    documented = documented_settings()
    config = {name for name in config if not LAMBDA_SETS.fullmatch(name)}  # Lambda's own, read there too
    assert config <= documented, config - documented
    assert read <= documented, read - documented
    assert documented - read <= READ_BY_POWERTOOLS, documented - read


def bench_blocks() -> dict[str, list[str]]:
    return {path.relative_to(ROOT).as_posix(): BENCH_BLOCK.findall(path.read_text()) for path in PAGES}


def figures(text: str) -> list[Decimal]:
    return [Decimal(number.replace(",", "")) for number in NUMBER.findall(text)]


def written_by_bench(number: Decimal, results: list[Decimal]) -> bool:
    """Whether bench/RESULTS.md has `number`, at the precision it is shown with (175 for 174.8, 0.53 for 0.53)."""
    places = -number.as_tuple().exponent
    return any(round(result, places) == number for result in results)


def test_the_generated_blocks_are_where_make_bench_rewrites_them():
    blocks = bench_blocks()
    assert blocks["README.md"] and blocks["docs/performance.md"]
    for page, found in blocks.items():
        if page not in ("README.md", "docs/performance.md"):
            assert not found, page


@pytest.mark.parametrize("page", ["README.md", "docs/performance.md"])
def test_every_benchmark_figure_shown_is_in_bench_results(page):
    results = figures((ROOT / "bench" / "RESULTS.md").read_text())
    shown = [number for block in bench_blocks()[page] for number in figures(block)]
    assert len(shown) > 5
    missing = [str(number) for number in shown if not written_by_bench(number, results)]
    assert not missing, f"{page}: figures not in bench/RESULTS.md (rerun make bench, then copy them): {missing}"


def test_the_figures_check_catches_a_figure_bench_did_not_write():
    results = figures("| bridge | 174.8 (165.1-206.6) | 0.53x | 1089 |")
    assert all(written_by_bench(n, results) for n in figures("175 ms, 174.8, 0.53x, 1,089"))
    assert not any(written_by_bench(n, results) for n in figures("176 ms, 174.9, 0.6x, 1,090"))
