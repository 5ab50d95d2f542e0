"""Normalizing observations on two cores: this process and one worker.

Decoding every connection's bytes (normalize_run) costs about as much CPU as
running the cases. A worker process (`python -m tlsdiff.observe.parallel`) is
handed each run as it finishes, so it normalizes while the cases run, on the core
the peers leave idle. It lives as long as the `Normalizer` (a `tlsdiff.Run`), so a
fuzz campaign's hundreds of `Run.run` calls share one worker, and its decode cache,
instead of starting one each.

Each `Run.run` call is a `Batch`; several may be under way at once. At most
`WINDOW` runs are in the worker's hands at a time. `Run.run` takes each case's
documents once the worker has returned them all (`returned`) and compares the
case while later cases run; when a batch's last case has run, this process
normalizes the batch's runs not yet handed over from the newest while the worker
goes on from the oldest. Each run's document depends on that
run alone (its own Labeler), so the documents, returned in run order, are those
of normalizing the runs one after another. Should the worker die, this process
normalizes what it did not return, and the next batch starts a new worker.
"""
from __future__ import annotations

import copy
import itertools
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Sequence

from .. import early
from ..collection import collect_less
from ..execute import CaseRun
from ..memory import trim_periodically
from .normalize import normalize_run, observed_steps

#: A batch of fewer runs than this starts no worker (one already running still
#: helps): a second process would cost more (its start-up, the pickling) than it saves.
MIN_RUNS = 200
#: Runs handed to the worker and not yet returned: small, so that at the end of a
#: batch the worker's backlog is short and this process takes the rest.
WINDOW = 8
#: A run takes the worker milliseconds; one that holds a run this long is stuck, and is
#: killed (what it held is normalized here).
STUCK_S = 60.0


class Normalizer:
    """normalize_run on two cores, for every batch of runs of one Run."""

    def __init__(self) -> None:
        # One lock, two conditions: waking a thread for nothing costs more here than
        # the rest of handing a run over (a notify_all of every event woke the hand-over
        # thread and each batch's end as well: a tenth of a fuzz campaign's harness CPU).
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # documents returned, or the worker over
        self._work = threading.Condition(lock)  # a run to hand over, or room in the WINDOW
        self._worker: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self._tickets = itertools.count(1)
        self._waiting: deque[tuple[int, CaseRun, bool]] = deque()  # submitted (with outcome_only), not yet handed over
        self._handed: set[int] = set()  # in the worker's hands
        self._docs: dict[int, dict[str, Any]] = {}  # returned by the worker, not yet collected
        self._lost: set[int] = set()  # handed to a worker that died

    def batch(self, expected_runs: int, outcome_only: bool = False) -> "Batch":
        """A batch of about expected_runs runs (one Run.run call); outcome_only: its
        documents hold only what agreement classes read (normalize_run)."""
        with self._cond:
            use = self._worker is not None and self._worker.poll() is None
            if not use and expected_runs >= MIN_RUNS and (os.cpu_count() or 1) > 1:
                use = self._start()
        return Batch(self if use else None, outcome_only)

    def close(self) -> None:
        """End the worker once it has returned what it holds (a later batch may start another)."""
        with self._cond:
            worker, threads = self._worker, self._threads
            self._worker, self._threads = None, []
            self._cond.notify_all()
            self._work.notify_all()
        if worker is None:
            return
        for t in threads:
            t.join()
        _end(worker)

    # -- the worker -------------------------------------------------------------

    def _start(self) -> bool:
        """Start a worker (self._cond held); False if it cannot be started. The threads
        of one that died end on their own: they serve only the worker they were given."""
        argv, env = worker_command()
        try:
            # stderr: a failure is met again, and reported, in this process
            worker = early.take(argv, env, subprocess.DEVNULL) or subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError:
            return False
        self._worker = worker
        self._threads = [threading.Thread(target=self._hand_over, args=(worker,), daemon=True),
                         threading.Thread(target=self._collect, args=(worker,), daemon=True)]
        for t in self._threads:
            t.start()
        return True

    def _hand_over(self, worker: subprocess.Popen) -> None:
        assert worker.stdin is not None
        try:
            while True:
                with self._cond:
                    while self._worker is worker and (not self._waiting or len(self._handed) >= WINDOW):
                        self._work.wait()
                    if self._worker is not worker:
                        break
                    ticket, run, outcome_only = self._waiting.popleft()
                    self._handed.add(ticket)
                _share_equal_streams(run)
                pickle.dump((ticket, observed_steps(run.case), outcome_only, _without_case(run)), worker.stdin,
                            protocol=pickle.HIGHEST_PROTOCOL)
                worker.stdin.flush()
        except OSError:  # the worker is gone: _collect counts what it held as lost
            pass
        finally:
            try:
                worker.stdin.close()  # the worker finishes what it holds, then exits
            except OSError:
                pass

    def _collect(self, worker: subprocess.Popen) -> None:
        assert worker.stdout is not None
        while True:
            try:
                ticket, doc = pickle.load(worker.stdout)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError):
                break
            with self._cond:
                room = len(self._handed) >= WINDOW  # the hand-over may be waiting for it
                self._handed.discard(ticket)
                self._docs[ticket] = doc
                self._cond.notify_all()
                if room:
                    self._work.notify()
        with self._cond:  # the worker is over: what it held is this process's to do
            self._lost |= self._handed
            self._handed.clear()
            if self._worker is worker:
                self._worker = None
            self._cond.notify_all()
            self._work.notify_all()


def _share_equal_streams(run: CaseRun) -> None:
    """Make each stream both sides recorded alike one object, which pickle then writes
    once: a connection's bytes are in its client's `written` and its server's `read`
    (and the other way), and both sides log the same secrets. A default run's pickles
    went from 44.6 to 35.2 MB."""
    for step in run.steps:
        client, server = step.client, step.server
        if not client or not server:
            continue
        for mine, theirs in (("written", "read"), ("read", "written"), ("keylog", "keylog")):
            value = client.get(mine)
            if value and server.get(theirs) == value:
                server[theirs] = value


def _without_case(run: CaseRun) -> CaseRun:
    """The run as the worker needs it: its case (endpoints, steps, expectations) was
    a third of the pickling and unpickling, and normalizing reads only which steps are
    observed, sent beside it."""
    slim = copy.copy(run)
    slim.case = None  # type: ignore[assignment]
    return slim


class Batch:
    """The runs of one Run.run call: submitted as they finish; their documents as the
    worker returns them (`returned`) or at the end (`normalize`)."""

    def __init__(self, normalizer: Normalizer | None, outcome_only: bool = False) -> None:
        self._n = normalizer  # None: everything is normalized in this process
        self.outcome_only = outcome_only
        self._tickets: dict[int, int] = {}  # id(run) -> ticket

    @property
    def uses_worker(self) -> bool:
        return self._n is not None

    def submit(self, run: CaseRun) -> None:
        """A finished run: the worker may take it while the cases go on."""
        n = self._n
        if n is None:
            return
        with n._cond:
            ticket = next(n._tickets)
            self._tickets[id(run)] = ticket
            n._waiting.append((ticket, run, self.outcome_only))
            n._work.notify()  # only the hand-over thread waits for runs

    def returned(self, runs: Sequence[CaseRun]) -> list[dict[str, Any]] | None:
        """The documents of runs, in their order, if the worker has returned every one
        of them; else None, at once (normalize gives them at the end)."""
        n = self._n
        if n is None:
            return None
        tickets = [self._tickets.get(id(r)) for r in runs]
        with n._cond:
            if not all(t in n._docs for t in tickets):
                return None
            return [n._docs.pop(t) for t in tickets]

    def normalize(self, runs: Sequence[CaseRun]) -> list[dict[str, Any]]:
        """Each run's observation document, in the order of runs (runs whose documents
        `returned` gave are not asked again)."""
        n = self._n
        if n is None:
            return [normalize_run(r, outcome_only=self.outcome_only) for r in runs]
        mine = {self._tickets[id(r)] for r in runs if id(r) in self._tickets}
        here: dict[int, dict[str, Any]] = {}
        while (newest := _take_newest(n, mine)) is not None:  # the worker goes on taking the oldest
            here[newest[0]] = normalize_run(newest[1], outcome_only=self.outcome_only)
        with n._cond:
            if not n._cond.wait_for(lambda: not (mine & n._handed), timeout=STUCK_S):
                worker = n._worker
                if worker is not None:
                    worker.kill()  # _collect then counts what it held as lost
                n._cond.wait_for(lambda: not (mine & n._handed))
            docs = {t: n._docs.pop(t) for t in mine if t in n._docs}
            n._lost -= mine
        out = []
        for r in runs:
            t = self._tickets.get(id(r))
            out.append(here.get(t) or docs.get(t) or normalize_run(r, outcome_only=self.outcome_only))  # lost: here
        return out


def _take_newest(n: Normalizer, mine: set[int]) -> tuple[int, CaseRun, bool] | None:
    """The newest of these tickets' runs not yet handed to the worker, taken off its
    queue: at a batch's end this process and the worker work from both ends of the
    backlog (with 16 runs in flight the worker is a few hundred runs behind), rather
    than this process doing all of it while the worker sits idle."""
    with n._cond:
        for i in range(len(n._waiting) - 1, -1, -1):
            if n._waiting[i][0] in mine:
                entry = n._waiting[i]
                del n._waiting[i]
                return entry
    return None


def worker_command() -> tuple[list[str], dict[str, str]]:
    """The worker's command and environment (the harness's import path, so it runs this code)."""
    return [sys.executable, "-m", __name__], {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def start_early() -> None:
    """Start a worker now for a batch to take later (tlsdiff/early.py), on a machine where
    a batch would use one."""
    if (os.cpu_count() or 1) > 1:
        argv, env = worker_command()
        early.spawn(argv, env, subprocess.DEVNULL)


def _end(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.wait()
    if worker.stdout is not None:
        worker.stdout.close()


def main() -> None:
    """The worker: pickled (ticket, observed steps, outcome_only, CaseRun without its case) on stdin,
    one at a time until it closes; (ticket, document) pickled on stdout for each, as
    soon as it is made."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    collect_less()  # its decode cache is large and long-lived (collection.py): a fifth less CPU
    trim_periodically()  # it lives as long as a fuzz campaign (memory.py)
    while True:
        try:
            ticket, observed, outcome_only, run = pickle.load(sys.stdin.buffer)
        except EOFError:
            break
        pickle.dump((ticket, normalize_run(run, observed, outcome_only)), sys.stdout.buffer,
                    protocol=pickle.HIGHEST_PROTOCOL)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # at once: tearing down its decode cache object by object took tens of ms the harness waited for
