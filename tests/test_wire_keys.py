"""Connections whose ends logged no key for them are still read from the wire.

A resumed TLS 1.2 connection reuses the master secret of the connection that made the
session, and Go writes no key log line for it (writeKeyLog is only in doFullHandshake):
between two Go peers neither end logs one. Until the normalizer tried the run's earlier
master secrets, such a connection's Finished messages and close_notify alerts were
reported as not there, and an alert sent after its handshake would have been too."""
from __future__ import annotations

from conftest import EDGE_RELEASES

CASE = "resumption/tls12-same-server"


def test_a_resumed_tls12_connection_between_go_peers_shows_its_alerts(edge_releases) -> None:
    import tlsdiff
    with tlsdiff.Run(EDGE_RELEASES) as run:
        (result,) = run.run(tlsdiff.load_cases([CASE])).results
    for key, doc in result.docs.items():
        resumed = doc["steps"][1]
        for side in ("client", "server"):
            assert resumed[side]["state"]["DidResume"] is True, key
            assert resumed[side]["transcript"]["undecrypted_records"] == 0, (key, side)
        close = {"bytes": "0100", "encrypted": True, "level": "warning", "name": "close_notify"}
        assert resumed["client"]["alerts"]["sent"] == [close], key
        assert resumed["server"]["alerts"]["received"] == [close] and resumed["server"]["alerts"]["sent"] == [close], key
        sent = [m["type"] for m in resumed["server"]["transcript"]["sent"]]
        assert sent[-1] == "finished", (key, sent)
