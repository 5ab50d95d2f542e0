"""Long-lived peers, one per Go release (and per GODEBUG a case asks for), and
tlspeer in PYTHON_INSTANCES processes, shared by every case of a run."""
from __future__ import annotations

import functools
import os
import sys
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..scenario.model import PYTHON_PEER
from .protocol import PeerFailure, PeerProcess, Unsupported

__all__ = ["MAX_HANGS", "PYTHON_INSTANCES", "PYTHON_PEER", "PeerPool", "peer_label", "peer_name", "pool_key",
           "python_instance", "python_peer_argv", "startup_refusal"]

#: PYTHON_PEER is the pool key of tlspeer, the Python TLS implementation, which speaks
#: the same control protocol as the Go peers (python-peer/tlspeerd/serve.py).

#: tlspeer processes a pool spreads its runs over. One interpreter runs one thread at a
#: time, and tlspeerd is the busiest single process of a run (about two thirds of a core
#: in a fuzz campaign): while every run in flight waited on it, the second core idled,
#: 9-13% of the time in windows of 50 ms. With two, a campaign kept 1.95 of 2 cores busy
#: against 1.76-1.86 (docs/fuzz.md).
PYTHON_INSTANCES = 2 if (os.cpu_count() or 1) > 1 else 1

#: How a runner starts a release's peer under a GODEBUG value: its command and environment.
GodebugLaunch = Callable[[str, str], tuple[list[str], Mapping[str, str] | None]]


def python_instance(case_id: str, instances: int) -> int:
    """Which tlspeer process runs a case's Python endpoints: all of them in one (they share
    caches and listeners), and every run of the case in the same one, whatever the
    releases (a stimulus's eight runs share its keys, which tlspeerd remembers)."""
    return zlib.crc32(case_id.encode()) % instances if instances > 1 else 0


def peer_label(release: str, godebug: str = "") -> str:
    """How a peer process is named in messages and keyed in the pool: "1.27.3", or
    "1.27.3 GODEBUG=tlsmlkem=0" for a peer started under a GODEBUG."""
    return f"{release} GODEBUG={godebug}" if godebug else release


def pool_key(label: str, instance: int = 0) -> str:
    """How the pool keys a peer: its label, and a tlspeer process after the first, its number too."""
    return f"{label}#{instance + 1}" if instance else label


def peer_name(key: str) -> str:
    """How a message names the peer at a pool key: "Go 1.27.3's peer", and every tlspeer
    process, whichever its number, "the Python peer"."""
    label, _, number = key.rpartition("#")  # pool_key's "#2" and on
    if key == PYTHON_PEER or (label == PYTHON_PEER and number.isdigit()):
        return "the Python peer"
    return f"Go {key}'s peer"


def startup_refusal(peer: PeerProcess) -> str | None:
    """The Go runtime's one line, if the peer's process exited on its own before its hello
    (a 1.27 runtime aborts on a removed GODEBUG setting with its old value); else None."""
    code, stderr = peer.exit_stderr()
    if peer.hung or code is None or code <= 0:  # still running, hung, or killed by a signal
        return None
    return next((line.strip() for line in stderr.splitlines()
                 if line.startswith(("fatal error: ", "panic: "))), None)


def python_peer_argv() -> list[str]:
    """tlspeer runs with the harness's own interpreter, as a separate process, isolated
    (-I): not from the working directory, PYTHONPATH or the user's site folder, so a
    folder that happens to hold a `tlspeerd/` cannot put its code in the run."""
    return [sys.executable, "-I", "-m", "tlspeerd"]


#: A peer that stops answering this many times in a run is not started again: a
#: deterministic hang would otherwise cost its full timeout on every later case.
MAX_HANGS = 2


@dataclass
class PeerPool:
    """Starts a peer per release on first use and restarts it after a failure; a peer
    that stops answering twice is marked failed for the rest of the run.

    make_argv gives the command that starts the peer of a release: the binary for
    the local runner, `docker run -i ...` for the docker runner. godebug_launch
    gives the command and environment of a release's peer under a GODEBUG value
    (a process of its own: the runtime reads most settings once, at start); a runner
    without one cannot, and such a peer is Unsupported with no_godebug. on_exit is
    handed to every peer (PeerProcess.on_exit): the runner's cleanup once a peer is
    over. check, if given, vets each started peer's hello (raises PeerFailure): the
    external runner's peers must stay the binary the run is about. started, if given,
    is what the runner does to each peer once it has answered (local.py: how the
    kernel schedules it). exit_text, given the release, is each peer's
    PeerProcess.exit_text.

    Peers are keyed by pool_key: peer_label(release, godebug), and for tlspeer's
    processes after the first, their number ("python#2"). A GODEBUG peer whose runtime
    exits at startup (startup_refusal) is Unsupported for the rest of the run, with
    the runtime's message.
    """

    make_argv: Callable[[str], list[str]]
    start_timeout: float = 20.0
    on_exit: Callable[[PeerProcess], None] | None = None
    check: Callable[[PeerProcess], None] | None = None
    started: Callable[[PeerProcess], None] | None = None
    exit_text: Callable[[str, int], str] | None = None
    env: Mapping[str, str] | None = None  # every peer's environment (PeerProcess.env)
    timer_slack: Callable[[str], int] | None = None  # release -> its peer's PeerProcess.timer_slack_ns
    godebug_launch: GodebugLaunch | None = None
    no_godebug: str = "this runner cannot start a peer with a GODEBUG of its own"
    hello_params: Mapping[str, Any] = field(default_factory=dict)  # each peer's hello asks this (PeerProcess)
    _peers: dict[str, PeerProcess] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: dict[str, int] = field(default_factory=dict)
    hangs: dict[str, int] = field(default_factory=dict)
    given_up: dict[str, PeerFailure] = field(default_factory=dict)  # key -> why it is not started again
    refused: dict[str, Unsupported] = field(default_factory=dict)  # key -> its runtime refused its GODEBUG
    failed_at_rest: dict[str, str] = field(default_factory=dict)  # key -> what its peer did between runs
    python_instances: int = PYTHON_INSTANCES  # tlspeer processes runs are spread over (python_instance)
    _godebug_keys: set[str] = field(default_factory=set)  # keys of peers started under a GODEBUG of their own

    def get(self, release: str, godebug: str = "", instance: int = 0) -> PeerProcess:
        """The running peer of a release (under a GODEBUG value; tlspeer's process number
        `instance`), started or restarted as needed."""
        label = peer_label(release, godebug)
        key = pool_key(label, instance)
        self._refuse(key, label, godebug)
        with self._lock:
            peer_lock = self._locks.setdefault(key, threading.Lock())
        # One lock per peer: a restart of one peer does not stall the others.
        with peer_lock:
            self._refuse(key, label, godebug)  # given up or refused while this thread waited
            peer = self._peers.get(key)
            if peer is not None and not peer.dead:
                return peer
            if peer is not None and peer.hung:
                self.hangs[key] = self.hangs.get(key, 0) + 1
                peer.hung = False  # counted once
                if self.hangs[key] >= MAX_HANGS:
                    self.given_up[key] = PeerFailure(
                        label, f"stopped answering {self.hangs[key]} times in this run ({peer.dead}); "
                               "not started again", peer.stderr())
                    raise self.given_up[key]
            if peer is not None:
                self.restarts[key] = self.restarts.get(key, 0) + 1
            exit_text = functools.partial(self.exit_text, release) if self.exit_text else None
            if godebug:
                assert self.godebug_launch is not None
                argv, env = self.godebug_launch(release, godebug)
                self._godebug_keys.add(key)
            else:
                argv, env = self.make_argv(release), self.env
            # Every tlspeer process is labelled "python" in what it says: a run's messages
            # do not depend on which of them ran it.
            peer = PeerProcess(label, argv, on_exit=self.on_exit, exit_text=exit_text, env=env,
                               timer_slack_ns=self.timer_slack(release) if self.timer_slack else 0,
                               hello_params=dict(self.hello_params))
            try:
                peer.start(timeout=self.start_timeout)
                if self.check is not None:
                    self.check(peer)
                if self.started is not None:
                    self.started(peer)
            except PeerFailure:
                if peer.hung:  # silent from its first hello (a paused peer): a hang too
                    self._peers[key] = peer
                elif godebug and (refusal := startup_refusal(peer)) is not None:
                    self.refused[key] = Unsupported(label, refusal)
                    raise self.refused[key] from None
                raise
            except Exception as exc:  # the binary is missing or not executable
                peer.kill(f"cannot start: {exc}")
                raise PeerFailure(label, f"cannot start: {exc}", peer.stderr()) from None
            self._peers[key] = peer
            return peer

    def ready(self, release: str, godebug: str = "", instance: int = 0) -> PeerProcess | None:
        """The running peer get would give, without waiting: None when it would have to
        start one (or wait for another thread starting it). Raises as get does for a
        peer given up or refused."""
        label = peer_label(release, godebug)
        key = pool_key(label, instance)
        self._refuse(key, label, godebug)
        peer = self._peers.get(key)
        return peer if peer is not None and not peer.dead else None

    def _refuse(self, key: str, label: str, godebug: str) -> None:
        """Raise what stands against this peer ever running: a GODEBUG this runner cannot
        set, a GODEBUG the release refused at start-up, a peer given up."""
        if godebug and self.godebug_launch is None:
            raise Unsupported(label, self.no_godebug)
        if key in self.refused:
            raise self.refused[key]
        if key in self.given_up:
            raise self.given_up[key]

    def running(self) -> dict[str, PeerProcess]:
        """The live peers by key ("1.27.3", "1.27.3 GODEBUG=tlsmlkem=0", "python", "python#2")."""
        with self._lock:
            return {key: p for key, p in self._peers.items() if not p.dead}

    def flush_drops(self, timeout: float = 10.0) -> None:
        """Every running peer's held-back drops, sent and awaited (PeerProcess.flush_drops).
        A peer that leaves them unanswered, no run's failure, is killed (the next run
        starts it again) and noted in `failed_at_rest`."""
        for key, peer in self.running().items():
            if peer.flush_drops(timeout):
                with self._lock:
                    self.failed_at_rest[key] = peer.dead or "killed"

    def close_godebug(self) -> int:
        """Close the peers started under a GODEBUG of their own, and say how many: a fuzz
        campaign's known cases start them (eight releases times each setting the cases
        name) and its stimuli set none, so they would otherwise idle for the whole
        campaign. A later get starts one again."""
        with self._lock:
            peers = [self._peers.pop(key) for key in list(self._peers) if key in self._godebug_keys]
        self._close_all(peers)
        return len(peers)

    def close(self) -> None:
        with self._lock:
            peers, self._peers = list(self._peers.values()), {}
        self._close_all(peers)

    @staticmethod
    def _close_all(peers: list[PeerProcess]) -> None:
        for p in peers:  # all asked first: forty peers exiting one after another took 0.2 s
            p.ask_to_exit()
        for p in peers:
            p.close()
