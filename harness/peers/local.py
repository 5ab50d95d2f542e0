"""The local runner: each Go release's peer is a subprocess of the harness."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from .pool import PYTHON_PEER, PeerPool, python_peer_argv
from .protocol import PeerProcess

#: Go runtime settings for the peers, unless the user's environment sets them. A run
#: has up to nine peers on the machine's cores, each serving a few connections at a
#: time: with one P per core every Go runtime spins idle threads looking for work,
#: and collects garbage often. One P and a lazier collector cut the Go peers' CPU
#: time by about a quarter on 2 cores; what they observe does not change.
GO_RUNTIME_ENV = {"GOMAXPROCS": "1", "GOGC": "400"}

#: The timer slack a Go peer starts with: 1 ms (Linux's default is 50 µs). Each time a
#: peer's P goes from idle to busy, its runtime wakes sysmon, which then sleeps 20 µs at
#: a time until the P is idle again, each sleep a context switch: in a fuzz campaign,
#: 12.7 nanosleeps for each connection a 1.27.3 peer took part in, a fifth of its system
#: calls (a third with the futex calls that wake sysmon). With the slack those sleeps
#: last about a millisecond (3.4 times fewer), and sysmon's own work (preempting a
#: goroutine, retaking a P, polling the network) is on a 10 ms scale. Timeouts a case
#: sees are seconds long; what a peer observes does not change.
GO_TIMER_SLACK_NS = 1_000_000


def peer_env() -> dict[str, str]:
    """The harness's environment with GO_RUNTIME_ENV's defaults filled in."""
    return {**GO_RUNTIME_ENV, **os.environ}


def schedule_as_batch(peer: PeerProcess) -> None:
    """Every thread of a peer under SCHED_BATCH, once it has answered its hello: a peer
    woken by a request then waits for the harness to block or for the scheduler's tick,
    where it took the harness's core at once. The harness writes to several peers in a
    row, and was preempted after each write (13,000 involuntary switches in a default
    run, against 3,000); the run took a tenth longer. The peers still get the cores
    whenever the harness waits, and what they observe does not change. Threads a peer
    starts later inherit the policy; no privilege is needed to lower one's own."""
    if peer.proc is None or not hasattr(os, "SCHED_BATCH"):
        return
    for _ in range(2):  # a thread started while the first pass ran
        try:
            tids = os.listdir(f"/proc/{peer.proc.pid}/task")
        except OSError:
            return
        for tid in tids:
            try:
                os.sched_setscheduler(int(tid), os.SCHED_BATCH, os.sched_param(0))
            except OSError:
                pass  # exited meanwhile, or a kernel that refuses: the run is only slower


def local_pool(binaries: Mapping[str, Path]) -> PeerPool:
    """A pool that starts the cached binary of each release directly, and tlspeer.

    binaries is read when a peer starts, so releases added to it later (the releases
    cases pin, prepared as the run meets them) have peers too. A peer under a GODEBUG
    value gets exactly that GODEBUG, whatever the harness's environment says."""
    env = peer_env()

    def with_godebug(release: str, godebug: str) -> tuple[list[str], Mapping[str, str]]:
        return [str(binaries[release])], {**env, "GODEBUG": godebug}

    return PeerPool(lambda release: python_peer_argv() if release == PYTHON_PEER else [str(binaries[release])],
                    env=env, godebug_launch=with_godebug, started=schedule_as_batch,
                    timer_slack=lambda release: 0 if release == PYTHON_PEER else GO_TIMER_SLACK_NS)
