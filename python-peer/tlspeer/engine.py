"""What the sans-IO client and server share: the record layer in both directions,
handshake message reassembly and coalescing, the transcript, key installation,
the NSS key log, alerts, application data, KeyUpdate and close. Once a hello
settles the version (`self.version`), TLS 1.2 records follow RFC 5246: the real
content type on the wire, protection from each side's ChangeCipherSpec on
(the subclass's `_on_ccs12`), warning alerts ignored, no KeyUpdate.

Bytes go in with `receive_data(data) -> events` and come out with
`data_to_send()`. A failure raises TLSError after queueing the fatal alert, so the
caller still sends `data_to_send()`; events decoded earlier in that same call are
on the exception as `error.events`.
"""
from __future__ import annotations

import hashlib
import os
import time
from typing import Callable, Sequence

from . import messages as m
from . import sigschemes, tls12
from .errors import (AlertReceived, BadRecordMacError, DecodeError, DecryptError,
                     IllegalParameter, InternalError, ProtocolVersion, RecordOverflow,
                     SilentFailure, TLSError, UnexpectedMessage)
from .events import (ApplicationData, ConnectionClosed, ConnectionInfo, Event, HandshakeComplete,
                     KeyUpdateReceived)
from .hooks import HandshakeBytes, Hooks
from .keyschedule import (Tls13KeySchedule, export_keying_material, next_traffic_secret,
                          traffic_key_iv)
from .record import (ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE, MAX_FRAGMENT,
                     MAX_PLAINTEXT, MAX_TLS13_CIPHERTEXT, BadRecordMac, Record, RecordError,
                     RecordReader, RecordTooLong, Tls13Protection, record_header)
from .suites import CipherSuite

Rand = Callable[[int], bytes]
Now = Callable[[], float]
KeyLogWriter = Callable[[str], None]

_MAX_HANDSHAKE_MESSAGE = 1 << 17  # far above any message we expect; stops a memory DoS
_MAX_CCS = 16  # Go allows this many useless records in a row
_MAX_WARNINGS = 5  # TLS 1.2 warning alerts tolerated in a row (Go's maxUselessRecords)


class Transcript:
    """The handshake messages so far (RFC 8446 §4.4.1). The hash is chosen once
    the suite is known; after a HelloRetryRequest, ClientHello1 is replaced by
    message_hash."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self._hash: "hashlib._Hash | None" = None
        self._fed = 0

    def add(self, raw: bytes) -> None:
        self.messages.append(raw)

    def set_hash(self, hash_name: str) -> None:
        self._hash = hashlib.new(hash_name)
        self._fed = 0

    def replace_first_with_message_hash(self, hash_name: str) -> None:
        first = self.messages[0]
        self.messages[0] = m.MessageHash.of(hash_name, first).encode()
        self.set_hash(hash_name)

    def digest(self, extra: bytes = b"") -> bytes:
        """The hash of every message so far, plus `extra` (a truncated
        ClientHello for a binder) without adding it."""
        assert self._hash is not None, "transcript hash used before the suite is known"
        for raw in self.messages[self._fed:]:
            self._hash.update(raw)
        self._fed = len(self.messages)
        if not extra:
            return self._hash.copy().digest()
        h = self._hash.copy()
        h.update(extra)
        return h.digest()

    @staticmethod
    def of(hash_name: str, messages: list[bytes], extra: bytes = b"") -> bytes:
        h = hashlib.new(hash_name)
        for raw in messages:
            h.update(raw)
        h.update(extra)
        return h.digest()


def protection(suite: CipherSuite, secret: bytes) -> Tls13Protection:
    keys = traffic_key_iv(suite.prf_hash, secret, suite.key_len)
    return Tls13Protection(suite.kind, keys.key, keys.iv)


class Engine:
    """The shared half of ClientEngine and ServerEngine."""

    role = "?"

    def __init__(self, *, rand: Rand | None = None, now: Now | None = None,
                 keylog: KeyLogWriter | None = None, hooks: Hooks | None = None) -> None:
        self._rand = rand or os.urandom
        self._now = now or time.time
        self._keylog = keylog
        self.hooks = hooks or Hooks()
        self._out = bytearray()
        self._reader = RecordReader()
        self._hs_in = bytearray()
        self._hs_out = bytearray()  # handshake bytes not yet framed: coalesced per key
        self._read: Tls13Protection | None = None
        self._write: Tls13Protection | None = None
        self._read_secret = b""
        self._write_secret = b""
        self._read_early = False  # the read key is the client's early traffic key
        self._plain_version = 0x0303  # legacy_version of plaintext records
        self._ccs_in = 0
        self._events: list[Event] = []
        self.suite: CipherSuite | None = None
        self.version: int | None = None  # 0x0303 or 0x0304 once the hellos settle it
        self.schedule: Tls13KeySchedule | None = None
        self.transcript = Transcript()
        self.client_random = b""
        self.exporter_secret = b""
        # TLS 1.2: the master secret, the server's random and whether RFC 7627 was used.
        self.master_secret = b""
        self.server_random = b""
        self.extended_master_secret = False
        self._warnings = 0
        self.handshake_complete = False
        self.closed = False  # failed, or close_notify both ways
        self.peer_closed = False
        self.close_sent = False
        self.error: TLSError | None = None
        self.info: ConnectionInfo | None = None
        #: Run once, as soon as the record that completes the handshake is handled and
        #: before any record after it: what it queues (post-handshake messages) goes out
        #: whatever else the same read brought.
        self.after_handshake: Callable[[], None] | None = None
        # Server only: how many bytes of rejected 0-RTT may still be skipped.
        self._skip_early: int | None = None
        self._skip_app_records = False  # after an HRR, until ClientHello2

    # ------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Every byte the engine wants on the wire, once."""
        self._flush()
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; returns what happened. Raises TLSError (its
        alert already queued) when the connection fails."""
        if self.error is not None:
            raise self.error
        self._events = []
        try:
            for rec in self._reader.feed(data):
                self._on_record(rec)
                if self.handshake_complete and self.after_handshake is not None:
                    hook, self.after_handshake = self.after_handshake, None
                    hook()
            self._reader.feed(b"")  # surfaces a bad header behind good records
        except RecordError as exc:
            self._fail_with(self._record_error(exc))
        except TLSError as exc:
            self._fail_with(exc)
        except Exception as exc:  # a bug must still end the connection cleanly
            err = InternalError(f"tls: internal error: {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self._fail_with(err)
        self._flush()
        return self._events

    def send_application_data(self, data: bytes) -> None:
        if not self.handshake_complete or self.closed or self.close_sent:
            raise UnexpectedMessage("tls: application data before the handshake or after close")
        for i in range(0, len(data), MAX_PLAINTEXT):
            self._send_record(APPLICATION_DATA, data[i:i + MAX_PLAINTEXT])

    def send_key_update(self, request_update: bool = False) -> None:
        """Send KeyUpdate and move to the next write secret (RFC 8446 §4.6.3)."""
        if not self.handshake_complete:
            raise UnexpectedMessage("tls: KeyUpdate before the handshake is complete")
        if self.version == tls12.TLS12:
            raise UnexpectedMessage("tls: KeyUpdate is TLS 1.3's; this connection is TLS 1.2")
        self._write_handshake("key_update", m.KeyUpdate(1 if request_update else 0),
                              transcript=False)
        self._set_write(next_traffic_secret(self._suite.prf_hash, self._write_secret))

    def send_post_handshake(self, messages: Sequence[str], together: bool = False) -> None:
        """Post-handshake messages, in order: `key_update`, `key_update_requested`,
        `new_session_ticket` (a client's is one no server asked for). Each goes in
        its own record, or all in one record under the current key (`together`),
        the write key moving on once per KeyUpdate after it. On TLS 1.2 they are
        sent as they are, with no key change."""
        if not self.handshake_complete:
            raise UnexpectedMessage("tls: post-handshake messages before the handshake is complete")
        moves = 0  # KeyUpdates in the record being filled
        for i, name in enumerate(messages):
            if name == "new_session_ticket":
                self._post_handshake_ticket()
            else:
                self._write_handshake("key_update", m.KeyUpdate(int(name == "key_update_requested")),
                                      transcript=False)
                moves += self.version != tls12.TLS12
            if not together or i == len(messages) - 1:  # the record ends here
                self._flush()
                for _ in range(moves):
                    self._set_write(next_traffic_secret(self._suite.prf_hash, self._write_secret))
                moves = 0

    def _post_handshake_ticket(self) -> None:
        """Queue one NewSessionTicket (the server's engine issues a real one)."""
        self._write_handshake("new_session_ticket", m.NewSessionTicket(
            0, 0, b"", b"tlsdiff-unsolicited-ticket", []), transcript=False)

    def close(self) -> None:
        """Queue close_notify; nothing can be sent after it."""
        if self.error is None and not self.close_sent:
            self._send_record(ALERT, b"\x01\x00")
        self.close_sent = True
        if self.peer_closed:
            self.closed = True

    def export_keying_material(self, label: str, context: bytes | None, length: int) -> bytes:
        """TLS-Exporter (RFC 8446 §7.5); a nil context is the empty one in 1.3.
        In TLS 1.2 the RFC 5705 exporter, only with extended master secret (as Go
        1.22+: without it the exporter is not bound to this connection)."""
        if self.version == tls12.TLS12:
            if not self.handshake_complete:
                raise UnexpectedMessage("tls: exporter used before the handshake is complete")
            if not self.extended_master_secret:
                raise UnexpectedMessage("crypto/tls: ExportKeyingMaterial is unavailable when "
                                        "neither TLS 1.3 nor Extended Master Secret are negotiated")
            return tls12.export_keying_material(self._suite, self.master_secret, self.client_random,
                                                self.server_random, label, context, length)
        if not self.exporter_secret:
            raise UnexpectedMessage("tls: exporter used before the handshake is complete")
        return export_keying_material(self._suite.prf_hash, self.exporter_secret, label,
                                      context or b"", length)

    # ------------------------------------------------------------------
    # For the subclasses
    # ------------------------------------------------------------------

    @property
    def _suite(self) -> CipherSuite:
        assert self.suite is not None
        return self.suite

    def rand(self, n: int) -> bytes:
        value = self._rand(n)
        if len(value) != n:
            raise InternalError(f"tls: rand gave {len(value)} bytes, {n} asked")
        return value

    def now(self) -> float:
        return self._now()

    def keylog(self, label: str, secret: bytes) -> None:
        if self._keylog is not None:
            self._keylog(f"{label} {self.client_random.hex()} {secret.hex()}\n")

    def _handle_handshake(self, msg_type: int, body: bytes, raw: bytes) -> None:
        raise NotImplementedError

    def _handshake_in_progress_ccs_ok(self) -> bool:
        """Whether a compatibility ChangeCipherSpec may arrive now."""
        return not self.handshake_complete

    def _write_handshake(self, name: str, msg: m.Message, transcript: bool = True) -> bytes:
        """Encode (after the mutate hook), add to the transcript, queue for the
        current write key. Returns the encoding."""
        if self.hooks.mutate is not None:
            msg = self.hooks.mutate(name, msg)
        raw = msg.encode()
        self._queue_handshake(name, raw, transcript)
        return raw

    def _queue_handshake(self, name: str, raw: bytes, transcript: bool = True) -> None:
        if self.hooks.wire is None:
            if transcript:
                self.transcript.add(raw)
            self._hs_out += raw
        else:
            # A message edit: the transcript holds the message as it went on the wire.
            for piece in self.hooks.wire(name, raw):
                if transcript and piece.transcript:
                    self.transcript.add(piece.data)
                if piece.own_record or piece.record_version is not None:
                    self._own_record(piece.data, piece.record_version)
                else:
                    self._hs_out += piece.data
        if self.hooks.after_message is not None:
            extra = self.hooks.after_message(name, raw)
            if isinstance(extra, HandshakeBytes):
                self._hs_out += extra
            elif extra:
                self._flush()
                self._out += extra

    def _own_record(self, data: bytes, version: int | None = None) -> None:
        """Handshake bytes in a record of their own (a plaintext one with `version`)."""
        self._flush()
        saved = self._plain_version
        if version is not None:
            self._plain_version = version
        self._hs_out += data
        self._flush()
        self._plain_version = saved

    def _send_record(self, content_type: int, payload: bytes) -> None:
        self._flush()
        self._record_out(content_type, payload)

    def _send_ccs(self) -> None:
        self._flush()
        self._out += record_header(CHANGE_CIPHER_SPEC, 0x0303, 1) + b"\x01"

    def _set_write(self, secret: bytes, suite: CipherSuite | None = None) -> None:
        self._flush()  # what was queued goes under the old key
        self._write_secret = secret
        self._write = protection(suite or self._suite, secret)

    def _set_read(self, secret: bytes, early: bool = False) -> None:
        if self._hs_in:
            # RFC 8446 §5.1: handshake messages must not span a key change.
            raise UnexpectedMessage("tls: handshake data after a message that changes keys")
        self._read_secret = secret
        self._read = protection(self._suite, secret)
        self._read_early = early

    # Go's texts for a bad CertificateVerify, by the role that receives it.
    _CV_ERRORS = {
        "client": ("tls: certificate used with invalid signature algorithm",
                   "tls: invalid signature by the server certificate"),
        "server": ("tls: client certificate used with invalid signature algorithm",
                   "tls: invalid signature by the client certificate"),
    }

    def _on_certificate_verify(self, cv: m.CertificateVerify, raw: bytes) -> None:
        """The peer's TLS 1.3 CertificateVerify (RFC 8446 §4.4.3)."""
        bad_scheme, bad_signature = self._CV_ERRORS[self.role]
        if (cv.scheme not in self.config.signature_algorithms
                or cv.scheme not in sigschemes.CERTIFICATE_VERIFY_SCHEMES):
            raise IllegalParameter(bad_scheme)
        content = sigschemes.signed_content(self.role == "client", self.transcript.digest())
        if not sigschemes.verify(self._peer_key, cv.scheme, content, cv.signature):
            raise DecryptError(bad_signature)
        self._peer_scheme = cv.scheme
        self.transcript.add(raw)
        self._state = "wait_finished"

    def _fail_with(self, exc: TLSError) -> None:
        if self.error is None:
            self.error = exc
            self.closed = True
            self.after_handshake = None  # never to run; it may hold this engine (a cycle)
            if not isinstance(exc, (AlertReceived, SilentFailure)):
                self._flush()
                self._record_out(ALERT, bytes([2, exc.alert]))
        exc.events = self._events  # type: ignore[attr-defined]
        raise exc

    def _finish_handshake(self, info: ConnectionInfo) -> None:
        self.info = info
        self.handshake_complete = True
        self._events.append(HandshakeComplete(info))

    # ------------------------------------------------------------------
    # Records out
    # ------------------------------------------------------------------

    def _flush(self) -> None:
        if not self._hs_out:
            return
        data = bytes(self._hs_out)
        self._hs_out.clear()
        for i in range(0, len(data), MAX_PLAINTEXT):
            self._record_out(HANDSHAKE, data[i:i + MAX_PLAINTEXT])

    def _record_out(self, content_type: int, payload: bytes) -> None:
        if self._write is None:
            self._out += record_header(content_type, self._plain_version, len(payload)) + payload
        else:
            self._out += self._write.encrypt(content_type, payload)

    # ------------------------------------------------------------------
    # Records in
    # ------------------------------------------------------------------

    @staticmethod
    def _record_error(exc: RecordError) -> TLSError:
        text = str(exc)
        if isinstance(exc, RecordTooLong) or "exceeds" in text:
            return RecordOverflow(f"tls: {text}")
        if "is not TLS" in text:
            return ProtocolVersion(f"tls: {text}")
        return UnexpectedMessage(f"tls: {text}")

    def _on_record(self, rec: Record) -> None:
        if self.closed and self.error is None and self.peer_closed:
            return
        ctype = rec.content_type
        if ctype == CHANGE_CIPHER_SPEC:
            if self.version == tls12.TLS12:
                if rec.fragment != b"\x01":
                    raise UnexpectedMessage("tls: ChangeCipherSpec payload is not 0x01")
                if self._hs_in:
                    raise UnexpectedMessage("tls: handshake message split across ChangeCipherSpec")
                self._on_ccs12()
            else:
                self._on_ccs(rec)
            return
        if self.version == tls12.TLS12 and self._read is not None:
            self._on_record12(rec)
            return
        # A peer that fails before it has our keys alerts in the clear: accept that.
        if self._read is None or ctype == ALERT:
            if ctype == APPLICATION_DATA:
                if self._skip_app_records:
                    return  # 0-RTT after our HelloRetryRequest (RFC 8446 §4.2.10)
                raise UnexpectedMessage("tls: unexpected application data before keys")
            if len(rec.fragment) > MAX_PLAINTEXT:
                raise RecordOverflow("tls: plaintext record longer than 2^14")
            content = rec.fragment
        else:
            if ctype != APPLICATION_DATA:
                raise UnexpectedMessage(f"tls: plaintext record of type {ctype} after keys")
            if len(rec.fragment) > MAX_TLS13_CIPHERTEXT:
                raise RecordOverflow("tls: record longer than 2^14 + 256")
            try:
                ctype, content = self._read.decrypt(rec)
            except BadRecordMac as exc:
                if self._skip_early is not None and len(rec.fragment) <= self._skip_early:
                    self._skip_early -= len(rec.fragment)  # rejected 0-RTT (§4.2.10)
                    return
                raise BadRecordMacError("tls: bad record MAC") from exc
            self._skip_early = None  # the first record that opens ends the skipping
        self._on_content(ctype, content)

    def _on_record12(self, rec: Record) -> None:
        """Every TLS 1.2 record after the peer's ChangeCipherSpec is protected,
        whatever its content type (RFC 5246 §6.2.3)."""
        if len(rec.fragment) > MAX_FRAGMENT:
            raise RecordOverflow("tls: record longer than 2^14 + 2048")
        try:
            ctype, content = self._read.decrypt(rec)
        except BadRecordMac as exc:
            raise BadRecordMacError("tls: bad record MAC") from exc
        if len(content) > MAX_PLAINTEXT:
            raise RecordOverflow("tls: plaintext record longer than 2^14")
        self._on_content(ctype, content)

    def _on_ccs12(self) -> None:
        """A TLS 1.2 ChangeCipherSpec: the subclass switches the read key."""
        raise UnexpectedMessage("tls: unexpected ChangeCipherSpec")

    def _send_ccs12(self, pending_write: object) -> None:
        """ChangeCipherSpec, then everything we write is under the new keys."""
        self._send_ccs()
        self._write = pending_write  # type: ignore[assignment]

    def _on_ccs(self, rec: Record) -> None:
        if rec.fragment != b"\x01":
            raise UnexpectedMessage("tls: ChangeCipherSpec payload is not 0x01")
        self._ccs_in += 1
        if not self._handshake_in_progress_ccs_ok() or self._ccs_in > _MAX_CCS:
            raise UnexpectedMessage("tls: unexpected ChangeCipherSpec")

    def _on_content(self, ctype: int, content: bytes) -> None:
        if ctype != HANDSHAKE and self._hs_in:
            raise UnexpectedMessage("tls: handshake message interleaved with another record type")
        if ctype == HANDSHAKE:
            if not content:
                raise UnexpectedMessage("tls: zero-length handshake fragment")
            self._hs_in += content
            self._drain_handshake()
        elif ctype == ALERT:
            self._on_alert(content)
        elif ctype == APPLICATION_DATA:
            if self._read_early:
                self._events.append(ApplicationData(content, early=True))
            elif not self.handshake_complete:
                raise UnexpectedMessage("tls: application data before the handshake is complete")
            else:
                self._events.append(ApplicationData(content))
        else:
            raise UnexpectedMessage(f"tls: unexpected record type {ctype}")

    def _on_alert(self, content: bytes) -> None:
        if len(content) != 2:
            raise DecodeError("tls: alert record is not two bytes")
        level, description = content
        if description == 0:
            self.peer_closed = True
            self._events.append(ConnectionClosed())
            return
        if level == 1 and description == 90:
            return  # user_canceled warning: a close_notify follows
        if level == 1 and self.version == tls12.TLS12:
            # TLS 1.2 warnings (no_renegotiation, ...) do not end the connection.
            self._warnings += 1
            if self._warnings > _MAX_WARNINGS:
                raise UnexpectedMessage("tls: too many ignored records")
            return
        raise AlertReceived(description, level)

    def _drain_handshake(self) -> None:
        while len(self._hs_in) >= 4:
            length = int.from_bytes(self._hs_in[1:4], "big")
            if length > _MAX_HANDSHAKE_MESSAGE:
                raise UnexpectedMessage(f"tls: handshake message of {length} bytes")
            if len(self._hs_in) < 4 + length:
                return
            raw = bytes(self._hs_in[:4 + length])
            del self._hs_in[:4 + length]
            if self.peer_closed:
                raise UnexpectedMessage("tls: handshake message after close_notify")
            msg_type = raw[0]
            if self.handshake_complete and msg_type == m.KEY_UPDATE and self.version != tls12.TLS12:
                self._on_key_update(raw[4:])
            else:
                self._handle_handshake(msg_type, raw[4:], raw)

    def _on_key_update(self, body: bytes) -> None:
        ku = m.KeyUpdate.decode(body)
        self._set_read(next_traffic_secret(self._suite.prf_hash, self._read_secret))
        self._events.append(KeyUpdateReceived(bool(ku.request_update)))
        if ku.request_update and not (self.closed or self.close_sent):
            self.send_key_update(False)
