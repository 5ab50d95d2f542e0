"""A hung or crashed peer is killed, reported with its stderr, and the run goes on."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from tlsdiff.execute import run_case
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.compare import verdict_for
from tlsdiff.paths import CASES_DIR
from tlsdiff.scenario.catalog import load_case

CASE = load_case(CASES_DIR / "resumption" / "tls13-same-server.yaml", CASES_DIR)


def _peer_pid(pool, release: str) -> int:
    return pool.get(release).proc.pid


def _fake_peer(path: Path, otherwise: str) -> Path:
    """A peer that answers hello as a protocol-2 peer and runs `otherwise` (Python, with
    the request as `req`) for any other request: a broken peer, written to path."""
    body = "".join(f"        {line}\n" for line in otherwise.splitlines())
    path.write_text("import json, sys\n"
                    "for line in sys.stdin:\n"
                    "    req = json.loads(line)\n"
                    "    if req['op'] == 'hello':\n"
                    "        print(json.dumps({'id': req['id'], 'ok': True, 'result': {'protocol': 2}}), flush=True)\n"
                    "    else:\n" + body)
    return path


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



def test_a_hung_second_tlspeer_process_is_replaced_alone_and_says_python(local_peers, edge_releases) -> None:
    """tlspeer runs in two processes (peers/pool.py); a case's Python endpoints are in the
    one its id picks. That one hanging fails its case as any peer would, naming it
    `python` as the first does (a document does not depend on which ran it), and only
    it is replaced. A campaign's messages call every tlspeer process the Python peer."""
    from tlsdiff.peers.pool import PYTHON_PEER, peer_name, python_instance
    from tlsdiff.scenario.catalog import load_cases

    local_peers.python_instances = 2
    case = next(c for c in load_cases(["binder"]) if python_instance(c.id, 2) == 1
                and any(e.peer == PYTHON_PEER for e in c.endpoints.values()))
    release = edge_releases.versions[-1]
    first = local_peers.get(PYTHON_PEER).proc.pid
    second = local_peers.get(PYTHON_PEER, instance=1).proc.pid
    os.kill(second, signal.SIGSTOP)
    run = run_case(case, (release,), local_peers, conn_timeout_ms=300)
    failure = run.failure or next(s.failure for s in run.steps if s.failure)
    assert failure.startswith("peer python: ") and "no response within" in failure, failure
    again = run_case(case, (release,), local_peers)
    assert verdict_for(case, (release,), normalize_run(again)).verdict == "pass"
    assert local_peers.get(PYTHON_PEER, instance=1).proc.pid != second
    assert local_peers.get(PYTHON_PEER).proc.pid == first
    assert set(local_peers.hangs) == {"python#2"}
    assert peer_name("python#2") == peer_name("python") == "the Python peer"
    assert peer_name("1.27.3 GODEBUG=tlsmlkem=0") == "Go 1.27.3 GODEBUG=tlsmlkem=0's peer"

def test_a_peer_that_stops_answering_twice_is_given_up_for_the_run(tmp_path) -> None:
    """A deterministic hang (here: a peer that answers hello and nothing else) costs its
    timeout twice, not once per case: then the pool refuses at once, with the stderr."""
    import sys

    from tlsdiff.peers.pool import PeerPool
    from tlsdiff.peers.protocol import PeerFailure
    import pytest

    mute = _fake_peer(tmp_path / "mute_peer.py", "print('stuck in ' + req['op'], file=sys.stderr, flush=True)")
    pool = PeerPool(lambda release: [sys.executable, str(mute)])
    try:
        for _ in range(2):
            with pytest.raises(PeerFailure, match="no response within"):
                pool.get("9.9").call("configure", {}, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(PeerFailure) as err:
            pool.get("9.9")
        assert time.monotonic() - started < 0.1
        assert "stopped answering 2 times in this run" in str(err.value)
        assert "stuck in configure" in err.value.stderr
    finally:
        pool.close()


def test_a_peer_that_stops_reading_is_killed_while_a_request_is_stuck_in_its_pipe(local_peers, edge_releases) -> None:
    """A send holds the peer's lock while it writes; to a paused peer the write blocks once
    the pipe is full. A request sent before must still time out and kill the peer (which
    fails the stuck write) instead of waiting for that lock: a fuzz campaign froze so."""
    from tlsdiff.peers.protocol import PeerFailure
    import pytest

    release = edge_releases.versions[-1]
    peer = local_peers.get(release)
    os.kill(peer.proc.pid, signal.SIGSTOP)
    sent = peer.send("hello", {})  # in the pipe, never answered
    big = {"name": "stuck", "role": "server", "config": {"rand_seed": "x" * 100_000}}  # more than a pipe holds
    # More than the pipe holds (STDIN_PIPE_SIZE).
    writer = threading.Thread(target=lambda: [peer.send("configure", big) for _ in range(16)], daemon=True)
    writer.start()
    writer.join(1.0)
    assert writer.is_alive()  # blocked in the write, holding the lock
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            peer.wait(sent, 0.5)
        except BaseException as exc:  # noqa: BLE001 - the test looks at what it was
            outcome.append(exc)
    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(15.0)
    assert not waiter.is_alive(), "the timeout could not kill the peer"
    assert len(outcome) == 1 and isinstance(outcome[0], PeerFailure) and "no response within" in str(outcome[0])
    writer.join(5.0)
    assert not writer.is_alive()  # its write failed once the process was gone
    with pytest.raises(PeerFailure):
        peer.call("hello", {}, timeout=1)
    assert local_peers.get(release).proc.pid != peer.proc.pid  # the next request gets a fresh peer


def test_a_peer_whose_response_line_never_ends_is_killed_not_read_whole(tmp_path) -> None:
    """A line without end would be read into memory whole; past MAX_LINE the peer is
    killed, and its requests fail with why (one CI run lost a process to 24 GB once)."""
    import sys

    from tlsdiff.peers import protocol
    from tlsdiff.peers.pool import PeerPool
    from tlsdiff.peers.protocol import PeerFailure
    import pytest

    endless = _fake_peer(tmp_path / "endless_peer.py",
                         "sys.stderr.write('x' * (1 << 20))  # a megabyte of standard error with no newline\n"
                         "while True:\n"
                         "    sys.stdout.write('{' * (1 << 20))")
    limit = protocol.MAX_LINE
    protocol.MAX_LINE = 8 << 20  # quicker to reach than 64 MiB; the rule is the same
    pool = PeerPool(lambda release: [sys.executable, str(endless)])
    try:
        peer = pool.get("9.9")
        with pytest.raises(PeerFailure, match="longer than 8 MiB"):
            peer.call("configure", {}, timeout=30)
        assert peer.proc.poll() is not None  # killed
        assert max(len(piece) for piece in peer._stderr_tail) <= protocol.STDERR_PIECE
    finally:
        protocol.MAX_LINE = limit
        pool.close()


def test_a_send_to_a_peer_that_stopped_reading_ends_in_time_on_its_own(tmp_path) -> None:
    """The only request to a peer that no longer reads its pipe: the write itself is
    bounded (WRITE_TIMEOUT_S), so the sender is not left waiting for another request's
    timeout to kill the peer (with none, it waited forever)."""
    import sys

    from tlsdiff.peers import protocol
    from tlsdiff.peers.pool import PeerPool
    from tlsdiff.peers.protocol import PeerFailure
    import pytest

    deaf = _fake_peer(tmp_path / "deaf_peer.py", "import time\ntime.sleep(3600)  # reads nothing more")
    limit = protocol.WRITE_TIMEOUT_S
    protocol.WRITE_TIMEOUT_S = 0.5
    pool = PeerPool(lambda release: [sys.executable, str(deaf)])
    try:
        peer = pool.get("9.9")
        peer.send("configure", {})  # the peer takes this one and stops reading
        sent: list = []
        sender = threading.Thread(target=lambda: sent.append(peer.send("configure", {"pad": "x" * (8 << 20)})),
                                  daemon=True)
        started = time.monotonic()
        sender.start()
        sender.join(timeout=20)
        assert not sender.is_alive(), "the send is still stuck in the peer's pipe"
        assert time.monotonic() - started < 5
        with pytest.raises(PeerFailure, match="took no request for 0.5 s: it stopped reading them"):
            sent[0].result(timeout=1)
        assert peer.hung and peer.proc.poll() is not None  # killed, counted as a hang
    finally:
        protocol.WRITE_TIMEOUT_S = limit
        pool.close()
