"""One thread that waits on many file descriptors and runs what becomes ready.

Steps (a generator that yields what it waits for, wherever it would block) are how
both tlspeerd and tlsdiff's harness write an operation once and run it either on a
loop thread with many others or on the caller's thread. The loop here knows nothing
of what the steps wait for: tlspeerd's `Loop` resumes steps waiting for sockets
(driver.Wait), the harness's reactor steps waiting for a peer's reply. What they
share is this: descriptors watched with a callback, calls queued from any thread,
timers, and `run_steps`, which runs steps to their end on the calling thread.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import selectors
import threading
import time
from collections import deque
from typing import Any, Callable, Generator

_log = logging.getLogger(__name__)


def run_steps(steps: Generator[Any, Any, Any], settle: Callable[[Any], Any]) -> Any:
    """Steps to their end on this thread: each thing they yield is settled (settle(it),
    which may block) and its value sent back, or its exception raised, into them."""
    value: Any = None
    exc: BaseException | None = None
    while True:
        try:
            item = steps.send(value) if exc is None else steps.throw(exc)
        except StopIteration as stop:
            handled(exc)
            return stop.value
        except BaseException as e:
            if e is not exc:
                handled(exc)
            raise
        handled(exc)
        value, exc = None, None
        try:
            value = settle(item)
        except Exception as e:  # raised in the steps, where a wait of their own would have raised
            exc = e


def handled(exc: BaseException | None) -> None:
    """An exception that steps caught loses its traceback: the frames in it hold whatever
    holds the exception (a harness's reply that threw it in; an engine that keeps the
    error it raised), a cycle that kept everything they reached alive until the cyclic
    collector came."""
    if exc is not None:
        exc.__traceback__ = None


class Timer:
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn: Callable[[], None] | None = fn

    def cancel(self) -> None:
        self.fn = None  # the heap entry stays until its time, holding nothing


class EventLoop:
    """The selector loop thread, started at once. `call_soon` may be called from any
    thread; everything else from the loop's own thread (a callback)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        self._calls: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def on_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def call_soon(self, fn: Callable[[], None]) -> None:
        """fn() on the loop thread, after what it is doing now."""
        self._calls.append(fn)  # deque.append is atomic: no lock
        if not self.on_thread():
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- on the loop thread --------------------------------------------------------

    def watch(self, fileobj: Any, events: int, fn: Callable[[], None]) -> None:
        """fn() whenever fileobj is ready for events, until unwatch. Raises what
        selectors raises for a closed descriptor."""
        self._selector.register(fileobj, events, fn)

    def unwatch(self, fileobj: Any) -> None:
        try:
            self._selector.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def call_at(self, when: float, fn: Callable[[], None]) -> Timer:
        """fn() once time.monotonic() reaches when, unless the Timer is cancelled first."""
        timer = Timer(fn)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(time.monotonic() + delay, fn)

    def stop(self) -> None:
        """End the loop once this turn is done."""
        self._stopping = True

    def _loop(self) -> None:
        while not self._stopping:
            timeout: float | None = None
            if self._calls:
                timeout = 0
            elif self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for key, _ in self._selector.select(timeout):
                self._guarded(key.data)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                fn = heapq.heappop(self._timers)[2].fn
                if fn is not None:
                    self._guarded(fn)
            for _ in range(len(self._calls)):  # calls queued meanwhile wait for the next turn
                self._guarded(self._calls.popleft())

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a bug in one callback must not stop everything else the loop serves
            _log.exception("%s: a callback failed", self.name)
