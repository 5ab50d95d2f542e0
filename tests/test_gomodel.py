"""The Python model of Go's session encoding against real Go: every mutation of a
real encoding must get the same verdict from the model and from ParseSessionState."""
from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tlsdiff import pki
import gomodel

EPOCH = int(pki.EPOCH.timestamp())


def _exported_state(peer, version: str) -> bytes:
    """A real client session of `version` (1.2 or 1.3), exported by the Go peer."""
    name = f"gomodel-{version}"
    ident = pki.identity("server")
    peer.call("configure", {"name": f"{name}-s", "role": "server", "config": {
        "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}],
        "ticket_keys": ["11" * 32], "max_version": version}})
    peer.call("configure", {"name": f"{name}-c", "role": "client", "config": {
        "server_name": pki.SERVER_NAME, "root_cas": [pki.root_pem("root-a")], "cache": f"{name}-cache",
        "max_version": version}})
    port = peer.call("listen", {"name": f"{name}-l", "endpoint": f"{name}-s"})["port"]
    accepted = peer.send("accept", {"listener": f"{name}-l", "conn_id": name, "time": EPOCH})
    peer.call("connect", {"endpoint": f"{name}-c", "port": port, "conn_id": name, "time": EPOCH})
    peer.wait(accepted, 10)
    out = peer.call("session", {"action": "export", "cache": f"{name}-cache", "key": pki.SERVER_NAME})
    return base64.b64decode(out["state"])


def _go_parse(peer, data: bytes) -> str | None:
    out = peer.call("session", {"action": "parse", "data": base64.b64encode(data).decode()})
    return out.get("error")


@pytest.fixture(scope="module")
def newest(edge_releases):
    from tlsdiff.peers.local import local_pool
    pool = local_pool(edge_releases.binaries)
    release = edge_releases.versions[-1]
    peer = pool.get(release)
    states = {v: _exported_state(peer, v) for v in ("1.2", "1.3")}
    yield release, peer, states
    pool.close()


def _certificate_bytes(data: bytes) -> set[int]:
    """Offsets of certificate DER inside an encoding: changes there fail in crypto/x509,
    whose many errors the model does not try to reproduce."""
    from cryptography.hazmat.primitives import serialization
    offsets: set[int] = set()
    for name in pki.SPECS:
        der = pki._cert(name).public_bytes(serialization.Encoding.DER)
        start = data.find(der)
        while start != -1:
            offsets.update(range(start - 3, start + len(der)))  # with its u24 length
            start = data.find(der, start + 1)
    return offsets


def _mutations(data: bytes) -> list[bytes]:
    out = [data[:n] for n in range(0, len(data), max(1, len(data) // 40))]  # truncations
    out += [data + b"\x00", data + b"\x00\x00\x00", data[:2] + b"\x03" + data[3:], data[:2] + b"\x00" + data[3:]]
    out += [data[:13] + b"\x00" + data[14:]]  # empty secret (the u8 length at offset 13)
    return out


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_model_agrees_with_go_on_mutations(newest, version: str) -> None:
    release, peer, states = newest
    for data in _mutations(states[version]):
        assert gomodel.parse(data, release).error == _go_parse(peer, data), data.hex()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_model_agrees_with_go_on_random_byte_changes(newest, data) -> None:
    release, peer, states = newest
    original = states[data.draw(st.sampled_from(["1.2", "1.3"]))]
    outside = sorted(set(range(len(original))) - _certificate_bytes(original))
    i = data.draw(st.sampled_from(outside))
    b = data.draw(st.integers(0, 255))
    mutated = original[:i] + bytes([b]) + original[i + 1:]
    model = gomodel.parse(mutated, release).error
    go = _go_parse(peer, mutated)
    assert model == go, (i, b)


def test_model_reads_a_real_encoding(newest) -> None:
    release, _, states = newest
    tls12 = gomodel.parse(states["1.2"], release)
    assert tls12.error is None
    assert tls12.fields["version"] == 0x0303 and tls12.fields["type"] == gomodel.CLIENT
    assert tls12.fields["curve_id"] == 29 and tls12.fields["trailing_bytes"] == 0
    assert gomodel.parse(states["1.2"], "1.24").error == gomodel.INVALID  # the trailing curve_id
    assert gomodel.describe(states["1.3"])["readable_by"] == "any 1.21+"
    assert gomodel.parse(states["1.3"], "1.19").error.startswith("unsupported")


def test_encrypt_and_decrypt_ticket_with_the_servers_keys(newest) -> None:
    """Config.EncryptTicket/DecryptTicket (1.21+) through the peer: the ticket a real
    handshake issued opens to a server-type session that the model reads; a ticket
    sealed again opens to the same session; one flipped bit opens to nothing."""
    release, peer, _ = newest
    name = "gomodel-1.3"  # the endpoints _exported_state made
    out = peer.call("session", {"action": "export", "cache": f"{name}-cache", "key": pki.SERVER_NAME})
    ticket = base64.b64decode(out["ticket"])
    opened = peer.call("session", {"action": "decrypt_ticket", "endpoint": f"{name}-s",
                                   "data": base64.b64encode(ticket).decode()})
    state = base64.b64decode(opened["bytes"])
    parsed = gomodel.parse(state, release)
    assert parsed.error is None and parsed.fields["type"] == gomodel.SERVER
    assert parsed.fields["version"] == 0x0304 and parsed.fields["trailing_bytes"] == 0
    sealed = peer.call("session", {"action": "encrypt_ticket", "endpoint": f"{name}-s",
                                   "data": base64.b64encode(state).decode()})
    resealed = base64.b64decode(sealed["ticket"])
    assert resealed != ticket  # a fresh IV
    again = peer.call("session", {"action": "decrypt_ticket", "endpoint": f"{name}-s",
                                  "data": sealed["ticket"]})
    assert base64.b64decode(again["bytes"]) == state
    broken = bytearray(ticket)
    broken[20] ^= 1
    nothing = peer.call("session", {"action": "decrypt_ticket", "endpoint": f"{name}-s",
                                    "data": base64.b64encode(bytes(broken)).decode()})
    assert nothing == {"bytes": None}
