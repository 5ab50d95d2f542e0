"""A thin socket driver around the sans-IO engines.

Every read has a timeout (the connection's deadline), every byte written and read
is kept (`written`, `read`) so the harness can decode the connection, and every
event is kept in order (`events`).

Each operation of a `TLSConnection` is written once, as steps: a generator that
yields a `Wait` (a socket, readable or writable, a deadline) wherever it would
block. `run_blocking` runs steps on the calling thread, which is what the plain
methods (`handshake()`, `send()`, ...) do; an event loop can instead run many
connections' steps on one thread (tlspeerd's loop.py).
"""
from __future__ import annotations

import errno
import os
import select
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Any, Generator, Sequence

from .client import ClientConfig, ClientEngine
from .engine import Engine, KeyLogWriter, Now, Rand
from .errors import TLSError
from .eventloop import run_steps
from .events import (ApplicationData, ConnectionClosed, ConnectionInfo, Event, HandshakeComplete,
                     NewSession12, NewTicket)
from .hooks import Hooks
from .server import ServerConfig, ServerEngine
from .session import ClientSession12, ClientTicket

_READ_SIZE = 1 << 16
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE  # Wait.events: what a selectors loop registers
IO_TIMEOUT = "tls: i/o timeout"
SOCKET_TIMEOUT = "timed out"  # what a Python socket's own timeout says


class UnexpectedEOF(ConnectionError):
    """The peer closed the TCP connection without close_notify."""


@dataclass
class Wait:
    """What steps wait for: `sock` ready for `events` (READ, WRITE), until `deadline`
    (time.monotonic()); past it, TimeoutError(`timeout`) is thrown into them."""

    sock: socket.socket
    events: int
    deadline: float
    timeout: str = IO_TIMEOUT


Steps = Generator[Wait, None, Any]


def run_blocking(steps: Steps) -> Any:
    """Run steps to their end on this thread: their value, or what they raised."""
    return run_steps(steps, _block_on)


def _block_on(wait: Wait) -> None:
    left = wait.deadline - time.monotonic()
    if left <= 0 or not _ready(wait, left):
        raise TimeoutError(wait.timeout)


def _ready(wait: Wait, seconds: float) -> bool:
    r, w, _ = select.select([wait.sock] if wait.events & READ else [],
                            [wait.sock] if wait.events & WRITE else [], [], seconds)
    return bool(r or w)


def connect_socket(host: str, port: int, deadline: float) -> Steps:
    """A TCP connection, non-blocking (socket.create_connection's errors)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        err = sock.connect_ex((host, port))
        if err == errno.EINPROGRESS:
            yield Wait(sock, WRITE, deadline, SOCKET_TIMEOUT)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))  # the errno's own subclass: ConnectionRefusedError, ...
    except BaseException:
        sock.close()
        raise
    return sock


def accept_socket(listener: socket.socket, deadline: float) -> Steps:
    """One connection from a listening socket, non-blocking (socket.accept's errors)."""
    listener.setblocking(False)
    while True:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            yield Wait(listener, READ, deadline, SOCKET_TIMEOUT)
            continue
        sock.setblocking(False)
        return sock


class TLSConnection:
    """One TLS connection over a connected socket (made non-blocking: every wait is a
    Wait, with the connection's deadline)."""

    def __init__(self, sock: socket.socket, engine: Engine, timeout: float = 5.0) -> None:
        sock.setblocking(False)
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

    # -- steps ----------------------------------------------------------------

    def _sendall(self, data: bytes) -> Steps:
        view = memoryview(data)
        deadline = max(self.deadline, time.monotonic() + 0.001)
        while view:
            try:
                view = view[self.sock.send(view):]
            except BlockingIOError:
                yield Wait(self.sock, WRITE, deadline, SOCKET_TIMEOUT)

    def _flush(self) -> Steps:
        data = self.engine.data_to_send()
        if data:
            self.written += data
            yield from self._sendall(data)

    def _flush_quietly(self) -> Steps:
        try:
            yield from self._flush()
        except OSError:
            pass

    def _pump(self) -> Steps:
        """Read once (within the deadline) and feed the engine."""
        if self.deadline - time.monotonic() <= 0:
            raise TimeoutError(IO_TIMEOUT)
        while True:
            try:
                data = self.sock.recv(_READ_SIZE)
                break
            except BlockingIOError:
                pass
            yield Wait(self.sock, READ, self.deadline)
        if not data:
            raise UnexpectedEOF("EOF")
        self.read += data
        try:
            events = self.engine.receive_data(data)
        except TLSError as exc:
            self.events.extend(getattr(exc, "events", []))
            self._collect(getattr(exc, "events", []))
            yield from self._flush_quietly()
            raise
        self.events.extend(events)
        self._collect(events)
        yield from self._flush()

    def _collect(self, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, ApplicationData):
                self._app += ev.data
            elif isinstance(ev, ConnectionClosed):
                self.peer_closed = True

    def handshake_steps(self) -> Steps:
        if isinstance(self.engine, ClientEngine) and self.engine._state == "start":
            self.engine.start()
        yield from self._flush()
        while not self.engine.handshake_complete:
            yield from self._pump()
        assert self.engine.info is not None
        return self.engine.info

    def send_steps(self, data: bytes) -> Steps:
        self.engine.send_application_data(data)
        yield from self._flush()

    def recv_steps(self, until: int = 1) -> Steps:
        """Application data: at least `until` bytes, or less when the peer closes."""
        while len(self._app) < until and not self.peer_closed:
            yield from self._pump()
        return self.take_data()

    def wait_closed_steps(self) -> Steps:
        """Read to the peer's close_notify (or EOF); the data read."""
        try:
            return (yield from self.recv_steps(until=1 << 62))
        except UnexpectedEOF:
            return self.take_data()

    def close_steps(self) -> Steps:
        """Send close_notify (if the connection is still good) and close the socket."""
        try:
            if self.engine.error is None:
                self.engine.close()
                yield from self._flush()
        except OSError:
            pass
        finally:
            self.sock.close()

    def close_after_failure_steps(self) -> Steps:
        """Half-close, record everything the peer still sends until it hangs up (or the
        deadline), then close."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = max(self.deadline, time.monotonic() + 0.001)
            while True:
                try:
                    chunk = self.sock.recv(_READ_SIZE)
                except BlockingIOError:
                    yield Wait(self.sock, READ, deadline, SOCKET_TIMEOUT)
                    continue
                if not chunk:
                    break
                self.read += chunk
        except OSError:
            pass
        finally:
            self.sock.close()

    # -- the same, on this thread -----------------------------------------------

    def handshake(self) -> ConnectionInfo:
        return run_blocking(self.handshake_steps())

    def send(self, data: bytes) -> None:
        run_blocking(self.send_steps(data))

    def recv(self, until: int = 1) -> bytes:
        return run_blocking(self.recv_steps(until))

    def take_data(self) -> bytes:
        """Application data read but not yet returned by recv (for example data
        that arrived in the same read as a fatal alert)."""
        out = bytes(self._app)
        self._app.clear()
        return out

    def post_handshake(self, messages: Sequence[str], together: bool = False) -> None:
        """Send post-handshake messages (see Engine.send_post_handshake)."""
        self.engine.send_post_handshake(messages, together)
        run_blocking(self._flush())

    def key_update(self, request_update: bool = False) -> None:
        self.engine.send_key_update(request_update)
        run_blocking(self._flush())

    def close(self) -> None:
        run_blocking(self.close_steps())

    def wait_closed(self) -> bytes:
        return run_blocking(self.wait_closed_steps())


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
