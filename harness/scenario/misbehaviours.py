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

from .model import Role

GO, PYTHON = "go", "python"  # who honours a knob: the Go peer, or tlspeer (peer: python)

_TRUE = {"const": True}


@dataclass(frozen=True)
class Knob:
    name: str
    role: Role
    peer: str  # GO or PYTHON
    value: dict[str, Any]  # JSON schema of the value
    shown: str  # the value as docs/cases.md shows it
    doc: str  # what the endpoint does
    needs: str = ""  # another knob it goes with

    @property
    def who(self) -> str:
        return f"{'Go' if self.peer == GO else 'python'} {self.role}"


def _k(name: str, role: Role, peer: str, value: dict[str, Any], shown: str, doc: str, needs: str = "") -> Knob:
    return Knob(name, role, peer, value, shown, doc, needs)


C, S = Role.CLIENT, Role.SERVER

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
    _k("omit_ems", C, PYTHON, _TRUE, "true",
       "TLS 1.2: no hello has extended_master_secret, as a client from before RFC 7627 (Go 1.22+ then refuses "
       "`ExportKeyingMaterial` unless GODEBUG `tlsunsafeekm=1`)"),
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
)

BY_NAME: dict[str, Knob] = {k.name: k for k in KNOBS}


def knobs_of(peer: str) -> frozenset[str]:
    """The names of the knobs a peer kind honours."""
    return frozenset(k.name for k in KNOBS if k.peer == peer)


def schema_for(role: Role) -> dict[str, Any]:
    """The case schema's definition of `misbehave` for one role."""
    props = {k.name: {**k.value, "description": f"({k.who}) {k.doc}"} for k in KNOBS if k.role == role}
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "description": f"Named misbehaviours of a {role} (docs/cases.md).", "properties": props}


def check(set_knobs: dict[str, Any], peer: str, where: str) -> str | None:
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
    return None
