"""tlspeer: a sans-IO TLS 1.3 and TLS 1.2 implementation built only on
`cryptography`, that can break the protocol on purpose.

The public API, importable from `tlspeer` itself:

- Engines (sans-IO: bytes in, bytes and events out): `ClientEngine(ClientConfig)`,
  `ServerEngine(ServerConfig)`; a server keeps tickets in a `TicketStore`, a client
  resumes from `ClientTicket` (TLS 1.3) or `ClientSession12`.
- `TLSConnection`, `connect()`, `accept()`: a socket driver over an engine; each of its
  operations is also steps (`handshake_steps()`, ...: a generator yielding a `Wait`)
  that an event loop can run for many connections on one thread.
- `Credential`: a certificate chain and its private key.
- `Misbehaviour`: the named knobs that bend an engine (`misbehave.py` documents each).
- Events an engine reports: `HandshakeComplete`, `ApplicationData`, `NewTicket`,
  `NewSession12`, `KeyUpdateReceived`, `ConnectionClosed`; `ConnectionInfo` is what a
  finished handshake negotiated.
- `TLSError`: every protocol failure, carrying the alert it maps to (`errors.py`).
- `decode_connection(client_to_server, server_to_client, keylog)`: decrypt a recorded
  connection with its NSS key log into records, handshake messages and alerts.

Below that, one module per layer: `codec`, `messages`/`extensions`/`messages12`,
`record`, `keyschedule`, `keylog`, `suites`, `groups`, `sigschemes`, `rsakex`, `certs`,
`handshake`, `engine`, `client`/`server` (TLS 1.3) over `client12`/`server12`
(TLS 1.2), `hooks`, `misbehave`, `driver`, `wire`; `hpke` and `ech` (Encrypted Client
Hello: RFC 9180 base mode, ECHConfigList, the inner hello and its outer extensions).
tlspeer imports nothing of tlsdiff.
"""
from __future__ import annotations

import importlib
from typing import Any

# Where each public name lives. Loaded on first use (PEP 562), so that a user of
# one layer (the harness decodes recorded wire bytes) does not pay for the engines.
_EXPORTS = {
    "Credential": "certs", "ClientConfig": "client", "ClientEngine": "client",
    "TLSConnection": "driver", "accept": "driver", "connect": "driver", "TLSError": "errors",
    "ApplicationData": "events", "ConnectionClosed": "events", "ConnectionInfo": "events",
    "HandshakeComplete": "events", "KeyUpdateReceived": "events", "NewSession12": "events",
    "NewTicket": "events", "Misbehaviour": "misbehave", "ServerConfig": "server", "ServerEngine": "server",
    "ClientSession12": "session", "ClientTicket": "session", "TicketStore": "session",
    "decode_connection": "wire",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tlspeer' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
