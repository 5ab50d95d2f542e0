"""A model of Go's crypto/tls session handling, per Go release.

`session_state`: the `SessionState.Bytes()` encoding and each release's
`ParseSessionState`; `legacy`: the server session layouts of 1.19/1.20; `tickets`: how each release seals and opens a session ticket
under a 32-byte key; `suites`: the TLS 1.2 suites a server enables by default, per release. The harness checks what the model predicts against the real
release; it imports nothing of tlsdiff or tlspeer.
"""
from . import legacy, suites, tickets
from .session_state import (CLIENT, INVALID, NO_SERVER_CERTS, SERVER, TLS13, UNKNOWN, Outcome, Session, SessionEncoding,
                            decode, describe, encode, outcome, parse)

#: The newest Go line whose crypto/tls sources this model was read from and checked
#: against real peers. A later line (a devel build's) is answered as this one, which
#: callers say: its sources may have changed what they model.
READ_THROUGH = "1.27"

__all__ = ["READ_THROUGH", "CLIENT", "INVALID", "NO_SERVER_CERTS", "SERVER", "TLS13", "UNKNOWN", "Session", "SessionEncoding",
           "decode", "describe", "encode", "legacy", "Outcome", "outcome", "parse", "suites", "tickets"]
