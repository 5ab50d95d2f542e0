#!/usr/bin/env python3
"""How many stimuli a second does `tlsdiff fuzz` run, each answered by every release?

    python benchmarks/fuzz.py [--go all] [--count N] [--workers N] [--batch N] [--repeat N] [--profile] [--json PATH]

Every figure comes from this one invocation and is printed, never asserted:

- the campaign's own loop (`Campaign.fuzz`: draw, run each batch on every release through
  one `Run` with the next batches ahead, reduce to outcomes, group), without minimizing, for
  three mixes of bases: single-connection only, the campaign's mix (single-connection
  bases drawn twice as often), two-connection only; stimuli/s and handshakes/s;
- where the CPU went, per process: the harness (its threads), its normalizer workers,
  tlspeerd (the Python peer), the Go peers, in milliseconds per handshake;
- with --repeat N, N rounds of the three mixes taking turns, each on the same stimuli:
  each mix's median round is its figure, and every round's rate is printed beside it
  (this machine's speed drifts by tens of percent within minutes);
- the machine's speed at each round, measured right before it: TLS 1.3 handshakes a
  second made by Go alone (`selfbench`, both ends in the newest release's peer, one P),
  as benchmarks/run.py's floor makes them: how fast one core was at that moment (this
  machine's drifts by a third within minutes), to compare figures across machines and
  days. It does not predict a round, whose nine processes contend for two cores;
- with --profile, cProfile of the harness's threads and of tlspeerd's (its loop thread,
  which drives every connection, and its request threads), the profiles added up, the
  top functions by own time;
- whether the campaign reaches the target: 50 stimuli/s (400 handshakes/s) on 2 cores.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tlsdiff import arguments  # noqa: E402
from tlsdiff.errors import UserError  # noqa: E402
from tlsdiff.fuzz.bases import all_bases  # noqa: E402
from tlsdiff.fuzz.campaign import DEFAULT_BATCH, Campaign  # noqa: E402
from tlsdiff.fuzz.command import DEFAULT_WORKERS, MAX_BATCH  # noqa: E402
from tlsdiff.fuzz.outcome import Known  # noqa: E402
from tlsdiff.peers import local  # noqa: E402
from tlsdiff.peers.pool import PYTHON_PEER, pool_key  # noqa: E402
from tlsdiff.peers.reactor import reactor  # noqa: E402
from tlsdiff.runs import Run  # noqa: E402

from run import Kind, kind_params  # benchmarks/run.py: the floor's request for a kind of connection
from tables import cpu_name, table  # benchmarks/tables.py (this folder is on sys.path when run)

TARGET_STIMULI = 50.0
#: Stimuli per mix: twenty batches. A campaign pays once what each mix pays here (the
#: last batch waiting for its slowest stimulus, up to the 2 s connection timeout; a new
#: normalizer worker with an empty decode cache): at 320 stimuli that was a fifth of the
#: time, and the campaign mix measured 25-26 stimuli/s where 1,280 measured 32-33, minutes
#: apart on the same machine.
DEFAULT_COUNT = 1280
TARGET_CORES = 2
# tlspeerd with each request under cProfile (its worker threads serve many, and the thread
# that reads the requests answers those that never wait; a pair's accept runs in a
# thread of its own, profiled when it ends), and each callback of its
# loop thread, which drives every connection's handshake (that thread never ends: its
# profile goes on across callbacks); the profiles added up and dumped every 1,000 loop
# callbacks and every 100 requests (the process is killed at the end, not asked to exit),
# each tlspeerd process to a file of its own (peers/pool.py runs two on two cores).
_PROFILED_PEER = """
import cProfile, os, pstats, threading, time
import tlspeer.eventloop as eventloop
import tlspeerd.serve as serve
lock, state = threading.Lock(), {"stats": None, "n": 0, "callbacks": 0}
loop_profile = cProfile.Profile(time.thread_time)
def dump():
    out = pstats.Stats(loop_profile) if state["callbacks"] else None  # a fresh snapshot
    if state["stats"] is not None:
        out = state["stats"] if out is None else out.add(state["stats"])
    if out is not None:
        out.dump_stats(f"{os.environ['TLSDIFF_BENCH_PROFILE']}.{os.getpid()}")
def profiled(work):
    def run(*args):
        p = cProfile.Profile(time.thread_time); p.enable()
        try: return work(*args)
        finally:
            p.disable()
            with lock:
                state["stats"] = pstats.Stats(p) if state["stats"] is None else state["stats"].add(p) or state["stats"]
                state["n"] += 1
                if state["n"] % 100 == 0 and not state["callbacks"]: dump()
    return run
guarded = eventloop.EventLoop._guarded
def profiled_guarded(self, fn):
    if threading.current_thread().name == "connections":  # the loop's own thread (tlspeerd/loop.py)
        loop_profile.enable()
        try: return guarded(self, fn)
        finally:
            loop_profile.disable()
            state["callbacks"] += 1
            if state["callbacks"] % 1000 == 0:
                with lock: dump()
    return guarded(self, fn)
eventloop.EventLoop._guarded = profiled_guarded
workers_init = serve._Workers.__init__
serve._Workers.__init__ = lambda self, serve_one: workers_init(self, profiled(serve_one))
respond, reader, inside = serve.respond, threading.get_ident(), threading.local()
def respond_on_reader(peer, op, params):  # a quick request, once (not again for each of a batch's)
    if threading.get_ident() != reader or getattr(inside, "on", False):
        return respond(peer, op, params)
    inside.on = True
    try: return profiled(respond)(peer, op, params)
    finally: inside.on = False
serve.respond = respond_on_reader
thread_run = threading.Thread.run
threading.Thread.run = lambda self: thread_run(self) if self.name in ("worker", "connections") else profiled(thread_run)(self)
serve.main()
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class ThreadProfiles:
    """cProfile in every thread started from now on (the batches ahead, the helpers), and in
    the reactor's, which runs every run's steps and started with the first Run."""

    def __init__(self) -> None:
        self.stats: pstats.Stats | None = None
        self.lock = threading.Lock()
        self._run = threading.Thread.run

    def __enter__(self) -> "ThreadProfiles":
        original, me = self._run, self

        def profiled(thread: threading.Thread) -> None:
            p = cProfile.Profile(time.thread_time)
            p.enable()
            try:
                original(thread)
            finally:
                p.disable()
                with me.lock:
                    if me.stats is None:
                        me.stats = pstats.Stats(p)
                    else:
                        me.stats.add(p)
        threading.Thread.run = profiled  # type: ignore[method-assign]
        self.reactor_profile = cProfile.Profile(time.thread_time)
        self._on_reactor(self.reactor_profile.enable)
        return self

    def __exit__(self, *exc: object) -> None:
        threading.Thread.run = self._run  # type: ignore[method-assign]
        self._on_reactor(self.reactor_profile.disable)
        with self.lock:
            if self.stats is None:
                self.stats = pstats.Stats(self.reactor_profile)
            else:
                self.stats.add(self.reactor_profile)

    @staticmethod
    def _on_reactor(fn: Callable[[], None]) -> None:
        done = threading.Event()
        reactor().call_soon(lambda: (fn(), done.set()))
        done.wait()


def top(stats: pstats.Stats | None, n: int = 15) -> list[list[str]]:
    """Rows: calls, own CPU seconds summed, function (a call that waits costs only what it computes)."""
    if stats is None:
        return [["calls", "own s", "function"]]
    rows = []
    for (path, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.replace(str(REPO_ROOT) + "/", "").replace(sys.prefix, "<python>")
        rows.append((tt, nc, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    return [["calls", "own s", "function"]] + [[str(nc), f"{tt:.2f}", fn[-90:]] for tt, nc, fn in rows[:n]]


def median_round(got: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose rate is the median (the lower middle of an even number)."""
    return sorted(got, key=lambda f: f["stimuli_per_second"])[(len(got) - 1) // 2]


#: The machine's speed meter: TLS 1.3 full handshakes with the server identity, verified.
METER = Kind("1.3", False, "", "", "server", "root-a")
METER_COUNT = 400


def machine_speed(run: Run) -> float:
    """TLS 1.3 handshakes a second Go alone makes now: selfbench in the newest release's
    peer of the run (its one P, so one core's worth)."""
    newest = run.releases.versions[-1]
    result = run.pool.get(newest).call("selfbench", kind_params(METER, METER_COUNT), timeout=120)
    return METER_COUNT / result["seconds"]


def measure(run: Run, label: str, bases: list, count: int, batch: int, seed: int) -> dict[str, Any]:
    pool = run.pool
    pids = {r: pool.get(r).proc.pid for r in run.releases.versions}  # type: ignore[union-attr]
    for i in range(pool.python_instances):  # every tlspeerd process (peers/pool.py)
        pids[pool_key(PYTHON_PEER, i)] = pool.get(PYTHON_PEER, instance=i).proc.pid  # type: ignore[union-attr]
    before = {r: cpu_seconds(p) for r, p in pids.items()}
    mine, kids = own_cpu()
    c = Campaign(run, Known(), seed, count=count, batch=batch, bases=bases, minimizing=False)
    c.fuzz()
    # The Run's normalizer worker lives across batches; ending it here puts its CPU in
    # RUSAGE_CHILDREN (the next mix starts another).
    run._normalizer.close()
    after = {r: cpu_seconds(p) for r, p in pids.items()}
    mine2, kids2 = own_cpu()
    s = c.stats
    hs = max(1, s.handshakes)
    go = sum(after[r] - before[r] for r in run.releases.versions)
    python = sum(after[r] - before[r] for r in pids if r not in run.releases.versions)
    return {"mix": label, "stimuli": s.stimuli, "runs": s.runs, "handshakes": s.handshakes, "seconds": s.seconds,
            "stimuli_per_second": s.stimuli / s.seconds, "handshakes_per_second": s.handshakes / s.seconds,
            "cpu_seconds": {"harness": mine2 - mine, "normalizer workers": kids2 - kids,
                            "tlspeerd": python, "Go peers": go},
            "cpu_ms_per_handshake": {"harness": 1000 * (mine2 - mine) / hs,
                                     "normalizer workers": 1000 * (kids2 - kids) / hs,
                                     "tlspeerd": 1000 * python / hs,
                                     "Go peers": 1000 * go / hs}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--go", default="all", help="releases (default all)")
    p.add_argument("--count", type=arguments.whole(1, 100000), default=DEFAULT_COUNT,
                   help=f"stimuli per mix (default {DEFAULT_COUNT})")
    p.add_argument("--workers", type=arguments.workers, default=DEFAULT_WORKERS,
                   help=f"runs in flight (default {DEFAULT_WORKERS}, as tlsdiff fuzz)")
    p.add_argument("--batch", type=arguments.whole(1, MAX_BATCH), default=DEFAULT_BATCH,
                   help=f"stimuli per batch (default {DEFAULT_BATCH}, as tlsdiff fuzz)")
    p.add_argument("--seed", type=arguments.seed, default=1)
    p.add_argument("--repeat", type=arguments.whole(1, 20), default=1,
                   help="rounds of the three mixes, taking turns; each mix's median round is the figure")
    p.add_argument("--profile", action="store_true", help="also cProfile the harness's threads and tlspeerd's")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()

    single = [b for b in all_bases() if b.connections == 1]
    double = [b for b in all_bases() if b.connections == 2]
    mixes = (("single-connection", single), ("campaign mix", None), ("two-connection", double))
    rounds: list[list[dict[str, Any]]] = [[] for _ in mixes]  # per mix, each round's figures
    speeds: list[float] = []  # per round, machine_speed right before it
    with Run(args.go, timeout=2.0, workers=args.workers) as run:
        releases = run.prepare()
        Campaign(run, Known(), 0, count=args.batch, batch=args.batch, minimizing=False).fuzz()  # warm up every peer
        for _ in range(args.repeat):  # the same stimuli every round: what differs is the machine's moment
            speeds.append(machine_speed(run))
            for (label, bases), got in zip(mixes, rounds):
                got.append(measure(run, label, bases, args.count, args.batch, args.seed))
    figures = [median_round(got) for got in rounds]
    harness_profile = peer_profile = None
    if args.profile:  # apart: a profiled tlspeerd is slower, and would change the figures above
        profile_file = Path(tempfile.mkdtemp(prefix="tlsdiff-bench-")) / "tlspeerd.prof"
        os.environ["TLSDIFF_BENCH_PROFILE"] = str(profile_file)
        local.python_peer_argv = lambda: [sys.executable, "-c", _PROFILED_PEER]  # type: ignore[assignment]
        with Run(args.go, timeout=2.0, workers=args.workers) as run:
            with ThreadProfiles() as profiles:
                Campaign(run, Known(), args.seed, count=args.count, batch=args.batch, minimizing=False).fuzz()
            harness_profile = profiles.stats
        dumps = sorted(str(f) for f in profile_file.parent.glob(profile_file.name + ".*"))  # one a tlspeerd
        peer_profile = pstats.Stats(*dumps) if dumps else None
        shutil.rmtree(profile_file.parent, ignore_errors=True)

    cores = os.cpu_count() or 0
    n = len(releases.versions)
    load = os.getloadavg()
    print()
    print(f"machine: {cores} cores ({cpu_name()}), load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (other work on the "
          f"machine takes its share), Python {platform.python_version()}; Go {', '.join(releases.versions)}")
    print(f"each stimulus runs on all {n} releases; {args.workers} runs in flight, {args.batch} stimuli a batch, "
          "connection timeout 2 s; no minimization")
    print()
    rows = [["mix", "stimuli", "handshakes", "seconds", "stimuli/s", "handshakes/s"]]
    for f in figures:
        rows.append([f["mix"], str(f["stimuli"]), str(f["handshakes"]), f"{f['seconds']:.1f}",
                     f"{f['stimuli_per_second']:.1f}", f"{f['handshakes_per_second']:.0f}"])
    print(table(rows, right={1, 2, 3, 4, 5}))
    print()
    print("CPU per handshake, by process (ms): what one handshake costs each of them")
    who = list(figures[0]["cpu_ms_per_handshake"])
    rows = [["mix", *who, "total", "cores busy"]]
    for f in figures:
        ms = f["cpu_ms_per_handshake"]
        busy = sum(f["cpu_seconds"].values()) / f["seconds"]
        rows.append([f["mix"], *(f"{ms[w]:.2f}" for w in who), f"{sum(ms.values()):.2f}", f"{busy:.2f}"])
    print(table(rows, right=set(range(1, len(who) + 3))))
    if args.repeat > 1:
        print()
        print(f"rounds: stimuli/s of each mix in each of {args.repeat} rounds (the figures above are each mix's median round)")
        rows = [["mix", *(str(i + 1) for i in range(args.repeat))]]
        for got in rounds:
            rows.append([got[0]["mix"], *(f"{f['stimuli_per_second']:.1f}" for f in got)])
        rows.append(["machine: Go alone, hs/s", *(f"{v:.0f}" for v in speeds)])
        print(table(rows, right=set(range(1, args.repeat + 1))))
    if args.profile:
        print()
        print("cProfile, the campaign mix: the harness's threads, own CPU time summed over threads")
        print(table(top(harness_profile), right={0, 1}))
        print()
        print("cProfile: tlspeerd's loop thread (every connection's handshake) and request threads, own CPU time summed")
        print(table(top(peer_profile), right={0, 1}))
    best = max(figures, key=lambda f: f["stimuli_per_second"])
    mix = next(f for f in figures if f["mix"] == "campaign mix")
    total_ms = sum(mix["cpu_ms_per_handshake"].values())
    print()
    print(f"the machine's speed: Go alone ({releases.versions[-1]}, one P) made {statistics.median(speeds):.0f} TLS 1.3 "
          f"handshakes/s before {'a round (the median of ' + str(len(speeds)) + ')' if len(speeds) > 1 else 'the round'}")
    print(f"at {total_ms:.1f} ms of CPU per handshake, {TARGET_CORES} whole cores allow at most "
          f"{TARGET_CORES * 1000 / total_ms:.0f} handshakes/s")
    meets = mix["stimuli_per_second"] >= TARGET_STIMULI
    print(f"target {TARGET_STIMULI:.0f} stimuli/s ({TARGET_STIMULI * n:.0f} handshakes/s) on {TARGET_CORES} cores: "
          f"{'yes' if meets else 'no'} (campaign mix {mix['stimuli_per_second']:.1f} stimuli/s; best "
          f"{best['stimuli_per_second']:.1f}, {best['mix']})")
    if args.json:
        args.json.write_text(json.dumps({"releases": releases.versions, "cores": cores, "cpu": cpu_name(), "load": load,
                                         "workers": args.workers, "batch": args.batch, "figures": figures,
                                         "rounds": rounds, "machine_speed": speeds,
                                         "target_met": meets}, indent=1, sort_keys=True) + "\n")
        print(f"figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
