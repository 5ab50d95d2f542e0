"""Cases as pytest items: `pytest cases/ --go 1.19,1.27`.

Each case file under the cases folder becomes one item per release key (a
release, or an (a, b) pair for cross cases). Peers are built and started once
per pytest session and shared by every item, as in `tlsdiff run`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from .paths import CASES_DIR


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tlsdiff")
    group.addoption("--go", default=os.environ.get("TLSDIFF_GO", "all"),
                    help="Go releases to run cases on: 'all', '1.19,1.27', '1.24.11' (default all)")
    group.addoption("--tlsdiff-timeout", type=float, default=5.0,
                    help="seconds a connection may take before the peer is judged hung")


_RUN_KEY = pytest.StashKey[Any]()


def _run(config: pytest.Config) -> Any:
    """The session's one Run, made on first use: releases prepared, peers shared by every item."""
    from .errors import UserError
    from .runs import Run
    if _RUN_KEY not in config.stash:
        try:
            run = Run(config.getoption("--go"), timeout=config.getoption("--tlsdiff-timeout"))
            run.prepare()
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[_RUN_KEY] = run
    return config.stash[_RUN_KEY]


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(_RUN_KEY, None)
    if run is not None:
        run.close()


def _is_case_file(path: Path) -> bool:
    try:
        path.resolve().relative_to(CASES_DIR.resolve())
    except ValueError:
        return False
    return path.suffix == ".yaml"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_case_file(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from .errors import UserError
        from .scenario.load import load_case
        from .scenario.model import key_text
        try:
            case = load_case(self.path, CASES_DIR)
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None
        for key in _run(self.config).keys(case):
            yield CaseItem.from_parent(self, name=f"go{key_text(key)}", case=case, key=key)


class CaseFailed(Exception):
    pass


class CaseItem(pytest.Item):
    def __init__(self, *, case: Any, key: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.key = key

    def runtest(self) -> None:
        from .compare import Verdict
        _, verdict = _run(self.config).run_one(self.case, self.key)
        if verdict.verdict == Verdict.UNSUPPORTED:
            pytest.skip(verdict.reason)
        if verdict.verdict != Verdict.PASS:
            raise CaseFailed("\n".join(verdict.failures()))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return f"{self.case.id} on go{'>'.join(self.key)}: {self.case.description}\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.case.id} [go{'>'.join(self.key)}]"
