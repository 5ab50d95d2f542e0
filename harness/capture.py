"""`tlsdiff run --capture DIR`: each connection of a run as a pcapng file that
Wireshark or tshark decrypts with no other step.

The peers record each direction's whole byte stream, not the packets, so the TCP
connection is synthetic: a three-way handshake, then each side's bytes in the
order the TLS handshake forces (flight by flight, see `flights`), then FINs. The
key log of both sides rides in the file as a Decryption Secrets Block, and is
written beside it as `.keys` (SSLKEYLOGFILE format). The same observations give
byte-identical files: timestamps come from the case clock, sequence numbers are
fixed.
"""
from __future__ import annotations

import base64
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from tlspeer import keylog
from tlspeer.keylog import master_secret_lines
from tlspeer.wire import Direction, decode_connection

from . import pcapng, pki
from .errors import UserError
from .execute import CaseRun, StepResult
from .peers.pool import PYTHON_PEER
from .scenario.model import key_text

LOOPBACK = bytes([127, 0, 0, 1])
#: Used when a peer did not report the ports (an older peer, a recorded observation).
FALLBACK_CLIENT_PORT, FALLBACK_SERVER_PORT = 49152, 49153
CLIENT_ISN, SERVER_ISN = 1_000_000, 2_000_000
PACKET_SPACING_US = 1000  # one packet per millisecond of the case clock

_HANDSHAKE, _APPLICATION_DATA = 22, 23
_CHANGE_CIPHER_SPEC = 20


@dataclass(frozen=True)
class Chunk:
    """Consecutive bytes one side sent in one go, and what they were."""

    sender: str  # "client" or "server"
    data: bytes
    what: str  # "client_hello, ..." for the packet comment


def _record_notes(d: Direction) -> dict[int, list[str]]:
    """Record index -> the handshake messages that end in it (an HRR named as such).

    A message may span records (a ClientHello of 20 kB): what it asks of the peer
    waits for its last byte, so it is placed at the record holding that."""
    sizes = {r.index: r.plaintext_length or 0 for r in d.records if r.inner_content_type == _HANDSHAKE}
    notes: dict[int, list[str]] = {}
    record, left = -1, 0  # the record being consumed and its bytes not yet used
    for m in d.handshake_messages:
        if m.record_index > record:  # a message that starts a record starts at its first byte
            record, left = m.record_index, sizes.get(m.record_index, 0)
        need = 4 + m.length
        while need > left and any(i > record for i in sizes):
            need -= left
            record = min(i for i in sizes if i > record)
            left = sizes[record]
        left -= min(need, left)
        name = m.name
        if name == "server_hello" and (m.summary or {}).get("hello_retry_request"):
            name = "hello_retry_request"
        notes.setdefault(record, []).append(name)
    return notes


def _records(stream: bytes, d: Direction) -> list[tuple[bytes, list[str], int | None]]:
    """The stream cut at record boundaries: (bytes, handshake messages ending there, inner content type).
    Bytes after the last whole record (a truncated or non-TLS tail) are one piece of their own."""
    notes = _record_notes(d)
    out, end = [], 0
    for r in d.records:
        end = r.offset + 5 + r.length
        names = notes.get(r.index, [])
        inner = r.inner_content_type
        what = names or ([{_CHANGE_CIPHER_SPEC: "change_cipher_spec", 21: "alert", _APPLICATION_DATA:
                           "application_data"}.get(inner, "handshake")] if inner is not None else ["encrypted"])
        out.append((stream[r.offset:end], what, inner))
    if end < len(stream):
        out.append((stream[end:], ["not a whole TLS record"], None))
    return out


def flights(c2s: bytes, s2c: bytes, keylog: str, go_server: bool = True) -> list[Chunk]:
    """Both byte streams, cut into flights in the order they were exchanged.

    A side sends records until it must hear from the other: after a ClientHello, a
    HelloRetryRequest (with the compatibility ChangeCipherSpec that follows it), a
    ServerHelloDone, the server's Finished (with the NewSessionTickets right after it
    when a Go server sends them in that flight: TLS 1.3 without a CertificateRequest;
    tlspeer's server sends them after the client's Finished), the client's Finished when the server's has
    not come yet (a full TLS 1.2 handshake), and application data (the ping and the
    pong). Then the other side has the turn; a side whose peer has nothing left
    keeps sending. The records are decrypted with the key log to see these; a
    record that cannot be decrypted ends no flight."""
    conn = decode_connection(c2s, s2c, keylog)
    queues = {"client": _records(c2s, conn.client_to_server), "server": _records(s2c, conn.server_to_client)}
    other = {"client": "server", "server": "client"}
    finished = {"client": False, "server": False}
    sent: list[str] = []  # what the server sent so far
    out: list[Chunk] = []
    side = "client"
    while queues["client"] or queues["server"]:
        if not queues[side]:
            side = other[side]
        data, names = b"", []
        while queues[side]:
            raw, what, inner = queues[side].pop(0)
            if side == "server":
                sent.extend(what)
            data, names = data + raw, names + what
            if _ends_flight(side, what, inner, finished):
                early_tickets = go_server and "certificate_request" not in sent
                for raw2, what2 in _same_flight(side, queues[side], what, early_tickets):
                    data, names = data + raw2, names + what2
                break
        out.append(Chunk(side, data, ", ".join(names)))
        side = other[side]
    return out


def _ends_flight(side: str, what: list[str], inner: int | None, finished: dict[str, bool]) -> bool:
    ends = False
    for name in what:
        if name == "finished":
            ends = ends or side == "server" or not finished["server"]
            finished[side] = True
        elif name in ("client_hello", "hello_retry_request", "server_hello_done"):
            ends = True
    return ends or inner == _APPLICATION_DATA


def _same_flight(side: str, queue: list[tuple[bytes, list[str], int | None]],
                 what: list[str], early_tickets: bool) -> list[tuple[bytes, list[str]]]:
    """Take the records that end a server's flight with it: the compatibility
    ChangeCipherSpec written right after a HelloRetryRequest, and (early_tickets) the
    tickets right after its Finished."""
    out: list[tuple[bytes, list[str]]] = []
    while side == "server" and queue:
        raw, names, inner = queue[0]
        after_hrr = "hello_retry_request" in what and inner == _CHANGE_CIPHER_SPEC
        tickets = early_tickets and "finished" in what and bool(names) and all(n == "new_session_ticket" for n in names)
        if not (after_hrr or tickets):
            break
        out.append((raw, names))
        queue.pop(0)
    return out


def _observed(step: StepResult, side: str) -> dict[str, Any] | None:
    raw = getattr(step, side)
    return raw if isinstance(raw, dict) else None


def streams(step: StepResult) -> tuple[bytes, bytes, str]:
    """What the client sent, what the server sent, and both key logs. Each stream is
    what its sender wrote; when that side's observation is missing (its peer failed),
    what the other side read."""
    client, server = _observed(step, "client"), _observed(step, "server")

    def stream(writer: dict[str, Any] | None, reader: dict[str, Any] | None) -> bytes:
        if writer is not None:
            return base64.b64decode(writer.get("written") or "")
        return base64.b64decode((reader or {}).get("read") or "")
    logs = ((obs or {}).get("keylog") or "" for obs in (client, server))
    return stream(client, server), stream(server, client), keylog.union(*logs)


def ports(step: StepResult) -> tuple[int, int]:
    """(client port, server port) as the peers reported them, else the fallback ports."""
    client, server = _observed(step, "client") or {}, _observed(step, "server") or {}
    cport = client.get("local_port") or server.get("remote_port") or FALLBACK_CLIENT_PORT
    sport = server.get("local_port") or client.get("remote_port") or FALLBACK_SERVER_PORT
    return int(cport), int(sport)


def packets(chunks: Iterable[Chunk], client_port: int, server_port: int) -> list[tuple[pcapng.Segment, str]]:
    """The synthetic TCP connection: handshake, each chunk (cut to what an IPv4 packet
    holds), FIN from the client, FIN from the server, the client's last ACK."""
    seq = {"client": CLIENT_ISN, "server": SERVER_ISN}
    ident = {"client": 0, "server": 0}
    out: list[tuple[pcapng.Segment, str]] = []

    def send(side: str, flags: int, payload: bytes = b"", comment: str = "") -> None:
        peer = "server" if side == "client" else "client"
        sport, dport = (client_port, server_port) if side == "client" else (server_port, client_port)
        ack = seq[peer] if flags & pcapng.TCP_ACK else 0
        out.append((pcapng.Segment(LOOPBACK, LOOPBACK, sport, dport, seq[side], ack, flags, payload,
                                   ident[side]), comment))
        seq[side] += len(payload) + (1 if flags & (pcapng.TCP_SYN | pcapng.TCP_FIN) else 0)
        ident[side] += 1

    send("client", pcapng.TCP_SYN)
    send("server", pcapng.TCP_SYN | pcapng.TCP_ACK)
    send("client", pcapng.TCP_ACK)
    for chunk in chunks:
        for at in range(0, len(chunk.data), pcapng.MAX_PAYLOAD):
            part = chunk.data[at:at + pcapng.MAX_PAYLOAD]
            send(chunk.sender, pcapng.TCP_PSH | pcapng.TCP_ACK, part,
                 f"{chunk.sender}: {chunk.what}" if at == 0 else f"{chunk.sender}: continued")
    send("client", pcapng.TCP_FIN | pcapng.TCP_ACK)
    send("server", pcapng.TCP_FIN | pcapng.TCP_ACK)
    send("client", pcapng.TCP_ACK)
    return out


def connection_pcapng(c2s: bytes, s2c: bytes, keylog: str, client_port: int, server_port: int, conn_id: str,
                      unix_seconds: int, go_server: bool = True) -> bytes:
    """One connection as a pcapng file, its key log inside; packets from `unix_seconds` on."""
    out = [pcapng.section_header(f"tlsdiff connection {conn_id}: a synthetic TCP connection made from the bytes "
                                 "each peer sent, in TLS flight order", "tlsdiff"),
           pcapng.interface_description()]
    if keylog:
        out.append(pcapng.decryption_secrets(keylog))
    start = unix_seconds * 1_000_000
    for i, (segment, comment) in enumerate(packets(flights(c2s, s2c, keylog, go_server), client_port, server_port)):
        out.append(pcapng.enhanced_packet(segment.packet(), start + i * PACKET_SPACING_US, comment))
    return b"".join(out)


class _Keys:
    """The key log a capture carries, so that Wireshark decrypts it alone. Wireshark looks
    keys up by the ClientHello random on the wire, which two kinds of connection have no
    line for: with ECH accepted, Go logs the TLS 1.3 secrets under the inner hello's
    random (encrypted on the wire); a resumed TLS 1.2 connection reuses the master secret
    of the earlier connection that made the session, and Go logs none for it. The decoder
    finds the entry whose keys open the server's records, as it does for the normalizer
    (tlspeer.wire: the run's master secrets so far are the earlier entries); its secrets
    are given again under the wire's random."""

    def __init__(self) -> None:
        self.masters = ""  # the CLIENT_RANDOM lines of the run's connections so far

    def complete(self, c2s: bytes, s2c: bytes, keylog: str) -> str:
        conn = decode_connection(c2s, s2c, keylog, earlier=self.masters)
        if conn.client_random is not None and conn.borrowed_secrets:
            wire = conn.client_random.hex()
            keylog += "".join(f"{label} {wire} {secret.hex()}\n" for label, secret in conn.borrowed_secrets.items())
        self.masters += master_secret_lines(keylog)
        return keylog


@dataclass(frozen=True)
class Capture:
    stem: str  # the file name without `.pcapng` / `.keys`
    pcapng: bytes
    keylog: str


def run_captures(run: CaseRun) -> list[Capture]:
    """Every connection of one case run, in step order."""
    defs = {s.number: s for s in run.case.steps}
    keys = _Keys()
    out = []
    for step in run.steps:
        if _observed(step, "client") is None and _observed(step, "server") is None:
            continue  # not a connection (a clone, a session export), or no side answered
        c2s, s2c, keylog = streams(step)
        keylog = keys.complete(c2s, s2c, keylog)
        conn_id = f"{run.case.id}#{key_text(run.key)}#{step.step}"
        at = defs[step.step].at_seconds if step.step in defs else 0
        server = run.case.endpoints.get(defs[step.step].args.get("server", "")) if step.step in defs else None
        data = connection_pcapng(c2s, s2c, keylog, *ports(step), conn_id, int(pki.EPOCH.timestamp()) + at,
                                 go_server=server is None or server.peer != PYTHON_PEER)
        out.append(Capture(file_stem(run.case.id, run.key, step.step), data, keylog))
    return out


_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


def file_stem(case_id: str, key: tuple[str, ...], step: int) -> str:
    """`binder_tls13-altered-secret__1.27.3__step2`: the case id, the release key and the
    step, each character outside letters, digits and `.+-` made `_`."""
    return "__".join(_UNSAFE.sub("_", part) for part in (case_id, key_text(key), f"step{step}"))


def check_folder(value: str) -> Path:
    """The --capture folder, made if missing and tried with a file, before the run: a
    run takes minutes, and a folder that cannot be written is one line and exit 2."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    if not value.strip():
        raise UserError("--capture: an empty path; expected a folder to write captures in")
    if value == "-":
        raise UserError("--capture: '-' is not a folder (captures are files, not for standard output); "
                        "expected a folder to write captures in")
    path = Path(value)
    try:
        if path.exists() and not path.is_dir():
            raise UserError(f"--capture: {shown!r} is not a folder; expected a folder to write captures in")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UserError(f"--capture: cannot write in {shown!r}: {exc.strerror or exc}") from None
    return path


def name_in_report(report: dict[str, Any], written: Sequence[Path]) -> None:
    """Name each connection's capture on its step of the JSON report (`capture`, the path as written)."""
    by_stem = {p.stem: p for p in written}
    for r in report.get("results", []):
        for key, run in r["runs"].items():
            for s in run.get("observations", {}).get("steps", []):
                path = by_stem.get(file_stem(r["case"], tuple(key.split(">")), s["step"]))
                if path is not None:
                    s["capture"] = str(path)


def write_run(runs: Iterable[CaseRun], folder: Path) -> tuple[list[Path], str | None]:
    """Write a `.pcapng` and a `.keys` per connection of the runs; the pcapng files
    written, and None or one line saying why the rest could not be written."""
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for run in runs:
            for c in run_captures(run):
                (folder / f"{c.stem}.keys").write_text(c.keylog)
                (folder / f"{c.stem}.pcapng").write_bytes(c.pcapng)
                written.append(folder / f"{c.stem}.pcapng")
    except OSError as exc:
        return written, f"--capture: cannot write in {str(folder)!r}: {exc.strerror or exc}"
    return written, None
