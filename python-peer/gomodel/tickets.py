"""Go's session tickets, sealed and opened as each release does (crypto/tls ticket.go,
common.go ticketKeyFromBytes).

A 32-byte ticket key K gives H = SHA-512(K): H[0:16] is the key name (sent in clear
by 1.19/1.20, unused since 1.21), H[16:32] the AES-128 key, H[32:48] the HMAC-SHA256
key. A ticket is

    1.19, 1.20:  key_name(16) || IV(16) || AES-128-CTR(plaintext) || HMAC(key_name || IV || ct)(32)
    1.21+:                      IV(16) || AES-128-CTR(plaintext) || HMAC(IV || ct)(32)

with the IV as the whole initial counter block. 1.19/1.20 pick the key by name;
1.21+ try each key's MAC in order. Both MACs cover every byte before the tag, so a
1.19/1.20 ticket under the same key passes a 1.21+ server's MAC check: that server
then decrypts its key name and IV as IV and ciphertext, and the garbage fails
ParseSessionState (a silent full handshake). What the plaintext is differs by
release too: `session_state` reads it.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Collection, Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_NAME_RELEASES = ((1, 19), (1, 20))  # the lines that prefix a key name
IV_SIZE, MAC_SIZE, NAME_SIZE = 16, 32, 16


class TicketError(ValueError):
    """A ticket or key that cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class TicketKey:
    """The keys one 32-byte session ticket key gives."""

    name: bytes
    aes_key: bytes
    hmac_key: bytes

    @classmethod
    def from_bytes(cls, key: bytes) -> "TicketKey":
        if len(key) != 32:
            raise TicketError(f"a session ticket key is 32 bytes, got {len(key)}")
        h = hashlib.sha512(key).digest()
        return cls(h[:16], h[16:32], h[32:48])


@dataclass(frozen=True)
class Opened:
    """An opened ticket: the plaintext, the IV it was sealed with, and which key opened it."""

    plaintext: bytes
    iv: bytes
    key_index: int


def _line(release: str) -> tuple[int, int]:
    parts = release.split(".")
    return int(parts[0]), int(parts[1])


def uses_key_name(release: str) -> bool:
    return _line(release) in KEY_NAME_RELEASES


def _ctr(key: TicketKey, iv: bytes, data: bytes) -> bytes:
    ctx = Cipher(algorithms.AES(key.aes_key), modes.CTR(iv)).encryptor()
    return ctx.update(data) + ctx.finalize()


def seal(plaintext: bytes, key: bytes, iv: bytes, release: str) -> bytes:
    """The ticket a server of `release` would send for plaintext, sealed with key and iv."""
    if len(iv) != IV_SIZE:
        raise TicketError(f"an IV is {IV_SIZE} bytes, got {len(iv)}")
    k = TicketKey.from_bytes(key)
    head = (k.name if uses_key_name(release) else b"") + iv
    body = head + _ctr(k, iv, plaintext)
    return body + hmac.new(k.hmac_key, body, hashlib.sha256).digest()


def open_ticket(ticket: bytes, keys: Sequence[bytes], release: str) -> Opened:
    """What a server of `release` holding `keys` (first seals, all open) reads from a ticket;
    TicketError saying why it would not (and so fall back to a full handshake)."""
    ks = [TicketKey.from_bytes(k) for k in keys]
    if not ks:
        raise TicketError("no ticket key to open it with")
    named = uses_key_name(release)
    minimum = (NAME_SIZE if named else 0) + IV_SIZE + MAC_SIZE
    if len(ticket) < minimum:
        raise TicketError(f"{len(ticket)} bytes is shorter than the {minimum} a {_label(release)} ticket has at least")
    if named:
        index = next((i for i, k in enumerate(ks) if k.name == ticket[:NAME_SIZE]), None)
        if index is None:
            raise TicketError("no key has the key name it starts with (1.19/1.20 pick the key by name; "
                              "a 1.21+ ticket has none)")
        candidates = [index]
    else:
        candidates = list(range(len(ks)))
    body, tag = ticket[:-MAC_SIZE], ticket[-MAC_SIZE:]
    for i in candidates:
        if hmac.compare_digest(hmac.new(ks[i].hmac_key, body, hashlib.sha256).digest(), tag):
            iv_at = NAME_SIZE if named else 0
            iv = body[iv_at:iv_at + IV_SIZE]
            return Opened(_ctr(ks[i], iv, body[iv_at + IV_SIZE:]), iv, i)
    raise TicketError("its MAC matches no key")


def _label(release: str) -> str:
    return "1.19/1.20" if uses_key_name(release) else "1.21+"


@dataclass(frozen=True)
class Decrypted:
    """Config.DecryptTicket then SessionState.Bytes() on a 1.21+ release: the bytes, or
    None for no session (a full handshake: the MAC matched no key, or the parser refused
    the plaintext, an error Go drops). `maybe_none`: a certificate the model cannot judge
    was parsed on the way, so crypto/x509 may have refused it and Go returned no session."""

    reencoded: bytes | None
    why: str = ""
    maybe_none: bool = False

    def admits(self, reencoded: bytes | None) -> bool:
        return reencoded == self.reencoded or (self.maybe_none and reencoded is None)


def decrypt(ticket: bytes, keys: Sequence[bytes], release: str,
            known_certificates: Collection[bytes] | None = None) -> Decrypted:
    """What Config.DecryptTicket of a 1.21+ `release` holding `keys` returns (ticket.go)."""
    from .session_state import outcome
    if uses_key_name(release):
        raise TicketError("Config.DecryptTicket was added in Go 1.21")
    try:
        opened = open_ticket(ticket, keys, release)
    except TicketError as exc:
        return Decrypted(None, str(exc))
    parsed = outcome(opened.plaintext, release, known_certificates)
    if parsed.error is not None:
        return Decrypted(None, f"ParseSessionState: {parsed.error}", parsed.x509_pending)
    return Decrypted(parsed.reencoded, "", parsed.x509_pending)
