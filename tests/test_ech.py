"""The ECH configurations of harness/ech.py: the RFC 9849 encoding Go parses, the
same bytes on every run, and retry config lists named back. That Go accepts them is
what the cases in cases/ech/ check on every release."""
from __future__ import annotations

import struct

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from tlsdiff import ech, pki


def _read(data: bytes, fmt: str) -> tuple[tuple[int, ...], bytes]:
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, data[:size]), data[size:]


def _u16_prefixed(data: bytes) -> tuple[bytes, bytes]:
    (n,), rest = _read(data, "!H")
    assert len(rest) >= n
    return rest[:n], rest[n:]


def test_each_config_is_an_ech_config_of_its_own_key() -> None:
    """ECHConfig as RFC 9849 §4 and Go's ech.go parseECHConfig read it."""
    for name, spec in ech.SPECS.items():
        k = ech.key(name)
        (version,), rest = _read(k.config, "!H")
        contents, rest = _u16_prefixed(rest)
        assert version == spec.version and rest == b""
        (config_id, kem), rest = _read(contents, "!BH")
        public, rest = _u16_prefixed(rest)
        suites, rest = _u16_prefixed(rest)
        (max_name, name_len), rest = _read(rest, "!BB")
        public_name, rest = rest[:name_len], rest[name_len:]
        extensions, rest = _u16_prefixed(rest)
        assert (config_id, kem, max_name) == (spec.config_id, 0x0020, 32) and k.config_id == spec.config_id
        assert suites == struct.pack("!HH", 0x0001, 0x0001)  # HKDF-SHA256, AES-128-GCM
        assert public_name.decode() == ech.PUBLIC_NAME and extensions == b"" and rest == b""
        private = x25519.X25519PrivateKey.from_private_bytes(k.private_key)
        assert public == private.public_key().public_bytes(serialization.Encoding.Raw,
                                                           serialization.PublicFormat.Raw)


def test_configs_are_the_same_bytes_every_time() -> None:
    made = {n: ech.key(n) for n in ech.NAMES}
    ech.key.cache_clear()
    assert {n: ech.key(n) for n in ech.NAMES} == made
    assert len({k.private_key for k in made.values()}) == len(made)


def test_a_config_list_is_named_back() -> None:
    assert ech.names_in_list(ech.config_list(["ech-b", "ech-a"])) == ["ech-b", "ech-a"]
    assert ech.names_in_list(ech.config_list([])) == []
    other = bytes.fromhex("fe0d0002abcd")
    assert ech.names_in_list(struct.pack("!H", len(other)) + other) == ["unknown fe0d0002abcd"]
    assert ech.names_in_list(b"\x00\x05\xfe\x0d") == ["malformed 0005fe0d"]
    assert ech.names_in_list(b"\x00\x03\xfe\x0d\x00") == ["malformed fe0d00"]


def test_the_ech_certificate_holds_the_public_name() -> None:
    """A client whose ECH is rejected verifies the server against the public name."""
    cert = x509.load_pem_x509_certificate(pki.identity("server-ech").chain_pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == [pki.SERVER_NAME, ech.PUBLIC_NAME]


def test_a_go_clients_inner_hello_opens_and_holds_the_psk(edge_releases) -> None:
    """On the newest line, a resuming ECH client's outer hello names the public name and
    offers no PSK; its inner hello, opened with ech-a's key, names the server and offers
    the session (what the resumption model reads, model_check.py)."""
    import base64

    import tlsdiff
    from tlspeer.handshake import decode_client_hello
    from tlspeer.wire import decode_connection

    newest = edge_releases.versions[-1]
    with tlsdiff.Run(go=newest) as run:
        (result,) = run.run(tlsdiff.load_cases(["ech/resumed"])).runs
    side = result.steps[1].client
    conn = decode_connection(base64.b64decode(side["written"]), base64.b64decode(side["read"]), side["keylog"])
    bodies = [m.body for m in conn.client_to_server.handshake_messages if m.name == "client_hello"]
    (outer,) = [decode_client_hello(b) for b in bodies]
    (inner,) = [decode_client_hello(b) for b in ech.inner_hellos(bodies) or []]
    assert (outer.server_name(), outer.pre_shared_key()) == (ech.PUBLIC_NAME, None)
    assert inner.server_name() == pki.SERVER_NAME and len(inner.pre_shared_key().identities) == 1
    assert ech.inner_hellos(bodies[:0]) is None
