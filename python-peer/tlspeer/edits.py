"""Message- and extension-level edits, in the manner of BoGo's ProtocolBugs.

Two kinds, both given as plain data (a case's JSON) and parsed here once:

* `ExtensionEdit`: what to do to one extension of one message before it is
  encoded (for a ClientHello, before its binders are computed, so they cover the
  change): omit it, empty its body, duplicate it, move it first or last, or give
  its body as bytes (added at the end when the message has none).
* `MessageEdit`: what goes on the wire in place of one handshake message: the
  message kept, dropped, duplicated, replaced, with one byte flipped, with bytes
  inserted before or after it, or held back and sent after the next message;
  alone in its record or sharing one, with a given record version. The
  sender's transcript holds the message as it went on the wire (flipped,
  replaced, or not at all when dropped, and where it went when held back);
  inserted bytes and duplicated copies are extra bytes outside it, as a peer
  that sends one stray message would have it.

Message names are the hooks' (`hooks.MESSAGE_NAMES`); extension names are
`extensions.EXTENSION_NAMES`, or a number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from . import extensions as ext
from .hooks import MESSAGE_NAMES
from .messages import HasExtensions, Message

EXTENSION_ACTIONS = ("omit", "empty", "duplicate", "first", "last", "bytes")
MESSAGE_ACTIONS = ("keep", "drop", "duplicate", "replace", "flip_byte", "insert_before",
                   "insert_after", "swap_with_next")
RECORDS = ("shared", "own")


def extension_type(value: str | int, where: str) -> int:
    """An extension's number from its name (`key_share`) or number."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{where}: expected an extension name or number, got {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"{where}: extension number {value} is not in 0..65535")
        return value
    if value not in ext.EXTENSION_NAMES:
        raise ValueError(f"{where}: unknown extension {value!r}; expected a number or one of "
                         f"{', '.join(sorted(ext.EXTENSION_NAMES))}")
    return ext.EXTENSION_NAMES[value]


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected hex digits, got {value!r}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not hex") from None


def _message(value: Any, where: str) -> str:
    if value not in MESSAGE_NAMES:
        raise ValueError(f"{where}: unknown message {value!r}; expected one of {', '.join(MESSAGE_NAMES)}")
    return value


def _mapping(item: Any, allowed: Iterable[str], where: str, what: str) -> dict[str, Any]:
    """An edit as given: a mapping of known fields, or a ValueError naming the field."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping with {what}")
    extra = sorted(set(item) - set(allowed))
    if extra:
        raise ValueError(f"{where}.{extra[0]}: not a field of this edit")
    return item


@dataclass(frozen=True)
class ExtensionEdit:
    message: str
    extension: int
    do: str
    data: bytes = b""

    @classmethod
    def parse(cls, item: Any, where: str) -> "ExtensionEdit":
        if isinstance(item, ExtensionEdit):
            return item
        item = _mapping(item, ("message", "extension", "do", "bytes"), where, "message, extension and do")
        do = item.get("do")
        if do not in EXTENSION_ACTIONS:
            raise ValueError(f"{where}.do: {do!r}; expected one of {', '.join(EXTENSION_ACTIONS)}")
        if (do == "bytes") != ("bytes" in item):
            raise ValueError(f"{where}.bytes: goes with do: bytes, and only with it")
        return cls(_message(item.get("message"), f"{where}.message"),
                   extension_type(item.get("extension"), f"{where}.extension"), do,
                   _hex(item["bytes"], f"{where}.bytes") if do == "bytes" else b"")

    def apply(self, exts: list[ext.Extension]) -> None:
        """Edit the list in place."""
        at = [i for i, e in enumerate(exts) if e.ext_type == self.extension]
        if self.do == "omit":
            exts[:] = [e for e in exts if e.ext_type != self.extension]
        elif self.do in ("empty", "bytes"):
            body = ext.UnknownExtension(self.extension, self.data)
            if at:
                exts[at[0]] = body
            else:
                exts.append(body)
        elif at and self.do == "duplicate":
            exts.insert(at[0] + 1, ext.UnknownExtension(self.extension, exts[at[0]].encode_data()))
        elif at and self.do in ("first", "last"):
            moved = exts.pop(at[0])
            exts.insert(0 if self.do == "first" else len(exts), moved)


@dataclass(frozen=True)
class Piece:
    """Handshake bytes to put on the wire for a message, coalesced with their
    neighbours or in a record of their own; `transcript`: the message itself
    (in the sender's transcript), not a stray copy or inserted bytes."""

    data: bytes
    own_record: bool = False
    record_version: int | None = None
    transcript: bool = True


@dataclass(frozen=True)
class MessageEdit:
    message: str
    do: str = "keep"
    nth: int | None = None  # only the nth message of this name (from 1), else every one
    data: bytes = b""
    offset: int = 0
    xor: int = 1
    record: str = "shared"
    record_version: int | None = None

    @classmethod
    def parse(cls, item: Any, where: str) -> "MessageEdit":
        if isinstance(item, MessageEdit):
            return item
        item = _mapping(item, ("message", "do", "nth", "bytes", "offset", "xor", "record", "record_version"),
                        where, "message and do")
        do = item.get("do", "keep")
        if do not in MESSAGE_ACTIONS:
            raise ValueError(f"{where}.do: {do!r}; expected one of {', '.join(MESSAGE_ACTIONS)}")
        needs_bytes = do in ("replace", "insert_before", "insert_after")
        if needs_bytes != ("bytes" in item):
            raise ValueError(f"{where}.bytes: goes with do: replace, insert_before or insert_after, and only with them")
        record = item.get("record", "shared")
        if record not in RECORDS:
            raise ValueError(f"{where}.record: {record!r}; expected shared or own")
        ints = {k: item[k] for k in ("nth", "offset", "xor", "record_version") if k in item}
        limits = {"nth": (1, 1 << 16), "offset": (0, 1 << 24), "xor": (1, 255), "record_version": (0, 0xFFFF)}
        for k, v in ints.items():
            lo, hi = limits[k]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{where}.{k}: {v!r}; expected an integer in {lo}..{hi}")
        return cls(_message(item.get("message"), f"{where}.message"), do, ints.get("nth"),
                   _hex(item["bytes"], f"{where}.bytes") if needs_bytes else b"",
                   ints.get("offset", 0), ints.get("xor", 1), record, ints.get("record_version"))

    def pieces(self, raw: bytes) -> list[Piece]:
        """What goes on the wire instead of the message `raw` (swap_with_next: see Wire)."""
        def piece(data: bytes, itself: bool = True) -> Piece:
            return Piece(data, self.record == "own", self.record_version, itself)
        if self.do == "drop":
            return []
        if self.do == "duplicate":
            return [piece(raw), piece(raw, False)]
        if self.do == "replace":
            return [piece(self.data)]
        if self.do == "flip_byte":
            flipped = bytearray(raw)
            flipped[self.offset % len(raw)] ^= self.xor
            return [piece(bytes(flipped))]
        if self.do == "insert_before":
            return [piece(self.data, False), piece(raw)]
        if self.do == "insert_after":
            return [piece(raw), piece(self.data, False)]
        return [piece(raw)]  # keep, and swap_with_next once released


def parse_list(cls: type, items: Any, where: str) -> tuple:
    """A knob's list of edits, parsed; a problem is a ValueError naming the item."""
    if items is None:
        return ()
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"{where}: expected a list of edits")
    return tuple(cls.parse(item, f"{where}[{i}]") for i, item in enumerate(items))


def edit_extensions(edits: tuple[ExtensionEdit, ...], name: str, msg: Message) -> Message:
    """The message with the edits for `name` applied to its extensions."""
    mine = [e for e in edits if e.message == name]
    if mine and isinstance(msg, HasExtensions):
        if msg.extensions is None:
            msg.extensions = []
        for edit in mine:
            edit.apply(msg.extensions)
    return msg


class Wire:
    """One connection's message edits: per message name, how many were sent,
    and the message held back by swap_with_next until the next one."""

    def __init__(self, edits: tuple[MessageEdit, ...]) -> None:
        self._edits = edits
        self._seen: dict[str, int] = {}
        self._held: list[Piece] = []

    def __call__(self, name: str, raw: bytes) -> list[Piece]:
        self._seen[name] = self._seen.get(name, 0) + 1
        edit = next((e for e in self._edits if e.message == name
                     and (e.nth is None or e.nth == self._seen[name])), None)
        held, self._held = self._held, []
        if edit is None:
            return [Piece(raw)] + held
        if edit.do == "swap_with_next":
            self._held = edit.pieces(raw)
            return held
        return edit.pieces(raw) + held
