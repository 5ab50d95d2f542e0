"""Stimuli: cases made in memory from a base scenario and the Python peer's knobs.

A stimulus is a base (bases.py) and a `misbehave` mapping for its Python endpoint:
exactly what a case file says, so every stimulus can be written out and loaded back
(`Stimulus.case` goes through the case loader). The stream is a pure function of the
seed (`stimuli(seed)`), in phases:

1. `base`: each base as it is;
2. `knob`: each knob of the Python peer's role alone, over its systematic values
   (values.py), each value on the next base of a seeded rotation that takes it;
3. `combination`: two or three knobs at random values on a random base;
4. `edits`, for ever: lists of one to three entries of the list-valued knobs (the
   field- and byte-level edits: an extension omitted, a byte flipped, a message
   dropped), alone or with one other knob; one stimulus in four is still a
   combination.

Knobs come from `scenario/misbehaviours.KNOBS` (those of peer python), values from
their JSON schemas: a knob added to the table is fuzzed with no change here. A draw
the knob table's own check refuses (a message the role does not send, bytes without
the action that takes them) is drawn again, up to a limit; what is still refused, or
what the case loader refuses (a knob that needs an endpoint setting no base has), is
counted and skipped. Single-connection bases are drawn twice as often as the
two-connection ones, which cost twice as much.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import UserError
from ..scenario import misbehaviours
from ..scenario.load import case_from_data
from ..scenario.misbehaviours import KNOBS, PYTHON, Knob
from ..scenario.model import Case, Role
from . import values
from .bases import Base, all_bases

PHASES = ("base", "knob", "combination", "edits")
#: Draws of a knob's value before a refused one is given up.
MAX_DRAWS = 24
#: Stimuli of the combination phase, per base, before the edits phase starts.
COMBINATIONS_PER_BASE = 40


@dataclass(frozen=True)
class Stimulus:
    index: int  # its place in the stream (the order findings are first met in)
    phase: str
    base: Base
    misbehave: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        knobs = json.dumps(self.misbehave, separators=(",", ":")) if self.misbehave else "no knob"
        return f"{self.base.name} {knobs}"

    def case_data(self, description: str = "", source: str = "tlsdiff fuzz", tags: Sequence[str] = ()) -> dict[str, Any]:
        what = f"the Python {self.base.role} misbehaves" if self.misbehave else "no misbehaviour"
        data: dict[str, Any] = {"description": description or f"{self.base.describe()}; {what}.",
                                "source": source, "tags": list(tags) or ["fuzz"]}
        data.update(self.base.case_data(self.misbehave))
        return data

    def case(self, case_id: str, path: Path | None = None, **text: Any) -> Case:
        """The case this stimulus is (UserError if the case loader refuses it)."""
        return case_from_data(self.case_data(**text), case_id, path or Path(f"{case_id}.yaml"))

    def with_(self, base: Base | None = None, misbehave: dict[str, Any] | None = None) -> "Stimulus":
        return Stimulus(self.index, self.phase, base or self.base,
                        self.misbehave if misbehave is None else misbehave)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "phase": self.phase, "base": self.base.to_json(), "misbehave": self.misbehave}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Stimulus":
        return cls(d["index"], d["phase"], Base.from_json(d["base"]), d["misbehave"])


def python_knobs(role: Role) -> list[Knob]:
    """The Python peer's knobs for a role, in the table's order."""
    return [k for k in KNOBS if k.peer == PYTHON and (k.role is None or k.role == role)]


def refusal(misbehave: dict[str, Any], role: Role) -> str | None:
    """Why the case loader would refuse these knobs on a Python endpoint of this role, or None."""
    try:
        return misbehaviours.check(misbehave, "python", "misbehave", role)
    except (TypeError, ValueError) as exc:  # a value tlspeer cannot even parse
        return str(exc)


def is_list_knob(knob: Knob) -> bool:
    """A knob whose value is a list of edits: what the edits phase draws entries of."""
    return knob.value.get("type") == "array" and knob.value.get("items", {}).get("type") == "object"


class Stimuli:
    """The seeded stream of stimuli; `refused` counts draws given up."""

    def __init__(self, seed: int, bases: Sequence[Base] | None = None) -> None:
        self.seed = seed
        self.bases = list(bases or all_bases())
        self.refused = 0
        self._index = 0

    def _rng(self, what: str) -> random.Random:
        return random.Random(f"tlsdiff fuzz {self.seed} {what}")  # str seeds are stable across runs

    def _next(self, phase: str, bases: Sequence[Base], misbehave: dict[str, Any]) -> Stimulus | None:
        """The next stimulus, on the first of the bases the case loader takes it on (a knob
        may need an endpoint setting only some bases have, such as ECH's); None, counted as
        refused, when it takes it on none."""
        for base in bases:
            s = Stimulus(self._index, phase, base, misbehave)
            if check_loads(s) is None:
                self._index += 1
                return s
        self.refused += 1
        return None

    def __iter__(self) -> Iterator[Stimulus]:
        for base in self.bases:
            s = self._next("base", [base], {})
            if s is not None:
                yield s
        yield from self._knobs()
        rng = self._rng("combination")
        for _ in range(COMBINATIONS_PER_BASE * len(self.bases)):
            s = self._combination(rng)
            if s is not None:
                yield s
        rng = self._rng("edits")
        while True:
            s = self._combination(rng) if rng.random() < 0.25 else self._edits(rng)
            if s is not None:
                yield s

    # -- phases ---------------------------------------------------------------

    def _knobs(self) -> Iterator[Stimulus]:
        rng = self._rng("knob")
        for role in (Role.CLIENT, Role.SERVER):
            bases = [b for b in self.bases if b.role == role]
            for knob in python_knobs(role):
                rotation = rng.sample(bases, len(bases))
                needed = self._needs(knob, rng, role)
                if needed is None:
                    self.refused += 1
                    continue

                def takes(value: Any, knob: Knob = knob, needed: dict[str, Any] = needed) -> bool:
                    return not refusal({knob.name: value, **needed}, role)
                if is_list_knob(knob):  # one entry at a time: the sweep is over what an entry can be
                    sweep = [[item] for item in values.systematic(knob.value["items"], rng,
                                                                  accept=lambda item, t=takes: t([item]))]
                else:
                    sweep = values.systematic(knob.value, rng, accept=takes)
                for i, value in enumerate(sweep):
                    turn = i % len(rotation)  # the next base of the rotation that takes the value
                    s = self._next("knob", rotation[turn:] + rotation[:turn], {knob.name: value, **needed})
                    if s is not None:
                        yield s

    def _needs(self, knob: Knob, rng: random.Random, role: Role) -> dict[str, Any] | None:
        """The knob a knob goes with, at a value the check accepts ({} for none; None: no such value)."""
        if not knob.needs:
            return {}
        other = misbehaviours.BY_NAME[knob.needs]
        for _ in range(MAX_DRAWS):
            value = values.random_value(other.value, rng)
            if not refusal({other.name: value}, role):
                return {other.name: value}
        return None

    def _base(self, rng: random.Random) -> Base:
        weights = [2 if b.connections == 1 else 1 for b in self.bases]
        return rng.choices(self.bases, weights)[0]

    def _value(self, knob: Knob, rng: random.Random, role: Role, into: dict[str, Any]) -> bool:
        """Add knob at a random value the check accepts along with `into`; False if none was found."""
        for _ in range(MAX_DRAWS):
            if is_list_knob(knob):
                value = self._entries(knob, rng, role, 1 + values.small(rng, 2))
                if value is None:
                    return False
            else:
                value = values.random_value(knob.value, rng)
            trial = {**into, knob.name: value}
            trial.update(self._needs(knob, rng, role) or {})
            if not refusal(trial, role):
                into.clear()
                into.update(trial)
                return True
        return False

    def _entries(self, knob: Knob, rng: random.Random, role: Role, n: int) -> list[Any] | None:
        """n entries of a list knob, each drawn until the check takes it on its own."""
        out: list[Any] = []
        for _ in range(n):
            for _ in range(MAX_DRAWS):
                item = values.random_value(knob.value["items"], rng)
                if not refusal({knob.name: [item]}, role):
                    out.append(item)
                    break
            else:
                self.refused += 1
        return out or None

    def _combination(self, rng: random.Random) -> Stimulus | None:
        base = self._base(rng)
        knobs = python_knobs(base.role)
        misbehave: dict[str, Any] = {}
        for knob in rng.sample(knobs, min(len(knobs), rng.choice((2, 2, 3)))):
            if not self._value(knob, rng, base.role, misbehave):
                self.refused += 1
        return self._next("combination", [base], misbehave) if misbehave else None

    def _edits(self, rng: random.Random) -> Stimulus | None:
        base = self._base(rng)
        knobs = python_knobs(base.role)
        lists = [k for k in knobs if is_list_knob(k)]
        if not lists:  # a table without edit knobs: combinations only
            return self._combination(rng)
        misbehave: dict[str, Any] = {}
        if not self._value(rng.choice(lists), rng, base.role, misbehave):
            self.refused += 1
            return None
        if rng.random() < 0.3:
            others = [k for k in knobs if k.name not in misbehave]
            if others and not self._value(rng.choice(others), rng, base.role, misbehave):
                self.refused += 1
        return self._next("edits", [base], misbehave)


def check_loads(stimulus: Stimulus) -> str | None:
    """Why the case loader refuses a stimulus, or None (the stream draws only what the
    knob check takes; the loader also checks the schema and the cross-references)."""
    try:
        stimulus.case("fuzz/check")
    except UserError as exc:
        return str(exc)
    return None
