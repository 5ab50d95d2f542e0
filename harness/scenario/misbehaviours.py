"""The misbehaviour knobs a case may set: the one list.

A knob is a way an endpoint breaks the protocol on purpose, set in a case as
`misbehave: {knob: value}`. This table gives each knob's role, which peers honour
it and the values it takes; the case schema's misbehaviour definitions and the
knob table of docs/cases.md are made from it. The peers list the knobs they
honour in their `hello`, and tests/test_vocabulary.py holds both peers and
tlspeer's `Misbehaviour` to this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tlspeer.edits import EXTENSION_ACTIONS, MESSAGE_ACTIONS, RECORDS
from tlspeer.extensions import EXTENSION_NAMES
from tlspeer.groups import GROUP_IDS
from tlspeer.hooks import MESSAGE_NAMES
from tlspeer.misbehave import POST_HANDSHAKE_MESSAGES, Misbehaviour

from .model import Role
from .tls_names import CIPHER_SUITES

GO, PYTHON = "go", "python"  # who honours a knob: the Go peer, or tlspeer (peer: python)

_TRUE = {"const": True}


@dataclass(frozen=True)
class Knob:
    name: str
    role: Role | None  # None: either role
    peer: str  # GO or PYTHON
    value: dict[str, Any]  # JSON schema of the value
    shown: str  # the value as docs/cases.md shows it
    doc: str  # what the endpoint does
    needs: str = ""  # another knob it goes with

    @property
    def who(self) -> str:
        return f"{'Go' if self.peer == GO else 'python'} {self.role or 'client or server'}"

    def for_role(self, role: Role) -> bool:
        return self.role is None or self.role == role


def _k(name: str, role: Role | None, peer: str, value: dict[str, Any], shown: str, doc: str, needs: str = "") -> Knob:
    return Knob(name, role, peer, value, shown, doc, needs)


C, S, EITHER = Role.CLIENT, Role.SERVER, None

_HEX = {"type": "string", "pattern": "^([0-9a-fA-F]{2})*$", "maxLength": 131072,
        "description": "hex digits, two a byte"}
_EXTENSION = {"anyOf": [{"enum": sorted(EXTENSION_NAMES)}, {"type": "integer", "minimum": 0, "maximum": 65535}]}
# Groups tlspeer makes key shares for (its own list: Go names a few more it cannot).
_GROUP = {"enum": list(GROUP_IDS)}


def _int(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi}


def _edits(item: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "maxItems": 32,
            "items": {"type": "object", "additionalProperties": False, "required": required, "properties": item}}

KNOBS: tuple[Knob, ...] = (
    _k("flip_secret_byte", C, GO, _TRUE, "true",
       "Go 1.21+: its cache's Get returns the stored session with byte 0 of the secret flipped "
       "(`SessionState.Bytes`, offset 14, then `ParseSessionState` and `NewResumptionState`): a well-formed "
       "PSK with a wrong binder in TLS 1.3, a wrong master secret in TLS 1.2. Before 1.21 the run is "
       "`unsupported` with the reason"),
    _k("corrupt_binder", C, PYTHON, {"enum": [1, 2, "both"]}, "1 \\| 2 \\| both",
       "flips a byte of the real PSK's binder in ClientHello 1, 2 or both, after computing it"),
    _k("corrupt_binder_byte", C, PYTHON, {"type": "integer", "minimum": 0, "maximum": 63}, "n",
       "which byte of the binder `corrupt_binder` flips (default 0)", needs="corrupt_binder"),
    _k("wrong_ticket_age", C, PYTHON, {"type": "integer", "minimum": -(2**31), "maximum": 2**32 - 1}, "ms",
       "adds ms to every obfuscated_ticket_age (binders stay valid)"),
    _k("extra_identities_before", C, PYTHON, {"type": "integer", "minimum": 1, "maximum": 16}, "k",
       "k bogus PSK identities before the real one, which sits at index k"),
    _k("psk_not_last", C, PYTHON, _TRUE, "true", "pre_shared_key first instead of last"),
    _k("psk_modes", C, PYTHON, {"enum": ["missing", "psk_ke"]}, "missing \\| psk_ke",
       "no psk_key_exchange_modes, or psk_ke only"),
    _k("empty_binders", C, PYTHON, _TRUE, "true", "an empty binders list"),
    _k("binder_count_mismatch", C, PYTHON, _TRUE, "true", "one binder more than identities"),
    _k("second_ch_change_suites", C, PYTHON, _TRUE, "true", "ClientHello 2 adds a cipher suite"),
    _k("second_ch_drop_key_share", C, PYTHON, _TRUE, "true", "ClientHello 2 has no key_share"),
    _k("second_ch_identities", C, PYTHON, {"enum": ["add_bogus", "drop_bogus"]}, "add_bogus \\| drop_bogus",
       "ClientHello 2's PSK identities differ from ClientHello 1's: a bogus identity added before the others, "
       "or the bogus ones (`extra_identities_before`) dropped; the binders of real identities stay valid"),
    _k("pipeline_after_ch1", C, PYTHON, {"enum": ["next_record", "same_record"]}, "next_record \\| same_record",
       "a copy of ClientHello 1 right behind it, in its own record or in the same record"),
    _k("wrong_cookie_echo", C, PYTHON, _TRUE, "true",
       "ClientHello 2 echoes a wrong cookie (or one that was never sent)"),
    _k("drop_ems_on_resume", C, PYTHON, _TRUE, "true",
       "TLS 1.2: a hello that offers a session (ticket or session ID) has no extended_master_secret"),
    _k("corrupt_premaster", C, PYTHON, {"enum": ["padding", "too_large", "version"]},
       "padding \\| too_large \\| version",
       "TLS 1.2 RSA key exchange: the encrypted premaster secret has a wrong PKCS#1 block type (the server "
       "must go on with a random premaster, so Finished fails), is a ciphertext above the modulus (RSA "
       "decryption itself fails), or carries version 0x0301 instead of the hello's"),
    _k("ech_outer_extensions", C, PYTHON,
       {"enum": ["trailing_byte", "two_lists", "two_lists_reordered", "empty_list", "self_reference",
                 "duplicate"]},
       "trailing_byte \\| two_lists \\| two_lists_reordered \\| empty_list \\| self_reference \\| duplicate",
       "with `ech_config_list`: the sealed inner hello's ech_outer_extensions has a byte after its list, is split "
       "in two (also with the second half first in the outer hello), is followed by an empty one, names itself "
       "(the outer hello carries an extension of that type), or names a type twice. A server that cannot open "
       "the inner hello answers the outer one: tlspeer's ECH client then finishes that handshake and fails "
       "(`tls: server rejected ECH`, ech_required after its Finished), through a HelloRetryRequest too"),
    _k("omit_ems", EITHER, PYTHON, _TRUE, "true",
       "TLS 1.2: no hello has extended_master_secret, as a peer from before RFC 7627: a client does not offer "
       "it, a server does not take it up (Go 1.22+ then refuses `ExportKeyingMaterial` unless GODEBUG "
       "`tlsunsafeekm=1`)"),
    _k("two_hrrs", S, PYTHON, _TRUE, "true", "answers ClientHello 2 with a second HelloRetryRequest"),
    _k("hrr_no_change", S, PYTHON, _TRUE, "true", "a HelloRetryRequest for a group the client already shared"),
    _k("hrr_cookie", S, PYTHON, {"type": "string", "minLength": 1, "maxLength": 1024}, "text",
       "puts a cookie in its HelloRetryRequest and requires it back"),
    _k("ticket_lifetime", S, PYTHON, {"type": "integer", "minimum": 0, "maximum": 4294967295}, "s",
       "the lifetime of its NewSessionTickets (0, 604801, …); in TLS 1.2 the lifetime hint"),
    _k("empty_ticket_label", S, PYTHON, _TRUE, "true", "NewSessionTickets with an empty ticket (TLS 1.3 and 1.2)"),
    _k("huge_ticket", S, PYTHON, {"type": "integer", "minimum": 1, "maximum": 65535}, "n",
       "tickets padded to n bytes (they still resume; TLS 1.3 and 1.2)"),
    _k("early_data_in_ee", S, PYTHON, _TRUE, "true", "early_data in EncryptedExtensions, never accepted"),
    _k("unrequested_ticket", S, PYTHON, _TRUE, "true",
       "TLS 1.2: a SessionTicket extension in the ServerHello and a NewSessionTicket although the client's "
       "hello had no SessionTicket extension"),
    _k("echo_session_id", S, PYTHON, _TRUE, "true",
       "TLS 1.2: a full handshake whose ServerHello echoes the client's session ID (which claims a resumption)"),
    _k("resume_other_suite", S, PYTHON, _TRUE, "true",
       "TLS 1.2: resumes the offered session but names another cipher suite (one the client offers) in the "
       "ServerHello"),
    _k("second_client_hello", C, PYTHON,
       {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
           "key_shares": {"type": "array", "maxItems": 8, "items": _GROUP},
           "cipher_suites": {"type": "array", "maxItems": 64,
                             "items": {"anyOf": [{"enum": list(CIPHER_SUITES)}, _int(0, 65535)]}},
           "session_id": {**_HEX, "maxLength": 64}, "random": {**_HEX, "minLength": 64, "maxLength": 64},
           "legacy_version": _int(0, 65535)}},
       "{key_shares, cipher_suites, session_id, random, legacy_version}",
       "fields of ClientHello 2 set freely: `key_shares` (groups: fresh shares, their keys kept; `[]` is an "
       "empty key_share), `cipher_suites`, `session_id` and `random` (hex), `legacy_version`. Its cookie, PSK "
       "identities and binders: `extension_edits`, `second_ch_identities`, `corrupt_binder`"),
    _k("pipeline_second_client_hello", C, PYTHON, _GROUP, "group",
       "right behind ClientHello 1, in its own record, a valid ClientHello 2 as if a HelloRetryRequest had "
       "selected that group (no pre_shared_key: its binders would need the HRR); when the HRR comes nothing more "
       "is sent"),
    _k("send_early_data", C, PYTHON, {"type": "string", "minLength": 1, "maxLength": 16384}, "text",
       "offers early_data with its first PSK and sends the text as 0-RTT data, whatever the ticket allows "
       "(Go's tickets allow none)"),
    _k("extension_edits", EITHER, PYTHON,
       _edits({"message": {"enum": list(MESSAGE_NAMES)}, "extension": _EXTENSION,
               "do": {"enum": list(EXTENSION_ACTIONS)}, "bytes": _HEX}, ["message", "extension", "do"]),
       "[{message, extension, do, bytes}]",
       "each edit changes one extension of a message it sends, before it is encoded (a ClientHello's binders "
       "cover the change): `do: omit`, `empty` (an empty body), `duplicate`, `first`, `last`, or `bytes` (the "
       "body, hex; added at the end if absent). `extension` is a name (`key_share`, `signature_algorithms`, "
       "…) or a number"),
    _k("message_edits", EITHER, PYTHON,
       _edits({"message": {"enum": list(MESSAGE_NAMES)}, "do": {"enum": list(MESSAGE_ACTIONS)},
               "nth": _int(1, 65536), "bytes": _HEX, "offset": _int(0, 1 << 24), "xor": _int(1, 255),
               "record": {"enum": list(RECORDS)}, "record_version": _int(0, 65535)}, ["message"]),
       "[{message, do, nth, bytes, offset, xor, record, record_version}]",
       "what goes on the wire for a handshake message it sends (every one of that name, or the `nth`): "
       "`do: keep` (default), `drop`, `duplicate`, `replace` (with `bytes`), `flip_byte` (`offset` into the "
       "message, `xor`, default 1), `insert_before`/`insert_after` (`bytes`: e.g. a whole extra handshake "
       "message), `swap_with_next`; `record: own` puts it in a record of its own, `record_version` gives a "
       "plaintext record's version. The sender's transcript holds the message as sent (flipped, replaced, absent "
       "when dropped); inserted bytes and duplicate copies stay outside it"),
    _k("post_handshake", EITHER, PYTHON,
       {"type": "object", "additionalProperties": False, "required": ["messages"], "properties": {
           "messages": {"type": "array", "minItems": 1, "maxItems": 64,
                        "items": {"enum": list(POST_HANDSHAKE_MESSAGES)}},
           "records": {"enum": ["apart", "together"]}}},
       "{messages, records}",
       "right after the handshake, before the application data: `key_update`, `key_update_requested`, "
       "`new_session_ticket` (a client's is unsolicited) in order, each in its own record (`records: apart`) or "
       "all in one record under the current key (`together`), the write key moving on once per KeyUpdate"),
)

BY_NAME: dict[str, Knob] = {k.name: k for k in KNOBS}


def knobs_of(peer: str) -> frozenset[str]:
    """The names of the knobs a peer kind honours."""
    return frozenset(k.name for k in KNOBS if k.peer == peer)


def schema_for(role: Role) -> dict[str, Any]:
    """The case schema's definition of `misbehave` for one role."""
    props = {k.name: {**k.value, "description": f"({k.who}) {k.doc}"} for k in KNOBS if k.for_role(role)}
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "description": f"Named misbehaviours of a {role} (docs/cases.md).", "properties": props}


def check(set_knobs: dict[str, Any], peer: str, where: str, role: Role | None = None) -> str | None:
    """Why these knobs cannot go on an endpoint run by `peer` ("a", "b" or "python"), or None."""
    kind = PYTHON if peer == PYTHON else GO
    for name in set_knobs:
        knob = BY_NAME[name]  # the schema admits only known names
        if knob.peer != kind:
            other = ", ".join(sorted(knobs_of(GO)))
            if kind == PYTHON:
                return f"{where}.{name}: is a Go peer misbehaviour; a python client breaks binders with corrupt_binder"
            return f"{where}.{name}: needs 'peer: python' (a Go endpoint can only {other})"
        if knob.needs and knob.needs not in set_knobs:
            return f"{where}.{name}: goes with {knob.needs}"
    if kind == PYTHON and role is not None:
        # What the schema cannot say (bytes that go with an action, a message the
        # role does not send): tlspeer's own parser says it, in its words.
        try:
            Misbehaviour(**set_knobs).check_role(str(role))
        except (TypeError, ValueError) as exc:
            return f"{where}.{exc}"
    return None
