"""The certificates every run uses, generated deterministically.

Keys are derived from fixed seeds (the RSA leaves' keys are fixed, `pki_rsa_keys`)
and every certificate is signed with Ed25519, whose signatures are deterministic,
so fingerprints are the same on every run and every machine. Validity windows are placed around the case clock's epoch
(2026-01-01T00:00:00Z) so that cases can move the clock past an expiry.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import pki_rsa_keys

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SERVER_NAME = "example.test"
#: The public name of every ECH configuration (ech.py), which a client whose ECH
#: is rejected checks the server's certificate against.
ECH_PUBLIC_NAME = "public.example.test"


@dataclass(frozen=True)
class Identity:
    """A certificate chain (leaf first) and its private key, as PEM."""

    name: str
    chain_pem: str
    key_pem: str
    fingerprint: str  # SHA-256 of the leaf's DER


@dataclass(frozen=True)
class _Spec:
    issuer: str | None  # None: self-signed root
    is_ca: bool
    not_before: dt.datetime
    not_after: dt.datetime
    server: bool = False
    client: bool = False
    rsa: bool = False  # an RSA leaf (pki_rsa_keys) instead of ECDSA P-256
    dns_names: tuple[str, ...] = (SERVER_NAME,)  # a server leaf's subjectAltName


_DAY = dt.timedelta(days=1)
_LONG_BEFORE = EPOCH - 365 * _DAY
_LONG_AFTER = EPOCH + 4 * 365 * _DAY
_SOON = EPOCH + 2 * _DAY  # "-short" certificates expire two days after the epoch

# The closed set of certificate names a case may use (docs/cases.md).
SPECS: dict[str, _Spec] = {
    "root-a": _Spec(None, True, _LONG_BEFORE, _LONG_AFTER),
    "root-b": _Spec(None, True, _LONG_BEFORE, _LONG_AFTER),
    "inter-a-short": _Spec("root-a", True, _LONG_BEFORE, _SOON),
    "server": _Spec("root-a", False, _LONG_BEFORE, _LONG_AFTER, server=True),
    "server-short": _Spec("root-a", False, _LONG_BEFORE, _SOON, server=True),
    "server-b": _Spec("root-b", False, _LONG_BEFORE, _LONG_AFTER, server=True),
    "server-via-inter-short": _Spec("inter-a-short", False, _LONG_BEFORE, _LONG_AFTER, server=True),
    "server-ech": _Spec("root-a", False, _LONG_BEFORE, _LONG_AFTER, server=True,
                        dns_names=(SERVER_NAME, ECH_PUBLIC_NAME)),
    "client": _Spec("root-a", False, _LONG_BEFORE, _LONG_AFTER, client=True),
    "client-short": _Spec("root-a", False, _LONG_BEFORE, _SOON, client=True),
    "client-b": _Spec("root-b", False, _LONG_BEFORE, _LONG_AFTER, client=True),
    "server-rsa": _Spec("root-a", False, _LONG_BEFORE, _LONG_AFTER, server=True, rsa=True),
    "client-rsa": _Spec("root-a", False, _LONG_BEFORE, _LONG_AFTER, client=True, rsa=True),
}
ROOTS = tuple(n for n, s in SPECS.items() if s.issuer is None)
LEAVES = tuple(n for n, s in SPECS.items() if not s.is_ca)
SERVER_LEAVES = tuple(n for n in LEAVES if SPECS[n].server)
CLIENT_LEAVES = tuple(n for n in LEAVES if SPECS[n].client)


def _seed(name: str) -> bytes:
    return hashlib.sha256(b"tlsdiff-pki/" + name.encode()).digest()


@lru_cache(maxsize=None)
def _key(name: str) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    # CAs sign with Ed25519 (deterministic signatures); leaves use ECDSA P-256,
    # which every Go release and OpenSSL accept in TLS 1.2 and 1.3, or RSA, which
    # TLS 1.2's RSA key exchange and ECDHE_RSA suites need.
    if SPECS[name].is_ca:
        return ed25519.Ed25519PrivateKey.from_private_bytes(_seed(name))
    if SPECS[name].rsa:
        # Our own fixed keys: skipping cryptography's RSA checks saves 0.16 s per key
        # in every process that loads the PKI (the harness, its normalizer worker).
        key = serialization.load_pem_private_key(pki_rsa_keys.key_pem(name), password=None,
                                                 unsafe_skip_rsa_key_validation=True)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    scalar = int.from_bytes(_seed(name), "big") % (2**255)
    return ec.derive_private_key(scalar or 1, ec.SECP256R1())


@lru_cache(maxsize=None)
def _cert(name: str) -> x509.Certificate:
    spec = SPECS[name]
    key = _key(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tlsdiff {name}")])
    issuer_name = spec.issuer or name
    issuer_cert = None if spec.issuer is None else _cert(spec.issuer)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(_seed(name)[:8], "big") >> 1)
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
        .add_extension(x509.BasicConstraints(ca=spec.is_ca, path_length=None), critical=True)
    )
    if spec.is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usages = []
        if spec.server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in spec.dns_names]), critical=False
            )
        if spec.client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    signer = _key(issuer_name)
    return builder.sign(signer, None)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@lru_cache(maxsize=None)
def identity(name: str) -> Identity:
    """A leaf with its chain up to (not including) the root."""
    if name not in LEAVES:
        raise KeyError(name)
    chain = [_cert(name)]
    issuer = SPECS[name].issuer
    while issuer is not None and SPECS[issuer].issuer is not None:
        chain.append(_cert(issuer))
        issuer = SPECS[issuer].issuer
    key_pem = _key(name).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    fp = hashlib.sha256(chain[0].public_bytes(serialization.Encoding.DER)).hexdigest()
    return Identity(name, "".join(_pem(c) for c in chain), key_pem, fp)


@lru_cache(maxsize=None)
def root_pem(name: str) -> str:
    if name not in ROOTS:
        raise KeyError(name)
    return _pem(_cert(name))


@lru_cache(maxsize=None)
def fingerprint_names() -> dict[str, str]:
    """SHA-256 fingerprint -> certificate name, to print names instead of hashes."""
    return {
        hashlib.sha256(_cert(n).public_bytes(serialization.Encoding.DER)).hexdigest(): n for n in SPECS
    }


def der(name: str) -> bytes:
    """The DER of any certificate of the PKI (a root, an intermediate or a leaf)."""
    return _cert(name).public_bytes(serialization.Encoding.DER)


@lru_cache(maxsize=None)
def der_by_fingerprint() -> dict[str, bytes]:
    """SHA-256 fingerprint -> DER, to read the certificates a peer reports back."""
    return {fp: der(name) for fp, name in fingerprint_names().items()}
