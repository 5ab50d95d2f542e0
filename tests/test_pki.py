"""The deterministic PKI: the same certificates on every run and machine, and RSA leaves
that TLS 1.2's RSA key exchange can use."""
from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlsdiff import pki

# Fixed once: a change here changes every recorded observation that names a certificate.
FINGERPRINTS = {
    "server": "01f97d09ccaa77f40f26ac14f01f97e9258a9b78f235369ae3e3ee0dd51ab2bd",
    "server-rsa": "3f27a2ff8f7817802d50549aaabea0459a013a674be57fefc1fec92d6ea3c73c",
    "client-rsa": "a3ef1960bd9b8cbcaf7daafa4054a24dd808d463fa83c29774b4dafa9d368add",
}


def test_fingerprints_are_fixed() -> None:
    for name, fp in FINGERPRINTS.items():
        assert pki.identity(name).fingerprint == fp == hashlib.sha256(pki.der(name)).hexdigest()
        assert pki.fingerprint_names()[fp] == name


def test_rsa_leaves() -> None:
    for name, usage in (("server-rsa", ExtendedKeyUsageOID.SERVER_AUTH),
                        ("client-rsa", ExtendedKeyUsageOID.CLIENT_AUTH)):
        ident = pki.identity(name)
        cert = x509.load_pem_x509_certificate(ident.chain_pem.encode())
        key = serialization.load_pem_private_key(ident.key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        assert key.public_key().public_numbers().e == 65537
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(pki.root_pem("root-a").encode()))
        assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage([usage])
        assert "TESTING KEY" not in ident.key_pem and "BEGIN PRIVATE KEY" in ident.key_pem


def test_leaf_kinds() -> None:
    assert pki.SERVER_LEAVES == ("server", "server-short", "server-b", "server-via-inter-short", "server-ech",
                                 "server-rsa")
    assert pki.CLIENT_LEAVES == ("client", "client-short", "client-b", "client-rsa")
    for name in pki.LEAVES:
        key = serialization.load_pem_private_key(pki.identity(name).key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey if name.endswith("-rsa") else ec.EllipticCurvePrivateKey)
