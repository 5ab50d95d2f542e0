"""tlspeer's RSA key exchange arithmetic against OpenSSL's (through `cryptography`):
what we encrypt OpenSSL decrypts, what OpenSSL encrypts we decrypt, and the failures
Go tells apart stay apart."""
from __future__ import annotations

import hashlib
from typing import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from tlspeer import rsakex

from tlspeer_helpers import credential

KEY = credential("server-rsa").private_key
PUB = KEY.public_key()
SIZE = 256


def _rand(seed: str) -> Callable[[int], bytes]:
    state = {"n": 0}

    def rand(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{seed}/{state['n']}".encode()).digest()
            state["n"] += 1
        return out[:n]
    return rand


def test_premaster_secret_is_version_then_random() -> None:
    pm = rsakex.premaster_secret(0x0303, _rand("a"))
    assert len(pm) == 48 and pm[:2] == b"\x03\x03" and pm[2:] == _rand("a")(46)


def test_openssl_decrypts_ours_and_the_padding_follows_rand() -> None:
    pm = rsakex.premaster_secret(0x0303, _rand("pm"))
    ct = rsakex.encrypt_premaster(PUB, pm, _rand("pad"))
    assert len(ct) == SIZE and KEY.decrypt(ct, padding.PKCS1v15()) == pm
    assert rsakex.encrypt_premaster(PUB, pm, _rand("pad")) == ct  # seeded: reproducible
    assert rsakex.encrypt_premaster(PUB, pm, _rand("other")) != ct
    block = rsakex.pad(pm, SIZE, _rand("pad"))
    assert block[:2] == b"\x00\x02" and b"\x00" not in block[2:SIZE - 49] and block[SIZE - 49:] == b"\x00" + pm


def test_we_decrypt_openssls() -> None:
    pm = rsakex.premaster_secret(0x0303, _rand("x"))
    for _ in range(3):  # OpenSSL's padding is random each time
        ct = PUB.encrypt(pm, padding.PKCS1v15())
        assert rsakex.decrypt_premaster(KEY, ct, b"F" * 48) == pm


def test_a_bad_block_gives_the_fallback() -> None:
    pm, fallback = b"\x03\x03" + bytes(46), b"F" * 48
    for block in (rsakex.pad(pm, SIZE, _rand("p"), block_type=1),      # not type 2
                  rsakex.pad(pm[:47], SIZE, _rand("p")),                # 47 bytes, not 48
                  b"\x00\x02" + b"\x01" * 5 + b"\x00" + bytes(SIZE - 8),  # padding shorter than 8
                  b"\x00\x02" + b"\x01" * (SIZE - 2)):                   # no separator
        assert rsakex.decrypt_premaster(KEY, rsakex.encrypt(PUB, block), fallback) == fallback
    # The version is not checked (Go: "We don't check the version number").
    other = b"\x03\x01" + pm[2:]
    assert rsakex.decrypt_premaster(KEY, rsakex.encrypt_premaster(PUB, other, _rand("v")), fallback) == other


def test_ciphertexts_rsa_refuses() -> None:
    n = PUB.public_numbers().n
    for ct in (b"\xff" * SIZE, n.to_bytes(SIZE, "big"), b"\x00" + bytes(SIZE)):
        with pytest.raises(rsakex.DecryptionError, match="^crypto/rsa: decryption error$"):
            rsakex.decrypt_premaster(KEY, ct, b"F" * 48)


def test_a_short_ciphertext_is_a_number() -> None:
    """Go reads a ciphertext shorter than the modulus as a big-endian number (bigmod
    SetBytes); find one whose first byte is zero and drop it."""
    pm = rsakex.premaster_secret(0x0303, _rand("s"))
    for i in range(5000):
        ct = rsakex.encrypt_premaster(PUB, pm, _rand(f"short/{i}"))
        if ct[0] == 0:
            break
    else:
        pytest.fail("no ciphertext with a leading zero byte in 5000 tries")
    assert rsakex.decrypt_premaster(KEY, ct[1:], b"F" * 48) == pm
