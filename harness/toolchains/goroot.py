"""Go roots the user names (--goroot, repeatable, or TLSDIFF_GOROOT): each is a column
of its own, used in place, named by what it is.

A root that prints a release (`go version go1.24.11 ...`) is named by that release,
unless tlsdiff's cache holds the stock toolchain of the same release with other
contents: then the name carries the root's digest (`1.24.11+a1b2c3`), so an edited
crypto/tls never passes for the stock one. A devel build (`go version devel
go1.28-7f3c1a2b ...`) is named from its version (`1.28-devel-7f3c1a2`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from tlsdiff.errors import UserError
from tlsdiff.toolchains import identity, lines
from tlsdiff.toolchains.cache import FetchError, go_version_output, line_of, lookup, parse_go_version

NAME = "goroot"
ENV = "TLSDIFF_GOROOT"
FLAG = "--goroot"
_DEVEL_RE = re.compile(r"^go version devel go(1\.\d+)-(\w+)")


def split_list(text: str) -> list[Path]:
    """"a,b" or "a:b" -> [Path(a), Path(b)]; blanks ignored."""
    parts = text.replace(os.pathsep, ",").split(",")
    return [Path(p.strip()).expanduser() for p in parts if p.strip()]


def user_goroots(explicit: list[Path] | None) -> tuple[list[Path], str]:
    """(roots, where they came from): the caller's list (the --goroot flag), else $TLSDIFF_GOROOT."""
    if explicit:
        return [Path(p).expanduser().absolute() for p in explicit], FLAG
    return [p.absolute() for p in split_list(os.environ.get(ENV, ""))], ENV


def go_version_of(goroot: Path, source: str) -> str:
    """The `go version` line of a Go root; UserError if it is none."""
    if not (goroot / "bin" / "go").is_file():
        raise UserError(f"{source}: {str(goroot)!r} has no bin/go; expected a Go root (what `go env GOROOT` prints)")
    try:
        return go_version_output(goroot)
    except FetchError as exc:
        raise UserError(f"{source}: {str(goroot)!r} is not a working Go root ({exc})") from None


def describe(goroot: Path, source: str, cache_root: Path | None) -> dict[str, str]:
    """version, line, name and digest of a Go root the user named."""
    output = go_version_of(goroot, source)
    digest = identity.digest(goroot, output)
    release = parse_go_version(output)
    if release is not None and lines.canonical(release) is not None:
        stock = lookup(cache_root, release)
        edited = stock is not None and stock.digest and stock.digest != digest
        name = f"{release}+{digest[:6]}" if edited else release
        return {"version": release, "line": line_of(release), "name": name, "digest": digest}
    m = _DEVEL_RE.match(output.strip())
    if m is None or lines.canonical(m.group(1)) is None:
        raise UserError(f"{source}: {str(goroot)!r} prints {output.strip()!r}; expected a Go 1.19 or newer release "
                        "or a devel build of one ('go version devel go1.28-<commit> ...')")
    name = f"{m.group(1)}-devel-{m.group(2)[:7]}"
    return {"version": name, "line": m.group(1), "name": name, "digest": digest}
