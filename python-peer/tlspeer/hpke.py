"""HPKE (RFC 9180) in base mode, as Encrypted Client Hello uses it: DHKEM(X25519,
HKDF-SHA256) with HKDF-SHA256 and AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305.

    enc, sender = setup_sender(public_key, info, rand)     # the client
    receiver = setup_receiver(enc, private_key, info)      # the server
    receiver.open(aad, sender.seal(aad, plaintext)) == plaintext

A context seals (or opens) messages in order: the nonce is the base nonce XOR the
sequence number, so the second ClientHelloInner after a HelloRetryRequest is
sealed with the same context, as RFC 9849 §6.1.5 requires. Built from
`cryptography`'s X25519 and AEADs and tlspeer's HKDF; checked against RFC 9180
Appendix A.1.1 (tests/python_peer/test_hpke_ech.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from .keyschedule import hkdf_expand, hkdf_extract

KEM_X25519_HKDF_SHA256 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
AEAD_AES_256_GCM = 0x0002
AEAD_CHACHA20_POLY1305 = 0x0003

#: AEAD id -> (key length, the cipher); the nonce is 12 bytes and the tag 16 for all.
AEADS: dict[int, tuple[int, Callable[[bytes], AESGCM | ChaCha20Poly1305]]] = {
    AEAD_AES_128_GCM: (16, AESGCM),
    AEAD_AES_256_GCM: (32, AESGCM),
    AEAD_CHACHA20_POLY1305: (32, ChaCha20Poly1305),
}
NONCE_LEN = 12
_HASH = "sha256"
_MODE_BASE = 0


class HpkeError(Exception):
    """A key that is not X25519, an unknown suite, or a ciphertext that does not open."""


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hkdf_extract(_HASH, salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(_HASH, prk, struct.pack("!H", length) + b"HPKE-v1" + suite_id + label + info, length)


def _raw(public: x25519.X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _kem_shared_secret(dh: bytes, enc: bytes, recipient_public: bytes) -> bytes:
    """DHKEM's ExtractAndExpand (RFC 9180 §4.1)."""
    suite_id = b"KEM" + struct.pack("!H", KEM_X25519_HKDF_SHA256)
    eae_prk = _labeled_extract(suite_id, b"", b"eae_prk", dh)
    return _labeled_expand(suite_id, eae_prk, b"shared_secret", enc + recipient_public, 32)


@dataclass
class Context:
    """An HPKE encryption context (RFC 9180 §5.2): key, base nonce and the sequence number."""

    aead_id: int
    key: bytes
    base_nonce: bytes
    seq: int = 0
    _aead: AESGCM | ChaCha20Poly1305 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._aead = AEADS[self.aead_id][1](self.key)

    def _nonce(self) -> bytes:
        return bytes(a ^ b for a, b in zip(self.base_nonce, self.seq.to_bytes(NONCE_LEN, "big")))

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        out = self._aead.encrypt(self._nonce(), plaintext, aad)
        self.seq += 1
        return out

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        try:
            out = self._aead.decrypt(self._nonce(), ciphertext, aad)
        except InvalidTag:
            raise HpkeError("HPKE: the ciphertext does not open") from None
        self.seq += 1
        return out


def _key_schedule(shared_secret: bytes, info: bytes, kdf_id: int, aead_id: int) -> Context:
    if kdf_id != KDF_HKDF_SHA256 or aead_id not in AEADS:
        raise HpkeError(f"HPKE: unsupported suite kdf 0x{kdf_id:04x} aead 0x{aead_id:04x}")
    suite_id = b"HPKE" + struct.pack("!HHH", KEM_X25519_HKDF_SHA256, kdf_id, aead_id)
    context = (bytes([_MODE_BASE]) + _labeled_extract(suite_id, b"", b"psk_id_hash", b"")
               + _labeled_extract(suite_id, b"", b"info_hash", info))
    secret = _labeled_extract(suite_id, shared_secret, b"secret", b"")
    key = _labeled_expand(suite_id, secret, b"key", context, AEADS[aead_id][0])
    base_nonce = _labeled_expand(suite_id, secret, b"base_nonce", context, NONCE_LEN)
    return Context(aead_id, key, base_nonce)


def setup_sender(recipient_public: bytes, info: bytes, rand: Callable[[int], bytes],
                 kdf_id: int = KDF_HKDF_SHA256, aead_id: int = AEAD_AES_128_GCM) -> tuple[bytes, Context]:
    """SetupBaseS: the encapsulated key and the sender's context. The ephemeral key is
    drawn from `rand` (32 bytes, an X25519 private key)."""
    try:
        peer = x25519.X25519PublicKey.from_public_bytes(recipient_public)
    except ValueError:
        raise HpkeError("HPKE: the recipient key is not an X25519 public key") from None
    ephemeral = x25519.X25519PrivateKey.from_private_bytes(rand(32))
    enc = _raw(ephemeral.public_key())
    secret = _kem_shared_secret(ephemeral.exchange(peer), enc, recipient_public)
    return enc, _key_schedule(secret, info, kdf_id, aead_id)


def setup_receiver(enc: bytes, private_key: bytes, info: bytes, kdf_id: int = KDF_HKDF_SHA256,
                   aead_id: int = AEAD_AES_128_GCM) -> Context:
    """SetupBaseR: the receiver's context for an encapsulated key."""
    try:
        me = x25519.X25519PrivateKey.from_private_bytes(private_key)
        ephemeral = x25519.X25519PublicKey.from_public_bytes(enc)
        dh = me.exchange(ephemeral)
    except ValueError:
        raise HpkeError("HPKE: enc is not an X25519 public key") from None
    return _key_schedule(_kem_shared_secret(dh, enc, _raw(me.public_key())), info, kdf_id, aead_id)
