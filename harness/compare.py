"""Agreement classes across releases and expectation verdicts.

For each case, the observations of every release key are compared field by
field: the keys fall into agreement classes (A, B, ...) by their outcome, and
each differing field is listed with its values side by side. Expectations are
judged per key; one that names a field the release does not have is stale,
which counts as a failure (a check that can no longer fail is no check).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Sequence

import orjson

from .observe.fields import ABSENT, DIFFED_FIELDS, OUTCOME_FIELDS
from .scenario.model import Case, Expectation, ReleaseKey, key_text


class Verdict(StrEnum):
    """A run's verdict; a case's verdict is the worst of its runs'."""

    PASS = "pass"  # every expectation held
    FAIL = "fail"  # an expectation failed, or was stale
    ERROR = "error"  # a peer hung, crashed or refused a step
    UNSUPPORTED = "unsupported"  # a peer cannot do what the case asks on that release
    XFAIL = "xfail"  # failed, as an expected-failures entry says it does (with its reason)


#: Worst first: the order in which a case's verdict is chosen from its runs'.
WORST_FIRST = (Verdict.ERROR, Verdict.FAIL, Verdict.XFAIL, Verdict.PASS, Verdict.UNSUPPORTED)


class CheckOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    STALE = "stale"  # the expectation names a field the release does not have


def _reader(names: tuple[str, ...]) -> Any:
    """A function giving a side's values of names in order (a `state.` name from its
    ConnectionState, ABSENT where the release lacks it; nothing for a missing side):
    a run compares a few hundred thousand fields, and a call per field was most of it."""
    plain = [n for n in names if not n.startswith("state.")]
    state = [n[6:] for n in names if n.startswith("state.")]
    if list(names) != plain + [f"state.{n}" for n in state]:
        raise ValueError("state fields must come after the side's own")
    nothing = [None] * len(names)

    def read(side_doc: dict[str, Any] | None) -> list[Any]:
        if side_doc is None:
            return nothing[:]
        get, state_get = side_doc.get, side_doc["state"].get
        return [get(n) for n in plain] + [state_get(n, ABSENT) for n in state]
    return read


_outcome_values = _reader(OUTCOME_FIELDS)
_diffed_values = _reader(DIFFED_FIELDS)


def first_alert(alerts: list[dict[str, Any]]) -> str | None:
    """The first alert other than close_notify: what a case means by 'the alert'."""
    for a in alerts:
        if a["name"] != "close_notify":
            return a["name"]
    return None


@dataclass
class Check:
    expectation: str
    step: int
    side: str
    field: str
    expected: Any
    actual: Any
    outcome: CheckOutcome

    def message(self) -> str:
        if self.outcome == CheckOutcome.STALE:
            return (f"{self.expectation}: {self.side} {self.field} is absent on this release; "
                    f"the expectation cannot be checked (stale)")
        return (f"{self.expectation}: {self.side} {self.field}: expected {json.dumps(self.expected)}, "
                f"got {json.dumps(self.actual)}")


def actual_value(side_doc: dict[str, Any], name: str) -> Any:
    if name == "alert_sent":
        return first_alert(side_doc["alerts"]["sent"])
    if name == "alert_received":
        return first_alert(side_doc["alerts"]["received"])
    if name == "ticket_lengths":
        transcript = side_doc.get("transcript") or {}
        return [m.get("ticket_length", 0) for way in ("sent", "received") for m in transcript.get(way, [])
                if m.get("type") == "new_session_ticket"]
    if name.startswith("state."):
        return side_doc["state"].get(name[6:], ABSENT)
    return side_doc.get(name)


def judge(exp: Expectation, doc: dict[str, Any]) -> list[Check]:
    steps = {s["step"]: s for s in doc["steps"]}
    step = steps.get(exp.step)
    checks: list[Check] = []
    for side, fields in exp.sides.items():
        flat: list[tuple[str, Any]] = []
        for name, want in fields.items():
            if name == "state":
                flat.extend((f"state.{k}", v) for k, v in want.items())
            else:
                flat.append((name, want))
        for name, want in flat:
            side_doc = step.get(side) if step else None
            if side_doc is None:
                got: Any = "(no observation: " + (doc.get("failure") or (step or {}).get("failure") or "step not reached") + ")"
                outcome = CheckOutcome.FAIL
            else:
                got = actual_value(side_doc, name)
                # Expecting `absent` is a claim like any other; otherwise a missing field is stale.
                outcome = (CheckOutcome.STALE if got == ABSENT and want != ABSENT
                           else CheckOutcome.PASS if got == want else CheckOutcome.FAIL)
            checks.append(Check(exp.label(), exp.step, side, name, want, got, outcome))
    return checks


@dataclass
class RunVerdict:
    key: ReleaseKey
    verdict: Verdict
    checks: list[Check] = field(default_factory=list)
    reason: str = ""
    messages: list[str] | None = None  # the failures as a report gave them (a merge has no checks)

    def failures(self) -> list[str]:
        if self.messages is not None:
            return list(self.messages)
        msgs = [c.message() for c in self.checks if c.outcome != CheckOutcome.PASS]
        return ([self.reason] if self.reason else []) + msgs


def model_checks(doc: dict[str, Any]) -> list[Check]:
    """The Python model of Go's session encoding against the real release: every
    exported or imported encoding must get the error the model predicts."""
    checks = []
    for s in doc["steps"]:
        session = s.get("session")
        if session and "model_error" in session:
            got, want = session["error"], session["model_error"]
            checks.append(Check("Python model (gomodel)", s["step"], "session", "error", want, got,
                                CheckOutcome.PASS if got == want else CheckOutcome.FAIL))
    return checks


def verdict_for(case: Case, key: ReleaseKey, doc: dict[str, Any], expectations: bool = True) -> RunVerdict:
    """expectations: judge the case's expectations and the model's (False for an
    outcome-only document, which lacks most of what they name: errors alone decide)."""
    if doc.get("unsupported"):
        return RunVerdict(key, Verdict.UNSUPPORTED, reason=doc["unsupported"])
    checks: list[Check] = []
    if expectations:
        checks = [c for exp in case.expectations if exp.applies(key) for c in judge(exp, doc)] + model_checks(doc)
    failure = doc.get("failure") or next((s["failure"] for s in doc["steps"] if s.get("failure")), None)
    if failure:
        return RunVerdict(key, Verdict.ERROR, checks, reason=failure)
    bad = any(c.outcome != CheckOutcome.PASS for c in checks)
    return RunVerdict(key, Verdict.FAIL if bad else Verdict.PASS, checks)


def _outcome_signature(doc: dict[str, Any]) -> bytes:
    """The outcome values of every step as JSON with sorted keys: equal for equal
    outcomes (orjson: a fifth of json's CPU; json for what orjson refuses)."""
    if doc.get("unsupported"):
        return b'{"unsupported":true}'
    sig = [doc.get("failure")]
    for s in doc["steps"]:
        sig.append([s.get("failure")] + [
            _outcome_values(s.get(side)) for side in ("client", "server")])
    try:
        return orjson.dumps(sig, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer past 64 bits
        return json.dumps(sig, sort_keys=True, separators=(",", ":")).encode()


def _letters(n: int) -> list[str]:
    return [chr(ord("A") + i) if i < 26 else f"Z{i}" for i in range(n)]


def agreement_classes(docs: dict[ReleaseKey, dict[str, Any]]) -> dict[ReleaseKey, str]:
    """Class letter per key; A is the class of the first key in order."""
    sigs: dict[bytes, str] = {}
    out: dict[ReleaseKey, str] = {}
    for key in docs:
        if docs[key].get("unsupported"):
            out[key] = "-"  # no outcome to agree on
            continue
        sig = _outcome_signature(docs[key])
        if sig not in sigs:
            sigs[sig] = _letters(len(sigs) + 1)[-1]
        out[key] = sigs[sig]
    return out


_json_key = json.JSONEncoder(sort_keys=True).encode  # json.dumps(v, sort_keys=True), without its per-call setup


def _group(value: Any) -> Any:
    """What values equal as JSON share: a scalar itself with its type (True is not 1),
    anything else its JSON (encoding each of the many strings and numbers cost more
    than the rest of the comparison)."""
    if value is None or isinstance(value, (str, int, float)):
        return (type(value), value)
    return _json_key(value)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON: == (in C), with the type checked where == would let True
    equal 1 (a document's values come from one normalizer, so deeper mixes of
    bool and int in one field do not occur)."""
    return type(a) is type(b) and a == b


def differences(docs: dict[ReleaseKey, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every (step, side, field) whose value is not the same on all keys."""
    out: list[dict[str, Any]] = []
    usable = {k: d for k, d in docs.items() if not d.get("unsupported")}
    if len(usable) < 2:
        return out
    by_step = {key_text(k): {s["step"]: s for s in d["steps"]} for k, d in usable.items()}
    steps = sorted({n for d in by_step.values() for n in d})
    for n in steps:
        for side in ("client", "server"):
            sides = {key: (steps_[n].get(side) if n in steps_ else None) for key, steps_ in by_step.items()}
            first, *rest = sides.values()
            if all(_same(first, other) for other in rest):
                continue  # the common case: no field of this side differs
            rows = [_diffed_values(doc_side) for doc_side in sides.values()]
            keys = list(sides)
            for name, got in zip(DIFFED_FIELDS, zip(*rows)):
                # All equal: == in C, then one type (the few fields that differ are
                # what is left, and every side's values are read once).
                if got.count(got[0]) == len(got) and len(set(map(type, got))) == 1:
                    continue
                groups = _equal_json_groups(got)
                if len(groups) > 1:
                    out.append({"step": n, "side": side, "field": name,
                                "values": [{"releases": [keys[i] for i in at], "value": got[at[0]]}
                                           for at in groups]})
        out += _session_differences(n, {key: steps_.get(n, {}).get("session") for key, steps_ in by_step.items()})
    return out


def _session_differences(step: int, sessions: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """An export or import step's fields (normalize_session: the Go error, the session as
    the model reads it) that are not the same on all keys, as side "session"."""
    first, *rest = sessions.values()
    if all(_same(first, other) for other in rest):
        return []
    names = list(dict.fromkeys(name for doc in sessions.values() for name in doc or {}))
    keys = list(sessions)
    out = []
    for name in names:
        got = [(doc or {}).get(name) for doc in sessions.values()]
        groups = _equal_json_groups(got)
        if len(groups) > 1:
            out.append({"step": step, "side": "session", "field": name,
                        "values": [{"releases": [keys[i] for i in at], "value": got[at[0]]} for at in groups]})
    return out


def _equal_json_groups(values: Sequence[Any]) -> list[list[int]]:
    """The positions of values grouped as equal JSON, groups in order of first
    appearance. Values are first grouped by _same (in C), then groups whose first
    values encode alike are merged (_group): a field differing on a few releases
    encodes two or three values instead of one a release. Documents are only read."""
    groups: list[list[int]] = []
    for i, value in enumerate(values):
        for at in groups:
            if _same(values[at[0]], value):
                at.append(i)
                break
        else:
            groups.append([i])
    if len(groups) < 2:
        return groups
    merged: dict[Any, list[int]] = {}
    for at in groups:
        merged.setdefault(_group(values[at[0]]), []).extend(at)
    return [sorted(at) for at in merged.values()]


@dataclass
class CaseResult:
    case: Case
    docs: dict[ReleaseKey, dict[str, Any]]
    verdicts: dict[ReleaseKey, RunVerdict]
    classes: dict[ReleaseKey, str]
    seconds: dict[ReleaseKey, float] = field(default_factory=dict)  # how long each run took (not in JSON)
    _diffs: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    @property
    def diffs(self) -> list[dict[str, Any]]:
        """The fields whose values differ across keys (`differences`), made when first
        asked if compare_case did not (a fuzz campaign reads only the classes, and
        differences were a seventh of its harness's CPU)."""
        if self._diffs is None:
            self._diffs = differences(self.docs)
        return self._diffs

    @property
    def verdict(self) -> Verdict:
        vs = {v.verdict for v in self.verdicts.values()}
        return next((v for v in WORST_FIRST if v in vs), Verdict.UNSUPPORTED)


def compare_case(case: Case, docs: dict[ReleaseKey, dict[str, Any]], outcome_only: bool = False) -> CaseResult:
    """The case's verdicts, classes and differences. The differences are listed now (a
    run compares each case while later ones run, so a report's cost no time at its
    end); for outcome-only documents (Run.run) when first asked, and their verdicts
    judge no expectation."""
    verdicts = {k: verdict_for(case, k, d, expectations=not outcome_only) for k, d in docs.items()}
    return CaseResult(case, docs, verdicts, agreement_classes(docs), _diffs=None if outcome_only else differences(docs))
