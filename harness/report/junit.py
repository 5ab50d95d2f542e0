"""JUnit XML: one test per case x release key, for CI dashboards."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..compare import CaseResult, Verdict
from ..scenario.model import key_text


def dumps(results: list[CaseResult], seconds: float) -> str:
    """The JUnit XML document."""
    tests = sum(len(r.verdicts) for r in results)
    failures = sum(1 for r in results for v in r.verdicts.values() if v.verdict == Verdict.FAIL)
    errors = sum(1 for r in results for v in r.verdicts.values() if v.verdict == Verdict.ERROR)
    skipped = sum(1 for r in results for v in r.verdicts.values() if v.verdict == Verdict.UNSUPPORTED)
    suites = ET.Element("testsuites", tests=str(tests), failures=str(failures), errors=str(errors),
                        skipped=str(skipped), time=f"{seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="tlsdiff", tests=str(tests), failures=str(failures),
                          errors=str(errors), skipped=str(skipped))
    for r in results:
        for key, v in r.verdicts.items():
            tc = ET.SubElement(suite, "testcase", classname=r.case.id, name=f"go{key_text(key)}")
            text = "\n".join(v.failures())
            if v.verdict == Verdict.FAIL:
                ET.SubElement(tc, "failure", message=(v.failures() or ["failed"])[0]).text = text
            elif v.verdict == Verdict.ERROR:
                ET.SubElement(tc, "error", message=v.reason.splitlines()[0] if v.reason else "error").text = text
            elif v.verdict == Verdict.UNSUPPORTED:
                ET.SubElement(tc, "skipped", message=v.reason)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write(path: Path, results: list[CaseResult], seconds: float) -> None:
    path.write_text(dumps(results, seconds))
