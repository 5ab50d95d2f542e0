"""The HTML report (`--html FILE`): one self-contained page people read.

Made from the JSON report dict alone, so the page shows exactly what the JSON says:
the matrix is written here as static HTML (readable without script), and the whole
report rides in the page as JSON for the detail view, which `html.js` builds on a
click. CSS and script are inlined and a Content-Security-Policy forbids every fetch:
the page works from a CI artifact, offline, with nothing to load.
"""
from __future__ import annotations

import html
import json
from importlib.resources import files
from typing import Any

from .changed import changed_paths, show

#: The terminal's marks (terminal.MARK), by verdict name: the same letters on the page.
MARK = {"pass": "", "fail": "!", "error": "E", "unsupported": "-", "xfail": "x"}
VERDICTS = ["error", "fail", "xfail", "pass", "unsupported"]  # worst first, as compare orders them
#: No fetch of any kind; inline style and script only. Links (captures) still navigate.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _asset(name: str) -> str:
    return files("tlsdiff.report").joinpath(name).read_text(encoding="utf-8")


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script>: '<', '>' and '&' only occur in strings, where \\u escapes mean the same."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def area(case_id: str) -> str:
    """The case's folder (`binder/tls13-x` -> `binder`); '' for a case at the top of its folder."""
    return case_id.rsplit("/", 1)[0] if "/" in case_id else ""


def releases_of(report: dict[str, Any]) -> list[str]:
    """The matrix columns: each available release, in report order (oldest first)."""
    return [r["name"] for r in report["releases"] if r.get("available")]


def cell_text(run: dict[str, Any] | None) -> str:
    """What the terminal prints for a run: class letter and mark, '-' unsupported, '.' not run."""
    if run is None:
        return "."
    if run["verdict"] == "unsupported":
        return "-"
    return f"{run['class']}{MARK.get(run['verdict'], '?')}"


def _cell_title(key: str, run: dict[str, Any] | None) -> str:
    if run is None:
        return f"{key}: not run"
    first = f" — {run['failures'][0]}" if run["failures"] else ""
    return f"{key}: class {run['class']}, {run['verdict']}{first}"


def _letter_span(key: str, run: dict[str, Any] | None) -> str:
    verdict = run["verdict"] if run else "none"
    letter = run["class"] if run else "none"
    return (f'<span class="run v-{_esc(verdict)} c-{_esc(letter)}" data-key="{_esc(key)}" '
            f'title="{_esc(_cell_title(key, run))}">{_esc(cell_text(run))}</span>')


def _row(result: dict[str, Any], names: list[str]) -> str:
    case_id, runs = result["case"], result["runs"]
    attrs = (f'data-case="{_esc(case_id)}" data-area="{_esc(area(case_id))}" '
             f'data-tags="{_esc(" ".join(result["tags"]))}" data-verdict="{_esc(result["verdict"])}"')
    cells = []
    for name in names:
        if result["pairing"] == "cross":
            # Row `name` of the case's grid: this release as peer a, each release as peer b.
            spans = "".join(_letter_span(f"{name}>{b}", runs.get(f"{name}>{b}")) for b in names)
            cells.append(f'<td class="cell cross" data-key="{_esc(name)}">{spans}</td>')
        else:
            cells.append(f'<td class="cell" data-key="{_esc(name)}">{_letter_span(name, runs.get(name))}</td>')
    return (f'<tr {attrs}><th scope="row"><a href="#case={_esc(case_id)}">{_esc(case_id)}</a>'
            f'<span class="badge v-{_esc(result["verdict"])}">{_esc(result["verdict"])}</span></th>'
            + "".join(cells) + "</tr>")


def _matrix(report: dict[str, Any]) -> str:
    names = releases_of(report)
    head = "".join(f'<th scope="col" class="rel">{_esc(n)}</th>' for n in names)
    body = "\n".join(_row(r, names) for r in report["results"])
    return (f'<table id="matrix"><thead><tr><th scope="col" class="case-col">case</th>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table>")


def _chips(kind: str, counts: dict[str, int], checked: bool) -> str:
    out = []
    for value, n in counts.items():
        label = value or "(top)"
        out.append(f'<label class="chip {kind}-chip v-{_esc(value)}"><input type="checkbox" name="{kind}" '
                   f'value="{_esc(value)}"{" checked" if checked else ""}> {_esc(label)} <small>{n}</small></label>')
    return "".join(out)


def _filters(report: dict[str, Any]) -> str:
    results = report["results"]
    areas: dict[str, int] = {}
    tags: dict[str, int] = {}
    for r in results:
        areas[area(r["case"])] = areas.get(area(r["case"]), 0) + 1
        for t in r["tags"]:
            tags[t] = tags.get(t, 0) + 1
    verdicts = {v: sum(1 for r in results if r["verdict"] == v) for v in VERDICTS}
    return (
        '<div id="filters">'
        '<input id="q" type="search" placeholder="filter case ids" aria-label="filter case ids" autocomplete="off">'
        f'<fieldset id="f-verdict"><legend>verdict</legend>{_chips("verdict", verdicts, True)}</fieldset>'
        f'<fieldset id="f-area"><legend>area</legend>{_chips("area", dict(sorted(areas.items())), False)}</fieldset>'
        f'<details id="f-tags"><summary>tags</summary>{_chips("tag", dict(sorted(tags.items())), False)}</details>'
        '<span id="shown" aria-live="polite"></span></div>')


def _releases(report: dict[str, Any]) -> str:
    items = []
    for r in report["releases"]:
        if r.get("available"):
            items.append(f'<li title="{_esc(r.get("digest", ""))}"><b>{_esc(r["name"])}</b> '
                         f'<small>{_esc(r.get("provider", ""))}</small></li>')
        else:
            items.append(f'<li class="unavailable"><b>Go {_esc(r.get("requested", r.get("line", "")))}</b> '
                         f'<small>unavailable: {_esc(r.get("reason", ""))}</small></li>')
    for r in report.get("pinned", []):  # releases cases pin their endpoints to
        what = (f'<b>{_esc(r["name"])}</b> <small>{_esc(r.get("provider", ""))}</small>' if r.get("available")
                else f'<small>unavailable: {_esc(r.get("reason", ""))}</small>')
        items.append(f'<li class="pinned{"" if r.get("available") else " unavailable"}">'
                     f'<small>pinned {_esc(r["pin"])}:</small> {what}</li>')
    return f'<ul id="releases">{"".join(items)}</ul>'


def _summary(report: dict[str, Any]) -> str:
    s = report["summary"]
    parts = [f'<span class="count v-{v}">{s.get(v, 0)} {v}</span>' for v in VERDICTS if s.get(v, 0) or v in
             ("pass", "fail")]
    notes = []
    if report.get("interrupted"):
        notes.append('<span class="note bad">interrupted: results of the runs that finished</span>')
    if "shard" in report:
        notes.append(f'<span class="note">shard {report["shard"]["index"]}/{report["shard"]["count"]}</span>')
    if "model" in report:
        m = report["model"]
        cls = " bad" if m["disagreements"] else ""
        notes.append(f'<span class="note{cls}">model: {m["decisions"]} decisions, '
                     f'{len(m["disagreements"])} disagreements</span>')
    if "expected_failures" in report:
        e = report["expected_failures"]
        cls = " bad" if e["stale"] else ""
        notes.append(f'<span class="note{cls}">expected failures ({_esc(e["file"])}): {len(e["expected"])} '
                     f'covered, {len(e["stale"])} stale</span>')
    return f'<div id="summary">{s["cases"]} cases: {" ".join(parts)} {" ".join(notes)}</div>'


def difference_paths(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per case, each exact path where the releases' values differ (as `run --diff` shows
    them), with every value whole and the releases that saw it. `kind` sorts them for the
    reader: `outcome`, `transcript`, or `partial` (a field only some releases have)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in report["results"]:
        rows = []
        for d in r["differences"]:
            present = [v for v in d["values"] if v["value"] != "absent"]
            kind = "partial" if len(present) < 2 else "transcript" if d["field"] == "transcript" else "outcome"
            for path, at in changed_paths([v["value"] for v in d["values"]], d["field"]):
                rows.append({"step": d["step"], "side": d["side"], "field": d["field"], "path": path, "kind": kind,
                             "values": [{"releases": v["releases"], "value": show(here)}
                                        for v, here in zip(d["values"], at)]})
        out[r["case"]] = rows
    return out


def render(report: dict[str, Any]) -> str:
    """The page for one report dict (RunResult.report(), or a merged one)."""
    s = report["summary"]
    title = f"tlsdiff: {s['pass']} passed, {s['fail']} failed, {s['error']} errors ({s['cases']} cases)"
    made_by = report.get("tlsdiff", {})
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{_esc(title)}</title>
<style>
{_asset("html.css")}</style>
</head>
<body>
<header id="top">
<div id="title"><h1>tlsdiff</h1>{_summary(report)}
<small class="made">tlsdiff {_esc(made_by.get("version", "?"))}, go-peer {_esc(made_by.get("go_peer", "?"))}</small></div>
{_filters(report)}
</header>
<main>
<section id="matrix-pane" aria-label="matrix">
{_releases(report)}
{_matrix(report)}
<p id="legend">Letters are agreement classes per case (same letter, same outcome; colours follow the letter);
<span class="run v-fail c-A">A!</span> an expectation failed, <span class="run v-error c-A">AE</span> the peer
failed, <span class="run v-unsupported c--">-</span> unsupported on that release,
<span class="run v-xfail c-A">Ax</span> an expected failure. A cross case's cell holds its row of the grid:
that release as peer a, each release as peer b. Click a case or a cell for its detail.</p>
</section>
<section id="detail" aria-label="case detail" hidden></section>
</main>
<script type="application/json" id="tlsdiff-report">{_json_for_script(report)}</script>
<script type="application/json" id="tlsdiff-paths">{_json_for_script(difference_paths(report))}</script>
<script>
{_asset("html.js")}</script>
</body>
</html>
"""
