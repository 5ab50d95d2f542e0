"""Properties of the typed messages and extensions, with hypothesis:

* decode(encode(m)) == m for every message type and every extension shape;
* decoding is exact: whenever bytes decode, encoding the result gives them back;
* random and mutated bytes into every decoder raise DecodeError and nothing else;
* clone(m) == m, sharing no list or dataclass with m.
"""
from __future__ import annotations

from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlspeer import extensions as ext
from tlspeer import messages as M
from tlspeer.codec import Reader
from tlspeer.errors import DecodeError

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def opaque(lo: int = 0, hi: int = 40) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=lo, max_size=hi)


EXTENSIONS: dict[type, st.SearchStrategy[Any]] = {
    ext.ServerName: st.builds(ext.ServerName, st.lists(st.tuples(u8, opaque(1)), min_size=1, max_size=3)),
    ext.ServerNameAck: st.just(ext.ServerNameAck()),
    ext.SupportedGroups: st.builds(ext.SupportedGroups, st.lists(u16, min_size=1, max_size=8)),
    ext.SignatureAlgorithms: st.builds(ext.SignatureAlgorithms, st.lists(u16, min_size=1, max_size=8)),
    ext.SignatureAlgorithmsCert: st.builds(ext.SignatureAlgorithmsCert,
                                           st.lists(u16, min_size=1, max_size=8)),
    ext.ALPN: st.builds(ext.ALPN, st.lists(opaque(1, 10), min_size=1, max_size=4)),
    ext.SupportedVersionsClient: st.builds(ext.SupportedVersionsClient,
                                           st.lists(u16, min_size=1, max_size=6)),
    ext.SupportedVersionsServer: st.builds(ext.SupportedVersionsServer, u16),
    ext.KeyShareClient: st.builds(ext.KeyShareClient, st.lists(
        st.builds(ext.KeyShareEntry, u16, opaque(1, 70)), max_size=3)),
    ext.KeyShareServer: st.builds(ext.KeyShareServer, st.builds(ext.KeyShareEntry, u16, opaque(1, 70))),
    ext.KeyShareHelloRetry: st.builds(ext.KeyShareHelloRetry, u16),
    ext.PreSharedKeyClient: st.builds(
        ext.PreSharedKeyClient,
        st.lists(st.builds(ext.PskIdentity, opaque(1, 40), u32), min_size=1, max_size=3),
        st.lists(opaque(32, 48), min_size=1, max_size=3)),
    ext.PreSharedKeyServer: st.builds(ext.PreSharedKeyServer, u16),
    ext.PskKeyExchangeModes: st.builds(ext.PskKeyExchangeModes, st.lists(u8, min_size=1, max_size=3)),
    ext.EarlyData: st.just(ext.EarlyData()),
    ext.EarlyDataTicket: st.builds(ext.EarlyDataTicket, u32),
    ext.Cookie: st.builds(ext.Cookie, opaque(1)),
    ext.StatusRequest: st.builds(ext.StatusRequest, u8, opaque(), opaque()),
    ext.StatusRequestEmpty: st.just(ext.StatusRequestEmpty()),
    ext.CertificateStatus: st.builds(ext.CertificateStatus, u8, opaque(1)),
    ext.SCTRequest: st.just(ext.SCTRequest()),
    ext.SCTList: st.builds(ext.SCTList, st.lists(opaque(1), min_size=1, max_size=3)),
    ext.ExtendedMasterSecret: st.just(ext.ExtendedMasterSecret()),
    ext.SessionTicket: st.builds(ext.SessionTicket, opaque()),
    ext.RenegotiationInfo: st.builds(ext.RenegotiationInfo, opaque()),
    ext.EcPointFormats: st.builds(ext.EcPointFormats, st.lists(u8, min_size=1, max_size=4)),
}
assert {c for table in ext.CONTEXTS.values() for c in table.values()} == set(EXTENSIONS)


def extension_list(context: str, min_size: int = 0) -> st.SearchStrategy[list[ext.Extension]]:
    table = ext.CONTEXTS[context]
    typed = st.one_of([EXTENSIONS[c] for c in table.values()])
    # Unknown ones use types that have no class in this context, so they decode raw.
    unknown = st.builds(ext.UnknownExtension, u16.filter(lambda t: t not in table), opaque())
    return st.lists(st.one_of(typed, unknown), min_size=min_size, max_size=6)


def maybe_none(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


MESSAGES: dict[type, st.SearchStrategy[Any]] = {
    M.ClientHello: st.builds(
        M.ClientHello, opaque(32, 32), opaque(0, 32), st.lists(u16, min_size=1, max_size=6),
        maybe_none(extension_list(ext.CLIENT_HELLO)), u16, opaque(1, 4)),
    M.ServerHello: st.one_of(
        st.builds(M.ServerHello, opaque(32, 32).filter(lambda r: r != M.HRR_RANDOM), opaque(0, 32),
                  u16, maybe_none(extension_list(ext.SERVER_HELLO)), u16, u8),
        st.builds(M.ServerHello, st.just(M.HRR_RANDOM), opaque(0, 32), u16,
                  maybe_none(extension_list(ext.HELLO_RETRY_REQUEST)), u16, u8)),
    M.EncryptedExtensions: st.builds(M.EncryptedExtensions, extension_list(ext.ENCRYPTED_EXTENSIONS)),
    M.CertificateRequest: st.builds(M.CertificateRequest, opaque(0, 10),
                                    extension_list(ext.CERTIFICATE_REQUEST, min_size=1)),
    M.Certificate: st.builds(M.Certificate, opaque(0, 10), st.lists(st.builds(
        M.CertificateEntry, opaque(1, 60), extension_list(ext.CERTIFICATE_ENTRY)), max_size=3)),
    M.CertificateVerify: st.builds(M.CertificateVerify, u16, opaque(0, 80)),
    M.Finished: st.builds(M.Finished, opaque(0, 64)),
    M.NewSessionTicket: st.builds(M.NewSessionTicket, u32, u32, opaque(0, 8), opaque(1, 60),
                                  extension_list(ext.NEW_SESSION_TICKET)),
    M.NewSessionTicketTLS12: st.builds(M.NewSessionTicketTLS12, u32, opaque(0, 60)),
    M.KeyUpdate: st.builds(M.KeyUpdate, st.sampled_from([0, 1])),
    M.EndOfEarlyData: st.just(M.EndOfEarlyData()),
    M.MessageHash: st.builds(M.MessageHash, opaque(32, 48)),
}
assert set(M.TLS13_MESSAGES.values()) <= set(MESSAGES)

any_message = st.one_of(list(MESSAGES.values()))
any_extension = st.one_of(list(EXTENSIONS.values()))
DECODERS: list[tuple[str, Callable[[bytes], Any]]] = (
    [(c.__name__, c.decode) for c in MESSAGES]
    + [(c.__name__, c.decode_data) for c in EXTENSIONS]
    + [(f"extensions:{ctx}", lambda b, ctx=ctx: ext.read_extensions(Reader(b), ctx))
       for ctx in ext.CONTEXTS]
    + [("ClientHello(raw)", lambda b: M.ClientHello.decode(b, raw_extensions=True))])

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(any_message)
def test_message_round_trip(msg: M.Message) -> None:
    encoded = msg.encode()
    assert encoded[0] == msg.msg_type and int.from_bytes(encoded[1:4], "big") == len(encoded) - 4
    assert type(msg).decode(encoded[4:]) == msg


@SETTINGS
@given(any_extension)
def test_extension_round_trip(e: ext.Extension) -> None:
    assert type(e).decode_data(e.encode_data()) == e
    r = Reader(ext.write_extensions([e]))
    table = next(ctx for ctx, t in ext.CONTEXTS.items() if t.get(e.ext_type) is type(e))
    assert ext.read_extensions(r, table) == [e]


@SETTINGS
@given(MESSAGES[M.ClientHello])
def test_binders_offset_is_where_the_binders_start(ch: M.ClientHello) -> None:
    offset = ch.binders_offset()
    psk = ch.find(ext.PreSharedKeyClient) if ch.has(ext.EXT_PRE_SHARED_KEY) else None
    if psk is None:
        assert offset is None
        return
    encoded = ch.encode()
    binders = psk.encode_binders()
    assert encoded[offset:offset + len(binders)] == binders


@SETTINGS
@given(MESSAGES[M.ClientHello])
def test_encoding_with_binders_offset_is_the_encoding(ch: M.ClientHello) -> None:
    assert ch.encode_with_binders_offset() == (ch.encode(), ch.binders_offset())


def _only_decode_error(decode: Callable[[bytes], Any], data: bytes) -> Any:
    try:
        return decode(data)
    except DecodeError:
        return None


@SETTINGS
@given(st.sampled_from(DECODERS), st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(named: tuple[str, Callable], data: bytes) -> None:
    _only_decode_error(named[1], data)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[type, bytes]:
    msg = draw(any_message)
    body = bytearray(msg.encode()[4:])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if kind == "flip" and body:
            i = draw(st.integers(0, len(body) - 1))
            body[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del body[draw(st.integers(0, len(body))):]
        elif kind == "insert":
            i = draw(st.integers(0, len(body)))
            body[i:i] = draw(st.binary(min_size=1, max_size=3))
        elif body:
            i = draw(st.integers(0, len(body) - 1))
            del body[i:i + draw(st.integers(1, 3))]
    return type(msg), bytes(body)


@SETTINGS
@given(mutated())
def test_mutated_bytes_raise_only_decode_error_and_decoding_is_exact(case: tuple[type, bytes]) -> None:
    cls, body = case
    value = _only_decode_error(cls.decode, body)
    if value is not None:
        assert value.encode()[4:] == body


def _containers(value: Any) -> list[Any]:
    """Every list and dataclass instance inside value (bytes and numbers cannot change)."""
    out: list[Any] = []
    if isinstance(value, list):
        out.append(value)
        for v in value:
            out += _containers(v)
    elif hasattr(value, "__dataclass_fields__"):
        out.append(value)
        for name in value.__dataclass_fields__:
            out += _containers(getattr(value, name))
    return out


@SETTINGS
@given(any_message)
def test_clone_is_equal_and_shares_nothing_that_can_change(msg: M.Message) -> None:
    copy = M.clone(msg)
    assert copy == msg and copy.encode() == msg.encode()
    originals = {id(c) for c in _containers(msg)}
    assert not any(id(c) in originals for c in _containers(copy))
