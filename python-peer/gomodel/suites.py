"""The TLS 1.2 cipher suites a Go Config with no CipherSuites enables, per release line,
and which of them a certificate's key can serve (crypto/tls cipher_suites.go,
defaults.go, handshake_server.go cipherSuiteOk).

Every release starts from the same preference order (cipherSuitesPreferenceOrder) and
leaves out CBC-SHA256 and RC4 (disabledCipherSuites); 1.22 also leaves out RSA key
exchange (rsaKexCiphers, GODEBUG tlsrsakex) and 1.23 3DES (tdesCiphers, tls3des); 1.27
makes both permanent (disabledCipherSuites). A peer built with its own release line as
the go.mod line has those GODEBUG defaults.
"""
from __future__ import annotations

#: cipherSuitesPreferenceOrder (with AES-GCM hardware; the order does not matter here).
PREFERENCE_ORDER: tuple[int, ...] = (
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,  # ECDHE AEADs
    0xC009, 0xC013, 0xC00A, 0xC014,                  # ECDHE AES-CBC-SHA
    0x009C, 0x009D, 0x002F, 0x0035,                  # RSA key exchange, AES
    0xC012, 0x000A,                                  # 3DES
    0xC023, 0xC027, 0x003C,                          # CBC-SHA256
    0xC007, 0xC011, 0x0005,                          # RC4
)
CBC_SHA256_AND_RC4 = frozenset({0xC023, 0xC027, 0x003C, 0xC007, 0xC011, 0x0005})
RSA_KEX = frozenset({0x0005, 0x000A, 0x002F, 0x0035, 0x003C, 0x009C, 0x009D})
TRIPLE_DES = frozenset({0xC012, 0x000A})
#: ECDHE_ECDSA suites: an ECDSA or Ed25519 key signs them; every other suite wants RSA.
ECDSA_SIGNED = frozenset({0xC02B, 0xC02C, 0xCCA9, 0xC009, 0xC00A, 0xC023, 0xC007})


def _line(release: str) -> tuple[int, int]:
    parts = release.split(".")
    return int(parts[0]), int(parts[1])


def default_tls12(release: str) -> tuple[int, ...]:
    """Config.cipherSuites() with CipherSuites nil, on a release of that line."""
    line = _line(release)
    left_out = set(CBC_SHA256_AND_RC4)
    if line >= (1, 22):
        left_out |= RSA_KEX
    if line >= (1, 23):
        left_out |= TRIPLE_DES
    return tuple(s for s in PREFERENCE_ORDER if s not in left_out)


def usable_with(suites: tuple[int, ...] | list[int], rsa_key: bool) -> tuple[int, ...]:
    """The suites a server certificate can serve: an RSA key signs ECDHE_RSA and
    decrypts RSA key exchange (rsaSignOk, rsaDecryptOk), an ECDSA key signs ECDHE_ECDSA
    (ecSignOk). Suites this model does not know are kept."""
    known = set(PREFERENCE_ORDER)
    return tuple(s for s in suites if s not in known or (s not in ECDSA_SIGNED) == rsa_key)
