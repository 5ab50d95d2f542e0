"""Where reports go: a file path, or `-` for standard output.

Every target is checked before any work starts (a run takes minutes; failing to
write at the end would lose it), and writing never raises: a failure comes back
as one line for the caller to print after everything else.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

STDOUT = "-"


@dataclass(frozen=True)
class Target:
    flag: str  # "--json"
    path: Path | None  # None: standard output

    @property
    def to_stdout(self) -> bool:
        return self.path is None

    def write(self, text: str) -> str | None:
        """Write the report; None, or one line saying why it could not be written."""
        try:
            if self.path is None:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                self.path.write_text(text)
        except BrokenPipeError:
            return None  # the reader went away: nothing to tell it
        except OSError as exc:
            return f"{self.flag}: cannot write {self.path or 'standard output'}: {exc.strerror or exc}"
        return None


def target(flag: str, value: str | None) -> Target | None:
    """A checked output target for a flag's value, or None when the flag was not given."""
    if value is None:
        return None
    if value == STDOUT:
        return Target(flag, None)
    if not value.strip():
        raise UserError(f"{flag}: an empty path; expected a file path or '-' for standard output")
    path = Path(value)
    if path.is_dir():
        raise UserError(f"{flag}: {value!r} is a folder; expected a file path or '-'")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{flag}: folder {str(parent)!r} does not exist; create it first, or write elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{flag}: {value!r} is not writable by this user")
    return Target(flag, path)


def targets(pairs: list[tuple[str, str | None]]) -> list[Target]:
    """Checked targets for several flags; at most one may be standard output."""
    out = [t for flag, value in pairs if (t := target(flag, value)) is not None]
    to_stdout = [t.flag for t in out if t.to_stdout]
    if len(to_stdout) > 1:
        raise UserError(f"{' and '.join(to_stdout)}: only one report can go to standard output ('-')")
    return out
