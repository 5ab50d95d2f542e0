"""A model of Go's session-state encoding (crypto/tls ticket.go), per release.

`SessionState.Bytes()` is the serialisation Go 1.21+ uses for server tickets and
for client sessions a cache persists. This module parses it the way each release's
`ParseSessionState` does, so that Python can predict which encodings a release
accepts (go-tls-facts §1.4-1.5) and the harness can check the prediction against
the real release.

Layout (u8/u16/u24/u32/u64 big-endian; <uN> a length prefix):
  version u16 | type u8 (1 server, 2 client) | cipher_suite u16 | created_at u64 |
  secret <u8> | extra <u24>[<u24>] | ext_master_secret u8 | early_data u8 |
  certificate_list (TLS 1.3 Certificate encoding) | verified_chains <u24>[<u24>[<u24>]] |
  alpn <u8> (only if early_data) | curve_id u16 (1.25+, only if version < TLS 1.3) |
  use_by u64, age_add u32 (only client type with version >= TLS 1.3)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TLS13 = 0x0304
SERVER, CLIENT = 1, 2

INVALID = "tls: invalid session encoding"
UNKNOWN = "tls: unknown session encoding"
NO_SERVER_CERTS = "tls: no server certificates in client session"


class _Short(Exception):
    pass


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _Short()
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vec(self, n: int) -> bytes:
        return self.take(self.uint(n))

    def left(self) -> int:
        return len(self.data) - self.pos


def _u24_list(data: bytes) -> list[bytes]:
    r, out = _Reader(data), []
    while r.left():
        out.append(r.vec(3))
    return out


def _certificates(r: _Reader) -> int:
    """The TLS 1.3 certificate_list; returns how many certificates it holds."""
    entries = _Reader(r.vec(3))
    count = 0
    while entries.left():
        if not entries.vec(3):
            raise _Short()  # Go rejects an empty certificate
        entries.vec(2)  # per-entry extensions (OCSP, SCT on the leaf)
        count += 1
    return count


@dataclass
class SessionEncoding:
    """What a release's ParseSessionState makes of some bytes."""

    error: str | None
    fields: dict[str, Any] = field(default_factory=dict)


def parse(data: bytes, release: str) -> SessionEncoding:
    """Parse as Go `release` (e.g. "1.24.11") would, checks in the same order.

    Releases before 1.21 have no parser. 1.21-1.24 check the type byte first and
    require the end of the data; 1.25+ check the type after the extra list, read a
    curve_id for TLS 1.2 sessions and ignore trailing bytes (ticket.go).
    """
    major_minor = tuple(int(p) for p in release.split(".")[:2])
    if major_minor < (1, 21):
        return SessionEncoding("unsupported: ParseSessionState was added in Go 1.21")
    new = major_minor >= (1, 25)
    r = _Reader(data)
    f: dict[str, Any] = {}
    try:
        f["version"] = r.uint(2)
        f["type"] = r.uint(1)
        if not new and f["type"] not in (SERVER, CLIENT):
            return SessionEncoding(INVALID, f)
        f["cipher_suite"] = r.uint(2)
        f["created_at"] = r.uint(8)
        secret = r.vec(1)
        extra = r.vec(3)
        f["ext_master_secret"] = r.uint(1)
        f["early_data"] = r.uint(1)
        if not secret:
            return SessionEncoding(INVALID, f)
        f["secret_length"] = len(secret)
        f["certificates"] = _certificates(r)
        f["extra"] = len(_u24_list(extra))
        if new and f["type"] not in (SERVER, CLIENT):
            return SessionEncoding(UNKNOWN, f)
        if f["ext_master_secret"] > 1 or f["early_data"] > 1:
            return SessionEncoding(INVALID, f)
        client = f["type"] == CLIENT
        if new and client and f["certificates"] == 0:
            return SessionEncoding(NO_SERVER_CERTS, f)
        chains = [_u24_list(c) for c in _u24_list(r.vec(3))]
        if chains and f["certificates"] == 0:
            return SessionEncoding(INVALID, f)
        f["verified_chains"] = len(chains)
        if f["early_data"]:
            f["alpn"] = r.vec(1).decode("latin-1")
        if new:
            if f["version"] >= TLS13:
                if client:
                    f["use_by"], f["age_add"] = r.uint(8), r.uint(4)
            else:
                f["curve_id"] = r.uint(2)
            f["trailing_bytes"] = r.left()
            return SessionEncoding(None, f)
        if client and f["certificates"] == 0:
            return SessionEncoding(NO_SERVER_CERTS, f)
        if client and f["version"] >= TLS13:
            f["use_by"], f["age_add"] = r.uint(8), r.uint(4)
        f["trailing_bytes"] = r.left()
        return SessionEncoding(INVALID if r.left() else None, f)
    except _Short:
        return SessionEncoding(INVALID, f)


def describe(data: bytes) -> dict[str, Any]:
    """A release-independent summary of an encoding, for observations: the fields
    as the newest format reads them, and which format wrote it."""
    newest = parse(data, "1.25")
    oldest = parse(data, "1.21")
    fields = dict(newest.fields if newest.error is None else oldest.fields)
    fields.pop("created_at", None)  # the case clock: stable, but not informative here
    fields.pop("use_by", None)
    fields.pop("age_add", None)  # random per ticket
    writer = ("1.25+" if newest.error is None and oldest.error is not None
              else "1.21-1.24" if oldest.error is None and newest.error is not None
              else "any 1.21+" if newest.error is None else "none")
    fields["readable_by"] = writer
    return fields


@dataclass(frozen=True)
class Session:
    """A session as SessionState.Bytes writes it (1.21+). certificates: the peer's chain,
    DER, leaf first; verified_chains: chains without their leaf, as Go stores them."""

    version: int
    type: int
    cipher_suite: int
    created_at: int
    secret: bytes
    extra: tuple[bytes, ...] = ()
    ext_master_secret: bool = False
    early_data: bool = False
    certificates: tuple[bytes, ...] = ()
    certificate_extensions: tuple[bytes, ...] = ()  # each entry's raw extensions (OCSP, SCTs on the leaf)
    verified_chains: tuple[tuple[bytes, ...], ...] = ()
    alpn: str = ""
    curve_id: int = 0  # 1.25+, TLS 1.2 only
    use_by: int = 0  # client type, TLS 1.3 only
    age_add: int = 0  # likewise


def _len(n: int, data: bytes) -> bytes:
    if len(data) >= 1 << (8 * n):
        raise ValueError(f"{len(data)} bytes do not fit a {n}-byte length")
    return len(data).to_bytes(n, "big") + data


def encode(s: Session, release: str) -> bytes:
    """SessionState.Bytes as Go `release` (1.21+) writes it (ticket.go)."""
    major_minor = tuple(int(p) for p in release.split(".")[:2])
    if major_minor < (1, 21):
        raise ValueError("SessionState.Bytes was added in Go 1.21; 1.19 and 1.20 have their own layouts")
    if not s.secret:
        raise ValueError("a session's secret is never empty")
    exts = s.certificate_extensions or tuple(b"" for _ in s.certificates)
    certs = b"".join(_len(3, der) + _len(2, ext) for der, ext in zip(s.certificates, exts))
    out = (s.version.to_bytes(2, "big") + bytes([s.type]) + s.cipher_suite.to_bytes(2, "big")
           + s.created_at.to_bytes(8, "big") + _len(1, s.secret) + _len(3, b"".join(_len(3, e) for e in s.extra))
           + bytes([int(s.ext_master_secret), int(s.early_data)]) + _len(3, certs)
           + _len(3, b"".join(_len(3, b"".join(_len(3, c) for c in chain)) for chain in s.verified_chains)))
    if s.early_data:
        out += _len(1, s.alpn.encode())
    if major_minor >= (1, 25) and s.version < TLS13:
        out += s.curve_id.to_bytes(2, "big")
    if s.type == CLIENT and s.version >= TLS13:
        out += s.use_by.to_bytes(8, "big") + s.age_add.to_bytes(4, "big")
    return out


def certificate_entries(raw: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(DER certificates, their raw extension blocks) of a TLS 1.3 certificate_list body."""
    r, ders, exts = _Reader(raw), [], []
    while r.left():
        ders.append(r.vec(3))
        exts.append(r.vec(2))
    return tuple(ders), tuple(exts)


def decode(data: bytes, release: str) -> Session:
    """The whole session a release's ParseSessionState reads (secret and certificates
    included), so that encode() writes the same bytes again; ValueError if it refuses."""
    verdict = parse(data, release)
    if verdict.error is not None:
        raise ValueError(verdict.error)
    f, r = verdict.fields, _Reader(data)
    r.take(2 + 1 + 2 + 8)
    secret = r.vec(1)
    extra = tuple(_u24_list(r.vec(3)))
    r.take(2)
    ders, exts = certificate_entries(r.vec(3))
    chains = tuple(tuple(_u24_list(c)) for c in _u24_list(r.vec(3)))
    return Session(version=f["version"], type=f["type"], cipher_suite=f["cipher_suite"], created_at=f["created_at"],
                   secret=secret, extra=extra, ext_master_secret=bool(f["ext_master_secret"]),
                   early_data=bool(f["early_data"]), certificates=ders, certificate_extensions=exts,
                   verified_chains=chains, alpn=f.get("alpn", ""), curve_id=f.get("curve_id", 0),
                   use_by=f.get("use_by", 0), age_add=f.get("age_add", 0))
