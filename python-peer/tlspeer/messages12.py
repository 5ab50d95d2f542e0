"""The handshake messages only TLS 1.2 has (RFC 5246 §7.4, RFC 8422 §5.4, RFC 5077
§3.3), in the style of `messages`: `encode()` gives the whole message,
`decode(body)` reads a body exactly and raises only DecodeError.

ClientHello, ServerHello, CertificateVerify and Finished have the same layout in
both versions and live in `messages`; so does `NewSessionTicketTLS12`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .codec import Reader, u16_vec, uint, vec
from .errors import DecodeError
from .messages import CERTIFICATE, CERTIFICATE_REQUEST, Message

HELLO_REQUEST = 0
SERVER_KEY_EXCHANGE = 12
SERVER_HELLO_DONE = 14
CLIENT_KEY_EXCHANGE = 16

NAMED_CURVE = 3  # ECCurveType named_curve (RFC 8422 §5.4)
CERT_TYPE_RSA_SIGN = 1
CERT_TYPE_ECDSA_SIGN = 64


@dataclass(slots=True)
class Certificate12(Message):
    """certificate_list: DER certificates, leaf first, no request context."""

    msg_type: ClassVar[int] = CERTIFICATE
    chain: list[bytes] = field(default_factory=list)

    def encode_body(self) -> bytes:
        return vec(3, b"".join(vec(3, der) for der in self.chain))

    @classmethod
    def decode(cls, body: bytes) -> "Certificate12":
        r = Reader(body, "Certificate")
        inner = r.sub(3, "certificate_list")
        r.end()
        chain = []
        while not inner.empty():
            chain.append(inner.vector(3, "ASN.1Cert", min_len=1))
        return cls(chain)


@dataclass(slots=True)
class ServerKeyExchange(Message):
    """ECDHE parameters (named curve and the server's point) and their signature
    over client_random + server_random + params."""

    msg_type: ClassVar[int] = SERVER_KEY_EXCHANGE
    group: int
    public: bytes
    scheme: int = 0
    signature: bytes = b""
    curve_type: int = NAMED_CURVE

    def params(self) -> bytes:
        return uint(self.curve_type, 1) + uint(self.group, 2) + vec(1, self.public)

    def encode_body(self) -> bytes:
        return self.params() + uint(self.scheme, 2) + vec(2, self.signature)

    @classmethod
    def decode(cls, body: bytes) -> "ServerKeyExchange":
        r = Reader(body, "ServerKeyExchange")
        curve_type = r.u8("curve_type")
        if curve_type != NAMED_CURVE:
            raise DecodeError(f"ServerKeyExchange: curve_type {curve_type} is not named_curve")
        group = r.u16("namedcurve")
        public = r.vector(1, "point", min_len=1)
        scheme = r.u16("signature algorithm")
        signature = r.vector(2, "signature")
        r.end()
        return cls(group, public, scheme, signature, curve_type)


@dataclass(slots=True)
class CertificateRequest12(Message):
    msg_type: ClassVar[int] = CERTIFICATE_REQUEST
    certificate_types: bytes = bytes([CERT_TYPE_RSA_SIGN, CERT_TYPE_ECDSA_SIGN])
    schemes: list[int] = field(default_factory=list)
    authorities: list[bytes] = field(default_factory=list)  # DER distinguished names

    def encode_body(self) -> bytes:
        return (vec(1, self.certificate_types) + u16_vec(2, self.schemes)
                + vec(2, b"".join(vec(2, dn) for dn in self.authorities)))

    @classmethod
    def decode(cls, body: bytes) -> "CertificateRequest12":
        r = Reader(body, "CertificateRequest")
        types = r.vector(1, "certificate_types", min_len=1)
        schemes = r.u16_list(2, "supported_signature_algorithms", min_len=2)
        inner = r.sub(2, "certificate_authorities")
        r.end()
        authorities = []
        while not inner.empty():
            authorities.append(inner.vector(2, "DistinguishedName", min_len=1))
        return cls(types, schemes, authorities)


class _Empty(Message):
    def encode_body(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, body: bytes):  # type: ignore[no-untyped-def,override]
        if body:
            raise DecodeError(f"{cls.__name__}: {len(body)} bytes in an empty message")
        return cls()


@dataclass(slots=True)
class ServerHelloDone(_Empty):
    msg_type: ClassVar[int] = SERVER_HELLO_DONE


@dataclass(slots=True)
class HelloRequest(_Empty):
    msg_type: ClassVar[int] = HELLO_REQUEST


@dataclass(slots=True)
class ClientKeyExchange(Message):
    """The client's ECDHE point (RFC 8422 §5.7); RSA key exchange has
    `EncryptedPreMasterSecret` instead."""

    msg_type: ClassVar[int] = CLIENT_KEY_EXCHANGE
    public: bytes

    def encode_body(self) -> bytes:
        return vec(1, self.public)

    @classmethod
    def decode(cls, body: bytes) -> "ClientKeyExchange":
        r = Reader(body, "ClientKeyExchange")
        public = r.vector(1, "ecdh_Yc", min_len=1)
        r.end()
        return cls(public)


@dataclass(slots=True)
class EncryptedPreMasterSecret(Message):
    """The ClientKeyExchange of RSA key exchange: the premaster secret encrypted to
    the server's key, with a u16 length (RFC 5246 §7.4.7.1)."""

    msg_type: ClassVar[int] = CLIENT_KEY_EXCHANGE
    ciphertext: bytes

    def encode_body(self) -> bytes:
        return vec(2, self.ciphertext)

    @classmethod
    def decode(cls, body: bytes) -> "EncryptedPreMasterSecret":
        r = Reader(body, "ClientKeyExchange")
        ciphertext = r.vector(2, "EncryptedPreMasterSecret")
        r.end()
        return cls(ciphertext)
