"""Handshake message framing, names, and the observer's summaries.

This splits a handshake byte stream into messages and summarizes the messages an
observer needs (ClientHello, ServerHello / HelloRetryRequest, NewSessionTicket,
EncryptedExtensions, KeyUpdate). The decoding itself is `messages`' (one decoder
per message, also used by the engines), run with raw extensions so that one
malformed extension is reported on its own field instead of hiding the message.
Any malformed input raises DecodeError. Nothing here judges semantics (duplicate
extensions, unknown values are reported as they are), because the harness
observes what peers really send.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from . import codec, errors, messages
from . import extensions as ext
from .errors import ALERT_DESCRIPTIONS
from .extensions import (EXT_ALPN, EXT_COOKIE, EXT_EARLY_DATA, EXT_EC_POINT_FORMATS,
                         EXT_EXTENDED_MASTER_SECRET, EXT_KEY_SHARE, EXT_PRE_SHARED_KEY,
                         EXT_PSK_KEY_EXCHANGE_MODES, EXT_RENEGOTIATION_INFO, EXT_SCT, EXT_SERVER_NAME,
                         EXT_SESSION_TICKET, EXT_SIGNATURE_ALGORITHMS, EXT_SIGNATURE_ALGORITHMS_CERT,
                         EXT_STATUS_REQUEST, EXT_SUPPORTED_GROUPS, EXT_SUPPORTED_VERSIONS)
from .messages import (CERTIFICATE, CERTIFICATE_REQUEST, CERTIFICATE_VERIFY, CLIENT_HELLO,
                       ENCRYPTED_EXTENSIONS, END_OF_EARLY_DATA, FINISHED, KEY_UPDATE, MESSAGE_HASH,
                       NEW_SESSION_TICKET, SERVER_HELLO)
from .messages12 import (CLIENT_KEY_EXCHANGE, HELLO_REQUEST, SERVER_HELLO_DONE,
                         SERVER_KEY_EXCHANGE)
from .suites import suite_name

# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

# Type numbers live with the codecs (messages, extensions); these are the names
# observations print, and the few numbers tlspeer does not implement.
CERTIFICATE_STATUS = 22

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
HRR_RANDOM = messages.HRR_RANDOM

# Extensions tlspeer does not implement, named in observations only.
EXT_ENCRYPT_THEN_MAC = 22
EXT_CERTIFICATE_AUTHORITIES = 47
EXT_ENCRYPTED_CLIENT_HELLO = 65037

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
# Reading: one decoder per message, in `messages`; these are the observer's views
# ---------------------------------------------------------------------------

# Re-exported so that observers keep catching the one error decoders raise.
DecodeError = errors.DecodeError
Reader = codec.Reader


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
# Views
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """An extension as it was on the wire."""

    ext_type: int
    data: bytes

    @property
    def name(self) -> str:
        return extension_name(self.ext_type)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.ext_type, "name": self.name, "length": len(self.data),
                "data": self.data.hex()}


def _raw(extensions: list[ext.Extension] | None) -> tuple[Extension, ...] | None:
    if extensions is None:
        return None
    return tuple(Extension(e.ext_type, e.encode_data()) for e in extensions)


class _View:
    """Wraps a message decoded with raw extensions. Helpers decode one extension
    each with its `extensions` class, so a malformed one fails alone."""

    _msg: Any

    @property
    def extensions(self) -> tuple[Extension, ...] | None:
        return _raw(self._msg.extensions)

    def extension(self, ext_type: int) -> Extension | None:
        """The first extension of this type (duplicates are kept in `extensions`)."""
        for e in self.extensions or ():
            if e.ext_type == ext_type:
                return e
        return None

    def has_extension(self, ext_type: int) -> bool:
        return self._msg.has(ext_type)

    def extension_types(self) -> list[int]:
        return self._msg.extension_types()

    def _find(self, cls: Any) -> Any:
        return self._msg.find(cls)


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


KeyShareEntry = ext.KeyShareEntry


class ClientHello(_View):
    def __init__(self, msg: messages.ClientHello) -> None:
        self._msg = msg
        self.legacy_version = msg.legacy_version
        self.random = msg.random
        self.session_id = msg.session_id
        self.cipher_suites = tuple(msg.cipher_suites)
        self.compression_methods = msg.compression_methods

    def supported_versions(self) -> list[int] | None:
        e = self._find(ext.SupportedVersionsClient)
        return None if e is None else e.versions

    def key_shares(self) -> list[KeyShareEntry] | None:
        e = self._find(ext.KeyShareClient)
        return None if e is None else e.shares

    def key_share_groups(self) -> list[int] | None:
        shares = self.key_shares()
        return None if shares is None else [s.group for s in shares]

    def pre_shared_key(self) -> OfferedPsks | None:
        e = self._find(ext.PreSharedKeyClient)
        if e is None:
            return None
        return OfferedPsks(tuple(PskIdentity(i.identity, i.obfuscated_ticket_age) for i in e.identities),
                           tuple(e.binders), len(e.encode_binders()))

    def psk_key_exchange_modes(self) -> list[int] | None:
        e = self._find(ext.PskKeyExchangeModes)
        return None if e is None else e.modes

    def supported_groups(self) -> list[int] | None:
        e = self._find(ext.SupportedGroups)
        return None if e is None else e.groups

    def signature_algorithms(self) -> list[int] | None:
        e = self._find(ext.SignatureAlgorithms)
        return None if e is None else e.schemes

    def server_name(self) -> str | None:
        e = self._find(ext.ServerName)
        return None if e is None else e.host_name

    def alpn_protocols(self) -> list[str] | None:
        e = self._find(ext.ALPN)
        return None if e is None else [p.decode("latin-1") for p in e.protocols]

    def cookie(self) -> bytes | None:
        e = self._find(ext.Cookie)
        return None if e is None else e.cookie

    def offers_early_data(self) -> bool:
        return self.has_extension(ext.EXT_EARLY_DATA)

    def to_json(self) -> dict[str, Any]:
        """The summary an observation records. Extension helpers that fail to decode
        leave their field null and add `decode_error`."""
        out: dict[str, Any] = {
            "legacy_version": self.legacy_version,
            "random": self.random.hex(),
            "session_id": self.session_id.hex(),
            "cipher_suites": list(self.cipher_suites),
            "compression_methods": list(self.compression_methods),
            "extensions": _json_list(self.extensions),
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


def _json_list(extensions: tuple[Extension, ...] | None) -> list[dict[str, Any]] | None:
    return None if extensions is None else [e.to_json() for e in extensions]


def _json_or_none(value: Any) -> Any:
    return None if value is None else value.to_json()


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _add_helpers(out: dict[str, Any], helpers: list[tuple[str, Any]]) -> None:
    errors_ = []
    for key, fn in helpers:
        try:
            out[key] = fn()
        except DecodeError as exc:
            out[key] = None
            errors_.append(str(exc))
    out["decode_error"] = "; ".join(errors_) if errors_ else None


def decode_client_hello(body: bytes) -> ClientHello:
    return ClientHello(messages.ClientHello.decode(body, raw_extensions=True))


class ServerHello(_View):
    def __init__(self, msg: messages.ServerHello) -> None:
        self._msg = msg
        self.legacy_version = msg.legacy_version
        self.random = msg.random
        self.session_id = msg.session_id
        self.cipher_suite = msg.cipher_suite
        self.compression_method = msg.compression_method

    @property
    def is_hello_retry_request(self) -> bool:
        return self._msg.is_hello_retry_request

    def selected_version(self) -> int | None:
        e = self._find(ext.SupportedVersionsServer)
        return None if e is None else e.version

    def negotiated_version(self) -> int:
        """supported_versions when present, else legacy_version (RFC 8446 §4.2.1)."""
        selected = self.selected_version()
        return self.legacy_version if selected is None else selected

    def key_share(self) -> KeyShareEntry | None:
        """The server's share (ServerHello only; an HRR names a group only)."""
        if self.is_hello_retry_request:
            return None
        e = self._find(ext.KeyShareServer)
        return None if e is None else e.share

    def selected_group(self) -> int | None:
        """The group of the server's share, or the group an HRR asks for."""
        if self.is_hello_retry_request:
            e = self._find(ext.KeyShareHelloRetry)
            return None if e is None else e.group
        share = self.key_share()
        return None if share is None else share.group

    def selected_identity(self) -> int | None:
        e = self._find(ext.PreSharedKeyServer)
        return None if e is None else e.selected_identity

    def cookie(self) -> bytes | None:
        e = self._find(ext.Cookie)
        return None if e is None else e.cookie

    def alpn_protocol(self) -> str | None:
        e = self._find(ext.ALPN)
        if e is None:
            return None
        if len(e.protocols) != 1:
            raise DecodeError("ServerHello: ALPN must name exactly one protocol")
        return e.protocols[0].decode("latin-1")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hello_retry_request": self.is_hello_retry_request,
            "legacy_version": self.legacy_version,
            "random": self.random.hex(),
            "session_id": self.session_id.hex(),
            "cipher_suite": self.cipher_suite,
            "cipher_suite_name": suite_name(self.cipher_suite),
            "compression_method": self.compression_method,
            "extensions": _json_list(self.extensions),
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
    return ServerHello(messages.ServerHello.decode(body, raw_extensions=True))


# ---------------------------------------------------------------------------
# Other messages the observer reads
# ---------------------------------------------------------------------------


class EncryptedExtensions(_View):
    def __init__(self, msg: messages.EncryptedExtensions) -> None:
        self._msg = msg

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"extensions": _json_list(self.extensions),
                               "early_data": self.has_extension(ext.EXT_EARLY_DATA)}

        def alpn() -> list[str] | None:
            e = self._find(ext.ALPN)
            return None if e is None else [p.decode("latin-1") for p in e.protocols]
        _add_helpers(out, [("alpn", alpn)])
        return out


def decode_encrypted_extensions(body: bytes) -> EncryptedExtensions:
    return EncryptedExtensions(messages.EncryptedExtensions.decode(body, raw_extensions=True))


class NewSessionTicket13(_View):
    def __init__(self, msg: messages.NewSessionTicket) -> None:
        self._msg = msg
        self.lifetime = msg.lifetime
        self.age_add = msg.age_add
        self.nonce = msg.nonce
        self.ticket = msg.ticket

    def max_early_data_size(self) -> int | None:
        e = self._find(ext.EarlyDataTicket)
        return None if e is None else e.max_early_data_size

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ticket_lifetime": self.lifetime,
            "ticket_age_add": self.age_add,
            "ticket_nonce": self.nonce.hex(),
            "ticket": self.ticket.hex(),
            "ticket_sha256": hashlib.sha256(self.ticket).hexdigest(),
            "extensions": _json_list(self.extensions),
        }
        _add_helpers(out, [("max_early_data_size", self.max_early_data_size)])
        return out


def decode_new_session_ticket13(body: bytes) -> NewSessionTicket13:
    return NewSessionTicket13(messages.NewSessionTicket.decode(body, raw_extensions=True))


class NewSessionTicket12:
    """RFC 5077 §3.3."""

    def __init__(self, msg: messages.NewSessionTicketTLS12) -> None:
        self.lifetime_hint = msg.lifetime_hint
        self.ticket = msg.ticket

    def to_json(self) -> dict[str, Any]:
        # "lifetime_hint", not "ticket_lifetime": the harness tells the layouts apart by it.
        return {"lifetime_hint": self.lifetime_hint, "ticket": self.ticket.hex(),
                "ticket_sha256": hashlib.sha256(self.ticket).hexdigest()}


def decode_new_session_ticket12(body: bytes) -> NewSessionTicket12:
    return NewSessionTicket12(messages.NewSessionTicketTLS12.decode(body))


class KeyUpdate:
    def __init__(self, msg: messages.KeyUpdate) -> None:
        self.request_update = msg.request_update  # 0 update_not_requested, 1 update_requested

    def to_json(self) -> dict[str, Any]:
        return {"request_update": self.request_update}


def decode_key_update(body: bytes) -> KeyUpdate:
    return KeyUpdate(messages.KeyUpdate.decode(body))


class Finished:
    def __init__(self, verify_data: bytes) -> None:
        self.verify_data = verify_data

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
