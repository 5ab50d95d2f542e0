"""Expected failures: a YAML list of (case, releases, reason) a maintainer keeps while a
failure is known, as BoGo's DisabledTests and Go's bogo_config.json do, but with the
run still made and judged.

    - case: binder/tls13-altered-secret     # a case id, or a folder ending in /
      releases: ">=1.26"                      # optional: a release range (docs/cases.md)
      reason: go.dev/issue/NNNNN, fixed upstream in CL NNNNNN

A failing run an entry covers is `xfail`: reported with the entry's reason, and the run
passes. An entry whose runs all pass now is stale: the run fails until it is removed,
so the list never hides a fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from .compare import CaseResult, RunVerdict, Verdict
from .errors import UserError
from .scenario.load import release_lines, yaml_error_text
from .scenario.ranges import Range, parse_range, possible

MAX_BYTES = 1 << 20
KEYS = {"case", "releases", "reason"}


@dataclass(frozen=True)
class Entry:
    case: str
    releases: Range | None
    reason: str
    where: str  # file and index, for messages

    def covers(self, case_id: str, key: Sequence[str]) -> bool:
        return _names(self.case, case_id) and (self.releases is None or all(_within(self.releases, r) for r in key))


def _names(selector: str, case_id: str) -> bool:
    """Does an entry's case (an id, or a folder ending in /) name this case?"""
    return case_id == selector or (selector.endswith("/") and case_id.startswith(selector))


def _within(releases: Range, release: str) -> bool:
    try:
        return releases.contains(release)
    except ValueError:  # a name that is not a release (a Go root's column): no range names it
        return False


def load(path: Path, case_ids: Sequence[str]) -> list[Entry]:
    """The entries of an expected-failures file; UserError naming the file, the entry and
    the field for anything else (an entry must name a case tlsdiff knows)."""
    try:
        if not path.is_file():
            raise UserError(f"--expected-failures: {path}: not a file; expected a YAML list of case, releases, reason")
        if path.stat().st_size > MAX_BYTES:
            raise UserError(f"--expected-failures: {path}: larger than 1 MiB")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"--expected-failures: {path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise UserError(f"--expected-failures: {path}: {yaml_error_text(exc)}") from None
    except OSError as exc:
        raise UserError(f"--expected-failures: {path}: cannot read: {exc.strerror}") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: (top level): expected a list of entries with case, releases, reason")
    return [_entry(path, i, raw, case_ids) for i, raw in enumerate(data)]


def _entry(path: Path, i: int, raw: Any, case_ids: Sequence[str]) -> Entry:
    where = f"{path}: [{i}]"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping with case, releases, reason")
    unknown = sorted(set(map(str, raw)) - KEYS)
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown key; expected case, releases, reason")
    case, reason = raw.get("case"), raw.get("reason")

    def shown(key: str) -> str:
        return repr(raw[key]) if key in raw else "missing"
    if not isinstance(case, str) or not case:
        raise UserError(f"{where}.case: {shown('case')}; expected a case id or a folder ending in /")
    if not any(_names(case, c) for c in case_ids):
        raise UserError(f"{where}.case: {case!r} matches no case; expected a case id or a folder ending in /")
    if not isinstance(reason, str) or not reason.strip():
        raise UserError(f"{where}.reason: {shown('reason')}; expected why the failure is expected, in words")
    releases = None
    if "releases" in raw:
        if not isinstance(raw["releases"], str):
            raise UserError(f"{where}.releases: {raw['releases']!r}; expected a range such as \">=1.26\"")
        try:
            releases = parse_range(raw["releases"])
        except ValueError as exc:
            raise UserError(f"{where}.releases: {exc}") from None
        first, last = release_lines()
        if not possible(releases, first, last):
            raise UserError(f"{where}.releases: {raw['releases']!r} matches no Go release from 1.{first} to "
                            f"1.{last}; expected a range some release falls in (a line is 1.21, not 1.2)")
    return Entry(case, releases, reason.strip(), where)


@dataclass(frozen=True)
class Outcome:
    """What the entries did to a run: which runs became xfail, and the entries that no
    longer cover any failure (stale: remove them)."""

    expected: list[tuple[str, str, str]]  # case id, release key, reason
    stale: list[Entry]


def apply(entries: Sequence[Entry], results: Sequence[CaseResult]) -> Outcome:
    """Turn each failing run an entry covers into xfail, in place."""
    expected: list[tuple[str, str, str]] = []
    used: set[int] = set()
    relevant: set[int] = set()  # entries that cover at least one run of this run
    for r in results:
        for key, v in list(r.verdicts.items()):
            for i, e in enumerate(entries):
                if not e.covers(r.case.id, key) or v.verdict == Verdict.UNSUPPORTED:
                    continue
                relevant.add(i)
                if v.verdict == Verdict.FAIL:
                    r.verdicts[key] = RunVerdict(key, Verdict.XFAIL, v.checks, f"expected failure: {e.reason}",
                                                 v.messages)
                    expected.append((r.case.id, ">".join(key), e.reason))
                    used.add(i)
                    break
    return Outcome(expected, [entries[i] for i in sorted(relevant - used)])
