"""The closed vocabulary of ways a tlspeer endpoint breaks the protocol on purpose.

Each knob of `Misbehaviour` is off by default. Most work through the engines'
hooks (`Misbehaviour.hooks`); those that change what an engine decides are read
by the engine itself: `two_hrrs`, `hrr_no_change`, `hrr_cookie` (TLS 1.3 server),
`unrequested_ticket`, `echo_session_id`, `resume_other_suite` (TLS 1.2 server,
`server12`), `drop_ems_on_resume`, `omit_ems` (a client when it builds its hello, a
TLS 1.2 server when it reads one) and `corrupt_premaster` (client, when it encrypts an
RSA premaster secret).
A client knob on a server (or the reverse) is a configuration error.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from . import extensions as ext
from .edits import ExtensionEdit, MessageEdit, Wire, edit_extensions, parse_list
from .hooks import CLIENT_MESSAGES, SERVER_MESSAGES, HandshakeBytes, Hooks
from .messages import (ClientHello, EncryptedExtensions, Message, NewSessionTicket,
                       NewSessionTicketTLS12)
from .record import HANDSHAKE, record_header

BOGUS_IDENTITY = b"tlsdiff-bogus-identity-"
GREASE_SUITE = 0x0A0A
CLIENT_KNOBS = ("corrupt_binder", "wrong_ticket_age", "extra_identities_before", "psk_not_last",
                "psk_modes", "empty_binders", "binder_count_mismatch", "second_ch_change_suites",
                "second_ch_drop_key_share", "second_ch_identities", "pipeline_after_ch1", "wrong_cookie_echo",
                "drop_ems_on_resume", "second_client_hello", "pipeline_second_client_hello",
                "send_early_data", "corrupt_premaster", "ech_outer_extensions")
SERVER_KNOBS = ("two_hrrs", "hrr_no_change", "hrr_cookie", "ticket_lifetime",
                "empty_ticket_label", "huge_ticket", "early_data_in_ee", "unrequested_ticket",
                "echo_session_id", "resume_other_suite")
BOTH_KNOBS = ("extension_edits", "message_edits", "post_handshake", "omit_ems")
POST_HANDSHAKE_MESSAGES = ("key_update", "key_update_requested", "new_session_ticket")
SECOND_HELLO_FIELDS = ("key_shares", "cipher_suites", "session_id", "random", "legacy_version")


@dataclass(frozen=True)
class Misbehaviour:
    """What to break. Client knobs:

    corrupt_binder
        Which ClientHello's PSK binder to corrupt after it is computed: 1, 2 or
        "both". The byte `corrupt_binder_byte` of the real identity's binder is
        XORed with 0x01; lengths stay right, so the server sees a well-formed
        hello whose binder does not verify (decrypt_error).
    wrong_ticket_age
        Milliseconds added to every obfuscated_ticket_age, before the binders are
        computed (so the binders are valid and only the age is wrong).
    extra_identities_before
        k bogus identities (``tlsdiff-bogus-identity-<i>``, age 0, zero binders)
        placed before the real one, which then sits at index k.
    psk_not_last
        Move pre_shared_key to the front of the extensions (binders still cover
        the hello up to the binders list, wherever it is).
    psk_modes
        "missing": drop psk_key_exchange_modes; "psk_ke": offer only psk_ke.
    empty_binders
        Send an empty binders list (a hello that does not decode).
    binder_count_mismatch
        One binder more than identities (the real binders stay valid).
    second_ch_change_suites
        ClientHello 2 appends the GREASE suite 0x0A0A to the suites of
        ClientHello 1 (a change RFC 8446 §4.1.2 forbids).
    second_ch_drop_key_share
        ClientHello 2 has no key_share extension.
    second_ch_identities
        ClientHello 2's PSK identities differ from ClientHello 1's (RFC 8446
        §4.1.2 allows only dropping PSKs the server's suite cannot use):
        "add_bogus" puts a bogus identity (zero binder) before the others;
        "drop_bogus" removes the bogus identities `extra_identities_before` put
        in ClientHello 1. Binders are computed afterwards, so real ones are valid.
    pipeline_after_ch1
        Right after ClientHello 1, before any server reply, send a copy of it:
        True or "next_record" in a second plaintext record (legacy version
        0x0301, as the first); "same_record" in the same record as ClientHello 1,
        so the server holds unread handshake bytes when it answers.
    wrong_cookie_echo
        ClientHello 2 echoes the HRR cookie with its last byte flipped (or sends
        a cookie of its own when the HRR had none).
    drop_ems_on_resume
        TLS 1.2: a hello that offers a session (its ticket, or its session ID)
        leaves out extended_master_secret, whether or not the session used it
        (RFC 7627 §5.3: a server must then abort or fall back to a full
        handshake).
    corrupt_premaster
        TLS 1.2 RSA key exchange: "padding" encrypts a block of type 1 instead
        of 2, which the server cannot unpad (RFC 5246 §7.4.7.1: it must go on
        with a random premaster secret, so the handshake fails at Finished);
        "too_large" sends a ciphertext of 0xFF bytes, above the modulus, which
        RSA decryption itself refuses; "version" puts 0x0301 instead of the
        hello's version at the front of the premaster secret.

    second_client_hello
        Fields of ClientHello 2 set freely (a mapping): ``key_shares`` (group
        names: fresh shares for them, the engine keeping their keys; ``[]`` is
        an empty key_share), ``cipher_suites`` (names or numbers),
        ``session_id`` and ``random`` (hex), ``legacy_version``. The cookie,
        PSK identities and binders are set with extension_edits,
        second_ch_identities and corrupt_binder.
    pipeline_second_client_hello
        A group name: right after ClientHello 1, in its own record and before
        any reply, a valid ClientHello 2 as if a HelloRetryRequest had selected
        that group (without pre_shared_key, whose binders would need the HRR).
        When the HelloRetryRequest comes, it is checked and nothing more is sent.
    send_early_data
        Text to send as 0-RTT data: early_data is offered with the first PSK
        and the text sent under its early traffic key, whatever the ticket's
        max_early_data_size (0 for every ticket a Go server issues).

    Either role:

    extension_edits
        A list of `edits.ExtensionEdit`: an extension of a message omitted,
        emptied, duplicated, moved first or last, or given as bytes.
    message_edits
        A list of `edits.MessageEdit`: a handshake message kept, dropped,
        duplicated, replaced, a byte flipped, bytes inserted before or after it,
        or sent after the next one; in its own record or not, with a record
        version. The sender's transcript holds the message as sent; inserted
        bytes and duplicate copies stay outside it.
    post_handshake
        ``{messages: [...], records: apart | together}``: right after the
        handshake, before any application data (TLS 1.3), the messages
        ``key_update``, ``key_update_requested``, ``new_session_ticket`` in
        order, each in its own record (``apart``, the default) or all in one
        record under the current key (``together``), the write key moving on
        once per KeyUpdate after it.
    ech_outer_extensions
        With ECH (`ClientConfig.ech_config_list`), bend the ech_outer_extensions of
        EncodedClientHelloInner against the rules of RFC 9849 §5.1:
        "trailing_byte" (a byte after the list), "two_lists" (the list split in
        two extensions), "two_lists_reordered" (the same, with the second list's
        extensions first in the outer hello), "empty_list" (a second, empty list),
        "self_reference" (the list names ech_outer_extensions, and the outer hello
        carries such an extension), "duplicate" (the first type named twice). The
        inner hello is sealed so that a server whose decoding accepts the variant
        rebuilds it exactly (except "duplicate", which none accepts).
    omit_ems
        TLS 1.2, either role: no hello has extended_master_secret, as a peer from
        before RFC 7627. A client does not offer it; a server does not take it
        up when offered, and derives the master secret as RFC 5246 does. The
        master secret is not bound to the handshake, so Go 1.22+ refuses
        ExportKeyingMaterial unless GODEBUG tlsunsafeekm=1 (removed in 1.27).

    Server knobs:

    two_hrrs
        Answer ClientHello 2 with a second HelloRetryRequest.
    hrr_no_change
        Send a HelloRetryRequest selecting the group of the client's first key
        share, which the client already sent (RFC 8446 §4.1.4 says abort).
    hrr_cookie
        Put this cookie (bytes, or text as UTF-8) in every HelloRetryRequest, and
        require ClientHello 2 to echo it.
    ticket_lifetime
        The ticket_lifetime of every NewSessionTicket (0 and 604801 are the
        interesting values); in TLS 1.2, its ticket_lifetime_hint.
    empty_ticket_label
        NewSessionTickets carry an empty ticket (TLS 1.3 and 1.2).
    huge_ticket
        Pad every ticket with zeros to this many bytes (65535 is the maximum);
        the padded ticket still resumes.
    early_data_in_ee
        Put early_data in EncryptedExtensions although 0-RTT was not accepted
        (and maybe not offered).
    unrequested_ticket
        TLS 1.2: put an empty SessionTicket extension in the ServerHello and send
        a NewSessionTicket although the client's hello had no SessionTicket
        extension (RFC 5077 §3.2 forbids it; the server needs its ticket store).
    echo_session_id
        TLS 1.2: on a full handshake, put the client's own session ID in the
        ServerHello, which on the wire claims a resumption nobody offered.
    resume_other_suite
        TLS 1.2: when resuming a session, name in the ServerHello a cipher suite
        other than the session's (the first other one of ours the client offers
        and our certificate can use); the keys follow that suite. With no such
        suite it resumes normally.
    """

    corrupt_binder: Literal[1, 2, "both"] | None = None
    corrupt_binder_byte: int = 0
    wrong_ticket_age: int | None = None
    extra_identities_before: int = 0
    psk_not_last: bool = False
    psk_modes: Literal["missing", "psk_ke"] | None = None
    empty_binders: bool = False
    binder_count_mismatch: bool = False
    second_ch_change_suites: bool = False
    second_ch_drop_key_share: bool = False
    second_ch_identities: Literal["add_bogus", "drop_bogus"] | None = None
    pipeline_after_ch1: bool | Literal["next_record", "same_record"] = False
    wrong_cookie_echo: bool = False
    two_hrrs: bool = False
    hrr_no_change: bool = False
    hrr_cookie: bytes | str | None = None
    ticket_lifetime: int | None = None
    empty_ticket_label: bool = False
    huge_ticket: int | None = None
    early_data_in_ee: bool = False
    drop_ems_on_resume: bool = False
    corrupt_premaster: Literal["padding", "too_large", "version"] | None = None
    omit_ems: bool = False
    unrequested_ticket: bool = False
    echo_session_id: bool = False
    resume_other_suite: bool = False
    ech_outer_extensions: Literal["trailing_byte", "two_lists", "two_lists_reordered", "empty_list",
                                  "self_reference", "duplicate"] | None = None
    second_client_hello: dict[str, Any] | None = None
    pipeline_second_client_hello: str | None = None
    send_early_data: str | None = None
    extension_edits: tuple[ExtensionEdit, ...] = ()
    message_edits: tuple[MessageEdit, ...] = ()
    post_handshake: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Edits arrive as plain data (a case's JSON): parse them once, here.
        object.__setattr__(self, "extension_edits",
                           parse_list(ExtensionEdit, self.extension_edits, "extension_edits"))
        object.__setattr__(self, "message_edits", parse_list(MessageEdit, self.message_edits, "message_edits"))
        if self.post_handshake is not None:
            ph = self.post_handshake
            if not isinstance(ph, dict) or set(ph) - {"messages", "records"} or not isinstance(
                    ph.get("messages"), list) or any(x not in POST_HANDSHAKE_MESSAGES for x in ph["messages"]):
                raise ValueError(f"post_handshake: {ph!r}; expected {{messages: [one of "
                                 f"{', '.join(POST_HANDSHAKE_MESSAGES)}], records: apart | together}}")
            if ph.get("records", "apart") not in ("apart", "together"):
                raise ValueError(f"post_handshake.records: {ph['records']!r}; expected apart or together")
        if self.second_client_hello is not None:
            extra = set(self.second_client_hello) - set(SECOND_HELLO_FIELDS)
            if extra:
                raise ValueError(f"second_client_hello.{sorted(extra)[0]}: expected one of "
                                 f"{', '.join(SECOND_HELLO_FIELDS)}")

    def active(self) -> list[str]:
        """Names of the knobs that are set."""
        # Asked at every connection; the instance is frozen, so the answer is kept.
        known = self.__dict__.get("_active")
        if known is None:
            known = tuple(f.name for f in fields(self) if f.name != "corrupt_binder_byte"
                          and getattr(self, f.name) != getattr(_DEFAULT, f.name))
            object.__setattr__(self, "_active", known)
        return list(known)

    def check_role(self, role: str) -> None:
        wrong = [n for n in self.active() if n in (SERVER_KNOBS if role == "client" else CLIENT_KNOBS)]
        if wrong:
            raise ValueError(f"misbehaviour {', '.join(wrong)} is not for a {role}")
        sends = CLIENT_MESSAGES if role == "client" else SERVER_MESSAGES
        for knob in ("extension_edits", "message_edits"):
            for i, edit in enumerate(getattr(self, knob)):
                if edit.message not in sends:
                    raise ValueError(f"{knob}[{i}].message: a {role} does not send {edit.message}; "
                                     f"expected one of {', '.join(sends)}")

    def hooks(self, role: str) -> Hooks | None:
        """The hooks of one connection (message edits keep per-connection state)."""
        self.check_role(role)
        if not self.active():
            return None
        wire = Wire(self.message_edits) if self.message_edits else None
        if role == "client":
            # Without corrupt_binder, _after_binders changes nothing, and a hook there makes the
            # client encode its hello a second time (a twentieth of tlspeerd's CPU in a campaign).
            after_binders = self._after_binders if self.corrupt_binder is not None else None
            return Hooks(self._mutate_client, after_binders, self._after_message, wire)
        return Hooks(self._mutate_server, wire=wire)

    # -- client -----------------------------------------------------------

    def _mutate_client(self, name: str, msg: Message) -> Message:
        msg = self._mutate_client_hello(name, msg)
        return edit_extensions(self.extension_edits, name, msg)

    def _mutate_client_hello(self, name: str, msg: Message) -> Message:
        if not isinstance(msg, ClientHello) or msg.extensions is None:
            return msg
        exts = msg.extensions
        psk = _find(exts, ext.PreSharedKeyClient)
        if psk is not None and name == "client_hello_1":
            size = len(psk.binders[0]) if psk.binders else 32
            for i in reversed(range(self.extra_identities_before)):
                psk.identities.insert(0, ext.PskIdentity(BOGUS_IDENTITY + str(i).encode(), 0))
                psk.binders.insert(0, bytes(size))
            if self.binder_count_mismatch:
                psk.binders.append(bytes(size))
        if psk is not None and self.wrong_ticket_age is not None:
            for ident in psk.identities:
                if not ident.identity.startswith(BOGUS_IDENTITY):
                    ident.obfuscated_ticket_age = (ident.obfuscated_ticket_age
                                                   + self.wrong_ticket_age) % (1 << 32)
        if psk is not None and self.empty_binders:
            psk.binders.clear()
        if self.psk_modes == "missing":
            exts[:] = [e for e in exts if e.ext_type != ext.EXT_PSK_KEY_EXCHANGE_MODES]
        elif self.psk_modes == "psk_ke":
            modes = _find(exts, ext.PskKeyExchangeModes)
            if modes is not None:
                modes.modes = [ext.PSK_KE]
        if self.psk_not_last and psk is not None:
            exts[:] = [psk] + [e for e in exts if e is not psk]
        if name == "client_hello_2":
            if self.second_ch_change_suites:
                msg.cipher_suites = list(msg.cipher_suites) + [GREASE_SUITE]
            if self.second_ch_drop_key_share:
                exts[:] = [e for e in exts if e.ext_type != ext.EXT_KEY_SHARE]
            if psk is not None and self.second_ch_identities == "add_bogus":
                size = len(psk.binders[-1]) if psk.binders else 32
                psk.identities.insert(0, ext.PskIdentity(BOGUS_IDENTITY + b"ch2", 0))
                psk.binders.insert(0, bytes(size))
            elif psk is not None and self.second_ch_identities == "drop_bogus":
                keep = [i for i, ident in enumerate(psk.identities)
                        if not ident.identity.startswith(BOGUS_IDENTITY)]
                psk.binders[:] = [psk.binders[i] for i in keep if i < len(psk.binders)]
                psk.identities[:] = [psk.identities[i] for i in keep]
            if self.wrong_cookie_echo:
                cookie = _find(exts, ext.Cookie)
                if cookie is None:
                    exts.insert(0, ext.Cookie(b"tlsdiff-cookie"))
                else:
                    cookie.cookie = cookie.cookie[:-1] + bytes([cookie.cookie[-1] ^ 1])
        return msg

    def _after_binders(self, name: str, msg: ClientHello) -> ClientHello:
        which = {"client_hello_1": 1, "client_hello_2": 2}.get(name)
        if self.corrupt_binder is None or (self.corrupt_binder != "both"
                                           and self.corrupt_binder != which):
            return msg
        psk = _find(msg.extensions or [], ext.PreSharedKeyClient)
        index = self.extra_identities_before
        if psk is not None and index < len(psk.binders):
            binder = bytearray(psk.binders[index])
            binder[self.corrupt_binder_byte % len(binder)] ^= 1
            psk.binders[index] = bytes(binder)
        return msg

    def _after_message(self, name: str, encoded: bytes) -> bytes:
        if self.pipeline_after_ch1 and name == "client_hello_1":
            if self.pipeline_after_ch1 == "same_record":
                return HandshakeBytes(encoded)
            return record_header(HANDSHAKE, 0x0301, len(encoded)) + encoded
        return b""

    # -- server -----------------------------------------------------------

    def _mutate_server(self, name: str, msg: Message) -> Message:
        return edit_extensions(self.extension_edits, name, self._mutate_server_messages(name, msg))

    def _mutate_server_messages(self, name: str, msg: Message) -> Message:
        if isinstance(msg, NewSessionTicketTLS12) and self.ticket_lifetime is not None:
            msg.lifetime_hint = self.ticket_lifetime
        if isinstance(msg, (NewSessionTicket, NewSessionTicketTLS12)):
            if isinstance(msg, NewSessionTicket) and self.ticket_lifetime is not None:
                msg.lifetime = self.ticket_lifetime
            if self.empty_ticket_label:
                msg.ticket = b""
            elif self.huge_ticket is not None and len(msg.ticket) < self.huge_ticket:
                msg.ticket = msg.ticket + bytes(self.huge_ticket - len(msg.ticket))
        if isinstance(msg, EncryptedExtensions) and self.early_data_in_ee:
            if not msg.has(ext.EXT_EARLY_DATA):
                msg.extensions.append(ext.EarlyData())
        return msg


#: What active() compares each knob with.
_DEFAULT = Misbehaviour()


def _find(exts: list[ext.Extension], cls: type) -> ext.Extension | None:
    # The engines build typed extensions; a raw one (from a test's own mutate)
    # is left alone.
    return next((e for e in exts if isinstance(e, cls)), None)
