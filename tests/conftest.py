"""Shared fixtures: real Go peers of the oldest and newest releases tlsdiff can get."""
from __future__ import annotations

from pathlib import Path

import pytest

from tlsdiff.runs import Releases, prepare_releases

#: The oldest and newest Go lines every machine here can fetch.
EDGE_RELEASES = "1.19,1.27"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def edge_releases() -> Releases:
    """Go 1.19 and 1.27, fetched and built into the user's tlsdiff cache (reused across runs)."""
    return prepare_releases(EDGE_RELEASES)


@pytest.fixture
def local_peers(edge_releases: Releases):
    from tlsdiff.peers.local import local_pool
    pool = local_pool(edge_releases.binaries)
    yield pool
    pool.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update", action="store_true",
                     help="rewrite generated docs and golden files from what the code gives now (like Go's -update)")


@pytest.fixture
def update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update"))


@pytest.fixture(scope="session")
def recorded() -> dict:
    """case id -> (Case, {release key: observation document}) from tests/data/raw, normalized here."""
    import dataclasses
    import json
    from tlsdiff.execute import CaseRun, StepResult
    from tlsdiff.observe.normalize import normalize_run
    from tlsdiff.scenario.load import load_cases
    from data.record import RAW

    out: dict = {}
    for path in sorted(RAW.glob("*.json")):
        raw = json.loads(path.read_text())
        case = out.get(raw["case"], (load_cases([raw["case"]])[0], {}))[0]
        case = dataclasses.replace(case, file=f"cases/{case.id}.yaml")  # the same from any working directory
        run = CaseRun(case, tuple(raw["key"]), [StepResult(**s) for s in raw["steps"]], raw["unsupported"],
                      raw["failure"], raw["stderr"])
        out.setdefault(case.id, (case, {}))[1][run.key] = normalize_run(run)
    assert out, f"no recorded observations in {RAW}: python tests/data/record.py"
    return out


@pytest.fixture(scope="session")
def recorded_docs(recorded) -> list:
    return [doc for _, docs in recorded.values() for doc in docs.values()]
