"""A Markdown report: the summary, the matrix, the cross-release grids and what
failed, for a CI job summary or a pull request comment."""
from __future__ import annotations

from typing import Any

from ..compare import CaseResult, Verdict
from ..scenario.model import Pairing, ReleaseKey, key_text

MARK = {Verdict.PASS: "", Verdict.FAIL: " ❌", Verdict.ERROR: " ⚠️", Verdict.UNSUPPORTED: "", Verdict.XFAIL: " (xfail)"}
MAX_FAILURE_LINES = 6


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cell(r: CaseResult, key: ReleaseKey) -> str:
    v = r.verdicts.get(key)
    if v is None:
        return "·"
    if v.verdict == Verdict.UNSUPPORTED:
        return "–"
    return f"{r.classes[key]}{MARK[v.verdict]}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render(results: list[CaseResult], rows: list[Any], counts: dict[str, int], total_runs: int) -> str:
    names = [t.name for t in rows if hasattr(t, "goroot")]
    missing = [t for t in rows if not hasattr(t, "goroot")]
    lines = [f"## tlsdiff: {counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors, "
             f"{counts['unsupported']} unsupported", "",
             f"{counts['cases']} cases, {total_runs} runs on Go {', '.join(names)}."]
    lines += [f"Go {t.requested}: unavailable: {_esc(t.reason_alone)}" for t in missing]
    lines += ["", "Letters are agreement classes per case (same letter, same outcome); ❌ an expectation "
              "failed, ⚠️ a peer failed, – unsupported on that release.", ""]
    same = [r for r in results if r.case.pairing == Pairing.SAME]
    if same:
        lines += _table(["case", *names], [[f"`{r.case.id}`", *(_cell(r, (n,)) for n in names)] for r in same])
    for r in (r for r in results if r.case.pairing == Pairing.CROSS):
        lines += ["", f"**`{r.case.id}`** (rows: release a, columns: release b)", ""]
        lines += _table(["a \\ b", *names], [[a, *(_cell(r, (a, b)) for b in names)] for a in names])
    bad = [(r, key, v) for r in results for key, v in r.verdicts.items()
           if v.verdict in (Verdict.FAIL, Verdict.ERROR)]
    if bad:
        lines += ["", "### Failures", ""]
        for r, key, v in bad:
            lines.append(f"- `{r.case.id}` on go{key_text(key)} ({_esc(r.case.description)})")
            lines += [f"  - {_esc(msg)}" for msg in v.failures()[:MAX_FAILURE_LINES]]
    return "\n".join(lines) + "\n"
