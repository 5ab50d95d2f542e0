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

`parse` says what a release's parser makes of bytes; `outcome` adds what its
`SessionState.Bytes()` writes again for them, as the session fuzzer compares it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection

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


EXT_STATUS_REQUEST, EXT_SCT, STATUS_TYPE_OCSP = 5, 18, 1
X509_MALFORMED = "x509: malformed certificate"  # crypto/x509 parseCertificate on bytes that are no DER SEQUENCE


def _certificate_list(r: _Reader) -> tuple[list[bytes], bytes | None, list[bytes] | None]:
    """handshake_messages.go unmarshalCertificate: the DER certificates, the leaf's OCSP
    staple and SCTs (None when absent). An empty DER passes here (crypto/x509 refuses it
    later); the leaf's status_request and SCT extensions must be well formed, a later
    status_request replaces an earlier one, SCT lists add up; other extensions, and every
    extension of a non-leaf entry, are skipped after their framing is checked."""
    entries = _Reader(r.vec(3))
    ders: list[bytes] = []
    ocsp: bytes | None = None
    scts: list[bytes] | None = None
    while entries.left():
        ders.append(entries.vec(3))
        exts = _Reader(entries.vec(2))
        while exts.left():
            ext_type, ext = exts.uint(2), _Reader(exts.vec(2))
            if len(ders) > 1 or ext_type not in (EXT_STATUS_REQUEST, EXT_SCT):
                continue
            if ext_type == EXT_STATUS_REQUEST:
                if ext.uint(1) != STATUS_TYPE_OCSP:
                    raise _Short()
                ocsp = ext.vec(3)
                if not ocsp:
                    raise _Short()
            else:
                sct_list = _Reader(ext.vec(2))
                if not sct_list.left():
                    raise _Short()
                while sct_list.left():
                    sct = sct_list.vec(2)
                    if not sct:
                        raise _Short()
                    scts = (scts or []) + [sct]
            if ext.left():
                raise _Short()
    return ders, ocsp, scts


class _X509(Exception):
    """crypto/x509 refuses a certificate: the parse stops with its error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Certs:
    """Go's x509.ParseCertificate as far as the model knows it. An empty DER is always
    "x509: malformed certificate". With `known` (DERs Go is known to parse) any other
    DER is uncertain: the model goes on as if it parses and notes that Go may instead
    have stopped there with an x509 error (`pending`); without `known`, every non-empty
    DER is taken to parse."""

    def __init__(self, known: Collection[bytes] | None) -> None:
        self.known, self.pending = known, False

    def check(self, der: bytes) -> None:
        if not der:
            raise _X509(X509_MALFORMED)
        if self.known is not None and der not in self.known:
            self.pending = True


@dataclass
class SessionEncoding:
    """What a release's ParseSessionState makes of some bytes."""

    error: str | None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """ParseSessionState then Bytes() on a release: `error` (Go's string) or the bytes
    Bytes() writes for what was parsed. `x509_pending`: a certificate the model cannot
    judge was parsed before this outcome, so Go may have stopped there instead with
    an error from crypto/x509 (any text not starting with "tls: ")."""

    error: str | None
    reencoded: bytes | None = None
    x509_pending: bool = False

    def admits(self, error: str | None, reencoded: bytes | None) -> bool:
        """Is what Go did (its error, or the bytes it wrote) this outcome, or the x509 stop it leaves open?"""
        if error is not None and self.x509_pending and not error.startswith("tls: "):
            return True
        return (error, reencoded) == (self.error, self.reencoded)


def _is_new(release: str) -> bool | None:
    """True for 1.25+, False for 1.21-1.24, None before 1.21 (no parser)."""
    major_minor = tuple(int(p) for p in release.split(".")[:2])
    return None if major_minor < (1, 21) else major_minor >= (1, 25)


def parser_line(release: str) -> str:
    """The first line whose ParseSessionState and Bytes() this 1.21+ release has: "1.21" or "1.25"."""
    new = _is_new(release)
    if new is None:
        raise ValueError("ParseSessionState was added in Go 1.21")
    return "1.25" if new else "1.21"


def _read(data: bytes, new: bool, certs: _Certs) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """ParseSessionState of ticket.go, check for check in Go's order: (error, fields, the
    parsed state as Bytes() needs it). 1.21-1.24 check the type byte first and require the
    end of the data; 1.25+ check the type after the extra list, refuse a client session
    without certificates before the verified chains, read a curve_id for TLS 1.2 sessions
    and ignore trailing bytes."""
    r = _Reader(data)
    f: dict[str, Any] = {}
    st: dict[str, Any] = {}
    try:
        try:
            f["version"] = r.uint(2)
            f["type"] = r.uint(1)
            if not new and f["type"] not in (SERVER, CLIENT):
                return INVALID, f, st
            f["cipher_suite"] = r.uint(2)
            f["created_at"] = r.uint(8)
            st["secret"] = r.vec(1)
            extra = r.vec(3)
            f["ext_master_secret"] = r.uint(1)
            f["early_data"] = r.uint(1)
            if not st["secret"]:
                return INVALID, f, st
            f["secret_length"] = len(st["secret"])
            ders, st["ocsp"], st["scts"] = _certificate_list(r)
            f["certificates"] = len(ders)
            st["extra"] = _u24_list(extra)
            f["extra"] = len(st["extra"])
        except _Short:
            return INVALID, f, st
        if new and f["type"] not in (SERVER, CLIENT):
            return UNKNOWN, f, st
        if f["ext_master_secret"] > 1 or f["early_data"] > 1:
            return INVALID, f, st
        client = f["type"] == CLIENT
        for der in ders:
            certs.check(der)
        st["certificates"] = ders
        if new and client and not ders:
            return NO_SERVER_CERTS, f, st
        try:
            chains: list[list[bytes]] = []
            chain_list = _Reader(r.vec(3))
            while chain_list.left():
                cert_list = _Reader(chain_list.vec(3))
                if not ders:
                    return INVALID, f, st
                chain: list[bytes] = []
                while cert_list.left():
                    der = cert_list.vec(3)
                    certs.check(der)
                    chain.append(der)
                chains.append(chain)
            st["verified_chains"] = chains
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
                return None, f, st
            if not client:
                f["trailing_bytes"] = r.left()
                return (INVALID if r.left() else None), f, st
            if not ders:
                return NO_SERVER_CERTS, f, st
            if f["version"] >= TLS13:
                f["use_by"], f["age_add"] = r.uint(8), r.uint(4)
            f["trailing_bytes"] = r.left()
            return (INVALID if r.left() else None), f, st
        except _Short:
            return INVALID, f, st
    except _X509 as exc:
        return exc.message, f, st


def parse(data: bytes, release: str, known_certificates: Collection[bytes] | None = None) -> SessionEncoding:
    """Parse as Go `release` (e.g. "1.24.11") would, checks in the same order (ticket.go
    ParseSessionState). known_certificates: see `_Certs`; by default every non-empty
    certificate is taken to parse."""
    new = _is_new(release)
    if new is None:
        return SessionEncoding("unsupported: ParseSessionState was added in Go 1.21")
    error, fields, _ = _read(data, new, _Certs(known_certificates))
    return SessionEncoding(error, fields)


def _bytes(f: dict[str, Any], st: dict[str, Any], new: bool) -> bytes:
    """SessionState.Bytes of a parsed state (ticket.go; marshalCertificate in
    handshake_messages.go): the leaf's OCSP staple and SCTs in one extension each, no
    other extension; each verified chain without its leaf."""
    def leaf_extensions() -> bytes:
        out = b""
        if st["ocsp"] is not None:
            out += EXT_STATUS_REQUEST.to_bytes(2, "big") + _len(2, bytes([STATUS_TYPE_OCSP]) + _len(3, st["ocsp"]))
        if st["scts"] is not None:
            out += EXT_SCT.to_bytes(2, "big") + _len(2, _len(2, b"".join(_len(2, s) for s in st["scts"])))
        return out
    certs = b"".join(_len(3, der) + _len(2, leaf_extensions() if i == 0 else b"")
                     for i, der in enumerate(st["certificates"]))
    client = f["type"] == CLIENT
    out = (f["version"].to_bytes(2, "big") + bytes([CLIENT if client else SERVER]) + f["cipher_suite"].to_bytes(2, "big")
           + f["created_at"].to_bytes(8, "big") + _len(1, st["secret"]) + _len(3, b"".join(_len(3, e) for e in st["extra"]))
           + bytes([f["ext_master_secret"], f["early_data"]]) + _len(3, certs)
           + _len(3, b"".join(_len(3, b"".join(_len(3, c) for c in chain)) for chain in st["verified_chains"])))
    if f["early_data"]:
        out += _len(1, f["alpn"].encode("latin-1"))
    if client and f["version"] >= TLS13:
        out += f["use_by"].to_bytes(8, "big") + f["age_add"].to_bytes(4, "big")
    elif new and f["version"] < TLS13:
        out += f["curve_id"].to_bytes(2, "big")
    return out


def outcome(data: bytes, release: str, known_certificates: Collection[bytes] | None = None) -> Outcome:
    """ParseSessionState then SessionState.Bytes() as Go `release` (1.21+) does them: the
    error, or the bytes Go writes again for what it parsed."""
    new = _is_new(release)
    if new is None:
        raise ValueError("ParseSessionState was added in Go 1.21")
    certs = _Certs(known_certificates)
    error, f, st = _read(data, new, certs)
    if error is not None:
        return Outcome(error, None, certs.pending)
    try:
        return Outcome(None, _bytes(f, st, new), certs.pending)
    except ValueError as exc:  # a length Bytes() cannot write (SCT lists that only fit apart)
        return Outcome(f"Bytes: {exc}", None, certs.pending)


#: Why a session describe() says only some releases read does not parse on the others:
#: what changed in SessionState's encoding between them.
WHY_UNREADABLE = {
    "1.25+": "1.25 added the ECDHE group (curveID) to TLS 1.2 sessions, which 1.21-1.24 do not expect",
    "1.21-1.24": "1.25 added the ECDHE group (curveID) to TLS 1.2 sessions, and reads one this session lacks",
}


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
