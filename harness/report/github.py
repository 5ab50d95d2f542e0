"""GitHub Actions workflow commands: one error annotation per failed run, on its case file.

`tlsdiff run ... --github -` (or `merge`) prints them; GitHub shows each on the case
file in the job's summary and in a pull request's diff.
"""
from __future__ import annotations

from ..compare import CaseResult, Verdict
from ..scenario.model import key_text


def _escape(text: str, *, property_value: bool = False) -> str:
    """The workflow-command escapes: %, CR, LF; in properties also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def render(results: list[CaseResult]) -> str:
    lines = []
    for r in results:
        for key, v in r.verdicts.items():
            if v.verdict not in (Verdict.FAIL, Verdict.ERROR):
                continue
            title = f"{r.case.id} on go{key_text(key)}: {v.verdict}"
            lines.append(f"::error file={_escape(r.case.file, property_value=True)},"
                         f"title={_escape(title, property_value=True)}::{_escape(chr(10).join(v.failures()))}")
    return "".join(line + "\n" for line in lines)
