"""Cases as pytest items: `pytest cases/ --go 1.19,1.27`.

Each case file under a case folder (tlsdiff's own, and each `--cases DIR`) becomes
one item per release key (a release, or an (a, b) pair for cross cases), marked
with the case's tags (`-m tls13`). Peers are built and started once per pytest
session through one `tlsdiff.Run` and shared by every item, as in `tlsdiff run`.
A bad option is one usage error, before anything is collected.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from .paths import CASES_DIR

_RUN_KEY = pytest.StashKey[Any]()
_XFAIL_KEY = pytest.StashKey[list]()
_FOLDERS_KEY = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tlsdiff")
    group.addoption("--go", default=os.environ.get("TLSDIFF_GO", "all"),
                    help="Go releases to run cases on: 'all', '1.19,1.27', '1.24.11' (default all)")
    group.addoption("--goroot", action="append", default=[], type=Path,
                    help="a Go installation to use first (repeatable)")
    group.addoption("--runner", default="local", choices=["local", "docker"], help="how peers run (default local)")
    group.addoption("--cases", action="append", default=[], metavar="DIR",
                    help="a folder of your own cases, collected beside tlsdiff's (repeatable)")
    group.addoption("--tlsdiff-timeout", type=float, default=5.0,
                    help="seconds a connection may take before the peer is judged hung")
    group.addoption("--expected-failures", type=Path, default=None, metavar="FILE",
                    help="a YAML list of case, releases, reason: covered failures are xfail, and an entry "
                         "whose run passes fails (strict)")


def pytest_configure(config: pytest.Config) -> None:
    from . import toolchains
    from .errors import UserError
    from .scenario.catalog import case_folders
    try:
        toolchains.named_releases(config.getoption("--go"))  # names only: nothing is fetched yet
        given = config.getoption("--cases")
        if any(not text.strip() for text in given):
            raise UserError("--cases: an empty folder name; expected a folder of case files")
        extra = case_folders([Path(text) for text in given])
        timeout = config.getoption("--tlsdiff-timeout")
        if not math.isfinite(timeout) or not 0.1 <= timeout <= 600:
            raise UserError(f"--tlsdiff-timeout: {timeout!r} is not allowed; expected seconds from 0.1 to 600")
    except UserError as exc:
        raise pytest.UsageError(f"tlsdiff: {exc}") from None
    config.stash[_FOLDERS_KEY] = [CASES_DIR, *extra]
    listed = config.getoption("--expected-failures")
    if listed is not None:
        from . import expected
        from .scenario.catalog import case_files, case_id
        known = [case_id(f, folder) for folder in config.stash[_FOLDERS_KEY] for f in case_files(folder)]
        try:
            config.stash[_XFAIL_KEY] = expected.load(listed, known)
        except UserError as exc:
            raise pytest.UsageError(f"tlsdiff: {exc}") from None
    for folder in extra:  # collect the user's folders without naming them twice
        if str(folder) not in config.args:
            config.args.append(str(folder))


def _touches_cases(config: pytest.Config) -> bool:
    """Will this session collect case files? (An argument is, holds or sits in a case folder.)"""
    folders = [f.resolve() for f in config.stash[_FOLDERS_KEY]]
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        for folder in folders:
            if path == folder or folder in path.parents or path in folder.parents:
                return True
    return False


def pytest_sessionstart(session: pytest.Session) -> None:
    # Prepare before collecting, so a release that cannot be had is one usage error.
    if _touches_cases(session.config):
        _run(session.config)


def _run(config: pytest.Config) -> Any:
    """The session's one Run, made on first use: releases prepared, peers shared by every item."""
    from .errors import UserError
    from .runs import Run
    if _RUN_KEY not in config.stash:
        try:
            run = Run(config.getoption("--go"), goroots=config.getoption("--goroot"),
                      runner=config.getoption("--runner"), timeout=config.getoption("--tlsdiff-timeout"))
            run.prepare()
        except UserError as exc:
            raise pytest.UsageError(f"tlsdiff: {exc}") from None
        config.stash[_RUN_KEY] = run
    return config.stash[_RUN_KEY]


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(_RUN_KEY, None)
    if run is not None:
        run.close()


def _holder(config: pytest.Config, path: Path) -> Path | None:
    """The case folder a case file belongs to, or None if it is not a case file."""
    from .scenario.catalog import SUFFIXES, holder
    if path.suffix not in SUFFIXES:
        return None
    return holder(path.resolve(), [f.resolve() for f in config.stash.get(_FOLDERS_KEY, [CASES_DIR])])


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _holder(parent.config, file_path) is not None:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if excinfo.errisinstance(pytest.UsageError):  # a bad case file: its one line, no frames
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def collect(self) -> Iterator[pytest.Item]:
        from .errors import UserError
        from .scenario.catalog import load_case
        from .scenario.model import key_text
        folder = _holder(self.config, self.path)
        assert folder is not None
        try:
            case = load_case(self.path.resolve(), folder.resolve())
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None
        for tag in case.tags:
            self.config.addinivalue_line("markers", f"{tag}: tlsdiff cases tagged {tag}")
        for key in _run(self.config).keys(case):
            item = CaseItem.from_parent(self, name=f"go{key_text(key)}", case=case, key=key)
            for tag in case.tags:
                item.add_marker(tag)
            yield item


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
        entry = next((e for e in self.config.stash.get(_XFAIL_KEY, []) if e.covers(self.case.id, self.key)), None)
        if entry is not None and verdict.verdict == Verdict.FAIL:
            pytest.xfail(f"expected failure: {entry.reason}")
        if verdict.verdict != Verdict.PASS:
            raise CaseFailed("\n".join(verdict.failures()))
        if entry is not None:
            raise CaseFailed(f"{entry.where}: {entry.case} no longer fails as expected ({entry.reason}); "
                             "remove the entry")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return f"{self.case.id} on go{'>'.join(self.key)}: {self.case.description}\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.case.id} [go{'>'.join(self.key)}]"
