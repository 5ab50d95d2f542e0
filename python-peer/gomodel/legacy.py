"""The server session layouts of Go 1.19 and 1.20 (crypto/tls ticket.go, sessionState and
sessionStateTLS13), which 1.21 replaced with SessionState.Bytes.

    TLS 1.2:  vers u16 | cipher_suite u16 | created_at u64 | master_secret <u16> |
              certificates <u24>[<u24> DER]
    TLS 1.3:  0x0304 u16 | revision 0 u8 | cipher_suite u16 | created_at u64 |
              resumption_master_secret <u8> | certificate_list (TLS 1.3 Certificate)

The TLS 1.3 secret is the resumption master secret, not the PSK: the server derives
the PSK with an empty ticket nonce when the ticket comes back.
"""
from __future__ import annotations

from dataclasses import dataclass

from .session_state import TLS13, _len, _Reader, _Short, _u24_list, certificate_entries


@dataclass(frozen=True)
class LegacySession:
    version: int
    cipher_suite: int
    created_at: int
    secret: bytes  # TLS 1.2: the master secret; TLS 1.3: the resumption master secret
    certificates: tuple[bytes, ...] = ()
    certificate_extensions: tuple[bytes, ...] = ()  # TLS 1.3 only: each entry's raw extensions


def decode(data: bytes) -> LegacySession:
    """What a 1.19/1.20 server reads from a ticket's plaintext; ValueError if it would not."""
    r = _Reader(data)
    try:
        version = r.uint(2)
        if version == TLS13:
            if r.uint(1) != 0:
                raise ValueError("a TLS 1.3 session's revision is not 0")
            suite, created = r.uint(2), r.uint(8)
            secret = r.vec(1)
            ders, exts = certificate_entries(r.vec(3))
            session = LegacySession(version, suite, created, secret, ders, exts)
        else:
            suite, created = r.uint(2), r.uint(8)
            secret = r.vec(2)
            session = LegacySession(version, suite, created, secret, tuple(_u24_list(r.vec(3))))
    except _Short:
        raise ValueError("the session is cut short or a length is wrong") from None
    if not session.secret:
        raise ValueError("the session's secret is empty")
    if r.left():
        raise ValueError(f"{r.left()} bytes are left after the session")
    return session


def encode(s: LegacySession) -> bytes:
    """The plaintext a 1.19/1.20 server seals for this session."""
    if s.version == TLS13:
        exts = s.certificate_extensions or tuple(b"" for _ in s.certificates)
        certs = b"".join(_len(3, der) + _len(2, ext) for der, ext in zip(s.certificates, exts))
        return (TLS13.to_bytes(2, "big") + b"\x00" + s.cipher_suite.to_bytes(2, "big") + s.created_at.to_bytes(8, "big")
                + _len(1, s.secret) + _len(3, certs))
    return (s.version.to_bytes(2, "big") + s.cipher_suite.to_bytes(2, "big") + s.created_at.to_bytes(8, "big")
            + _len(2, s.secret) + _len(3, b"".join(_len(3, der) for der in s.certificates)))
