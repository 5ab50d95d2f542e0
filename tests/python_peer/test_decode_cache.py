"""decode_connection with a shared DecodeCache gives what it gives without one.

The connections are the recorded observations of real Go and Python peers
(tests/data/raw): both sides of each connection, decoded in the order the harness
decodes them, through a cache small enough to evict.
"""
from __future__ import annotations

import base64
import json
import sys
import threading

from data.record import RAW
from tlspeer.wire import DecodeCache, decode_connection


def _sides() -> list[tuple[bytes, bytes, str]]:
    out = []
    for path in sorted(RAW.glob("*.json")):
        for step in json.loads(path.read_text())["steps"]:
            for side in (step.get("client"), step.get("server")):
                if side and side.get("written") is not None:
                    written, read = base64.b64decode(side["written"]), base64.b64decode(side["read"] or "")
                    c2s, s2c = (written, read) if side["role"] == "client" else (read, written)
                    out.append((c2s, s2c, side.get("keylog") or ""))
    return out


def test_a_shared_cache_changes_no_result_and_stays_bounded() -> None:
    sides = _sides()
    assert len(sides) > 50
    for size in (4, 4096):
        cache = DecodeCache(size=size)
        for c2s, s2c, keylog in sides:
            assert decode_connection(c2s, s2c, keylog, cache).to_json() == decode_connection(c2s, s2c, keylog).to_json()
            assert len(cache._entries) <= size
        # The two sides of a connection record the same client-to-server bytes.
        assert cache.hits > (len(sides) if size > 4 else 0)


def test_a_cached_direction_is_not_reused_under_other_keys() -> None:
    # The same bytes with no key log decode to undecrypted records, whatever was decoded before.
    c2s, s2c, keylog = next(s for s in _sides() if s[2] and s[1])
    cache = DecodeCache()
    with_keys = decode_connection(c2s, s2c, keylog, cache)
    without = decode_connection(c2s, s2c, "", cache)
    assert without.to_json() == decode_connection(c2s, s2c, "").to_json()
    assert with_keys.server_to_client.undecrypted_records == 0
    assert without.server_to_client.undecrypted_records > 0


def _steps() -> list[tuple[tuple[bytes, bytes, str], tuple[bytes, bytes, str]]]:
    """(server side, client side) of every recorded connection both peers saw."""
    out = []
    for path in sorted(RAW.glob("*.json")):
        for step in json.loads(path.read_text())["steps"]:
            c, s = step.get("client"), step.get("server")
            if c and s and c.get("written") is not None and s.get("written") is not None:
                out.append(((base64.b64decode(s["read"] or ""), base64.b64decode(s["written"]), s.get("keylog") or ""),
                            (base64.b64decode(c["written"]), base64.b64decode(c["read"] or ""), c.get("keylog") or "")))
    return out


def test_a_side_that_read_less_is_cut_from_the_side_that_wrote_more() -> None:
    cache = DecodeCache()
    for server, client in _steps():
        for c2s, s2c, keylog in (server, client):  # the server first, as the harness decodes them
            assert decode_connection(c2s, s2c, keylog, cache).to_json() == decode_connection(c2s, s2c, keylog).to_json()
    assert cache.prefixes > 10


def test_every_record_boundary_of_a_stream_cuts_to_what_decoding_that_much_gives() -> None:
    server, _ = max(_steps(), key=lambda sides: len(sides[0][1]))  # the longest server-to-client stream
    c2s, s2c, keylog = server
    full = decode_connection(c2s, s2c, keylog)
    ends = [r.offset + 5 + r.length for r in full.server_to_client.records]
    assert len(ends) > 3
    for n in ends[:-1] + [ends[0] + 1, ends[1] - 1]:  # boundaries, and two cuts inside a record
        cache = DecodeCache()
        decode_connection(c2s, s2c, keylog, cache)
        cut = decode_connection(c2s, s2c[:n], keylog, cache)
        assert cut.to_json() == decode_connection(c2s, s2c[:n], keylog).to_json()
        assert cache.prefixes == (1 if n in ends else 0)


def test_threads_decoding_through_one_cache_at_once_get_what_each_gets_alone() -> None:
    # A fuzz campaign normalizes several batches' runs in as many threads at once; the cache's
    # tables once changed under a thread that was reading them ("deque mutated during
    # iteration").
    steps = _steps()
    expected = {id(side): decode_connection(*side).to_json() for pair in steps for side in pair}
    cache = DecodeCache(size=16)  # small: entries come and go while the threads read
    failures: list[BaseException] = []

    def decode(order: list) -> None:
        try:
            for _ in range(3):
                for server, client in order:
                    for side in (server, client):
                        assert decode_connection(*side, cache).to_json() == expected[id(side)]
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
    threads = [threading.Thread(target=decode, args=(steps[i::2] + steps[1 - i::2],)) for i in (0, 1)]
    threads += [threading.Thread(target=decode, args=(list(reversed(steps)),))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns every few instructions, not every 5 ms
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures[0]
    assert cache.prefixes > 0 and cache.hits > 0
