"""Provider "goroot": Go roots the user names (--goroot or TLSDIFF_GOROOT), used in place.

Each is asked for its exact release with `go version` once per process; a
machine with actions/setup-go can list several roots, separated by commas or
os.pathsep.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from tlsdiff.errors import UserError
from tlsdiff.toolchains.cache import FetchError, go_version_output, line_of, parse_go_version, version_key

NAME = "goroot"
ENV = "TLSDIFF_GOROOT"
FLAG = "--goroot"

_memo_lock = threading.Lock()
_memo: dict[tuple[str, int, int], str | None] = {}


def split_list(text: str) -> list[Path]:
    """"a,b" or "a:b" -> [Path(a), Path(b)]; blanks ignored."""
    parts = text.replace(os.pathsep, ",").split(",")
    return [Path(p.strip()).expanduser() for p in parts if p.strip()]


def user_goroots(explicit: list[Path] | None) -> tuple[list[Path], str]:
    """(roots, where they came from): the caller's list (the --goroot flag), else $TLSDIFF_GOROOT."""
    if explicit:
        return [Path(p).expanduser() for p in explicit], FLAG
    return split_list(os.environ.get(ENV, "")), ENV


def release_of(goroot: Path, source: str) -> str | None:
    """The release at goroot ("1.22.3"), None for a devel build; UserError if it is no Go root."""
    go = goroot / "bin" / "go"
    try:
        st = go.stat()
    except OSError:
        raise UserError(
            f"{source}: {str(goroot)!r} has no bin/go; expected a Go root (what `go env GOROOT` prints)"
        ) from None
    key = (str(goroot.resolve()), st.st_size, st.st_mtime_ns)
    with _memo_lock:
        if key not in _memo:
            try:
                _memo[key] = parse_go_version(go_version_output(goroot))
            except FetchError as exc:
                raise UserError(f"{source}: {str(goroot)!r} is not a working Go root ({exc})") from None
        return _memo[key]


def pick(goroots: list[Path], source: str, line: str, exact: str | None) -> tuple[Path, str] | str:
    """(goroot, release) of the newest named root that fits, else the reason none does."""
    if not goroots:
        return f"goroot none given ({FLAG} / {ENV})"
    seen = []
    fits = []
    for goroot in goroots:
        release = release_of(goroot, source)
        seen.append(f"go{release}" if release else "a devel build")
        if release and line_of(release) == line and (exact is None or version_key(release) == version_key(exact)):
            fits.append((goroot, release))
    if fits:
        return max(fits, key=lambda fit: version_key(fit[1]))
    return f"goroot has {', '.join(seen)} only"
