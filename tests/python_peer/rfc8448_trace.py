"""The RFC 8448 traces as data, shared by the tests that check tlspeer against them.

The trace file (vectors/rfc8448-traces.txt: the last draft of RFC 8448, as the
IETF TLS working group published it; see vectors/README.md) is parsed into
sections of steps, each step with its labelled hex blocks; `flow(n)` gives
section n's handshake messages, records and traffic keys.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


from tlspeer import handshake as hs
from tlspeer.keyschedule import message_hash, transcript_hash

TRACE = Path(__file__).resolve().parent / "vectors" / "rfc8448-traces.txt"
SECTIONS = (3, 4, 5, 6, 7)
H = "sha256"  # every trace uses TLS_AES_128_GCM_SHA256

# ---------------------------------------------------------------------------
# The trace parser
# ---------------------------------------------------------------------------

_PAGE_LINE = re.compile(r"^(Thomson\s+Expires .*\[Page \d+\]|Internet-Draft\s+TLS 1\.3 Traces\s.*)$")
_SECTION = re.compile(r"^(\d+)\.\s+(\S.*?)\s*$")
_STEP = re.compile(r"^   \{(client|server)\}  (\S.*?)\s*$")
_BLOCK = re.compile(r"^      ([A-Za-z][A-Za-z ]*?)(?: \((\d+) octets\))?:  (.*?)\s*$")
_HEX_CONT = re.compile(r"^         ((?:[0-9a-f]{2} ?)+)\s*$")
_STEP_CONT = re.compile(r"^      (\S.*?)\s*$")
_HEX_TOKENS = re.compile(r"^(?:[0-9a-f]{2})(?: [0-9a-f]{2})*$")


@dataclass
class Step:
    actor: str
    text: str
    line: int
    blocks: dict[str, bytes | None] = field(default_factory=dict)  # None: "0 (all zero octets)"
    sizes: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, label: str) -> bytes:
        value = self.blocks[label]
        assert value is not None, f"{label} is the all-zero salt"
        return value


@dataclass
class Section:
    number: int
    title: str
    steps: list[Step] = field(default_factory=list)


class TraceFormatError(AssertionError):
    pass


def parse_trace(text: str) -> dict[int, Section]:
    """Sections 3.. of the trace; each step with its blocks. Page headers and
    footers (which can fall inside a hex block) are dropped; every block's declared
    octet count is checked against the bytes read."""
    sections: dict[int, Section] = {}
    current: Section | None = None
    step: Step | None = None
    block: str | None = None
    hexbuf: list[str] = []
    in_step_header = False

    def finish_block() -> None:
        nonlocal block, hexbuf
        if step is not None and block is not None:
            joined = " ".join(hexbuf).strip()
            if joined == "(empty)":
                value: bytes | None = b""
            elif joined.startswith("0 (all zero octets)"):
                value = None
            else:
                if not _HEX_TOKENS.match(joined):
                    raise TraceFormatError(f"line {step.line}: {block}: not hex: {joined[:40]!r}")
                value = bytes.fromhex(joined)
            declared = step.sizes.get(block)
            if declared is not None and value is not None and len(value) != declared:
                raise TraceFormatError(f"step at line {step.line}: {block} declares {declared} "
                                       f"octets, has {len(value)}")
            if block in step.blocks:
                raise TraceFormatError(f"step at line {step.line}: {block} repeated")
            step.blocks[block] = value
        block, hexbuf = None, []

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.replace("\f", "").rstrip()
        if _PAGE_LINE.match(line):
            continue
        m = _SECTION.match(line)
        if m and not line.startswith(" "):
            finish_block()
            number = int(m.group(1))
            current = Section(number, m.group(2)) if number in SECTIONS else None
            if current is not None:
                sections[number] = current
            step = None
            continue
        if current is None:
            continue
        if not line:
            # Not the end of a block: a page break inside a hex block is blank lines
            # around the dropped header and footer.
            in_step_header = False
            continue
        m = _STEP.match(line)
        if m:
            finish_block()
            step = Step(m.group(1), m.group(2), lineno)
            current.steps.append(step)
            in_step_header = True
            continue
        if step is None:
            continue  # prose at the start of a section
        m = _BLOCK.match(line)
        if m:
            finish_block()
            in_step_header = False
            block = m.group(1)
            if m.group(2) is not None:
                step.sizes[block] = int(m.group(2))
            hexbuf = [m.group(3)]
            continue
        m = _HEX_CONT.match(line)
        if m and block is not None:
            hexbuf.append(m.group(1))
            continue
        m = _STEP_CONT.match(line)
        if m and in_step_header:
            step.text += " " + m.group(1)  # a step description wrapped onto a second line
            continue
        if line.startswith("   ") and not line.startswith("    "):
            finish_block()
            step = None  # a prose paragraph (e.g. a Note) ends the step
            continue
        raise TraceFormatError(f"line {lineno}: cannot place {line!r}")
    finish_block()
    return sections


_PARSED: dict[int, Section] | None = None


def trace() -> dict[int, Section]:
    global _PARSED
    if _PARSED is None:
        _PARSED = parse_trace(TRACE.read_text(encoding="utf-8"))
    return _PARSED



# ---------------------------------------------------------------------------
# What each section's steps say
# ---------------------------------------------------------------------------

CONTENT = {"handshake": 22, "application_data": 23, "alert": 21, "change_cipher_spec": 20}
RECORD_STEP = re.compile(r"^send (\w+) record:?$")
EXTRACT_STEP = re.compile(r'^extract secret "(\w+)"')
DERIVE_STEP = re.compile(r'^(?:derive secret(?: for \w+)?|generate resumption secret) "tls13 ([^"]+)"')
KEYS_STEP = re.compile(r"^derive (write|read) traffic keys for (early application|handshake|application) data")
FINISHED_STEP = re.compile(r'^calculate finished "tls13 finished"')
BINDER_STEP = re.compile(r"^calculate PSK binder")
KEYPAIR_STEP = re.compile(r"^create an ephemeral (x25519|P-256) key pair")
MESSAGE_STEP = re.compile(r"^construct a (\w+) handshake message")


def _other(actor: str) -> str:
    return "server" if actor == "client" else "client"


@dataclass
class Flow:
    """The handshake of one section as the trace shows it."""

    section: Section
    # (sender, message) in the order the trace sends them
    messages: list[tuple[str, hs.HandshakeMessage]]
    # complete records per sender, in order
    records: dict[str, list[bytes]]
    # traffic keys by (writer, phase)
    keys: dict[tuple[str, str], tuple[bytes, bytes]]

    def index(self, pred: Callable[[str, hs.HandshakeMessage], bool], last: bool = False) -> int:
        found = [i for i, (who, m) in enumerate(self.messages) if pred(who, m)]
        assert found, "message not in trace"
        return found[-1] if last else found[0]

    def transcript(self, through: int) -> bytes:
        """Transcript-Hash of messages[0..through], with ClientHello1 replaced by
        message_hash when a HelloRetryRequest follows it."""
        msgs = [m for _, m in self.messages[:through + 1]]
        encoded = [m.encode() for m in msgs]
        if len(msgs) > 1 and msgs[1].msg_type == hs.SERVER_HELLO \
                and hs.decode_server_hello(msgs[1].body).is_hello_retry_request:
            encoded[0] = message_hash(H, encoded[0])
        return transcript_hash(H, encoded)

    def hrr(self) -> bool:
        return any(m.msg_type == hs.SERVER_HELLO and hs.decode_server_hello(m.body).is_hello_retry_request
                   for _, m in self.messages)

    def point(self, label: str) -> int:
        """Where in the transcript a Derive-Secret label takes its hash."""
        is_sh = lambda w, m: (m.msg_type == hs.SERVER_HELLO  # noqa: E731
                              and not hs.decode_server_hello(m.body).is_hello_retry_request)
        if label in ("c e traffic", "e exp master"):
            return self.index(lambda w, m: m.msg_type == hs.CLIENT_HELLO, last=True)
        if label in ("c hs traffic", "s hs traffic"):
            return self.index(is_sh)
        if label in ("c ap traffic", "s ap traffic", "exp master"):
            return self.index(lambda w, m: w == "server" and m.msg_type == hs.FINISHED)
        if label == "res master":
            return self.index(lambda w, m: w == "client" and m.msg_type == hs.FINISHED)
        raise KeyError(label)


def flow(number: int) -> Flow:
    section = trace()[number]
    messages: list[tuple[str, hs.HandshakeMessage]] = []
    records: dict[str, list[bytes]] = {"client": [], "server": []}
    keys: dict[tuple[str, str], tuple[bytes, bytes]] = {}
    for step in section.steps:
        m = RECORD_STEP.match(step.text)
        if m and "complete record" in step.blocks:
            records[step.actor].append(step["complete record"])
            if m.group(1) == "handshake":
                msgs, rest = hs.split_handshake_messages(step["payload"])
                assert rest == b""
                messages.extend((step.actor, msg) for msg in msgs)
        m = KEYS_STEP.match(step.text)
        if m and "key expanded" in step.blocks:
            writer = step.actor if m.group(1) == "write" else _other(step.actor)
            keys[(writer, m.group(2))] = (step["key expanded"], step["iv expanded"])
    return Flow(section, messages, records, keys)


def steps(number: int, pattern: re.Pattern[str], with_blocks: bool = True) -> list[Step]:
    return [s for s in trace()[number].steps
            if pattern.match(s.text) and (s.blocks or not with_blocks)]


def first_block(number: int, pattern: re.Pattern[str], label: str, block: str = "expanded") -> bytes:
    for s in steps(number, pattern):
        m = pattern.match(s.text)
        if m and m.group(1) == label:
            return s[block]
    raise KeyError(f"section {number}: no {label!r} step with blocks")


@dataclass
class RecordStep:
    actor: str
    kind: str  # "handshake", "application_data", "alert", "change_cipher_spec"
    payload: bytes
    record: bytes


def record_steps(number: int) -> list[RecordStep]:
    """Section `number`'s records in the order the trace sends them."""
    out = []
    for step in trace()[number].steps:
        m = RECORD_STEP.match(step.text)
        if m and "complete record" in step.blocks:
            out.append(RecordStep(step.actor, m.group(1), step["payload"], step["complete record"]))
    return out
