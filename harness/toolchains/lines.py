"""Go release lines and release names: the one place that knows their form.

No list of lines is written down: which lines exist is what the providers offer
(toolchains.newest_line), so a line newer than any this code has seen (1.28 once
PyPI serves it) works without a change here. Only the oldest line is fixed: the
Go peer builds with 1.19 and newer.
"""
from __future__ import annotations

import re

FIRST_LINE = "1.19"
_FIRST_MINOR = 19
_RELEASE_RE = re.compile(r"^(?:go)?1\.(\d{1,2})(?:\.(\d{1,3}))?$")

EXPECTED = f"a Go release line {FIRST_LINE} or newer (e.g. 1.24), an exact release like 1.24.11, or 'all'"


def canonical(item: str) -> str | None:
    """"1.24" / "1.24.11" / "go1.24" -> "1.24" / "1.24.11"; None if it names no release tlsdiff can run."""
    m = _RELEASE_RE.match(item)
    if not m or int(m.group(1)) < _FIRST_MINOR:
        return None
    minor, patch = int(m.group(1)), m.group(2)
    return f"1.{minor}" if patch is None else f"1.{minor}.{int(patch)}"


def minor_of(release: str) -> int:
    """"1.24.11" -> 24."""
    return int(release.split(".")[1])


def lines_through(newest: str) -> list[str]:
    """Every line from the first to `newest`'s, in order: what 'all' asks for."""
    return [f"1.{n}" for n in range(_FIRST_MINOR, max(minor_of(newest), _FIRST_MINOR) + 1)]


def release_of_name(name: str) -> tuple[int, ...]:
    """The release a toolchain's name stands for, for release ranges: "1.24.11+a1b2c3" (an edited
    root) is 1.24.11; "1.28-devel-7f3c1a2" (a devel build) counts as 1.28.0."""
    base = name.split("+", 1)[0]
    if "-devel" in base:
        base = base.split("-devel", 1)[0] + ".0"
    return tuple(int(p) for p in base.split("."))


def sort_key(release: str) -> tuple[int, int]:
    """Lines before their patches: "1.24" < "1.24.0" < "1.24.11" < "1.25"."""
    parts = [int(p) for p in release.split(".")]
    return (parts[1], parts[2] if len(parts) > 2 else -1)
