"""Where tlsdiff keeps its caches and where the repository's own files are."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GO_PEER_DIR = REPO_ROOT / "go-peer"
CASES_DIR = REPO_ROOT / "cases"


def cache_dir() -> Path:
    """The cache root: $TLSDIFF_CACHE, else $XDG_CACHE_HOME/tlsdiff, else ~/.cache/tlsdiff."""
    explicit = os.environ.get("TLSDIFF_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tlsdiff"
