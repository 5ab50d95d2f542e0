"""A thin blocking socket driver around the sans-IO engines.

Every read has a timeout (the connection's deadline), every byte written and read
is kept (`written`, `read`) so the harness can decode the connection, and every
event is kept in order (`events`).
"""
from __future__ import annotations

import socket
import time
from typing import Sequence

from .client import ClientConfig, ClientEngine
from .engine import Engine, KeyLogWriter, Now, Rand
from .errors import TLSError
from .events import (ApplicationData, ConnectionClosed, ConnectionInfo, Event, HandshakeComplete,
                     NewSession12, NewTicket)
from .hooks import Hooks
from .server import ServerConfig, ServerEngine
from .session import ClientSession12, ClientTicket

_READ_SIZE = 1 << 16


class UnexpectedEOF(ConnectionError):
    """The peer closed the TCP connection without close_notify."""


class TLSConnection:
    """One TLS connection over a connected socket."""

    def __init__(self, sock: socket.socket, engine: Engine, timeout: float = 5.0) -> None:
        self.sock = sock
        self.engine = engine
        self.deadline = time.monotonic() + timeout
        self.written = bytearray()
        self.read = bytearray()
        self.events: list[Event] = []
        self._app = bytearray()
        self.peer_closed = False

    @property
    def info(self) -> ConnectionInfo | None:
        return self.engine.info

    @property
    def tickets(self) -> list[ClientTicket]:
        return [e.ticket for e in self.events if isinstance(e, NewTicket)]

    @property
    def session12(self) -> ClientSession12 | None:
        """The TLS 1.2 session this client connection left, if any."""
        return next((e.session for e in self.events if isinstance(e, NewSession12)), None)

    def _flush(self) -> None:
        data = self.engine.data_to_send()
        if data:
            self.written += data
            self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            self.sock.sendall(data)

    def _pump(self) -> None:
        """Read once from the socket (with the deadline) and feed the engine."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("tls: i/o timeout")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(_READ_SIZE)
        except socket.timeout as exc:
            raise TimeoutError("tls: i/o timeout") from exc
        if not data:
            raise UnexpectedEOF("EOF")
        self.read += data
        try:
            events = self.engine.receive_data(data)
        except TLSError as exc:
            self.events.extend(getattr(exc, "events", []))
            self._collect(getattr(exc, "events", []))
            self._flush_quietly()
            raise
        self.events.extend(events)
        self._collect(events)
        self._flush()

    def _collect(self, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, ApplicationData):
                self._app += ev.data
            elif isinstance(ev, ConnectionClosed):
                self.peer_closed = True

    def _flush_quietly(self) -> None:
        try:
            self._flush()
        except OSError:
            pass

    def handshake(self) -> ConnectionInfo:
        if isinstance(self.engine, ClientEngine) and self.engine._state == "start":
            self.engine.start()
        self._flush()
        while not self.engine.handshake_complete:
            self._pump()
        assert self.engine.info is not None
        return self.engine.info

    def send(self, data: bytes) -> None:
        self.engine.send_application_data(data)
        self._flush()

    def recv(self, until: int = 1) -> bytes:
        """Application data: at least `until` bytes, or less when the peer closes."""
        while len(self._app) < until and not self.peer_closed:
            self._pump()
        out = bytes(self._app)
        self._app.clear()
        return out

    def take_data(self) -> bytes:
        """Application data read but not yet returned by recv (for example data
        that arrived in the same read as a fatal alert)."""
        out = bytes(self._app)
        self._app.clear()
        return out

    def post_handshake(self, messages: Sequence[str], together: bool = False) -> None:
        """Send post-handshake messages (see Engine.send_post_handshake)."""
        self.engine.send_post_handshake(messages, together)
        self._flush()

    def key_update(self, request_update: bool = False) -> None:
        self.engine.send_key_update(request_update)
        self._flush()

    def close(self) -> None:
        """Send close_notify (if the connection is still good) and close the socket."""
        try:
            if self.engine.error is None:
                self.engine.close()
                self._flush()
        except OSError:
            pass
        finally:
            self.sock.close()

    def wait_closed(self) -> bytes:
        """Read to the peer's close_notify (or EOF); returns the data read."""
        try:
            return self.recv(until=1 << 62)
        except UnexpectedEOF:
            out = bytes(self._app)
            self._app.clear()
            return out


def connect(host: str, port: int, config: ClientConfig, *, tickets: Sequence[ClientTicket] = (),
            session12: ClientSession12 | None = None,
            timeout: float = 5.0, rand: Rand | None = None, now: Now | None = None,
            keylog: KeyLogWriter | None = None, hooks: Hooks | None = None) -> TLSConnection:
    """Connect over TCP and complete the handshake (the connection's timeout
    bounds the whole connection). On failure the exception carries the
    TLSConnection as `connection`."""
    sock = socket.create_connection((host, port), timeout=timeout)
    engine = ClientEngine(config, tickets=tickets, session12=session12, rand=rand, now=now,
                          keylog=keylog, hooks=hooks)
    return _handshake(TLSConnection(sock, engine, timeout))


def accept(listener: socket.socket, config: ServerConfig, *, timeout: float = 5.0,
           rand: Rand | None = None, now: Now | None = None,
           keylog: KeyLogWriter | None = None, hooks: Hooks | None = None) -> TLSConnection:
    """Accept one TCP connection and complete the server handshake."""
    listener.settimeout(timeout)
    sock, _ = listener.accept()
    engine = ServerEngine(config, rand=rand, now=now, keylog=keylog, hooks=hooks)
    return _handshake(TLSConnection(sock, engine, timeout))


def _handshake(conn: TLSConnection) -> TLSConnection:
    try:
        conn.handshake()
    except BaseException as exc:
        # What was on the wire stays reachable for an observer of the failure.
        exc.connection = conn  # type: ignore[attr-defined]
        conn.sock.close()
        raise
    return conn


def handshake_info(events: list[Event]) -> ConnectionInfo | None:
    return next((e.info for e in events if isinstance(e, HandshakeComplete)), None)
