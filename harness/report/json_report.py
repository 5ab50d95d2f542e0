"""The JSON report (schema in docs/report-json.md).

Stable by construction: keys sorted, lists in case and release order, values
that differ per run masked by name. Only the "timing" object and each run's
"seconds" change between two identical runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import orjson

from ..compare import CaseResult, Verdict
from ..scenario.model import key_text
from ..toolchains.lines import sort_key

SCHEMA_VERSION = 1


def release_rows(toolchains: list[Any], capabilities: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for t in toolchains:
        if hasattr(t, "goroot"):
            rows.append({"line": t.line, "version": t.version, "name": t.name, "provider": t.provider,
                         "digest": t.digest, "available": True, "peer": capabilities.get(t.name, {})})
            if getattr(t, "address", ""):  # an external peer: where it ran and the binary it reported
                rows[-1].update(address=t.address, binary_sha256=t.binary_sha256)
            elif t.provider == "goroot":  # which of the user's folders this column is
                rows[-1]["goroot"] = str(t.goroot.absolute())
            if t.also:  # roots the user named that are this very toolchain
                rows[-1]["also_goroots"] = list(t.also)
        else:
            rows.append({"line": t.line, "requested": t.requested, "available": False, "reason": t.reason})
    return rows


def pinned_rows(pinned: Mapping[str, Any], capabilities: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The releases cases pin, each as a release row with `pin`, what the case says ("1.21"):
    which toolchain ran the endpoints pinned to it, or why none could."""
    specs = sorted(pinned, key=sort_key)  # the order cases were met in is no order
    return [{"pin": spec, **row} for spec, row in zip(specs, release_rows([pinned[s] for s in specs], capabilities))]


def case_entry(r: CaseResult) -> dict[str, Any]:
    classes: dict[str, list[str]] = {}
    for key, letter in r.classes.items():
        classes.setdefault(letter, []).append(key_text(key))
    runs = {}
    for key, doc in r.docs.items():
        v = r.verdicts[key]
        runs[key_text(key)] = {
            "verdict": v.verdict,
            "class": r.classes[key],
            "failures": v.failures(),
            "observations": doc,
        }
    return {
        "case": r.case.id,
        "file": r.case.file,
        "description": r.case.description,
        "source": r.case.source,
        "tags": list(r.case.tags),
        "pairing": r.case.pairing,
        "verdict": r.verdict,
        "classes": classes,
        "differences": r.diffs,
        "runs": runs,
    }


def summary(results: list[CaseResult]) -> dict[str, int]:
    counts = {"cases": len(results), **{str(v): 0 for v in Verdict}}
    for r in results:
        counts[str(r.verdict)] += 1
    return counts


def provenance() -> dict[str, str]:
    """Which tlsdiff made a report: its version and the go-peer source it builds."""
    from importlib.metadata import PackageNotFoundError, version

    from ..paths import GO_PEER_DIR
    from ..peers.build import peer_source_hash
    try:
        ours = version("tlsdiff")
    except PackageNotFoundError:
        ours = "unknown"
    return {"version": ours, "go_peer": peer_source_hash(GO_PEER_DIR)[:16]}


def build(results: list[CaseResult], toolchains: list[Any], capabilities: dict[str, dict[str, Any]],
          timing: dict[str, float], pinned: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report; `pinned` (pinned_rows) only when cases pin releases."""
    report = {
        "tlsdiff_report": SCHEMA_VERSION,
        "tlsdiff": provenance(),
        "releases": release_rows(toolchains, capabilities),
        "summary": summary(results),
        "results": [case_entry(r) for r in results],
        "timing": timing,
    }
    if pinned:
        report["pinned"] = pinned
    return report


#: Indented, keys sorted: the same report is the same text, and a diff of two reads well.
_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def dumps(report: dict[str, Any]) -> str:
    return dump_bytes(report).decode()


def dump_bytes(report: dict[str, Any]) -> bytes:
    """The report's text as UTF-8, as written (a default run's is 49 MB: made into a str
    and encoded again to be written, it cost 0.1-0.2 s more at the run's end)."""
    # orjson, not json.dumps(indent=...): with an indent the standard library leaves its
    # C encoder for nested Python generators. A default run's report (34 MB) took it
    # 2.0 s, a hand-written encoder 0.80 s, orjson 0.09 s.
    return orjson.dumps(report, option=_OPTIONS) + b"\n"


def write(path: Path, report: dict[str, Any]) -> None:
    path.write_bytes(dump_bytes(report))
