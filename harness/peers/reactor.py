"""One thread that reads every peer's output: the harness's event loop.

A run spends its life waiting for its peers' replies. With a thread per run in flight
and a reader thread per peer, each reply woke two threads, which then queued for the
interpreter lock: a default run made 57,000 context switches in this process. Here one
thread (the reactor, a tlspeer.eventloop) reads all the peers' pipes and settles their
replies (protocol.py), and runs move on on the same thread, as steps (steps.py).

What may block (starting a peer, killing one and waiting for it to go) runs on a helper
thread (`offload`), so the reactor never stops reading: a reply that came in time is
never taken for a hang.
"""
from __future__ import annotations

import selectors
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from tlspeer.eventloop import EventLoop

#: Helper threads for what may block; peers start side by side at a run's start.
HELPERS = 8


class Reactor(EventLoop):
    """The selector loop (tlspeer.eventloop) with helper threads for what may block."""

    def __init__(self) -> None:
        self._helpers = ThreadPoolExecutor(max_workers=HELPERS, thread_name_prefix="tlsdiff-helper")
        super().__init__("tlsdiff-reactor")

    # -- from any thread -------------------------------------------------------

    def add_reader(self, fd: int, fn: Callable[[], None]) -> None:
        """fn() on the reactor thread whenever fd is readable, until unwatch(fd) there."""
        self.call_soon(lambda: self.watch(fd, selectors.EVENT_READ, fn))

    def offload(self, fn: Callable[[], Any], then: Callable[[Any, BaseException | None], None] | None = None) -> None:
        """fn() on a helper thread (here, once the interpreter is exiting); then(result,
        exception) back on the reactor thread."""
        def helper() -> None:
            try:
                value, exc = fn(), None
            except Exception as e:
                value, exc = None, e
            if then is not None:
                self.call_soon(lambda: then(value, exc))
        try:
            self._helpers.submit(helper)
        except RuntimeError:
            # The interpreter is exiting (concurrent.futures refuses new work from
            # then on), and a peer's end was read after the command's own: done here,
            # its exit is still recorded and its cleanup still runs. Nothing is left
            # for the reactor to read in time.
            helper()


_reactor: Reactor | None = None
_reactor_lock = threading.Lock()


def reactor() -> Reactor:
    """The process's reactor, started on first use."""
    global _reactor
    with _reactor_lock:
        if _reactor is None:
            _reactor = Reactor()
        return _reactor
