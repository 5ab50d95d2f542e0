"""Encrypted Client Hello (RFC 9849) encodings: ECHConfigList, the encrypted_client_hello
extension, EncodedClientHelloInner with ech_outer_extensions, and the acceptance
confirmation. HPKE itself is hpke.py.

A client seals EncodedClientHelloInner to a config's key with info "tls ech" || 0 ||
ECHConfig and, as additional data, the ClientHelloOuter whose payload is all zeros
(`outer_aad`). A server (or anyone holding the key) opens it and rebuilds the inner
hello from it and the outer one (`decode_inner`), with the rules of RFC 9849 §5.1:
one ech_outer_extensions at most, naming outer extensions in their outer order,
never encrypted_client_hello or itself.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Sequence

from .codec import Reader, uint, vec
from .errors import DecodeError
from .keyschedule import hkdf_expand_label, hkdf_extract

EXT_ENCRYPTED_CLIENT_HELLO = 0xFE0D
EXT_ECH_OUTER_EXTENSIONS = 0xFD00
ECH_VERSION = 0xFE0D
OUTER = 0
INNER = 1
#: The inner hello's encrypted_client_hello extension body: type inner, nothing else.
INNER_EXTENSION_DATA = bytes([INNER])
CONFIRMATION_LEN = 8


@dataclass(frozen=True)
class ECHConfig:
    """One ECHConfig of version 0xfe0d (RFC 9849 §4)."""

    raw: bytes  # the whole ECHConfig: what the HPKE info binds
    config_id: int
    kem_id: int
    public_key: bytes
    cipher_suites: tuple[tuple[int, int], ...]  # (kdf_id, aead_id)
    max_name_length: int
    public_name: str
    extensions: bytes

    @property
    def info(self) -> bytes:
        return b"tls ech\x00" + self.raw


def parse_config_list(data: bytes) -> list[ECHConfig]:
    """The configs of an ECHConfigList; those of another version are skipped, as Go's
    parseECHConfigList and RFC 9849 §4 do."""
    r = Reader(data, "ECHConfigList")
    body = r.sub(2, "configs")
    r.end()
    out = []
    while not body.empty():
        version = body.u16("version")
        contents = body.vector(2, "contents")
        if version != ECH_VERSION:
            continue
        out.append(_parse_contents(uint(version, 2) + vec(2, contents), contents))
    return out


def _parse_contents(raw: bytes, contents: bytes) -> ECHConfig:
    r = Reader(contents, "ECHConfig")
    config_id, kem_id = r.u8("config_id"), r.u16("kem_id")
    public_key = r.vector(2, "public_key", min_len=1)
    suites = r.u16_list(2, "cipher_suites", min_len=4)
    if len(suites) % 2:
        raise DecodeError("ECHConfig: cipher_suites is not a list of (kdf_id, aead_id)")
    max_name_length = r.u8("maximum_name_length")
    public_name = r.vector(1, "public_name", min_len=1).decode("ascii", errors="replace")
    extensions = r.vector(2, "extensions")
    r.end()
    pairs = tuple(zip(suites[::2], suites[1::2]))
    return ECHConfig(raw, config_id, kem_id, public_key, pairs, max_name_length, public_name, extensions)


@dataclass(frozen=True)
class OuterECH:
    """The encrypted_client_hello extension of a ClientHelloOuter."""

    kdf_id: int
    aead_id: int
    config_id: int
    enc: bytes  # empty in the second ClientHello after a HelloRetryRequest
    payload: bytes

    def encode_data(self) -> bytes:
        return (uint(OUTER, 1) + uint(self.kdf_id, 2) + uint(self.aead_id, 2) + uint(self.config_id, 1)
                + vec(2, self.enc) + vec(2, self.payload))

    @classmethod
    def decode_data(cls, data: bytes) -> "OuterECH | None":
        """The outer extension, or None for an inner one; DecodeError otherwise."""
        r = Reader(data, "encrypted_client_hello")
        kind = r.u8("type")
        if kind == INNER:
            r.end()
            return None
        if kind != OUTER:
            raise DecodeError(f"encrypted_client_hello: unknown type {kind}")
        out = cls(r.u16("kdf_id"), r.u16("aead_id"), r.u8("config_id"), r.vector(2, "enc"),
                  r.vector(2, "payload", min_len=1))
        r.end()
        return out


def _split_hello(body: bytes) -> tuple[bytes, bytes, list[tuple[int, bytes]]]:
    """A ClientHello body as (legacy_version and random, the rest of the head, the
    extensions as (type, data) in order); the head keeps its own encoding."""
    r = Reader(body, "ClientHello")
    version_random = r.read(34, "version and random")
    start = r.position
    r.vector(1, "legacy_session_id")
    r.vector(2, "cipher_suites")
    r.vector(1, "legacy_compression_methods")
    head = body[start:r.position]
    exts = r.sub(2, "extensions")
    r.end()
    out = []
    while not exts.empty():
        out.append((exts.u16("extension type"), exts.vector(2, "extension data")))
    return version_random, head, out


def outer_ech(body: bytes) -> OuterECH | None:
    """The outer encrypted_client_hello extension of a ClientHello body, if it has one."""
    for ext_type, data in _split_hello(body)[2]:
        if ext_type == EXT_ENCRYPTED_CLIENT_HELLO:
            return OuterECH.decode_data(data)
    return None


def outer_aad(body: bytes, payload: bytes) -> bytes:
    """ClientHelloOuterAAD: the outer hello's body with the payload replaced by zeros
    (Go's decryptECHPayload replaces its first occurrence)."""
    at = body.find(payload)
    if at < 0:
        raise DecodeError("encrypted_client_hello: the payload is not in the hello")
    return body[:at] + bytes(len(payload)) + body[at + len(payload):]


def encode_inner(inner_body: bytes, extensions: Sequence[tuple[int, bytes]], server_name: str | None,
                 max_name_length: int) -> bytes:
    """EncodedClientHelloInner (RFC 9849 §5.1): the inner hello's head with an empty
    legacy_session_id, then `extensions` exactly as given (the caller puts
    ech_outer_extensions where it wants it), then the zero padding of §6.1.3."""
    version_random, head, _ = _split_hello(inner_body)
    r = Reader(head, "ClientHello")
    r.vector(1, "legacy_session_id")
    rest = head[r.position:]
    encoded = version_random + vec(1, b"") + rest + vec(2, b"".join(uint(t, 2) + vec(2, d) for t, d in extensions))
    pad = max(0, max_name_length - len(server_name)) if server_name else max_name_length + 9
    pad += 31 - ((len(encoded) + pad - 1) % 32)
    return encoded + bytes(pad)


def decode_inner(encoded: bytes, outer_body: bytes) -> bytes:
    """The ClientHelloInner body rebuilt from EncodedClientHelloInner and the outer
    hello, by RFC 9849 §5.1; DecodeError for an encoding the RFC forbids."""
    r = Reader(encoded, "EncodedClientHelloInner")
    version_random = r.read(34, "version and random")
    if r.vector(1, "legacy_session_id"):
        raise DecodeError("EncodedClientHelloInner: legacy_session_id is not empty")
    suites = r.vector(2, "cipher_suites")
    compression = r.vector(1, "legacy_compression_methods")
    exts = r.sub(2, "extensions")
    if any(r.read(r.remaining(), "padding")):
        raise DecodeError("EncodedClientHelloInner: padding is not all zeros")
    _, outer_head, outer_exts = _split_hello(outer_body)
    session_id = Reader(outer_head, "ClientHello").vector(1, "legacy_session_id")
    rebuilt: list[tuple[int, bytes]] = []
    seen_outer_extensions = False
    while not exts.empty():
        ext_type, data = exts.u16("extension type"), exts.vector(2, "extension data")
        if ext_type != EXT_ECH_OUTER_EXTENSIONS:
            rebuilt.append((ext_type, data))
            continue
        if seen_outer_extensions:
            raise DecodeError("ech_outer_extensions: a second one")
        seen_outer_extensions = True
        refs = Reader(data, "ech_outer_extensions")
        wanted = refs.u16_list(1, "extension types", min_len=2)
        refs.end()
        i = 0
        for ref in wanted:
            if ref in (EXT_ENCRYPTED_CLIENT_HELLO, EXT_ECH_OUTER_EXTENSIONS):
                raise DecodeError(f"ech_outer_extensions: names 0x{ref:04x}")
            while i < len(outer_exts) and outer_exts[i][0] != ref:
                i += 1
            if i == len(outer_exts):
                raise DecodeError(f"ech_outer_extensions: 0x{ref:04x} is not in the outer hello, or out of order")
            rebuilt.append(outer_exts[i])
            i += 1
    types = [t for t, _ in rebuilt]
    if len(types) != len(set(types)):
        raise DecodeError("ClientHelloInner: an extension appears twice")
    return (version_random + vec(1, session_id) + vec(2, suites) + vec(1, compression)
            + vec(2, b"".join(uint(t, 2) + vec(2, d) for t, d in rebuilt)))


def accept_confirmation(hash_name: str, inner_random: bytes, transcript_digest: bytes,
                        after_hrr_request: bool = False) -> bytes:
    """The 8 bytes a server that accepted ECH puts in ServerHello.random (or, with
    `after_hrr_request`, in its HelloRetryRequest's encrypted_client_hello), over the
    inner transcript with those 8 bytes zeroed (RFC 9849 §7.2)."""
    label = "hrr ech accept confirmation" if after_hrr_request else "ech accept confirmation"
    prk = hkdf_extract(hash_name, None, inner_random)
    return hkdf_expand_label(hash_name, prk, label, transcript_digest, CONFIRMATION_LEN)


def confirms(expected: bytes, got: bytes) -> bool:
    return hmac.compare_digest(expected, got)
