"""`batch` and `pair` (go-peer/PROTOCOL.md): several requests in one round trip, each
answered as it would be alone, on real Go peers of the oldest and newest line and on
tlspeer."""
from __future__ import annotations

import time

import pytest

from tlsdiff import pki
from tlsdiff.peers.pool import PYTHON_PEER
from tlsdiff.peers.protocol import PeerError, PeerProcess

PEERS = ("oldest", "newest", PYTHON_PEER)


@pytest.fixture(params=PEERS)
def peer(request, local_peers, edge_releases) -> PeerProcess:
    release = {"oldest": edge_releases.versions[0], "newest": edge_releases.versions[-1]}.get(request.param,
                                                                                           request.param)
    return local_peers.get(release)


def _server(name: str) -> tuple[str, dict]:
    ident = pki.identity("server")
    return ("configure", {"name": name, "role": "server", "config": {
        "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}], "rand_seed": name}})


def _client(name: str) -> tuple[str, dict]:
    return ("configure", {"name": name, "role": "client", "config": {
        "root_cas": [pki.root_pem("root-a")], "server_name": pki.SERVER_NAME, "rand_seed": name}})


def test_the_hello_lists_batch_and_pair(peer) -> None:
    assert {"batch", "pair", "configure", "drop"} <= set(peer.hello["ops"])


def test_a_batch_answers_each_request_as_alone_in_order(peer) -> None:
    bad = ("configure", {"name": "batch#bad", "role": "neither", "config": {}})
    ok, failed, nested = peer.send_batch([_server("batch#s"), bad, ("batch", {"requests": []})])
    assert peer.wait(ok, 10) == {"name": "batch#s"}
    with pytest.raises(PeerError, match=r"^configure: .*(role|neither)"):
        peer.wait(failed, 10)
    with pytest.raises(PeerError, match="cannot be batched"):
        peer.wait(nested, 10)
    peer.call("drop", {"prefix": "batch#"})


def test_a_pair_is_a_connection_between_two_endpoints_of_the_peer(peer) -> None:
    for f in peer.send_batch([_server("pair#s"), _client("pair#c")]):
        peer.wait(f, 10)
    common = {"conn_id": "pair", "time": int(pki.EPOCH.timestamp()), "timeout_ms": 5000}
    listened, accepted, connected = peer.send_pair({"name": "pair#l", "endpoint": "pair#s"},
                                                   {"listener": "pair#l", **common},
                                                   {"endpoint": "pair#c", **common})
    assert peer.wait(listened, 10)["port"] > 0
    server, client = peer.wait(accepted, 10), peer.wait(connected, 10)
    assert server["handshake_error"] is None and client["handshake_error"] is None
    assert client["received"] == "tlsdiff-pong" and server["received"] == "tlsdiff-ping"
    assert client["remote_port"] == server["local_port"]
    peer.call("drop", {"prefix": "pair#"})


def test_a_pair_whose_listen_fails_runs_neither_half(peer) -> None:
    common = {"conn_id": "pair", "time": int(pki.EPOCH.timestamp()), "timeout_ms": 2000}
    futures = peer.send_pair({"name": "nopair#l", "endpoint": "nopair#missing"},
                             {"listener": "nopair#l", **common}, {"endpoint": "nopair#c", **common})
    for f in futures:
        with pytest.raises(PeerError, match=r"^listen: .*nopair#missing"):
            peer.wait(f, 10)


def test_a_batch_that_waits_holds_up_no_other_request(peer) -> None:
    """tlspeerd answers quick requests on the thread that reads them; a batch holding an
    accept must still go where waiting is allowed, or every later request waits with it."""
    for f in peer.send_batch([_server("wait#s"), ("listen", {"name": "wait#l", "endpoint": "wait#s"})]):
        peer.wait(f, 10)
    common = {"conn_id": "wait", "time": int(pki.EPOCH.timestamp()), "timeout_ms": 1500}
    # A batch of two (one request goes alone); nobody connects, so the accept waits 1.5 s.
    _, waiting = peer.send_batch([("drop", {"prefix": "wait#none"}), ("accept", {"listener": "wait#l", **common})])
    started = time.monotonic()
    assert peer.call("configure", _client("wait#c")[1], timeout=1.0) == {"name": "wait#c"}
    assert time.monotonic() - started < 1.0
    assert not waiting.done()
    with pytest.raises(PeerError, match="accept"):
        peer.wait(waiting, 10)
    peer.call("drop", {"prefix": "wait#"})


def test_ended_runs_are_dropped_together(peer) -> None:
    prefixes = [f"drop{i}#" for i in range(peer.DROP_BATCH)]
    for f in peer.send_batch([_server(p + "s") for p in prefixes]):
        peer.wait(f, 10)
    for p in prefixes[:-1]:
        peer.drop_later(p)
    # Not yet sent: the endpoints are still there.
    assert peer.call("listen", {"name": "drop0#l", "endpoint": "drop0#s"})["port"] > 0
    peer.drop_later(prefixes[-1])  # the batch goes; the peer runs it beside later requests
    deadline = time.monotonic() + 10
    while True:
        try:
            peer.call("drop", {"prefix": "drop0#l"})  # the listener of the check above
            peer.call("listen", {"name": "drop1#l2", "endpoint": "drop1#s"})
        except PeerError as exc:
            assert "drop1#s" in str(exc)
            break
        assert time.monotonic() < deadline, "the batched drops did not happen"
        time.sleep(0.05)


def test_a_drop_forgets_exactly_the_names_that_begin_with_its_prefix(peer) -> None:
    """Endpoints and listeners alike; a name that only shares the start of the prefix, or
    sorts just before or after the names it matches, stays."""
    root = "exact-drop/"  # no other test's names begin with it: the peers serve the whole session
    names = [root + n for n in ("x#1", "x#10", "x#1#s", "x#1\u00e9", "x#2", "x#", "x", "x#0", "w#1", "y#1", "x#1~")]
    for f in peer.send_batch([_server(n) for n in names]):
        peer.wait(f, 10)
    peer.call("listen", {"name": root + "x#1 listener", "endpoint": root + "x#2"})
    assert peer.call("drop", {"prefix": root + "x#1"}) == {"dropped": 6}  # five endpoints and the listener
    for n in names:
        try:
            peer.call("listen", {"name": f"{n} kept", "endpoint": n})
            kept = True
        except PeerError:
            kept = False
        assert kept == (not n.startswith(root + "x#1")), n
    assert peer.call("drop", {"prefix": root}) == {"dropped": 2 * 6}


def test_flushing_drops_leaves_the_peer_at_rest(peer, local_peers) -> None:
    for f in peer.send_batch([_server("flush#s"), ("listen", {"name": "flush#l", "endpoint": "flush#s"})]):
        peer.wait(f, 10)
    peer.drop_later("flush#")
    local_peers.flush_drops()  # sent and awaited: no polling
    with pytest.raises(PeerError, match="flush#s"):
        peer.call("listen", {"name": "flush#l2", "endpoint": "flush#s"})


def test_a_reply_wakes_every_waiter_and_its_first_outcome_stands(peer) -> None:
    """Replies are tlsdiff's own one-shot futures (protocol.Reply): several threads may
    wait on one, a callback added late runs at once, and a peer failing after the
    reply came does not overwrite it."""
    import threading

    reply = peer.send("hello", {})
    got: list[dict] = []
    waiters = [threading.Thread(target=lambda: got.append(peer.wait(reply, 10))) for _ in range(4)]
    for t in waiters:
        t.start()
    for t in waiters:
        t.join(15)
    assert len(got) == 4 and all(g["protocol"] == 2 for g in got)
    reply.set_exception(RuntimeError("late"))  # as _fail_pending would, after the fact
    assert reply.result(0) is got[0]
    seen: list = []
    reply.add_done_callback(seen.append)
    assert seen == [reply]
