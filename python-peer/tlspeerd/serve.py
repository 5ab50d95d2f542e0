"""tlspeer as a tlsdiff peer: `python -m tlspeerd`.

Speaks the control protocol of go-peer/PROTOCOL.md on stdin/stdout, so the harness
runs the Python TLS implementation exactly as it runs a Go release: same requests,
same observation schema. Each request runs on a thread of its own, but the
connections of accept and connect all run on one loop thread (loop.py): a server
accepts while a client connects. All traffic is TCP on 127.0.0.1.

What a Go peer does that tlspeer does not (yet) is answered `unsupported` with the
reason: TLS 1.0/1.1, RC4, Config.Clone, session export. Versions
default to Go's: TLS 1.2 to TLS 1.3. A server given ticket keys seals and opens Go's
tickets in the layout of the config's `release_line` (gotickets.py); without keys
its tickets are server-side sessions.
"""
from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import queue
import socket
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Callable

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlspeer import groups, tls12
from tlspeer.certs import Credential
from tlspeer.client import DEFAULT_SUITES, ClientConfig, ClientEngine
from tlspeer.driver import Steps, TLSConnection, UnexpectedEOF, accept_socket, connect_socket, run_blocking
from tlspeer.errors import TLSError
from tlspeer.eventloop import handled
from tlspeer.events import NewSession12, NewTicket
from tlspeer.misbehave import Misbehaviour
from tlspeer.server import ServerConfig, ServerEngine
from tlspeer.session import ClientSession12, ClientTicket, TicketStore
from tlspeer.suites import SUITE_BY_ID, SUITE_BY_NAME
from tlsdiff.memory import trim_periodically
from tlsdiff.peers.protocol import encode_line  # the line format both ends write
from tlsdiff.observe.fields import STATE_FIELDS  # the harness's list: _state renders each

from . import loop
from .gotickets import GoTickets

PING, PONG = b"tlsdiff-ping", b"tlsdiff-pong"
EKM_LABEL = "EXPORTER-tlsdiff"
PROTOCOL_VERSION = 2  # go-peer/PROTOCOL.md, "Versions"


class Unsupported(Exception):
    """The request asks for something tlspeer does not do; the text says what."""


class SeededRand:
    """SHA-256(seed || u64 counter) blocks: the same stream the Go peer uses."""

    def __init__(self, seed: str) -> None:
        self.seed, self.counter, self.buf = seed.encode(), 0, b""
        self.lock = threading.Lock()

    def __call__(self, n: int) -> bytes:
        with self.lock:
            while len(self.buf) < n:
                self.buf += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
                self.counter += 1
            out, self.buf = self.buf[:n], self.buf[n:]
            return out


Session = ClientTicket | ClientSession12


def _label(t: Session) -> str:
    """The SHA-256 the ops log shows: of the ticket, or of a TLS 1.2 session ID
    when the session has no ticket."""
    return hashlib.sha256(t.label if isinstance(t, ClientSession12) else t.ticket).hexdigest()


@dataclass
class TicketCache:
    """A client session cache with Go's rules and a log of every call, in order.
    An entry is a TLS 1.3 ticket or a TLS 1.2 session, one per key."""

    entries: dict[str, Session] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)

    def get(self, key: str) -> Session | None:
        t = self.entries.get(key)
        op: dict[str, Any] = {"op": "get", "key": key, "hit": t is not None}
        if t is not None:
            op["ticket"] = _label(t)
        self.ops.append(op)
        return t

    def put(self, key: str, t: Session) -> None:
        self.entries[key] = t
        self.ops.append({"op": "put", "key": key, "ticket": _label(t)})

    def delete(self, key: str) -> None:
        self.entries.pop(key, None)
        self.ops.append({"op": "delete", "key": key})

    def take_ops(self) -> list[dict[str, Any]]:
        ops, self.ops = self.ops, []
        return ops


@dataclass
class Endpoint:
    name: str
    role: str
    config: ClientConfig | ServerConfig
    rand: Callable[[int], bytes]
    server_name: str = ""
    cache: TicketCache | None = None
    local_chain: list[bytes] = field(default_factory=list)
    roots: list[x509.Certificate] = field(default_factory=list)
    now: float = 0.0
    keylog: list[str] = field(default_factory=list)
    release_line: str = ""  # a server's: whose Go ticket layout ticket keys give
    misbehaviour: Misbehaviour = field(default_factory=Misbehaviour)  # as the case gave it


@lru_cache(maxsize=64)
def _credential(cert_pem: str, key_pem: str) -> Credential:
    # Every case run configures its endpoints anew with the same few certificates, so
    # each is loaded once. A Credential is not changed after it is made. The keys are
    # the harness's (pki.py), which are not checked there either: the check of an RSA
    # key cost this process 50 ms a key at every start.
    return Credential.from_pem(cert_pem, key_pem, check_key=False)


def _pem_certs(pems: list[str]) -> list[x509.Certificate]:
    return list(_parsed_pems(tuple(pems)))


@lru_cache(maxsize=64)
def _parsed_pems(pems: tuple[str, ...]) -> tuple[x509.Certificate, ...]:
    # The same few roots come with every configure; certificates are immutable.
    return tuple(c for pem in pems for c in x509.load_pem_x509_certificates(pem.encode()))


def _versions(c: dict[str, Any]) -> dict[str, int]:
    """min/max_version as engine config; Go's defaults are TLS 1.2 to TLS 1.3."""
    out = {}
    for key, default in (("min_version", "1.2"), ("max_version", "1.3")):
        v = c.get(key) or default
        if v in ("1.0", "1.1"):
            raise Unsupported(f"{key} {v}: tlspeer speaks TLS 1.2 and 1.3 only")
        out[key] = tls12.version_id(v)
    if out["min_version"] > out["max_version"]:
        raise ValueError("min_version is above max_version")
    return out


def _cipher_suites(names: list[str] | None) -> tuple[str, ...]:
    """As Go's Config.CipherSuites: the list sets the TLS 1.2 suites only; the
    TLS 1.3 suites are not configurable."""
    if not names:
        return DEFAULT_SUITES + tls12.DEFAULT_SUITES_TLS12
    for name in names:
        if name not in SUITE_BY_NAME:
            raise Unsupported(f"cipher suite {name} is unknown to tlspeer")
    return DEFAULT_SUITES + tuple(n for n in names if not SUITE_BY_NAME[n].tls13)


def _misbehaviour(knobs: dict[str, Any]) -> Misbehaviour:
    try:
        return Misbehaviour(**knobs)
    except TypeError as exc:
        raise ValueError(f"misbehave: {exc}") from None


def _ticket_keys(c: dict[str, Any]) -> list[bytes] | None:
    """The Go ticket keys of a server config: `ticket_keys` (SetSessionTicketKeys) wins
    over `session_ticket_key`, as in Go; None without either."""
    if "ticket_keys" in c:
        return [_key(k, "ticket_keys") for k in c["ticket_keys"]]
    if "session_ticket_key" in c:
        return [_key(c["session_ticket_key"], "session_ticket_key")]
    return None


def _key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except (TypeError, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(f"{where}: want 64 hex digits, got {str(text)[:70]!r}")
    return key


def _go_tickets(ep: Endpoint, keys: list[bytes]) -> tuple[GoTickets, Misbehaviour]:
    """Go tickets for a server endpoint, and the misbehaviour its engines then take: the
    ticket-shape knobs move to the sealer, which pads or empties the sealed ticket itself
    (padding after sealing would break the MAC)."""
    if not ep.release_line:
        raise ValueError("release_line: a server with ticket keys needs the Go release line whose "
                         "ticket layout to use")
    mis = ep.misbehaviour
    try:
        tickets = GoTickets(keys, ep.release_line, ep.rand, roots=ep.config.client_roots,
                            pad_to=mis.huge_ticket, empty=mis.empty_ticket_label)
    except ValueError as exc:
        if mis.huge_ticket is not None:
            raise Unsupported(str(exc)) from None
        raise
    return tickets, dataclasses.replace(mis, huge_ticket=None, empty_ticket_label=False)


class Peer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.endpoints: dict[str, Endpoint] = {}
        self.caches: dict[str, TicketCache] = {}
        self.listeners: dict[str, tuple[socket.socket, Endpoint]] = {}

    # -- ops ----------------------------------------------------------------

    def op_hello(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"release": "tlspeer", "protocol": PROTOCOL_VERSION, "connection_state_fields": STATE_FIELDS,
                "apis": {"session_state": False, "encrypt_ticket": False, "wrap_session": False},
                "misbehaviours": sorted(f.name for f in fields(Misbehaviour)),
                "ops": sorted(name[3:] for name in dir(self) if name.startswith("op_"))}

    # batch and pair save round trips (go-peer/PROTOCOL.md): each op inside runs as it
    # would alone and answers with the response it would have sent, without the id.

    def op_batch(self, p: dict[str, Any]) -> dict[str, Any]:
        out = []
        for req in p.get("requests") or []:
            op = req.get("op", "")
            if op in ("batch", "pair"):
                out.append({"error": f"tlspeer: op {op!r} cannot be batched"})
            else:
                out.append(respond(self, op, req.get("params") or {}))
        return {"responses": out}

    def op_pair(self, p: dict[str, Any]) -> dict[str, Any]:
        listen = respond(self, "listen", p.get("listen") or {})
        if not listen.get("ok"):
            return {"listen": listen}
        accepted: dict[str, Any] = {}
        accepting = threading.Thread(target=lambda: accepted.update(respond(self, "accept", p.get("accept") or {})),
                                     daemon=True)
        accepting.start()
        connect = respond(self, "connect", {**(p.get("connect") or {}), "port": listen["result"]["port"]})
        accepting.join()
        return {"listen": listen, "connect": connect, "accept": accepted}

    def op_configure(self, p: dict[str, Any]) -> dict[str, Any]:
        name, role, c = p["name"], p["role"], dict(p.get("config") or {})
        versions = _versions(c)
        suites = _cipher_suites(c.get("cipher_suites"))
        for key in ("config_for_client", "reject_by_callback"):
            if key in c:
                raise Unsupported(f"{key}: Go's tls.Config callbacks; tlspeer has no equivalent")
        if "ech_keys" in c:
            raise Unsupported("ech_keys: tlspeer has no Encrypted Client Hello server")
        rand = SeededRand(c.get("rand_seed") or name)
        misbehaviour = _misbehaviour(c.get("misbehave") or {})
        curves = c.get("curve_preferences")
        if role == "server":
            certs = c.get("certificates") or []
            if not certs:
                raise ValueError("certificates: a server needs one")
            cred = _credential(certs[0]["cert_pem"], certs[0]["key_pem"])
            kwargs: dict[str, Any] = dict(
                certificate=cred, alpn=tuple(c.get("alpn") or ()),
                client_auth=c.get("client_auth") or "NoClientCert",
                client_roots=tuple(_pem_certs(c.get("client_cas") or [])),
                ticket_store=None if c.get("session_tickets_disabled") else TicketStore(),
                misbehaviour=misbehaviour, cipher_suites=suites, **versions)
            if curves:
                kwargs["groups"] = tuple(curves)
            ep = Endpoint(name, role, ServerConfig(**kwargs), rand, local_chain=list(cred.chain),
                          release_line=str(c.get("release_line") or ""), misbehaviour=misbehaviour)
            keys = _ticket_keys(c)
            if keys is not None:
                tickets, ep.config.misbehaviour = _go_tickets(ep, keys)
                if ep.config.ticket_store is not None:
                    ep.config.ticket_store = tickets
        elif role == "client":
            roots = _pem_certs(c.get("root_cas") or [])
            cred = None
            if c.get("certificates"):
                cred = _credential(c["certificates"][0]["cert_pem"], c["certificates"][0]["key_pem"])
            cache = None
            if c.get("cache") and not c.get("session_tickets_disabled"):
                with self.lock:
                    cache = self.caches.setdefault(c["cache"], TicketCache())
            kwargs = dict(server_name=c.get("server_name") or None, roots=tuple(roots),
                          insecure_skip_verify=bool(c.get("insecure_skip_verify")),
                          alpn=tuple(c.get("alpn") or ()), certificate=cred, misbehaviour=misbehaviour,
                          cipher_suites=suites, **versions)
            if cache is None:
                # As Go: no cache, no psk_key_exchange_modes and no SessionTicket extension.
                kwargs["psk_modes"] = ()
                kwargs["session_ticket_extension"] = False
            if curves:
                kwargs["groups"] = tuple(curves)
            if c.get("key_shares") is not None:  # [] is an empty key_share
                kwargs["key_share_groups"] = tuple(c["key_shares"])
            if "ech_config_list" in c:
                kwargs["ech_config_list"] = base64.b64decode(c["ech_config_list"])
            ep = Endpoint(name, role, ClientConfig(**kwargs), rand, server_name=c.get("server_name") or "",
                          cache=cache, local_chain=list(cred.chain) if cred else [], roots=roots,
                          misbehaviour=misbehaviour)
        else:
            raise ValueError(f"role: want server or client, got {role!r}")
        with self.lock:
            self.endpoints[name] = ep
        return {"name": name}

    def op_listen(self, p: dict[str, Any]) -> dict[str, Any]:
        ep = self._endpoint(p["endpoint"], "server")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        with self.lock:
            self.listeners[p["name"]] = (sock, ep)
        return {"port": sock.getsockname()[1]}

    def op_accept(self, p: dict[str, Any]) -> dict[str, Any]:
        return run_blocking(self.accept_steps(p))

    def accept_steps(self, p: dict[str, Any]) -> Steps:
        """accept as steps: on the connection loop (main), or run here by op_accept."""
        with self.lock:
            sock, ep = self.listeners.pop(p["listener"])
        timeout = p.get("timeout_ms", 5000) / 1000
        try:
            conn_sock = yield from accept_socket(sock, time.monotonic() + timeout)
        finally:
            sock.close()
        _no_delay(conn_sock)
        ep.now, ep.keylog = float(p["time"]), []
        engine = ServerEngine(ep.config, rand=ep.rand, now=lambda: ep.now, keylog=ep.keylog.append)
        _post_handshake(engine, ep)
        conn = TLSConnection(conn_sock, engine, timeout)
        obs = _Observation(p["conn_id"], "server", conn_sock)
        try:
            yield from conn.handshake_steps()
            obs.received = (yield from conn.recv_steps(len(PING))).decode(errors="replace")
            yield from conn.send_steps(PONG)
            yield from conn.wait_closed_steps()
        except (TLSError, OSError, UnexpectedEOF) as exc:
            handled(exc)  # the engine keeps it as its error: a traceback would make a cycle
            # Data that came in the same read as the failure was still received.
            obs.received += conn.take_data().decode(errors="replace")
            obs.fail(conn, exc)
        yield from obs.close(conn)
        return obs.result(conn, ep, None)

    def op_connect(self, p: dict[str, Any]) -> dict[str, Any]:
        return run_blocking(self.connect_steps(p))

    def connect_steps(self, p: dict[str, Any]) -> Steps:
        """connect as steps: on the connection loop (main), or run here by op_connect."""
        ep = self._endpoint(p["endpoint"], "client")
        timeout = p.get("timeout_ms", 5000) / 1000
        ep.now, ep.keylog = float(p["time"]), []
        key = ep.server_name or f"127.0.0.1:{p['port']}"
        cache = ep.cache
        if cache is not None:
            cache.take_ops()
        offered, session12 = self._load_session(cache, key, ep.now, ep.config)
        sock = yield from connect_socket("127.0.0.1", p["port"], time.monotonic() + timeout)
        _no_delay(sock)
        engine = ClientEngine(ep.config, tickets=offered, session12=session12, rand=ep.rand,
                              now=lambda: ep.now, keylog=ep.keylog.append)
        _post_handshake(engine, ep)
        conn = TLSConnection(sock, engine, timeout)
        obs = _Observation(p["conn_id"], "client", sock)
        try:
            yield from conn.handshake_steps()
            yield from conn.send_steps(PING)
            obs.received = (yield from conn.recv_steps(len(PONG))).decode(errors="replace")
        except (TLSError, OSError, UnexpectedEOF) as exc:
            handled(exc)
            obs.received += conn.take_data().decode(errors="replace")
            obs.fail(conn, exc)
            if (offered or session12) and obs.handshake_error is not None and cache is not None:
                cache.delete(key)  # as Go: drop a session after a failed resumption
        if cache is not None:
            for ev in conn.events:
                if isinstance(ev, NewTicket) and ev.ticket.lifetime > 0:
                    cache.put(key, ev.ticket)
                elif isinstance(ev, NewSession12):
                    # Go puts a TLS 1.2 session when the server sent a ticket; a
                    # session with only a session ID (which Go servers never give)
                    # is put too, so that it can be resumed by that ID.
                    cache.put(key, ev.session)
        yield from obs.close(conn)
        return obs.result(conn, ep, cache)

    @staticmethod
    def _load_session(cache: TicketCache | None, key: str, now: float,
                      cfg: ClientConfig) -> tuple[list[ClientTicket], ClientSession12 | None]:
        """Go's loadSession: one Get; an expired ticket (or, for TLS 1.2, an
        expired server leaf) is deleted; a session the hello cannot use is
        ignored and stays."""
        if cache is None:
            return [], None
        t = cache.get(key)
        if t is None:
            return [], None
        if isinstance(t, ClientTicket):
            if t.expired(now):
                cache.delete(key)
                return [], None
            return [t], None
        if t.version not in cfg.versions:
            return [], None
        if t.peer_chain and now > x509.load_der_x509_certificate(
                t.peer_chain[0]).not_valid_after_utc.timestamp():
            cache.delete(key)
            return [], None
        if not cfg.insecure_skip_verify and not t.verified:
            return [], None
        if t.cipher_suite not in cfg.suite_ids:
            return [], None
        return [], t

    def op_cache_dump(self, p: dict[str, Any]) -> dict[str, Any]:
        cache = self.caches.get(p["cache"])
        if cache is None:
            raise ValueError(f"no cache named {p['cache']!r}")
        return {"entries": [{"key": k, "ticket": _label(t)} for k, t in sorted(cache.entries.items())]}

    def op_drop(self, p: dict[str, Any]) -> dict[str, Any]:
        prefix = p["prefix"]
        n = 0
        with self.lock:
            for table in (self.endpoints, self.caches, self.listeners):
                for name in [k for k in table if k.startswith(prefix)]:
                    item = table.pop(name)
                    if isinstance(item, tuple):
                        item[0].close()
                    n += 1
        return {"dropped": n}

    def op_clone(self, p: dict[str, Any]) -> dict[str, Any]:
        raise Unsupported("Config.Clone is Go's; tlspeer has no equivalent")

    def op_forget_session(self, p: dict[str, Any]) -> dict[str, Any]:
        cache = self.caches.get(p["cache"])
        if cache is None:
            raise ValueError(f"no cache named {p['cache']!r}")
        cache.delete(p["key"])
        return {"key": p["key"]}

    def op_set_ticket_keys(self, p: dict[str, Any]) -> dict[str, Any]:
        """SetSessionTicketKeys: Go tickets under these keys from the next connection on
        (a server that had server-side sessions forgets them, as Go forgets its automatic keys)."""
        ep = self._endpoint(p["name"], "server")
        keys = [_key(k, "keys") for k in p.get("keys") or []]
        if not keys:
            raise ValueError("keys: SetSessionTicketKeys needs at least one key")
        store = ep.config.ticket_store
        if isinstance(store, GoTickets):
            store.set_keys(keys)
        elif store is not None:
            ep.config.ticket_store, ep.config.misbehaviour = _go_tickets(ep, keys)
        return {"name": p["name"]}

    def op_session(self, p: dict[str, Any]) -> dict[str, Any]:
        raise Unsupported("the session APIs are Go's (SessionState, ParseSessionState)")

    def _endpoint(self, name: str, role: str) -> Endpoint:
        with self.lock:
            ep = self.endpoints.get(name)
        if ep is None or ep.role != role:
            raise ValueError(f"no {role} endpoint named {name!r}")
        return ep


class _Observation:
    """One side of one connection, in the Go peer's observation schema."""

    def __init__(self, conn_id: str, role: str, sock: socket.socket) -> None:
        self.conn_id, self.role = conn_id, role
        # The ports, so a capture made from the recording shows the connection as it was
        # (optional: a socket the peer already reset has no peer name).
        self.ports: dict[str, int] = {}
        try:
            self.ports = {"local_port": sock.getsockname()[1], "remote_port": sock.getpeername()[1]}
        except OSError:
            pass
        self.handshake_error: str | None = None
        self.io_error: str | None = None
        self.received = ""

    def fail(self, conn: TLSConnection, exc: BaseException) -> None:
        text = str(exc) if not isinstance(exc, (socket.timeout, TimeoutError)) else "i/o timeout"
        if not conn.engine.handshake_complete:
            self.handshake_error = text or type(exc).__name__
        else:
            self.io_error = text or type(exc).__name__

    def close(self, conn: TLSConnection) -> Steps:
        """As the Go peer: close_notify when all went well; after an error, half-close
        and record everything the peer still sends until it hangs up."""
        if self.handshake_error is None and self.io_error is None:
            yield from conn.close_steps()
        else:
            yield from conn.close_after_failure_steps()

    def result(self, conn: TLSConnection, ep: Endpoint, cache: TicketCache | None) -> dict[str, Any]:
        out = {
            "conn_id": self.conn_id, "role": self.role,
            "handshake_error": self.handshake_error, "io_error": self.io_error,
            "received": self.received, "state": _state(conn, ep),
            "written": base64.b64encode(bytes(conn.written)).decode(),
            "read": base64.b64encode(bytes(conn.read)).decode(),
            "keylog": "".join(ep.keylog),
            "cache_ops": cache.take_ops() if cache is not None else [],
            **self.ports,
        }
        retry = getattr(conn.engine, "ech_retry_configs", None)
        if retry is not None:  # as the Go peer: the RetryConfigList of the rejection error
            out["ech_retry_configs"] = base64.b64encode(retry).decode()
        return out


def _post_handshake(engine: Any, ep: Endpoint) -> None:
    """The post_handshake misbehaviour: messages right after the handshake, before the
    application data. Queued by the engine as soon as the handshake completes: a peer
    that alerts right after its Finished (a Go client that never asked for the ticket
    the server announced) sends the alert in the same segment, and whether the messages
    went out depended on whether the alert came in the same read."""
    ph = ep.misbehaviour.post_handshake
    if ph:
        engine.after_handshake = lambda: engine.send_post_handshake(ph["messages"], ph.get("records") == "together")


def _no_delay(sock: socket.socket) -> None:
    # As Go's net package does: without it, Nagle's algorithm holds a small
    # record back until the peer's delayed ACK, tens of milliseconds a flight.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _fp(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


_VERSION_NAMES = {tls12.TLS12: "TLS 1.2", tls12.TLS13: "TLS 1.3"}


def _state(conn: TLSConnection, ep: Endpoint) -> dict[str, Any]:
    engine = conn.engine
    info = engine.info
    done = engine.handshake_complete and info is not None
    # As Go's ConnectionState: the version and suite once the hellos settled them, also
    # when the handshake failed after that.
    version = info.version if done else engine.version
    suite = SUITE_BY_ID[info.cipher_suite] if done else engine.suite
    state: dict[str, Any] = {
        "Version": _VERSION_NAMES.get(version, "0x0000") if version else "0x0000",
        "HandshakeComplete": bool(done),
        "DidResume": bool(done and info.resumed),
        "CipherSuite": suite.name if suite is not None else "",
        "NegotiatedProtocol": (info.alpn or "") if done else "", "NegotiatedProtocolIsMutual": True,
        "ServerName": (info.server_name or "") if done else "",
        "PeerCertificates": [_fp(c) for c in info.peer_chain] if done else [],
        "VerifiedChains": _verified_chains(info, ep) if done else [],
        "SignedCertificateTimestamps": [], "OCSPResponse": "",
        "TLSUnique": info.tls_unique.hex() if done else "", "ECHAccepted": bool(done and getattr(conn.engine, "ech_accepted", False)),
        "CurveID": groups.GROUP_NAMES.get(info.group, "") if done and info.group else "",
        "HelloRetryRequest": bool(done and info.hello_retry_request),
        "LocalCertificate": _local_certificate(info, ep) if done else None,
    }
    if not done:
        state["ExportKeyingMaterial"] = {"error": "handshake not complete"}
    else:
        try:
            ekm = conn.engine.export_keying_material(EKM_LABEL, None, 32)
            state["ExportKeyingMaterial"] = {"value": ekm.hex()}
        except TLSError as exc:  # TLS 1.2 without extended master secret
            state["ExportKeyingMaterial"] = {"error": str(exc)}
    return state


def _verified_chains(info: Any, ep: Endpoint) -> list[list[str]]:
    """Like Go: the peer's chain up to and including the trusted root."""
    if not info.verified or not info.peer_chain:
        return []
    chain = [_fp(c) for c in info.peer_chain]
    issuer = _issuer(info.peer_chain[-1])
    roots = ep.roots or list(getattr(ep.config, "client_roots", ()))
    for root in roots:
        if root.subject == issuer:
            chain.append(_cert_fp(root))
            break
    return [chain]


# A run meets the same few certificates thousands of times: each is read once.
@lru_cache(maxsize=256)
def _issuer(der: bytes) -> x509.Name:
    return x509.load_der_x509_certificate(der).issuer


@lru_cache(maxsize=256)
def _cert_fp(cert: x509.Certificate) -> str:
    return _fp(cert.public_bytes(serialization.Encoding.DER))


def _local_certificate(info: Any, ep: Endpoint) -> list[str] | None:
    """What this side presented in its Certificate message (Go 1.27's field)."""
    if info.resumed or not ep.local_chain:
        return None
    if ep.role == "client" and not info.client_certificate_sent:
        return None
    return [_fp(c) for c in ep.local_chain]


def respond(peer: Peer, op: str, params: dict[str, Any]) -> dict[str, Any]:
    """One request's response, without its id."""
    handler = getattr(peer, f"op_{op}", None)
    if handler is None:
        return {"error": f"tlspeer: unknown op {op!r}"}
    try:
        return response(op, handler(params), None)
    except Exception as exc:
        return response(op, None, exc)


def response(op: str, result: Any, error: BaseException | None) -> dict[str, Any]:
    """An op's result or failure as the protocol answers it (without the id)."""
    if error is None:
        return {"ok": True, "result": result}
    if isinstance(error, Unsupported):
        return {"unsupported": str(error)}
    # a bad request; the peer carries on
    return {"error": f"tlspeer: {op}: {type(error).__name__}: {error}"}


#: Ops whose connection runs on the loop thread (loop.py) when they come alone.
LOOP_OPS = ("accept", "connect")
#: Ops that never wait (no connection, no socket read): answered on the thread that
#: reads the requests. Handing each to a worker thread cost more than most of them
#: (a thread woken, the GIL passed twice).
QUICK_OPS = frozenset({"hello", "configure", "listen", "drop", "cache_dump", "clone",
                       "forget_session", "set_ticket_keys", "session"})


def _quick(req: dict[str, Any]) -> bool:
    """Whether a request never waits: a quick op, or a batch of quick ops only."""
    op, params = req.get("op"), req.get("params")
    if op == "batch":
        requests = params.get("requests") if isinstance(params, dict) else None
        return isinstance(requests, list) and all(isinstance(r, dict) and r.get("op") in QUICK_OPS
                                                  for r in requests)
    return op in QUICK_OPS


#: Allocations between young garbage collections. A handshake allocates thousands of
#: short-lived objects that reference counting frees; collecting every 700 (Python's
#: default) walked the live ones again and again for nothing.
YOUNG_COLLECTION = 50_000


def main() -> None:
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], YOUNG_COLLECTION), *threshold[1:])
    trim_periodically()  # it serves a fuzz campaign for an hour (tlsdiff/memory.py)
    peer = Peer()
    out_lock = threading.Lock()
    out = sys.stdout.buffer

    def reply(msg: dict[str, Any]) -> None:
        line = encode_line(msg) + b"\n"
        with out_lock:
            out.write(line)
            out.flush()

    def run(req: dict[str, Any]) -> None:
        reply({"id": req.get("id", -1), **respond(peer, req.get("op", ""), req.get("params") or {})})

    def on_loop(req: dict[str, Any]) -> None:
        rid, op = req.get("id", -1), req["op"]
        steps = getattr(peer, f"{op}_steps")(req.get("params") or {})
        connections.submit(steps, lambda result, error: reply({"id": rid, **response(op, result, error)}))

    workers, connections = _Workers(run), loop.Loop()
    for raw in sys.stdin.buffer:
        try:
            req = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            reply({"id": -1, "error": f"tlspeer: malformed request: {exc}"})
            continue
        if not isinstance(req, dict):
            reply({"id": -1, "error": f"tlspeer: malformed request: a JSON {type(req).__name__}, not an object"})
            continue
        if req.get("op") == "shutdown":
            break
        if req.get("op") in LOOP_OPS:
            on_loop(req)
        elif _quick(req):
            run(req)
        else:
            workers.submit(req)
    workers.close(timeout=10)
    connections.close(timeout=10)


class _Workers:
    """Threads that serve requests, kept for the next one: starting a thread for every
    request cost more CPU than a small request itself. A request never waits for
    another (an accept may block for seconds), so a thread is added whenever none is
    idle; there are never more than the most requests ever in flight at once, however
    long the peer runs. (concurrent.futures' pool reuses threads too, but joins them at
    exit with no time limit: a peer told to shut down must end within its timeout.)"""

    def __init__(self, serve: Callable[[dict[str, Any]], None]) -> None:
        self._serve = serve
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, req: dict[str, Any]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                t = threading.Thread(target=self._work, name="worker", daemon=True)
                self._threads.append(t)
                t.start()
        self._queue.put(req)

    def _work(self) -> None:
        while (req := self._queue.get()) is not None:
            try:
                self._serve(req)
            finally:
                with self._lock:
                    self._idle += 1

    def close(self, timeout: float) -> None:
        """Let the running requests finish (each thread for up to timeout seconds)."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=timeout)

if __name__ == "__main__":
    main()
