"""Key exchange groups (RFC 8446 §4.2.7, draft-ietf-tls-ecdhe-mlkem, draft-ietf-tls-mlkem).

A client makes a `KeyShare` (private part + the bytes it sends); the server answers
a client share with `server_exchange` (its bytes + the shared secret); the client
finishes with `KeyShare.shared_secret`. Private keys come from the caller's
`rand`, so traces are reproducible; ML-KEM encapsulation draws its own randomness
inside `cryptography`, which offers no way to inject it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from .errors import IllegalParameter

try:
    from cryptography.hazmat.primitives.asymmetric import mlkem as _mlkem
    MLKEM_UNAVAILABLE: str | None = None
except ImportError:  # pragma: no cover - depends on the installed cryptography
    _mlkem = None  # type: ignore[assignment]
    MLKEM_UNAVAILABLE = "this version of cryptography has no ML-KEM (needs 47 or later)"

Rand = Callable[[int], bytes]

X25519 = 29
SECP256R1 = 23
SECP384R1 = 24
SECP521R1 = 25
X25519MLKEM768 = 4588
SECP256R1MLKEM768 = 4587
SECP384R1MLKEM1024 = 4589
MLKEM1024 = 514

# Go's names (tls.CurveID.String and the case vocabulary).
GROUP_IDS: dict[str, int] = {
    "X25519": X25519, "P256": SECP256R1, "P384": SECP384R1, "P521": SECP521R1,
    "X25519MLKEM768": X25519MLKEM768, "SecP256r1MLKEM768": SECP256R1MLKEM768,
    "SecP384r1MLKEM1024": SECP384R1MLKEM1024, "MLKEM1024": MLKEM1024,
}
GROUP_NAMES: dict[int, str] = {v: k for k, v in GROUP_IDS.items()}

_CURVES: dict[int, tuple[ec.EllipticCurve, int]] = {
    SECP256R1: (ec.SECP256R1(), 32), SECP384R1: (ec.SECP384R1(), 48),
    SECP521R1: (ec.SECP521R1(), 66),
}
# Hybrids: (ML-KEM part, classical part, ML-KEM first?). X25519MLKEM768 puts the
# ML-KEM value first; the SecP ones put the ECDH value first.
_HYBRIDS: dict[int, tuple[int, int, bool]] = {
    X25519MLKEM768: (768, X25519, True),
    SECP256R1MLKEM768: (768, SECP256R1, False),
    SECP384R1MLKEM1024: (1024, SECP384R1, False),
}
_MLKEM_SIZES = {768: (1184, 1088), 1024: (1568, 1568)}  # (encapsulation key, ciphertext)


def unavailable_reason(group: int) -> str | None:
    """Why a group cannot be used here, or None when it can."""
    if group in _HYBRIDS or group == MLKEM1024:
        return MLKEM_UNAVAILABLE
    if group == X25519 or group in _CURVES:
        return None
    return f"group {group} is not implemented"


def group_id(name: str | int) -> int:
    if isinstance(name, int):
        return name
    try:
        return GROUP_IDS[name]
    except KeyError:
        raise ValueError(f"unknown group {name!r}; known: {', '.join(GROUP_IDS)}") from None


def _bad_share(group: int) -> IllegalParameter:
    return IllegalParameter(f"tls: invalid key share for group {GROUP_NAMES.get(group, group)}")


# ---------------------------------------------------------------------------
# Classical parts
# ---------------------------------------------------------------------------


# A private key is a function of the bytes drawn for it, and a peer seeded by the case
# draws the same bytes for every release it meets: the keys made last are remembered
# with their public bytes, so eight releases cost one key generation. The key objects
# are immutable, so sharing them between connections and threads is safe.
_KEYS_REMEMBERED = 256


def _ecdh_private(group: int, rand: Rand) -> tuple[Any, bytes]:
    """(private key, public bytes)."""
    size = 32 if group == X25519 else _CURVES[group][1]
    # A NIST scalar out of range is vanishingly rare; draw again rather than bias it.
    while True:
        made = _ecdh_key(group, rand(size))
        if made is not None:
            return made


@lru_cache(maxsize=_KEYS_REMEMBERED)
def _ecdh_key(group: int, raw: bytes) -> tuple[Any, bytes] | None:
    """The key these drawn bytes make, or None when they are no scalar of the curve."""
    if group == X25519:
        key = x25519.X25519PrivateKey.from_private_bytes(raw)
        return key, key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    curve, _ = _CURVES[group]
    scalar = int.from_bytes(raw, "big")
    if group == SECP521R1:
        scalar &= (1 << 521) - 1
    try:
        key = ec.derive_private_key(scalar, curve)
    except ValueError:
        return None
    return key, key.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)


def _ecdh_shared(group: int, key: Any, peer: bytes) -> bytes:
    try:
        if group == X25519:
            if len(peer) != 32:
                raise ValueError("x25519 share is not 32 bytes")
            shared = key.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        else:
            curve, _ = _CURVES[group]
            # Only the uncompressed form is allowed in TLS 1.3 (RFC 8446 §4.2.8.2).
            if not peer or peer[0] != 4:
                raise ValueError("not an uncompressed point")
            public = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer)
            shared = key.exchange(ec.ECDH(), public)
    except ValueError as exc:  # bad point, all-zero x25519 output
        raise _bad_share(group) from exc
    return shared


# ---------------------------------------------------------------------------
# ML-KEM parts
# ---------------------------------------------------------------------------


def _mlkem_private(level: int, rand: Rand) -> tuple[Any, bytes]:
    """(private key, encapsulation key bytes)."""
    return _mlkem_key(level, rand(64))


@lru_cache(maxsize=_KEYS_REMEMBERED)
def _mlkem_key(level: int, seed: bytes) -> tuple[Any, bytes]:
    cls = _mlkem.MLKEM768PrivateKey if level == 768 else _mlkem.MLKEM1024PrivateKey
    key = cls.from_seed_bytes(seed)
    return key, key.public_key().public_bytes_raw()


def _mlkem_encapsulate(level: int, group: int, public: bytes) -> tuple[bytes, bytes]:
    """(ciphertext, shared secret)."""
    cls = _mlkem.MLKEM768PublicKey if level == 768 else _mlkem.MLKEM1024PublicKey
    if len(public) != _MLKEM_SIZES[level][0]:
        raise _bad_share(group)
    try:
        shared, ciphertext = cls.from_public_bytes(public).encapsulate()
    except ValueError as exc:
        raise _bad_share(group) from exc
    return ciphertext, shared


def _mlkem_decapsulate(level: int, group: int, key: Any, ciphertext: bytes) -> bytes:
    if len(ciphertext) != _MLKEM_SIZES[level][1]:
        raise _bad_share(group)
    try:
        return key.decapsulate(ciphertext)
    except ValueError as exc:
        raise _bad_share(group) from exc


# ---------------------------------------------------------------------------
# The public face
# ---------------------------------------------------------------------------


@dataclass
class KeyShare:
    """A client's key share for one group: what it sends and what it keeps."""

    group: int
    public: bytes
    _private: tuple[Any, ...]

    def shared_secret(self, server_share: bytes) -> bytes:
        g = self.group
        if g in _HYBRIDS:
            level, classical, kem_first = _HYBRIDS[g]
            kem_key, ecdh_key = self._private
            ct_len = _MLKEM_SIZES[level][1]
            if len(server_share) <= ct_len:
                raise _bad_share(g)
            ct, ecdh = ((server_share[:ct_len], server_share[ct_len:]) if kem_first
                        else (server_share[-ct_len:], server_share[:-ct_len]))
            kem_ss = _mlkem_decapsulate(level, g, kem_key, ct)
            ecdh_ss = _ecdh_shared(classical, ecdh_key, ecdh)
            return kem_ss + ecdh_ss if kem_first else ecdh_ss + kem_ss
        if g == MLKEM1024:
            return _mlkem_decapsulate(1024, g, self._private[0], server_share)
        return _ecdh_shared(g, self._private[0], server_share)


def generate(group: int, rand: Rand) -> KeyShare:
    """A fresh client key share. ML-KEM seeds (64 bytes) are drawn before the
    classical key."""
    reason = unavailable_reason(group)
    if reason is not None:
        raise ValueError(reason)
    if group in _HYBRIDS:
        level, classical, kem_first = _HYBRIDS[group]
        kem, kem_pub = _mlkem_private(level, rand)
        ecdh, ecdh_pub = _ecdh_private(classical, rand)
        public = kem_pub + ecdh_pub if kem_first else ecdh_pub + kem_pub
        return KeyShare(group, public, (kem, ecdh))
    if group == MLKEM1024:
        kem, kem_pub = _mlkem_private(1024, rand)
        return KeyShare(group, kem_pub, (kem,))
    key, public = _ecdh_private(group, rand)
    return KeyShare(group, public, (key,))


def server_exchange(group: int, client_share: bytes, rand: Rand) -> tuple[bytes, bytes]:
    """The server's side: (its key_exchange bytes, the shared secret). A malformed
    client share raises IllegalParameter."""
    if group in _HYBRIDS:
        level, classical, kem_first = _HYBRIDS[group]
        ek_len = _MLKEM_SIZES[level][0]
        if len(client_share) <= ek_len:
            raise _bad_share(group)
        ek, ecdh_peer = ((client_share[:ek_len], client_share[ek_len:]) if kem_first
                         else (client_share[-ek_len:], client_share[:-ek_len]))
        ct, kem_ss = _mlkem_encapsulate(level, group, ek)
        mine, ecdh_pub = _ecdh_private(classical, rand)
        ecdh_ss = _ecdh_shared(classical, mine, ecdh_peer)
        if kem_first:
            return ct + ecdh_pub, kem_ss + ecdh_ss
        return ecdh_pub + ct, ecdh_ss + kem_ss
    if group == MLKEM1024:
        return _mlkem_encapsulate(1024, group, client_share)
    mine, public = _ecdh_private(group, rand)
    return public, _ecdh_shared(group, mine, client_share)
