"""`selfbench` (go-peer/PROTOCOL.md), the benchmark's floor, on real Go peers of the
oldest and newest line: each kind of connection `benchmarks/run.py` asks for is made
as asked, and a request Go alone cannot serve is refused in one line."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tlsdiff.peers.protocol import PeerError, PeerProcess

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run_py():
    sys.path.insert(0, str(BENCHMARKS))  # run.py imports its neighbour tables.py
    try:
        spec = importlib.util.spec_from_file_location("benchmark_run", BENCHMARKS / "run.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


bench = _run_py()


@pytest.fixture(params=("oldest", "newest"))
def peer(request, local_peers, edge_releases) -> PeerProcess:
    versions = edge_releases.versions
    return local_peers.get(versions[0] if request.param == "oldest" else versions[-1])


@pytest.mark.parametrize("kind", [
    bench.Kind("1.3", True, "TLS_AES_128_GCM_SHA256", "", "server", "root-a"),
    bench.Kind("1.3", False, "TLS_AES_128_GCM_SHA256", "P256", "server", "root-a", "client", "root-a"),
    bench.Kind("1.2", True, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "X25519", "server", "root-a"),
    bench.Kind("1.2", False, "TLS_RSA_WITH_AES_128_GCM_SHA256", "", "server-rsa", "root-a", "client-rsa", "root-a"),
    bench.Kind("1.2", False, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "", "server", ""),  # not verified
], ids=lambda k: k.label())
def test_each_kind_is_made_and_resumes_as_asked(peer, kind) -> None:
    result = peer.call("selfbench", bench.kind_params(kind, 3), timeout=60)
    assert result["count"] == 3
    assert result["resumed"] == (3 if kind.resumed else 0)
    assert result["seconds"] > 0


def test_a_server_without_a_certificate_is_refused(peer) -> None:
    params = bench.kind_params(bench.RESUMPTION, 1)
    del params["server"]["certificates"]
    with pytest.raises(PeerError, match=r"^selfbench: server\.certificates: "):
        peer.call("selfbench", params, timeout=60)


def test_a_kind_the_release_cannot_make_is_refused(local_peers, edge_releases) -> None:
    if edge_releases.versions[0].split(".")[:2] != ["1", "19"]:
        pytest.skip("the oldest release here is not 1.19, which lacks X25519MLKEM768")
    oldest = local_peers.get(edge_releases.versions[0])
    kind = bench.Kind("1.3", False, "TLS_AES_128_GCM_SHA256", "X25519MLKEM768", "server", "root-a")
    with pytest.raises(PeerError, match="unsupported curve"):
        oldest.call("selfbench", bench.kind_params(kind, 1), timeout=60)
