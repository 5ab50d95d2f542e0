"""tlspeer: a sans-IO TLS 1.3 and 1.2 implementation built only on `cryptography`.

The first pieces are the observation side: cipher suite table (`suites`), key
schedules (`keyschedule`), record protection (`record`), NSS key logs (`keylog`),
handshake message framing (`handshake`) and the wire decoder the harness calls
(`wire.decode_connection`).
"""
from __future__ import annotations
