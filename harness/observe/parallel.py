"""Normalizing a run's observations on two cores: this process and one worker.

Decoding every connection's bytes (normalize_run) is most of a run's tail, after
the last case has run and the peers are idle. A worker process (`python -m
tlsdiff.observe.parallel`) is started when the cases start, so its imports are
done when the tail begins; it normalizes the first half of the runs while this
process does the second half. Each run's document depends on that run alone (its
own Labeler), so the documents, returned in run order, are those of
normalizing the runs one after another. Should the worker fail, this process
normalizes its half too (and raises what the worker met, if anything).
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from typing import Any, Sequence

from ..execute import CaseRun
from .normalize import normalize_run

#: Fewer runs than this are normalized here alone: a second process would cost more
#: (its start-up, the pickling) than it saves.
MIN_RUNS = 200


class Normalizer:
    """normalize_run for a run's CaseRuns, on two cores when there are enough of them."""

    def __init__(self, expected_runs: int) -> None:
        self._worker: subprocess.Popen | None = None
        if expected_runs >= MIN_RUNS and (os.cpu_count() or 1) > 1:
            try:
                self._worker = subprocess.Popen(
                    [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,  # a failure is met again, and reported, in this process
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
            except OSError:
                self._worker = None

    def normalize(self, runs: Sequence[CaseRun]) -> list[dict[str, Any]]:
        """Each run's observation document, in the order of runs."""
        worker, self._worker = self._worker, None
        if worker is None or len(runs) < MIN_RUNS:
            if worker is not None:
                _end(worker)
            return [normalize_run(r) for r in runs]
        half = len(runs) // 2
        theirs_runs, mine_runs = list(runs[:half]), runs[half:]
        threading.Thread(target=_send, args=(worker, theirs_runs), daemon=True).start()
        mine = [normalize_run(r) for r in mine_runs]
        try:
            theirs = pickle.load(worker.stdout)  # type: ignore[arg-type]
        except (EOFError, OSError, pickle.UnpicklingError):
            theirs = None
        finally:
            _end(worker)
        if not isinstance(theirs, list) or len(theirs) != half:
            theirs = [normalize_run(r) for r in theirs_runs]
        return theirs + mine

    def close(self) -> None:
        """End the worker if normalize never took it (the run stopped before its tail)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            _end(worker)


def _send(worker: subprocess.Popen, runs: list[CaseRun]) -> None:
    try:
        with worker.stdin:  # type: ignore[union-attr]
            pickle.dump(runs, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:  # the worker is gone; normalize() does its half
        pass


def _end(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.wait()
    if worker.stdout is not None:
        worker.stdout.close()


def main() -> None:
    """The worker: a pickled list of CaseRuns on stdin, their documents pickled on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    runs = pickle.load(sys.stdin.buffer)
    pickle.dump([normalize_run(r) for r in runs], sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
