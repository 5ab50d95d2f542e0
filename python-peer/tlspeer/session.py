"""Resumption state: the tickets a client keeps and the sessions a server remembers.

How a server makes its tickets and reads them back is a `Tickets` object, shared
by the connections of one server configuration. The default, `TicketStore`, is
stateful: a ticket is an opaque label drawn from the endpoint's `rand` and looked
up in the store. That keeps every ticket byte reproducible (RFC 8448's ticket is
just bytes) and lets a misbehaviour send any label, of any size, that still
resumes. TLS 1.2 sessions (`ServerSession12`) live in the same kind of store,
keyed by their RFC 5077 ticket or by their session ID. Another `Tickets` may seal
the session into the ticket itself (tlspeerd seals Go's tickets).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

MAX_TICKET_LIFETIME = 604800  # seven days (RFC 8446 §4.6.1)
# Go's maxSessionTicketLifetime: a TLS 1.2 session older than this is not resumed.
MAX_SESSION_AGE_TLS12 = 604800


@dataclass
class ClientTicket:
    """A ticket a client received, with its PSK = HKDF-Expand-Label(
    resumption_master_secret, "resumption", nonce, Hash.length)."""

    ticket: bytes
    psk: bytes
    cipher_suite: int
    lifetime: int  # seconds
    age_add: int
    nonce: bytes
    received_at: float  # the client's clock, Unix seconds
    max_early_data_size: int = 0
    server_name: str | None = None
    alpn: str | None = None

    def age_ms(self, now: float) -> int:
        return max(0, int(round((now - self.received_at) * 1000)))

    def obfuscated_age(self, now: float, offset_ms: int = 0) -> int:
        """(ticket age in ms + ticket_age_add) mod 2^32 (RFC 8446 §4.2.11.1)."""
        return (self.age_ms(now) + offset_ms + self.age_add) % (1 << 32)

    def expired(self, now: float) -> bool:
        return now - self.received_at > self.lifetime


@dataclass
class ServerSession:
    """What a server keeps for a ticket it issued."""

    psk: bytes
    cipher_suite: int
    created_at: float
    lifetime: int
    age_add: int
    max_early_data_size: int = 0
    alpn: str | None = None
    peer_chain: list[bytes] = field(default_factory=list)
    verified: bool = False  # the client's chain was verified when the session was made
    # What the PSK was derived from: HKDF-Expand-Label(resumption_secret, "resumption", nonce).
    resumption_secret: bytes = b""
    nonce: bytes = b""

    def expired(self, now: float) -> bool:
        return now - self.created_at > min(self.lifetime, MAX_TICKET_LIFETIME)

    def ticket_age_ms(self, obfuscated_age: int) -> int:
        return (obfuscated_age - self.age_add) % (1 << 32)


@dataclass
class ClientSession12:
    """A TLS 1.2 session a client may resume: by its RFC 5077 `ticket` (sent in
    the SessionTicket extension with a fresh random session ID), or, without a
    ticket, by the `session_id` the server gave it."""

    master_secret: bytes
    cipher_suite: int
    extended_master_secret: bool
    received_at: float  # the client's clock, Unix seconds
    ticket: bytes = b""
    session_id: bytes = b""
    lifetime_hint: int = 0  # seconds; Go ignores it, and so does this client
    peer_chain: list[bytes] = field(default_factory=list)  # DER, leaf first
    verified: bool = False
    group: int | None = None  # the full handshake's ECDHE group (Go 1.25+ restores CurveID)
    server_name: str | None = None
    alpn: str | None = None
    version: int = 0x0303

    @property
    def label(self) -> bytes:
        """What identifies the session on the wire: the ticket, else the session ID."""
        return self.ticket or self.session_id


@dataclass
class ServerSession12:
    """What a server keeps for a TLS 1.2 session, under a ticket or a session ID."""

    master_secret: bytes
    cipher_suite: int
    extended_master_secret: bool
    created_at: float
    peer_chain: list[bytes] = field(default_factory=list)
    verified: bool = False
    group: int | None = None
    alpn: str | None = None
    version: int = 0x0303
    # Send a new ticket when this session is resumed (and the client asks for
    # tickets). Go 1.19/1.20 renew only a ticket sealed with an older key.
    renew: bool = True

    def expired(self, now: float) -> bool:
        return now - self.created_at > MAX_SESSION_AGE_TLS12


AnySession = ServerSession | ServerSession12


class Tickets(Protocol):
    """How a server makes tickets and reads them back.

    `issue` gets the session a ticket stands for and `label`: random bytes the
    engine drew, as the misbehaviour knobs left them (padded, emptied). A
    server-side store keys the session by that label and sends it; a sealer may
    ignore it and send the session sealed. `open` returns the session a ticket
    stands for at `now`, or None (unknown, unreadable or expired): the engine then
    makes its own resumption checks. With `counts_nonces` false every TLS 1.3
    ticket has an empty ticket_nonce (as Go's), so that the PSK follows from the
    resumption secret alone."""

    counts_nonces: bool

    def issue(self, session: AnySession, label: bytes) -> bytes: ...

    def open(self, ticket: bytes, now: float) -> AnySession | None: ...


class TicketStore:
    """The sessions of one server configuration, by ticket label (or, for a
    TLS 1.2 session-ID cache, by session ID). TLS 1.3 and TLS 1.2 sessions may
    share a store; each engine takes only its own kind. The default `Tickets`."""

    counts_nonces = True

    def __init__(self) -> None:
        self._sessions: dict[bytes, ServerSession | ServerSession12] = {}

    def issue(self, session: AnySession, label: bytes) -> bytes:
        self.add(label, session)
        return label

    def open(self, ticket: bytes, now: float) -> AnySession | None:
        return self.get(ticket, now)

    def add(self, ticket: bytes, session: ServerSession | ServerSession12) -> None:
        self._sessions[bytes(ticket)] = session

    def get(self, ticket: bytes, now: float) -> ServerSession | ServerSession12 | None:
        session = self._sessions.get(bytes(ticket))
        if session is None or session.expired(now):
            return None
        return session

    def __len__(self) -> int:
        return len(self._sessions)
