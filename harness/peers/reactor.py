"""One thread that reads every peer's output and moves every run on.

A run spends its life waiting for its peers' replies. With a thread per run in flight
and a reader thread per peer, each reply woke two threads, which then queued for the
interpreter lock: a default run made 57,000 context switches in this process. Here one
thread (the reactor) reads all the peers' pipes, settles their replies, and resumes
each run, written as steps (a generator that yields what it waits for), as soon as its
reply is in. Threads other than the reactor still wait for replies as before
(`PeerProcess.wait`).

What may block (starting a peer, killing one and waiting for it to go) runs on a helper
thread, so the reactor never stops reading: a reply that came in time is never taken
for a hang.
"""
from __future__ import annotations

import selectors
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator, Sequence, TypeVar

from tlspeer.eventloop import EventLoop, Timer, run_steps

if TYPE_CHECKING:
    from .protocol import PeerProcess, Reply

T = TypeVar("T")

#: Helper threads for what may block; peers start side by side at a run's start.
HELPERS = 8


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


class Reactor(EventLoop):
    """The selector loop (tlspeer.eventloop) with helper threads for what may block,
    and steps driven to their end."""

    def __init__(self) -> None:
        self._helpers = ThreadPoolExecutor(max_workers=HELPERS, thread_name_prefix="tlsdiff-helper")
        super().__init__("tlsdiff-reactor")

    # -- from any thread -------------------------------------------------------

    def add_reader(self, fd: int, fn: Callable[[], None]) -> None:
        """fn() on the reactor thread whenever fd is readable, until unwatch(fd) there."""
        self.call_soon(lambda: self.watch(fd, selectors.EVENT_READ, fn))

    def offload(self, fn: Callable[[], Any], then: Callable[[Any, BaseException | None], None] | None = None) -> None:
        """fn() on a helper thread; then(result, exception) back on the reactor thread."""
        def helper() -> None:
            try:
                value, exc = fn(), None
            except Exception as e:
                value, exc = None, e
            if then is not None:
                self.call_soon(lambda: then(value, exc))
        self._helpers.submit(helper)

    def run_all(self, makers: Sequence[Callable[[], "Steps[T]"]], workers: int,
                on_done: Callable[[T], None] | None = None, stop: threading.Event | None = None) -> list[T | None]:
        """Each maker's steps, `workers` of them in flight, on the reactor; each result
        handed to on_done (on the reactor thread) as it ends. Blocks the calling thread
        until all have ended; a result is None where `stop` was set before its start.
        An exception out of steps or on_done starts no more, and is raised here once
        those in flight have ended."""
        if self.on_thread():
            raise RuntimeError("run_all called on the reactor thread: it would wait for itself")
        results: list[T | None] = [None] * len(makers)
        finished = threading.Event()
        state = {"next": 0, "running": 0}
        errors: list[BaseException] = []

        def start_more() -> None:
            while (state["running"] < workers and state["next"] < len(makers)
                   and not errors and not (stop is not None and stop.is_set())):
                i = state["next"]
                state["next"] += 1
                state["running"] += 1
                # Driven from the queue, not from here: a run that ends without waiting
                # (an unsupported one) would otherwise start the next inside this call.
                self.call_soon(lambda i=i: self._start(makers[i], lambda value, exc: ended(i, value, exc)))
            if state["running"] == 0:
                finished.set()

        def ended(i: int, value: Any, exc: BaseException | None) -> None:
            state["running"] -= 1
            if exc is None:
                results[i] = value
                if on_done is not None:
                    try:
                        on_done(value)
                    except Exception as e:
                        exc = e
            if exc is not None:
                errors.append(exc)
            start_more()

        self.call_soon(start_more)
        finished.wait()
        if errors:
            raise errors[0]
        return results

    # -- on the reactor thread ---------------------------------------------------

    def drive(self, steps: "Steps[T]", done: Callable[[Any, BaseException | None], None]) -> None:
        """Run steps until they wait; resume them as what they wait for comes in; then
        done(result, None), or done(None, exception)."""
        _Task(self, steps, done).step(None, None)

    def _start(self, make: Callable[[], "Steps[Any]"], done: Callable[[Any, BaseException | None], None]) -> None:
        try:
            steps = make()
        except Exception as exc:
            done(None, exc)
            return
        self.drive(steps, done)


class _Task:
    """One run of steps on the reactor."""

    __slots__ = ("reactor", "steps", "done", "timer")

    def __init__(self, reactor: Reactor, steps: "Steps[Any]", done: Callable[[Any, BaseException | None], None]):
        self.reactor = reactor
        self.steps = steps
        self.done = done
        self.timer: Timer | None = None

    def step(self, value: Any, exc: BaseException | None) -> None:
        while True:
            try:
                item = self.steps.send(value) if exc is None else self.steps.throw(exc)
            except StopIteration as stop:
                self.done(stop.value, None)
                return
            except Exception as e:
                self.done(None, e)
                return
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


_reactor: Reactor | None = None
_reactor_lock = threading.Lock()


def reactor() -> Reactor:
    """The process's reactor, started on first use."""
    global _reactor
    with _reactor_lock:
        if _reactor is None:
            _reactor = Reactor()
        return _reactor
