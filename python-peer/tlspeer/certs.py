"""Certificates: an endpoint's own credential, and verification of a peer's chain.

Chains are verified here rather than with `cryptography.x509.verification`: that
API enforces the Web PKI profile, which forbids the Ed25519 CA keys and requires
the authority key identifiers that the harness's deterministic PKI does without.
What is checked is what Go checks for these simple chains: each signature, each
validity window at the endpoint's own clock, CA basic constraints, extended key
usage of the leaf, and the host name against the subjectAltName DNS names.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import sigschemes
from .errors import BadCertificate, CertificateExpired, TLSError, UnknownCA, UnsupportedCertificate

# (scheme, content to sign) -> signature
Signer = Callable[[int, bytes], bytes]

_MAX_CHAIN = 10


@dataclass
class Credential:
    """A certificate chain (DER, leaf first) and the key that signs for it.

    `signer`, when given, replaces signing with the private key: a test that must
    reproduce a published randomized signature (RSA-PSS, ECDSA) injects it here.
    """

    chain: list[bytes]
    private_key: Any = None
    signer: Signer | None = None
    schemes: list[int] = field(default_factory=list)  # what the key can sign, filled in

    def __post_init__(self) -> None:
        if not self.schemes:
            key = self.private_key if self.private_key is not None else self.public_key()
            self.schemes = sigschemes.schemes_for_key(key)

    @classmethod
    def from_pem(cls, chain_pem: str | bytes, key_pem: str | bytes,
                 signer: Signer | None = None, check_key: bool = True) -> "Credential":
        """check_key=False skips OpenSSL's consistency check of an RSA key (about 50 ms
        for 2048 bits): for keys that were checked where they were made."""
        chain_pem = chain_pem.encode() if isinstance(chain_pem, str) else chain_pem
        key_pem = key_pem.encode() if isinstance(key_pem, str) else key_pem
        chain = [c.public_bytes(serialization.Encoding.DER)
                 for c in x509.load_pem_x509_certificates(chain_pem)]
        key = serialization.load_pem_private_key(key_pem, password=None,
                                                 unsafe_skip_rsa_key_validation=not check_key)
        return cls(chain, key, signer)

    def public_key(self) -> Any:
        return x509.load_der_x509_certificate(self.chain[0]).public_key()

    def sign(self, scheme: int, data: bytes) -> bytes:
        if self.signer is not None:
            return self.signer(scheme, data)
        return sigschemes.sign(self.private_key, scheme, data)


def load_roots(pems: Sequence[str | bytes]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for pem in pems:
        out.extend(x509.load_pem_x509_certificates(pem.encode() if isinstance(pem, str) else pem))
    return out


def parse_chain(chain_der: Sequence[bytes]) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(der) for der in chain_der]
    except ValueError as exc:
        raise BadCertificate(f"tls: failed to parse certificate from server: {exc}") from exc


def _utc(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.timezone.utc)


def _check_time(cert: x509.Certificate, when: dt.datetime) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise CertificateExpired(
            f"x509: certificate has expired or is not yet valid: current time "
            f"{when:%Y-%m-%dT%H:%M:%SZ} is outside [{cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}, "
            f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}]")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _check_usage(leaf: x509.Certificate, purpose: str) -> None:
    wanted = ExtendedKeyUsageOID.SERVER_AUTH if purpose == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if wanted not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
        raise UnsupportedCertificate("x509: certificate specifies an incompatible key usage")


def _match_host(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def check_host(leaf: x509.Certificate, host: str) -> None:
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    if not any(_match_host(n, host) for n in dns):
        valid = ", ".join(dns) if dns else "no DNS names"
        raise BadCertificate(f"x509: certificate is valid for {valid}, not {host}")


def verify_chain(chain_der: Sequence[bytes], roots: Sequence[x509.Certificate], now: float,
                 host: str | None = None, purpose: str = "server") -> list[x509.Certificate]:
    """Verify a peer's chain (leaf first) up to one of `roots` at time `now` (Unix
    seconds). Returns the verified path, root last. Raises UnknownCA,
    CertificateExpired, BadCertificate or UnsupportedCertificate.

    The answer depends on nothing else, so it is remembered: a peer that meets the
    same chain again (every connection of a test run) does not parse and check it
    again, the largest cost of a handshake here after the key exchange."""
    ok, value = _verified(tuple(chain_der), tuple(roots), now, host, purpose)
    if ok:
        return list(value)
    kind, message, alert = value
    raise kind(message, alert)


@lru_cache(maxsize=256)
def _verified(chain_der: tuple[bytes, ...], roots: tuple[x509.Certificate, ...], now: float, host: str | None,
              purpose: str) -> tuple[bool, Any]:
    try:
        return True, tuple(_verify_chain(chain_der, roots, now, host, purpose))
    except TLSError as exc:
        return False, (type(exc), str(exc), exc.alert)


def _verify_chain(chain_der: Sequence[bytes], roots: Sequence[x509.Certificate], now: float,
                  host: str | None, purpose: str) -> list[x509.Certificate]:
    if not chain_der:
        raise BadCertificate("tls: received empty certificates message")
    chain = parse_chain(chain_der)
    when = _utc(now)
    leaf = chain[0]
    _check_usage(leaf, purpose)
    if host is not None:
        check_host(leaf, host)
    path = [leaf]
    pool = chain[1:]
    current = leaf
    for _ in range(_MAX_CHAIN):
        _check_time(current, when)
        if any(current == r for r in roots):
            return path
        root = next((r for r in roots if _issued_by(current, r)), None)
        if root is not None:
            _check_time(root, when)
            return path + [root]
        parent = next((c for c in pool if _is_ca(c) and _issued_by(current, c)), None)
        if parent is None:
            raise UnknownCA("x509: certificate signed by unknown authority")
        pool = [c for c in pool if c is not parent]
        path.append(parent)
        current = parent
    raise UnknownCA("x509: certificate chain too long")
