"""Where tlsdiff keeps its caches, and where its own data is: the go-peer sources
and the default cases.

In a checkout they are the repository's go-peer/ and cases/; an installed wheel
carries them inside the package (tlsdiff/go_peer, tlsdiff/cases: pyproject.toml
maps them there), so `tlsdiff run` works from any directory.
"""
from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data(installed: str, checkout: str) -> Path:
    inside = _PACKAGE / installed
    return inside if inside.is_dir() else _PACKAGE.parent / checkout


GO_PEER_DIR = _data("go_peer", "go-peer")
CASES_DIR = _data("cases", "cases")


def check_cache() -> None:
    """UserError unless the cache folder is a folder this user can write (or can create)."""
    from .errors import UserError
    root = cache_dir()
    where = "TLSDIFF_CACHE" if os.environ.get("TLSDIFF_CACHE") else "the cache folder"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{where}: {str(root)!r} cannot be a cache folder: {exc.strerror or exc}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise UserError(f"{where}: {str(root)!r} is not writable by this user")


def cache_dir() -> Path:
    """The cache root: $TLSDIFF_CACHE, else $XDG_CACHE_HOME/tlsdiff, else ~/.cache/tlsdiff."""
    explicit = os.environ.get("TLSDIFF_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tlsdiff"
