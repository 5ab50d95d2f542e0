"""TLS 1.2 RSA key exchange (RFC 5246 §7.4.7.1): the client's premaster secret,
encrypted with RSAES-PKCS1-v1_5 (RFC 8017 §7.2) to the server's certificate key, and
the server's decryption, as Go's `rsaKeyAgreement` (key_agreement.go) does it.

The RSA arithmetic is done here rather than by `cryptography`: the client's padding
comes from the engine's `rand`, so a seeded connection is reproducible (Go <= 1.25
draws it from Config.Rand too), and the server must tell apart the two failures Go
tells apart, which `cryptography`'s decrypt folds into one: a ciphertext that is not
below the modulus is an error (crypto/rsa ErrDecryption), a block whose padding or
length is wrong is not (and OpenSSL 3.2 on answers a bad block with a made-up message,
"implicit rejection"). The private operation's modular exponentiations are GMP's
(gmpy2): Python's own took 11 ms a decryption with a 2048-bit key, GMP's about 1 ms.
Nothing here is constant time: this is a test peer.
"""
from __future__ import annotations

from typing import Callable

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa

PREMASTER_LEN = 48
DECRYPTION_ERROR = "crypto/rsa: decryption error"  # crypto/rsa ErrDecryption


class DecryptionError(ValueError):
    """The ciphertext is too long for the key or not below its modulus."""


def premaster_secret(client_version: int, rand: Callable[[int], bytes]) -> bytes:
    """ClientHello.client_version then 46 random bytes (RFC 5246 §7.4.7.1)."""
    return client_version.to_bytes(2, "big") + rand(PREMASTER_LEN - 2)


def _size(n: int) -> int:
    return (n.bit_length() + 7) // 8


def pad(message: bytes, size: int, rand: Callable[[int], bytes], block_type: int = 2) -> bytes:
    """EM = 0x00 || block_type || PS || 0x00 || M, PS non-zero random bytes, at least
    8 (RFC 8017 §7.2.1). A block type other than 2 makes a block that does not decrypt."""
    if len(message) > size - 11:
        raise ValueError(f"rsa: a {len(message)}-byte message does not fit a {size}-byte key")
    ps = bytearray()
    while len(ps) < size - len(message) - 3:
        ps += bytes(b for b in rand(size - len(message) - 3 - len(ps)) if b)
    return bytes([0, block_type]) + bytes(ps) + b"\x00" + message


def encrypt(public_key: rsa.RSAPublicKey, block: bytes) -> bytes:
    """The RSA public operation on an already padded block, as big-endian bytes of the
    modulus's size."""
    numbers = public_key.public_numbers()
    size = _size(numbers.n)
    return pow(int.from_bytes(block, "big"), numbers.e, numbers.n).to_bytes(size, "big")


def encrypt_premaster(public_key: rsa.RSAPublicKey, premaster: bytes,
                      rand: Callable[[int], bytes]) -> bytes:
    """RSAES-PKCS1-v1_5-ENCRYPT of the premaster secret."""
    return encrypt(public_key, pad(premaster, _size(public_key.public_numbers().n), rand))


def decrypt_premaster(private_key: rsa.RSAPrivateKey, ciphertext: bytes, fallback: bytes) -> bytes:
    """The premaster secret in `ciphertext`, or `fallback` (random bytes the caller drew
    first, as Go draws them from Config.Rand) when the block's padding is wrong or its
    message is not 48 bytes: the failure then shows only at Finished, as RFC 5246
    §7.4.7.1 asks (Go: DecryptPKCS1v15SessionKey). The version in the premaster is not
    checked (Go does not). A ciphertext longer than the modulus or not below it raises
    DecryptionError (Go's decrypt refuses it before any padding check); a shorter one
    is read as a big-endian number, as Go reads it."""
    numbers = private_key.private_numbers()
    n = numbers.public_numbers.n
    size = _size(n)
    c = int.from_bytes(ciphertext, "big")
    if len(ciphertext) > size or c >= n:
        raise DecryptionError(DECRYPTION_ERROR)
    # CRT (RFC 8017 §5.1.2): four times faster than pow(c, d, n).
    m1, m2 = int(gmpy2.powmod(c, numbers.dmp1, numbers.p)), int(gmpy2.powmod(c, numbers.dmq1, numbers.q))
    m = m2 + numbers.q * ((numbers.iqmp * (m1 - m2)) % numbers.p)
    em = m.to_bytes(size, "big")
    separator = em.find(b"\x00", 2)
    if em[:2] != b"\x00\x02" or separator < 10 or size - separator - 1 != len(fallback):
        return fallback
    return em[separator + 1:]
