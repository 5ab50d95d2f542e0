"""The cipher suites Go's crypto/tls speaks, with what the record layer and the key
schedule need to know about each one.

Names are spelled as Go spells them (`tls.CipherSuiteName`), so that observations
from Go and from Python can be compared as strings.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Kind = Literal["aead-gcm", "chacha", "cbc"]


@dataclass(frozen=True)
class CipherSuite:
    """One cipher suite.

    `fixed_iv_len` is the implicit part of the nonce taken from the key schedule: the
    whole 12-byte IV for TLS 1.3 and for TLS 1.2 ChaCha20 (RFC 7905), the 4-byte salt
    for TLS 1.2 AES-GCM (RFC 5288), and 0 for TLS 1.2 CBC, whose IV travels in each
    record (RFC 5246 §6.2.3.2). `record_iv_len` is what each record carries.
    """

    id: int
    name: str
    kind: Kind
    tls13: bool
    key_exchange: str | None  # "ECDHE_ECDSA", "ECDHE_RSA", "RSA"; None for TLS 1.3
    cipher: str  # "AES", "CHACHA20", "3DES"
    key_len: int
    fixed_iv_len: int
    record_iv_len: int
    mac_hash: str | None  # hashlib name of the record MAC; CBC suites only
    mac_len: int
    prf_hash: str  # hashlib name of the TLS 1.2 PRF hash or the TLS 1.3 handshake hash
    block_size: int = 0  # CBC only
    tag_len: int = 16  # AEAD only

    @property
    def hash_len(self) -> int:
        return hashlib.new(self.prf_hash).digest_size


def _tls13(id_: int, name: str, kind: Kind, cipher: str, key_len: int, prf: str) -> CipherSuite:
    return CipherSuite(id_, name, kind, True, None, cipher, key_len, 12, 0, None, 0, prf)


def _gcm12(id_: int, name: str, kx: str, key_len: int, prf: str) -> CipherSuite:
    # RFC 5288: 4-byte salt from the key block, 8-byte explicit nonce per record.
    return CipherSuite(id_, name, "aead-gcm", False, kx, "AES", key_len, 4, 8, None, 0, prf)


def _chacha12(id_: int, name: str, kx: str) -> CipherSuite:
    # RFC 7905: the full 12-byte IV comes from the key block, nothing per record.
    return CipherSuite(id_, name, "chacha", False, kx, "CHACHA20", 32, 12, 0, None, 0, "sha256")


def _cbc12(id_: int, name: str, kx: str, cipher: str, key_len: int, mac: str) -> CipherSuite:
    block = 8 if cipher == "3DES" else 16
    mac_len = hashlib.new(mac).digest_size
    return CipherSuite(id_, name, "cbc", False, kx, cipher, key_len, 0, block, mac, mac_len,
                       "sha256", block_size=block, tag_len=0)


ALL_SUITES: tuple[CipherSuite, ...] = (
    # TLS 1.3 (RFC 8446 §B.4)
    _tls13(0x1301, "TLS_AES_128_GCM_SHA256", "aead-gcm", "AES", 16, "sha256"),
    _tls13(0x1302, "TLS_AES_256_GCM_SHA384", "aead-gcm", "AES", 32, "sha384"),
    _tls13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "chacha", "CHACHA20", 32, "sha256"),
    # TLS 1.2 AEAD
    _gcm12(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE_ECDSA", 16, "sha256"),
    _gcm12(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE_RSA", 16, "sha256"),
    _gcm12(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE_ECDSA", 32, "sha384"),
    _gcm12(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE_RSA", 32, "sha384"),
    _chacha12(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE_RSA"),
    _chacha12(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE_ECDSA"),
    _gcm12(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", 16, "sha256"),
    _gcm12(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", 32, "sha384"),
    # TLS 1.2 CBC, MAC-then-encrypt
    _cbc12(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE_ECDSA", "AES", 16, "sha1"),
    _cbc12(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE_RSA", "AES", 16, "sha1"),
    _cbc12(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE_ECDSA", "AES", 32, "sha1"),
    _cbc12(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE_RSA", "AES", 32, "sha1"),
    _cbc12(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE_ECDSA", "AES", 16, "sha256"),
    _cbc12(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE_RSA", "AES", 16, "sha256"),
    _cbc12(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES", 16, "sha1"),
    _cbc12(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES", 32, "sha1"),
    _cbc12(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "AES", 16, "sha256"),
    _cbc12(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE_RSA", "3DES", 24, "sha1"),
    _cbc12(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA", "3DES", 24, "sha1"),
)

SUITE_BY_ID: dict[int, CipherSuite] = {s.id: s for s in ALL_SUITES}
SUITE_BY_NAME: dict[str, CipherSuite] = {s.name: s for s in ALL_SUITES}

# Values that appear in cipher suite lists but are not suites we implement; named so
# that a ClientHello reads well in reports.
_SIGNALLING_NAMES: dict[int, str] = {
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
}


#: The suites named above that tlspeer does not implement, by name: a hello may offer them.
NAMED_ONLY: dict[str, int] = {name: id_ for id_, name in _SIGNALLING_NAMES.items() if name.startswith("TLS_")
                              and not name.endswith("_SCSV")}


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values: 0x?A?A with both bytes equal."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def suite_name(suite_id: int) -> str:
    """Go's name for a suite id; unknown ids read as Go prints them, "0x%04X"."""
    suite = SUITE_BY_ID.get(suite_id)
    if suite is not None:
        return suite.name
    if suite_id in _SIGNALLING_NAMES:
        return _SIGNALLING_NAMES[suite_id]
    if is_grease(suite_id):
        return "GREASE"
    return f"0x{suite_id:04X}"


def suite_by_name(name: str) -> CipherSuite:
    """Look a suite up by its Go name; KeyError if we do not implement it."""
    return SUITE_BY_NAME[name]


def hash_name(suite: CipherSuite | int) -> str:
    """hashlib name of the suite's PRF / handshake hash ("sha256" or "sha384")."""
    if isinstance(suite, int):
        suite = SUITE_BY_ID[suite]
    return suite.prf_hash


def hash_len(suite: CipherSuite | int) -> int:
    return hashlib.new(hash_name(suite)).digest_size
