"""What the sans-IO engines report from `receive_data`."""
from __future__ import annotations

from dataclasses import dataclass, field

from .session import ClientSession12, ClientTicket


@dataclass
class ConnectionInfo:
    """The negotiated parameters, as both ends see them once the handshake is done."""

    role: str
    version: int
    cipher_suite: int
    group: int | None  # None when a PSK was used without (EC)DHE (psk_ke)
    resumed: bool
    hello_retry_request: bool
    alpn: str | None
    server_name: str | None
    peer_chain: list[bytes] = field(default_factory=list)  # DER, leaf first
    verified: bool = False  # the peer chain was verified (not merely received)
    signature_scheme: int | None = None  # the peer's CertificateVerify scheme
    selected_identity: int | None = None
    early_data_offered: bool = False
    early_data_accepted: bool = False
    client_random: bytes = b""
    session_id: bytes = b""
    # TLS 1.2 only: RFC 7627 was used (fresh, or restored from the session), and
    # tls-unique (RFC 5929): the first Finished's verify_data, empty on a
    # resumption without extended master secret, as Go's ConnectionState.
    extended_master_secret: bool = False
    tls_unique: bytes = b""
    client_certificate_sent: bool = False  # a client's non-empty Certificate message


@dataclass
class HandshakeComplete:
    info: ConnectionInfo


@dataclass
class ApplicationData:
    data: bytes
    early: bool = False  # 0-RTT data a server accepted


@dataclass
class NewTicket:
    """A client received a NewSessionTicket it may resume with."""

    ticket: ClientTicket


@dataclass
class NewSession12:
    """A TLS 1.2 client's handshake left a session it may resume: the server sent
    a NewSessionTicket, or gave a new session ID on a full handshake. Reported
    with HandshakeComplete, since the session is only good once the server's
    Finished is checked."""

    session: ClientSession12
    ticket_received: bool  # a NewSessionTicket (as opposed to a session ID only)


@dataclass
class KeyUpdateReceived:
    update_requested: bool


@dataclass
class ConnectionClosed:
    """The peer sent close_notify."""


Event = (HandshakeComplete | ApplicationData | NewTicket | NewSession12 | KeyUpdateReceived
         | ConnectionClosed)
