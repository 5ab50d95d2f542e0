"""The local runner: each Go release's peer is a subprocess of the harness."""
from __future__ import annotations

from pathlib import Path

from .pool import PYTHON_PEER, PeerPool, python_peer_argv


def local_pool(binaries: dict[str, Path]) -> PeerPool:
    """A pool that starts the cached binary of each release directly, and tlspeer."""
    return PeerPool(lambda release: python_peer_argv() if release == PYTHON_PEER else [str(binaries[release])])
