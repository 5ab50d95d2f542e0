"""A damaged cache is repaired, never trusted: a truncated peer binary is rebuilt, and a
cached toolchain whose source tree lost a file is fetched again before it builds."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cache_holding

CASE = "resumption/tls13-same-server"


def tlsdiff(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env=env)


def test_a_truncated_peer_binary_is_rebuilt(edge_releases) -> None:
    newest = edge_releases.available[-1]
    binary = edge_releases.binaries[newest.name]
    data = binary.read_bytes()
    # What a full disk or a killed copy leaves, put in place by a rename: writing into the
    # file would fail (text file busy) while another tlsdiff on this cache runs that peer.
    damaged = binary.with_name(binary.name + ".damaged")
    damaged.write_bytes(data[: len(data) // 2])
    os.replace(damaged, binary)
    p = tlsdiff("run", CASE, "--go", newest.version, "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "building go-peer with Go" in p.stderr
    assert binary.stat().st_size == len(data)


@pytest.mark.network
def test_a_toolchain_that_lost_a_source_file_is_fetched_again(edge_releases, tmp_path: Path) -> None:
    oldest = edge_releases.available[0]  # Debian's: the smallest download
    cache = cache_holding(oldest, tmp_path)
    marker = json.loads((cache / "toolchains" / oldest.version / "tlsdiff-toolchain.json").read_text())
    goroot = cache / "toolchains" / oldest.version / marker["goroot"]
    victim = goroot / "src" / "crypto" / "tls" / "conn.go"
    victim.unlink()  # hard-linked: the user's cache keeps its copy
    env = dict(os.environ, TLSDIFF_CACHE=str(cache))
    p = tlsdiff("run", CASE, "--go", oldest.version, "-q", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"cached Go {oldest.version} changed since it was fetched" in p.stderr
    assert f"fetching Go {oldest.version}" in p.stderr
    assert victim.is_file()
