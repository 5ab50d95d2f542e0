"""tlspeer: a sans-IO TLS 1.3 and TLS 1.2 implementation built only on
`cryptography`.

Observation: cipher suite table (`suites`), key schedules (`keyschedule`), record
protection (`record`), NSS key logs (`keylog`), handshake framing and summaries
(`handshake`) and the wire decoder the harness calls (`wire.decode_connection`).

Protocol: typed messages and extensions (`messages`, `extensions`, over `codec`,
failing with `errors`), key exchange groups (`groups`), signature schemes
(`sigschemes`), certificates (`certs`), tickets (`session`), the engines
(`engine`, `client.ClientEngine`, `server.ServerEngine`, reporting `events`; their
TLS 1.2 halves `client12`, `server12` over `tls12` and `messages12`), the
hooks and misbehaviours that bend them (`hooks`, `misbehave`), and a blocking
socket driver (`driver`).
"""
from __future__ import annotations
