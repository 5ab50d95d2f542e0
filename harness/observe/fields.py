"""The observed fields: the one list of what a side's observation holds.

Everything else is derived from these tables: the agreement class (`outcome`),
the per-field differences (`diffed`), what a case may expect (the `side` part of
the case schema, `scenario/schema.py`) and the field tables of docs/cases.md
(checked by tests/test_vocabulary.py). A new observed field is one entry here,
the code in `normalize.py` that fills it, and a case that expects it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..scenario.tls_names import CIPHER_SUITES, GROUPS
from tlspeer.errors import ALERT_DESCRIPTIONS

#: The value of a ConnectionState field the release does not have.
ABSENT = "absent"


def alert_words(alerts: dict[str, Any]) -> list[str]:
    """A side's `alerts` as words: "sent close_notify (encrypted)", "received
    unexpected_message"; a level only where it is not the alert's usual one."""
    out = []
    for way in ("sent", "received"):
        for a in alerts.get(way) or ():
            usual = "warning" if a["name"] == "close_notify" else "fatal"
            level = "" if a["level"] == usual else f" {a['level']}"
            out.append(f"{way} {a['name']}{level}{' (encrypted)' if a['encrypted'] else ''}")
    return out


@dataclass(frozen=True)
class SideField:
    """One key of a side's observation document."""

    name: str
    doc: str
    outcome: bool  # its value is part of a release's agreement class
    diffed: bool  # `--diff` and the report's differences list it
    schema: dict[str, Any] | None = None  # how a case expects it; None: not expectable by this name


_STRING: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_NAMES: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


@dataclass(frozen=True)
class StateField:
    """One ConnectionState field, by its Go name, in report order."""

    name: str
    since: str  # the first Go release line that has it
    outcome: bool = False  # part of the agreement class
    value: dict[str, Any] = field(default_factory=lambda: dict(_STRING))  # how a case expects it


#: Alert names as the wire view gives them (RFC 8446 §6 and its registry).
ALERT_NAMES: tuple[str, ...] = tuple(ALERT_DESCRIPTIONS.values())

#: The keys of a side's observation, in the order differences are listed.
SIDE_FIELDS: tuple[SideField, ...] = (
    SideField("error", "the exact error string `Handshake()` returned, or `null`", outcome=True, diffed=True,
              schema={"type": ["string", "null"]}),
    SideField("io_error", "the first error of the ping/pong exchange after the handshake (a post-handshake "
              "alert, a bad ticket), or `null`",
              outcome=True, diffed=True, schema={"type": ["string", "null"]}),
    SideField("ech_retry_configs", "a client's handshake ended in an `ECHRejectionError` (Go 1.23+): its "
              "`RetryConfigList`, the ECH configurations by name (`[]`: the server sent none); `null` for any "
              "other outcome", outcome=True, diffed=True,
              schema={"type": ["array", "null"], "items": {"type": "string"}}),
    SideField("received", "the application data this side read", outcome=False, diffed=False,
              schema={"type": "string"}),
    SideField("alerts", "alerts sent and received on the wire, decrypted: bytes, level, name",
              outcome=True, diffed=True),
    SideField("cache", "the client's cache calls in order: `get miss`, `get hit T1`, `put T2`, `delete` (Put "
              "with nil). `T1`, `T2` name tickets in order of first appearance in the case run; a note in "
              "parentheses (`(secret byte 0 flipped)`) follows a tampered Get; ` @key` follows when the cache "
              "key is not `example.test`", outcome=True, diffed=True,
              schema={"type": "array", "items": {
                  "type": "string", "pattern": r"^(get miss|get hit T[0-9]+( \(.+\))?|put T[0-9]+|delete)( @[^ ]+)?$"}}),
    SideField("hrr", "a HelloRetryRequest was on the wire", outcome=True, diffed=True,
              schema={"type": "boolean"}),
    SideField("tickets", "NewSessionTicket messages on the wire in this connection", outcome=True, diffed=True,
              schema={"type": "integer", "minimum": 0}),
    SideField("transcript", "handshake messages sent and received: types, lengths, hello extensions, "
              "groups, ticket lifetimes", outcome=False, diffed=True),
    SideField("state", "ConnectionState, by Go field name; a field the release lacks is `absent`",
              outcome=False, diffed=False),
)

#: Names a case may expect that are computed from a field above, with how.
DERIVED_FIELDS: tuple[SideField, ...] = (
    SideField("alert_sent", "name of the first alert other than close_notify that this side wrote on the "
              "wire, or `null`", outcome=False, diffed=False, schema={"enum": [None, *ALERT_NAMES]}),
    SideField("alert_received", "name of the first alert other than close_notify that this side read on the "
              "wire, or `null`",
              outcome=False, diffed=False, schema={"enum": [None, *ALERT_NAMES]}),
    SideField("ticket_lengths", "the length in bytes of the ticket of each NewSessionTicket message on the "
              "wire in this connection, in order (from the transcript)",
              outcome=False, diffed=False,
              schema={"type": "array", "items": {"type": "integer", "minimum": 0}}),
)

#: Every ConnectionState field of every supported release, in report order.
STATE: tuple[StateField, ...] = (
    StateField("Version", "1.19", outcome=True,
               value={"enum": ["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3", "0x0000"]}),
    StateField("HandshakeComplete", "1.19", outcome=True, value=_BOOL),
    StateField("DidResume", "1.19", outcome=True, value=_BOOL),
    StateField("CipherSuite", "1.19", outcome=True, value={"enum": ["", *CIPHER_SUITES]}),
    StateField("NegotiatedProtocol", "1.19"),
    StateField("NegotiatedProtocolIsMutual", "1.19", value=_BOOL),
    StateField("ServerName", "1.19"),
    StateField("PeerCertificates", "1.19", value=_NAMES),
    StateField("VerifiedChains", "1.19", value={"type": "array", "items": _NAMES}),
    StateField("SignedCertificateTimestamps", "1.19", value=_NAMES),
    StateField("OCSPResponse", "1.19"),
    StateField("TLSUnique", "1.19"),
    StateField("ExportKeyingMaterial", "1.19", value={"type": ["string", "object"]}),
    StateField("ECHAccepted", "1.23", value=_BOOL),
    StateField("CurveID", "1.25", value={"anyOf": [{"enum": ["", *GROUPS]}, {"type": "string",
                                                                            "pattern": "^0x[0-9a-f]{4}$"}]}),
    StateField("HelloRetryRequest", "1.26", value=_BOOL),
    StateField("LocalCertificate", "1.27", value={"type": ["array", "null"], "items": {"type": "string"}}),
)

STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in STATE)


def state_path(name: str) -> str:
    """How a ConnectionState field is named among side fields: "state.DidResume"."""
    return f"state.{name}"


#: The fields whose agreement defines a release's class letter in the matrix.
OUTCOME_FIELDS: tuple[str, ...] = (
    tuple(f.name for f in SIDE_FIELDS if f.outcome)
    + tuple(state_path(f.name) for f in STATE if f.outcome))

#: The fields compared value by value across releases (report "differences").
DIFFED_FIELDS: tuple[str, ...] = (
    tuple(f.name for f in SIDE_FIELDS if f.diffed) + tuple(state_path(n) for n in STATE_FIELDS))

#: What a case may expect of a side, by name.
EXPECTABLE: tuple[SideField, ...] = tuple(f for f in SIDE_FIELDS + DERIVED_FIELDS if f.schema is not None)


def side_schema() -> dict[str, Any]:
    """The `side` definition of the case schema: what an expectation may name."""
    props: dict[str, Any] = {f.name: {**f.schema, "description": f.doc} for f in EXPECTABLE}
    # `absent` expects the release not to have the field at all (a release before `since`).
    props["state"] = {"type": "object", "minProperties": 1, "additionalProperties": False,
                      "properties": {f.name: {"anyOf": [f.value, {"const": ABSENT}]} for f in STATE},
                      "description": "ConnectionState fields by Go name, as the peer renders them; "
                                     "`absent`: the release has no such field."}
    return {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": props}
