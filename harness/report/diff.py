"""`tlsdiff diff OLD.json NEW.json`: what changed between two reports.

For a Go maintainer comparing a run before and after a change, or two Go patch
releases: cases added or removed, verdicts that changed, and every observed
field whose value changed, per run key (release or pair), step and side, down to
the exact path inside the value (`transcript.received[0].length`), with both values
whole. Timing fields are ignored, so two runs of the same inputs show no change.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, TextIO

from ..errors import UserError
from .changed import ABSENT, changed_paths, show


#: A full run's report is about 20 MB; a thousand-fold is not a report.
MAX_REPORT_BYTES = 1 << 30


def load(path: Path) -> dict[str, Any]:
    """A tlsdiff JSON report, valid against its published schema; UserError otherwise."""
    try:
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else "no such file"
            raise UserError(f"{path}: cannot read: {what}; expected a JSON report")
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise UserError(f"{path}: larger than {MAX_REPORT_BYTES >> 20} MiB; not a tlsdiff report")
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        report = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a JSON report (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    except (RecursionError, ValueError) as exc:
        raise UserError(f"{path}: not a JSON report ({str(exc)[:80] or 'nested too deep'})") from None
    if not isinstance(report, dict) or report.get("tlsdiff_report") != 1 or isinstance(report["tlsdiff_report"], bool):
        raise UserError(f"{path}: tlsdiff_report: expected a tlsdiff JSON report of schema 1")
    problem = _shape_problem(report)
    if problem:
        raise UserError(f"{path}: {problem}")
    return report


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@lru_cache(maxsize=1)
def _report_validator() -> Any:
    import jsonschema
    schema = json.loads((Path(__file__).with_name("report.schema.json")).read_text())
    return jsonschema.Draft202012Validator(schema)


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


def _shape_problem(report: dict[str, Any]) -> str | None:
    """The first place where a report is not what its schema says, or None."""
    try:
        error = next(iter(sorted(_report_validator().iter_errors(report), key=lambda e: list(map(str, e.path)))), None)
    except RecursionError:
        return "nested too deep for a tlsdiff report"
    if error is None:
        cases = [r["case"] for r in report["results"]]
        return f"results: case {next(c for c in cases if cases.count(c) > 1)!r} is there twice" \
            if len(set(cases)) != len(cases) else None
    return f"{_where(error.absolute_path)}: {error.message[:160]}"


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf fields of an observation side, as dotted names ('state.DidResume')."""
    if isinstance(value, dict) and value and prefix.count(".") < 1:
        for k in sorted(value):
            yield from _flatten(value[k], f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix, value


def _steps(run: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["step"]: s for s in run.get("observations", {}).get("steps", [])}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per change, in case and key order."""
    out: list[str] = []
    old_cases = {r["case"]: r for r in old["results"]}
    new_cases = {r["case"]: r for r in new["results"]}
    for case in sorted(set(old_cases) | set(new_cases)):
        if case not in new_cases:
            out.append(f"{case}: removed")
            continue
        if case not in old_cases:
            out.append(f"{case}: added ({new_cases[case]['verdict']})")
            continue
        a_runs, b_runs = old_cases[case]["runs"], new_cases[case]["runs"]
        pairs = [(k, k, k) for k in sorted(set(a_runs) & set(b_runs))]
        if not pairs and len(a_runs) == 1 and len(b_runs) == 1:
            # One release against another (two single-release reports).
            (ka, kb), = [(next(iter(a_runs)), next(iter(b_runs)))]
            pairs = [(f"{ka}->go{kb}", ka, kb)]
        for key, key_a, key_b in pairs:
            a, b = a_runs[key_a], b_runs[key_b]
            if a["verdict"] != b["verdict"]:
                out.append(f"{case} go{key}: verdict {a['verdict']} -> {b['verdict']}")
            a_steps, b_steps = _steps(a), _steps(b)
            for n in sorted(set(a_steps) | set(b_steps)):
                for side in ("client", "server", "session"):
                    fa = dict(_flatten((a_steps.get(n) or {}).get(side) or {}))
                    fb = dict(_flatten((b_steps.get(n) or {}).get(side) or {}))
                    for field in sorted(set(fa) | set(fb)):
                        va, vb = fa.get(field, ABSENT), fb.get(field, ABSENT)
                        for path, (was, now) in changed_paths([va, vb], field):
                            out.append(f"{case} go{key}: step {n} {side} {path}: {show(was)} -> {show(now)}")
        only = sorted(set(a_runs) ^ set(b_runs))
        across_releases = len(pairs) == 1 and pairs[0][1] != pairs[0][2]
        if only and not across_releases:
            out.append(f"{case}: runs only in one report: {', '.join('go' + k for k in only)}")
    return out


def render(lines: list[str], out: TextIO) -> None:
    for line in lines:
        out.write(line + "\n")
    out.write(f"{len(lines)} change{'s' if len(lines) != 1 else ''}\n")
