"""The TLS record layer, sans-IO: framing records out of a byte stream, and record
protection for TLS 1.3 (RFC 8446 §5) and TLS 1.2 (RFC 5246 §6.2, RFC 5288, RFC 7905,
RFC 7366).

Protection objects keep their own sequence number, which moves on only when a
record is produced or accepted, so a failed trial decryption leaves them unchanged.
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.exceptions import InvalidTag

from .suites import CipherSuite

try:  # TripleDES left the main namespace; Go still speaks the 3DES suites.
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
except ImportError:  # pragma: no cover - older cryptography
    _TripleDES = algorithms.TripleDES  # type: ignore[attr-defined,misc]

CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
HEARTBEAT = 24

CONTENT_TYPE_NAMES: dict[int, str] = {
    CHANGE_CIPHER_SPEC: "change_cipher_spec",
    ALERT: "alert",
    HANDSHAKE: "handshake",
    APPLICATION_DATA: "application_data",
    HEARTBEAT: "heartbeat",
}

HEADER_LEN = 5
MAX_PLAINTEXT = 1 << 14
# The largest fragment any version allows on the wire (TLS 1.2: 2^14 + 2048).
MAX_FRAGMENT = MAX_PLAINTEXT + 2048
MAX_TLS13_CIPHERTEXT = MAX_PLAINTEXT + 256


class RecordError(Exception):
    """A record that cannot be framed or processed."""


class BadRecordMac(RecordError):
    """Authentication or padding failed on decryption (the bad_record_mac case)."""


class RecordTooLong(RecordError):
    """A record or its plaintext is longer than the protocol allows (record_overflow)."""


def content_type_name(content_type: int) -> str:
    return CONTENT_TYPE_NAMES.get(content_type, f"unknown({content_type})")


@dataclass(frozen=True, slots=True)
class Record:
    """One TLSPlaintext/TLSCiphertext record as framed on the wire."""

    content_type: int
    legacy_version: int
    fragment: bytes
    offset: int = 0  # position of the header in its byte stream

    @property
    def header(self) -> bytes:
        return record_header(self.content_type, self.legacy_version, len(self.fragment))

    @property
    def wire_length(self) -> int:
        return HEADER_LEN + len(self.fragment)

    def encode(self) -> bytes:
        return self.header + self.fragment


def record_header(content_type: int, version: int, length: int) -> bytes:
    return bytes([content_type]) + version.to_bytes(2, "big") + length.to_bytes(2, "big")


class RecordReader:
    """Frames records out of a byte stream fed in arbitrary pieces.

    A header that cannot start a TLS record (unknown content type, a major version
    other than 3, a length beyond 2^14 + 2048) raises RecordError: after that the
    stream is out of step and nothing later in it can be trusted. Records complete
    before such a header are returned first; the error comes with the next call.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0  # stream offset of self._buf[0]

    def feed(self, data: bytes) -> list[Record]:
        self._buf += data
        buf = self._buf
        out: list[Record] = []
        pos = 0  # records taken from buf so far; removed once, at the end
        try:
            while len(buf) - pos >= HEADER_LEN:
                ctype = buf[pos]
                version = (buf[pos + 1] << 8) | buf[pos + 2]
                length = (buf[pos + 3] << 8) | buf[pos + 4]
                problem = None
                if ctype not in CONTENT_TYPE_NAMES:
                    problem = f"unknown record content type {ctype}"
                elif version >> 8 != 3:
                    problem = f"record version 0x{version:04x} is not TLS"
                elif length > MAX_FRAGMENT:
                    problem = f"record length {length} exceeds 2^14+2048"
                if problem is not None:
                    if out:
                        break
                    raise RecordError(f"offset {self._offset}: {problem}")
                end = pos + HEADER_LEN + length
                if len(buf) < end:
                    break
                out.append(Record(ctype, version, bytes(buf[pos + HEADER_LEN:end]), self._offset))
                self._offset += HEADER_LEN + length
                pos = end
        finally:
            del buf[:pos]
        return out

    @property
    def pending(self) -> bytes:
        """Bytes of a record not complete yet (a truncated stream leaves them here)."""
        return bytes(self._buf)

    @property
    def offset(self) -> int:
        """Stream offset of the first pending byte."""
        return self._offset


def parse_records(data: bytes) -> tuple[list[Record], bytes]:
    """Frame a whole byte stream: the complete records and the partial tail."""
    reader = RecordReader()
    records = reader.feed(data)
    return records, reader.pending


# ---------------------------------------------------------------------------
# Protection
# ---------------------------------------------------------------------------


class RecordProtection(Protocol):
    seq: int

    def encrypt(self, content_type: int, plaintext: bytes) -> bytes:
        """Protect one record; returns the whole record, header included."""
        ...

    def decrypt(self, record: Record) -> tuple[int, bytes]:
        """Return (content type, plaintext); raise BadRecordMac when it does not verify."""
        ...


def _seq_bytes(seq: int) -> bytes:
    if not 0 <= seq < 1 << 64:
        raise RecordError("record sequence number out of range")
    return seq.to_bytes(8, "big")


def _xor_nonce(iv: bytes, seq: int) -> bytes:
    # The per-record nonce: the 64-bit sequence number, left-padded to the IV length,
    # XORed with the static IV (RFC 8446 §5.3, RFC 7905 §2).
    if not 0 <= seq < 1 << 64:
        raise RecordError("record sequence number out of range")
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(len(iv), "big")


def _aead(kind: str, key: bytes) -> AESGCM | ChaCha20Poly1305:
    if kind == "aead-gcm":
        return AESGCM(key)
    if kind == "chacha":
        return ChaCha20Poly1305(key)
    raise ValueError(f"not an AEAD kind: {kind}")


class Tls13Protection:
    """TLS 1.3 record protection (RFC 8446 §5.2): outer type application_data,
    legacy_version 0x0303, AAD = the record header, inner plaintext =
    content || type || zero padding."""

    def __init__(self, kind: str, key: bytes, iv: bytes, seq: int = 0) -> None:
        if len(iv) != 12:
            raise ValueError("TLS 1.3 IV must be 12 bytes")
        self.kind = kind
        self._aead = _aead(kind, key)
        self.iv = iv
        self.seq = seq

    @classmethod
    def for_suite(cls, suite: CipherSuite, key: bytes, iv: bytes) -> "Tls13Protection":
        return cls(suite.kind, key, iv)

    def encrypt(self, content_type: int, plaintext: bytes, padding: int = 0) -> bytes:
        inner = plaintext + bytes([content_type]) + bytes(padding)
        length = len(inner) + 16
        if length > MAX_TLS13_CIPHERTEXT:
            raise RecordTooLong("TLS 1.3 record too long")
        header = record_header(APPLICATION_DATA, 0x0303, length)
        sealed = self._aead.encrypt(_xor_nonce(self.iv, self.seq), inner, header)
        self.seq += 1
        return header + sealed

    def decrypt(self, record: Record, seq: int | None = None) -> tuple[int, bytes]:
        """Open a record at `seq` (default: the next expected). On success the
        sequence number moves past it."""
        use_seq = self.seq if seq is None else seq
        if len(record.fragment) < 16 or len(record.fragment) > MAX_TLS13_CIPHERTEXT:
            raise BadRecordMac("ciphertext length out of range")
        try:
            inner = self._aead.decrypt(_xor_nonce(self.iv, use_seq), record.fragment, record.header)
        except InvalidTag as exc:
            raise BadRecordMac("AEAD authentication failed") from exc
        # Authenticated, so this sequence number is used up even if the content is bad.
        self.seq = use_seq + 1
        stripped = inner.rstrip(b"\x00")
        if not stripped:
            # All zeros: no content type (RFC 8446 §5.4 unexpected_message).
            raise RecordError("TLS 1.3 inner plaintext has no content type")
        if len(stripped) - 1 > MAX_PLAINTEXT:
            raise RecordTooLong("TLS 1.3 inner plaintext longer than 2^14")
        return stripped[-1], stripped[:-1]


def _aad12(seq: int, content_type: int, version: int, length: int) -> bytes:
    # seq_num || type || version || length (RFC 5246 §6.2.3.3)
    return _seq_bytes(seq) + record_header(content_type, version, length)


class Tls12AeadProtection:
    """TLS 1.2 AEAD records: AES-GCM with a 4-byte salt and an 8-byte explicit nonce
    (RFC 5288), or ChaCha20-Poly1305 with the 12-byte IV XOR the sequence number and
    no explicit nonce (RFC 7905)."""

    def __init__(self, kind: str, key: bytes, iv: bytes, version: int = 0x0303,
                 seq: int = 0) -> None:
        self.kind = kind
        self._aead = _aead(kind, key)
        if kind == "aead-gcm" and len(iv) != 4:
            raise ValueError("TLS 1.2 AES-GCM salt must be 4 bytes")
        if kind == "chacha" and len(iv) != 12:
            raise ValueError("TLS 1.2 ChaCha20-Poly1305 IV must be 12 bytes")
        self.iv = iv
        self.version = version
        self.seq = seq

    def encrypt(self, content_type: int, plaintext: bytes,
                explicit_nonce: bytes | None = None) -> bytes:
        aad = _aad12(self.seq, content_type, self.version, len(plaintext))
        if self.kind == "aead-gcm":
            # Go and OpenSSL send the sequence number as the explicit nonce.
            explicit = _seq_bytes(self.seq) if explicit_nonce is None else explicit_nonce
            if len(explicit) != 8:
                raise ValueError("explicit nonce must be 8 bytes")
            fragment = explicit + self._aead.encrypt(self.iv + explicit, plaintext, aad)
        else:
            fragment = self._aead.encrypt(_xor_nonce(self.iv, self.seq), plaintext, aad)
        self.seq += 1
        return record_header(content_type, self.version, len(fragment)) + fragment

    def decrypt(self, record: Record, seq: int | None = None) -> tuple[int, bytes]:
        use_seq = self.seq if seq is None else seq
        frag = record.fragment
        if self.kind == "aead-gcm":
            if len(frag) < 8 + 16:
                raise BadRecordMac("AES-GCM record too short")
            nonce, body = self.iv + frag[:8], frag[8:]
        else:
            if len(frag) < 16:
                raise BadRecordMac("ChaCha20-Poly1305 record too short")
            nonce, body = _xor_nonce(self.iv, use_seq), frag
        aad = _aad12(use_seq, record.content_type, record.legacy_version, len(body) - 16)
        try:
            plaintext = self._aead.decrypt(nonce, body, aad)
        except InvalidTag as exc:
            raise BadRecordMac("AEAD authentication failed") from exc
        self.seq = use_seq + 1
        return record.content_type, plaintext


class Tls12CbcProtection:
    """TLS 1.2 block cipher records: HMAC then CBC with an explicit per-record IV
    (RFC 5246 §6.2.3.2), or encrypt-then-MAC when RFC 7366 was negotiated (Go never
    negotiates it; OpenSSL does by default)."""

    def __init__(self, cipher: str, key: bytes, mac_hash: str, mac_key: bytes,
                 version: int = 0x0303, seq: int = 0, encrypt_then_mac: bool = False) -> None:
        if cipher == "AES":
            self._algorithm = lambda: algorithms.AES(key)
            self.block_size = 16
        elif cipher == "3DES":
            self._algorithm = lambda: _TripleDES(key)
            self.block_size = 8
        else:
            raise ValueError(f"not a CBC cipher: {cipher}")
        self.mac_hash = mac_hash
        self.mac_key = mac_key
        self.mac_len = hmac.new(mac_key, b"", mac_hash).digest_size
        self.version = version
        self.seq = seq
        self.encrypt_then_mac = encrypt_then_mac

    @classmethod
    def for_suite(cls, suite: CipherSuite, key: bytes, mac_key: bytes, version: int = 0x0303,
                  encrypt_then_mac: bool = False) -> "Tls12CbcProtection":
        assert suite.mac_hash is not None
        return cls(suite.cipher, key, suite.mac_hash, mac_key, version,
                   encrypt_then_mac=encrypt_then_mac)

    def _mac(self, seq: int, content_type: int, version: int, data: bytes) -> bytes:
        return hmac.digest(self.mac_key, _aad12(seq, content_type, version, len(data)) + data, self.mac_hash)

    def _cbc(self, iv: bytes) -> Cipher:
        return Cipher(self._algorithm(), modes.CBC(iv))

    def _pad(self, data: bytes, extra_blocks: int) -> bytes:
        pad = self.block_size - (len(data) + 1) % self.block_size
        pad = (pad % self.block_size) + extra_blocks * self.block_size
        if pad > 255:
            raise ValueError("CBC padding longer than 255 bytes")
        return data + bytes([pad]) * (pad + 1)

    def encrypt(self, content_type: int, plaintext: bytes, iv: bytes | None = None,
                extra_padding_blocks: int = 0) -> bytes:
        iv = os.urandom(self.block_size) if iv is None else iv
        if len(iv) != self.block_size:
            raise ValueError("CBC IV must be one block")
        enc = self._cbc(iv).encryptor()
        if self.encrypt_then_mac:
            body = iv + enc.update(self._pad(plaintext, extra_padding_blocks)) + enc.finalize()
            fragment = body + self._mac(self.seq, content_type, self.version, body)
        else:
            mac = self._mac(self.seq, content_type, self.version, plaintext)
            padded = self._pad(plaintext + mac, extra_padding_blocks)
            fragment = iv + enc.update(padded) + enc.finalize()
        self.seq += 1
        return record_header(content_type, self.version, len(fragment)) + fragment

    def _unpad(self, padded: bytes) -> bytes | None:
        pad = padded[-1]
        if pad + 1 > len(padded) or padded[-(pad + 1):] != bytes([pad]) * (pad + 1):
            return None
        return padded[:-(pad + 1)]

    def decrypt(self, record: Record, seq: int | None = None) -> tuple[int, bytes]:
        use_seq = self.seq if seq is None else seq
        frag = record.fragment
        bs = self.block_size
        if self.encrypt_then_mac:
            body, tag = frag[:-self.mac_len], frag[-self.mac_len:]
            if len(frag) < self.mac_len + 2 * bs or len(body) % bs:
                raise BadRecordMac("CBC record length invalid")
            expected = self._mac(use_seq, record.content_type, record.legacy_version, body)
            if not hmac.compare_digest(tag, expected):
                raise BadRecordMac("record MAC mismatch")
            dec = self._cbc(body[:bs]).decryptor()
            plaintext = self._unpad(dec.update(body[bs:]) + dec.finalize())
            if plaintext is None:
                raise BadRecordMac("CBC padding invalid")
        else:
            if len(frag) % bs or len(frag) < bs + max(bs, self.mac_len + 1):
                raise BadRecordMac("CBC record length invalid")
            dec = self._cbc(frag[:bs]).decryptor()
            padded = dec.update(frag[bs:]) + dec.finalize()
            unpadded = self._unpad(padded)
            # Check padding and MAC and fail the same way for both (no padding oracle
            # in what we report).
            if unpadded is None or len(unpadded) < self.mac_len:
                raise BadRecordMac("CBC padding or MAC invalid")
            plaintext, tag = unpadded[:-self.mac_len], unpadded[-self.mac_len:]
            expected = self._mac(use_seq, record.content_type, record.legacy_version, plaintext)
            if not hmac.compare_digest(tag, expected):
                raise BadRecordMac("CBC padding or MAC invalid")
        self.seq = use_seq + 1
        return record.content_type, plaintext


def tls12_protection(suite: CipherSuite, key: bytes, iv: bytes, mac_key: bytes = b"",
                     version: int = 0x0303, encrypt_then_mac: bool = False
                     ) -> Tls12AeadProtection | Tls12CbcProtection:
    """The TLS 1.2 protection for one direction of a suite, from key block parts."""
    if suite.tls13:
        raise ValueError(f"{suite.name} is a TLS 1.3 suite")
    if suite.kind == "cbc":
        return Tls12CbcProtection.for_suite(suite, key, mac_key, version, encrypt_then_mac)
    return Tls12AeadProtection(suite.kind, key, iv, version)
