"""Shared fixtures: real Go peers of the oldest and newest releases tlsdiff can get."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tlsdiff.session import Releases, prepare_releases

#: The oldest and newest Go lines every machine here can fetch.
EDGE_RELEASES = "1.19,1.27"
REPO = Path(__file__).resolve().parent.parent
#: RFC 8448 traces: shared/ sits beside the repository checkout.
VECTORS = REPO.parent / "shared" / "vectors" / "tls13-traces.txt"


def pytest_sessionstart(session: pytest.Session) -> None:
    # Locally the RFC 8448 tests skip without the vectors; in CI that would hide them.
    if os.environ.get("CI") and not VECTORS.is_file():
        raise pytest.UsageError(f"CI: the RFC 8448 vectors are missing (expected {VECTORS.relative_to(REPO.parent)} beside the checkout)")


@pytest.fixture(scope="session")
def edge_releases() -> Releases:
    """Go 1.19 and 1.27, fetched and built into the user's tlsdiff cache (reused across runs)."""
    return prepare_releases(EDGE_RELEASES)


@pytest.fixture
def local_peers(edge_releases: Releases):
    from tlsdiff.peers.local import local_pool
    pool = local_pool(edge_releases.binaries)
    yield pool
    pool.close()
