"""Decode one recorded TLS connection: raw bytes both ways plus a key log in, a
typed, JSON-friendly account of records, handshake messages, alerts and
application data out.

This is what the harness calls to see what a peer really sent, so it never raises
on bad input: a missing key, a record that does not decrypt, a truncated stream or
a malformed message is reported in the result and decoding carries on with what is
left.

How keys are chosen:

* The hellos are read first (they are in the clear) to learn the version, the
  cipher suite and both randoms; the key log entry is looked up by the
  ClientHello random.
* TLS 1.3: every record with outer type application_data is protected. Each
  direction walks its epochs in order (client: early if 0-RTT was offered,
  handshake, application, then one per KeyUpdate; server: handshake, application,
  ...). A direction moves to its next epoch after the message that ends the
  current one (EndOfEarlyData, Finished, KeyUpdate); when the current key does not
  open a record the later epochs are tried, which covers rejected 0-RTT and
  messages that could not be read.
* TLS 1.2: a direction is protected from its ChangeCipherSpec on, with keys from
  the CLIENT_RANDOM master secret, the two randoms and the suite.
"""
from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from . import handshake as hs
from .keylog import (CLIENT_EARLY_TRAFFIC_SECRET, CLIENT_HANDSHAKE_TRAFFIC_SECRET,
                     CLIENT_RANDOM, CLIENT_TRAFFIC_SECRET_0, SERVER_HANDSHAKE_TRAFFIC_SECRET,
                     SERVER_TRAFFIC_SECRET_0, KeyLog, KeyLogError, parse_keylog)
from .keyschedule import key_block12, next_traffic_secret, traffic_key_iv
from .record import (ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE, BadRecordMac,
                     Record, RecordError, RecordProtection, RecordReader, Tls13Protection,
                     content_type_name, tls12_protection)
from .suites import SUITE_BY_ID, CipherSuite, suite_name

TLS12 = 0x0303
TLS13 = 0x0304

# How many records in a row may fail in one epoch before we stop guessing that
# the sender skipped sequence numbers (a corrupted record still uses one up).
_MAX_SEQ_SKIP = 4

_HELLOS = (hs.CLIENT_HELLO, hs.SERVER_HELLO)


# ---------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class RecordInfo:
    index: int
    offset: int
    content_type: int
    legacy_version: int
    length: int  # fragment length; the record takes 5 more bytes on the wire
    encrypted: bool
    decrypted: bool
    epoch: str | None  # "plaintext", "early", "handshake", "application[_N]", "protected"
    inner_content_type: int | None = None
    plaintext_length: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        inner = self.inner_content_type
        return {
            "index": self.index,
            "offset": self.offset,
            "content_type": self.content_type,
            "content_type_name": content_type_name(self.content_type),
            "legacy_version": self.legacy_version,
            "length": self.length,
            "wire_length": self.length + 5,
            "encrypted": self.encrypted,
            "decrypted": self.decrypted,
            "epoch": self.epoch,
            "inner_content_type": inner,
            "inner_content_type_name": None if inner is None else content_type_name(inner),
            "plaintext_length": self.plaintext_length,
            "error": self.error,
        }


@dataclass(slots=True)
class HandshakeInfo:
    msg_type: int
    length: int
    record_index: int  # the record holding the message's first byte
    encrypted: bool
    epoch: str | None
    _summary: dict[str, Any] | None = None
    decode_error: str | None = None
    body: bytes = field(default=b"", repr=False)
    #: A hello's summary is made when first read, from the cache its decoding is in:
    #: an observer that reads only alerts and tickets (a fuzz campaign) never makes it.
    _hello_cache: "DecodeCache | None" = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> dict[str, Any] | None:
        if self._summary is None and self._hello_cache is not None:
            self._summary = _hello_summary(self.msg_type, self.body, self._hello_cache)
        return self._summary

    @summary.setter
    def summary(self, value: dict[str, Any] | None) -> None:
        self._summary = value

    @property
    def name(self) -> str:
        return hs.handshake_type_name(self.msg_type)

    def encode(self) -> bytes:
        return hs.HandshakeMessage(self.msg_type, self.body).encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.msg_type,
            "name": self.name,
            "length": self.length,
            "record_index": self.record_index,
            "encrypted": self.encrypted,
            "epoch": self.epoch,
            "summary": self.summary,
            "decode_error": self.decode_error,
        }


@dataclass(slots=True)
class AlertInfo:
    level: int
    description: int
    record_index: int
    encrypted: bool
    epoch: str | None

    @property
    def level_name(self) -> str:
        return hs.alert_level_name(self.level)

    @property
    def description_name(self) -> str:
        return hs.alert_description_name(self.description)

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "level_name": self.level_name,
            "description": self.description,
            "description_name": self.description_name,
            "encrypted": self.encrypted,
            "record_index": self.record_index,
            "epoch": self.epoch,
        }


@dataclass(slots=True)
class AppDataInfo:
    length: int
    record_index: int
    encrypted: bool
    epoch: str | None
    data: bytes = field(default=b"", repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"length": self.length, "record_index": self.record_index,
                "encrypted": self.encrypted, "epoch": self.epoch}


@dataclass
class Direction:
    """What one endpoint sent: `sender` is "client" or "server"."""

    sender: str
    total_bytes: int = 0
    records: list[RecordInfo] = field(default_factory=list)
    handshake_messages: list[HandshakeInfo] = field(default_factory=list)
    alerts: list[AlertInfo] = field(default_factory=list)
    application_data: list[AppDataInfo] = field(default_factory=list)
    change_cipher_spec_count: int = 0
    truncated_bytes: int = 0  # an incomplete record at the end of the stream
    unparsed_bytes: int = 0  # bytes after a header that is not TLS
    pending_handshake_bytes: int = 0  # an incomplete handshake message at the end
    notes: list[str] = field(default_factory=list)
    # After each record: what the lists held, the reassembler's pending bytes and whether
    # 0-RTT was accepted so far (prefix() reads them); and whether notes[0] is the
    # framing note of this stream's end.
    _marks: list[tuple[int, int, int, int, int, int, bool | None]] = field(
        default_factory=list, repr=False, compare=False)
    _framing_note: bool = field(default=False, repr=False, compare=False)

    def prefix(self, length: int) -> "tuple[Direction, bool | None] | None":
        """This direction as decoding only the stream's first `length` bytes gives it, and
        whether 0-RTT was accepted by then; None unless `length` ends one of its records.
        Decoding reads records in order and nothing later changes what an earlier one
        gave, so the records up to there are the shorter stream's whole decoding."""
        ends = [r.offset + 5 + r.length for r in self.records]
        try:
            k = ends.index(length) + 1
        except ValueError:
            return None
        n_hs, n_alerts, n_app, n_notes, ccs, pending, early = self._marks[k - 1]
        notes = self.notes[int(self._framing_note):n_notes]
        if pending:
            notes.append(f"incomplete handshake message at end ({pending} bytes)")
        out = Direction(self.sender, length, self.records[:k], self.handshake_messages[:n_hs],
                        self.alerts[:n_alerts], self.application_data[:n_app], ccs, 0, 0, pending, notes,
                        self._marks[:k])
        return out, early

    @property
    def handshake_types(self) -> list[str]:
        return [m.name for m in self.handshake_messages]

    @property
    def undecrypted_records(self) -> int:
        return sum(1 for r in self.records if r.encrypted and not r.decrypted)

    @property
    def application_bytes(self) -> bytes:
        return b"".join(a.data for a in self.application_data)

    def to_json(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "bytes": self.total_bytes,
            "records": [r.to_json() for r in self.records],
            "handshake_messages": [m.to_json() for m in self.handshake_messages],
            "alerts": [a.to_json() for a in self.alerts],
            "application_data": [a.to_json() for a in self.application_data],
            "application_data_bytes": sum(a.length for a in self.application_data),
            "change_cipher_spec_count": self.change_cipher_spec_count,
            "undecrypted_records": self.undecrypted_records,
            "truncated_bytes": self.truncated_bytes,
            "unparsed_bytes": self.unparsed_bytes,
            "pending_handshake_bytes": self.pending_handshake_bytes,
            "notes": list(self.notes),
        }


@dataclass
class Connection:
    version: int | None
    cipher_suite: int | None
    hello_retry_request: bool
    resumed: bool | None
    early_data_offered: bool
    early_data_accepted: bool | None
    client_random: bytes | None
    server_random: bytes | None
    keylog_labels: list[str]
    client_to_server: Direction
    server_to_client: Direction
    notes: list[str] = field(default_factory=list)
    # The secrets that opened this connection when the key log had none for its own random,
    # found by trial: ECH's inner hello's, a resumed TLS 1.2 session's master secret.
    borrowed_secrets: dict[str, bytes] = field(default_factory=dict)

    @property
    def version_name(self) -> str | None:
        return None if self.version is None else hs.version_name(self.version)

    @property
    def cipher_suite_name(self) -> str | None:
        return None if self.cipher_suite is None else suite_name(self.cipher_suite)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "version_name": self.version_name,
            "cipher_suite": self.cipher_suite,
            "cipher_suite_name": self.cipher_suite_name,
            "hello_retry_request": self.hello_retry_request,
            "resumed": self.resumed,
            "early_data_offered": self.early_data_offered,
            "early_data_accepted": self.early_data_accepted,
            "client_random": None if self.client_random is None else self.client_random.hex(),
            "server_random": None if self.server_random is None else self.server_random.hex(),
            "keylog_labels": list(self.keylog_labels),
            "client_to_server": self.client_to_server.to_json(),
            "server_to_client": self.server_to_client.to_json(),
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------
# Remembering decoded streams
# ---------------------------------------------------------------------------


#: What DecodeCache.get finds for a key it does not hold (None may be a value).
_MISSING = object()


class DecodeCache:
    """Decoded hellos and directions, remembered by their bytes.

    The two sides of a connection record the same streams, and releases that behave
    alike send the same bytes (their randomness is seeded by the case), so a caller
    decoding many connections meets most streams more than once. A direction's
    decoding depends only on its bytes and the connection's keys and hellos (the
    `_Context`), so a direction seen again under the same context is the same result.
    Bounded: the least recently used entries go first, so memory stays flat however
    many connections pass. What it hands out is shared between results: read it,
    never change it.
    """

    #: Directions decoded last, searched for one whose stream the next extends.
    RECENT = 8

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._recent: deque[tuple[Hashable, bytes, Any]] = deque(maxlen=self.RECENT)
        # Several threads may decode at once (a fuzz campaign normalizes two batches'
        # runs side by side): the tables change under this lock; decoding, outside it.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.prefixes = 0

    def direction(self, sender: str, stream: bytes, ctx_key: Hashable,
                  make: Callable[[], "tuple[Direction, bool | None]"]) -> "tuple[Direction, bool | None]":
        """A direction's decoding: remembered; or cut from a recent one whose stream this one
        begins (one side of a connection read less than the other wrote: a trailing
        close_notify); or made."""
        def made() -> Any:
            with self._lock:
                recent = list(self._recent)
            for key, longer, (direction, _) in recent:
                if key == (sender, ctx_key) and len(longer) > len(stream) and longer.startswith(stream):
                    cut = direction.prefix(len(stream))
                    if cut is not None:
                        self.prefixes += 1
                        return cut
            value = make()
            with self._lock:
                self._recent.append(((sender, ctx_key), stream, value))
            return value
        return self.get((sender, stream, ctx_key), made)

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        entries = self._entries
        with self._lock:
            # .get, not entries[key] in a try: more than half the lookups miss (48,826 of
            # 82,867 normalizing 3,072 runs of a campaign), each raising a KeyError.
            value = entries.get(key, _MISSING)
            if value is not _MISSING:
                self.hits += 1
                entries.move_to_end(key)
                return value
            self.misses += 1
        value = make()
        with self._lock:
            entries[key] = value
            if len(entries) > self.size:
                entries.popitem(last=False)
        return value


def _decode_hello(msg_type: int, body: bytes, cache: DecodeCache) -> Any:
    """A ClientHello or ServerHello decoded (DecodeError if it does not decode)."""
    return _hello_entry(msg_type, body, cache)[0]


def _hello_summary(msg_type: int, body: bytes, cache: DecodeCache) -> dict[str, Any]:
    """A hello's JSON summary, made once per body."""
    entry = _hello_entry(msg_type, body, cache)
    if entry[1] is None:
        entry[1] = entry[0].to_json()
    return entry[1]


def _hello_entry(msg_type: int, body: bytes, cache: DecodeCache) -> list[Any]:
    def make() -> list[Any]:
        decode = hs.decode_client_hello if msg_type == hs.CLIENT_HELLO else hs.decode_server_hello
        try:
            return [decode(body), None]
        except hs.DecodeError as exc:
            return [exc, None]
    entry = cache.get(("hello", msg_type, body), make)
    if isinstance(entry[0], hs.DecodeError):
        raise entry[0]
    return entry


# ---------------------------------------------------------------------------
# Framing and the hello pre-scan
# ---------------------------------------------------------------------------


@dataclass
class _Framed:
    records: list[Record]
    total: int
    truncated: int
    unparsed: int
    note: str | None


def _frame(data: bytes) -> _Framed:
    reader = RecordReader()
    records: list[Record] = []
    try:
        records = reader.feed(data)
        reader.feed(b"")  # surfaces a bad header that follows good records
    except RecordError as exc:
        # The rest of the stream is out of step; keep what framed before it.
        return _Framed(records, len(data), 0, len(reader.pending), str(exc))
    return _Framed(records, len(data), len(reader.pending), 0, None)


def _scan_server_hellos(records: list[Record], cache: DecodeCache) -> tuple[list[hs.ServerHello], bool | None]:
    reasm = hs.HandshakeReassembler()
    hellos: list[hs.ServerHello] = []
    seen: list[int] = []
    have_sh = False
    for rec in records:
        if rec.content_type == APPLICATION_DATA:
            break
        if rec.content_type == CHANGE_CIPHER_SPEC:
            if have_sh:
                # TLS 1.2: the server's CCS ends its clear flight. Without a
                # ServerHelloDone before it, the handshake was abbreviated.
                return hellos, hs.SERVER_HELLO_DONE not in seen
            continue
        if rec.content_type != HANDSHAKE:
            continue
        for msg in reasm.feed(rec.fragment):
            seen.append(msg.msg_type)
            if msg.msg_type == hs.SERVER_HELLO:
                try:
                    sh = _decode_hello(msg.msg_type, msg.body, cache)
                except hs.DecodeError:
                    continue
                hellos.append(sh)
                have_sh = have_sh or not sh.is_hello_retry_request
    return hellos, None


def _scan_client_hellos(records: list[Record], hrr: bool, cache: DecodeCache) -> list[hs.ClientHello]:
    reasm = hs.HandshakeReassembler()
    hellos: list[hs.ClientHello] = []
    wanted = 2 if hrr else 1
    for rec in records:
        if rec.content_type in (CHANGE_CIPHER_SPEC, APPLICATION_DATA):
            # After an HRR, 0-RTT records and a compatibility CCS may come before
            # ClientHello2; otherwise the clear part is over.
            if hrr and len(hellos) < wanted:
                continue
            break
        if rec.content_type != HANDSHAKE:
            continue
        for msg in reasm.feed(rec.fragment):
            if msg.msg_type == hs.CLIENT_HELLO:
                try:
                    hellos.append(_decode_hello(msg.msg_type, msg.body, cache))
                except hs.DecodeError:
                    continue
        if len(hellos) >= wanted:
            break
    return hellos


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


class _Epoch:
    """One TLS 1.3 key epoch of one direction. Several candidate protections exist
    only while the suite is uncertain (0-RTT under a PSK whose suite we do not see)."""

    def __init__(self, name: str, kind: str, secret: bytes | None,
                 suites: list[CipherSuite], note: str | None = None) -> None:
        self.name = name
        self.kind = kind  # "early", "handshake", "application"
        self.secret = secret
        self.suites = suites
        self.note = note
        self.candidates: list[tuple[CipherSuite, Tls13Protection]] = []
        if secret is not None:
            for suite in suites:
                if len(secret) == suite.hash_len:
                    keys = traffic_key_iv(suite.prf_hash, secret, suite.key_len)
                    self.candidates.append((suite, Tls13Protection(suite.kind, keys.key, keys.iv)))
        self.missed = 0

    @property
    def usable(self) -> bool:
        return bool(self.candidates)

    def try_open(self, rec: Record) -> tuple[int, bytes] | str | None:
        """(type, content) on success; an error string if the record authenticated
        but its inner plaintext is invalid; None if no key opens it."""
        for i, (suite, prot) in enumerate(self.candidates):
            for seq in range(prot.seq, prot.seq + self.missed + 1):
                try:
                    out = prot.decrypt(rec, seq=seq)
                except BadRecordMac:
                    continue
                except RecordError as exc:
                    self.candidates = [self.candidates[i]]
                    self.missed = 0
                    return str(exc)
                # The first success settles which suite this epoch uses.
                self.candidates = [self.candidates[i]]
                self.missed = 0
                return out
        return None

    def next_application(self, index: int) -> "_Epoch":
        secret = None
        suites = [s for s, _ in self.candidates] or self.suites
        if self.secret is not None and suites:
            secret = next_traffic_secret(suites[0].prf_hash, self.secret)
        return _Epoch(f"application_{index}", "application", secret, suites[:1])


@dataclass
class _Context:
    version: int | None
    suite: CipherSuite | None
    suite_id: int | None
    client_random: bytes | None
    server_random: bytes | None
    secrets: dict[str, bytes]
    early_offered: bool
    offered_tls13_suites: list[CipherSuite]
    encrypt_then_mac: bool
    cache: DecodeCache  # decoded hellos (and, across connections, directions)

    def key(self) -> tuple[Any, ...]:
        """Everything a direction's decoding reads from the context (the cache aside)."""
        return (self.version, self.suite_id, self.client_random, self.server_random,
                tuple(sorted(self.secrets.items())), self.early_offered,
                tuple(s.id for s in self.offered_tls13_suites), self.encrypt_then_mac)


# ---------------------------------------------------------------------------
# One direction
# ---------------------------------------------------------------------------


class _DirectionDecoder:
    def __init__(self, sender: str, ctx: _Context, framed: _Framed) -> None:
        self.sender = sender
        self.ctx = ctx
        self.framed = framed
        self.out = Direction(sender, framed.total, truncated_bytes=framed.truncated,
                             unparsed_bytes=framed.unparsed)
        if framed.note:
            self.out.notes.append(f"framing stopped: {framed.note}")
            self.out._framing_note = True
        self.reasm = hs.HandshakeReassembler()
        self.reasm_start: int | None = None  # record index of the pending message's start
        self.early_data_accepted: bool | None = None
        v = ctx.version
        self.mode = "tls13" if v == TLS13 else "tls12" if v == TLS12 else "unknown"
        if v is None and ctx.early_offered and sender == "client" and ctx.offered_tls13_suites:
            self.mode = "tls13"  # only 0-RTT can be read without a ServerHello
        if v is not None and v not in (TLS12, TLS13):
            self.out.notes.append(f"{hs.version_name(v)} records are not decrypted")
        self.epochs: list[_Epoch] = []
        self.cur = 0
        if self.mode == "tls13":
            self._build_tls13_epochs()
        self.ccs_seen = False
        self.prot12: RecordProtection | None = None
        self.prot12_note: str | None = None

    # -- key setup --------------------------------------------------------

    def _build_tls13_epochs(self) -> None:
        ctx = self.ctx
        suites = [ctx.suite] if ctx.suite is not None and ctx.suite.tls13 else []
        if ctx.suite_id is not None and not suites:
            self.out.notes.append(f"cipher suite {suite_name(ctx.suite_id)} is not a TLS 1.3 suite we know")
        if self.sender == "client":
            if ctx.early_offered:
                # 0-RTT uses the PSK's suite; prefer the negotiated one, then any other
                # TLS 1.3 suite the client offered.
                early = suites + [s for s in ctx.offered_tls13_suites if s not in suites]
                self._add_epoch("early", "early", CLIENT_EARLY_TRAFFIC_SECRET, early)
            self._add_epoch("handshake", "handshake", CLIENT_HANDSHAKE_TRAFFIC_SECRET, suites)
            self._add_epoch("application", "application", CLIENT_TRAFFIC_SECRET_0, suites)
        else:
            self._add_epoch("handshake", "handshake", SERVER_HANDSHAKE_TRAFFIC_SECRET, suites)
            self._add_epoch("application", "application", SERVER_TRAFFIC_SECRET_0, suites)

    def _add_epoch(self, name: str, kind: str, label: str, suites: list[CipherSuite]) -> None:
        secret = self.ctx.secrets.get(label)
        note = None if secret is not None else f"no {label} in key log"
        self.epochs.append(_Epoch(name, kind, secret, suites, note))

    def _epoch(self, i: int) -> _Epoch | None:
        # Application epochs beyond the first are made on demand (KeyUpdate).
        while i >= len(self.epochs):
            last = self.epochs[-1] if self.epochs else None
            if last is None or last.kind != "application":
                return None
            self.epochs.append(last.next_application(len(self.epochs) - self._first_app()))
        return self.epochs[i]

    def _first_app(self) -> int:
        for i, e in enumerate(self.epochs):
            if e.kind == "application":
                return i
        return len(self.epochs)

    def _tls12_protection(self) -> RecordProtection | None:
        ctx = self.ctx
        suite = ctx.suite
        if suite is None:
            self.prot12_note = "cipher suite unknown: no ServerHello"
            return None
        if suite.tls13:
            self.prot12_note = f"{suite.name} in a TLS 1.2 connection"
            return None
        master = ctx.secrets.get(CLIENT_RANDOM)
        if master is None:
            self.prot12_note = "no CLIENT_RANDOM in key log"
            return None
        if ctx.client_random is None or ctx.server_random is None:
            self.prot12_note = "hello randoms unknown"
            return None
        block = key_block12(suite.prf_hash, master, ctx.client_random, ctx.server_random,
                            suite.mac_len, suite.key_len, suite.fixed_iv_len)
        client = self.sender == "client"
        return tls12_protection(
            suite,
            block.client_write_key if client else block.server_write_key,
            block.client_write_iv if client else block.server_write_iv,
            block.client_write_mac_key if client else block.server_write_mac_key,
            encrypt_then_mac=ctx.encrypt_then_mac and suite.kind == "cbc",
        )

    # -- records ----------------------------------------------------------

    def run(self) -> Direction:
        out = self.out
        for index, rec in enumerate(self.framed.records):
            self._record(index, rec)
            out._marks.append((len(out.handshake_messages), len(out.alerts), len(out.application_data),
                               len(out.notes), out.change_cipher_spec_count, len(self.reasm.pending),
                               self.early_data_accepted))
        pending = self.reasm.pending
        self.out.pending_handshake_bytes = len(pending)
        if pending:
            self.out.notes.append(f"incomplete handshake message at end ({len(pending)} bytes)")
        return self.out

    def _record(self, index: int, rec: Record) -> None:
        info = RecordInfo(index, rec.offset, rec.content_type, rec.legacy_version,
                          len(rec.fragment), encrypted=False, decrypted=False, epoch="plaintext")
        self.out.records.append(info)
        opened: tuple[int, bytes] | None
        triggers: list[int] = []
        if self._is_protected(rec):
            info.encrypted = True
            info.epoch = None
            opened = self._open(rec, info)
            if opened is None:
                if self.reasm.pending:
                    self.out.notes.append(f"record {index}: handshake bytes lost before it")
                    self.reasm.clear()
                return
            info.decrypted = True
        else:
            opened = (rec.content_type, rec.fragment)
        ctype, content = opened
        info.inner_content_type = ctype
        info.plaintext_length = len(content)
        if ctype == HANDSHAKE:
            triggers = self._handshake(index, content, info)
        elif ctype == ALERT:
            self._alerts(index, content, info)
        elif ctype == APPLICATION_DATA:
            self.out.application_data.append(
                AppDataInfo(len(content), index, info.encrypted, info.epoch, content))
        elif ctype == CHANGE_CIPHER_SPEC:
            self._ccs(index, content, info)
        # Key changes take effect from the next record.
        for msg_type in triggers:
            self._advance(msg_type, info.epoch, index)

    def _is_protected(self, rec: Record) -> bool:
        if self.mode == "tls13":
            return rec.content_type == APPLICATION_DATA
        if self.ccs_seen:
            return True
        # Before any CCS, application data can only be protected data we cannot place.
        return self.mode == "unknown" and rec.content_type == APPLICATION_DATA

    def _open(self, rec: Record, info: RecordInfo) -> tuple[int, bytes] | None:
        if self.mode == "tls13":
            return self._open13(rec, info)
        if self.mode == "tls12" and self.ccs_seen:
            if self.prot12 is None:
                info.error = self.prot12_note or "no keys"
                return None
            try:
                out = self.prot12.decrypt(rec)
            except BadRecordMac as exc:
                info.epoch = "protected"
                info.error = f"bad_record_mac: {exc}"
                return None
            info.epoch = "protected"
            return out
        info.error = ("no keys: version unknown" if self.ctx.version is None
                      else f"{hs.version_name(self.ctx.version)} records are not decrypted")
        return None

    def _open13(self, rec: Record, info: RecordInfo) -> tuple[int, bytes] | None:
        notes = []
        for i in range(self.cur, self.cur + 3):
            epoch = self._epoch(i)
            if epoch is None:
                break
            if not epoch.usable:
                if epoch.note:
                    notes.append(epoch.note)
                continue
            got = epoch.try_open(rec)
            if got is None:
                continue
            if i != self.cur:
                self.out.notes.append(f"record {info.index}: opened with {epoch.name} keys "
                                      f"(moved on from {self.epochs[self.cur].name})")
                self.cur = i
            info.epoch = epoch.name
            if isinstance(got, str):
                info.decrypted = True
                info.error = got
                return None
            return got
        current = self._epoch(self.cur)
        if current is not None:
            current.missed = min(current.missed + 1, _MAX_SEQ_SKIP)
        info.error = "; ".join(dict.fromkeys(notes)) if notes else "no key opens this record"
        return None

    def _advance(self, msg_type: int, epoch_name: str | None, index: int) -> None:
        if self.mode != "tls13" or epoch_name is None:
            return
        current = self.epochs[self.cur]
        if current.name != epoch_name:
            return
        ends = {"early": hs.END_OF_EARLY_DATA, "handshake": hs.FINISHED,
                "application": hs.KEY_UPDATE}
        if ends.get(current.kind) == msg_type:
            self.cur += 1
            self._epoch(self.cur)

    def _ccs(self, index: int, content: bytes, info: RecordInfo) -> None:
        self.out.change_cipher_spec_count += 1
        if content != b"\x01":
            self.out.notes.append(f"record {index}: ChangeCipherSpec payload {content.hex()}")
        if self.mode == "tls13":
            return  # compatibility-mode dummy; keys do not change
        if self.ccs_seen:
            # A second CCS is a renegotiation; its keys need the encrypted hellos.
            self.out.notes.append(f"record {index}: renegotiation is not followed")
            self.prot12 = None
            self.prot12_note = "renegotiated keys are not followed"
            return
        self.ccs_seen = True
        if self.mode == "tls12":
            self.prot12 = self._tls12_protection()
            if self.prot12 is None and self.prot12_note:
                self.out.notes.append(f"record {index}: cannot decrypt after ChangeCipherSpec: "
                                      f"{self.prot12_note}")

    def _alerts(self, index: int, content: bytes, info: RecordInfo) -> None:
        if len(content) % 2:
            self.out.notes.append(f"record {index}: alert record of {len(content)} bytes")
        for i in range(0, len(content) - 1, 2):
            self.out.alerts.append(AlertInfo(content[i], content[i + 1], index,
                                             info.encrypted, info.epoch))

    def _handshake(self, index: int, content: bytes, info: RecordInfo) -> list[int]:
        if not self.reasm.pending:
            self.reasm_start = index
        triggers = []
        for msg in self.reasm.feed(content):
            start = self.reasm_start if self.reasm_start is not None else index
            self.reasm_start = index
            item = HandshakeInfo(msg.msg_type, msg.length, start, info.encrypted, info.epoch,
                                 body=msg.body)
            try:
                if msg.msg_type in _HELLOS:
                    _decode_hello(msg.msg_type, msg.body, self.ctx.cache)  # a hello that does not decode says so now
                    item._hello_cache = self.ctx.cache
                else:
                    item.summary = hs.summarize(msg, self.ctx.version)
            except hs.DecodeError as exc:
                item.decode_error = str(exc)
            if msg.msg_type == hs.ENCRYPTED_EXTENSIONS and item.summary is not None:
                self.early_data_accepted = bool(item.summary.get("early_data"))
            self.out.handshake_messages.append(item)
            triggers.append(msg.msg_type)
        if not self.reasm.pending:
            self.reasm_start = None
        return triggers


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def _entry_by_trial(entries: KeyLog, server_records: list[Record], suite: CipherSuite | None,
                    exclude: bytes | None) -> tuple[bytes, dict[str, bytes]] | None:
    """Find the key log entry whose server handshake key opens the server's first
    protected record. Used when the ClientHello random on the wire is not in the
    key log (with ECH the keys belong to the inner hello's random)."""
    if suite is None or not suite.tls13:
        return None
    first = next((r for r in server_records if r.content_type == APPLICATION_DATA), None)
    if first is None:
        return None
    for client_random, secrets in entries.items():
        secret = secrets.get(SERVER_HANDSHAKE_TRAFFIC_SECRET)
        if client_random == exclude or secret is None or len(secret) != suite.hash_len:
            continue
        keys = traffic_key_iv(suite.prf_hash, secret, suite.key_len)
        try:
            Tls13Protection(suite.kind, keys.key, keys.iv).decrypt(first)
        except RecordError:
            continue
        return client_random, secrets
    return None


def _master_by_trial(entries: KeyLog, server_records: list[Record], suite: CipherSuite | None,
                     client_random: bytes | None, server_random: bytes | None,
                     encrypt_then_mac: bool) -> tuple[bytes, dict[str, bytes]] | None:
    """Find the key log entry whose master secret, with this connection's randoms, opens
    the server's first protected record (its Finished, after its ChangeCipherSpec). A
    resumed TLS 1.2 connection reuses its session's master secret with new randoms, and Go
    logs no line for it (writeKeyLog is only in doFullHandshake, handshake_server.go and
    handshake_client.go): the line is the earlier connection's that made the session."""
    if suite is None or suite.tls13 or client_random is None or server_random is None:
        return None
    ccs = next((i for i, r in enumerate(server_records) if r.content_type == CHANGE_CIPHER_SPEC), None)
    if ccs is None or ccs + 1 >= len(server_records):
        return None
    first = server_records[ccs + 1]
    for random, secrets in entries.items():
        master = secrets.get(CLIENT_RANDOM)
        if random == client_random or master is None:
            continue
        block = key_block12(suite.prf_hash, master, client_random, server_random,
                            suite.mac_len, suite.key_len, suite.fixed_iv_len)
        try:
            tls12_protection(suite, block.server_write_key, block.server_write_iv, block.server_write_mac_key,
                             encrypt_then_mac=encrypt_then_mac and suite.kind == "cbc").decrypt(first)
        except (RecordError, ValueError):
            continue
        return random, {CLIENT_RANDOM: master}
    return None


def _parse_keylog(keylog: str) -> tuple[KeyLog, str | None]:
    """The key log's entries, and a note when malformed lines were skipped."""
    try:
        return parse_keylog(keylog), None
    except KeyLogError as exc:
        return parse_keylog(keylog, strict=False), f"{exc}; malformed key log lines skipped"


def decode_connection(client_to_server: bytes, server_to_client: bytes, keylog: str,
                      cache: DecodeCache | None = None, earlier: str = "") -> Connection:
    """Decode one TLS connection recorded by one endpoint.

    `client_to_server` and `server_to_client` are the raw TCP payload bytes each way
    (either may be empty or end mid-record); `keylog` is the NSS key log text that
    endpoint wrote; `earlier`, key log lines of earlier connections, tried only where the
    key log has no line for this connection's random (a resumed TLS 1.2 session's master
    secret). Never raises for bad input; see Connection.notes and each Direction's notes
    for what could not be decoded. With a `cache`, streams it has decoded before are not
    decoded again, and the result shares their parts.
    """
    if cache is None:  # a cache of this call's own: its hellos are decoded once
        return _decode_connection(client_to_server, server_to_client, keylog, DecodeCache(), earlier)
    return cache.get(("connection", bytes(client_to_server), bytes(server_to_client), keylog, earlier),
                     lambda: _decode_connection(client_to_server, server_to_client, keylog, cache, earlier))


def _decode_connection(client_to_server: bytes, server_to_client: bytes, keylog: str,
                       cache: DecodeCache, earlier: str = "") -> Connection:
    notes: list[str] = []
    entries, keylog_note = cache.get(("keylog", keylog), lambda: _parse_keylog(keylog))
    if keylog_note:
        notes.append(keylog_note)

    c2s, s2c = bytes(client_to_server), bytes(server_to_client)
    c_framed = cache.get(("frame", c2s), lambda: _frame(c2s))
    s_framed = cache.get(("frame", s2c), lambda: _frame(s2c))

    server_hellos, abbreviated = cache.get(("server_hellos", s2c),
                                           lambda: _scan_server_hellos(s_framed.records, cache))
    hrr = any(sh.is_hello_retry_request for sh in server_hellos)
    client_hellos = cache.get(("client_hellos", c2s, hrr),
                              lambda: _scan_client_hellos(c_framed.records, hrr, cache))
    final_sh = next((sh for sh in reversed(server_hellos) if not sh.is_hello_retry_request), None)
    any_sh = final_sh or (server_hellos[0] if server_hellos else None)
    ch1 = client_hellos[0] if client_hellos else None

    version: int | None = None
    if any_sh is not None:
        try:
            version = any_sh.negotiated_version()
        except hs.DecodeError as exc:
            notes.append(f"ServerHello supported_versions: {exc}")
            version = any_sh.legacy_version
    suite_id = any_sh.cipher_suite if any_sh is not None else None
    suite = SUITE_BY_ID.get(suite_id) if suite_id is not None else None

    early_offered = bool(ch1 and ch1.offers_early_data())
    offered13 = [SUITE_BY_ID[s] for s in (ch1.cipher_suites if ch1 else ())
                 if s in SUITE_BY_ID and SUITE_BY_ID[s].tls13]
    client_random = ch1.random if ch1 else None
    server_random = final_sh.random if final_sh else None

    encrypt_then_mac = bool(final_sh and final_sh.has_extension(hs.EXT_ENCRYPT_THEN_MAC))
    secrets: dict[str, bytes] = {}
    found: tuple[bytes, dict[str, bytes]] | None = None
    if client_random is not None:
        if client_random in entries:
            secrets = entries[client_random]
        elif entries or earlier:
            if version == TLS13:
                found = _entry_by_trial(entries, s_framed.records, suite, client_random)
            elif version == TLS12:
                before, _ = cache.get(("keylog", earlier), lambda: _parse_keylog(earlier))
                found = _master_by_trial({**before, **entries}, s_framed.records, suite, client_random,
                                         server_random, encrypt_then_mac)
            if found is not None:
                notes.append("ClientHello random not in key log; used the entry for "
                             f"{found[0].hex()}, whose keys open the server's records")
                secrets = found[1]
            elif entries:
                notes.append("ClientHello random not in key log")
    elif entries:
        notes.append("no ClientHello seen; key log not used")

    ctx = _Context(version, suite, suite_id, client_random, server_random, secrets,
                   early_offered, offered13, encrypt_then_mac, cache)

    def direction(sender: str, framed: _Framed) -> tuple[Direction, bool | None]:
        dec = _DirectionDecoder(sender, ctx, framed)
        return dec.run(), dec.early_data_accepted
    ctx_key = ctx.key()
    client_dir, _ = cache.direction("client", c2s, ctx_key, lambda: direction("client", c_framed))
    server_dir, server_early = cache.direction("server", s2c, ctx_key, lambda: direction("server", s_framed))

    resumed: bool | None = None
    if final_sh is not None:
        if version == TLS13:
            resumed = final_sh.has_extension(hs.EXT_PRE_SHARED_KEY)
        else:
            resumed = abbreviated
    early_accepted = server_early if early_offered else None
    if early_offered and early_accepted is None and hrr:
        early_accepted = False  # 0-RTT never survives a HelloRetryRequest

    return Connection(
        version=version,
        cipher_suite=suite_id,
        hello_retry_request=hrr,
        resumed=resumed,
        early_data_offered=early_offered,
        early_data_accepted=early_accepted,
        client_random=client_random,
        server_random=server_random,
        keylog_labels=sorted(secrets),
        client_to_server=client_dir,
        server_to_client=server_dir,
        notes=notes,
        borrowed_secrets=dict(found[1]) if found else {},
    )
