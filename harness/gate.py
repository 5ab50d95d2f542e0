"""How many runs compute at once: a run that waits long on a peer lets another in.

Many runs in flight keep the cores busy while some wait out a connection timeout (a
fuzz stimulus that drops a message makes both sides wait seconds). But every run in
flight that computes also contends for the harness's and tlspeerd's interpreter locks
and for the two cores: a fuzz campaign with 32 runs in flight spent 5.9 ms of CPU a
handshake, with 16 about 5.0. So a `Gate` admits `active` runs at once, and a run
whose wait for a peer's reply lasts longer than HANDOFF_S steps out for the rest of
that wait, letting one more in: as Go's scheduler hands the processor of a thread
blocked in a system call to another.

Only a run's start waits for a slot. Stepping back in never does, even when that
makes more than `active` runs compute for a while: the wait may have been inside a
lock other runs are waiting for (the pool's, while a peer starts), and those runs
hold the slots.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator, Protocol

#: A reply that takes longer than this is most likely a connection waiting out its
#: timeout (a handshake and its reply take a few milliseconds, tens under load).
HANDOFF_S = 0.1

_admitted = threading.local()  # .gate: the Gate this thread holds a slot of, or None


class Waitable(Protocol):
    def wait(self, timeout: float) -> bool: ...


class Gate:
    """A run starts when fewer than `active` admitted runs are outside a long wait."""

    def __init__(self, active: int) -> None:
        self.active = active
        self._computing = 0
        self._cond = threading.Condition(threading.Lock())

    @contextmanager
    def admitted(self) -> Iterator[None]:
        with self._cond:
            while self._computing >= self.active:
                self._cond.wait()
            self._computing += 1
        _admitted.gate = self
        try:
            yield
        finally:
            _admitted.gate = None
            self._step(-1)

    def _step(self, by: int) -> None:
        with self._cond:
            self._computing += by
            if by < 0:
                self._cond.notify()


def wait(reply: Waitable, timeout: float) -> None:
    """Until the reply is in or timeout seconds pass. A thread admitted by a Gate steps
    out after HANDOFF_S, and is back in when this returns."""
    gate: Gate | None = getattr(_admitted, "gate", None)
    if gate is None or timeout <= HANDOFF_S:
        reply.wait(timeout)
        return
    started = time.monotonic()
    if reply.wait(HANDOFF_S):
        return
    gate._step(-1)
    try:
        reply.wait(max(0.0, timeout - (time.monotonic() - started)))
    finally:
        gate._step(+1)
