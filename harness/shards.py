"""Sharded runs and their merge: how a run outgrows one machine.

`tlsdiff run --shard K/N` runs every N-th (case, release key) pair, starting at
the K-th, in the single run's order, and marks its JSON report with the shard,
the case set and the tlsdiff that made it. `tlsdiff merge` takes the N reports
and rebuilds what the single run would have said: each case's observations from
every shard, its agreement classes and differences computed again over all of
them, in the single run's key order. The merged report is the single run's
report, timing aside.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .compare import CaseResult, RunVerdict, Verdict, agreement_classes
from .errors import UserError
from .scenario.model import Case, Pairing, ReleaseKey
from .toolchains import Toolchain, Unavailable

_SPEC = re.compile(r"^([0-9]{1,4})/([0-9]{1,4})$")
MAX_SHARDS = 1000


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def takes(self, position: int) -> bool:
        """Does this shard run the run at this position of the single run's order?"""
        return position % self.count == self.index - 1


def parse_shard(text: str, source: str = "--shard") -> Shard:
    m = _SPEC.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)) <= MAX_SHARDS:
        raise UserError(f"{source}: {text!r} is not a shard; expected K/N with 1 <= K <= N, e.g. 2/4")
    return Shard(int(m.group(1)), int(m.group(2)))


def case_set(cases: Sequence[Case]) -> str:
    """A digest of the cases a run takes: their ids and the bytes of their files."""
    digest = hashlib.sha256()
    for case in sorted(cases, key=lambda c: c.id):
        digest.update(f"{case.id}\0".encode())
        digest.update(hashlib.sha256(Path(case.path).read_bytes()).digest())
    return digest.hexdigest()


def key_of(text: str) -> ReleaseKey:
    return tuple(text.split(">"))


# ---------------------------------------------------------------- merge


def check_shards(reports: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """UserError unless the reports are every shard of one run, made by one tlsdiff."""
    if not reports:
        raise UserError("merge: no report given; expected the JSON reports of every shard")
    first_name, first = reports[0]
    seen: dict[int, str] = {}
    for name, report in reports:
        shard = report.get("shard")
        if not isinstance(shard, dict):
            raise UserError(f"{name}: not a shard report (made without --shard); merge takes the reports of "
                            "'tlsdiff run --shard K/N'")
        for what, field in (("a different tlsdiff", "tlsdiff"), ("other releases", "releases"),
                            ("other pinned releases", "pinned")):
            if _without_folders(report.get(field)) != _without_folders(first.get(field)):
                raise UserError(f"{name}: made by {what} than {first_name} ({field} differs); "
                                "merge only shards of one run")
        for what, key in (("a different case set", "cases"), ("another shard count", "count")):
            if shard.get(key) != first["shard"].get(key):
                raise UserError(f"{name}: {what} than {first_name} (shard.{key} differs); merge only shards of one run")
        if not 1 <= shard["index"] <= shard["count"]:
            raise UserError(f"{name}: shard.index: {shard['index']} is not a shard of {shard['count']}; "
                            f"expected 1 to {shard['count']}")
        if report.get("interrupted"):
            raise UserError(f"{name}: an interrupted shard (some of its runs did not run); run it again, then merge")
        if shard["index"] in seen:
            raise UserError(f"{name}: shard {shard['index']}/{shard['count']} is also {seen[shard['index']]}")
        seen[shard["index"]] = name
    _check_runs(reports)
    count = first["shard"]["count"]
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        absent = ", ".join(f"{i}/{count}" for i in missing)
        which = f"shard {absent} is" if len(missing) == 1 else f"shards {absent} are"
        raise UserError(f"merge: {which} missing; a merge without {'it' if len(missing) == 1 else 'them'} would "
                        "not be the whole run")


def _without_folders(rows: Any) -> Any:
    """Release rows without where a Go root lay: shards on other machines unpack the same
    toolchain (the same digest) into other folders; the merged report keeps the first's."""
    if not isinstance(rows, list):
        return rows
    return [{k: v for k, v in r.items() if k not in ("goroot", "also_goroots")} if isinstance(r, dict) else r
            for r in rows]


def _check_runs(reports: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Each run in one shard only, and each on releases of the run."""
    names = {r["name"] for r in reports[0][1]["releases"] if r["available"]}
    owner: dict[tuple[str, str], str] = {}
    for name, report in reports:
        for entry in report["results"]:
            for key in entry["runs"]:
                unknown = [k for k in key.split(">") if k not in names]
                if unknown:
                    raise UserError(f"{name}: {entry['case']} has a run on {unknown[0]!r}, which is not among the "
                                    "run's releases")
                if (entry["case"], key) in owner:
                    raise UserError(f"{name}: the run of {entry['case']} on go{key} is also in "
                                    f"{owner[(entry['case'], key)]}; each run belongs to one shard")
                owner[(entry["case"], key)] = name


def rows_of(report: dict[str, Any]) -> tuple[list[Toolchain | Unavailable], dict[str, dict[str, Any]]]:
    """The release rows and each release's peer capabilities, as a run holds them."""
    rows: list[Toolchain | Unavailable] = []
    capabilities: dict[str, dict[str, Any]] = {}
    for r in report["releases"]:
        if r["available"] and "address" in r:  # an external peer (peers/external.py)
            from .peers.external import ExternalPeer
            rows.append(ExternalPeer(line=r["line"], version=r["version"], provider=r["provider"], goroot=Path(),
                                     digest=r["digest"], name=r["name"], address=r["address"],
                                     binary_sha256=r["binary_sha256"]))
            capabilities[r["name"]] = r["peer"]
        elif r["available"]:
            rows.append(Toolchain(line=r["line"], version=r["version"], provider=r["provider"],
                                  goroot=Path(r.get("goroot", "")), digest=r["digest"], name=r["name"],
                                  also=tuple(r.get("also_goroots", ()))))
            capabilities[r["name"]] = r["peer"]
        else:
            rows.append(Unavailable(r["requested"], r["line"], r["reason"]))
    return rows, capabilities


def _keys(pairing: str, names: list[str]) -> list[ReleaseKey]:
    if pairing == Pairing.CROSS:
        return [(a, b) for a in names for b in names]
    return [(n,) for n in names]


def merge_results(reports: Sequence[dict[str, Any]]) -> list[CaseResult]:
    """Every case of the shards, its runs gathered and compared again, in case order."""
    names = [r["name"] for r in reports[0]["releases"] if r["available"]]
    entries: dict[str, dict[str, Any]] = {}
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    seconds: dict[str, dict[str, float]] = {}
    for report in reports:
        for entry in report["results"]:
            entries.setdefault(entry["case"], entry)
            runs.setdefault(entry["case"], {}).update(entry["runs"])
            seconds.setdefault(entry["case"], {}).update(report.get("timing", {}).get("runs", {}).get(entry["case"], {}))
    results = []
    for case_id in sorted(entries):
        entry = entries[case_id]
        case = Case(id=case_id, path=Path(entry["file"]), description=entry["description"], source=entry["source"],
                    tags=tuple(entry["tags"]), pairing=Pairing(entry["pairing"]), endpoints={}, steps=(),
                    file=entry["file"])
        order = [k for k in _keys(entry["pairing"], names) if ">".join(k) in runs[case_id]]
        docs = {k: runs[case_id][">".join(k)]["observations"] for k in order}
        verdicts = {k: RunVerdict(k, Verdict(runs[case_id][">".join(k)]["verdict"]),
                                  messages=list(runs[case_id][">".join(k)]["failures"])) for k in order}
        result = CaseResult(case, docs, verdicts, agreement_classes(docs))
        result.seconds = {k: seconds[case_id].get(">".join(k), 0.0) for k in order}
        results.append(result)
    return results
