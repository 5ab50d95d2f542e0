"""Where JSON values differ: the deepest paths at which they are not all equal, each
with every value there, whole. Two transcripts that differ in one message length show
as `received[0].length: 118 | 1206`, not as the same truncated prefix."""
from __future__ import annotations

import json
from typing import Any, Sequence


class _Absent:
    """A key one value has and another lacks."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()


def changed_paths(values: Sequence[Any], prefix: str = "") -> list[tuple[str, list[Any]]]:
    """(path, the value of each input at that path) for every deepest path where the inputs
    differ. Objects are compared key by key and lists of one length item by item; lists of
    different lengths, and values of different types, differ as a whole."""
    first = values[0]
    if all(v == first for v in values[1:]):
        return []
    if all(isinstance(v, dict) for v in values):
        out: list[tuple[str, list[Any]]] = []
        for key in sorted(set().union(*values)):
            out += changed_paths([v.get(key, ABSENT) for v in values], f"{prefix}.{key}" if prefix else key)
        return out
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        out = []
        for i in range(len(first)):
            out += changed_paths([v[i] for v in values], f"{prefix}[{i}]")
        return out
    return [(prefix, list(values))]


def show(value: Any) -> str:
    """A value whole, on one line: JSON with sorted keys, `(absent)` for a missing key."""
    return "(absent)" if value is ABSENT else json.dumps(value, sort_keys=True)
