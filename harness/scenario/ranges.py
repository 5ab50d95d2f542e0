"""Release ranges in expectations: '<1.21', '>=1.21 <1.25', '1.19', '==1.24.11'."""
from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, ...]

_TERM = re.compile(r"(<=|>=|<|>|==)?\s*(1\.[0-9]+(?:\.[0-9]+)?)")


def parse_version(text: str) -> Version:
    return tuple(int(p) for p in text.split("."))


@dataclass(frozen=True)
class Range:
    """A conjunction of comparisons. A bare '1.21' means the whole 1.21 line."""

    text: str
    terms: tuple[tuple[str, Version], ...]

    def contains(self, version: str) -> bool:
        """Is a release key's toolchain (its name: "1.24.11", "1.24.11+a1b2c3", "1.28-devel-…") inside?"""
        from ..toolchains.lines import release_of_name
        v = release_of_name(version)
        for op, bound in self.terms:
            if op == "line":
                if v[: len(bound)] != bound:
                    return False
                continue
            # A line bound such as 1.21 compares as 1.21.0.
            b = bound + (0,) * (3 - len(bound))
            vv = v + (0,) * (3 - len(v))
            if not {"<": vv < b, "<=": vv <= b, ">": vv > b, ">=": vv >= b, "==": vv == b}[op]:
                return False
        return True


def possible(r: Range, first_minor: int, last_minor: int) -> bool:
    """Does any release of lines 1.first_minor .. 1.last_minor fall in the range?

    A range is an interval of releases, so trying the ends of each line and the
    releases next to each bound is enough."""
    candidates = {(1, m, p) for m in range(first_minor, last_minor + 1) for p in (0, 999)}
    for _, bound in r.terms:
        b = bound + (0,) * (3 - len(bound))
        candidates |= {(1, b[1], max(0, b[2] + d)) for d in (-1, 0, 1)}
    return any(first_minor <= v[1] <= last_minor and r.contains(".".join(map(str, v))) for v in candidates)


def parse_range(text: str) -> Range:
    """Parse a range; raise ValueError with what was expected."""
    terms: list[tuple[str, Version]] = []
    pos = 0
    stripped = text.strip()
    while pos < len(stripped):
        m = _TERM.match(stripped, pos)
        if not m:
            raise ValueError(f"expected comparisons like '<1.21' or '>=1.21 <1.25', got {text!r}")
        op, ver = m.group(1), parse_version(m.group(2))
        terms.append((op or "line", ver))
        pos = m.end()
        while pos < len(stripped) and stripped[pos] in " ,":
            pos += 1
    if not terms:
        raise ValueError(f"empty release range {text!r}")
    return Range(text.strip(), tuple(terms))
