"""The HTML report as a reader meets it: a real run on the oldest and newest line
written with --html, opened in headless Chromium (Debian's /usr/bin/chromium, driven
by Playwright, which downloads nothing here). The page loads with no console error
and fetches nothing but itself; the matrix has one cell per case and release with
the terminal's letters; the filters hide what they should; a click shows a case's
detail with the field the releases disagree on and the release names. A case of our
own with a wrong expectation gives the page a failure to show."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, Error as PlaywrightError, Page, sync_playwright

from conftest import EDGE_RELEASES, REPO

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; .ci/run installs it
TIMEOUT_MS = 20_000
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 420, "height": 860}
FAILING = "wrong/curve-order-always-hrr"
DIFFERING = "hrr/tls13-client-curve-order"  # 1.19 needs a HelloRetryRequest, 1.24+ do not
WRONG_CASE = """\
description: A wrong expectation on purpose (every release needs a HelloRetryRequest), so the page has a failure.
source: tlsdiff's HTML report test
tags: [tls13, hrr]
servers:
  s1: {curve_preferences: [P256]}
clients:
  c1: {curve_preferences: [P384, P256]}
steps:
  - connect: {client: c1, server: s1}
expect:
  - {step: 1, client: {hrr: true, error: null}}
"""


def tlsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def run_with_html(out: Path, *extra: str) -> subprocess.CompletedProcess:
    mine = out / "mine" / "wrong"
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "curve-order-always-hrr.yaml").write_text(WRONG_CASE)
    return tlsdiff("run", "--go", EDGE_RELEASES, "binder/", "hrr/", "wrong/", "--cases", str(out / "mine"), "-q",
                   *extra)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, edge_releases) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("html")
    p = run_with_html(out, "--html", str(out / "page.html"), "--json", str(out / "r.json"))
    assert p.returncode == 1 and "1 failed" in p.stdout, p.stdout + p.stderr
    return {"dir": out, "page": out / "page.html", "report": json.loads((out / "r.json").read_text())}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # In CI, where .ci/run installs chromium, a missing browser fails: the test must run there.
    give_up = pytest.fail if os.environ.get("CI") else pytest.skip
    if not CHROMIUM.exists():
        give_up(f"{CHROMIUM} is not installed (Debian's chromium; .ci/run installs it)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), timeout=TIMEOUT_MS)
        except PlaywrightError as exc:
            give_up(f"chromium cannot be launched: {str(exc).splitlines()[0]}")
        yield b
        b.close()


class Opened:
    """A page of the report with everything it logged and asked for."""

    def __init__(self, browser: Browser, path: Path, viewport: dict[str, int]) -> None:
        self.page: Page = browser.new_page(viewport=viewport)
        self.page.set_default_timeout(TIMEOUT_MS)
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())

    def visible_cases(self) -> list[str]:
        return self.page.eval_on_selector_all("#matrix tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.case)")


@pytest.fixture
def opened(browser: Browser, made: dict[str, Any]) -> Iterator[Opened]:
    o = Opened(browser, made["page"], WIDE)
    yield o
    o.page.close()


def test_the_page_loads_offline_with_no_console_error(opened: Opened, made: dict[str, Any], tmp_path: Path) -> None:
    opened.page.wait_for_load_state("load")
    opened.page.screenshot(path=str(tmp_path / "matrix-1280.png"))
    assert opened.console == []
    assert opened.requests == [made["page"].as_uri()]
    assert "<link" not in made["page"].read_text() and "@import" not in made["page"].read_text()
    s = made["report"]["summary"]
    assert opened.page.title() == f"tlsdiff: {s['pass']} passed, {s['fail']} failed, {s['error']} errors ({s['cases']} cases)"


def test_the_matrix_has_a_cell_per_case_and_release_with_the_terminals_letters(opened: Opened,
                                                                               made: dict[str, Any]) -> None:
    report = made["report"]
    names = [r["name"] for r in report["releases"] if r["available"]]
    assert len(names) == 2 and len(report["results"]) > 30
    heads = opened.page.eval_on_selector_all("#matrix thead th.rel", "ths => ths.map(t => t.textContent)")
    assert heads == names
    cells = opened.page.eval_on_selector_all(
        "#matrix tbody td.cell", "tds => tds.map(td => [td.closest('tr').dataset.case, td.dataset.key, td.innerText])")
    assert len(cells) == len(report["results"]) * len(names)
    mark = {"pass": "", "fail": "!", "error": "E", "xfail": "x"}
    expected = [[r["case"], n, "-" if r["runs"][n]["verdict"] == "unsupported"
                 else r["runs"][n]["class"] + mark[r["runs"][n]["verdict"]]] for r in report["results"] for n in names]
    assert cells == expected
    assert [c[2] for c in cells if c[0] == FAILING] == ["A", "B!"]
    assert {c[2] for c in cells if c[0].startswith("binder/tls13-altered-secret")} == {"-", "A"}


def test_filters_hide_what_they_should(opened: Opened, made: dict[str, Any]) -> None:
    results = made["report"]["results"]
    everything = [r["case"] for r in results]
    page = opened.page
    assert opened.visible_cases() == everything
    page.uncheck('input[name="verdict"][value="pass"]')
    assert opened.visible_cases() == [r["case"] for r in results if r["verdict"] != "pass"] == [FAILING]
    assert page.inner_text("#shown") == f"1 of {len(everything)} cases shown"
    page.check('input[name="verdict"][value="pass"]')
    page.uncheck('input[name="verdict"][value="fail"]')
    assert FAILING not in opened.visible_cases() and len(opened.visible_cases()) == len(everything) - 1
    page.check('input[name="verdict"][value="fail"]')
    page.check('input[name="area"][value="hrr"]')
    assert opened.visible_cases() == [c for c in everything if c.startswith("hrr/")]
    page.check('input[name="area"][value="wrong"]')
    assert opened.visible_cases() == [c for c in everything if c.startswith(("hrr/", "wrong/"))]
    page.fill("#q", "cookie")
    assert opened.visible_cases() == [c for c in everything if c.startswith("hrr/") and "cookie" in c]
    page.fill("#q", "")
    page.uncheck('input[name="area"][value="hrr"]')
    page.uncheck('input[name="area"][value="wrong"]')
    page.click("#f-tags summary")
    page.check('input[name="tag"][value="tls12"]')
    assert opened.visible_cases() == [r["case"] for r in results if "tls12" in r["tags"]] != []


def test_a_click_shows_the_detail_the_differing_field_and_the_releases(opened: Opened, made: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    page = opened.page
    names = [r["name"] for r in made["report"]["releases"] if r["available"]]
    assert page.is_hidden("#detail")
    page.click(f'#matrix tbody tr[data-case="{DIFFERING}"] td.cell[data-key="{names[-1]}"]')
    assert page.is_visible("#detail")
    assert page.inner_text("#detail h2").startswith(DIFFERING)
    result = next(r for r in made["report"]["results"] if r["case"] == DIFFERING)
    assert page.inner_text("#detail dl").count(result["description"]) == 1
    heads = page.eval_on_selector("#detail table.diffs", "t => Array.from(t.tHead.rows[0].cells, c => c.textContent)")
    assert heads == ["step · side · path", *names]
    hrr = page.eval_on_selector_all('#detail table.diffs tr[data-field="hrr"]',
                                    "trs => trs.map(tr => Array.from(tr.children, c => c.innerText))")
    assert hrr == [["step 1 client hrr", "true", "false"], ["step 1 server hrr", "true", "false"]]
    assert page.url.endswith("#case=" + DIFFERING.replace("/", "%2F"))
    page.screenshot(path=str(tmp_path / "detail-1280.png"))

    page.click(f'#matrix tbody tr[data-case="{FAILING}"] th a')
    assert page.inner_text("#detail h2").startswith(FAILING)
    failures = page.inner_text("#detail ul.failures")
    assert "expected true, got false" in failures
    runs = page.eval_on_selector_all("#detail table.obs:not(details table) thead th",
                                     "ths => ths.map(t => t.innerText.replace(/\\s+/g, ' ').trim())")
    assert runs == ["", f"{names[0]} A", f"{names[-1]} B!"]
    peers = page.eval_on_selector_all("#detail table.peers tbody tr",
                                      "trs => trs.map(tr => Array.from(tr.children, c => c.innerText))")
    assert peers and all(row[1:] in ([names[0], names[-1]], ["python", "python"]) for row in peers), peers
    observed = page.eval_on_selector_all("#detail table.obs tr.differs > th", "ths => ths.map(t => t.textContent)")
    assert "hrr" in observed and "transcript received" in observed
    page.keyboard.press("Escape")
    assert page.is_hidden("#detail")
    assert opened.console == []


def test_a_narrow_window_keeps_the_header_and_fits_the_width(browser: Browser, made: dict[str, Any],
                                                            tmp_path: Path) -> None:
    o = Opened(browser, made["page"], NARROW)
    page = o.page
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        page.eval_on_selector("#matrix-pane", "p => p.scrollTop = 2000")
        assert page.eval_on_selector("#top", "h => h.getBoundingClientRect().top") == 0
        page.click(f'#matrix tbody tr[data-case="{DIFFERING}"] th a')
        assert page.is_visible("#detail") and page.is_hidden("#matrix-pane")
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        page.screenshot(path=str(tmp_path / "detail-420.png"))
        assert o.console == []
    finally:
        page.close()


def _without_timing(page: str) -> tuple[str, dict[str, Any]]:
    """The page with its embedded report taken out, and that report without `timing`."""
    found = re.search(r'<script type="application/json" id="tlsdiff-report">(.*?)</script>', page, re.S)
    assert found
    report = json.loads(found.group(1))
    report.pop("timing")
    return page[:found.start(1)] + page[found.end(1):], report


def test_the_same_run_gives_the_same_page_and_merge_writes_it_too(made: dict[str, Any]) -> None:
    out = made["dir"]
    again = run_with_html(out, "--html", str(out / "again.html"))
    assert again.returncode == 1, again.stderr
    first = _without_timing(made["page"].read_text())
    assert _without_timing((out / "again.html").read_text()) == first
    assert first[1] == {k: v for k, v in made["report"].items() if k != "timing"}  # exactly what the JSON says
    for k in (1, 2):
        shard = run_with_html(out, "--shard", f"{k}/2", "--json", str(out / f"s{k}.json"))
        assert shard.returncode in (0, 1), shard.stderr
    merged = tlsdiff("merge", str(out / "s1.json"), str(out / "s2.json"), "--html", "-", "-q")
    assert merged.returncode == 1, merged.stderr
    assert _without_timing(merged.stdout) == first


@pytest.mark.parametrize("args, expected", [
    (["run", "--html", "/nonexistent-folder/r.html"], "--html: folder '/nonexistent-folder' does not exist"),
    (["run", "--html", "-", "--json", "-"], "--json and --html: only one report can go to standard output"),
    (["merge", "x.json", "--html", "/tmp"], "--html: '/tmp' is a folder"),
])
def test_a_bad_html_target_is_one_line_and_exit_2_before_any_work(args: list[str], expected: str) -> None:
    p = tlsdiff(*args)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], p.stderr
