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
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

from . import hpke
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
#: The alert a client sends when the server rejected its offer (RFC 9849 §11.2).
ALERT_ECH_REQUIRED = 121


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


# ---------------------------------------------------------------------------
# The client side: sealing ClientHelloInner into a ClientHelloOuter
# ---------------------------------------------------------------------------

#: How a client may bend ech_outer_extensions (the Misbehaviour knob of that name):
#: the rules RFC 9849 §5.1 sets and Go enforces from 1.27.2 (ech.go decodeInnerClientHello).
OuterExtensionsVariant = Literal["trailing_byte", "two_lists", "two_lists_reordered", "empty_list",
                                 "self_reference", "duplicate"]

_NOT_COMPRESSED = (0, EXT_ENCRYPTED_CLIENT_HELLO, 41, 42)  # server_name, itself, pre_shared_key, early_data


def pick_config(configs: Sequence[ECHConfig]) -> tuple[ECHConfig, int, int] | None:
    """The first config this client can seal to, with its (kdf_id, aead_id): X25519,
    HKDF-SHA256 and an AEAD hpke.py has, as Go's pickECHConfig chooses."""
    for config in configs:
        if config.kem_id != hpke.KEM_X25519_HKDF_SHA256 or len(config.public_key) != 32:
            continue
        for kdf_id, aead_id in config.cipher_suites:
            if kdf_id == hpke.KDF_HKDF_SHA256 and aead_id in hpke.AEADS:
                return config, kdf_id, aead_id
    return None


def compressed_types(extensions: Sequence[tuple[int, bytes]]) -> list[int]:
    """The inner extensions the outer hello carries and ech_outer_extensions names:
    all but server_name, encrypted_client_hello, pre_shared_key and early_data. They
    must be one run in the inner hello (the client lays it out so)."""
    return [t for t, _ in extensions if t not in _NOT_COMPRESSED]


def _refs(types: Sequence[int], trailing: bytes = b"") -> tuple[int, bytes]:
    return EXT_ECH_OUTER_EXTENSIONS, vec(1, b"".join(uint(t, 2) for t in types)) + trailing


def compress(extensions: Sequence[tuple[int, bytes]],
             variant: OuterExtensionsVariant | None = None) -> tuple[list[tuple[int, bytes]], list[int]]:
    """The extensions of EncodedClientHelloInner (the compressed run replaced by
    ech_outer_extensions, bent as `variant` says) and the order of that run in the
    outer hello. The inner hello, as a server that accepts the encoding rebuilds it,
    is `extensions` itself, except with `duplicate`, which no server accepts."""
    run = compressed_types(extensions)
    if not run:
        return list(extensions), []
    half = max(1, len(run) // 2)
    outer_order = list(run)
    if variant is None:
        lists = [_refs(run)]
    elif variant == "trailing_byte":
        lists = [_refs(run, trailing=b"\x00")]
    elif variant in ("two_lists", "two_lists_reordered"):
        lists = [_refs(run[:half]), _refs(run[half:])]
        if variant == "two_lists_reordered":
            outer_order = run[half:] + run[:half]  # a scan that restarts finds both lists
    elif variant == "empty_list":
        lists = [_refs(run), _refs([])]
    elif variant == "self_reference":
        if run[0] != EXT_ECH_OUTER_EXTENSIONS:
            raise ValueError("self_reference: the inner hello's run must start with an ech_outer_extensions "
                             "extension of its own")
        lists = [_refs(run)]
    elif variant == "duplicate":
        lists = [_refs([run[0], *run])]
    else:
        raise ValueError(f"ech_outer_extensions: unknown variant {variant!r}")
    first = next(i for i, (t, _) in enumerate(extensions) if t in run)
    rest = [e for e in extensions[first:] if e[0] not in run]
    return list(extensions[:first]) + lists + rest, outer_order


@dataclass
class ClientOffer:
    """What a client's ECH offer needs to answer the ServerHello: the inner hello as
    sent (its transcript if ECH is accepted) and its random."""

    config: ECHConfig
    kdf_id: int
    aead_id: int
    inner_raw: bytes = b""
    inner_random: bytes = b""
    context: hpke.Context | None = field(default=None, repr=False)

    def seal(self, inner_raw: bytes, outer_random: bytes, rand: Callable[[int], bytes],
             variant: OuterExtensionsVariant | None = None, second: bool = False) -> bytes:
        """The ClientHelloOuter (whole message) for the inner hello `inner_raw`: the
        public name, the inner hello's compressed run in `compress`'s outer order,
        and the encrypted_client_hello extension sealing EncodedClientHelloInner.
        The `second` after a HelloRetryRequest that accepted ECH seals with the first
        one's HPKE context and an empty enc (RFC 9849 §6.1.5); the caller gives it the
        first one's outer random, as Go's client keeps its outer hello."""
        body = inner_raw[4:]
        version_random, head, exts = _split_hello(body)
        self.inner_raw, self.inner_random = inner_raw, version_random[2:]
        encoded_exts, outer_order = compress(exts, variant)
        by_type = dict(exts)
        sni = next((d for t, d in exts if t == 0), None)
        encoded = encode_inner(body, encoded_exts, _host(sni), self.config.max_name_length)
        if second and self.context is not None:
            enc = b""
        else:
            enc, self.context = hpke.setup_sender(self.config.public_key, self.config.info, rand,
                                                  self.kdf_id, self.aead_id)
        public = vec(2, uint(0, 1) + vec(2, self.config.public_name.encode()))

        def outer(payload: bytes) -> bytes:
            ech = OuterECH(self.kdf_id, self.aead_id, self.config.config_id, enc, payload).encode_data()
            ext_list = [(0, public), (EXT_ENCRYPTED_CLIENT_HELLO, ech)] + [(t, by_type[t]) for t in outer_order]
            return (version_random[:2] + outer_random + head
                    + vec(2, b"".join(uint(t, 2) + vec(2, d) for t, d in ext_list)))

        # The additional data is the outer hello with an all-zero payload of the right size.
        payload = self.context.seal(outer(bytes(len(encoded) + 16)), encoded)
        sealed = outer(payload)
        return bytes([1]) + uint(len(sealed), 3) + sealed


def _host(server_name_data: bytes | None) -> str | None:
    if server_name_data is None:
        return None
    r = Reader(server_name_data, "server_name")
    names = r.sub(2, "server_name_list")
    while not names.empty():
        kind, name = names.u8("name_type"), names.vector(2, "host_name")
        if kind == 0:
            return name.decode("ascii", errors="replace")
    return None
