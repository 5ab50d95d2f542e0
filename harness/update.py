"""`tlsdiff run --update`: record what the releases did as a case's expectations, for a
maintainer who made a deliberate change (as Go's tests do with -update).

For each expectation that failed, the fields that failed take the values the releases
observed, `absent` where a release lacks a ConnectionState field the expectation names
(stale). When the releases it covers observed different values, the expectation is
split, one per run of consecutive releases that agree, each with the range those
releases make (whole lines where the run had one release of the line, exact releases
otherwise). Nothing else in the file changes: comments, order and layout stay (the
file is edited with ruamel.yaml's round-trip mode). Cross-release cases are named, not
edited.
"""
from __future__ import annotations

import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .compare import CaseResult, CheckOutcome, judge
from .scenario.model import Pairing, ReleaseKey
from .toolchains.lines import release_of_name


@dataclass
class FileUpdate:
    """One case file: its text before and after, and what could not be updated."""

    path: Path
    before: str
    after: str
    notes: list[str] = field(default_factory=list)

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            f"{self.path} (expected)", f"{self.path} (observed)"))


def _yaml() -> Any:
    from ruamel.yaml import YAML
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)  # the layout of tlsdiff's case files: they round-trip unchanged
    return y


def plan(results: Sequence[CaseResult], order: Sequence[str]) -> list[FileUpdate]:
    """The updates the results call for, one per case file that changes or has notes.
    `order`: every release name of the run (put in release order here, for ranges)."""
    out = []
    order = sorted(order, key=lambda name: (release_of_name(name), name))  # the run lists them as asked
    for r in results:
        update = _plan_case(r, order)
        if update is not None:
            out.append(update)
    return out


def _failing(r: CaseResult) -> dict[int, dict[ReleaseKey, dict[tuple[str, str], Any]]]:
    """expectation index -> key -> (side, field) -> observed value, for the fields that failed
    on some release the expectation covers, observed on every release it covers."""
    actual: dict[int, dict[ReleaseKey, dict[tuple[str, str], Any]]] = {}
    failing: dict[int, set[tuple[str, str]]] = {}
    for exp in r.case.expectations:
        for key, doc in r.docs.items():
            if exp.applies(key) and not doc.get("unsupported"):
                checks = judge(exp, doc)
                actual.setdefault(exp.index, {})[key] = {(c.side, c.field): c.actual for c in checks}
                failing.setdefault(exp.index, set()).update(
                    (c.side, c.field) for c in checks if c.outcome in (CheckOutcome.FAIL, CheckOutcome.STALE))
    return {i: {key: {f: got[f] for f in sorted(failing[i])} for key, got in per_key.items()}
            for i, per_key in actual.items() if failing.get(i)}


def _plan_case(r: CaseResult, order: list[str]) -> FileUpdate | None:
    observed = _failing(r)
    if not observed:
        return None
    path = Path(r.case.path)
    before = path.read_text(encoding="utf-8")
    notes: list[str] = []
    if r.case.pairing != Pairing.SAME:
        return FileUpdate(path, before, before, [f"{r.case.id}: a cross-release case; its expectations are not "
                                                 "updated (edit a and b by hand)"])
    y = _yaml()
    data = y.load(before)
    expect = data["expect"]
    # Walk from the last expectation so that splitting one keeps the indexes before it.
    for index in sorted(observed, reverse=True):
        per_key = observed[index]
        if any(isinstance(v, str) and v.startswith("(no observation:") for vals in per_key.values()
               for v in vals.values()):
            notes.append(f"{r.case.id}: expect[{index}]: a step was not observed on some release; not updated")
            continue
        blocks = _blocks([(k, per_key[k]) for k in sorted(per_key, key=lambda k: order.index(k[0]))], order)
        twins = _same_release_apart(blocks)
        if twins:
            notes.append(f"{r.case.id}: expect[{index}]: {twins[0]} and {twins[1]} observed different values, and a "
                         "release range cannot tell a Go root from the release it is; not updated (run --update "
                         "with one of them)")
            continue
        original = expect[index]
        replacements = []
        for keys, values in blocks:
            entry = _copy(y, original)
            for (side, name), value in values.items():
                _set(entry, side, name, value)
            if len(blocks) > 1:
                from ruamel.yaml.scalarstring import DoubleQuotedScalarString
                # Bounds are drawn among the releases the expectation covers: its own
                # range already bounds the rest.
                covered = [v for v in order if any(k[0] == v for k in per_key)]
                text = DoubleQuotedScalarString(_range_text(keys, covered, original.get("releases")))
                if "releases" in entry:
                    entry["releases"] = text
                else:  # where a case writes it: right after the step
                    entry.insert(list(entry).index("step") + 1, "releases", text)
            replacements.append(entry)
        expect[index:index + 1] = replacements
    buf = io.StringIO()
    y.dump(data, buf)
    return FileUpdate(path, before, buf.getvalue(), notes)


def _blocks(observed: list[tuple[ReleaseKey, dict[tuple[str, str], Any]]], order: list[str]
            ) -> list[tuple[list[str], dict[tuple[str, str], Any]]]:
    """Runs of consecutive releases (in run order) that observed the same values."""
    out: list[tuple[list[str], dict[tuple[str, str], Any]]] = []
    for key, values in observed:
        if out and out[-1][1] == values and order.index(out[-1][0][-1]) + 1 == order.index(key[0]):
            out[-1][0].append(key[0])
        else:
            out.append(([key[0]], values))
    return out


def _same_release_apart(blocks: list[tuple[list[str], dict[tuple[str, str], Any]]]) -> tuple[str, str] | None:
    """Two columns of one release (stock 1.26.6 and a Go root 1.26.6+6cf820) on either side
    of a split: no range can hold one without the other."""
    for (left, _), (right, _) in zip(blocks, blocks[1:]):
        if release_of_name(left[-1]) == release_of_name(right[0]):
            return left[-1], right[0]
    return None


def _line(release: str) -> tuple[int, int]:
    return release_of_name(release)[:2]


def _version(name: str) -> str:
    """A column's release as a range names it: a Go root "1.26.6+6cf820" is 1.26.6."""
    return ".".join(map(str, release_of_name(name)))


def _range_text(releases: list[str], order: list[str], within: str | None) -> str:
    """A range holding exactly these consecutive releases of the run: whole lines where the
    run had nothing else of the line, exact releases where it did; inside `within`."""
    lo, hi = releases[0], releases[-1]
    lo_i, hi_i = order.index(lo), order.index(hi)
    before = order[lo_i - 1] if lo_i > 0 else None
    after = order[hi_i + 1] if hi_i + 1 < len(order) else None
    lo_line, hi_line = _line(lo), _line(hi)
    terms = []
    if before is not None:
        terms.append(f">={lo_line[0]}.{lo_line[1]}" if _line(before) != lo_line else f">={_version(lo)}")
    if after is not None:
        terms.append(f"<{hi_line[0]}.{hi_line[1] + 1}" if _line(after) != hi_line else f"<{_version(after)}")
    text = " ".join(terms)
    if lo_line == hi_line and before is not None and after is not None and terms == [
            f">={lo_line[0]}.{lo_line[1]}", f"<{hi_line[0]}.{hi_line[1] + 1}"]:
        text = f"{lo_line[0]}.{lo_line[1]}"
    if within:
        # The range's own bounds stay where the block draws none of its own.
        mine_lower, mine_upper = any(t.startswith(">") for t in terms), any(t.startswith("<") for t in terms)
        kept = [t for t in within.split() if not (mine_lower and t.startswith(">"))
                and not (mine_upper and t.startswith("<"))]
        parts = kept + text.split()
        text = " ".join(sorted(parts, key=lambda t: 0 if t.startswith(">") else 1 if t.startswith("<") else 2))
    return text or (within or "")


def _copy(y: Any, node: Any) -> Any:
    buf = io.StringIO()
    y.dump([node], buf)
    return y.load(buf.getvalue())[0]


def _set(entry: Any, side: str, name: str, value: Any) -> None:
    target = entry[side]
    if name.startswith("state."):
        target = target["state"]
        name = name[len("state."):]
    target[name] = value


def write(updates: Sequence[FileUpdate]) -> None:
    for u in updates:
        if u.after != u.before:
            u.path.write_text(u.after, encoding="utf-8")
