"""JUnit XML for CI systems: a testsuite per case (its file, its id), a testcase per
release key with its time, valid against the Jenkins xunit schema (junit-10.xsd,
kept in tests/schemas/ and checked by the tests)."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from ..compare import CaseResult, Verdict
from ..scenario.model import key_text


def dumps(results: list[CaseResult], seconds: float, timestamp: str = "") -> str:
    """The JUnit XML document; timestamp is when the run started (ISO 8601, UTC)."""
    counts = {v: sum(1 for r in results for x in r.verdicts.values() if x.verdict == v) for v in Verdict}
    tests = sum(len(r.verdicts) for r in results)
    suites = ET.Element("testsuites", name="tlsdiff", tests=str(tests), failures=str(counts[Verdict.FAIL]),
                        errors=str(counts[Verdict.ERROR]), time=f"{seconds:.3f}")
    for r in results:
        verdicts = list(r.verdicts.values())
        suite = ET.SubElement(
            suites, "testsuite", name=r.case.id, tests=str(len(verdicts)),
            failures=str(sum(v.verdict == Verdict.FAIL for v in verdicts)),
            errors=str(sum(v.verdict == Verdict.ERROR for v in verdicts)),
            skipped=str(sum(v.verdict in (Verdict.UNSUPPORTED, Verdict.XFAIL) for v in verdicts)),
            time=_ms(sum(r.seconds.values())), file=r.case.file)
        if timestamp:
            suite.set("timestamp", timestamp)
        for key, v in r.verdicts.items():
            tc = ET.SubElement(suite, "testcase", classname=r.case.id, name=f"go{key_text(key)}",
                               time=_ms(r.seconds.get(key, 0.0)))
            failures = v.failures()
            first = failures[0].splitlines()[0] if failures and failures[0] else ""
            if v.verdict == Verdict.FAIL:
                ET.SubElement(tc, "failure", message=first or "failed").text = "\n".join(failures)
            elif v.verdict == Verdict.ERROR:
                ET.SubElement(tc, "error", message=first or "error").text = "\n".join(failures)
            elif v.verdict in (Verdict.UNSUPPORTED, Verdict.XFAIL):
                ET.SubElement(tc, "skipped", message=first)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _ms(seconds: float) -> str:
    """Seconds to the millisecond the schema allows, rounded up: a run that found its
    release unsupported takes well under one, and must not read as no time at all."""
    return f"{math.ceil(seconds * 1000) / 1000:.3f}"


def write(path: Path, results: list[CaseResult], seconds: float, timestamp: str = "") -> None:
    path.write_text(dumps(results, seconds, timestamp))
