"""tlsdiff: a differential interop test harness for Go's crypto/tls.

The Python API (also what the `tlsdiff` command and the pytest plugin use):

- `load_cases(selectors=(), folders=()) -> list[Case]`: case files by id, folder or
  path, validated (a bad file raises `UserError` with one line naming it);
- `Run(go="all", goroots=(), runner="local", timeout=5.0, workers=16)`: releases
  prepared once and one peer per release, as a context manager; `Run.run(cases)`
  gives a `RunResult` (`results`: one `CaseResult` per case, with agreement
  classes, differences and a `RunVerdict` per release key; `report()`: the JSON
  report), `Run.run_one(case, key)` one observation and its verdict;
- `Verdict`, `StepKind`, `Pairing`: the vocabularies of results and cases.

Names load on first use, so importing one module (the Python peer reads the
observed-field list) does not import the whole harness.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Run": "runs", "RunResult": "runs", "Releases": "runs",
    "CaseResult": "compare", "RunVerdict": "compare", "Verdict": "compare",
    "Case": "scenario.model", "StepKind": "scenario.model", "Pairing": "scenario.model",
    "ReleaseKey": "scenario.model", "load_cases": "scenario.catalog", "UserError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tlsdiff' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
