"""Minimizing a finding: the fewest knobs and edits, then the simplest values and base,
that still give the same signature (kind and partition) on every release.

The units are the stimulus's knobs, each entry of a list-valued knob counted apart (and
of the list an object knob requires: post_handshake's messages).
The shortest prefix of the units that keeps the signature is found by bisection, then
delta debugging (Zeller's ddmin) removes units while the signature holds; then each
remaining value is replaced by the simplest of `values.simpler` that keeps it; then
the base loses its features (the resumption, the HelloRetryRequest, the client
certificate) where it can. Every test is a stimulus run on all releases; the tests
of one step go to the peers together, and the first that keeps the signature (in
a fixed order) wins, so the result depends only on what the releases did.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..scenario.misbehaviours import BY_NAME
from . import values
from .generate import Stimulus, is_list_knob, refusal
from .outcome import Outcome, Signature

#: Runs (stimuli on every release) one minimization may spend.
MAX_TESTS = 160

Unit = tuple[str, int]  # (knob, entry index); -1 for a knob that is not a list
Runner = Callable[[Sequence[Stimulus]], list[Outcome | None]]


def units_of(misbehave: dict[str, Any]) -> list[Unit]:
    out: list[Unit] = []
    for name, value in misbehave.items():
        entries = _entries(name, value)
        out += [(name, i) for i in range(len(entries))] if entries is not None else [(name, -1)]
    return out


def with_units(misbehave: dict[str, Any], units: Sequence[Unit]) -> dict[str, Any]:
    """The knobs restricted to these units (knobs in their original order)."""
    keep = set(units)
    out: dict[str, Any] = {}
    for name, value in misbehave.items():
        entries = _entries(name, value)
        if (name, -1) in keep:
            out[name] = value
        elif entries is not None:
            kept = [v for i, v in enumerate(entries) if (name, i) in keep]
            if kept:
                field = _list_field(BY_NAME[name].value)
                out[name] = {**value, field: kept} if field else kept
    return out


def _entries(name: str, value: Any) -> list[Any] | None:
    """What minimizing takes entry by entry: a list knob's edits, or the list an object
    knob requires (post_handshake's messages: a finding that needs seventeen of them
    should not keep sixty-four)."""
    if is_list_knob(BY_NAME[name]):
        return value if isinstance(value, list) else None
    field = _list_field(BY_NAME[name].value)
    return value[field] if field and isinstance(value, dict) and isinstance(value.get(field), list) else None


def _list_field(schema: dict[str, Any]) -> str | None:
    """The list property an object knob requires, if any."""
    if schema.get("type") != "object":
        return None
    props = schema.get("properties", {})
    return next((p for p in schema.get("required", []) if props.get(p, {}).get("type") == "array"), None)


@dataclass
class Minimized:
    stimulus: Stimulus
    tests: int  # stimuli run while minimizing
    reproduced: bool  # the original gave the signature again when run once more
    exhausted: bool = False  # stopped at MAX_TESTS


class _Tester:
    def __init__(self, run: Runner, signature: Signature) -> None:
        self.run, self.signature, self.tests = run, signature, 0

    def first_keeping(self, candidates: Sequence[Stimulus]) -> int | None:
        """The index of the first candidate that keeps the signature (refused ones are not run)."""
        ok = [c for c in candidates if not refusal(c.misbehave, c.base.role)]
        if not ok or self.tests >= MAX_TESTS:
            return None
        ok = ok[:MAX_TESTS - self.tests]
        self.tests += len(ok)
        outcomes = self.run(ok)
        for c, o in zip(ok, outcomes):
            if o is not None and self.signature in o.signatures():
                return candidates.index(c)
        return None


def minimize(stimulus: Stimulus, signature: Signature, run: Runner) -> Minimized:
    """The smallest stimulus found that still has `signature` (the original if it no longer does)."""
    t = _Tester(run, signature)
    # The original once more (is it stable?) and the base alone (does it take any knob?).
    first = t.first_keeping([stimulus, stimulus.with_(misbehave={})])
    if first is None:
        return Minimized(stimulus, t.tests, reproduced=False)
    best = stimulus.with_(misbehave={}) if first == 1 else stimulus
    best = _ddmin(_shortest_prefix(best, t), t)
    best = _simpler_values(best, t)
    best = _simpler_base(best, t)
    return Minimized(best, t.tests, True, t.tests >= MAX_TESTS)


def _shortest_prefix(s: Stimulus, t: _Tester) -> Stimulus:
    """The shortest prefix of the units that keeps the signature, by bisection: a few tests
    where ddmin spends dozens on a finding that needs any seventeen of sixty-four
    post-handshake messages. Only prefixes that were run and kept it are taken."""
    units = units_of(s.misbehave)
    lo, hi = 0, len(units)  # no unit: the base alone, which does not keep it; all: the stimulus
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if t.first_keeping([s.with_(misbehave=with_units(s.misbehave, units[:mid]))]) is None:
            lo = mid
        else:
            hi = mid
    return s.with_(misbehave=with_units(s.misbehave, units[:hi]))


def _ddmin(s: Stimulus, t: _Tester) -> Stimulus:
    units = units_of(s.misbehave)
    n = 2
    while len(units) >= 2:
        size = -(-len(units) // n)
        chunks = [units[i:i + size] for i in range(0, len(units), size)]
        complements = [[u for u in units if u not in c] for c in chunks] if len(chunks) > 2 else []
        tries = chunks + complements
        hit = t.first_keeping([s.with_(misbehave=with_units(s.misbehave, c)) for c in tries])
        if hit is not None and hit < len(chunks):
            units, n = tries[hit], 2
        elif hit is not None:
            units, n = tries[hit], max(n - 1, 2)
        elif n >= len(units):
            break
        else:
            n = min(len(units), 2 * n)
    return s.with_(misbehave=with_units(s.misbehave, units))


def _simpler_values(s: Stimulus, t: _Tester) -> Stimulus:
    for name in list(s.misbehave):
        schema = BY_NAME[name].value
        while True:
            current = s.misbehave[name]
            options = [s.with_(misbehave={**s.misbehave, name: v}) for v in values.simpler(schema, current)]
            hit = t.first_keeping(options)
            if hit is None:
                break
            s = options[hit]
    return s


def _simpler_base(s: Stimulus, t: _Tester) -> Stimulus:
    while True:
        options = [s.with_(base=b) for b in s.base.simpler()]
        hit = t.first_keeping(options)
        if hit is None:
            return s
        s = options[hit]
