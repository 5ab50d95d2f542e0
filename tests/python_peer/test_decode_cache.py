"""decode_connection with a shared DecodeCache gives what it gives without one.

The connections are the recorded observations of real Go and Python peers
(tests/data/raw): both sides of each connection, decoded in the order the harness
decodes them, through a cache small enough to evict.
"""
from __future__ import annotations

import base64
import json

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
