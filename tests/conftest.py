"""Shared fixtures: real Go peers of the oldest and newest releases tlsdiff can get."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.session import Releases, prepare_releases

#: The oldest and newest Go lines every machine here can fetch.
EDGE_RELEASES = "1.19,1.27"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def edge_releases() -> Releases:
    """Go 1.19 and 1.27, fetched and built into the user's tlsdiff cache (reused across runs)."""
    return prepare_releases(EDGE_RELEASES)


@pytest.fixture
def local_peers(edge_releases: Releases):
    from harness.peers.local import local_pool
    pool = local_pool(edge_releases.binaries)
    yield pool
    pool.close()
