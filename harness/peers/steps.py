"""A run written as steps: a generator that yields what it waits for (a peer's reply,
or a call that may block), so that many runs move on on the reactor's one thread
(reactor.py) as their replies come in, and the same run can go on any other thread,
waiting as it goes (`run_here`).

A reply that misses its timeout has its peer killed as hung, exactly as a blocking
PeerProcess.wait would; killing it fails the reply, which resumes the steps.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator, Sequence, TypeVar

from tlspeer.eventloop import Timer, handled, run_steps

from .reactor import Reactor, reactor

if TYPE_CHECKING:
    from .protocol import PeerProcess, Reply

T = TypeVar("T")


@dataclass(frozen=True)
class Await:
    """Wait for a peer's reply as PeerProcess.wait does: its result is sent back into the
    steps, or its exception raised there; a peer that gives none within timeout seconds
    is killed as hung (which fails the reply)."""

    peer: "PeerProcess"
    reply: "Reply"
    timeout: float


@dataclass(frozen=True)
class Blocking:
    """Call fn, which may block, on a helper thread; its result or exception comes back."""

    fn: Callable[[], Any]


Steps = Generator["Await | Blocking", Any, T]


def run_here(steps: "Steps[T]") -> T:
    """Steps run to their end on the calling thread, each wait a blocking one."""
    return run_steps(steps, _wait_here)


def _wait_here(item: "Await | Blocking") -> Any:
    return item.peer.wait(item.reply, item.timeout) if isinstance(item, Await) else item.fn()


def run_many(makers: Sequence[Callable[[], "Steps[T]"]], workers: int,
            on_done: Callable[[T], None] | None = None, stop: threading.Event | None = None) -> list[T | None]:
    """Each maker's steps, `workers` of them in flight, on the reactor; each result
    handed to on_done (on the reactor thread) as it ends. Blocks the calling thread
    until all have ended; a result is None where `stop` was set before its start.
    An exception out of steps or on_done starts no more, and is raised here once
    those in flight have ended."""
    loop = reactor()
    if loop.on_thread():
        raise RuntimeError("run_many called on the reactor thread: it would wait for itself")
    flight = _Flight(loop, makers, workers, on_done, stop)
    loop.call_soon(flight.start_more)
    flight.finished.wait()
    if flight.errors:
        raise flight.errors[0]
    return flight.results


class _Flight:
    """run_many's runs in flight: which starts next, how many run, what they gave.
    A class, not closures calling each other: two nested functions that name each
    other make a cycle, and every result of a batch (its documents) waited in it for
    the cyclic collector, a third of a second each time in a fuzz campaign."""

    def __init__(self, loop: Reactor, makers: Sequence[Callable[[], "Steps[T]"]], workers: int,
                 on_done: Callable[[T], None] | None, stop: threading.Event | None) -> None:
        self.loop, self.makers, self.workers, self.on_done, self.stop = loop, makers, workers, on_done, stop
        self.results: list[T | None] = [None] * len(makers)
        self.finished = threading.Event()
        self.next = self.running = 0
        self.errors: list[BaseException] = []

    def start_more(self) -> None:
        while (self.running < self.workers and self.next < len(self.makers)
               and not self.errors and not (self.stop is not None and self.stop.is_set())):
            i = self.next
            self.next += 1
            self.running += 1
            # Driven from the queue, not from here: a run that ends without waiting
            # (an unsupported one) would otherwise start the next inside this call.
            self.loop.call_soon(lambda i=i: _start(self.loop, self.makers[i],
                                                   lambda value, exc: self.ended(i, value, exc)))
        if self.running == 0:
            self.finished.set()

    def ended(self, i: int, value: Any, exc: BaseException | None) -> None:
        self.running -= 1
        if exc is None:
            self.results[i] = value
            if self.on_done is not None:
                try:
                    self.on_done(value)
                except Exception as e:
                    exc = e
        if exc is not None:
            self.errors.append(exc)
        self.start_more()


def _start(loop: Reactor, make: Callable[[], "Steps[Any]"], done: Callable[[Any, BaseException | None], None]) -> None:
    """On the reactor thread: run the steps until they wait; resume them as what they
    wait for comes in; then done(result, None), or done(None, exception)."""
    try:
        steps = make()
    except Exception as exc:
        done(None, exc)
        return
    _Task(loop, steps, done).step(None, None)


class _Task:
    """One run of steps on the reactor."""

    __slots__ = ("reactor", "steps", "done", "timer")

    def __init__(self, loop: Reactor, steps: "Steps[Any]", done: Callable[[Any, BaseException | None], None]):
        self.reactor = loop
        self.steps = steps
        self.done = done
        self.timer: Timer | None = None

    def step(self, value: Any, exc: BaseException | None) -> None:
        while True:
            try:
                item = self.steps.send(value) if exc is None else self.steps.throw(exc)
            except StopIteration as stop:
                handled(exc)
                self.done(stop.value, None)
                return
            except Exception as e:
                if e is not exc:
                    handled(exc)
                self.done(None, e)
                return
            handled(exc)
            if isinstance(item, Blocking):
                self.reactor.offload(item.fn, self.step)
                return
            reply = item.reply
            if reply.done():
                value, exc = _outcome(reply)
                continue
            self.timer = self.reactor.call_later(item.timeout, lambda item=item: self._timed_out(item))
            reply.add_done_callback(self._replied)
            return

    def _replied(self, reply: "Reply") -> None:
        # On whichever thread settled the reply: the reactor's (a response it read) or a
        # helper's (a peer killed); the steps go on on the reactor's.
        self.reactor.call_soon(lambda: self._resume(reply))

    def _resume(self, reply: "Reply") -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.step(*_outcome(reply))

    def _timed_out(self, item: Await) -> None:
        self.timer = None
        if not item.reply.done():  # killing it fails the reply, which resumes the steps
            self.reactor.offload(lambda: item.peer._hung(item.timeout))


def _outcome(reply: "Reply") -> tuple[Any, BaseException | None]:
    exc = reply.exception(0)
    return (None, exc) if exc is not None else (reply.result(0), None)
