"""Every connection's socket I/O on one thread: a selectors loop over generators.

A connection op (accept, connect) is written once, as a generator that yields a
`Wait` whenever it needs its socket readable or writable, with a deadline. The
`Loop` thread resumes whichever is ready and throws `Wait.timeout` into one whose
deadline passed; `run_blocking` drives one such generator on the calling thread
(an op inside `batch` or `pair`). With a thread per connection, every read woke a
thread that then waited for the GIL: 30 context switches a handshake against 2,
and 1.5x the CPU (benchmarks/drivers.py).

`LoopConnection` is tlspeer.driver.TLSConnection with those waits: the same reads
(one recv of up to 64 KiB per pump), the same writes, the same deadline and errors.
"""
from __future__ import annotations

import errno
import heapq
import itertools
import os
import select
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator

from tlspeer.client import ClientEngine
from tlspeer.driver import UnexpectedEOF
from tlspeer.engine import Engine
from tlspeer.errors import TLSError
from tlspeer.events import ApplicationData, ConnectionClosed, Event

_READ_SIZE = 1 << 16
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@dataclass
class Wait:
    """What a step waits for: `sock` ready for `events`, until `deadline` (monotonic);
    then `timeout` is thrown into it."""

    sock: socket.socket
    events: int
    deadline: float
    timeout: str = "tls: i/o timeout"


Steps = Generator[Wait, None, Any]


def run_blocking(steps: Steps) -> Any:
    """Drive one generator to its end on this thread; its value, or what it raised."""
    to_send: BaseException | None = None
    while True:
        try:
            wait = steps.throw(to_send) if to_send is not None else next(steps)
        except StopIteration as stop:
            return stop.value
        to_send = None
        left = wait.deadline - time.monotonic()
        ready = left > 0 and _ready(wait, left)
        if not ready:
            to_send = TimeoutError(wait.timeout)


def _ready(wait: Wait, seconds: float) -> bool:
    reading = [wait.sock] if wait.events & READ else []
    writing = [wait.sock] if wait.events & WRITE else []
    r, w, _ = select.select(reading, writing, [], seconds)
    return bool(r or w)


class Loop:
    """One thread running every submitted generator; `done(value, error)` is called
    on that thread when one ends."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, READ)
        self._new: list[tuple[Steps, Callable[[Any, BaseException | None], None]]] = []
        self._lock = threading.Lock()
        # (deadline, task number): a heap. An entry outlives its wait; it names the task by
        # number, so that a connection that ended is not kept alive until its deadline.
        self._deadlines: list[tuple[float, int]] = []
        self._numbers = itertools.count()
        self._live: dict[int, _Task] = {}
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="connections", daemon=True)
        self._thread.start()

    def submit(self, steps: Steps, done: Callable[[Any, BaseException | None], None]) -> None:
        with self._lock:
            self._new.append((steps, done))
        self._wake_w.send(b"\0")

    def close(self, timeout: float) -> None:
        """Let the running generators end (at most timeout seconds), then stop."""
        with self._lock:
            self._closing = True
        self._wake_w.send(b"\0")
        self._thread.join(timeout)

    # -- the loop thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                new, self._new = self._new, []
                if self._closing and not new and not self._live:
                    return
            for steps, done in new:
                task = _Task(next(self._numbers), steps, done)
                self._live[task.number] = task
                self._advance(task, None)
            timeout = None
            if self._deadlines:
                timeout = max(0.0, self._deadlines[0][0] - time.monotonic())
            for key, _ in self._selector.select(timeout):
                if key.fileobj is self._wake_r:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                task = key.data
                self._selector.unregister(key.fileobj)
                task.waiting = None
                self._advance(task, None)
            now = time.monotonic()
            while self._deadlines and self._deadlines[0][0] <= now:
                _, number = heapq.heappop(self._deadlines)
                task = self._live.get(number)
                wait = task.waiting if task is not None else None
                if wait is None or wait.deadline > now:
                    continue  # ended or resumed since, or waiting again with a later deadline
                self._selector.unregister(wait.sock)
                task.waiting = None
                self._advance(task, TimeoutError(wait.timeout))

    def _advance(self, task: "_Task", error: BaseException | None) -> None:
        try:
            wait = task.steps.throw(error) if error is not None else next(task.steps)
        except StopIteration as stop:
            self._end(task, stop.value, None)
            return
        except BaseException as exc:  # the op failed: its caller formats the error
            self._end(task, None, exc)
            return
        if wait.deadline <= time.monotonic():
            self._advance(task, TimeoutError(wait.timeout))
            return
        try:
            self._selector.register(wait.sock, wait.events, task)
        except (ValueError, OSError) as exc:  # a closed socket: the step's own error
            self._advance(task, exc)
            return
        task.waiting = wait
        heapq.heappush(self._deadlines, (wait.deadline, task.number))

    def _end(self, task: "_Task", value: Any, error: BaseException | None) -> None:
        del self._live[task.number]
        try:
            task.done(value, error)
        except Exception:  # a reply that cannot be written must not stop the other connections
            pass


class _Task:
    __slots__ = ("number", "steps", "done", "waiting")

    def __init__(self, number: int, steps: Steps, done: Callable[[Any, BaseException | None], None]) -> None:
        self.number, self.steps, self.done = number, steps, done
        self.waiting: Wait | None = None



# -- sockets -------------------------------------------------------------------


def connect(port: int, deadline: float) -> Steps:
    """A non-blocking TCP connection to 127.0.0.1:port (socket.create_connection's errors)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        err = sock.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        if err:
            yield Wait(sock, WRITE, deadline, "timed out")
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
    except BaseException:
        sock.close()
        raise
    return sock


def accept(listener: socket.socket, deadline: float) -> Steps:
    """One connection from a listening socket (socket.accept's timeout error)."""
    listener.setblocking(False)
    while True:
        try:
            sock, _ = listener.accept()
            sock.setblocking(False)
            return sock
        except BlockingIOError:
            yield Wait(listener, READ, deadline, "timed out")


class LoopConnection:
    """One TLS connection whose reads and writes are steps (see TLSConnection)."""

    def __init__(self, sock: socket.socket, engine: Engine, timeout: float) -> None:
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
    def info(self) -> Any:
        return self.engine.info

    def _sendall(self, data: bytes) -> Steps:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view):]
            except BlockingIOError:
                yield Wait(self.sock, WRITE, max(self.deadline, time.monotonic() + 0.001), "timed out")

    def _flush(self) -> Steps:
        data = self.engine.data_to_send()
        if data:
            self.written += data
            yield from self._sendall(data)

    def _pump(self) -> Steps:
        """Read once (with the deadline) and feed the engine."""
        if self.deadline - time.monotonic() <= 0:
            raise TimeoutError("tls: i/o timeout")
        while True:
            try:
                data = self.sock.recv(_READ_SIZE)
                break
            except BlockingIOError:
                yield Wait(self.sock, READ, self.deadline)
        if not data:
            raise UnexpectedEOF("EOF")
        self.read += data
        try:
            events = self.engine.receive_data(data)
        except TLSError as exc:
            self.events.extend(getattr(exc, "events", []))
            self._collect(getattr(exc, "events", []))
            try:
                yield from self._flush()
            except OSError:
                pass
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

    def handshake(self) -> Steps:
        if isinstance(self.engine, ClientEngine) and self.engine._state == "start":
            self.engine.start()
        yield from self._flush()
        while not self.engine.handshake_complete:
            yield from self._pump()

    def send(self, data: bytes) -> Steps:
        self.engine.send_application_data(data)
        yield from self._flush()

    def recv(self, until: int = 1) -> Steps:
        while len(self._app) < until and not self.peer_closed:
            yield from self._pump()
        out = bytes(self._app)
        self._app.clear()
        return out

    def take_data(self) -> bytes:
        out = bytes(self._app)
        self._app.clear()
        return out

    def wait_closed(self) -> Steps:
        try:
            return (yield from self.recv(until=1 << 62))
        except UnexpectedEOF:
            return self.take_data()

    def close(self) -> Steps:
        """close_notify (if the connection is still good), then close the socket."""
        try:
            if self.engine.error is None:
                self.engine.close()
                yield from self._flush()
        except OSError:
            pass
        finally:
            self.sock.close()

    def close_after_failure(self) -> Steps:
        """Half-close and record everything the peer still sends until it hangs up
        (or the deadline), then close."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = max(self.deadline, time.monotonic() + 0.001)
            while True:
                try:
                    chunk = self.sock.recv(_READ_SIZE)
                except BlockingIOError:
                    yield Wait(self.sock, READ, deadline, "timed out")
                    continue
                if not chunk:
                    break
                self.read += chunk
        except OSError:
            pass
        finally:
            self.sock.close()
