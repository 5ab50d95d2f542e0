"""Long-lived peers, one per Go release, shared by every case of a run."""
from __future__ import annotations

import functools
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .protocol import PeerFailure, PeerProcess

#: The pool key of tlspeer, the Python TLS implementation, which speaks the same
#: control protocol as the Go peers (python-peer/tlspeerd/serve.py).
PYTHON_PEER = "python"


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
    the local runner, `docker run -i ...` for the docker runner. on_exit is handed
    to every peer (PeerProcess.on_exit): the runner's cleanup once a peer is over.
    check, if given, vets each started peer's hello (raises PeerFailure): the
    external runner's peers must stay the binary the run is about. exit_text,
    given the release, is each peer's PeerProcess.exit_text.
    """

    make_argv: Callable[[str], list[str]]
    start_timeout: float = 20.0
    on_exit: Callable[[PeerProcess], None] | None = None
    check: Callable[[PeerProcess], None] | None = None
    exit_text: Callable[[str, int], str] | None = None
    env: Mapping[str, str] | None = None  # every peer's environment (PeerProcess.env)
    _peers: dict[str, PeerProcess] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: dict[str, int] = field(default_factory=dict)
    hangs: dict[str, int] = field(default_factory=dict)
    given_up: dict[str, PeerFailure] = field(default_factory=dict)  # release -> why it is not started again

    def get(self, release: str) -> PeerProcess:
        with self._lock:
            release_lock = self._locks.setdefault(release, threading.Lock())
        # One lock per release: a restart of one peer does not stall the others.
        with release_lock:
            if release in self.given_up:
                raise self.given_up[release]
            peer = self._peers.get(release)
            if peer is not None and not peer.dead:
                return peer
            if peer is not None and peer.hung:
                self.hangs[release] = self.hangs.get(release, 0) + 1
                peer.hung = False  # counted once
                if self.hangs[release] >= MAX_HANGS:
                    self.given_up[release] = PeerFailure(
                        release, f"stopped answering {self.hangs[release]} times in this run ({peer.dead}); "
                                 "not started again", peer.stderr())
                    raise self.given_up[release]
            if peer is not None:
                self.restarts[release] = self.restarts.get(release, 0) + 1
            exit_text = functools.partial(self.exit_text, release) if self.exit_text else None
            peer = PeerProcess(release, self.make_argv(release), on_exit=self.on_exit, exit_text=exit_text,
                               env=self.env)
            try:
                peer.start(timeout=self.start_timeout)
                if self.check is not None:
                    self.check(peer)
            except PeerFailure:
                if peer.hung:  # silent from its first hello (a paused peer): a hang too
                    self._peers[release] = peer
                raise
            except Exception as exc:  # the binary is missing or not executable
                peer.kill(f"cannot start: {exc}")
                raise PeerFailure(release, f"cannot start: {exc}", peer.stderr()) from None
            self._peers[release] = peer
            return peer

    def close(self) -> None:
        with self._lock:
            peers, self._peers = list(self._peers.values()), {}
        for p in peers:
            p.close()
