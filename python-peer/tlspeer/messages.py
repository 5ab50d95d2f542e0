"""Every TLS 1.3 handshake message as a small typed value.

`encode()` gives the whole handshake message (4-byte header included); `decode(body)`
reads the body a header announced. Decoders are exact and raise only DecodeError.
Extensions are ordered lists of `extensions.Extension`, so a test or a
misbehaviour can reorder, duplicate or drop them and the encoder writes exactly
that. Encoders write what they are given without judging it.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from . import extensions as ext
from .codec import Reader, u16_vec, uint, vec
from .errors import DecodeError
from .extensions import Extension, UnknownExtension, read_extensions, write_extensions

M = TypeVar("M", bound="Message")
X = TypeVar("X", bound=Extension)

CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
END_OF_EARLY_DATA = 5
ENCRYPTED_EXTENSIONS = 8
CERTIFICATE = 11
CERTIFICATE_REQUEST = 13
CERTIFICATE_VERIFY = 15
FINISHED = 20
KEY_UPDATE = 24
MESSAGE_HASH = 254

# A HelloRetryRequest is a ServerHello with this random: SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
assert HRR_RANDOM == hashlib.sha256(b"HelloRetryRequest").digest()

TLS12 = 0x0303
TLS13 = 0x0304


def frame(msg_type: int, body: bytes) -> bytes:
    """Handshake header (type, uint24 length) + body."""
    return bytes([msg_type]) + uint(len(body), 3) + body


_IMMUTABLE = (bytes, str, int, float, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def clone(value: Any) -> Any:
    """A deep copy of message data (a client's second hello starts as a copy of its
    first): 21 us for a first hello where copy.deepcopy took 97. Dataclasses, lists,
    tuples and dicts are copied; bytes, strings and numbers are shared, since they
    cannot change; anything else goes to copy.deepcopy."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, list):
        return [clone(v) for v in value]
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(value):
            if cls is tuple:
                return tuple(clone(v) for v in value)
            if cls is dict:
                return {k: clone(v) for k, v in value.items()}
            return copy.deepcopy(value)
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
    out = object.__new__(cls)
    for name in names:
        object.__setattr__(out, name, clone(getattr(value, name)))
    return out


class Message:
    msg_type: ClassVar[int]

    def encode_body(self) -> bytes:
        raise NotImplementedError

    def encode(self) -> bytes:
        return frame(self.msg_type, self.encode_body())

    @classmethod
    def decode(cls: type[M], body: bytes) -> M:
        raise NotImplementedError


class HasExtensions:
    """Lookup helpers over an ordered extension list (duplicates stay in it)."""

    extensions: list[Extension] | None

    def find(self, cls: type[X]) -> X | None:
        """The first extension of cls's type, as cls (decoded if held raw; a
        malformed body raises DecodeError)."""
        for e in self.extensions or ():
            if e.ext_type == cls.ext_type:
                return ext.typed(e, cls)
        return None

    def has(self, ext_type: int) -> bool:
        return any(e.ext_type == ext_type for e in self.extensions or ())

    def find_raw(self, ext_type: int) -> bytes | None:
        """The body of the first extension of this type, as on the wire; None if absent."""
        for e in self.extensions or ():
            if e.ext_type == ext_type:
                return e.data if isinstance(e, ext.UnknownExtension) else e.encode_data()
        return None

    def extension_types(self) -> list[int]:
        return [e.ext_type for e in self.extensions or ()]

    def duplicate_types(self) -> list[int]:
        seen: set[int] = set()
        dups = []
        for t in self.extension_types():
            if t in seen and t not in dups:
                dups.append(t)
            seen.add(t)
        return dups

    def without(self, ext_type: int) -> list[Extension]:
        return [e for e in self.extensions or () if e.ext_type != ext_type]


def _read_optional_extensions(r: Reader, context: str, raw: bool) -> list[Extension] | None:
    # TLS 1.2 hellos may end before the extensions block; absence is kept apart
    # from an empty block because the encodings differ.
    if r.empty():
        return None
    return read_extensions(r, context, raw)


# ---------------------------------------------------------------------------
# Hellos
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class ClientHello(Message, HasExtensions):
    msg_type: ClassVar[int] = CLIENT_HELLO
    random: bytes
    session_id: bytes = b""
    cipher_suites: list[int] = field(default_factory=list)
    extensions: list[Extension] | None = field(default_factory=list)
    legacy_version: int = TLS12
    compression_methods: bytes = b"\x00"

    def _head(self) -> bytes:
        return (uint(self.legacy_version, 2) + self.random + vec(1, self.session_id)
                + u16_vec(2, self.cipher_suites) + vec(1, self.compression_methods))

    def encode_body(self) -> bytes:
        if self.extensions is None:
            return self._head()
        return self._head() + write_extensions(self.extensions)

    def binders_offset(self) -> int | None:
        """Where, in encode(), the binders list of the first pre_shared_key
        extension starts: the PSK binder covers everything before it (RFC 8446
        §4.2.11.2), wherever the extension sits."""
        return self.encode_with_binders_offset()[1]

    def encode_with_binders_offset(self) -> tuple[bytes, int | None]:
        """encode() and binders_offset() from one encoding of each extension: a
        client binding its PSKs needs both, and encoding the hello is most of what
        binding costs."""
        head = self._head()
        if self.extensions is None:
            return frame(self.msg_type, head), None
        parts = [e.encode() for e in self.extensions]
        offset = None
        pos = 4 + len(head) + 2
        for e, part in zip(self.extensions, parts):
            if e.ext_type == ext.EXT_PRE_SHARED_KEY:
                psk = ext.typed(e, ext.PreSharedKeyClient)
                offset = pos + 4 + len(psk.encode_identities())
                break
            pos += len(part)
        return frame(self.msg_type, head + vec(2, b"".join(parts))), offset

    @classmethod
    def decode(cls, body: bytes, raw_extensions: bool = False) -> "ClientHello":
        r = Reader(body, "ClientHello")
        legacy_version = r.u16("legacy_version")
        random = r.read(32, "random")
        session_id = r.vector(1, "legacy_session_id", max_len=32)
        suites = r.u16_list(2, "cipher_suites", min_len=2)
        compression = r.vector(1, "legacy_compression_methods", min_len=1)
        extensions = _read_optional_extensions(r, ext.CLIENT_HELLO, raw_extensions)
        r.end()
        return cls(random, session_id, suites, extensions, legacy_version, compression)


@dataclass(slots=True)
class ServerHello(Message, HasExtensions):
    """A ServerHello, or a HelloRetryRequest when `random` is HRR_RANDOM."""

    msg_type: ClassVar[int] = SERVER_HELLO
    random: bytes
    session_id: bytes = b""
    cipher_suite: int = 0x1301
    extensions: list[Extension] | None = field(default_factory=list)
    legacy_version: int = TLS12
    compression_method: int = 0

    @classmethod
    def hello_retry_request(cls, session_id: bytes, cipher_suite: int,
                            extensions: list[Extension]) -> "ServerHello":
        return cls(HRR_RANDOM, session_id, cipher_suite, extensions)

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    def encode_body(self) -> bytes:
        head = (uint(self.legacy_version, 2) + self.random + vec(1, self.session_id)
                + uint(self.cipher_suite, 2) + uint(self.compression_method, 1))
        if self.extensions is None:
            return head
        return head + write_extensions(self.extensions)

    @classmethod
    def decode(cls, body: bytes, raw_extensions: bool = False) -> "ServerHello":
        r = Reader(body, "ServerHello")
        legacy_version = r.u16("legacy_version")
        random = r.read(32, "random")
        session_id = r.vector(1, "legacy_session_id_echo", max_len=32)
        suite = r.u16("cipher_suite")
        compression = r.u8("legacy_compression_method")
        context = ext.HELLO_RETRY_REQUEST if random == HRR_RANDOM else ext.SERVER_HELLO
        extensions = _read_optional_extensions(r, context, raw_extensions)
        r.end()
        return cls(random, session_id, suite, extensions, legacy_version, compression)


# ---------------------------------------------------------------------------
# Server parameters and authentication
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class EncryptedExtensions(Message, HasExtensions):
    msg_type: ClassVar[int] = ENCRYPTED_EXTENSIONS
    extensions: list[Extension] = field(default_factory=list)

    def encode_body(self) -> bytes:
        return write_extensions(self.extensions)

    @classmethod
    def decode(cls, body: bytes, raw_extensions: bool = False) -> "EncryptedExtensions":
        r = Reader(body, "EncryptedExtensions")
        extensions = read_extensions(r, ext.ENCRYPTED_EXTENSIONS, raw_extensions)
        r.end()
        return cls(extensions)


@dataclass(slots=True)
class CertificateRequest(Message, HasExtensions):
    msg_type: ClassVar[int] = CERTIFICATE_REQUEST
    context: bytes = b""
    extensions: list[Extension] = field(default_factory=list)

    def encode_body(self) -> bytes:
        return vec(1, self.context) + write_extensions(self.extensions)

    @classmethod
    def decode(cls, body: bytes, raw_extensions: bool = False) -> "CertificateRequest":
        r = Reader(body, "CertificateRequest")
        context = r.vector(1, "certificate_request_context")
        extensions = read_extensions(r, ext.CERTIFICATE_REQUEST, raw_extensions, min_len=2)
        r.end()
        return cls(context, extensions)


@dataclass(slots=True)
class CertificateEntry(HasExtensions):
    cert_data: bytes
    extensions: list[Extension] = field(default_factory=list)

    def encode(self) -> bytes:
        return vec(3, self.cert_data) + write_extensions(self.extensions)


@dataclass(slots=True)
class Certificate(Message):
    """TLS 1.3 Certificate: a request context and entries, leaf first."""

    msg_type: ClassVar[int] = CERTIFICATE
    context: bytes = b""
    entries: list[CertificateEntry] = field(default_factory=list)

    @classmethod
    def from_chain(cls, chain_der: list[bytes], context: bytes = b"") -> "Certificate":
        return cls(context, [CertificateEntry(der) for der in chain_der])

    @property
    def chain(self) -> list[bytes]:
        return [e.cert_data for e in self.entries]

    def encode_body(self) -> bytes:
        return vec(1, self.context) + vec(3, b"".join(e.encode() for e in self.entries))

    @classmethod
    def decode(cls, body: bytes, raw_extensions: bool = False) -> "Certificate":
        r = Reader(body, "Certificate")
        context = r.vector(1, "certificate_request_context")
        inner = r.sub(3, "certificate_list")
        r.end()
        entries = []
        while not inner.empty():
            data = inner.vector(3, "cert_data", min_len=1)
            entries.append(CertificateEntry(data, read_extensions(inner, ext.CERTIFICATE_ENTRY,
                                                                  raw_extensions)))
        return cls(context, entries)


@dataclass(slots=True)
class CertificateVerify(Message):
    msg_type: ClassVar[int] = CERTIFICATE_VERIFY
    scheme: int
    signature: bytes

    def encode_body(self) -> bytes:
        return uint(self.scheme, 2) + vec(2, self.signature)

    @classmethod
    def decode(cls, body: bytes) -> "CertificateVerify":
        r = Reader(body, "CertificateVerify")
        scheme = r.u16("algorithm")
        signature = r.vector(2, "signature")
        r.end()
        return cls(scheme, signature)


@dataclass(slots=True)
class Finished(Message):
    """verify_data; its length is the suite's hash length, which the decoder
    cannot know, so the engines check it."""

    msg_type: ClassVar[int] = FINISHED
    verify_data: bytes

    def encode_body(self) -> bytes:
        return self.verify_data

    @classmethod
    def decode(cls, body: bytes) -> "Finished":
        return cls(bytes(body))


# ---------------------------------------------------------------------------
# Post-handshake and the rest
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class NewSessionTicket(Message, HasExtensions):
    """TLS 1.3 NewSessionTicket (RFC 8446 §4.6.1)."""

    msg_type: ClassVar[int] = NEW_SESSION_TICKET
    lifetime: int
    age_add: int
    nonce: bytes
    ticket: bytes
    extensions: list[Extension] = field(default_factory=list)

    def encode_body(self) -> bytes:
        return (uint(self.lifetime, 4) + uint(self.age_add, 4) + vec(1, self.nonce)
                + vec(2, self.ticket) + write_extensions(self.extensions))

    @classmethod
    def decode(cls, body: bytes, raw_extensions: bool = False) -> "NewSessionTicket":
        r = Reader(body, "NewSessionTicket")
        lifetime = r.u32("ticket_lifetime")
        age_add = r.u32("ticket_age_add")
        nonce = r.vector(1, "ticket_nonce")
        ticket = r.vector(2, "ticket", min_len=1)
        extensions = read_extensions(r, ext.NEW_SESSION_TICKET, raw_extensions)
        r.end()
        return cls(lifetime, age_add, nonce, ticket, extensions)


@dataclass(slots=True)
class NewSessionTicketTLS12(Message):
    """RFC 5077 §3.3, for the observer of TLS 1.2 connections."""

    msg_type: ClassVar[int] = NEW_SESSION_TICKET
    lifetime_hint: int
    ticket: bytes

    def encode_body(self) -> bytes:
        return uint(self.lifetime_hint, 4) + vec(2, self.ticket)

    @classmethod
    def decode(cls, body: bytes) -> "NewSessionTicketTLS12":
        r = Reader(body, "NewSessionTicket")
        lifetime = r.u32("ticket_lifetime_hint")
        ticket = r.vector(2, "ticket")
        r.end()
        return cls(lifetime, ticket)


@dataclass(slots=True)
class KeyUpdate(Message):
    msg_type: ClassVar[int] = KEY_UPDATE
    request_update: int = 0  # 0 update_not_requested, 1 update_requested

    def encode_body(self) -> bytes:
        return uint(self.request_update, 1)

    @classmethod
    def decode(cls, body: bytes) -> "KeyUpdate":
        r = Reader(body, "KeyUpdate")
        value = r.u8("request_update")
        r.end()
        if value not in (0, 1):
            raise DecodeError(f"KeyUpdate: request_update {value} is not 0 or 1")
        return cls(value)


@dataclass(slots=True)
class EndOfEarlyData(Message):
    msg_type: ClassVar[int] = END_OF_EARLY_DATA

    def encode_body(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, body: bytes) -> "EndOfEarlyData":
        if body:
            raise DecodeError(f"EndOfEarlyData: {len(body)} bytes in an empty message")
        return cls()


@dataclass(slots=True)
class MessageHash(Message):
    """The synthetic message that stands for ClientHello1 after a HelloRetryRequest."""

    msg_type: ClassVar[int] = MESSAGE_HASH
    digest: bytes

    @classmethod
    def of(cls, hash_name: str, client_hello1: bytes) -> "MessageHash":
        return cls(hashlib.new(hash_name, client_hello1).digest())

    def encode_body(self) -> bytes:
        return self.digest

    @classmethod
    def decode(cls, body: bytes) -> "MessageHash":
        return cls(bytes(body))


TLS13_MESSAGES: dict[int, type[Message]] = {
    c.msg_type: c for c in (ClientHello, ServerHello, EncryptedExtensions, CertificateRequest,
                            Certificate, CertificateVerify, Finished, NewSessionTicket, KeyUpdate,
                            EndOfEarlyData, MessageHash)
}


def decode_message(msg_type: int, body: bytes) -> Message:
    """Decode a TLS 1.3 handshake message by its type; an unknown type is a
    DecodeError (the engines turn it into unexpected_message first)."""
    cls = TLS13_MESSAGES.get(msg_type)
    if cls is None:
        raise DecodeError(f"unknown handshake message type {msg_type}")
    return cls.decode(body)


def unknown(ext_type: int, data: bytes = b"") -> UnknownExtension:
    return UnknownExtension(ext_type, data)
