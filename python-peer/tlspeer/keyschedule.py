"""Key schedules: TLS 1.3 (RFC 8446 §7) and TLS 1.2 (RFC 5246 §5, §6.3, §8.1; RFC 7627).

Hashes are named by their hashlib name ("sha256", "sha384"), which is what
`suites.CipherSuite.prf_hash` holds. Everything here is a pure function of its
inputs, so tests can check each step against published traces.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

# ---------------------------------------------------------------------------
# HKDF (RFC 5869) and the TLS 1.3 labelled forms (RFC 8446 §7.1)
# ---------------------------------------------------------------------------
# Every HMAC here is hmac.digest, OpenSSL's one-shot: 1.7 µs a call against 2.2 for
# hmac.new(...).digest() (timeit, 32-byte key, 60-byte message), and a handshake and
# its decoding make dozens.


@lru_cache(maxsize=None)
def hash_len(hash_name: str) -> int:
    return hashlib.new(hash_name).digest_size


def hkdf_extract(hash_name: str, salt: bytes | None, ikm: bytes) -> bytes:
    """HKDF-Extract. A missing or empty salt is HashLen zero bytes (RFC 5869 §2.2)."""
    if not salt:
        salt = bytes(hash_len(hash_name))
    return hmac.digest(salt, ikm, hash_name)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3)."""
    n = hash_len(hash_name)
    if length > 255 * n:
        raise ValueError(f"HKDF-Expand: {length} bytes is more than 255 * HashLen")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hash_name)
        out += block
        counter += 1
    return out[:length]


def hkdf_label(label: bytes | str, context: bytes, length: int) -> bytes:
    """The HkdfLabel structure: uint16 length, opaque label<7..255> = "tls13 " + label,
    opaque context<0..255>."""
    if isinstance(label, str):
        label = label.encode("ascii")
    full = b"tls13 " + label
    if len(full) > 255 or len(context) > 255:
        raise ValueError("HKDF label or context longer than 255 bytes")
    return length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes | str, context: bytes,
                      length: int) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length). `label` is without "tls13 "."""
    return hkdf_expand(hash_name, secret, hkdf_label(label, context, length), length)


def transcript_hash(hash_name: str, messages: bytes | Iterable[bytes]) -> bytes:
    """Transcript-Hash over handshake messages (headers included)."""
    h = hashlib.new(hash_name)
    if isinstance(messages, (bytes, bytearray, memoryview)):
        h.update(messages)
    else:
        for m in messages:
            h.update(m)
    return h.digest()


def empty_hash(hash_name: str) -> bytes:
    return hashlib.new(hash_name).digest()


def message_hash(hash_name: str, client_hello1: bytes) -> bytes:
    """The synthetic message_hash handshake message that replaces ClientHello1 in the
    transcript after a HelloRetryRequest (RFC 8446 §4.4.1)."""
    digest = transcript_hash(hash_name, client_hello1)
    return bytes([254, 0, 0, len(digest)]) + digest


def derive_secret(hash_name: str, secret: bytes, label: bytes | str,
                  transcript_digest: bytes) -> bytes:
    """Derive-Secret(Secret, Label, Messages), taking the transcript hash already computed
    (so callers can feed the hash a trace or a running transcript gives them)."""
    return hkdf_expand_label(hash_name, secret, label, transcript_digest, hash_len(hash_name))


def finished_key(hash_name: str, base_key: bytes) -> bytes:
    """finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length)."""
    return hkdf_expand_label(hash_name, base_key, "finished", b"", hash_len(hash_name))


def finished_verify_data(hash_name: str, base_key: bytes, transcript_digest: bytes) -> bytes:
    """Finished.verify_data = HMAC(finished_key, Transcript-Hash(...)) (RFC 8446 §4.4.4).
    Also the PSK binder when base_key is the binder_key (§4.2.11.2)."""
    return hmac.digest(finished_key(hash_name, base_key), transcript_digest, hash_name)


@dataclass(frozen=True)
class TrafficKeys:
    key: bytes
    iv: bytes


def traffic_key_iv(hash_name: str, traffic_secret: bytes, key_len: int,
                   iv_len: int = 12) -> TrafficKeys:
    """[sender]_write_key and [sender]_write_iv from a traffic secret (RFC 8446 §7.3)."""
    return TrafficKeys(
        key=hkdf_expand_label(hash_name, traffic_secret, "key", b"", key_len),
        iv=hkdf_expand_label(hash_name, traffic_secret, "iv", b"", iv_len),
    )


def next_traffic_secret(hash_name: str, traffic_secret: bytes) -> bytes:
    """application_traffic_secret_N+1 after a KeyUpdate (RFC 8446 §7.2)."""
    return hkdf_expand_label(hash_name, traffic_secret, "traffic upd", b"", hash_len(hash_name))


def resumption_psk(hash_name: str, resumption_master_secret: bytes, ticket_nonce: bytes) -> bytes:
    """The PSK a NewSessionTicket stands for (RFC 8446 §4.6.1)."""
    return hkdf_expand_label(hash_name, resumption_master_secret, "resumption", ticket_nonce,
                             hash_len(hash_name))


def export_keying_material(hash_name: str, exporter_master_secret: bytes, label: bytes | str,
                           context: bytes, length: int) -> bytes:
    """TLS-Exporter(label, context_value, key_length) (RFC 8446 §7.5)."""
    inner = derive_secret(hash_name, exporter_master_secret, label, empty_hash(hash_name))
    return hkdf_expand_label(hash_name, inner, "exporter", transcript_hash(hash_name, context),
                             length)


class Tls13KeySchedule:
    """The TLS 1.3 secret ladder for one connection (RFC 8446 §7.1).

    Transcript hashes are passed in by the caller: the schedule does not keep a
    transcript, so it works the same for a client, a server, a passive observer or
    a test that reads hashes from a trace.
    """

    def __init__(self, hash_name: str, psk: bytes | None = None) -> None:
        self.hash_name = hash_name
        self.hash_len = hash_len(hash_name)
        # Without a PSK the IKM is a string of HashLen zeros.
        self.early_secret = hkdf_extract(hash_name, None, psk or bytes(self.hash_len))
        self.handshake_secret: bytes | None = None
        self.master_secret: bytes | None = None

    def _derive(self, secret: bytes | None, label: str, transcript_digest: bytes) -> bytes:
        if secret is None:
            raise ValueError(f"key schedule: {label!r} asked before its stage was reached")
        return derive_secret(self.hash_name, secret, label, transcript_digest)

    # Early secret stage
    def binder_key(self, external: bool = False) -> bytes:
        """binder_key for a resumption PSK ("res binder") or an external one ("ext binder")."""
        label = "ext binder" if external else "res binder"
        return self._derive(self.early_secret, label, empty_hash(self.hash_name))

    def client_early_traffic_secret(self, client_hello_hash: bytes) -> bytes:
        return self._derive(self.early_secret, "c e traffic", client_hello_hash)

    def early_exporter_master_secret(self, client_hello_hash: bytes) -> bytes:
        return self._derive(self.early_secret, "e exp master", client_hello_hash)

    # Handshake secret stage
    def derive_handshake_secret(self, shared_secret: bytes | None) -> bytes:
        """Mix in the (EC)DHE shared secret; None (psk_ke mode) means HashLen zeros."""
        salt = self._derive(self.early_secret, "derived", empty_hash(self.hash_name))
        ikm = shared_secret if shared_secret is not None else bytes(self.hash_len)
        self.handshake_secret = hkdf_extract(self.hash_name, salt, ikm)
        return self.handshake_secret

    def client_handshake_traffic_secret(self, hello_hash: bytes) -> bytes:
        return self._derive(self.handshake_secret, "c hs traffic", hello_hash)

    def server_handshake_traffic_secret(self, hello_hash: bytes) -> bytes:
        return self._derive(self.handshake_secret, "s hs traffic", hello_hash)

    # Master secret stage
    def derive_master_secret(self) -> bytes:
        salt = self._derive(self.handshake_secret, "derived", empty_hash(self.hash_name))
        self.master_secret = hkdf_extract(self.hash_name, salt, bytes(self.hash_len))
        return self.master_secret

    def client_application_traffic_secret_0(self, server_finished_hash: bytes) -> bytes:
        return self._derive(self.master_secret, "c ap traffic", server_finished_hash)

    def server_application_traffic_secret_0(self, server_finished_hash: bytes) -> bytes:
        return self._derive(self.master_secret, "s ap traffic", server_finished_hash)

    def exporter_master_secret(self, server_finished_hash: bytes) -> bytes:
        return self._derive(self.master_secret, "exp master", server_finished_hash)

    def resumption_master_secret(self, client_finished_hash: bytes) -> bytes:
        return self._derive(self.master_secret, "res master", client_finished_hash)


# ---------------------------------------------------------------------------
# TLS 1.2 PRF and key derivation
# ---------------------------------------------------------------------------


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash(secret, seed) from RFC 5246 §5."""
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + seed, hash_name)
    return out[:length]


def prf12(hash_name: str, secret: bytes, label: bytes | str, seed: bytes, length: int) -> bytes:
    """The TLS 1.2 PRF: P_<hash>(secret, label + seed). The hash is the suite's PRF hash
    (SHA-256, or SHA-384 for *_SHA384 suites)."""
    if isinstance(label, str):
        label = label.encode("ascii")
    return p_hash(hash_name, secret, label + seed, length)


def master_secret12(hash_name: str, pre_master_secret: bytes, client_random: bytes,
                    server_random: bytes) -> bytes:
    """master_secret = PRF(pre_master_secret, "master secret", ClientHello.random +
    ServerHello.random)[0..47]."""
    return prf12(hash_name, pre_master_secret, "master secret", client_random + server_random, 48)


def extended_master_secret12(hash_name: str, pre_master_secret: bytes,
                             session_hash: bytes) -> bytes:
    """RFC 7627: the seed is the hash of the handshake up to ClientKeyExchange."""
    return prf12(hash_name, pre_master_secret, "extended master secret", session_hash, 48)


@dataclass(frozen=True)
class KeyBlock:
    client_write_mac_key: bytes
    server_write_mac_key: bytes
    client_write_key: bytes
    server_write_key: bytes
    client_write_iv: bytes
    server_write_iv: bytes


def key_block12(hash_name: str, master_secret: bytes, client_random: bytes,
                server_random: bytes, mac_key_len: int, key_len: int, iv_len: int) -> KeyBlock:
    """Split PRF(master_secret, "key expansion", server_random + client_random) into the
    six connection keys, in RFC 5246 §6.3 order. Note the seed order: server first."""
    total = 2 * (mac_key_len + key_len + iv_len)
    block = prf12(hash_name, master_secret, "key expansion", server_random + client_random, total)
    parts = []
    pos = 0
    for size in (mac_key_len, mac_key_len, key_len, key_len, iv_len, iv_len):
        parts.append(block[pos:pos + size])
        pos += size
    return KeyBlock(*parts)


def finished_verify_data12(hash_name: str, master_secret: bytes, from_client: bool,
                           handshake_hash: bytes) -> bytes:
    """Finished.verify_data for TLS 1.2 (RFC 5246 §7.4.9): 12 bytes."""
    label = "client finished" if from_client else "server finished"
    return prf12(hash_name, master_secret, label, handshake_hash, 12)
