"""Sharded runs merged are the single run: the same JSON (timing aside), the same JUnit
(times aside) and the same Markdown, cross-release cases included, on real peers of
the oldest and newest line. Shards of different runs are refused with one line."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EDGE_RELEASES, REPO

SELECTION = ["binder/", "tickets/", "encoding/"]  # same and cross pairings, unsupported runs, Python peers
SHARDS = 3


def tlsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)


def _reports(prefix: Path, *extra: str) -> dict[str, Path]:
    paths = {kind: prefix.with_suffix(suffix) for kind, suffix in (("json", ".json"), ("junit", ".xml"),
                                                                     ("markdown", ".md"))}
    p = tlsdiff(*extra, "-q", *(a for kind, path in paths.items() for a in (f"--{kind}", str(path))))
    assert p.returncode == 0, p.stdout + p.stderr
    return paths


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, edge_releases) -> dict:
    out = tmp_path_factory.mktemp("shards")
    single = _reports(out / "single", "run", *SELECTION, "--go", EDGE_RELEASES)
    shards = [_reports(out / f"shard{k}", "run", *SELECTION, "--go", EDGE_RELEASES, "--shard", f"{k}/{SHARDS}")["json"]
              for k in range(1, SHARDS + 1)]
    merged = _reports(out / "merged", "merge", *map(str, shards))
    return {"single": single, "shards": shards, "merged": merged, "dir": out}


def _no_timing(path: Path) -> dict:
    report = json.loads(path.read_text())
    report.pop("timing")
    return report


def _no_times(path: Path) -> str:
    return re.sub(r' (time|timestamp)="[^"]*"', "", path.read_text())


def test_merged_reports_are_the_single_runs(runs) -> None:
    single, merged = runs["single"], runs["merged"]
    assert _no_timing(merged["json"]) == _no_timing(single["json"])
    assert _no_times(merged["junit"]) == _no_times(single["junit"])
    assert merged["markdown"].read_text() == single["markdown"].read_text()
    report = json.loads(merged["json"].read_text())
    assert any(r["pairing"] == "cross" and len(r["runs"]) == 4 for r in report["results"])


def test_shards_split_the_runs_without_overlap(runs) -> None:
    seen: dict[tuple[str, str], int] = {}
    for k, path in enumerate(runs["shards"], 1):
        report = json.loads(path.read_text())
        assert report["shard"]["index"] == k and report["shard"]["count"] == SHARDS
        for r in report["results"]:
            for key in r["runs"]:
                assert (r["case"], key) not in seen
                seen[(r["case"], key)] = k
    single = json.loads(runs["single"]["json"].read_text())
    assert set(seen) == {(r["case"], key) for r in single["results"] for key in r["runs"]}
    assert set(seen.values()) == set(range(1, SHARDS + 1))


def _edited(src: Path, dest: Path, change) -> Path:  # type: ignore[no-untyped-def]
    report = json.loads(src.read_text())
    change(report)
    dest.write_text(json.dumps(report))
    return dest


def test_merge_refuses_what_is_not_one_run(runs) -> None:
    s1, s2, s3 = map(str, runs["shards"])
    d = runs["dir"]
    other_version = _edited(runs["shards"][2], d / "v.json", lambda r: r["tlsdiff"].update(version="0.0.1"))
    other_cases = _edited(runs["shards"][2], d / "c.json", lambda r: r["shard"].update(cases="0" * 64))
    interrupted = _edited(runs["shards"][2], d / "i.json", lambda r: r.update(interrupted=True))
    index_zero = _edited(runs["shards"][2], d / "z.json", lambda r: r["shard"].update(index=0))
    index_past = _edited(runs["shards"][2], d / "p.json", lambda r: r["shard"].update(index=5))

    def steal(r: dict) -> None:  # shard 3 claims a run of shard 1 too
        first = json.loads(runs["shards"][0].read_text())["results"][0]
        r["results"].append(first)
    overlapping = _edited(runs["shards"][2], d / "o.json", steal)
    cases = {
        "missing": ([s1, s2], "merge: shard 3/3 is missing; a merge without it would not be the whole run"),
        "two missing": ([s1], "merge: shards 2/3, 3/3 are missing; a merge without them"),
        "twice": ([s1, s2, s2, s3], "shard 2/3 is also"),
        "version": ([s1, s2, str(other_version)], "made by a different tlsdiff than"),
        "case set": ([s1, s2, str(other_cases)], "a different case set than"),
        "not a shard": ([s1, s2, str(runs["single"]["json"])], "not a shard report"),
        "interrupted": ([s1, s2, str(interrupted)], "an interrupted shard"),
        "index 0": ([s1, s2, str(index_zero)], "shard.index: 0 is less than the minimum of 1"),
        "index past": ([s1, s2, str(index_past)], "shard.index: 5 is not a shard of 3"),
        "overlap": ([s1, s2, str(overlapping)], "each run belongs to one shard"),
    }
    for name, (args, expected) in cases.items():
        p = tlsdiff("merge", *args)
        assert p.returncode == 2, (name, p.stdout, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and expected in p.stderr, (name, p.stderr)


def test_a_bad_shard_is_one_line() -> None:
    for bad in ("0/3", "4/3", "1/0", "x/y", "2"):
        p = tlsdiff("run", "--shard", bad, "--list")
        assert p.returncode == 2 and "--shard:" in p.stderr and "expected K/N" in p.stderr, p.stderr
