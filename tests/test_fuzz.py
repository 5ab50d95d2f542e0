"""`tlsdiff fuzz` on real peers of Go 1.19, 1.21 and the newest line: a short campaign
finds partitions, its case files load and pass as cases, the same seed writes the same
files, a report of those files makes them known, minimization drops the knobs that do
not matter, a peer that stops answering is no finding, Ctrl-C writes what was found;
every knob of the table is drawn from its schema; bad flags are one line."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from conftest import REPO, wait_for_stderr
from tlsdiff.fuzz import values
from tlsdiff.fuzz.bases import Base, all_bases
from tlsdiff.fuzz.generate import Stimuli, Stimulus, check_loads, python_knobs
from tlsdiff.fuzz.minimize import minimize
from tlsdiff.fuzz.outcome import Known, Outcome
from tlsdiff.scenario.misbehaviours import KNOBS, PYTHON
from tlsdiff.scenario.model import Role

RELEASES = "1.19,1.21,1.27"
SEED, COUNT = "2", "220"


def tlsdiff(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def _fuzz(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return tlsdiff("fuzz", "--go", RELEASES, "--seed", SEED, "--count", COUNT, "--out", str(out), "-q", *extra)


def _without_timing(path: Path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("timing")
    return doc


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A campaign with nothing known beforehand: every split of the releases is a finding."""
    out = tmp_path_factory.mktemp("fuzz") / "found"
    proc = _fuzz(out, "--no-default-cases")
    assert proc.returncode == 0, proc.stderr
    return out


# ---------------------------------------------------------------- the stream


def test_every_knob_is_drawn_from_its_schema() -> None:
    """Systematic, random and simpler values of every knob satisfy its schema, and the
    stream's knob phase sets every Python knob of each role on its own."""
    rng = __import__("random").Random(5)
    for knob in KNOBS:
        for v in values.systematic(knob.value, rng):
            jsonschema.validate(v, knob.value)
        for _ in range(50):
            v = values.random_value(knob.value, rng)
            jsonschema.validate(v, knob.value)
            for s in values.simpler(knob.value, v):
                jsonschema.validate(s, knob.value)
    stream = list(itertools.islice(iter(Stimuli(7)), 600))
    seen = {(s.base.role, name) for s in stream if s.phase == "knob" for name in s.misbehave}
    for role in (Role.CLIENT, Role.SERVER):
        assert {k.name for k in python_knobs(role)} <= {n for r, n in seen if r == role}
    assert {k.name for k in KNOBS if k.peer == PYTHON} == {n for _, n in seen}
    assert [check_loads(s) for s in stream[::5]] == [None] * len(stream[::5])
    assert [s.label() for s in itertools.islice(iter(Stimuli(7)), 600)] == [s.label() for s in stream]
    assert {b.name for b in all_bases()} == {s.base.name for s in stream if s.phase == "base"}


def test_a_schema_keyword_the_fuzzer_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="not understood"):
        values.systematic({"type": "string", "format": "date"}, __import__("random").Random(1))


# ---------------------------------------------------------------- a campaign


def test_findings_load_and_pass_as_cases(campaign: Path, tmp_path: Path) -> None:
    index = json.loads((campaign / "findings.json").read_text())
    assert index["seed"] == int(SEED) and [r["name"] for r in index["releases"]] == ["1.19.8", "1.21.13", "1.27.3"]
    assert all(r["digest"] for r in index["releases"])
    assert index["counts"]["stimuli"] == int(COUNT)
    found = index["findings"]
    assert len(found) >= 3 and "partition" in {f["kind"] for f in found}
    files = sorted(p.name for p in campaign.glob("*.yaml"))
    assert files == sorted(f["file"] for f in found)
    report = tmp_path / "r.json"
    proc = tlsdiff("run", "--go", RELEASES, "--cases", str(campaign), "--no-default-cases", "--json", str(report),
                   "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["case"]: r for r in json.loads(report.read_text())["results"]}
    for f in found:
        r = results[f["file"].removesuffix(".yaml")]
        assert r["verdict"] == "pass"
        assert sorted(r["classes"].values()) == sorted(f["partition"])  # the partition it was found for
        assert r["source"] == f"tlsdiff fuzz --seed {SEED}" and "fuzz" in r["tags"]
        text = (campaign / f["file"]).read_text()
        if len(f["partition"]) > 1:
            assert "expect:" in text  # the values that differ, by release range


def test_the_same_seed_writes_the_same_findings(campaign: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    proc = _fuzz(again, "--no-default-cases", "--batch", "17")  # the batch size changes nothing
    assert proc.returncode == 0, proc.stderr
    assert _without_timing(again / "findings.json") == _without_timing(campaign / "findings.json")
    for p in campaign.glob("*.yaml"):
        assert (again / p.name).read_text() == p.read_text()


EIGHT = ("1.19.8", "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3")


def _split(*groups: tuple[str, ...], rejecting: tuple[str, ...] = ()) -> Outcome:
    return Outcome(EIGHT, groups, accepted={r: (r not in rejecting,) for g in groups for r in g})


def test_a_split_that_known_splits_make_together_names_those_cases() -> None:
    """The seed-7 campaign's one finding (1.19-1.24 | 1.25 | 1.26+) was the change of
    one case in 1.25 and of another in 1.26 at once: it stays a finding, and names them."""
    known = Known()
    known.add(_split(EIGHT[:5], EIGHT[5:]), "in-1.25")
    known.add(_split(EIGHT[:6], EIGHT[6:]), "in-1.26")
    known.add(_split(EIGHT[:1], EIGHT[1:]), "in-1.21")
    assert known.explained_by((EIGHT[:5], EIGHT[5:6], EIGHT[6:])) == ["in-1.25", "in-1.26"]
    assert known.explained_by((EIGHT[:1], EIGHT[1:5], EIGHT[5:])) == ["in-1.25", "in-1.21"]  # in order added
    assert known.explained_by((EIGHT[1:5], EIGHT[5:])) == ["in-1.25"]  # 1.19 had no outcome
    assert known.explained_by((EIGHT[:4], EIGHT[4:])) == []  # a change in 1.24: new
    # 1.25 with the old releases: the 1.25 case keeps it apart from them, so it cannot help
    assert known.explained_by((EIGHT[:6], EIGHT[6:7], EIGHT[7:])) == []


def test_among_cases_that_split_alike_the_one_set_up_like_the_stimulus_is_named() -> None:
    """Seed 40: an ECH extension in a Python server's HelloRetryRequest, resumed by a Go
    client, split 1.19.8 | 1.21-1.22 | 1.23 | 1.24+. By the order cases were added, the
    ALPN error's case and an ECH client's split so too; the cases set up as the stimulus
    was (the ECH-in-HRR edit; a Python server and 1.19.8's HRR binder) are the ones named,
    on real cases' words."""
    from tlsdiff.fuzz.outcome import case_words
    from tlsdiff.scenario.catalog import load_cases
    cases = {c.id: c for c in load_cases(["bugs/cve-2025-58189-alpn-error-quoted", "ech/pyclient-server-without-keys",
                                          "bugs/go-31641-server-verify-peer-certificate-on-resumption",
                                          "bugs/go-59424-against-python-server", "ech/pyserver-unsolicited-ech-in-hrr"])}
    splits = {"bugs/cve-2025-58189-alpn-error-quoted": (EIGHT[:1], EIGHT[1:4], EIGHT[4:]),
              "ech/pyclient-server-without-keys": (EIGHT[:3], EIGHT[3:]),
              "bugs/go-31641-server-verify-peer-certificate-on-resumption": (EIGHT[:1], EIGHT[1:]),
              "bugs/go-59424-against-python-server": (EIGHT[:1], EIGHT[1:]),
              "ech/pyserver-unsolicited-ech-in-hrr": (EIGHT[:3], EIGHT[3:4], EIGHT[4:])}
    known = Known()
    for case_id, groups in splits.items():
        known.add(_split(*groups), case_id, case_words(cases[case_id]))
    found = (EIGHT[:1], EIGHT[1:3], EIGHT[3:4], EIGHT[4:])
    assert known.explained_by(found) == ["bugs/cve-2025-58189-alpn-error-quoted", "ech/pyclient-server-without-keys"]
    stimulus = Stimulus(0, "test", Base("pyserver", "1.3", resume=True, hrr=True), {
        "extension_edits": [{"message": "hello_retry_request", "extension": "encrypted_client_hello", "do": "empty"}]})
    words = case_words(stimulus.case("seed-40"))
    assert known.explained_by(found, words) == ["bugs/go-59424-against-python-server",
                                                "ech/pyserver-unsolicited-ech-in-hrr"]
    # The same partition shown by two cases: the one set up alike is named.
    assert known.explains(_split(EIGHT[:1], EIGHT[1:]), [("partition", (EIGHT[:1], EIGHT[1:]))], words) == [
        "bugs/go-59424-against-python-server"]


def test_cases_set_up_like_the_stimulus_are_named_over_one_that_splits_alike_alone() -> None:
    """Seed 43: sixteen KeyUpdates from a Python server, then a resumption through an HRR,
    split 1.19.8 | 1.21-1.25 | 1.26+ with 1.19.8 alone rejecting. A client-certificate
    case splits so alone, and another case had 1.19.8 alone first; the go-59424 binder
    case and the go-79866 KeyUpdate case are what the stimulus did (their splits, as
    `tlsdiff run` shows them on these eight releases; the cases' own words)."""
    from tlsdiff.fuzz.outcome import case_words
    from tlsdiff.scenario.catalog import load_cases
    splits = {"bugs/go-31641-server-verify-peer-certificate-on-resumption": (EIGHT[:1], EIGHT[1:]),
              "bugs/go-77113-clone-other-client-cas": (EIGHT[:1], EIGHT[1:6], EIGHT[6:]),
              "bugs/go-59424-against-python-server": (EIGHT[:1], EIGHT[1:]),
              "bugs/go-79866-post-handshake-records-do-not-advance": (EIGHT[:6], EIGHT[6:])}
    cases = {c.id: c for c in load_cases(list(splits))}
    known = Known()
    for case_id, groups in splits.items():
        rejecting = EIGHT[:1] if len(groups) == 2 and groups[0] == EIGHT[:1] else ()  # the binder cases
        known.add(_split(*groups, rejecting=rejecting), case_id, case_words(cases[case_id]))
    stimulus = Stimulus(0, "test", Base("pyserver", "1.3", resume=True, hrr=True),
                        {"post_handshake": {"messages": ["key_update"] * 16}})
    found = _split(EIGHT[:1], EIGHT[1:6], EIGHT[6:], rejecting=EIGHT[:1])
    assert known.explains(found, known.new(found), case_words(stimulus.case("seed-43"))) == [
        "bugs/go-59424-against-python-server", "bugs/go-79866-post-handshake-records-do-not-advance"]
    # Without what the stimulus set up: the first case with 1.19.8 alone, the one split alike.
    assert known.explains(found, known.new(found)) == [
        "bugs/go-31641-server-verify-peer-certificate-on-resumption", "bugs/go-77113-clone-other-client-cas"]


def test_a_release_alone_as_a_known_case_has_it_alone_is_named_with_the_splits() -> None:
    """Seed 11: 1.19.8 alone rejects a resumption through an HRR (the go-59424 binder
    case shows that) while a KeyUpdate pair splits off 1.26+ (another case shows that)."""
    known = Known()
    known.add(_split(EIGHT[:1], EIGHT[1:], rejecting=EIGHT[:1]), "go-59424")
    known.add(_split(EIGHT[:6], EIGHT[6:]), "key-update-1.26")
    both = _split(EIGHT[:1], EIGHT[1:6], EIGHT[6:], rejecting=EIGHT[:1])
    assert known.explains(both, known.new(both)) == ["go-59424", "key-update-1.26"]
    other = _split(EIGHT[:2], EIGHT[2:6], EIGHT[6:], rejecting=EIGHT[1:2])  # 1.21 alone: no case has it
    assert known.new(other) and known.explains(other, known.new(other)) == []


def test_a_report_of_the_findings_makes_them_known(campaign: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    assert tlsdiff("run", "--go", RELEASES, "--cases", str(campaign), "--no-default-cases", "--json", str(report),
                   "-q", cwd=tmp_path).returncode == 0
    proc = _fuzz(tmp_path / "again", "--known", str(report))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "again" / "findings.json").read_text())["findings"] == []


def test_known_from_a_report_names_the_case_set_up_like_the_stimulus(tmp_path: Path) -> None:
    """--known REPORT.json: the report names each case's file, not what it sets up; the
    files are read again (here tlsdiff's own, run from another folder), so among cases
    that split the releases alike the hint names the one set up like the stimulus."""
    from tlsdiff.fuzz.outcome import case_words
    from tlsdiff.scenario.catalog import load_cases
    ids = ["bugs/go-31641-server-verify-peer-certificate-on-resumption", "bugs/go-59424-against-python-server"]
    report = tmp_path / "r.json"
    proc = tlsdiff("run", "--go", RELEASES, *ids, "--json", str(report), "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    versions = next(iter(json.loads(report.read_text())["results"]))["classes"]
    releases = sorted(r for group in versions.values() for r in group)
    known = Known.of_report(report, releases)
    cases = {c.id: c for c in load_cases(ids)}
    assert known.words == {i: case_words(cases[i]) for i in ids}
    split = next(p for p in known.partitions)
    assert known.partitions[split] == ids  # both split 1.19 from the rest
    stimulus = Stimulus(0, "test", Base("pyserver", "1.3", resume=True, hrr=True), {})
    outcome = Outcome(tuple(releases), split, accepted={r: (True,) for g in split for r in g})
    assert known.explains(outcome, [("partition", split)], case_words(stimulus.case("s"))) == [ids[1]]


def test_the_default_cases_are_known(campaign: Path, tmp_path: Path) -> None:
    """With tlsdiff's own cases known, what they already show is not found again."""
    proc = _fuzz(tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    found = {(f["kind"], json.dumps(f["partition"])) for f in json.loads(
        (tmp_path / "out" / "findings.json").read_text())["findings"]}
    everything = {(f["kind"], json.dumps(f["partition"])) for f in json.loads(
        (campaign / "findings.json").read_text())["findings"]}
    assert found < everything  # the 1.19.8 HRR binder bug (go-59424), the TLS 1.2 ticket re-issue ... are known


def test_replay_says_whether_a_finding_still_holds(campaign: Path) -> None:
    first = json.loads((campaign / "findings.json").read_text())["findings"][0]
    proc = tlsdiff("fuzz", "--go", RELEASES, "--replay", str(campaign / first["file"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ": holds" in proc.stdout and "passes" in proc.stdout


# ---------------------------------------------------------------- minimization


def test_a_minimized_finding_is_explained_by_what_it_still_sets_up(edge_releases) -> None:
    """Seed 41: a huge ticket through an HRR, found on a base with a client certificate,
    was hinted with a client-auth case for 1.19.8's split; minimized, the client certificate
    is gone and the hint names the case set up like what is left (a Go client resuming with
    a Python server through an HRR: 1.19.8's wrong binder, go-59424), beside the ticket case."""
    from tlsdiff.fuzz.campaign import Campaign
    from tlsdiff.fuzz.findings import Finding
    from tlsdiff.fuzz.outcome import case_words
    from tlsdiff.runs import Run
    from tlsdiff.scenario.catalog import load_cases
    found = Stimulus(0, "test", Base("pyserver", "1.3", resume=True, hrr=True, client_auth=True),
                     {"huge_ticket": 65279})
    with Run(RELEASES, timeout=2.0) as run:
        # The cases the seed-41 hint chose among: two that split 1.19.8 off, one that splits at 1.23.
        known = Known.of_results(run.run(load_cases([
            "bugs/go-31641-server-verify-peer-certificate-on-resumption", "bugs/go-59424-against-python-server",
            "tickets/pyserver-ticket-too-large-to-offer"]), outcome_only=True).results)
        campaign = Campaign(run, known, 0, count=0, minimizing=True)
        (outcome,) = campaign.outcomes([found], "hint")
        assert outcome is not None
        # On three releases 1.21 alone resumes too; the partition is the kind the seed-41 finding had.
        signature = next(s for s in outcome.signatures() if s[0] == "partition")
        before = known.explains(outcome, [signature], case_words(found.case("finding")))
        f = Finding(*signature, found, outcome, explained_by=before)
        campaign._minimize(f)
    assert f.minimized is not None and not f.minimized.base.client_auth, f.minimized
    assert f.explained_by == ["bugs/go-59424-against-python-server", "tickets/pyserver-ticket-too-large-to-offer"], \
        (before, f.explained_by)
    assert before != f.explained_by


def _runner(run, prefix: str, ran: list[int]):  # type: ignore[no-untyped-def]
    """Stimuli as minimize runs them: on every release of `run`, each batch's size kept in `ran`."""
    def runner(stimuli):  # type: ignore[no-untyped-def]
        ran.append(len(stimuli))
        result = run.run([s.case(f"{prefix}/{len(ran)}-{i}") for i, s in enumerate(stimuli)])
        return [Outcome.of(r.docs) for r in result.results]
    return runner


def test_minimization_drops_the_knobs_that_do_not_matter(edge_releases) -> None:
    """A TLS 1.2 client that leaves out extended_master_secret when it resumes: only 1.19
    resumes anyway. Knobs of TLS 1.3 (no use in TLS 1.2), an extension edit of a message
    never sent and a client certificate change nothing: minimizing keeps the one knob."""
    from tlsdiff.runs import Run
    relevant = Stimulus(0, "test", Base("pyclient", "1.2", resume=True), {"drop_ems_on_resume": True})
    noisy = Stimulus(1, "test", Base("pyclient", "1.2", resume=True, client_auth=True), {
        "psk_modes": "psk_ke", "drop_ems_on_resume": True, "wrong_ticket_age": 77777,
        "extension_edits": [{"message": "client_hello_2", "extension": "padding", "do": "bytes", "bytes": "00"},
                            {"message": "end_of_early_data", "extension": 65000, "do": "empty"}]})
    ran: list[int] = []
    with Run(RELEASES, timeout=2.0, workers=8) as run:
        runner = _runner(run, "min", ran)
        outcome = runner([relevant])[0]
        signature = outcome.signatures()[0]
        assert signature[0] == "lone-accept" and signature[1][0] == ("1.19.8",)
        # The finding names the release alone, not only the partition it makes.
        from tlsdiff.fuzz.findings import Finding
        found = Finding(*signature, relevant, outcome)
        assert found.kind_text() == "lone-accept 1.19.8"
        assert "one release alone accepts (1.19.8): 1.19.8 | " in found.description()
        assert signature in runner([noisy])[0].signatures()
        result = minimize(noisy, signature, runner)
    assert result.reproduced and not result.exhausted
    assert result.stimulus.misbehave == {"drop_ems_on_resume": True}
    assert result.stimulus.base == Base("pyclient", "1.2", resume=True)  # no client certificate either
    assert result.tests == sum(ran[2:])


def test_minimization_takes_post_handshake_messages_one_by_one(edge_releases) -> None:
    """go-79866: from 1.26.6 the seventeenth post-handshake record in a row that does not
    advance the connection is refused. Thirty messages of every kind, packed as a campaign
    draws them, are minimized to seventeen, not kept whole as one knob (seed 43's finding
    kept sixty-four)."""
    from tlsdiff.runs import Run
    kinds = ["key_update", "new_session_ticket", "key_update_requested"]
    messages = [kinds[i % 3] for i in range(30)]
    stimulus = Stimulus(0, "test", Base("pyserver", "1.3"),
                        {"post_handshake": {"messages": messages, "records": "apart"}})
    with Run(RELEASES, timeout=2.0, workers=8) as run:
        runner = _runner(run, "min-ph", [])
        signature = runner([stimulus])[0].signatures()[0]
        assert signature[1][-1] == (edge_releases.versions[-1],), signature  # the newest line alone
        result = minimize(stimulus, signature, runner)
    assert result.reproduced and not result.exhausted, result
    # Seventeen, each the simplest message (the list's entries simplified at once).
    assert result.stimulus.misbehave == {"post_handshake": {"messages": ["key_update"] * 17}}


def test_a_flipped_byte_that_falls_apart_between_releases_is_said_so(edge_releases) -> None:
    """Seed 53's lone-accept: a byte of the Python server's TLS 1.2 ServerHello flipped at
    offset 229, modulo the message's length. 1.19 offers no extended_master_secret, so its
    ServerHello is four bytes shorter and the flip falls in the session ID (the handshake
    completes) where the newer releases get it in the random (the signature fails): not a
    difference in how the releases read the same bytes, and the finding says so."""
    from tlsdiff.fuzz.findings import Finding, flip_landings
    from tlsdiff.runs import Run
    edges = (RELEASES.split(",")[0], RELEASES.split(",")[-1])
    flip = Stimulus(0, "test", Base("pyserver", "1.2", resume=True),
                    {"message_edits": [{"message": "server_hello", "do": "flip_byte", "offset": 229}]})
    same = Stimulus(1, "test", Base("pyserver", "1.2"),
                    {"message_edits": [{"message": "server_hello", "do": "flip_byte", "offset": 20}]})
    with Run(",".join(edges), timeout=2.0) as run:
        flipped, early = (r.docs for r in run.run([flip.case("landing/apart"), same.case("landing/same")]).results)
    landings = flip_landings(flip, flipped)
    old, new = (edge_releases.versions[0],), (edge_releases.versions[-1],)
    # 1.19's resumption's ServerHello has no server_name either: byte 47 there.
    assert landings == {"server_hello byte 39": list(old), "server_hello byte 47": list(old),
                        "server_hello byte 31": list(new)}, landings
    assert Outcome.of(flipped).signatures()  # the releases do fall apart on it
    assert flip_landings(same, early) == {}  # inside the random: the same byte for every release
    f = Finding("partition", (old, new), flip, Outcome.of(flipped), landings=landings)
    assert ("The flipped byte fell apart (server_hello byte 39 for 1.19.8; server_hello byte 47 for 1.19.8; "
            "server_hello byte 31 for") in f.description()


def test_a_size_each_release_computed_itself_does_not_split_the_releases(edge_releases) -> None:
    """Seed 99's huge_ticket: every release's client fails to marshal the resumption's
    ClientHello around the ticket, each naming the length of its own ClientHello (larger
    in newer releases). The run's classes keep them apart, as the report does; the fuzzer
    does not, so it is no finding in every campaign."""
    from tlsdiff.runs import Run
    huge = Stimulus(0, "test", Base("pyserver", "1.3", resume=True), {"huge_ticket": 65437})
    with Run(",".join(edge_releases.versions), timeout=2.0) as run:
        result = run.run([huge.case("sizes/huge-ticket")]).results[0]
    errors = {k[0]: d["steps"][1]["client"]["error"] for k, d in result.docs.items()}
    assert len(set(errors.values())) == 2 and all(
        e.startswith("cryptobyte: pending child length ") for e in errors.values()), errors
    assert len(set(result.classes.values())) == 2
    assert Outcome.of(result.docs, result.classes).partition == (tuple(edge_releases.versions),)
    assert Outcome.of(result.docs).signatures() == []


# ---------------------------------------------------------------- peers that fail


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]



def test_a_peer_that_stops_answering_is_restarted_and_is_no_finding(tmp_path: Path) -> None:
    """SIGSTOP on the 1.21 peer: the runs in flight on it fail, the pool starts it again,
    and those stimuli, run once more, do not fail: they are unstable, not findings. (Or,
    stopped at rest between batches, the flush at the end of a batch finds it, and says so.)"""
    out = tmp_path / "out"
    # Enough stimuli that batches still run when the peer is stopped, 2 s after "known:".
    # With 400, a campaign here ended 4.2 to 5.9 s after it, and one CI run's stop met
    # no run and no flush (it came after the last run, it seems); 1200 last about three
    # times as long.
    proc = subprocess.Popen([sys.executable, "-m", "tlsdiff.cli", "fuzz", "--go", RELEASES, "--seed", "9",
                             "--count", "1200", "--out", str(out), "--no-default-cases", "--timeout", "1"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_stderr(proc, "known:", timeout=120)
        time.sleep(2)
        stopped = [p for p in _children(proc.pid) if "1.21.13" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
        assert len(stopped) == 1
        os.kill(stopped[0], signal.SIGSTOP)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    # Stopped while runs were on it, those runs fail and do not fail again; stopped at rest
    # (the batches now leave the peers idle for a moment), the flush at the end of a batch
    # finds it.
    assert "did not do it again" in stderr or "Go 1.21.13's peer failed between batches" in stderr, stderr
    index = json.loads((out / "findings.json").read_text())
    assert index["counts"]["unstable_findings"] >= ("did not do it again" in stderr)
    assert [f for f in index["findings"] if f["kind"] == "peer-failure"] == []
    assert not Path(f"/proc/{stopped[0]}").exists() or "zombie" in Path(f"/proc/{stopped[0]}/status").read_text()


def test_a_peer_that_keeps_a_socket_for_one_stimulus_is_a_leak_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The newest peer is made to keep a listening socket, a real descriptor, open after
    every run of one stimulus of the second batch (as a peer that leaked its listener
    would). Counting descriptors at rest finds the growth; halving the batch finds the
    stimulus; the finding names the newest release alone."""
    from tlsdiff import execute, pki
    from tlsdiff.fuzz.campaign import Campaign
    from tlsdiff.fuzz.outcome import Known
    from tlsdiff.peers.steps import Await, Blocking
    from tlsdiff.runs import Run

    leaky_index, kept = 45, itertools.count()
    run_case_steps = execute.run_case_steps

    def leaking_run_case_steps(case, key, pool, *args, **kwargs):  # type: ignore[no-untyped-def]
        run = yield from run_case_steps(case, key, pool, *args, **kwargs)
        if case.id.rsplit("/", 1)[-1].startswith(f"{leaky_index}-") and key == (newest,):
            peer, name = (yield Blocking(lambda: pool.get(newest))), f"leak#{next(kept)}"
            ident = pki.identity("server")
            yield Await(peer, peer.send("configure", {"name": name, "role": "server", "config": {
                "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}]}}), 10)
            # Never dropped: its prefix is no run's.
            yield Await(peer, peer.send("listen", {"name": name + "#l", "endpoint": name}), 10)
        return run
    monkeypatch.setattr(execute, "run_case_steps", leaking_run_case_steps)
    with Run(RELEASES, timeout=2.0, workers=8) as run:
        newest = run.releases.versions[-1]
        campaign = Campaign(run, Known(), seed=5, count=96, batch=32, minimizing=False)
        campaign.fuzz()
    leaks = [f for f in campaign.findings.values() if f.kind == "peer-leak"]
    assert len(leaks) == 1, [(f.kind, f.partition) for f in campaign.findings.values()]
    assert leaks[0].first.index == leaky_index
    assert leaks[0].partition[0] == (newest,)
    assert next(kept) >= 4  # the batch, its halves, the stimulus: each run kept one more


def test_sigint_writes_what_was_found_and_leaves_no_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "tlsdiff.cli", "fuzz", "--go", RELEASES, "--seed", "3",
                             "--budget", "10m", "--out", str(out), "--no-default-cases"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_stderr(proc, "finding:", timeout=120)
        children = _children(proc.pid)
        assert len(children) >= 4  # three Go peers and tlspeer
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    index = json.loads((out / "findings.json").read_text())
    assert index["interrupted"] is True and index["findings"]
    assert all((out / f["file"]).is_file() for f in index["findings"])
    time.sleep(0.5)
    assert [p for p in children if Path(f"/proc/{p}").exists()] == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, line", [
    (["--count", "0", "--out", "{tmp}/o"], "--count: '0' is not allowed; expected 1 to 10000000"),
    (["--count", "ten", "--out", "{tmp}/o"], "--count: 'ten' is not a whole number"),
    (["--budget", "10x", "--out", "{tmp}/o"], "--budget: '10x' is not a duration; expected e.g. 90s, 10m, 1h"),
    (["--budget", "0s", "--out", "{tmp}/o"], "--budget: '0s' is not allowed; expected 1s to 7d"),
    (["--out", "{tmp}/o"], "--budget: missing; expected --budget DURATION (90s, 10m, 1h) or --count N, or both"),
    (["--count", "5"], "--out: missing; expected a folder for the findings (or --replay FILE.yaml)"),
    (["--count", "5", "--out", "{tmp}/file"], "--out: '{tmp}/file' is not a folder; expected a folder for the findings"),
    (["--count", "5", "--out", "{tmp}/other"],
     "--out: '{tmp}/other' holds 'notes.txt', which no earlier tlsdiff fuzz wrote; expected a new or empty folder, "
     "or one of an earlier campaign"),
    (["--count", "5", "--out", "{tmp}/o", "--known", "{tmp}/missing.json"],
     "--known: '{tmp}/missing.json' is not a file; expected a JSON report (tlsdiff run --json)"),
    (["--count", "5", "--out", "{tmp}/o", "--known", "{tmp}/file", "--cases", "{tmp}"],
     "--known: not with --cases or --no-default-cases (the report gives the known partitions)"),
    (["--replay", "{tmp}/file", "--out", "{tmp}/o"], "--out: not with --replay (a replay runs one case file, writes "
                                                    "nothing)"),
    (["--replay", "{tmp}/missing.yaml"], "--replay: '{tmp}/missing.yaml' is not a file; expected a finding's case file"),
    (["--count", "5", "--out", "{tmp}/o", "--go", "1.21"], "--go: '1.21' names one release; expected two or more "
                                                           "to compare"),
    (["--count", "5", "--out", "{tmp}/o", "--seed", "-1"], "fuzz: argument --seed: '-1' is not a whole number"),
    (["--count", "5", "--out", "{tmp}/o", "--batch", "0"], "fuzz: argument --batch: '0' is not allowed; expected 1 to 1000"),
    (["--count", "5", "--out", "{tmp}/o", "--timeout", "0"], "fuzz: argument --timeout: '0' is not allowed"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], line: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    started = time.monotonic()
    proc = tlsdiff("fuzz", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and proc.stdout == ""
    assert lines[0].startswith("tlsdiff: ") and line.replace("{tmp}", str(tmp_path)) in lines[0]
    assert not (tmp_path / "o").exists()  # nothing was made
    assert time.monotonic() - started < 10  # before any peer started
