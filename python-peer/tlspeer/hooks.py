"""Hooks that let a test or a misbehaviour reach into an engine's output.

Message names passed to the hooks (each engine writes only its own role's):

* client: ``client_hello_1``, ``client_hello_2``, ``end_of_early_data``,
  ``certificate``, ``certificate_verify``, ``finished``, ``key_update``
* server: ``hello_retry_request``, ``hello_retry_request_2``, ``server_hello``,
  ``encrypted_extensions``, ``certificate_request``, ``certificate``,
  ``certificate_verify``, ``finished``, ``new_session_ticket``, ``key_update``

TLS 1.2 adds ``client_key_exchange`` (client) and ``server_key_exchange``,
``server_hello_done`` (server); its ``certificate`` and ``certificate_request``
are `messages12` types, its ``new_session_ticket`` a `NewSessionTicketTLS12`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .messages import ClientHello, Message

CLIENT_MESSAGES = ("client_hello_1", "client_hello_2", "end_of_early_data", "certificate",
                   "certificate_verify", "finished", "key_update", "client_key_exchange",
                   "new_session_ticket")
SERVER_MESSAGES = ("hello_retry_request", "hello_retry_request_2", "server_hello",
                   "encrypted_extensions", "certificate_request", "certificate", "certificate_verify",
                   "server_key_exchange", "server_hello_done", "finished", "new_session_ticket",
                   "key_update")
# Every name a hook may be called with, in handshake order (a client's
# new_session_ticket is one only a post_handshake misbehaviour sends).
MESSAGE_NAMES = ("client_hello_1", "hello_retry_request", "client_hello_2", "hello_retry_request_2",
                 "server_hello", "encrypted_extensions", "certificate_request", "certificate",
                 "server_key_exchange", "certificate_verify", "server_hello_done", "client_key_exchange",
                 "end_of_early_data", "finished", "new_session_ticket", "key_update")

# (name, message) -> the message to send instead. Called before encoding; for a
# ClientHello, before the PSK binders are computed, so binders cover the change.
Mutate = Callable[[str, Message], Message]
# (name, ClientHello with binders) -> ClientHello; called after binders are computed.
AfterBinders = Callable[[str, ClientHello], ClientHello]
# (name, the message's encoding) -> raw bytes put on the wire right after it, in a
# record of their own; or HandshakeBytes, which go into the same record.
AfterMessage = Callable[[str, bytes], bytes]
# (name, the message's encoding) -> what goes on the wire instead, as edits.Piece
# values (each in the sender's transcript when the message would have been).
Wire = Callable[[str, bytes], list]


class HandshakeBytes(bytes):
    """Handshake bytes an after_message hook wants in the same record as the
    message before them (not in the transcript)."""


@dataclass
class Hooks:
    mutate: Mutate | None = None
    after_binders: AfterBinders | None = None
    after_message: AfterMessage | None = None
    wire: Wire | None = None


def compose(*hooks: Hooks | None) -> Hooks:
    """One Hooks that runs each given one in order."""
    present = [h for h in hooks if h is not None]

    def chain(attr: str) -> Callable | None:
        fns = [getattr(h, attr) for h in present if getattr(h, attr) is not None]
        if not fns:
            return None
        if len(fns) == 1:
            return fns[0]

        def run(name: str, value):  # type: ignore[no-untyped-def]
            for fn in fns:
                value = fn(name, value)
            return value
        return run

    wires = [h.wire for h in present if h.wire is not None]
    if len(wires) > 1:
        raise ValueError("tls: only one hook may decide what goes on the wire")
    wire = wires[0] if wires else None
    fns_after = [h.after_message for h in present if h.after_message is not None]
    if len(fns_after) <= 1:  # one hook keeps its own result type (HandshakeBytes)
        return Hooks(chain("mutate"), chain("after_binders"), fns_after[0] if fns_after else None, wire)

    def after(name: str, encoded: bytes) -> bytes:
        return b"".join(fn(name, encoded) for fn in fns_after)

    return Hooks(chain("mutate"), chain("after_binders"), after, wire)
