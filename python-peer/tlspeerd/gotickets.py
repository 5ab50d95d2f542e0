"""Go's session tickets for a tlspeer server: a `tlspeer.session.Tickets` that seals
each session as a Go server of one release would under the same ticket keys, and
opens the Go tickets it is offered as that release would.

So a Python server given `ticket_keys` (or `session_ticket_key`) shares its keys with
Go servers: a Go client resumes at a Go server with a ticket the Python server sent,
and the reverse. Which release's layout (`gomodel.tickets`, `gomodel.session_state`,
`gomodel.legacy`):

- 1.19/1.20: key name, IV, AES-128-CTR, HMAC; the plaintext is `sessionState` (TLS 1.2:
  no EMS, no verified chains) or `sessionStateTLS13` (the resumption master secret: the
  PSK is derived with the empty ticket_nonce, so every ticket carries an empty nonce).
  A TLS 1.2 session is renewed on resumption only when an older key opened it.
- 1.21+: IV, AES-128-CTR, HMAC over `SessionState.Bytes()` (the PSK, EMS, client
  certificates and their verified chains, ALPN only with early data, the ECDHE group of
  a TLS 1.2 session from 1.25 on).

What Go does not keep, a ticket does not carry: ticket_age_add and the lifetime sent
on the wire (a Go server accepts a ticket up to seven days after it was made).
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import gomodel
from gomodel.tickets import TicketError, open_ticket, seal, uses_key_name
from tlspeer.certs import verify_chain
from tlspeer.errors import TLSError
from tlspeer.keyschedule import resumption_psk
from tlspeer.session import MAX_TICKET_LIFETIME, AnySession, ServerSession, ServerSession12
from tlspeer.suites import SUITE_BY_ID

TLS13 = 0x0304
EARLY_DATA_ANY = 0xFFFFFFFF  # what Go advertises when a session allows early data (QUIC)
# SessionState.Bytes' Extra list: u24 list length (always written), then u24 per entry.
_EXTRA_ENTRY_OVERHEAD = 3
_SEAL_OVERHEAD = 16 + 32  # IV and MAC of a 1.21+ ticket


def line_of(release: str) -> tuple[int, int]:
    parts = release.split(".")
    return int(parts[0]), int(parts[1])


class GoTickets:
    """Tickets sealed under Go ticket keys in the layout of Go `release` (a line, "1.21").

    The first key seals, every key opens (`SetSessionTicketKeys`); `set_keys` swaps them
    for the connections that start afterwards. `rand` draws each ticket's IV, as Go draws
    it from Config.Rand. `roots` are the server's client CAs, for the verified chains Go
    stores. `pad_to` (the `huge_ticket` knob) pads a 1.21+ ticket to at least that many
    bytes inside the session's Extra list, which every 1.21+ server ignores, so it still
    resumes; `empty` (the `empty_ticket_label` knob) sends empty tickets."""

    counts_nonces = False

    def __init__(self, keys: Sequence[bytes], release: str, rand: Callable[[int], bytes],
                 roots: Sequence[x509.Certificate] = (), pad_to: int | None = None, empty: bool = False) -> None:
        self.release = release
        self.legacy = uses_key_name(release)
        if pad_to is not None and self.legacy:
            raise ValueError(f"huge_ticket: a Go {release} session has no field to pad that its servers would "
                             "still read, so a padded ticket could not resume")
        self.rand, self.roots, self.pad_to, self.empty = rand, tuple(roots), pad_to, empty
        self._lock = threading.Lock()
        self.set_keys(keys)

    def set_keys(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("keys: at least one ticket key is needed")
        for k in keys:
            if len(k) != 32:
                raise ValueError(f"a session ticket key is 32 bytes, got {len(k)}")
        with self._lock:
            self._keys = tuple(bytes(k) for k in keys)

    @property
    def keys(self) -> tuple[bytes, ...]:
        with self._lock:
            return self._keys

    # -- issuing --------------------------------------------------------------

    def issue(self, session: AnySession, label: bytes) -> bytes:
        """The Go ticket for session; `label` (the engine's random label) is not used."""
        if self.empty:
            return b""
        return self.seal(session, self.rand(16))

    def seal(self, session: AnySession, iv: bytes) -> bytes:
        return seal(self.plaintext(session, self.keys[0]), self.keys[0], iv, self.release)

    def plaintext(self, session: AnySession, key: bytes | None = None) -> bytes:
        """The session encoding a Go server of this release would seal for session."""
        created = int(session.created_at)
        if self.legacy:
            if isinstance(session, ServerSession):
                if session.nonce:
                    raise ValueError("a Go 1.19/1.20 ticket's PSK is derived with an empty ticket_nonce")
                return gomodel.legacy.encode(gomodel.legacy.LegacySession(
                    TLS13, session.cipher_suite, created, session.resumption_secret, tuple(session.peer_chain)))
            return gomodel.legacy.encode(gomodel.legacy.LegacySession(
                session.version, session.cipher_suite, created, session.master_secret, tuple(session.peer_chain)))
        if isinstance(session, ServerSession):
            early = session.max_early_data_size > 0
            s = gomodel.Session(version=TLS13, type=gomodel.SERVER, cipher_suite=session.cipher_suite,
                                created_at=created, secret=session.psk, early_data=early,
                                certificates=tuple(session.peer_chain),
                                verified_chains=self._verified_chains(session),
                                alpn=(session.alpn or "") if early else "")
        else:
            s = gomodel.Session(version=session.version, type=gomodel.SERVER, cipher_suite=session.cipher_suite,
                                created_at=created, secret=session.master_secret,
                                ext_master_secret=session.extended_master_secret,
                                certificates=tuple(session.peer_chain),
                                verified_chains=self._verified_chains(session), curve_id=session.group or 0)
        out = gomodel.encode(s, self.release)
        short = (self.pad_to or 0) - (len(out) + _SEAL_OVERHEAD)
        if short > 0:
            filler = bytes(max(0, short - _EXTRA_ENTRY_OVERHEAD))
            out = gomodel.encode(dataclasses.replace(s, extra=(filler,)), self.release)
        return out

    def _verified_chains(self, session: AnySession) -> tuple[tuple[bytes, ...], ...]:
        """Go keeps the client's verified chains (without their leaf); tlspeer keeps only
        that the chain was verified, so the path is found again (at the session's time)."""
        if not session.verified or not session.peer_chain:
            return ()
        try:
            path = verify_chain(session.peer_chain, self.roots, session.created_at, None, "client")
        except TLSError:
            return ()
        return (tuple(c.public_bytes(serialization.Encoding.DER) for c in path[1:]),)

    # -- opening --------------------------------------------------------------

    def open(self, ticket: bytes, now: float) -> AnySession | None:
        """The session in a Go ticket, read as this release would, or None (no key opens it,
        the session does not parse, or it is older than Go's seven days)."""
        try:
            opened = open_ticket(ticket, self.keys, self.release)
        except TicketError:
            return None
        try:
            session = self._read(opened.plaintext, opened.key_index, now)
        except ValueError:
            return None
        if session is None or now - session.created_at > MAX_TICKET_LIFETIME:
            return None
        return session

    def _read(self, plaintext: bytes, key_index: int, now: float) -> AnySession | None:
        if self.legacy:
            old = gomodel.legacy.decode(plaintext)
            if old.version == TLS13:
                suite = SUITE_BY_ID.get(old.cipher_suite)
                if suite is None or not suite.tls13:
                    return None
                return ServerSession(psk=resumption_psk(suite.prf_hash, old.secret, b""),
                                     cipher_suite=old.cipher_suite, created_at=old.created_at,
                                     lifetime=MAX_TICKET_LIFETIME, age_add=0, peer_chain=list(old.certificates),
                                     verified=self._verifies(old.certificates, now), resumption_secret=old.secret)
            # 1.19/1.20 know no EMS; they renew a TLS 1.2 ticket only when an older key opened it.
            return ServerSession12(master_secret=old.secret, cipher_suite=old.cipher_suite,
                                   extended_master_secret=False, created_at=old.created_at,
                                   peer_chain=list(old.certificates), verified=self._verifies(old.certificates, now),
                                   version=old.version, renew=key_index > 0)
        s = gomodel.decode(plaintext, self.release)
        if s.version == TLS13:
            return ServerSession(psk=s.secret, cipher_suite=s.cipher_suite, created_at=s.created_at,
                                 lifetime=MAX_TICKET_LIFETIME, age_add=0,
                                 max_early_data_size=EARLY_DATA_ANY if s.early_data else 0,
                                 alpn=s.alpn if s.early_data else None, peer_chain=list(s.certificates),
                                 verified=bool(s.verified_chains))
        return ServerSession12(master_secret=s.secret, cipher_suite=s.cipher_suite,
                               extended_master_secret=s.ext_master_secret, created_at=s.created_at,
                               peer_chain=list(s.certificates), verified=bool(s.verified_chains),
                               group=s.curve_id or None, version=s.version)

    def _verifies(self, chain: Sequence[bytes], now: float) -> bool:
        """1.19/1.20 keep no verified chains: they verify the client's chain again on resumption."""
        if not chain:
            return False
        try:
            verify_chain(list(chain), self.roots, now, None, "client")
        except (TLSError, ValueError):
            return False
        return True
