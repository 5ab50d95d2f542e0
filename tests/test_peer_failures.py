"""A hung or crashed peer is killed, reported with its stderr, and the run goes on."""
from __future__ import annotations

import os
import signal
import threading
import time

from tlsdiff.execute import run_case
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.compare import verdict_for
from tlsdiff.paths import CASES_DIR
from tlsdiff.scenario.load import load_case

CASE = load_case(CASES_DIR / "resumption" / "tls13-same-server.yaml", CASES_DIR)


def _peer_pid(pool, release: str) -> int:
    return pool.get(release).proc.pid


def test_hung_peer_is_killed_and_replaced(local_peers, edge_releases) -> None:
    release = edge_releases.versions[-1]
    pid = _peer_pid(local_peers, release)
    os.kill(pid, signal.SIGSTOP)  # the peer stops answering, as a deadlocked one would
    started = time.monotonic()
    run = run_case(CASE, (release,), local_peers, conn_timeout_ms=300)
    assert time.monotonic() - started < 20
    failure = run.failure or next(s.failure for s in run.steps if s.failure)
    assert "no response within" in failure
    verdict = verdict_for(CASE, (release,), normalize_run(run))
    assert verdict.verdict == "error"
    # The next case gets a fresh peer and passes.
    again = run_case(CASE, (release,), local_peers)
    assert verdict_for(CASE, (release,), normalize_run(again)).verdict == "pass"
    assert _peer_pid(local_peers, release) != pid


def test_crashed_peer_mid_case_is_reported_and_run_goes_on(local_peers, edge_releases) -> None:
    release = edge_releases.versions[0]
    pid = _peer_pid(local_peers, release)
    # Freeze the peer so the case is surely waiting on it, then kill it: a crash mid-case.
    os.kill(pid, signal.SIGSTOP)
    threading.Timer(0.3, lambda: os.kill(pid, signal.SIGKILL)).start()
    run = run_case(CASE, (release,), local_peers)
    verdict = verdict_for(CASE, (release,), normalize_run(run))
    assert verdict.verdict == "error"
    assert "exited with status -9" in verdict.reason
    again = run_case(CASE, (release,), local_peers)
    assert verdict_for(CASE, (release,), normalize_run(again)).verdict == "pass"
