"""The Encrypted Client Hello configurations every run uses, made deterministically.

Each name is an ECHConfig (RFC 9849 §4, version 0xfe0d, the encoding Go's ech.go
parseECHConfig reads) with an X25519 key derived from the name, like the
certificates of pki.py: the same bytes on every run and every machine. A server
gets a config with its private key (`Config.EncryptedClientHelloKeys`), a client
an ECHConfigList of configs (`Config.EncryptedClientHelloConfigList`), and the
retry configs a client is handed back are named again from their bytes.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from .pki import ECH_PUBLIC_NAME

#: The name every config gives as the outer ClientHello's server name. A client
#: whose ECH is rejected verifies the server's certificate against it
#: (crypto/tls handshake_client.go verifyServerCertificate): the `server-ech`
#: certificate of pki.py holds it.
PUBLIC_NAME = ECH_PUBLIC_NAME

VERSION_ECH = 0xFE0D  # RFC 9849; the only version Go parses
KEM_X25519_HKDF_SHA256 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
MAX_NAME_LENGTH = 32


@dataclass(frozen=True)
class _Spec:
    config_id: int
    version: int = VERSION_ECH
    doc: str = ""


#: The closed set of ECH configuration names a case may use (docs/cases.md).
SPECS: dict[str, _Spec] = {
    "ech-a": _Spec(1, doc="the configuration of the ECH cases"),
    "ech-b": _Spec(2, doc="another key: a server holding only `ech-b` rejects a client offering `ech-a`"),
    "ech-unknown-version": _Spec(3, version=0xFE0C, doc="a version no Go release parses: a client skips "
                                 "it; a server holding it aborts ECH handshakes with internal_error "
                                 "before 1.27 and skips it from 1.27 (ech.go processECHClientHello)"),
}
NAMES = tuple(SPECS)


@dataclass(frozen=True)
class ECHKey:
    """A named ECHConfig and the X25519 private key that opens what is sealed to it."""

    name: str
    config: bytes  # one ECHConfig: version, length, contents
    private_key: bytes  # 32 bytes, HPKE's SerializePrivateKey for X25519
    config_id: int


def _private(name: str) -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.from_private_bytes(hashlib.sha256(b"tlsdiff-ech/" + name.encode()).digest())


def _u16_prefixed(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


@lru_cache(maxsize=None)
def key(name: str) -> ECHKey:
    """The named configuration; KeyError for a name that is not one."""
    spec = SPECS[name]
    priv = _private(name)
    public = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    contents = (
        struct.pack("!BH", spec.config_id, KEM_X25519_HKDF_SHA256)
        + _u16_prefixed(public)
        + _u16_prefixed(struct.pack("!HH", KDF_HKDF_SHA256, AEAD_AES_128_GCM))
        + struct.pack("!BB", MAX_NAME_LENGTH, len(PUBLIC_NAME)) + PUBLIC_NAME.encode()
        + _u16_prefixed(b"")  # no extensions
    )
    config = struct.pack("!H", spec.version) + _u16_prefixed(contents)
    raw = priv.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    return ECHKey(name, config, raw, spec.config_id)


def config_list(names: list[str] | tuple[str, ...]) -> bytes:
    """The ECHConfigList of the named configs, in order."""
    return _u16_prefixed(b"".join(key(n).config for n in names))


@lru_cache(maxsize=1)
def _by_config() -> dict[bytes, str]:
    return {key(n).config: n for n in NAMES}


def names_in_list(data: bytes) -> list[str]:
    """The configs of an ECHConfigList by name; one that is not of this module is
    `unknown <hex>`, and bytes that are not a list are `malformed <hex>`."""
    if len(data) < 2 or struct.unpack("!H", data[:2])[0] != len(data) - 2:
        return [f"malformed {data.hex()}"]
    out, rest = [], data[2:]
    while rest:
        if len(rest) < 4 or len(rest) < 4 + struct.unpack("!H", rest[2:4])[0]:
            out.append(f"malformed {rest.hex()}")
            break
        size = 4 + struct.unpack("!H", rest[2:4])[0]
        config, rest = rest[:size], rest[size:]
        out.append(_by_config().get(config, f"unknown {config.hex()}"))
    return out


def inner_hellos(outer_bodies: list[bytes]) -> list[bytes] | None:
    """The ClientHelloInner bodies of a client's ClientHellos (1, and 2 after a
    HelloRetryRequest), opened with the private key of the configuration the first one
    names, as far as they open; None when the first is not an outer ECH hello or does
    not open.

    Any of this module's configurations opens what a client sealed to it, whatever the
    server held: a connection's inner hellos are there to read even when ECH was
    rejected. The second hello is sealed with the first one's HPKE context."""
    from tlspeer import ech as wire_ech
    from tlspeer import hpke
    from tlspeer.errors import DecodeError

    if not outer_bodies:
        return None
    try:
        first = wire_ech.outer_ech(outer_bodies[0])
    except DecodeError:
        return None
    by_id = {key(n).config_id: key(n) for n in NAMES}
    if first is None or first.config_id not in by_id:
        return None
    k = by_id[first.config_id]
    info = b"tls ech\x00" + k.config
    out: list[bytes] = []
    try:
        context = hpke.setup_receiver(first.enc, k.private_key, info, first.kdf_id, first.aead_id)
        for body in outer_bodies:
            outer = wire_ech.outer_ech(body)
            if outer is None:
                break
            encoded = context.open(wire_ech.outer_aad(body, outer.payload), outer.payload)
            out.append(wire_ech.decode_inner(encoded, body))
    except (DecodeError, hpke.HpkeError):
        pass  # a second hello that does not open: after an HRR that rejected ECH
    return out or None
