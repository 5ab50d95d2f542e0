"""What the TLS 1.2 client and server share: versions, the downgrade sentinels,
which suites and groups a TLS 1.2 handshake may use, TLS 1.2 signatures
(RFC 5246 §7.4.1.4.1, §4.7), connection keys from the master secret and the
RFC 5705 exporter.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from . import groups
from .certs import Credential
from .keyschedule import key_block12, prf12
from .record import Record, Tls12CbcProtection, tls12_protection
from .sigschemes import ecdsa_sign
from .suites import NAMED_ONLY, SUITE_BY_ID, SUITE_BY_NAME, CipherSuite

TLS12 = 0x0303
TLS13 = 0x0304
VERSION_NAMES = {"1.2": TLS12, "1.3": TLS13}

# RFC 8446 §4.1.3: the last 8 bytes of a TLS 1.3-capable server's random when it
# negotiates TLS 1.2 (or, with the last byte 0, TLS 1.1 or below).
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"

# Go's default TLS 1.2 suites (cipher_suites.go, with AES hardware) since 1.22,
# which dropped RSA key exchange from the defaults (1.27 disables it unless listed):
# tlspeer uses RSA key exchange only when its cipher_suites list it.
DEFAULT_SUITES_TLS12 = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
)
# The groups ECDHE over TLS 1.2 may use (no ML-KEM: RFC 8422 curves and X25519).
ECDHE_GROUPS = (groups.X25519, groups.SECP256R1, groups.SECP384R1, groups.SECP521R1)

ECDSA_SHA1 = 0x0203
RSA_PKCS1_SHA1 = 0x0201
_HASHES: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    0x0403: hashes.SHA256, 0x0503: hashes.SHA384, 0x0603: hashes.SHA512, ECDSA_SHA1: hashes.SHA1,
    0x0401: hashes.SHA256, 0x0501: hashes.SHA384, 0x0601: hashes.SHA512, RSA_PKCS1_SHA1: hashes.SHA1,
    0x0804: hashes.SHA256, 0x0805: hashes.SHA384, 0x0806: hashes.SHA512,
}
_ECDSA = (0x0403, 0x0503, 0x0603, ECDSA_SHA1)
_PSS = (0x0804, 0x0805, 0x0806)
_PKCS1 = (0x0401, 0x0501, 0x0601, RSA_PKCS1_SHA1)
ED25519 = 0x0807


def version_id(v: str | int) -> int:
    """0x0303 / 0x0304 from "1.2" / "1.3" or the number itself."""
    if isinstance(v, int):
        return v
    try:
        return VERSION_NAMES[v]
    except KeyError:
        raise ValueError(f"TLS version {v!r}: tlspeer speaks 1.2 and 1.3") from None


def versions_between(min_version: int, max_version: int) -> list[int]:
    """The versions a config enables, highest first (the supported_versions order)."""
    return [v for v in (TLS13, TLS12) if min_version <= v <= max_version]


def suite_id(name: str | int) -> int:
    """A suite id from a Go name (or an id). The RC4 suites are known by name only:
    a hello may offer them (a case names every suite Go has), tlspeer cannot run them."""
    if isinstance(name, int):
        return name
    suite = SUITE_BY_NAME.get(name)
    if suite is not None:
        return suite.id
    known = NAMED_ONLY.get(name)
    if known is None:
        raise ValueError(f"{name!r} is not a cipher suite tlspeer knows")
    return known


def tls12_suite(suite_id_: int) -> CipherSuite | None:
    """The TLS 1.2 suite (ECDHE or RSA key exchange) with that id, if we implement it."""
    suite = SUITE_BY_ID.get(suite_id_)
    if suite is None or suite.tls13:
        return None
    return suite


def rsa_key_exchange(suite: CipherSuite) -> bool:
    """Whether the suite's premaster secret is encrypted to the server's RSA key
    (no ServerKeyExchange) rather than agreed by ECDHE."""
    return suite.key_exchange == "RSA"


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------


def key_kind(key: Any) -> str:
    """"ec" (ECDSA and Ed25519 keys sign ECDHE_ECDSA suites) or "rsa"."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa"
    return "ec"


def suite_fits_key(suite: CipherSuite, key: Any) -> bool:
    """An RSA key signs ECDHE_RSA and decrypts RSA key exchange; the others sign
    ECDHE_ECDSA (Go's cipherSuiteOk: rsaSignOk, rsaDecryptOk, ecSignOk)."""
    return (suite.key_exchange in ("ECDHE_RSA", "RSA")) == (key_kind(key) == "rsa")


def schemes_for_key(key: Any) -> tuple[int, ...]:
    """What a key can sign in TLS 1.2: ECDSA is not tied to a curve there."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return (ED25519,)
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return _ECDSA
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return _PSS + _PKCS1
    return ()


#: What a peer that sent no signature_algorithms has offered (RFC 5246 §7.4.1.4.1).
IMPLIED_SCHEMES: tuple[int, ...] = (RSA_PKCS1_SHA1, ECDSA_SHA1)


def select_scheme(peer_schemes: Sequence[int] | None, key: Any) -> int | None:
    """The first of the peer's schemes the key can sign (Go: the peer's order).
    None, no signature_algorithms extension, means IMPLIED_SCHEMES."""
    mine = schemes_for_key(key)
    wanted = IMPLIED_SCHEMES if peer_schemes is None else list(peer_schemes)
    return next((s for s in wanted if s in mine), None)


def sign(cred: Credential, scheme: int, data: bytes) -> bytes:
    if cred.signer is not None:
        return cred.signer(scheme, data)
    key = cred.private_key
    if scheme == ED25519:
        return key.sign(data)
    h = _HASHES[scheme]()
    if scheme in _ECDSA:
        return ecdsa_sign(key, h, data)
    if scheme in _PSS:
        return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    return key.sign(data, padding.PKCS1v15(), h)


def verify(public_key: Any, scheme: int, data: bytes, signature: bytes) -> bool:
    if scheme not in schemes_for_key(public_key):
        return False
    try:
        if scheme == ED25519:
            public_key.verify(signature, data)
            return True
        h = _HASHES[scheme]()
        if scheme in _ECDSA:
            public_key.verify(signature, data, ec.ECDSA(h))
        elif scheme in _PSS:
            public_key.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        else:
            public_key.verify(signature, data, padding.PKCS1v15(), h)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


class _CbcWithRand:
    """CBC protection whose explicit IVs come from the engine's rand (as Go draws
    them from Config.Rand), so a seeded connection is reproducible."""

    def __init__(self, inner: Tls12CbcProtection, rand: Callable[[int], bytes]) -> None:
        self.inner, self._rand = inner, rand

    @property
    def seq(self) -> int:
        return self.inner.seq

    def encrypt(self, content_type: int, plaintext: bytes) -> bytes:
        return self.inner.encrypt(content_type, plaintext, iv=self._rand(self.inner.block_size))

    def decrypt(self, record: Record) -> tuple[int, bytes]:
        return self.inner.decrypt(record)


def protections(suite: CipherSuite, master: bytes, client_random: bytes, server_random: bytes,
                rand: Callable[[int], bytes]) -> tuple[Any, Any]:
    """(client write, server write) record protection from the key block."""
    kb = key_block12(suite.prf_hash, master, client_random, server_random, suite.mac_len,
                     suite.key_len, suite.fixed_iv_len)
    out = []
    for key, iv, mac in ((kb.client_write_key, kb.client_write_iv, kb.client_write_mac_key),
                         (kb.server_write_key, kb.server_write_iv, kb.server_write_mac_key)):
        prot = tls12_protection(suite, key, iv, mac)
        out.append(_CbcWithRand(prot, rand) if isinstance(prot, Tls12CbcProtection) else prot)
    return out[0], out[1]


def export_keying_material(suite: CipherSuite, master: bytes, client_random: bytes,
                           server_random: bytes, label: str, context: bytes | None,
                           length: int) -> bytes:
    """RFC 5705 §4: PRF(master_secret, label, client_random + server_random
    [+ uint16 context length + context]); a nil context adds nothing."""
    seed = client_random + server_random
    if context is not None:
        seed += len(context).to_bytes(2, "big") + context
    return prf12(suite.prf_hash, master, label, seed, length)
