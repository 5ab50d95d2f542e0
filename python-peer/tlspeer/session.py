"""Resumption state: the tickets a client keeps and the sessions a server remembers.

The server is stateful: a ticket is an opaque label drawn from the endpoint's
`rand` and looked up in a `TicketStore` shared by the connections of one server
configuration. That keeps every ticket byte reproducible (RFC 8448's ticket is
just bytes) and lets a misbehaviour send any label, of any size, that still
resumes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_TICKET_LIFETIME = 604800  # seven days (RFC 8446 §4.6.1)


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

    def expired(self, now: float) -> bool:
        return now - self.created_at > min(self.lifetime, MAX_TICKET_LIFETIME)

    def ticket_age_ms(self, obfuscated_age: int) -> int:
        return (obfuscated_age - self.age_add) % (1 << 32)


class TicketStore:
    """The sessions of one server configuration, by ticket label."""

    def __init__(self) -> None:
        self._sessions: dict[bytes, ServerSession] = {}

    def add(self, ticket: bytes, session: ServerSession) -> None:
        self._sessions[bytes(ticket)] = session

    def get(self, ticket: bytes, now: float) -> ServerSession | None:
        session = self._sessions.get(bytes(ticket))
        if session is None or session.expired(now):
            return None
        return session

    def __len__(self) -> int:
        return len(self._sessions)
