"""TLS extensions as typed values, each with `encode_data()` and `decode_data()`.

The same extension type has different bodies in different messages (key_share in
a ClientHello is a list, in a ServerHello one entry, in a HelloRetryRequest a
group), so each shape is its own class and decoding picks the class by the
message it is in (`CONTEXTS`). Anything without a class there is kept as
`UnknownExtension`, which round-trips any bytes. Decoders are exact: every length
is checked, trailing bytes are an error, and the only exception is DecodeError,
so decode_data(encode_data()) is the identity and vice versa.

Encoders do not judge values: a misbehaving peer may send an empty ticket or a
binder of the wrong size, and the encoder writes it as told.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from .codec import Reader, u16_vec, uint, vec
from .errors import DecodeError

E = TypeVar("E", bound="Extension")

EXT_SERVER_NAME = 0
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SCT = 18
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_SIGNATURE_ALGORITHMS_CERT = 50
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 65281

PSK_KE = 0
PSK_DHE_KE = 1


class Extension:
    """Base of every extension: a type and a body."""

    ext_type: ClassVar[int]

    def encode_data(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def decode_data(cls: type[E], data: bytes) -> E:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The whole extension: type, length, body."""
        return uint(self.ext_type, 2) + vec(2, self.encode_data())


_WIRE_NAMES = {EXT_SERVER_NAME: "server_name", EXT_STATUS_REQUEST: "status_request",
               EXT_SUPPORTED_GROUPS: "supported_groups", EXT_EC_POINT_FORMATS: "ec_point_formats",
               EXT_SIGNATURE_ALGORITHMS: "signature_algorithms", EXT_ALPN: "alpn",
               EXT_SCT: "signed_certificate_timestamp", EXT_SESSION_TICKET: "session_ticket",
               EXT_PRE_SHARED_KEY: "pre_shared_key", EXT_EARLY_DATA: "early_data",
               EXT_SUPPORTED_VERSIONS: "supported_versions", EXT_COOKIE: "cookie",
               EXT_PSK_KEY_EXCHANGE_MODES: "psk_key_exchange_modes",
               EXT_SIGNATURE_ALGORITHMS_CERT: "signature_algorithms_cert", EXT_KEY_SHARE: "key_share",
               EXT_RENEGOTIATION_INFO: "renegotiation_info"}


# The names a misbehaviour may give an extension by (any number is allowed too).
EXTENSION_NAMES = {**{name: number for number, name in _WIRE_NAMES.items()},
                   "padding": 21, "extended_master_secret": EXT_EXTENDED_MASTER_SECRET,
                   "record_size_limit": 28, "certificate_authorities": 47,
                   "post_handshake_auth": 49, "encrypted_client_hello": 0xFE0D}


def _reader(cls: type, data: bytes) -> Reader:
    # Errors name the extension as the wire does ("key_share: truncated ...").
    return Reader(data, _WIRE_NAMES.get(getattr(cls, "ext_type", -1), cls.__name__))


@dataclass(slots=True)
class UnknownExtension(Extension):
    """Any extension kept as raw bytes: types we do not model, types out of their
    context, and every extension when a message is decoded with raw extensions."""

    ext_type: int  # type: ignore[misc]  # an instance field here, a ClassVar elsewhere
    data: bytes = b""

    def encode_data(self) -> bytes:
        return self.data

    @classmethod
    def decode_data(cls, data: bytes) -> "UnknownExtension":
        raise TypeError("UnknownExtension needs its type: build it directly")


class _Empty(Extension):
    """An extension whose body must be empty."""

    def encode_data(self) -> bytes:
        return b""

    @classmethod
    def decode_data(cls: type[E], data: bytes) -> E:
        if data:
            raise DecodeError(f"{cls.__name__}: {len(data)} bytes in an empty extension")
        return cls()


# ---------------------------------------------------------------------------
# server_name (RFC 6066 §3)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class ServerName(Extension):
    """ClientHello server_name: (name_type, name) pairs; type 0 is host_name."""

    ext_type: ClassVar[int] = EXT_SERVER_NAME
    names: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def for_host(cls, host: str) -> "ServerName":
        return cls([(0, host.encode("ascii"))])

    @property
    def host_name(self) -> str | None:
        for name_type, name in self.names:
            if name_type == 0:
                return name.decode("ascii", errors="replace")
        return None

    def encode_data(self) -> bytes:
        return vec(2, b"".join(uint(t, 1) + vec(2, n) for t, n in self.names))

    @classmethod
    def decode_data(cls, data: bytes) -> "ServerName":
        r = _reader(cls, data)
        inner = r.sub(2, "server_name_list", min_len=1)
        r.end()
        names = []
        while not inner.empty():
            name_type = inner.u8("name_type")
            names.append((name_type, inner.vector(2, "host_name", min_len=1)))
        return cls(names)


@dataclass(slots=True)
class ServerNameAck(_Empty):
    """The empty server_name a server may echo in EncryptedExtensions."""

    ext_type: ClassVar[int] = EXT_SERVER_NAME


# ---------------------------------------------------------------------------
# Lists of 16-bit values
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class SupportedGroups(Extension):
    ext_type: ClassVar[int] = EXT_SUPPORTED_GROUPS
    groups: list[int] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return u16_vec(2, self.groups)

    @classmethod
    def decode_data(cls, data: bytes) -> "SupportedGroups":
        r = _reader(cls, data)
        groups = r.u16_list(2, "named_group_list", min_len=2)
        r.end()
        return cls(groups)


@dataclass(slots=True)
class SignatureAlgorithms(Extension):
    ext_type: ClassVar[int] = EXT_SIGNATURE_ALGORITHMS
    schemes: list[int] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return u16_vec(2, self.schemes)

    @classmethod
    def decode_data(cls, data: bytes) -> "SignatureAlgorithms":
        r = _reader(cls, data)
        schemes = r.u16_list(2, "supported_signature_algorithms", min_len=2)
        r.end()
        return cls(schemes)


@dataclass(slots=True)
class SignatureAlgorithmsCert(Extension):
    ext_type: ClassVar[int] = EXT_SIGNATURE_ALGORITHMS_CERT
    schemes: list[int] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return u16_vec(2, self.schemes)

    @classmethod
    def decode_data(cls, data: bytes) -> "SignatureAlgorithmsCert":
        r = _reader(cls, data)
        schemes = r.u16_list(2, "supported_signature_algorithms", min_len=2)
        r.end()
        return cls(schemes)


@dataclass(slots=True)
class SupportedVersionsClient(Extension):
    ext_type: ClassVar[int] = EXT_SUPPORTED_VERSIONS
    versions: list[int] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return u16_vec(1, self.versions)

    @classmethod
    def decode_data(cls, data: bytes) -> "SupportedVersionsClient":
        r = _reader(cls, data)
        versions = r.u16_list(1, "versions", min_len=2)
        r.end()
        return cls(versions)


@dataclass(slots=True)
class SupportedVersionsServer(Extension):
    ext_type: ClassVar[int] = EXT_SUPPORTED_VERSIONS
    version: int = 0x0304

    def encode_data(self) -> bytes:
        return uint(self.version, 2)

    @classmethod
    def decode_data(cls, data: bytes) -> "SupportedVersionsServer":
        r = _reader(cls, data)
        version = r.u16("selected_version")
        r.end()
        return cls(version)


# ---------------------------------------------------------------------------
# ALPN (RFC 7301)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class ALPN(Extension):
    ext_type: ClassVar[int] = EXT_ALPN
    protocols: list[bytes] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return vec(2, b"".join(vec(1, p) for p in self.protocols))

    @classmethod
    def decode_data(cls, data: bytes) -> "ALPN":
        r = _reader(cls, data)
        inner = r.sub(2, "protocol_name_list", min_len=2)
        r.end()
        protocols = []
        while not inner.empty():
            protocols.append(inner.vector(1, "protocol_name", min_len=1))
        return cls(protocols)


# ---------------------------------------------------------------------------
# key_share (RFC 8446 §4.2.8)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class KeyShareEntry:
    group: int
    key_exchange: bytes

    def encode(self) -> bytes:
        return uint(self.group, 2) + vec(2, self.key_exchange)

    @classmethod
    def read(cls, r: Reader) -> "KeyShareEntry":
        group = r.u16("key share group")
        return cls(group, r.vector(2, "key_exchange", min_len=1))


@dataclass(slots=True)
class KeyShareClient(Extension):
    ext_type: ClassVar[int] = EXT_KEY_SHARE
    shares: list[KeyShareEntry] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return vec(2, b"".join(s.encode() for s in self.shares))

    @classmethod
    def decode_data(cls, data: bytes) -> "KeyShareClient":
        r = _reader(cls, data)
        inner = r.sub(2, "client_shares")
        r.end()
        shares = []
        while not inner.empty():
            shares.append(KeyShareEntry.read(inner))
        return cls(shares)


@dataclass(slots=True)
class KeyShareServer(Extension):
    ext_type: ClassVar[int] = EXT_KEY_SHARE
    share: KeyShareEntry = field(default_factory=lambda: KeyShareEntry(0, b"\x00"))

    def encode_data(self) -> bytes:
        return self.share.encode()

    @classmethod
    def decode_data(cls, data: bytes) -> "KeyShareServer":
        r = _reader(cls, data)
        share = KeyShareEntry.read(r)
        r.end()
        return cls(share)


@dataclass(slots=True)
class KeyShareHelloRetry(Extension):
    """A HelloRetryRequest's key_share: the group the client must share next."""

    ext_type: ClassVar[int] = EXT_KEY_SHARE
    group: int = 0

    def encode_data(self) -> bytes:
        return uint(self.group, 2)

    @classmethod
    def decode_data(cls, data: bytes) -> "KeyShareHelloRetry":
        r = _reader(cls, data)
        group = r.u16("selected_group")
        r.end()
        return cls(group)


# ---------------------------------------------------------------------------
# pre_shared_key and psk_key_exchange_modes (RFC 8446 §4.2.9, §4.2.11)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class PskIdentity:
    identity: bytes
    obfuscated_ticket_age: int

    def encode(self) -> bytes:
        return vec(2, self.identity) + uint(self.obfuscated_ticket_age, 4)


@dataclass(slots=True)
class PreSharedKeyClient(Extension):
    """OfferedPsks: identities and one binder per identity."""

    ext_type: ClassVar[int] = EXT_PRE_SHARED_KEY
    identities: list[PskIdentity] = field(default_factory=list)
    binders: list[bytes] = field(default_factory=list)

    def encode_identities(self) -> bytes:
        return vec(2, b"".join(i.encode() for i in self.identities))

    def encode_binders(self) -> bytes:
        return vec(2, b"".join(vec(1, b) for b in self.binders))

    def encode_data(self) -> bytes:
        return self.encode_identities() + self.encode_binders()

    @classmethod
    def decode_data(cls, data: bytes) -> "PreSharedKeyClient":
        r = _reader(cls, data)
        ids = r.sub(2, "identities", min_len=7)
        identities = []
        while not ids.empty():
            identity = ids.vector(2, "identity", min_len=1)
            identities.append(PskIdentity(identity, ids.u32("obfuscated_ticket_age")))
        bl = r.sub(2, "binders", min_len=33)
        binders = []
        while not bl.empty():
            binders.append(bl.vector(1, "binder", min_len=32))
        r.end()
        return cls(identities, binders)


@dataclass(slots=True)
class PreSharedKeyServer(Extension):
    ext_type: ClassVar[int] = EXT_PRE_SHARED_KEY
    selected_identity: int = 0

    def encode_data(self) -> bytes:
        return uint(self.selected_identity, 2)

    @classmethod
    def decode_data(cls, data: bytes) -> "PreSharedKeyServer":
        r = _reader(cls, data)
        selected = r.u16("selected_identity")
        r.end()
        return cls(selected)


@dataclass(slots=True)
class PskKeyExchangeModes(Extension):
    ext_type: ClassVar[int] = EXT_PSK_KEY_EXCHANGE_MODES
    modes: list[int] = field(default_factory=lambda: [PSK_DHE_KE])

    def encode_data(self) -> bytes:
        return vec(1, bytes(self.modes))

    @classmethod
    def decode_data(cls, data: bytes) -> "PskKeyExchangeModes":
        r = _reader(cls, data)
        modes = r.vector(1, "ke_modes", min_len=1)
        r.end()
        return cls(list(modes))


# ---------------------------------------------------------------------------
# early_data, cookie (RFC 8446 §4.2.10, §4.2.2)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class EarlyData(_Empty):
    """early_data in a ClientHello or EncryptedExtensions (empty body)."""

    ext_type: ClassVar[int] = EXT_EARLY_DATA


@dataclass(slots=True)
class EarlyDataTicket(Extension):
    """early_data in a NewSessionTicket: max_early_data_size."""

    ext_type: ClassVar[int] = EXT_EARLY_DATA
    max_early_data_size: int = 0

    def encode_data(self) -> bytes:
        return uint(self.max_early_data_size, 4)

    @classmethod
    def decode_data(cls, data: bytes) -> "EarlyDataTicket":
        r = _reader(cls, data)
        size = r.u32("max_early_data_size")
        r.end()
        return cls(size)


@dataclass(slots=True)
class Cookie(Extension):
    ext_type: ClassVar[int] = EXT_COOKIE
    cookie: bytes = b"\x00"

    def encode_data(self) -> bytes:
        return vec(2, self.cookie)

    @classmethod
    def decode_data(cls, data: bytes) -> "Cookie":
        r = _reader(cls, data)
        cookie = r.vector(2, "cookie", min_len=1)
        r.end()
        return cls(cookie)


# ---------------------------------------------------------------------------
# OCSP and SCT (RFC 6066 §8, RFC 6962 §3.3.1)
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class StatusRequest(Extension):
    """CertificateStatusRequest in a ClientHello. The
    responder ids and request extensions are kept as their raw vectors."""

    ext_type: ClassVar[int] = EXT_STATUS_REQUEST
    status_type: int = 1
    responder_id_list: bytes = b""
    request_extensions: bytes = b""

    def encode_data(self) -> bytes:
        return (uint(self.status_type, 1) + vec(2, self.responder_id_list)
                + vec(2, self.request_extensions))

    @classmethod
    def decode_data(cls, data: bytes) -> "StatusRequest":
        r = _reader(cls, data)
        status_type = r.u8("status_type")
        ids = r.vector(2, "responder_id_list")
        exts = r.vector(2, "request_extensions")
        r.end()
        return cls(status_type, ids, exts)


@dataclass(slots=True)
class CertificateStatus(Extension):
    """status_request in a CertificateEntry: the stapled OCSP response."""

    ext_type: ClassVar[int] = EXT_STATUS_REQUEST
    status_type: int = 1
    response: bytes = b"\x00"

    def encode_data(self) -> bytes:
        return uint(self.status_type, 1) + vec(3, self.response)

    @classmethod
    def decode_data(cls, data: bytes) -> "CertificateStatus":
        r = _reader(cls, data)
        status_type = r.u8("status_type")
        response = r.vector(3, "OCSPResponse", min_len=1)
        r.end()
        return cls(status_type, response)


@dataclass(slots=True)
class StatusRequestEmpty(_Empty):
    """status_request in a TLS 1.3 CertificateRequest: empty extension_data, a
    request for the client's OCSP staple (RFC 8446 §4.4.2.1; Go sends it)."""

    ext_type: ClassVar[int] = EXT_STATUS_REQUEST


@dataclass(slots=True)
class SCTRequest(_Empty):
    ext_type: ClassVar[int] = EXT_SCT


@dataclass(slots=True)
class SCTList(Extension):
    ext_type: ClassVar[int] = EXT_SCT
    scts: list[bytes] = field(default_factory=list)

    def encode_data(self) -> bytes:
        return vec(2, b"".join(vec(2, s) for s in self.scts))

    @classmethod
    def decode_data(cls, data: bytes) -> "SCTList":
        r = _reader(cls, data)
        inner = r.sub(2, "sct_list", min_len=1)
        r.end()
        scts = []
        while not inner.empty():
            scts.append(inner.vector(2, "SerializedSCT", min_len=1))
        return cls(scts)


# ---------------------------------------------------------------------------
# TLS 1.2 extensions a TLS 1.3 ClientHello may carry
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class ExtendedMasterSecret(_Empty):
    ext_type: ClassVar[int] = EXT_EXTENDED_MASTER_SECRET


@dataclass(slots=True)
class SessionTicket(Extension):
    """RFC 5077 session_ticket: the whole body is the ticket (empty to ask for one)."""

    ext_type: ClassVar[int] = EXT_SESSION_TICKET
    ticket: bytes = b""

    def encode_data(self) -> bytes:
        return self.ticket

    @classmethod
    def decode_data(cls, data: bytes) -> "SessionTicket":
        return cls(bytes(data))


@dataclass(slots=True)
class RenegotiationInfo(Extension):
    ext_type: ClassVar[int] = EXT_RENEGOTIATION_INFO
    renegotiated_connection: bytes = b""

    def encode_data(self) -> bytes:
        return vec(1, self.renegotiated_connection)

    @classmethod
    def decode_data(cls, data: bytes) -> "RenegotiationInfo":
        r = _reader(cls, data)
        value = r.vector(1, "renegotiated_connection")
        r.end()
        return cls(value)


@dataclass(slots=True)
class EcPointFormats(Extension):
    ext_type: ClassVar[int] = EXT_EC_POINT_FORMATS
    formats: list[int] = field(default_factory=lambda: [0])

    def encode_data(self) -> bytes:
        return vec(1, bytes(self.formats))

    @classmethod
    def decode_data(cls, data: bytes) -> "EcPointFormats":
        r = _reader(cls, data)
        formats = r.vector(1, "ec_point_format_list", min_len=1)
        r.end()
        return cls(list(formats))


# ---------------------------------------------------------------------------
# Which class decodes which type in which message
# ---------------------------------------------------------------------------

CLIENT_HELLO = "client_hello"
SERVER_HELLO = "server_hello"
HELLO_RETRY_REQUEST = "hello_retry_request"
ENCRYPTED_EXTENSIONS = "encrypted_extensions"
CERTIFICATE_REQUEST = "certificate_request"
CERTIFICATE_ENTRY = "certificate_entry"
NEW_SESSION_TICKET = "new_session_ticket"


def _table(*classes: type[Extension]) -> dict[int, type[Extension]]:
    out = {c.ext_type: c for c in classes}
    assert len(out) == len(classes), "two classes for one type in one context"
    return out


CONTEXTS: dict[str, dict[int, type[Extension]]] = {
    CLIENT_HELLO: _table(ServerName, SupportedGroups, SignatureAlgorithms, SignatureAlgorithmsCert,
                         ALPN, SupportedVersionsClient, KeyShareClient, PreSharedKeyClient,
                         PskKeyExchangeModes, EarlyData, Cookie, StatusRequest, SCTRequest,
                         ExtendedMasterSecret, SessionTicket, RenegotiationInfo, EcPointFormats),
    SERVER_HELLO: _table(SupportedVersionsServer, KeyShareServer, PreSharedKeyServer),
    HELLO_RETRY_REQUEST: _table(SupportedVersionsServer, KeyShareHelloRetry, Cookie),
    ENCRYPTED_EXTENSIONS: _table(ServerNameAck, SupportedGroups, ALPN, EarlyData),
    CERTIFICATE_REQUEST: _table(SignatureAlgorithms, SignatureAlgorithmsCert, StatusRequestEmpty,
                                SCTRequest),
    CERTIFICATE_ENTRY: _table(CertificateStatus, SCTList),
    NEW_SESSION_TICKET: _table(EarlyDataTicket),
}


def read_extensions(r: Reader, context: str, raw: bool = False,
                    min_len: int = 0) -> list[Extension]:
    """An extensions block: the 2-byte length and the extensions in order,
    duplicates kept. With `raw`, every extension stays an UnknownExtension (the
    observer's view, where a malformed body must not hide the rest)."""
    block = r.sub(2, "extensions", min_len=min_len)
    table = CONTEXTS[context]
    out: list[Extension] = []
    while not block.empty():
        ext_type = block.u16("extension type")
        data = block.vector(2, f"extension {ext_type} data")
        cls = None if raw else table.get(ext_type)
        out.append(UnknownExtension(ext_type, data) if cls is None else cls.decode_data(data))
    return out


def write_extensions(extensions: list[Extension]) -> bytes:
    return vec(2, b"".join(e.encode() for e in extensions))


def typed(ext: Extension, cls: type[E]) -> E:
    """`ext` as `cls`, decoding it when it is held raw (raises DecodeError)."""
    if isinstance(ext, cls):
        return ext
    if isinstance(ext, UnknownExtension) and ext.ext_type == cls.ext_type:
        return cls.decode_data(ext.data)
    raise TypeError(f"{type(ext).__name__} is not a {cls.__name__}")
