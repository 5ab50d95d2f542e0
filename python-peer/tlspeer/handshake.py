"""Handshake message framing and decoding for observation.

This splits a handshake byte stream into messages and decodes the messages an
observer needs (ClientHello, ServerHello / HelloRetryRequest, NewSessionTicket,
EncryptedExtensions, KeyUpdate) exactly: every length is checked, trailing bytes are
an error, and any malformed input raises DecodeError, never IndexError or
struct.error. It does not judge semantics (duplicate extensions, unknown values are
reported as they are), because the harness observes what peers really send.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .suites import suite_name

# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

HELLO_REQUEST = 0
CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
END_OF_EARLY_DATA = 5
ENCRYPTED_EXTENSIONS = 8
CERTIFICATE = 11
SERVER_KEY_EXCHANGE = 12
CERTIFICATE_REQUEST = 13
SERVER_HELLO_DONE = 14
CERTIFICATE_VERIFY = 15
CLIENT_KEY_EXCHANGE = 16
FINISHED = 20
CERTIFICATE_STATUS = 22
KEY_UPDATE = 24
MESSAGE_HASH = 254

HANDSHAKE_TYPES: dict[int, str] = {
    HELLO_REQUEST: "hello_request",
    CLIENT_HELLO: "client_hello",
    SERVER_HELLO: "server_hello",
    NEW_SESSION_TICKET: "new_session_ticket",
    END_OF_EARLY_DATA: "end_of_early_data",
    ENCRYPTED_EXTENSIONS: "encrypted_extensions",
    CERTIFICATE: "certificate",
    SERVER_KEY_EXCHANGE: "server_key_exchange",
    CERTIFICATE_REQUEST: "certificate_request",
    SERVER_HELLO_DONE: "server_hello_done",
    CERTIFICATE_VERIFY: "certificate_verify",
    CLIENT_KEY_EXCHANGE: "client_key_exchange",
    FINISHED: "finished",
    CERTIFICATE_STATUS: "certificate_status",
    KEY_UPDATE: "key_update",
    MESSAGE_HASH: "message_hash",
}

# A HelloRetryRequest is a ServerHello with this random: SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
assert HRR_RANDOM == hashlib.sha256(b"HelloRetryRequest").digest()

EXT_SERVER_NAME = 0
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SCT = 18
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_CERTIFICATE_AUTHORITIES = 47
EXT_SIGNATURE_ALGORITHMS_CERT = 50
EXT_KEY_SHARE = 51
EXT_ENCRYPTED_CLIENT_HELLO = 65037
EXT_RENEGOTIATION_INFO = 65281

EXTENSION_TYPES: dict[int, str] = {
    EXT_SERVER_NAME: "server_name",
    1: "max_fragment_length",
    EXT_STATUS_REQUEST: "status_request",
    EXT_SUPPORTED_GROUPS: "supported_groups",
    EXT_EC_POINT_FORMATS: "ec_point_formats",
    EXT_SIGNATURE_ALGORITHMS: "signature_algorithms",
    14: "use_srtp",
    15: "heartbeat",
    EXT_ALPN: "alpn",  # application_layer_protocol_negotiation
    EXT_SCT: "signed_certificate_timestamp",
    19: "client_certificate_type",
    20: "server_certificate_type",
    21: "padding",
    EXT_ENCRYPT_THEN_MAC: "encrypt_then_mac",
    EXT_EXTENDED_MASTER_SECRET: "extended_master_secret",
    27: "compress_certificate",
    28: "record_size_limit",
    EXT_SESSION_TICKET: "session_ticket",
    EXT_PRE_SHARED_KEY: "pre_shared_key",
    EXT_EARLY_DATA: "early_data",
    EXT_SUPPORTED_VERSIONS: "supported_versions",
    EXT_COOKIE: "cookie",
    EXT_PSK_KEY_EXCHANGE_MODES: "psk_key_exchange_modes",
    EXT_CERTIFICATE_AUTHORITIES: "certificate_authorities",
    48: "oid_filters",
    49: "post_handshake_auth",
    EXT_SIGNATURE_ALGORITHMS_CERT: "signature_algorithms_cert",
    EXT_KEY_SHARE: "key_share",
    57: "quic_transport_parameters",
    17513: "application_settings",
    EXT_ENCRYPTED_CLIENT_HELLO: "encrypted_client_hello",
    EXT_RENEGOTIATION_INFO: "renegotiation_info",
}

ALERT_LEVELS: dict[int, str] = {1: "warning", 2: "fatal"}

ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
    121: "ech_required",
}

GROUPS: dict[int, str] = {
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    29: "x25519",
    30: "x448",
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    259: "ffdhe6144",
    260: "ffdhe8192",
    512: "MLKEM512",
    513: "MLKEM768",
    514: "MLKEM1024",
    4587: "SecP256r1MLKEM768",
    4588: "X25519MLKEM768",
    4589: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
}

PROTOCOL_VERSIONS: dict[int, str] = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}

PSK_KEY_EXCHANGE_MODES: dict[int, str] = {0: "psk_ke", 1: "psk_dhe_ke"}


def _name(table: dict[int, str], value: int) -> str:
    return table.get(value, f"unknown({value})")


def handshake_type_name(msg_type: int) -> str:
    return _name(HANDSHAKE_TYPES, msg_type)


def extension_name(ext_type: int) -> str:
    return _name(EXTENSION_TYPES, ext_type)


def alert_description_name(description: int) -> str:
    return _name(ALERT_DESCRIPTIONS, description)


def alert_level_name(level: int) -> str:
    return _name(ALERT_LEVELS, level)


def group_name(group: int) -> str:
    return _name(GROUPS, group)


def version_name(version: int) -> str:
    if version in PROTOCOL_VERSIONS:
        return PROTOCOL_VERSIONS[version]
    return f"0x{version:04x}"


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


class DecodeError(ValueError):
    """Malformed handshake bytes (the decode_error case)."""


class Reader:
    """A bounds-checked cursor over bytes. Every read that runs past the end raises
    DecodeError naming what was being read."""

    def __init__(self, data: bytes, what: str = "message") -> None:
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def empty(self) -> bool:
        return self._pos >= len(self._data)

    def read(self, n: int, what: str = "field") -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError(f"{self._what}: truncated {what} (needs {n} bytes, "
                              f"{self.remaining()} left)")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def uint(self, size: int, what: str = "integer") -> int:
        return int.from_bytes(self.read(size, what), "big")

    def u8(self, what: str = "uint8") -> int:
        return self.uint(1, what)

    def u16(self, what: str = "uint16") -> int:
        return self.uint(2, what)

    def u24(self, what: str = "uint24") -> int:
        return self.uint(3, what)

    def u32(self, what: str = "uint32") -> int:
        return self.uint(4, what)

    def vector(self, len_size: int, what: str = "vector", min_len: int = 0,
               max_len: int | None = None) -> bytes:
        length = self.uint(len_size, f"{what} length")
        if length < min_len or (max_len is not None and length > max_len):
            raise DecodeError(f"{self._what}: {what} length {length} outside "
                              f"[{min_len}, {max_len if max_len is not None else 'max'}]")
        return self.read(length, what)

    def sub(self, len_size: int, what: str, min_len: int = 0, max_len: int | None = None) -> "Reader":
        return Reader(self.vector(len_size, what, min_len, max_len), f"{self._what}.{what}")

    def end(self, what: str | None = None) -> None:
        if not self.empty():
            raise DecodeError(f"{what or self._what}: {self.remaining()} trailing bytes")


def _u16_list(data: bytes, what: str, len_size: int, min_len: int = 0) -> list[int]:
    r = Reader(data, what)
    inner = r.sub(len_size, "list", min_len=min_len)
    r.end()
    if inner.remaining() % 2:
        raise DecodeError(f"{what}: odd list length")
    out = []
    while not inner.empty():
        out.append(inner.u16())
    return out


# ---------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HandshakeMessage:
    """One handshake message: type, and body (the header's length is len(body))."""

    msg_type: int
    body: bytes

    @property
    def length(self) -> int:
        return len(self.body)

    @property
    def name(self) -> str:
        return handshake_type_name(self.msg_type)

    def encode(self) -> bytes:
        return bytes([self.msg_type]) + len(self.body).to_bytes(3, "big") + self.body


class HandshakeReassembler:
    """Collects handshake bytes from successive records and yields whole messages.
    A message may span records and a record may hold several messages."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[HandshakeMessage]:
        self._buf += data
        out = []
        while len(self._buf) >= 4:
            length = int.from_bytes(self._buf[1:4], "big")
            if len(self._buf) < 4 + length:
                break
            out.append(HandshakeMessage(self._buf[0], bytes(self._buf[4:4 + length])))
            del self._buf[:4 + length]
        return out

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def clear(self) -> None:
        self._buf.clear()


def split_handshake_messages(data: bytes) -> tuple[list[HandshakeMessage], bytes]:
    """Split a handshake byte stream: the whole messages and an incomplete tail."""
    r = HandshakeReassembler()
    messages = r.feed(data)
    return messages, r.pending


# ---------------------------------------------------------------------------
# Extensions
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    ext_type: int
    data: bytes

    @property
    def name(self) -> str:
        return extension_name(self.ext_type)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.ext_type, "name": self.name, "length": len(self.data),
                "data": self.data.hex()}


def _read_extensions(r: Reader, what: str) -> tuple[Extension, ...] | None:
    """The extensions block, or None when the message ends before it (legal in
    TLS 1.2 hellos; the encodings differ, so absence is kept apart from empty)."""
    if r.empty():
        return None
    block = r.sub(2, f"{what} extensions")
    out = []
    while not block.empty():
        ext_type = block.u16("extension type")
        out.append(Extension(ext_type, block.vector(2, f"extension {ext_type} data")))
    return tuple(out)


class _HasExtensions:
    extensions: tuple[Extension, ...] | None

    def extension(self, ext_type: int) -> Extension | None:
        """The first extension of this type (duplicates are kept in `extensions`)."""
        for ext in self.extensions or ():
            if ext.ext_type == ext_type:
                return ext
        return None

    def has_extension(self, ext_type: int) -> bool:
        return self.extension(ext_type) is not None

    def extension_types(self) -> list[int]:
        return [e.ext_type for e in self.extensions or ()]


@dataclass(frozen=True)
class PskIdentity:
    identity: bytes
    obfuscated_ticket_age: int

    def to_json(self) -> dict[str, Any]:
        return {"identity": self.identity.hex(), "obfuscated_ticket_age": self.obfuscated_ticket_age}


@dataclass(frozen=True)
class OfferedPsks:
    identities: tuple[PskIdentity, ...]
    binders: tuple[bytes, ...]
    binders_length: int  # bytes of the binders list including its 2-byte length

    def to_json(self) -> dict[str, Any]:
        return {"identities": [i.to_json() for i in self.identities],
                "binders": [b.hex() for b in self.binders]}


@dataclass(frozen=True)
class KeyShareEntry:
    group: int
    key_exchange: bytes


def _key_share_entry(r: Reader) -> KeyShareEntry:
    group = r.u16("key share group")
    return KeyShareEntry(group, r.vector(2, "key_exchange", min_len=1))


# ---------------------------------------------------------------------------
# Hellos
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientHello(_HasExtensions):
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    extensions: tuple[Extension, ...] | None

    def supported_versions(self) -> list[int] | None:
        ext = self.extension(EXT_SUPPORTED_VERSIONS)
        return None if ext is None else _u16_list(ext.data, "supported_versions", 1, min_len=2)

    def key_shares(self) -> list[KeyShareEntry] | None:
        ext = self.extension(EXT_KEY_SHARE)
        if ext is None:
            return None
        r = Reader(ext.data, "key_share")
        inner = r.sub(2, "client_shares")
        r.end()
        out = []
        while not inner.empty():
            out.append(_key_share_entry(inner))
        return out

    def key_share_groups(self) -> list[int] | None:
        shares = self.key_shares()
        return None if shares is None else [s.group for s in shares]

    def pre_shared_key(self) -> OfferedPsks | None:
        ext = self.extension(EXT_PRE_SHARED_KEY)
        if ext is None:
            return None
        r = Reader(ext.data, "pre_shared_key")
        ids = r.sub(2, "identities", min_len=7)
        identities = []
        while not ids.empty():
            identity = ids.vector(2, "identity", min_len=1)
            identities.append(PskIdentity(identity, ids.u32("obfuscated_ticket_age")))
        binders_start = r.remaining()
        bl = r.sub(2, "binders", min_len=33)
        binders = []
        while not bl.empty():
            binders.append(bl.vector(1, "binder", min_len=32))
        r.end()
        return OfferedPsks(tuple(identities), tuple(binders), binders_start)

    def psk_key_exchange_modes(self) -> list[int] | None:
        ext = self.extension(EXT_PSK_KEY_EXCHANGE_MODES)
        if ext is None:
            return None
        r = Reader(ext.data, "psk_key_exchange_modes")
        modes = r.vector(1, "ke_modes", min_len=1)
        r.end()
        return list(modes)

    def supported_groups(self) -> list[int] | None:
        ext = self.extension(EXT_SUPPORTED_GROUPS)
        return None if ext is None else _u16_list(ext.data, "supported_groups", 2, min_len=2)

    def signature_algorithms(self) -> list[int] | None:
        ext = self.extension(EXT_SIGNATURE_ALGORITHMS)
        return None if ext is None else _u16_list(ext.data, "signature_algorithms", 2, min_len=2)

    def server_name(self) -> str | None:
        ext = self.extension(EXT_SERVER_NAME)
        if ext is None:
            return None
        r = Reader(ext.data, "server_name")
        names = r.sub(2, "server_name_list", min_len=1)
        r.end()
        host = None
        while not names.empty():
            name_type = names.u8("name_type")
            name = names.vector(2, "host_name", min_len=1)
            if name_type == 0 and host is None:
                host = name.decode("ascii", errors="replace")
        return host

    def alpn_protocols(self) -> list[str] | None:
        ext = self.extension(EXT_ALPN)
        return None if ext is None else _alpn_list(ext.data)

    def cookie(self) -> bytes | None:
        ext = self.extension(EXT_COOKIE)
        return None if ext is None else _cookie(ext.data)

    def offers_early_data(self) -> bool:
        return self.has_extension(EXT_EARLY_DATA)

    def to_json(self) -> dict[str, Any]:
        """The summary an observation records. Extension helpers that fail to decode
        leave their field null and add `decode_error`."""
        out: dict[str, Any] = {
            "legacy_version": self.legacy_version,
            "random": self.random.hex(),
            "session_id": self.session_id.hex(),
            "cipher_suites": list(self.cipher_suites),
            "compression_methods": list(self.compression_methods),
            "extensions": None if self.extensions is None else [e.to_json() for e in self.extensions],
        }
        _add_helpers(out, [
            ("supported_versions", self.supported_versions),
            ("supported_groups", self.supported_groups),
            ("key_share_groups", self.key_share_groups),
            ("signature_algorithms", self.signature_algorithms),
            ("pre_shared_key", lambda: _json_or_none(self.pre_shared_key())),
            ("psk_key_exchange_modes", self.psk_key_exchange_modes),
            ("early_data", self.offers_early_data),
            ("server_name", self.server_name),
            ("alpn", self.alpn_protocols),
            ("cookie", lambda: _hex_or_none(self.cookie())),
        ])
        return out


def _json_or_none(value: Any) -> Any:
    return None if value is None else value.to_json()


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _add_helpers(out: dict[str, Any], helpers: list[tuple[str, Any]]) -> None:
    errors = []
    for key, fn in helpers:
        try:
            out[key] = fn()
        except DecodeError as exc:
            out[key] = None
            errors.append(str(exc))
    out["decode_error"] = "; ".join(errors) if errors else None


def _alpn_list(data: bytes) -> list[str]:
    r = Reader(data, "alpn")
    inner = r.sub(2, "protocol_name_list", min_len=2)
    r.end()
    out = []
    while not inner.empty():
        out.append(inner.vector(1, "protocol_name", min_len=1).decode("latin-1"))
    return out


def _cookie(data: bytes) -> bytes:
    r = Reader(data, "cookie")
    value = r.vector(2, "cookie", min_len=1)
    r.end()
    return value


def decode_client_hello(body: bytes) -> ClientHello:
    r = Reader(body, "ClientHello")
    legacy_version = r.u16("legacy_version")
    random = r.read(32, "random")
    session_id = r.vector(1, "legacy_session_id", max_len=32)
    suites_raw = r.vector(2, "cipher_suites", min_len=2)
    if len(suites_raw) % 2:
        raise DecodeError("ClientHello: odd cipher_suites length")
    suites = tuple(int.from_bytes(suites_raw[i:i + 2], "big") for i in range(0, len(suites_raw), 2))
    compression = r.vector(1, "legacy_compression_methods", min_len=1)
    extensions = _read_extensions(r, "ClientHello")
    r.end()
    return ClientHello(legacy_version, random, session_id, suites, compression, extensions)


@dataclass(frozen=True)
class ServerHello(_HasExtensions):
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...] | None

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    def selected_version(self) -> int | None:
        ext = self.extension(EXT_SUPPORTED_VERSIONS)
        if ext is None:
            return None
        r = Reader(ext.data, "supported_versions")
        version = r.u16("selected_version")
        r.end()
        return version

    def negotiated_version(self) -> int:
        """supported_versions when present, else legacy_version (RFC 8446 §4.2.1)."""
        selected = self.selected_version()
        return self.legacy_version if selected is None else selected

    def key_share(self) -> KeyShareEntry | None:
        """The server's share (ServerHello only; an HRR names a group only)."""
        ext = self.extension(EXT_KEY_SHARE)
        if ext is None or self.is_hello_retry_request:
            return None
        r = Reader(ext.data, "key_share")
        entry = _key_share_entry(r)
        r.end()
        return entry

    def selected_group(self) -> int | None:
        """The group of the server's share, or the group an HRR asks for."""
        ext = self.extension(EXT_KEY_SHARE)
        if ext is None:
            return None
        if self.is_hello_retry_request:
            r = Reader(ext.data, "key_share")
            group = r.u16("selected_group")
            r.end()
            return group
        share = self.key_share()
        return None if share is None else share.group

    def selected_identity(self) -> int | None:
        ext = self.extension(EXT_PRE_SHARED_KEY)
        if ext is None:
            return None
        r = Reader(ext.data, "pre_shared_key")
        identity = r.u16("selected_identity")
        r.end()
        return identity

    def cookie(self) -> bytes | None:
        ext = self.extension(EXT_COOKIE)
        return None if ext is None else _cookie(ext.data)

    def alpn_protocol(self) -> str | None:
        ext = self.extension(EXT_ALPN)
        if ext is None:
            return None
        protocols = _alpn_list(ext.data)
        if len(protocols) != 1:
            raise DecodeError("ServerHello: ALPN must name exactly one protocol")
        return protocols[0]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hello_retry_request": self.is_hello_retry_request,
            "legacy_version": self.legacy_version,
            "random": self.random.hex(),
            "session_id": self.session_id.hex(),
            "cipher_suite": self.cipher_suite,
            "cipher_suite_name": suite_name(self.cipher_suite),
            "compression_method": self.compression_method,
            "extensions": None if self.extensions is None else [e.to_json() for e in self.extensions],
        }
        _add_helpers(out, [
            ("selected_version", self.selected_version),
            ("selected_group", self.selected_group),
            ("selected_identity", self.selected_identity),
            ("cookie", lambda: _hex_or_none(self.cookie())),
            ("alpn", self.alpn_protocol),
        ])
        return out


def decode_server_hello(body: bytes) -> ServerHello:
    r = Reader(body, "ServerHello")
    legacy_version = r.u16("legacy_version")
    random = r.read(32, "random")
    session_id = r.vector(1, "legacy_session_id_echo", max_len=32)
    cipher_suite = r.u16("cipher_suite")
    compression = r.u8("legacy_compression_method")
    extensions = _read_extensions(r, "ServerHello")
    r.end()
    return ServerHello(legacy_version, random, session_id, cipher_suite, compression, extensions)


# ---------------------------------------------------------------------------
# Other messages the observer reads
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedExtensions(_HasExtensions):
    extensions: tuple[Extension, ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"extensions": [e.to_json() for e in self.extensions],
                               "early_data": self.has_extension(EXT_EARLY_DATA)}
        alpn = self.extension(EXT_ALPN)
        _add_helpers(out, [("alpn", lambda: None if alpn is None else _alpn_list(alpn.data))])
        return out


def decode_encrypted_extensions(body: bytes) -> EncryptedExtensions:
    r = Reader(body, "EncryptedExtensions")
    extensions = _read_extensions(r, "EncryptedExtensions")
    if extensions is None:
        raise DecodeError("EncryptedExtensions: missing extensions block")
    r.end()
    return EncryptedExtensions(extensions)


@dataclass(frozen=True)
class NewSessionTicket13(_HasExtensions):
    lifetime: int
    age_add: int
    nonce: bytes
    ticket: bytes
    extensions: tuple[Extension, ...]

    def max_early_data_size(self) -> int | None:
        ext = self.extension(EXT_EARLY_DATA)
        if ext is None:
            return None
        r = Reader(ext.data, "early_data")
        size = r.u32("max_early_data_size")
        r.end()
        return size

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ticket_lifetime": self.lifetime,
            "ticket_age_add": self.age_add,
            "ticket_nonce": self.nonce.hex(),
            "ticket": self.ticket.hex(),
            "ticket_sha256": hashlib.sha256(self.ticket).hexdigest(),
            "extensions": [e.to_json() for e in self.extensions],
        }
        _add_helpers(out, [("max_early_data_size", self.max_early_data_size)])
        return out


def decode_new_session_ticket13(body: bytes) -> NewSessionTicket13:
    r = Reader(body, "NewSessionTicket")
    lifetime = r.u32("ticket_lifetime")
    age_add = r.u32("ticket_age_add")
    nonce = r.vector(1, "ticket_nonce")
    ticket = r.vector(2, "ticket", min_len=1)
    extensions = _read_extensions(r, "NewSessionTicket")
    if extensions is None:
        raise DecodeError("NewSessionTicket: missing extensions block")
    r.end()
    return NewSessionTicket13(lifetime, age_add, nonce, ticket, extensions)


@dataclass(frozen=True)
class NewSessionTicket12:
    """RFC 5077 §3.3."""

    lifetime_hint: int
    ticket: bytes

    def to_json(self) -> dict[str, Any]:
        # "lifetime_hint", not "ticket_lifetime": the harness tells the layouts apart by it.
        return {"lifetime_hint": self.lifetime_hint, "ticket": self.ticket.hex(),
                "ticket_sha256": hashlib.sha256(self.ticket).hexdigest()}


def decode_new_session_ticket12(body: bytes) -> NewSessionTicket12:
    r = Reader(body, "NewSessionTicket")
    lifetime = r.u32("ticket_lifetime_hint")
    ticket = r.vector(2, "ticket")
    r.end()
    return NewSessionTicket12(lifetime, ticket)


@dataclass(frozen=True)
class KeyUpdate:
    request_update: int  # 0 update_not_requested, 1 update_requested

    def to_json(self) -> dict[str, Any]:
        return {"request_update": self.request_update}


def decode_key_update(body: bytes) -> KeyUpdate:
    r = Reader(body, "KeyUpdate")
    value = r.u8("request_update")
    r.end()
    if value not in (0, 1):
        raise DecodeError(f"KeyUpdate: request_update {value} is not 0 or 1")
    return KeyUpdate(value)


@dataclass(frozen=True)
class Finished:
    verify_data: bytes

    def to_json(self) -> dict[str, Any]:
        return {"verify_data": self.verify_data.hex()}


def summarize(message: HandshakeMessage, version: int | None) -> dict[str, Any] | None:
    """The JSON summary of the messages an observation describes in detail; None for
    the others. `version` picks the NewSessionTicket layout (TLS 1.3 when unknown
    and the 1.3 layout fits). Raises DecodeError for a malformed message."""
    t, body = message.msg_type, message.body
    if t == CLIENT_HELLO:
        return decode_client_hello(body).to_json()
    if t == SERVER_HELLO:
        return decode_server_hello(body).to_json()
    if t == ENCRYPTED_EXTENSIONS:
        return decode_encrypted_extensions(body).to_json()
    if t == NEW_SESSION_TICKET:
        if version is not None and version < 0x0304:
            return decode_new_session_ticket12(body).to_json()
        return decode_new_session_ticket13(body).to_json()
    if t == KEY_UPDATE:
        return decode_key_update(body).to_json()
    if t == FINISHED:
        return Finished(body).to_json()
    return None
