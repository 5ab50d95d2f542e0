"""Endpoints pinned to a release (`peer: "1.21"`): prepared with the run from the
cases that pin them, sharing the pool with the columns, named in the report as the
columns are, and a release that cannot be had making its cases' runs unsupported."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from conftest import EDGE_RELEASES, REPO
from tlsdiff import Run, load_cases, toolchains
from tlsdiff.peers.external import ExternalPeer, pin_external

OLDEST_LINE, NEWEST_LINE = EDGE_RELEASES.split(",")


def _valid(report: dict) -> dict:
    schema = json.loads((REPO / "harness" / "report" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    return report


def test_a_pinned_line_is_prepared_with_the_run_and_named_as_a_column_would_be(edge_releases) -> None:
    """A Go 1.19 client held fixed against the newest line's server: 1.19 is no column of
    the run, yet it is resolved, built and run, and the report says exactly which."""
    new = edge_releases.versions[-1]
    case = load_cases(["state/tls12-ekm-pinned-1.19-client"])[0]
    expected = toolchains.resolve(OLDEST_LINE)
    assert isinstance(expected, toolchains.Toolchain)
    with Run(go=NEWEST_LINE) as run:
        releases = run.prepare([case])
        pinned = releases.pinned[OLDEST_LINE]
        assert isinstance(pinned, toolchains.Toolchain)
        assert (pinned.name, pinned.digest) == (expected.name, expected.digest)
        assert releases.versions == [new] and releases.binaries[pinned.name].is_file()
        assert run.prepare([case]).pinned[OLDEST_LINE] is pinned  # prepared once
        result = run.run([case])
        report = _valid(result.report())
    (row,) = report["pinned"]
    assert (row["pin"], row["name"], row["version"], row["digest"], row["available"]) == (
        OLDEST_LINE, expected.name, expected.version, expected.digest, True)
    assert row["peer"]["connection_state_fields"][0] == "Version"  # its hello, as a column's row has
    assert [r["name"] for r in report["releases"]] == [new]
    endpoints = report["results"][0]["runs"][new]["observations"]["endpoints"]
    assert endpoints == {"c119": {"peer": expected.name}, "s1": {"peer": new}}
    assert result.results[0].verdict == "pass", result.results[0].verdicts[(new,)].failures()


def test_pinned_releases_share_the_pool_with_the_columns() -> None:
    """A pin that is a column's release runs in that column's peer: one process per release."""
    case = load_cases(["tickets/tls12-ticket-of-release-under-test-to-pinned-1.27-server"])[0]
    with Run(go=f"{OLDEST_LINE},1.27") as run:  # the case pins 1.27 (and 1.21, no column)
        old, new = run.releases.versions
        result = run.run([case])
        pins = {spec: row.name for spec, row in run.releases.pinned.items()}
        running = set(run.pool.running())
    assert pins["1.27"] == new
    assert running == {old, new, pins["1.21"]}
    assert {k: v.verdict for k, v in result.results[0].verdicts.items()} == {(old,): "pass", (new,): "pass"}
    for key, doc in result.results[0].docs.items():
        assert doc["endpoints"] == {"c121": {"peer": pins["1.21"]}, "issuer": {"peer": key[0]},
                                    "reader": {"peer": new}}


def test_a_pinned_release_that_cannot_be_had_makes_its_cases_unsupported(tmp_path: Path, edge_releases) -> None:
    new = edge_releases.versions[-1]
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "old-client.yaml").write_text(
        "description: d\nsource: s\nservers: {s1: {}}\nclients: {c1: {peer: '1.20'}}\n"
        "steps: [{connect: {client: c1, server: s1}}]\n")
    (cases / "plain.yaml").write_text(
        "description: d\nsource: s\nservers: {s1: {}}\nclients: {c1: {}}\n"
        "steps: [{connect: {client: c1, server: s1}}]\nexpect: [{step: 1, client: {error: null}}]\n")
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", "--no-default-cases", "--cases", "cases",
                        "--go", NEWEST_LINE, "--json", "report.json"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "tlsdiff: Go 1.20 (pinned by cases): unavailable, their runs are unsupported: no provider" \
        in p.stderr
    report = _valid(json.loads((tmp_path / "report.json").read_text()))
    (row,) = report["pinned"]
    assert (row["pin"], row["available"]) == ("1.20", False) and row["reason"].startswith("Go 1.20: no provider")
    runs = {r["case"]: r["runs"][new] for r in report["results"]}
    assert runs["old-client"]["verdict"] == "unsupported"
    assert runs["old-client"]["failures"] == [f"1.20: endpoint c1 is pinned to a release this run cannot have: "
                                              f"{row['reason']}"]
    assert runs["old-client"]["observations"]["endpoints"] == {"s1": {"peer": new}}
    assert runs["plain"]["verdict"] == "pass"


def test_the_external_runner_pins_to_the_peers_it_is_given() -> None:
    """It starts no peer: a pin is the running peer of that release, or of that line's newest."""
    peers = [ExternalPeer(line=v.rsplit(".", 1)[0], version=v, provider="external", goroot=Path(), name=v,
                          address=f"127.0.0.1:{7000 + i}", binary_sha256="0" * 64)
             for i, v in enumerate(["1.21.13", "1.27.0", "1.27.3"])]
    assert pin_external("1.27", peers).name == "1.27.3"
    assert pin_external("1.27.0", peers).name == "1.27.0"
    missing = pin_external("1.25", peers)
    assert isinstance(missing, toolchains.Unavailable)
    assert missing.reason == ("Go 1.25: no peer of it among the running peers --peers names (1.21.13, 1.27.0, "
                              "1.27.3); the external runner starts none")
