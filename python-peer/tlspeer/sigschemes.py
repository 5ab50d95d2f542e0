"""TLS 1.3 signature schemes (RFC 8446 §4.2.3) and CertificateVerify content (§4.4.3)."""
from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ECDSA_SECP256R1_SHA256 = 0x0403
ECDSA_SECP384R1_SHA384 = 0x0503
ECDSA_SECP521R1_SHA512 = 0x0603
ED25519 = 0x0807
RSA_PSS_RSAE_SHA256 = 0x0804
RSA_PSS_RSAE_SHA384 = 0x0805
RSA_PSS_RSAE_SHA512 = 0x0806
RSA_PKCS1_SHA256 = 0x0401
RSA_PKCS1_SHA384 = 0x0501
RSA_PKCS1_SHA512 = 0x0601

SCHEME_NAMES: dict[int, str] = {
    ECDSA_SECP256R1_SHA256: "ecdsa_secp256r1_sha256",
    ECDSA_SECP384R1_SHA384: "ecdsa_secp384r1_sha384",
    ECDSA_SECP521R1_SHA512: "ecdsa_secp521r1_sha512",
    ED25519: "ed25519",
    RSA_PSS_RSAE_SHA256: "rsa_pss_rsae_sha256",
    RSA_PSS_RSAE_SHA384: "rsa_pss_rsae_sha384",
    RSA_PSS_RSAE_SHA512: "rsa_pss_rsae_sha512",
    RSA_PKCS1_SHA256: "rsa_pkcs1_sha256",
    RSA_PKCS1_SHA384: "rsa_pkcs1_sha384",
    RSA_PKCS1_SHA512: "rsa_pkcs1_sha512",
}

# What a TLS 1.3 CertificateVerify may use (no PKCS#1 v1.5: RFC 8446 §4.4.3).
CERTIFICATE_VERIFY_SCHEMES: tuple[int, ...] = (
    RSA_PSS_RSAE_SHA256, ECDSA_SECP256R1_SHA256, ED25519, RSA_PSS_RSAE_SHA384,
    RSA_PSS_RSAE_SHA512, ECDSA_SECP384R1_SHA384, ECDSA_SECP521R1_SHA512,
)
# What we advertise: Go's order, with PKCS#1 kept for certificate signatures.
DEFAULT_SCHEMES: tuple[int, ...] = (
    RSA_PSS_RSAE_SHA256, ECDSA_SECP256R1_SHA256, ED25519, RSA_PSS_RSAE_SHA384,
    RSA_PSS_RSAE_SHA512, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512,
    ECDSA_SECP384R1_SHA384, ECDSA_SECP521R1_SHA512,
)

_PSS_HASHES = {RSA_PSS_RSAE_SHA256: hashes.SHA256, RSA_PSS_RSAE_SHA384: hashes.SHA384,
               RSA_PSS_RSAE_SHA512: hashes.SHA512}
_ECDSA = {ECDSA_SECP256R1_SHA256: ("secp256r1", hashes.SHA256),
          ECDSA_SECP384R1_SHA384: ("secp384r1", hashes.SHA384),
          ECDSA_SECP521R1_SHA512: ("secp521r1", hashes.SHA512)}


def schemes_for_key(key: Any) -> list[int]:
    """The CertificateVerify schemes a key (private or public) can make or check."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return [ED25519]
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return [s for s, (curve, _) in _ECDSA.items() if curve == key.curve.name]
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return [RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384, RSA_PSS_RSAE_SHA512]
    return []


def signed_content(server: bool, transcript_digest: bytes) -> bytes:
    """64 spaces, the context string, a zero byte, the transcript hash (§4.4.3)."""
    context = b"TLS 1.3, server CertificateVerify" if server else b"TLS 1.3, client CertificateVerify"
    return b" " * 64 + context + b"\x00" + transcript_digest


def sign(key: Any, scheme: int, data: bytes) -> bytes:
    """Sign with a private key. ECDSA and RSA-PSS are randomized by the library; ECDSA's
    length is fixed (ecdsa_sign)."""
    if scheme == ED25519:
        return key.sign(data)
    if scheme in _ECDSA:
        return ecdsa_sign(key, _ECDSA[scheme][1](), data)
    if scheme in _PSS_HASHES:
        h = _PSS_HASHES[scheme]()
        return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    raise ValueError(f"cannot sign with scheme 0x{scheme:04x}")


#: Each curve's group order n: (r, n - s) is as valid a signature as (r, s).
_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                     "581A0DB248B0A77AECEC196ACCC52973", 16),
    "secp521r1": int("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
                     "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16),
}


def ecdsa_sign(key: ec.EllipticCurvePrivateKey, algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    """ECDSA in its longest DER encoding (72 bytes on P-256): r and s as long as the
    curve's order. A randomized signature is 70 to 72 bytes from one run to the next, and
    an edit placed by counting (flip_byte's offset is taken modulo the message's length)
    fell on a different byte each run: the same case gave different outcomes. s is taken
    as the larger of s and n - s; r is drawn again until it is long enough (about one
    signature in two)."""
    n = _ORDERS[key.curve.name]
    bits = n.bit_length()
    while True:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(algorithm)))
        s = max(s, n - s)
        if r.bit_length() == bits and s.bit_length() == bits:
            return encode_dss_signature(r, s)


def verify(public_key: Any, scheme: int, data: bytes, signature: bytes) -> bool:
    """Check a CertificateVerify signature; False for a bad signature, a scheme the
    key cannot use, or one TLS 1.3 forbids there."""
    if scheme not in schemes_for_key(public_key):
        return False
    try:
        if scheme == ED25519:
            public_key.verify(signature, data)
        elif scheme in _ECDSA:
            public_key.verify(signature, data, ec.ECDSA(_ECDSA[scheme][1]()))
        else:
            h = _PSS_HASHES[scheme]()
            public_key.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    except (InvalidSignature, ValueError):
        return False
    return True
