"""tlspeer's HPKE (RFC 9180 Appendix A.1.1) and ECH encodings (RFC 9849 §5.1): the
inner hello round trip, and each ech_outer_extensions rule decode_inner enforces."""
from __future__ import annotations

import pytest

from tlspeer import ech, hpke
from tlspeer import extensions as ext
from tlspeer import messages as M
from tlspeer.codec import uint, vec
from tlspeer.errors import DecodeError

# RFC 9180 A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
INFO = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")
SK_E = bytes.fromhex("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
PK_R = bytes.fromhex("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
SK_R = bytes.fromhex("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
ENC = bytes.fromhex("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
KEY = bytes.fromhex("4531685d41d65f03dc48f6b8302c05b0")
BASE_NONCE = bytes.fromhex("56d890e5accaaf011cff4b7d")
PT = bytes.fromhex("4265617574792069732074727574682c20747275746820626561757479")
CT = [  # sequence numbers 0 and 1, aad "Count-0" and "Count-1"
    bytes.fromhex("f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"),
    bytes.fromhex("af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84"),
]


def test_hpke_matches_rfc9180_a11() -> None:
    enc, sender = hpke.setup_sender(PK_R, INFO, lambda n: SK_E)
    assert enc == ENC and sender.key == KEY and sender.base_nonce == BASE_NONCE
    receiver = hpke.setup_receiver(enc, SK_R, INFO)
    for seq, ct in enumerate(CT):
        aad = f"Count-{seq}".encode()
        assert sender.seal(aad, PT) == ct
        assert receiver.open(aad, ct) == PT


def test_hpke_refuses_what_does_not_open() -> None:
    receiver = hpke.setup_receiver(ENC, SK_R, INFO)
    with pytest.raises(hpke.HpkeError):
        receiver.open(b"Count-1", CT[0])  # the right ciphertext under the wrong additional data


def _outer() -> bytes:
    hello = M.ClientHello(bytes(32), bytes(range(32)), [0x1301], [
        ext.ServerName.for_host("public.example.test"), ext.SupportedGroups([29]),
        ext.SignatureAlgorithms([0x0403]), ext.SupportedVersionsClient([M.TLS13]),
        ext.UnknownExtension(ech.EXT_ENCRYPTED_CLIENT_HELLO, b"\x00")])
    return hello.encode()[4:]


def _encoded(*extensions: tuple[int, bytes]) -> bytes:
    inner = M.ClientHello(bytes([7]) * 32, b"", [0x1301], []).encode()[4:]
    return ech.encode_inner(inner, [(ech.EXT_ENCRYPTED_CLIENT_HELLO, ech.INNER_EXTENSION_DATA), *extensions],
                            "example.test", 32)


def _refs(*types: int, trailing: bytes = b"") -> tuple[int, bytes]:
    return ech.EXT_ECH_OUTER_EXTENSIONS, vec(1, b"".join(uint(t, 2) for t in types)) + trailing


def test_inner_hello_is_rebuilt_from_the_outer_one() -> None:
    sni = ext.ServerName.for_host("example.test")
    encoded = _encoded((sni.ext_type, sni.encode_data()), _refs(ext.EXT_SUPPORTED_GROUPS, ext.EXT_SUPPORTED_VERSIONS))
    assert len(encoded) % 32 == 0
    inner = M.ClientHello.decode(ech.decode_inner(encoded, _outer()))
    assert inner.session_id == bytes(range(32))  # the outer hello's
    assert inner.extension_types() == [ech.EXT_ENCRYPTED_CLIENT_HELLO, ext.EXT_SERVER_NAME,
                                       ext.EXT_SUPPORTED_GROUPS, ext.EXT_SUPPORTED_VERSIONS]
    assert inner.find(ext.SupportedGroups).groups == [29]


@pytest.mark.parametrize("extensions, message", [
    ([_refs(ext.EXT_SUPPORTED_GROUPS, trailing=b"\x00")], "trailing"),
    ([_refs(ext.EXT_SUPPORTED_GROUPS), _refs(ext.EXT_SUPPORTED_VERSIONS)], "a second one"),
    ([_refs()], "length 0"),
    ([_refs(ech.EXT_ECH_OUTER_EXTENSIONS)], "names 0xfd00"),
    ([_refs(ech.EXT_ENCRYPTED_CLIENT_HELLO)], "names 0xfe0d"),
    ([_refs(ext.EXT_SUPPORTED_VERSIONS, ext.EXT_SUPPORTED_GROUPS)], "out of order"),
    ([_refs(ext.EXT_SUPPORTED_GROUPS, ext.EXT_SUPPORTED_GROUPS)], "out of order"),
])
def test_ech_outer_extensions_rules(extensions: list[tuple[int, bytes]], message: str) -> None:
    """RFC 9849 §5.1, as Go's decodeInnerClientHello enforces them from 1.27.2."""
    with pytest.raises(DecodeError, match=message):
        ech.decode_inner(_encoded(*extensions), _outer())


def test_padding_must_be_zeros() -> None:
    with pytest.raises(DecodeError, match="padding"):
        ech.decode_inner(_encoded()[:-1] + b"\x01", _outer())


def test_config_list_skips_other_versions() -> None:
    contents = (uint(5, 1) + uint(hpke.KEM_X25519_HKDF_SHA256, 2) + vec(2, bytes(32)) + vec(2, bytes.fromhex("00010001"))
                + uint(0, 1) + vec(1, b"public.example.test") + vec(2, b""))
    good, other = uint(ech.ECH_VERSION, 2) + vec(2, contents), uint(0xFE0C, 2) + vec(2, b"\x01\x02")
    (config,) = ech.parse_config_list(vec(2, other + good))
    assert (config.config_id, config.cipher_suites, config.public_name, config.raw) == (
        5, ((1, 1),), "public.example.test", good)


# ---------------------------------------------------------------- tlspeer's ECH client


def _first_flight(**mis: str) -> tuple[bytes, M.ClientHello]:
    """The ClientHello an ECH ClientEngine puts on the wire, and its inner hello as the
    engine keeps it for the transcript."""
    import itertools

    from tlsdiff import ech as named
    from tlspeer.client import ClientEngine
    from tlspeer.misbehave import Misbehaviour
    from tlspeer.record import parse_records
    from tlspeer_helpers import client_config

    counter = itertools.count()
    engine = ClientEngine(client_config(ech_config_list=named.config_list(["ech-a"]),
                                        misbehaviour=Misbehaviour(**mis)),
                          rand=lambda n: bytes([next(counter) % 256]) * n)
    engine.start()
    records, _ = parse_records(engine.data_to_send())
    return records[0].fragment[4:], engine._ch1


def _opened(body: bytes) -> bytes:
    from tlsdiff import ech as named
    k = named.key("ech-a")
    outer = ech.outer_ech(body)
    context = hpke.setup_receiver(outer.enc, k.private_key, b"tls ech\x00" + k.config, outer.kdf_id, outer.aead_id)
    return context.open(ech.outer_aad(body, outer.payload), outer.payload)


def test_the_ech_client_seals_its_inner_hello_in_the_outer_one() -> None:
    body, inner = _first_flight()
    outer = M.ClientHello.decode(body, raw_extensions=True)
    types = outer.extension_types()
    assert types[:2] == [ext.EXT_SERVER_NAME, ech.EXT_ENCRYPTED_CLIENT_HELLO]
    assert ext.EXT_PRE_SHARED_KEY not in types and outer.session_id == inner.session_id
    assert M.ClientHello.decode(body).find(ext.ServerName).host_name == "public.example.test"
    assert outer.random != inner.random
    assert ech.decode_inner(_opened(body), body) == inner.encode()[4:]  # what Go rebuilds and hashes
    assert inner.find(ext.SupportedVersionsClient).versions == [M.TLS13]  # ECH offers TLS 1.3 only


@pytest.mark.parametrize("variant, message", [
    ("trailing_byte", "trailing"), ("two_lists", "a second one"), ("two_lists_reordered", "a second one"),
    ("empty_list", "a second one"), ("self_reference", "names 0xfd00"), ("duplicate", "out of order"),
])
def test_each_outer_extensions_variant_breaks_one_rule(variant: str, message: str) -> None:
    """Go 1.27.2+ refuses each (cases/ech/pyclient-outer-extensions shows what 1.24-1.27.1
    do); decode_inner, which keeps RFC 9849's rules, names the rule."""
    body, _ = _first_flight(ech_outer_extensions=variant)
    with pytest.raises(DecodeError, match=message):
        ech.decode_inner(_opened(body), body)
