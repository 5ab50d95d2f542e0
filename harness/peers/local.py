"""The local runner: each Go release's peer is a subprocess of the harness."""
from __future__ import annotations

from pathlib import Path

from .pool import PeerPool


def local_pool(binaries: dict[str, Path]) -> PeerPool:
    """A pool that starts the cached binary of each release directly."""
    return PeerPool(lambda release: [str(binaries[release])])
