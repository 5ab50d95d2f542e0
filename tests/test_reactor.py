"""harness/peers/reactor.py and steps.py: every run's steps and every peer's replies on one thread,
against real peers; a paused peer fails its own runs while the others go on."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest

from tlsdiff.compare import verdict_for
from tlsdiff.execute import run_all, run_case
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.paths import CASES_DIR
from tlsdiff.peers import local
from tlsdiff.peers.pool import PYTHON_PEER
from tlsdiff.peers.reactor import reactor
from tlsdiff.peers.steps import Await, run_many
from tlsdiff.scenario.catalog import load_case

CASE = load_case(CASES_DIR / "resumption" / "tls13-same-server.yaml", CASES_DIR)
PYCLIENT = load_case(CASES_DIR / "state" / "pyclient-go-server.yaml", CASES_DIR)
ECH = load_case(CASES_DIR / "ech" / "accepted.yaml", CASES_DIR)  # unsupported before 1.24: a reply's exception


def test_runs_on_both_releases_pass_with_their_steps_on_the_reactor_thread(local_peers, edge_releases) -> None:
    threads: set[str] = set()

    def done(run) -> None:  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)

    keys = [(v,) for v in edge_releases.versions]
    runs = run_all([CASE, PYCLIENT] * 3, lambda case: keys, local_peers, workers=5, on_done=done)
    assert len(runs) == 6 * len(keys)
    assert {verdict_for(r.case, r.key, normalize_run(r)).verdict for r in runs} == {"pass"}
    assert threads == {"tlsdiff-reactor"}
    # In the order asked for, whatever order they ended in.
    assert [(r.case.id, r.key) for r in runs] == [(c.id, k) for c in [CASE, PYCLIENT] * 3 for k in keys]


def test_runs_are_freed_when_their_caller_drops_them_not_left_to_the_cyclic_collector(local_peers,
                                                                                    edge_releases) -> None:
    # A fuzz campaign's batch holds thousands of documents: left in a reference cycle,
    # they waited for a collection of a third of a second that stopped every run.
    keys = [(v,) for v in edge_releases.versions]
    gc.collect()
    gc.disable()
    try:
        runs = run_all([CASE, PYCLIENT, ECH] * 2, lambda case: keys, local_peers, workers=4)
        verdicts = {(r.case.id, r.key): verdict_for(r.case, r.key, normalize_run(r)).verdict for r in runs}
        assert verdicts[(ECH.id, keys[0])] == "unsupported" and verdicts[(ECH.id, keys[-1])] == "pass"
        assert set(verdicts.values()) == {"pass", "unsupported"}
        alive = [weakref.ref(r) for r in runs]
        del runs
        settled = threading.Event()  # the reactor is past the callback of the last run
        reactor().call_soon(settled.set)
        assert settled.wait(5)
        assert [r() for r in alive if r() is not None] == []
        # The same steps on this thread (run_here): the unsupported reply's exception too.
        here = run_case(ECH, keys[0], local_peers)
        assert verdict_for(ECH, keys[0], normalize_run(here)).verdict == "unsupported"
        alive = [weakref.ref(here)]
        del here
        assert alive[0]() is None
    finally:
        gc.enable()


def test_a_paused_peer_fails_its_runs_while_the_other_release_goes_on(local_peers, edge_releases) -> None:
    old, new = edge_releases.versions[0], edge_releases.versions[-1]
    paused = local_peers.get(new).proc.pid
    local_peers.get(old)
    os.kill(paused, signal.SIGSTOP)
    ended: dict[str, float] = {}
    started = time.monotonic()
    try:
        runs = run_all([CASE] * 4, lambda case: [(new,), (old,)], local_peers, workers=8, conn_timeout_ms=300,
                       on_done=lambda r: ended.__setitem__(r.key[0], time.monotonic() - started))
    finally:
        try:
            os.kill(paused, signal.SIGCONT)
        except ProcessLookupError:
            pass  # killed as hung, as it should be
    by_release = {v: [r for r in runs if r.key == (v,)] for v in (old, new)}
    assert all(verdict_for(CASE, r.key, normalize_run(r)).verdict == "pass" for r in by_release[old])
    failures = [r.failure or next((s.failure for s in r.steps if s.failure), None) for r in by_release[new]]
    assert all(f and ("no response within" in f or "stopped answering" in f) for f in failures), failures
    # The old release's last run did not wait for the paused peer's timeout (0.3 s + 5 s grace).
    assert ended[old] < 5.0 < ended[new], ended


def test_what_steps_raise_and_what_on_done_raises_reach_the_caller() -> None:
    def failing():  # type: ignore[no-untyped-def]
        raise ValueError("a bug in a run")
        yield  # noqa: unreachable - makes this a generator

    def fine():  # type: ignore[no-untyped-def]
        return "ok"
        yield  # noqa: unreachable

    with pytest.raises(ValueError, match="a bug in a run"):
        run_many([fine, failing, fine], workers=2)
    seen: list[str] = []

    def on_done(value: str) -> None:
        seen.append(value)
        raise KeyError("on_done failed")
    with pytest.raises(KeyError, match="on_done failed"):
        run_many([fine] * 5, workers=1, on_done=on_done)
    assert seen == ["ok"]  # no run started after the failure
    assert run_many([fine] * 3, workers=2) == ["ok"] * 3  # the reactor goes on


def test_a_blocking_wait_on_the_reactor_thread_is_refused(local_peers, edge_releases) -> None:
    peer = local_peers.get(edge_releases.versions[-1])

    def blocking():  # type: ignore[no-untyped-def]
        peer.call("hello", {})
        yield Await(peer, peer.send("hello", {}), 5)

    with pytest.raises(RuntimeError, match="reactor thread"):
        run_many([blocking], workers=1)

    def awaiting():  # type: ignore[no-untyped-def]
        return (yield Await(peer, peer.send("hello", {}), 5))["protocol"]
    assert run_many([awaiting], workers=1) == [peer.hello["protocol"]]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this system")
def test_local_peers_run_every_thread_under_sched_batch(local_peers, edge_releases) -> None:
    for release in [*edge_releases.versions, PYTHON_PEER]:
        pid = local_peers.get(release).proc.pid
        policies = {int(t): os.sched_getscheduler(int(t)) for t in os.listdir(f"/proc/{pid}/task")}
        assert len(policies) > 1 and set(policies.values()) == {os.SCHED_BATCH}, (release, policies)


def _timer_slack(tid: int | str) -> int:
    return int(Path(f"/proc/{tid}/timerslack_ns").read_text())


@pytest.mark.skipif(not Path("/proc/self/timerslack_ns").exists(), reason="no timer slack on this system")
def test_local_go_peers_start_with_a_millisecond_of_timer_slack(local_peers, edge_releases) -> None:
    # Every thread: sysmon, whose 20 µs sleeps the slack is for, is the runtime's first.
    # tlspeerd keeps the system's default, and so does the thread that started them.
    default = _timer_slack(threading.get_native_id())
    if default == local.GO_TIMER_SLACK_NS:
        pytest.skip("the tests already run with the Go peers' timer slack: nothing tells them apart")
    for release in [*edge_releases.versions, PYTHON_PEER]:
        peer = local_peers.get(release)
        slack = {_timer_slack(t) for t in os.listdir(f"/proc/{peer.proc.pid}/task")}
        assert slack == {default if release == PYTHON_PEER else local.GO_TIMER_SLACK_NS}, (release, slack)
    assert _timer_slack(threading.get_native_id()) == default


#: A command that starts tlspeerd, then, once the interpreter is exiting (atexit runs
#: after concurrent.futures has stopped taking work), kills it and waits for the reactor
#: to record its end, as a peer that a command's last moments outlive.
_END_READ_AT_EXIT = """
import atexit, os, signal, time
from tlsdiff.peers.pool import python_peer_argv
from tlsdiff.peers.protocol import PeerProcess
peer = PeerProcess("python", python_peer_argv())
peer.start(timeout=20)
def at_exit():
    os.kill(peer.proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while peer.dead is None and time.monotonic() < deadline:
        time.sleep(0.01)
    print("dead:", peer.dead, flush=True)
atexit.register(at_exit)
"""


def test_a_peer_that_ends_while_the_command_exits_is_recorded_without_a_traceback() -> None:
    # A fuzz campaign once printed "cannot schedule new futures after interpreter
    # shutdown" under its summary: a peer's end, read that late, went to the helper
    # threads, which no longer take work.
    done = subprocess.run([sys.executable, "-c", _END_READ_AT_EXIT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("dead: ") and "None" not in done.stdout, (done.stdout, done.stderr)
