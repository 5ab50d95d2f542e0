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

import time
from typing import Any, Callable

from tlspeer.driver import Steps, Wait
from tlspeer.eventloop import EventLoop, Timer


class Loop(EventLoop):
    """One thread running every submitted generator; `done(value, error)` is called
    on that thread when one ends."""

    def __init__(self) -> None:
        self._live = 0
        self._closing = False
        super().__init__("connections")

    def submit(self, steps: Steps, done: Callable[[Any, BaseException | None], None]) -> None:
        self.call_soon(lambda: self._start(_Task(steps, done)))

    def close(self, timeout: float) -> None:
        """Let the running generators end (at most timeout seconds), then stop."""
        self.call_soon(self._close)
        self.join(timeout)

    # -- the loop thread ---------------------------------------------------------

    def _close(self) -> None:
        self._closing = True
        if not self._live:
            self.stop()

    def _start(self, task: "_Task") -> None:
        self._live += 1
        self._advance(task, None)

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
            self.watch(wait.sock, wait.events, lambda: self._resume(task, wait, None))
        except (ValueError, OSError) as exc:  # a closed socket: the step's own error
            self._advance(task, exc)
            return
        task.waiting = wait
        task.timer = self.call_at(wait.deadline, lambda: self._resume(task, wait, TimeoutError(wait.timeout)))

    def _resume(self, task: "_Task", wait: Wait, error: BaseException | None) -> None:
        if task.waiting is not wait:
            return  # resumed already: ready and past its deadline in the same turn
        self.unwatch(wait.sock)
        if task.timer is not None:
            task.timer.cancel()
        task.waiting = task.timer = None
        self._advance(task, error)

    def _end(self, task: "_Task", value: Any, error: BaseException | None) -> None:
        self._live -= 1
        try:
            task.done(value, error)
        except Exception:  # a reply that cannot be written must not stop the other connections
            pass
        if self._closing and not self._live:
            self.stop()


class _Task:
    __slots__ = ("steps", "done", "waiting", "timer")

    def __init__(self, steps: Steps, done: Callable[[Any, BaseException | None], None]) -> None:
        self.steps, self.done = steps, done
        self.waiting: Wait | None = None
        self.timer: Timer | None = None
