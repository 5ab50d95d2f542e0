"""The loop under tlspeerd's connections and tlsdiff's reactor (tlspeer/eventloop.py):
what each of them relies on, on a real loop thread with real pipes."""
from __future__ import annotations

import os
import selectors
import threading
import time

import pytest

from tlspeer.eventloop import EventLoop, run_steps


def _on_loop(loop: EventLoop, fn) -> None:  # type: ignore[no-untyped-def]
    """fn() on the loop thread, waited for."""
    done = threading.Event()
    loop.call_soon(lambda: (fn(), done.set()))
    assert done.wait(5)


def test_timers_fire_in_time_order_and_a_cancelled_one_never() -> None:
    loop, fired, done = EventLoop("test-loop"), [], threading.Event()

    def arm() -> None:
        loop.call_later(0.15, lambda: (fired.append("late"), done.set()))
        loop.call_later(0.05, lambda: fired.append("early")).cancel()
        loop.call_later(0.10, lambda: fired.append("middle"))
        loop.call_later(0.0, lambda: fired.append("now"))
    start = time.monotonic()
    _on_loop(loop, arm)
    assert done.wait(5)
    assert fired == ["now", "middle", "late"]
    assert time.monotonic() - start >= 0.15
    _on_loop(loop, loop.stop)
    loop.join(5)


def test_calls_from_other_threads_run_on_the_loop_thread_in_the_order_queued() -> None:
    loop, seen, done = EventLoop("test-loop"), [], threading.Event()
    for i in range(200):
        loop.call_soon(lambda i=i: seen.append((i, loop.on_thread())))
    loop.call_soon(done.set)
    assert done.wait(5)
    assert seen == [(i, True) for i in range(200)]
    assert not loop.on_thread()
    _on_loop(loop, loop.stop)
    loop.join(5)
    assert not loop._thread.is_alive()


def test_a_watched_pipe_calls_back_until_unwatched_and_a_failing_callback_stops_nothing(caplog) -> None:
    loop, got, second = EventLoop("test-loop"), [], threading.Event()
    r, w = os.pipe()
    os.set_blocking(r, False)

    def readable() -> None:
        data = os.read(r, 100)
        got.append(data)
        if data == b"boom":
            raise RuntimeError("a bug in one callback")
        if data == b"two":
            loop.unwatch(r)
            second.set()
    _on_loop(loop, lambda: loop.watch(r, selectors.EVENT_READ, readable))
    os.write(w, b"boom")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    os.write(w, b"two")
    assert second.wait(5)
    os.write(w, b"three")  # unwatched: nobody reads it
    time.sleep(0.1)
    assert got == [b"boom", b"two"]
    assert "test-loop: a callback failed" in caplog.text
    _on_loop(loop, loop.stop)
    loop.join(5)
    os.close(r)
    os.close(w)


def test_run_steps_sends_values_back_and_raises_failures_inside_the_steps() -> None:
    def steps():  # type: ignore[no-untyped-def]
        a = yield 2
        try:
            yield "fail"
        except ValueError as exc:
            caught = str(exc)
        b = yield 5
        return a, caught, b

    def settle(item):  # type: ignore[no-untyped-def]
        if item == "fail":
            raise ValueError("settled as a failure")
        return item * 10
    assert run_steps(steps(), settle) == (20, "settled as a failure", 50)

    def raising():  # type: ignore[no-untyped-def]
        yield 1
        raise KeyError("out of the steps")
    with pytest.raises(KeyError):
        run_steps(raising(), settle)
