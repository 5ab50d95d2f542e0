"""When a Go server resumes a session it was offered, and what a Go client does with
the session in its cache, per release line (crypto/tls, read in each release's source).

Server (`server_decision`): `checkForResumption` in handshake_server.go (TLS 1.2) and
handshake_server_tls13.go (TLS 1.3), after the ticket opened and the session parsed:

    check                                   1.19/1.20        1.21-1.25           1.26+
    older than 7 days (createdAt)           skip             skip                skip
    another TLS version                     skip             skip                skip
    TLS 1.2: suite not offered by the       skip             skip                skip
      client, or not enabled on the server
    TLS 1.3: the suite's hash differs       skip             skip                skip
    client certificate required, none in    skip             skip                skip
      the session; certificates in it but
      ClientAuth is NoClientCert
    client leaf expired                     -                skip                skip
    verifying ClientAuth, no stored chain   -                skip                -
    verifying ClientAuth, no stored chain   -                -                   skip
      valid now and rooted in ClientCAs
    TLS 1.2 EMS: the client offers it, the  -                skip                skip
      session lacks it
    TLS 1.2 EMS: the session has it, the    -                abort               abort
      client does not offer it
    after the binder (TLS 1.3) or when      re-verify the    -                   -
      resuming (TLS 1.2): the client chain  chain with the
                                            current ClientCAs,
                                            abort on failure

("skip": the server ignores the session, a full handshake; "abort": the handshake
fails.) Early data, QUIC and FIPS 140-3 mode are not modelled.

Client (`client_decision`): `loadSession` in handshake_client.go decides, for the
session its cache returned, whether to offer it, ignore it, or delete it
(`ClientSessionCache.Put(key, nil)`) and ignore it; a resumption that then fails
deletes it too, and every NewSessionTicket is Put.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Sequence

from cryptography import x509

TLS12, TLS13 = 0x0303, 0x0304
MAX_TICKET_LIFETIME = 7 * 24 * 3600  # maxSessionTicketLifetime
MAX_CLIENT_PSK_IDENTITIES = 5  # maxClientPSKIdentities: a TLS 1.3 server reads no further

#: tls.ClientAuthType, in Go's order (a comparison `>= VerifyClientCertIfGiven` is by this index).
CLIENT_AUTH = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
               "RequireAndVerifyClientCert")

SKIP, RESUME, ABORT = "skip", "resume", "abort"
OFFER, IGNORE, DELETE = "offer", "ignore", "delete"


def _line(release: str) -> tuple[int, int]:
    parts = release.split(".")
    return int(parts[0]), int(parts[1])


@dataclass(frozen=True)
class OfferedSession:
    """What the server read from one ticket: the fields its checks look at.

    certificates: the client's chain (DER, leaf first), empty without client auth;
    verified_chains: as 1.21+ store them (DER, leaf first); 1.19/1.20 store none."""

    version: int
    cipher_suite: int
    created_at: int
    certificates: tuple[bytes, ...] = ()
    verified_chains: tuple[tuple[bytes, ...], ...] = ()
    ext_master_secret: bool = False


@dataclass(frozen=True)
class ServerView:
    """What the server knows when it checks the session: its release line, its clock,
    the negotiated version, its configuration and the ClientHello.

    suite_hash_ok: TLS 1.3, whether the session suite's hash is the negotiated suite's
    (the caller knows the suites); server_suites: TLS 1.2, the suites the server would
    negotiate (Config.CipherSuites or the release's defaults, usable with its certificate);
    client_cas: DER of the roots in Config.ClientCAs."""

    release: str
    now: int
    version: int
    client_suites: tuple[int, ...] = ()
    server_suites: tuple[int, ...] = ()
    suite_hash_ok: bool = True
    client_auth: str = "NoClientCert"
    client_cas: tuple[bytes, ...] = ()
    client_offers_ems: bool = False


@dataclass(frozen=True)
class Decision:
    """What the model predicts: `action` (SKIP, RESUME, ABORT for a server; OFFER, IGNORE,
    DELETE for a client) and the check that decided, in words."""

    action: str
    why: str = ""


def _validity(der: bytes) -> tuple[int, int]:
    cert = x509.load_der_x509_certificate(der)
    return (int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp()))


def _expired(der: bytes, now: int) -> bool:
    return now > _validity(der)[1]


def any_valid_verified_chain(chains: Sequence[Sequence[bytes]], roots: Sequence[bytes], now: int) -> bool:
    """anyValidVerifiedChain (common.go, 1.26+): a chain every certificate of which is
    inside its validity window now, and whose root is one of `roots` (on Linux Go
    verifies the chain's root against the pool: here, the same certificate)."""
    for chain in chains:
        if not chain:
            continue
        if any(not (lo <= now <= hi) for lo, hi in map(_validity, chain)):
            continue
        if chain[-1] in roots:
            return True
    return False


def chain_verifies(chain: Sequence[bytes], roots: Sequence[bytes], now: int) -> bool:
    """What 1.19/1.20's processCertsFromClient asks of a resumed client chain, for the
    deterministic PKI the harness uses: the chain as sent ends below one of `roots`,
    every certificate (the root's too) valid now. Signatures were checked when the
    session was made; the issuer is matched by name."""
    if not chain:
        return False
    certs = [x509.load_der_x509_certificate(c) for c in chain]
    when = _dt.datetime.fromtimestamp(now, _dt.timezone.utc)
    if any(not (c.not_valid_before_utc <= when <= c.not_valid_after_utc) for c in certs):
        return False
    for root_der in roots:
        root = x509.load_der_x509_certificate(root_der)
        if certs[-1].issuer == root.subject and root.not_valid_before_utc <= when <= root.not_valid_after_utc:
            return True
    return False


def server_decision(s: OfferedSession, v: ServerView) -> Decision:
    """Does a Go server of v.release resume session s? (After the ticket opened and the
    session parsed; for TLS 1.3 a valid binder is assumed.)"""
    line = _line(v.release)
    auth = CLIENT_AUTH.index(v.client_auth)
    if v.now - s.created_at > MAX_TICKET_LIFETIME:
        return Decision(SKIP, "the session is older than 7 days (maxSessionTicketLifetime)")
    if s.version != v.version:
        return Decision(SKIP, "the session is of another TLS version")
    if v.version == TLS13:
        if not v.suite_hash_ok:
            return Decision(SKIP, "the session's cipher suite has another hash than the negotiated one")
    else:
        if s.cipher_suite not in v.client_suites:
            return Decision(SKIP, "the client no longer offers the session's cipher suite")
        if s.cipher_suite not in v.server_suites:
            return Decision(SKIP, "the server does not enable the session's cipher suite")
    has_certs = bool(s.certificates)
    if v.client_auth in ("RequireAnyClientCert", "RequireAndVerifyClientCert") and not has_certs:
        return Decision(SKIP, "ClientAuth requires a client certificate and the session has none")
    if has_certs and v.client_auth == "NoClientCert":
        return Decision(SKIP, "the session has client certificates and ClientAuth is NoClientCert")
    if line >= (1, 21):
        if has_certs and _expired(s.certificates[0], v.now):
            return Decision(SKIP, "the session's client certificate has expired")
        verifying = auth >= CLIENT_AUTH.index("VerifyClientCertIfGiven")
        if has_certs and verifying:
            if line >= (1, 26):
                if not any_valid_verified_chain(s.verified_chains, v.client_cas, v.now):
                    return Decision(SKIP, "no stored verified chain is valid now and rooted in the current ClientCAs")
            elif not s.verified_chains:
                return Decision(SKIP, "the session has no verified chains")
        if v.version == TLS12:
            if not s.ext_master_secret and v.client_offers_ems:
                return Decision(SKIP, "the client offers extended_master_secret and the session was made without it")
            if s.ext_master_secret and not v.client_offers_ems:
                return Decision(ABORT, "tls: session supported extended_master_secret but client does not")
    elif has_certs and auth >= CLIENT_AUTH.index("VerifyClientCertIfGiven") \
            and not chain_verifies(s.certificates, v.client_cas, v.now):
        return Decision(ABORT, "1.19/1.20 verify a resumed client chain again against the current ClientCAs "
                               "(processCertsFromClient)")
    return Decision(RESUME)


@dataclass(frozen=True)
class CachedSession:
    """What a Go client keeps for a server: the version and suite, the server's chain
    (DER, leaf first), the chains it verified (empty after InsecureSkipVerify), and for
    TLS 1.3 the time the ticket expires (use_by: received + lifetime)."""

    version: int
    cipher_suite: int
    server_chain: tuple[bytes, ...]
    verified_chains: tuple[tuple[bytes, ...], ...] = ()
    use_by: int = 0


@dataclass(frozen=True)
class ClientView:
    """The client's release line, clock and configuration, and what its hello offers:
    versions, suites (suite_hash_offered: TLS 1.3, whether an offered suite has the
    session suite's hash), and whether the leaf names server_name."""

    release: str
    now: int
    versions: tuple[int, ...]
    suites: tuple[int, ...] = ()
    suite_hash_offered: bool = True
    insecure_skip_verify: bool = False
    name_matches: bool = True
    root_cas: tuple[bytes, ...] = ()


def client_decision(s: CachedSession, v: ClientView) -> Decision:
    """loadSession: offer the cached session, ignore it, or delete it and go on without."""
    line = _line(v.release)
    if s.version not in v.versions:
        return Decision(IGNORE, "the hello does not offer the session's TLS version")
    leaf_expired = _expired(s.server_chain[0], v.now)
    if line >= (1, 21) and leaf_expired:
        return Decision(DELETE, "the server's certificate in the session has expired")
    if not v.insecure_skip_verify:
        if not s.verified_chains:
            return Decision(IGNORE, "the session was made with InsecureSkipVerify and this config verifies")
        if line < (1, 21) and leaf_expired:
            return Decision(DELETE, "the server's certificate in the session has expired")
        if not v.name_matches:
            return Decision(IGNORE, "the server's certificate does not name ServerName")
        if line >= (1, 26) and not any_valid_verified_chain(s.verified_chains, v.root_cas, v.now):
            return Decision(DELETE, "no stored verified chain is valid now and rooted in the current RootCAs")
    if s.version != TLS13:
        if s.cipher_suite not in v.suites:
            return Decision(IGNORE, "the hello does not offer the session's cipher suite")
        return Decision(OFFER)
    if v.now > s.use_by:
        return Decision(DELETE, "the ticket's lifetime is over")
    if not v.suite_hash_offered:
        return Decision(IGNORE, "the hello offers no TLS 1.3 suite with the session's hash")
    return Decision(OFFER)
