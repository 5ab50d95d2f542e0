"""harness/gate.py: runs that wait long on a peer step aside; stepping back never blocks."""
from __future__ import annotations

import threading
import time

from tlsdiff.gate import HANDOFF_S, Gate, wait
from tlsdiff.peers.protocol import Reply


def _later(reply: Reply, seconds: float) -> None:
    threading.Timer(seconds, reply.set_result, args=({},)).start()


def test_a_run_waiting_long_lets_another_start_and_one_answered_soon_does_not() -> None:
    gate = Gate(1)
    order: list[str] = []
    slow, quick = Reply(), Reply()
    first_in = threading.Event()

    def first() -> None:
        with gate.admitted():
            first_in.set()
            wait(slow, 5.0)
            order.append("first done")

    def second() -> None:
        with gate.admitted():
            order.append("second in")
            quick.set_result({})
            wait(quick, 5.0)  # answered already: no stepping out
    t1 = threading.Thread(target=first)
    t1.start()
    assert first_in.wait(5)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(HANDOFF_S * 20)
    assert order == ["second in"]  # admitted while the first waited on its peer
    slow.set_result({})
    t1.join(5)
    assert order == ["second in", "first done"]


def test_a_run_that_has_not_waited_long_keeps_its_place() -> None:
    gate = Gate(1)
    reply = Reply()
    _later(reply, HANDOFF_S / 4)
    started = threading.Event()

    def other_run() -> None:
        with gate.admitted():
            started.set()
    with gate.admitted():
        threading.Thread(target=other_run, daemon=True).start()
        wait(reply, 5.0)
        assert not started.wait(HANDOFF_S / 2)  # the reply came before the handoff
    assert started.wait(5)


def test_stepping_back_in_never_waits_for_a_place() -> None:
    # The wait may be inside a lock the admitted runs are waiting for (the pool's, while a
    # peer starts): blocking to step back in would deadlock, as the first version did.
    gate = Gate(1)
    pool_lock = threading.Lock()
    reply = Reply()
    finished: list[str] = []

    def starting_a_peer() -> None:
        with gate.admitted(), pool_lock:
            wait(reply, 5.0)  # steps out: the next run is admitted and blocks on pool_lock
            finished.append("starter")

    def needing_the_peer() -> None:
        with gate.admitted(), pool_lock:
            finished.append("user")
    t1 = threading.Thread(target=starting_a_peer, daemon=True)
    t1.start()
    time.sleep(HANDOFF_S * 3)
    t2 = threading.Thread(target=needing_the_peer, daemon=True)
    t2.start()
    time.sleep(HANDOFF_S)
    reply.set_result({})
    t1.join(5)
    t2.join(5)
    assert finished == ["starter", "user"]
