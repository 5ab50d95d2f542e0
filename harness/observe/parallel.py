"""Normalizing a run's observations on two cores: this process and one worker.

Decoding every connection's bytes (normalize_run) costs about as much CPU as
running the cases. A worker process (`python -m tlsdiff.observe.parallel`) is
started when the cases start and is handed each run as it finishes, so it
normalizes while the cases run, on the core the peers leave idle. At most
`WINDOW` runs are in its hands at a time; when the last case has run, this
process normalizes the runs not yet handed over (from the newest), while the
worker finishes its few. Each run's document depends on that run alone (its own
Labeler), so the documents, returned in run order, are those of normalizing the
runs one after another. Should the worker fail, this process normalizes what it
did not return.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Sequence

from ..execute import CaseRun
from .normalize import normalize_run

#: Fewer runs than this are normalized here alone: a second process would cost more
#: (its start-up, the pickling) than it saves.
MIN_RUNS = 200
#: Runs handed to the worker and not yet returned: small, so that at the end the
#: worker's backlog is short and this process takes the rest.
WINDOW = 8

Key = tuple[str, Any]


def _key(run: CaseRun) -> Key:
    return (run.case.id, run.key)


class Normalizer:
    """normalize_run for a run's CaseRuns, on two cores when there are enough of them."""

    def __init__(self, expected_runs: int) -> None:
        self._worker: subprocess.Popen | None = None
        self._cond = threading.Condition()
        self._waiting: deque[CaseRun] = deque()  # submitted, not yet handed over
        self._in_flight = 0
        self._closing = False
        self._docs: dict[Key, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        if expected_runs >= MIN_RUNS and (os.cpu_count() or 1) > 1:
            try:
                self._worker = subprocess.Popen(
                    [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,  # a failure is met again, and reported, in this process
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
            except OSError:
                self._worker = None
        if self._worker is not None:
            self._threads = [threading.Thread(target=self._hand_over, daemon=True),
                             threading.Thread(target=self._collect, daemon=True)]
            for t in self._threads:
                t.start()

    def submit(self, run: CaseRun) -> None:
        """A finished run: the worker may take it while the cases go on."""
        if self._worker is None:
            return
        with self._cond:
            self._waiting.append(run)
            self._cond.notify_all()

    def normalize(self, runs: Sequence[CaseRun]) -> list[dict[str, Any]]:
        """Each run's observation document, in the order of runs."""
        if self._worker is None:
            return [normalize_run(r) for r in runs]
        mine: dict[Key, dict[str, Any]] = {}
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        while True:  # what the worker has not been handed, newest first
            with self._cond:
                if not self._waiting:
                    break
                run = self._waiting.pop()
            mine[_key(run)] = normalize_run(run)
        self.close()
        docs = self._docs
        return [mine.get(_key(r)) or docs.get(_key(r)) or normalize_run(r) for r in runs]

    def close(self) -> None:
        """Stop handing over, let the worker finish what it holds, and end it."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()
        _end(worker)

    def _hand_over(self) -> None:
        worker = self._worker
        assert worker is not None and worker.stdin is not None
        try:
            while True:
                with self._cond:
                    while not self._closing and (not self._waiting or self._in_flight >= WINDOW):
                        self._cond.wait()
                    if self._closing:
                        break
                    run = self._waiting.popleft()
                    self._in_flight += 1
                pickle.dump(run, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                worker.stdin.flush()
        except OSError:  # the worker is gone: what it did not return is normalized here
            pass
        finally:
            try:
                worker.stdin.close()  # the worker finishes what it holds, then exits
            except OSError:
                pass

    def _collect(self) -> None:
        worker = self._worker
        assert worker is not None and worker.stdout is not None
        while True:
            try:
                key, doc = pickle.load(worker.stdout)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError):
                break
            with self._cond:
                self._docs[key] = doc
                self._in_flight -= 1
                self._cond.notify_all()


def _end(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.wait()
    if worker.stdout is not None:
        worker.stdout.close()


def main() -> None:
    """The worker: pickled CaseRuns on stdin, one at a time until it closes; (key,
    document) pickled on stdout for each, as soon as it is made."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    while True:
        try:
            run = pickle.load(sys.stdin.buffer)
        except EOFError:
            break
        pickle.dump((_key(run), normalize_run(run)), sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
