"""Normalizing on two cores (tlsdiff.observe.parallel) gives the documents of normalizing
one run after another, in run order, also when its worker fails, and with several
batches under way at once on one worker. Needs no Go: the raw observations recorded
in tests/data/raw."""
from __future__ import annotations

import json
import threading
import time

import pytest

from data.record import RAW
from tlsdiff.execute import CaseRun, StepResult
from tlsdiff.observe import parallel
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.scenario.catalog import load_cases


@pytest.fixture(scope="module")
def runs() -> list[CaseRun]:
    out = []
    for path in sorted(RAW.glob("*.json")):
        raw = json.loads(path.read_text())
        case = load_cases([raw["case"]])[0]
        out.append(CaseRun(case, tuple(raw["key"]), [StepResult(**s) for s in raw["steps"]], raw["unsupported"],
                           raw["failure"], raw["stderr"]))
    assert len(out) > 4
    return out


@pytest.fixture()
def normalizer(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(parallel, "MIN_RUNS", 4)
    n = parallel.Normalizer()
    yield n
    n.close()


def _expected(runs: list[CaseRun]) -> list[dict]:
    return [normalize_run(r) for r in runs]


def _wait_for_documents(n: parallel.Normalizer) -> None:
    deadline = time.monotonic() + 30
    while not n._docs and time.monotonic() < deadline:  # the worker's first documents
        time.sleep(0.01)
    assert n._docs, "the worker returned no document"


def test_two_cores_give_the_documents_of_one(runs: list[CaseRun], normalizer) -> None:
    batch = normalizer.batch(len(runs))
    assert batch.uses_worker
    assert batch.normalize(runs) == _expected(runs)


def test_runs_submitted_while_the_cases_run_are_normalized_by_the_worker(runs: list[CaseRun], normalizer) -> None:
    batch = normalizer.batch(len(runs))
    for r in runs:
        batch.submit(r)
    _wait_for_documents(normalizer)
    assert batch.normalize(runs) == _expected(runs)
    assert not normalizer._docs and not normalizer._waiting, "a batch leaves nothing behind"


def test_documents_taken_as_they_are_returned_and_the_rest_at_the_end_are_those_of_one_core(
        runs: list[CaseRun], normalizer) -> None:
    """Run.run compares a case once `returned` gives its documents, and asks
    `normalize` only for the runs of cases it has not compared."""
    batch = normalizer.batch(len(runs))
    early, late = runs[:3], runs[3:]
    assert batch.returned(early) is None, "nothing was submitted yet"
    for r in runs:
        batch.submit(r)
    deadline = time.monotonic() + 30
    while (got := batch.returned(early)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == _expected(early)
    assert batch.normalize(late) == _expected(late)
    assert not normalizer._docs and not normalizer._waiting, "a batch leaves nothing behind"
    assert parallel.Batch(None).returned(early) is None, "without a worker, everything is normalized at the end"


def test_one_worker_serves_every_batch_and_batches_at_once(runs: list[CaseRun], normalizer) -> None:
    first = normalizer.batch(len(runs))
    worker = normalizer._worker
    results: dict[str, list] = {}

    def one(name: str, batch: parallel.Batch) -> None:
        for r in runs:
            batch.submit(r)
        results[name] = batch.normalize(runs)
    threads = [threading.Thread(target=one, args=(name, b))
               for name, b in (("a", first), ("b", normalizer.batch(len(runs))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {"a": _expected(runs), "b": _expected(runs)}
    assert normalizer._worker is worker
    again = normalizer.batch(1)  # small, but the running worker still takes it
    assert again.uses_worker
    for r in runs:
        again.submit(r)
    assert again.normalize(runs) == _expected(runs)


def test_a_dead_worker_leaves_its_half_here_and_the_next_batch_starts_another(runs: list[CaseRun],
                                                                             normalizer) -> None:
    batch = normalizer.batch(len(runs))
    worker = normalizer._worker
    batch.submit(runs[0])
    worker.kill()
    for r in runs[1:]:
        batch.submit(r)
    assert batch.normalize(runs) == _expected(runs)
    worker.wait(10)
    deadline = time.monotonic() + 10
    while normalizer._worker is not None and time.monotonic() < deadline:  # _collect sees it end
        time.sleep(0.01)
    nxt = normalizer.batch(len(runs))
    assert nxt.uses_worker and normalizer._worker is not worker
    for r in runs:
        nxt.submit(r)
    assert nxt.normalize(runs) == _expected(runs)


def test_few_runs_start_no_worker(runs: list[CaseRun]) -> None:
    n = parallel.Normalizer()
    batch = n.batch(parallel.MIN_RUNS - 1)
    assert not batch.uses_worker and n._worker is None
    assert batch.normalize(runs) == _expected(runs)


def test_close_ends_the_worker(normalizer) -> None:
    normalizer.batch(10)
    worker = normalizer._worker
    assert worker is not None
    normalizer.close()
    assert worker.poll() is not None
