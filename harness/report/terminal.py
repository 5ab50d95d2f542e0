"""The terminal report: a progress line while running, then the matrix.

Rows are cases, columns releases; each cell is the release's agreement-class
letter, lower-cased and marked when an expectation failed there. Cross-release
cases get a grid of their own: the ticket-survival table operators read.
"""
from __future__ import annotations

import sys
from typing import Any, TextIO

from ..compare import CaseResult, Verdict
from ..scenario.model import Pairing, key_text
from .changed import changed_paths, show

MARK = {Verdict.PASS: " ", Verdict.FAIL: "!", Verdict.ERROR: "E", Verdict.UNSUPPORTED: "-", Verdict.XFAIL: "x"}


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.live = stream.isatty()

    def step(self, label: str = "") -> None:
        self.done += 1
        if not self.live:
            return
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label[:40]:<40}")
        self.stream.flush()

    def finish(self) -> None:
        if self.live:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def _cell(r: CaseResult, key: tuple[str, ...]) -> str:
    v = r.verdicts.get(key)
    if v is None:
        return " . "
    if v.verdict == Verdict.UNSUPPORTED:
        return " - "
    return f" {r.classes[key]}{MARK[v.verdict]}"


def render(results: list[CaseResult], releases: list[Any], out: TextIO = sys.stdout) -> None:
    versions = [t.name for t in releases if hasattr(t, "goroot")]
    missing = [t for t in releases if not hasattr(t, "goroot")]
    same = [r for r in results if r.case.pairing == Pairing.SAME]
    cross = [r for r in results if r.case.pairing == Pairing.CROSS]
    width = max([len(r.case.id) for r in results] + [10])
    col = max([8] + [len(v) + 2 for v in versions])  # a Go root's name (1.26.6+6cf820) is wider than a release's
    if same:
        header = " " * width + " " + "".join(f"{v:>{col}}" for v in versions)
        out.write(header + "\n")
        for r in same:
            cells = "".join(f"{_cell(r, (v,)):>{col}}" for v in versions)
            out.write(f"{r.case.id:<{width}} {cells}\n")
    for r in cross:
        out.write(f"\n{r.case.id}  (rows: release a, columns: release b)\n")
        out.write(" " * col + "".join(f"{v:>{col}}" for v in versions) + "\n")
        for a in versions:
            out.write(f"{a:>{col}}" + "".join(f"{_cell(r, (a, b)):>{col}}" for b in versions) + "\n")
    for t in missing:
        out.write(f"\nGo {t.requested}: unavailable: {t.reason_alone}\n")
    folders = [f"go{t.name}: the Go root {t.goroot.absolute()}" for t in releases
               if getattr(t, "provider", "") == "goroot"]  # which of the user's folders each column is
    folders += [f"go{t.name}: also the Go root {folder} (the same sources and binaries: one column)"
                for t in releases for folder in getattr(t, "also", ())]
    if folders:
        out.write("\n" + "\n".join(folders) + "\n")
    out.write("\nLetters are agreement classes per case (same letter = same outcome); "
              "! an expectation failed, E the peer failed, - unsupported on that release"
              + (" (tlsdiff repro CASE.yaml, or -v, says why)" if any(
                  v.verdict == Verdict.UNSUPPORTED for r in results for v in r.verdicts.values()) else "")
              + (", x an expected failure (--expected-failures)" if any(
                  v.verdict == Verdict.XFAIL for r in results for v in r.verdicts.values()) else "") + ".\n")
    _failures(results, out)


def render_differences(results: list[CaseResult], out: TextIO = sys.stdout, transcripts: bool = False) -> None:
    """Side by side, what the releases of each case disagree on: each exact path inside a
    field where the values differ, with every value whole. Transcripts (message lengths,
    extension lists: they differ between most releases) only when asked."""
    def telling(d: dict) -> bool:
        # A field only some releases have differs trivially; show it when the
        # releases that have it disagree among themselves.
        present = [v for v in d["values"] if v["value"] != "absent"]
        return (transcripts or d["field"] != "transcript") and len(present) > 1

    for r in results:
        diffs = [d for d in r.diffs if telling(d)]
        if not diffs:
            continue
        out.write(f"\n{r.case.id}\n")
        for d in diffs:
            values = [v["value"] for v in d["values"]]
            for path, at in changed_paths(values, d["field"]):
                out.write(f"  step {d['step']} {d['side']} {path}:\n")
                for v, here in zip(d["values"], at):
                    out.write(f"    {show(here):<60} {', '.join(v['releases'])}\n")


def _failures(results: list[CaseResult], out: TextIO) -> None:
    for r in results:
        bad = [(k, v) for k, v in r.verdicts.items() if v.verdict in (Verdict.FAIL, Verdict.ERROR)]
        if not bad:
            continue
        out.write(f"\n{r.case.id}: {r.case.description}\n")
        for key, v in bad:
            for msg in v.failures()[:6]:
                out.write(f"  go{key_text(key)}: {msg}\n")


def summary_line(counts: dict[str, int]) -> str:
    return (f"{counts['pass']} passed, {counts['fail']} failed"
            + (f", {counts['error']} errors" if counts["error"] else "")
            + (f", {counts['unsupported']} unsupported" if counts["unsupported"] else "")
            + (f", {counts['xfail']} expected failures" if counts.get("xfail") else ""))
