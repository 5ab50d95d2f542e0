"""`tlsdiff bisect`: the first release of a range whose observation of one case differs
from the range's start, by binary search. Only the releases the search visits are
fetched and built, so a range of a whole patch line costs a few toolchains.

An observation is the agreement class's fields (compare.py: the outcome fields of every
step and side) or the fields a user names. A release that cannot be had is skipped, and
one on which the case is unsupported has no observation to compare: the search steps
around both and says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable, Sequence

from . import toolchains
from .compare import actual_value
from .errors import UserError
from .observe.fields import DERIVED_FIELDS, SIDE_FIELDS, STATE_FIELDS, alert_words, state_path
from .scenario.model import Case
from .toolchains.cache import line_of, version_key

RANGE_EXPECTED = "FIRST..LAST, e.g. 1.26.0..1.26.6 (a line: its first or newest release served)"


class Status(StrEnum):
    RAN = "ran"  # an observation (a peer failure is one too: it is what that release did)
    UNSUPPORTED = "unsupported"  # the peer cannot do what the case asks on that release
    UNAVAILABLE = "unavailable"  # no toolchain or no peer for it


@dataclass(frozen=True)
class Candidate:
    """One release of the range: an exact release a provider serves, or a Go root."""

    name: str
    release: str = ""
    goroot: Path | None = None


@dataclass
class Visit:
    candidate: Candidate
    status: Status
    reason: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # "step 1 server error" -> value

    @property
    def signature(self) -> str:
        return json.dumps(list(self.values.items()), sort_keys=True)


# ---------------------------------------------------------------- input


def parse_range(text: str, served: Sequence[str], flag: str = "--go") -> list[str]:
    """"1.26.0..1.26.6" -> the served releases from the first to the last, in release order.

    UserError (one line) for anything else: not a range, an unknown or unserved end,
    a range backwards, fewer than two releases."""
    parts = text.strip().split("..")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise UserError(f"{flag}: {text!r} is not a range; expected {RANGE_EXPECTED}")
    ends = []
    for part in parts:
        release = toolchains.lines.canonical(part.strip())
        if release is None:
            raise UserError(f"{flag}: {part.strip()!r} is not a Go release tlsdiff knows; expected {RANGE_EXPECTED}")
        ends.append(release)
    first, last = (_end(e, served, flag, newest=i == 1) for i, e in enumerate(ends))
    if version_key(first) > version_key(last):
        raise UserError(f"{flag}: {text!r} runs backwards ({first} is newer than {last}); expected the older "
                        "release first")
    inside = [r for r in served if version_key(first) <= version_key(r) <= version_key(last)]
    if len(inside) < 2:
        raise UserError(f"{flag}: {text!r} holds {len(inside)} release served here ({', '.join(inside)}); expected "
                        "a range of two releases or more")
    return inside


def _end(release: str, served: Sequence[str], flag: str, *, newest: bool) -> str:
    """An end of a range as a served release; a bare line is its first (or newest) served one."""
    line = line_of(release)
    in_line = [r for r in served if line_of(r) == line]
    if release == line and in_line:  # "1.26": the line
        return in_line[-1] if newest else in_line[0]
    exact = next((r for r in in_line if version_key(r) == version_key(release)), None)
    if exact is None:
        raise UserError(_unserved(release, flag))
    return exact


def _unserved(release: str, flag: str) -> str:
    """The line `run`, `repro` and `explain` give for a release no provider has: the
    providers' own reasons (asking them fetches nothing they do not have)."""
    found = toolchains.resolve(release)
    if isinstance(found, toolchains.Unavailable):
        return found.refusal(flag)
    return f"{flag}: Go {release} cannot be had here: no provider serves it here"


def field_names() -> list[str]:
    """Every name --fields accepts: a side's fields, the derived ones, state.<Go name>."""
    return ([f.name for f in SIDE_FIELDS if f.name != "state"] + [f.name for f in DERIVED_FIELDS]
            + [state_path(n) for n in STATE_FIELDS])


def parse_fields(text: str, flag: str = "--fields") -> tuple[str, ...]:
    """"error,state.DidResume" -> the names, checked against observe/fields.py."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError(f"{flag}: empty; expected observed fields such as error,state.DidResume")
    known = field_names()
    for name in names:
        if name not in known:
            raise UserError(f"{flag}: {name!r} is not an observed field; expected any of: {', '.join(known)}")
    return tuple(dict.fromkeys(names))


# ---------------------------------------------------------------- observing


def observed(doc: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The fields of every step and side of one observation document, labelled in order."""
    values: dict[str, Any] = {}
    if doc.get("failure"):
        values["failure"] = doc["failure"]
    for step in doc["steps"]:
        n = step["step"]
        if step.get("failure"):
            values[f"step {n} failure"] = step["failure"]
        for side in ("client", "server"):  # as the agreement class: the handshake's two sides
            side_doc = step.get(side)
            if side_doc is not None:
                for name in fields:
                    values[f"step {n} {side} {name}"] = actual_value(side_doc, name)
    return values


def visit_of(candidate: Candidate, doc: dict[str, Any], fields: Sequence[str]) -> Visit:
    if doc.get("unsupported"):
        return Visit(candidate, Status.UNSUPPORTED, str(doc["unsupported"]))
    return Visit(candidate, Status.RAN, values=observed(doc, fields))


def probe(case: Case, candidate: Candidate, fields: Sequence[str], timeout: float) -> Visit:
    """Fetch and build one release (or Go root) and run the case on its real peer."""
    from .runs import Run
    if candidate.goroot is None:
        found = toolchains.resolve(candidate.release)
        if isinstance(found, toolchains.Unavailable):
            return Visit(candidate, Status.UNAVAILABLE, found.reason)
        spec, roots = candidate.release, []
    else:
        spec, roots = "", [candidate.goroot]
    try:
        with Run(spec, goroots=roots, timeout=timeout) as run:
            releases = run.prepare()
            result = run.run([case])
    except UserError as exc:  # resolved, but its peer did not build
        return Visit(candidate, Status.UNAVAILABLE, str(exc))
    ours = [t for t in releases.available if (t.provider == "goroot") == (candidate.goroot is not None)]
    return visit_of(candidate, result.results[0].docs[(ours[0].name,)], fields)


# ---------------------------------------------------------------- searching


@dataclass
class Outcome:
    """What the search found, and everything it saw on the way."""

    candidates: list[Candidate]
    visits: dict[int, Visit]
    start: int | None = None  # the first release with an observation
    end: int | None = None  # the last
    last_same: int | None = None
    first_different: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.first_different is not None

    @property
    def compared(self) -> bool:
        return self.start is not None and self.end is not None

    def odd(self) -> list[int]:
        """Visited releases whose observation differs from both ends (more than one change)."""
        if not self.changed or self.start is None or self.end is None:
            return []
        ends = {self.visits[self.start].signature, self.visits[self.end].signature}
        return [i for i, v in sorted(self.visits.items()) if v.status == Status.RAN and v.signature not in ends]


class Search:
    """Binary search over candidates in order; `probe` gives each one's Visit, asked once."""

    def __init__(self, candidates: Sequence[Candidate], probe: Callable[[Candidate], Visit],
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.candidates = list(candidates)
        self._probe = probe
        self._say = say
        self.visits: dict[int, Visit] = {}

    def visit(self, i: int) -> Visit:
        if i not in self.visits:
            self._say(f"visiting {self.candidates[i].name} ({len(self.visits) + 1} visited)")
            self.visits[i] = self._probe(self.candidates[i])
        return self.visits[i]

    def boundary(self, lo: int, hi: int, is_right: Callable[[Visit], bool | None]) -> tuple[int, int]:
        """With is_right(lo) false and is_right(hi) true, the closest such pair; releases
        where is_right is None (no comparable observation) are stepped around."""
        skipped: set[int] = set()
        while True:
            between = [i for i in range(lo + 1, hi) if i not in skipped]
            if not between:
                return lo, hi
            mid = (lo + hi) // 2
            i = min(between, key=lambda j: (abs(j - mid), j))
            right = is_right(self.visit(i))
            if right is None:
                skipped.add(i)
            elif right:
                hi = i
            else:
                lo = i

    def run(self) -> Outcome:
        out = Outcome(self.candidates, self.visits)
        lo, hi = 0, len(self.candidates) - 1
        while lo <= hi and self.visit(lo).status == Status.UNAVAILABLE:
            lo += 1
        while hi > lo and self.visit(hi).status == Status.UNAVAILABLE:
            hi -= 1
        if hi <= lo:
            out.notes.append("fewer than two releases of the range could be had: nothing to compare")
            return out
        if self.visit(lo).status == Status.UNSUPPORTED and self.visit(hi).status == Status.UNSUPPORTED:
            out.notes.append(f"the case is unsupported at both ends of the range "
                             f"({self.candidates[lo].name}: {self.visit(lo).reason}): nothing to compare")
            return out
        supported: Callable[[Visit], bool | None] = (
            lambda v: None if v.status == Status.UNAVAILABLE else v.status == Status.RAN)
        if self.visit(lo).status == Status.UNSUPPORTED:  # support starts inside the range
            last_unsupported, lo = self.boundary(lo, hi, supported)
            span = self.candidates[0].name if last_unsupported == 0 else \
                f"from {self.candidates[0].name} to {self.candidates[last_unsupported].name}"
            out.notes.append(f"unsupported on {span} ({self.visit(last_unsupported).reason}); compared from "
                             f"{self.candidates[lo].name}")
        if self.visit(hi).status == Status.UNSUPPORTED:  # support ends inside the range
            hi, first_unsupported = self.boundary(lo, hi, lambda v: None if (s := supported(v)) is None else not s)
            out.notes.append(f"unsupported from {self.candidates[first_unsupported].name} on "
                             f"({self.visit(first_unsupported).reason}); compared up to {self.candidates[hi].name}")
        out.start, out.end = lo, hi
        if lo == hi:
            out.notes.append("only one release of the range runs the case: nothing to compare")
            out.start = out.end = None
            return out
        start = self.visit(lo).signature
        if self.visit(hi).signature == start:
            return out
        out.last_same, out.first_different = self.boundary(
            lo, hi, lambda v: None if v.status != Status.RAN else v.signature != start)
        return out


# ---------------------------------------------------------------- output


def _letters(outcome: Outcome) -> dict[int, str]:
    seen: dict[str, str] = {}
    letters = {}
    for i, v in sorted(outcome.visits.items()):
        if v.status == Status.RAN:
            letters[i] = seen.setdefault(v.signature, chr(ord("A") + len(seen)) if len(seen) < 26 else f"Z{len(seen)}")
    return letters


def _differing(visits: Sequence[Visit]) -> list[str]:
    """Each label whose value is not the same on all the visits, with every value whole."""
    lines = []
    width = max(len(v.candidate.name) for v in visits)
    labels = list(dict.fromkeys(label for v in visits for label in v.values))
    for label in labels:
        shown = [_shown(label, v.values.get(label, "(absent)")) for v in visits]
        if len(set(shown)) > 1:
            lines.append(f"  {label}")
            lines += [f"    {v.candidate.name:<{width}}  {s}" for v, s in zip(visits, shown)]
    return lines


def _shown(label: str, value: Any) -> str:
    """A value whole, on one line; alerts as words (their bytes are their name and level)."""
    if label.endswith(" alerts") and isinstance(value, dict):
        return ", ".join(alert_words(value)) or "none"
    return json.dumps(value, sort_keys=True)


def _unserved_between(a: str, b: str) -> list[str]:
    """Patch releases of one line between a and b that the range did not hold (no provider serves them)."""
    try:
        ka, kb = version_key(a), version_key(b)
    except ValueError:
        return []
    if ka[0] != kb[0]:
        return []
    return [f"1.{ka[0]}.{p}" for p in range(ka[1] + 1, kb[1])]


def render(outcome: Outcome, case_id: str, range_text: str, fields: Sequence[str] | None) -> str:
    """The report of a search: visits, the boundary, and what differs there, values whole."""
    cands = outcome.candidates
    on = "the outcome fields (the agreement class)" if fields is None else "fields " + ", ".join(fields)
    lines = [f"bisect {case_id} over {range_text} ({len(cands)} releases), on {on}"]
    letters = _letters(outcome)
    width = max(len(c.name) for c in cands)
    for i, v in sorted(outcome.visits.items()):
        what = letters[i] if v.status == Status.RAN else f"{v.status}: {v.reason}"
        lines.append(f"  {v.candidate.name:<{width}}  {what}")
    lines += outcome.notes
    skipped = [v for v in outcome.visits.values() if v.status != Status.RAN]
    if skipped:
        lines.append("skipped: " + ", ".join(f"{v.candidate.name} ({v.status})" for v in
                                             sorted(skipped, key=lambda v: cands.index(v.candidate))))
    if outcome.compared and not outcome.changed:
        assert outcome.start is not None and outcome.end is not None
        a, b = cands[outcome.start], cands[outcome.end]
        lines.append(f"no change: {a.name} and {b.name} agree (a change undone inside the range would not show)")
    if outcome.changed:
        assert outcome.last_same is not None and outcome.first_different is not None
        same, diff = outcome.visits[outcome.last_same], outcome.visits[outcome.first_different]
        lines.append(f"last same:       {same.candidate.name}")
        lines.append(f"first different: {diff.candidate.name}")
        spanned = sorted({line_of(c.release) for c in cands if c.release}, key=version_key)
        if len(spanned) > 1:
            lines.append(f"the range spans the lines {', '.join(spanned)}, searched in version order: a change "
                         "backported to a patch release of one line shows there only if the next line has it "
                         "from its first release; bisect within one line to find that line's own patch release")
        between = [outcome.visits[i] for i in range(outcome.last_same + 1, outcome.first_different)]
        if between:
            lines.append("the change may lie in a release between them that gave no observation: " +
                         ", ".join(f"{v.candidate.name} ({v.status}: {v.reason})" for v in between))
        if same.candidate.release and diff.candidate.release:
            held = {c.release for c in cands}
            gap = [r for r in _unserved_between(same.candidate.release, diff.candidate.release) if r not in held]
            if gap:
                lines.append(f"no provider here serves {', '.join(gap)}, which lie between them: the first "
                             "different release may be one of those")
        odd = outcome.odd()
        if odd and outcome.start is not None and outcome.end is not None:
            start, end = outcome.visits[outcome.start], outcome.visits[outcome.end]
            names = ", ".join(f"{outcome.visits[i].candidate.name} ({letters[i]})" for i in odd)
            lines.append(f"not monotonic: the ends differ ({start.candidate.name} {letters[outcome.start]}, "
                         f"{end.candidate.name} {letters[outcome.end]}) but {names} differs from both; binary "
                         "search assumes one change, so the first different release above is where the "
                         "observation first leaves the start's on the path searched, and there are more changes")
            lines.append("what the ends and the odd releases saw:")
            lines += _differing([start] + [outcome.visits[i] for i in odd] + [end])
        lines.append(f"what differs, {same.candidate.name} | {diff.candidate.name}:")
        lines += _differing([same, diff])
    ran = len(outcome.visits)
    rest = " (the others were neither fetched nor built)" if ran < len(cands) else ""
    lines.append(f"visited {ran} of {len(cands)} releases{rest}")
    return "\n".join(lines) + "\n"
