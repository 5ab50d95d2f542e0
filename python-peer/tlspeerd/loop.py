"""Every connection's socket I/O on one thread: a selectors loop over steps.

accept and connect are written once, as steps (tlspeer.driver: a generator that
yields a Wait for a socket, readable or writable, with a deadline, wherever it
would block). The `Loop` thread resumes whichever is ready and throws the Wait's
TimeoutError into one whose deadline passed; inside `batch` and `pair` the same
steps run on the request's thread (driver.run_blocking). With a thread per
connection every read woke a thread that then waited for the GIL: 30 context
switches a handshake against 2, and 1.5x the CPU (benchmarks/drivers.py).
"""
from __future__ import annotations

import heapq
import itertools
import selectors
import socket
import threading
import time
from typing import Any, Callable

from tlspeer.driver import READ, Steps, Wait


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
