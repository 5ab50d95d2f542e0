"""Normalizing on two cores (tlsdiff.observe.parallel) gives the documents of normalizing
one run after another, in run order, also when its worker fails. Needs no Go: the raw
observations recorded in tests/data/raw."""
from __future__ import annotations

import json
import time

import pytest

from data.record import RAW
from tlsdiff.execute import CaseRun, StepResult
from tlsdiff.observe import parallel
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.scenario.load import load_cases


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
def few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_RUNS", 4)


def test_two_cores_give_the_documents_of_one(runs: list[CaseRun], few: None) -> None:
    normalizer = parallel.Normalizer(len(runs))
    assert normalizer._worker is not None
    assert normalizer.normalize(runs) == [normalize_run(r) for r in runs]


def test_a_dead_worker_leaves_its_half_to_this_process(runs: list[CaseRun], few: None) -> None:
    normalizer = parallel.Normalizer(len(runs))
    assert normalizer._worker is not None
    normalizer._worker.kill()
    assert normalizer.normalize(runs) == [normalize_run(r) for r in runs]


def test_few_runs_start_no_worker(runs: list[CaseRun]) -> None:
    normalizer = parallel.Normalizer(parallel.MIN_RUNS - 1)
    assert normalizer._worker is None
    assert normalizer.normalize(runs) == [normalize_run(r) for r in runs]


def test_close_ends_an_unused_worker(few: None) -> None:
    normalizer = parallel.Normalizer(10)
    worker = normalizer._worker
    assert worker is not None
    normalizer.close()
    assert worker.poll() is not None


def test_runs_submitted_while_the_cases_run_are_normalized_by_the_worker(runs: list[CaseRun], few: None) -> None:
    normalizer = parallel.Normalizer(len(runs))
    for r in runs:
        normalizer.submit(r)
    deadline = time.monotonic() + 30
    while not normalizer._docs and time.monotonic() < deadline:  # the worker's first documents
        time.sleep(0.01)
    docs = normalizer.normalize(runs)
    assert normalizer._docs, "the worker returned no document"
    assert docs == [normalize_run(r) for r in runs]


def test_a_worker_killed_mid_stream_leaves_the_rest_here(runs: list[CaseRun], few: None) -> None:
    normalizer = parallel.Normalizer(len(runs))
    normalizer.submit(runs[0])
    normalizer._worker.kill()
    for r in runs[1:]:
        normalizer.submit(r)
    assert normalizer.normalize(runs) == [normalize_run(r) for r in runs]
