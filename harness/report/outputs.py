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
STDOUT_CLOSED = False  # the process started with standard output closed (cli.main)


@dataclass(frozen=True)
class Target:
    flag: str  # "--json"
    path: Path | None  # None: standard output

    @property
    def to_stdout(self) -> bool:
        return self.path is None

    def write(self, text: str | bytes) -> str | None:
        """Write the report (bytes: UTF-8 already); None, or one line saying why it could not be written."""
        try:
            if self.path is None:
                if STDOUT_CLOSED:
                    return f"{self.flag}: cannot write standard output: it is closed"
                if isinstance(text, bytes):
                    sys.stdout.flush()
                    sys.stdout.buffer.write(text)
                else:
                    sys.stdout.write(text)
                sys.stdout.flush()
            elif isinstance(text, bytes):
                self.path.write_bytes(text)
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
    shown = value if len(value) <= 80 else value[:77] + "..."
    if not value.strip():
        raise UserError(f"{flag}: an empty path; expected a file path or '-' for standard output")
    if value.endswith(("/", os.sep)):
        raise UserError(f"{flag}: {shown!r} ends with '/', a folder; expected a file path or '-'")
    try:
        path = Path(value)
        target = path.resolve() if path.is_symlink() else path  # a link is written through: check where to
        if target.is_dir():
            raise UserError(f"{flag}: {shown!r} is a folder; expected a file path or '-'")
        if target.exists() and not target.is_file() and not target.is_char_device():
            raise UserError(f"{flag}: {shown!r} is not a regular file (a pipe or a socket): a write there "
                            "could wait forever")
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise UserError(f"{flag}: folder {str(parent)!r} does not exist; create it first, or write elsewhere")
        if not os.access(parent, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
            raise UserError(f"{flag}: {shown!r} is not writable by this user")
        if len(target.name.encode()) > os.pathconf(parent, "PC_NAME_MAX"):
            raise UserError(f"{flag}: {shown!r}: the file name is longer than this filesystem allows")
    except OSError as exc:
        raise UserError(f"{flag}: {shown!r}: {exc.strerror or exc}") from None
    return Target(flag, path)


def targets(pairs: list[tuple[str, str | None]]) -> list[Target]:
    """Checked targets for several flags; at most one may be standard output."""
    out = [t for flag, value in pairs if (t := target(flag, value)) is not None]
    to_stdout = [t.flag for t in out if t.to_stdout]
    if len(to_stdout) > 1:
        raise UserError(f"{' and '.join(to_stdout)}: only one report can go to standard output ('-')")
    seen: dict[Path, str] = {}
    for t in out:
        if t.path is None:
            continue
        where = t.path.resolve()
        if where in seen:
            raise UserError(f"{seen[where]} and {t.flag}: both would write {str(t.path)!r}; give each its own file")
        seen[where] = t.flag
    return out


def refuse_inputs(targets: list[Target], inputs: list[Path]) -> None:
    """A report may not overwrite a file the run reads (a case file)."""
    read = {p.resolve() for p in inputs}
    for t in targets:
        if t.path is not None and t.path.resolve() in read:
            raise UserError(f"{t.flag}: {str(t.path)!r} is a case file of this run; write the report elsewhere")
