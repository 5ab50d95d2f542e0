"""The session fuzzer on real peers of the oldest 1.21+ line and the newest line: a seed
gives the same findings twice, the model agrees with both releases on every blob, and
the real differences between the releases are found (1.25's curve_id, 1.21-1.24's
refusal of trailing bytes, the type byte checked later); bad flags are one line."""
from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import gomodel
from conftest import EDGE_RELEASES, REPO
from tlsdiff import session_fuzz as sf
from tlsdiff.peers.protocol import Unsupported

OLDEST_WITH_SESSIONS = "1.21"
NEWEST = EDGE_RELEASES.split(",")[-1]
RELEASES = f"{OLDEST_WITH_SESSIONS},{NEWEST}"
COUNT = 1500


def tlsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def fuzz_peers():
    """Peers of 1.21 and the newest line, their real seeds, and the certificates in them."""
    from tlsdiff.peers.local import local_pool
    from tlsdiff.runs import prepare_releases
    releases = prepare_releases(RELEASES)
    pool = local_pool(releases.binaries)
    names, unable = sf.fuzzable(pool, releases.versions)
    assert not unable and len(names) == 2
    yield pool, names, sf.collect_seeds(pool, names)
    pool.close()


@pytest.fixture(scope="module")
def campaign(fuzz_peers) -> sf.Campaign:
    pool, names, seeds = fuzz_peers
    return sf.run_campaign(pool, names, seeds, seed=11, count=COUNT, batch=400)


def _line(release: str) -> str:
    return ".".join(release.split(".")[:2])


def test_seeds_are_real_sessions_of_both_tls_versions_and_sides(fuzz_peers) -> None:
    _, names, seeds = fuzz_peers
    labels = {(s.release, s.kind, s.label) for s in seeds}
    for r in names:
        for tls in ("1.2", "1.3"):
            assert (r, "session", f"tls{tls} client") in labels
            assert (r, "session", f"tls{tls} server client-cert") in labels
            assert (r, "ticket", f"tls{tls} server") in labels
    assert all(not sf.judge_batch(fuzz_peers[0], names, [sf.Blob(s, "none", {}, s.blob)],
                                  sf.known_certificates(seeds))[0].model_wrong for s in seeds)


def test_the_same_seed_gives_the_same_findings(fuzz_peers, campaign) -> None:
    pool, names, seeds = fuzz_peers
    again = sf.run_campaign(pool, names, seeds, seed=11, count=COUNT, batch=250)  # the batch size changes nothing
    assert {k: f.to_json() for k, f in again.findings.items()} == {k: f.to_json() for k, f in campaign.findings.items()}
    other = sf.run_campaign(pool, names, seeds, seed=12, count=200)
    first = [f.first.blob.data for f in campaign.findings.values()]
    assert any(f.first.blob.data not in first for f in other.findings.values())


def test_each_seed_is_read_back_unchanged_by_its_own_release(fuzz_peers) -> None:
    """The seeds' random parts were replaced (collect_seeds): each is still a session its
    release reads and writes again byte for byte, a ticket one its key opens."""
    pool, names, seeds = fuzz_peers
    known = sf.known_certificates(seeds)
    for s in seeds:
        judged = sf.judge_batch(pool, [s.release], [sf.Blob(s, "none", {}, s.blob)], known)[0]
        assert judged.peers[s.release] == {"bytes": base64.b64encode(s.plaintext()).decode()}, (s.label, s.kind)


def test_the_same_seed_writes_the_same_files_in_another_process(tmp_path: Path) -> None:
    """Nothing of a run's own randomness reaches the files: not the secrets of the
    seed sessions, nor their tickets' IVs."""
    outs = [tmp_path / "first", tmp_path / "second"]
    for out in outs:
        p = tlsdiff("ticket", "fuzz", "--go", RELEASES, "--seed", "7", "--count", "600", "--out", str(out), "-q")
        assert p.returncode == 0, p.stdout + p.stderr
    first, second = ({f.name: f.read_bytes() for f in out.glob("*.json")} for out in outs)
    assert first and first == second


def test_the_model_agrees_with_both_releases_on_every_blob(campaign) -> None:
    assert campaign.blobs == COUNT
    assert campaign.model_disagreements == 0
    assert not [f for f in campaign.findings.values() if f.what == "model"], sf.render(campaign.findings)


def _partitions(campaign: sf.Campaign, kind: str) -> set[tuple]:
    return {tuple((tuple(_line(r) for r in rs), what) for rs, what in f.partition)
            for f in campaign.findings.values() if f.what == "releases" and f.kind == kind}


def test_the_real_differences_between_releases_are_found(campaign) -> None:
    sessions = _partitions(campaign, "session")
    old, new = ("1.21",), (NEWEST,)
    # A TLS 1.2 session without curve_id (as 1.21-1.24 write it): 1.25+ want one.
    assert ((old, "accepted"), (new, "tls: invalid session encoding")) in sessions
    # Trailing bytes (a curve_id, or more): 1.21-1.24 refuse them, 1.25+ read past them.
    assert ((old, "tls: invalid session encoding"), (new, "accepted")) in sessions
    # A type byte other than 1 or 2: refused by both, with another error since 1.25.
    assert ((old, "tls: invalid session encoding"), (new, "tls: unknown session encoding")) in sessions
    # Tickets: the same differences, seen as resumption or a full handshake.
    assert ((old, "accepted"), (new, "none")) in _partitions(campaign, "ticket")
    # One group per mutation kind and partition, however many blobs fell into it.
    keys = [(f.what, f.kind, f.mutation, json.dumps(f.partition)) for f in campaign.findings.values()]
    assert len(keys) == len(set(keys)) and sum(f.count for f in campaign.findings.values()) > len(keys)


def test_a_tls12_session_without_curve_on_each_release(fuzz_peers) -> None:
    pool, names, seeds = fuzz_peers
    oldest = next(s for s in seeds if s.kind == "session" and s.label == "tls1.2 client" and s.release == names[0])
    judged = sf.judge_batch(pool, names, [sf.Blob(oldest, "none", {}, oldest.blob)], sf.known_certificates(seeds))[0]
    assert judged.peers[names[0]] == {"bytes": base64.b64encode(oldest.blob).decode()}
    assert judged.peers[names[1]] == {"error": "tls: invalid session encoding"}
    assert not judged.model_wrong


def test_go_119_answers_unsupported_with_the_reason(edge_releases) -> None:
    from tlsdiff.peers.local import local_pool
    pool = local_pool(edge_releases.binaries)
    try:
        with pytest.raises(Unsupported, match="added in Go 1.21"):
            pool.get(edge_releases.versions[0]).call("parse_sessions", {"kind": "session", "blobs": []})
    finally:
        pool.close()


def test_the_command_writes_findings_and_replays_them(fuzz_peers, tmp_path: Path) -> None:
    out = tmp_path / "findings"
    p = tlsdiff("ticket", "fuzz", "--go", RELEASES, "--seed", "5", "--count", "400", "--out", str(out), "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 blobs where the model disagrees" in p.stdout
    files = sorted(out.glob("*.json"))
    assert files and all(json.loads(f.read_text())["what"] == "releases" for f in files)
    again = tlsdiff("ticket", "fuzz", "--go", RELEASES, "--replay", str(out))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(files)} findings replayed on 2 releases: 0 where the model disagrees" in again.stdout
    files[0].write_text("{}")
    broken = tlsdiff("ticket", "fuzz", "--go", RELEASES, "--replay", str(out))
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1 and "cannot be read as a finding" in broken.stderr


@pytest.mark.parametrize("args, line", [
    (["--count", "0", "--out", "x"], "tlsdiff: ticket fuzz: argument --count: '0' is not allowed; expected 1 to 10000000"),
    (["--seed", "-1", "--out", "x"], "tlsdiff: ticket fuzz: argument --seed: '-1' is not a whole number"),
    ([], "tlsdiff: --out: required: a folder for the findings (or --replay DIR to judge saved ones)"),
    (["--out", "x", "--replay", "x"], "tlsdiff: --out: not with --replay (a replay writes nothing)"),
    (["--go", "1.19", "--out", "x"], "tlsdiff: --go: '1.19' names no release with a session parser; expected 1.21 or "
                                     "newer (ParseSessionState and DecryptTicket were added in Go 1.21)"),
    (["--replay", "/nonexistent-folder"], "tlsdiff: --replay: '/nonexistent-folder' is not a folder of findings"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], line: str) -> None:
    p = tlsdiff("ticket", "fuzz", *args)
    assert p.returncode == 2 and p.stderr == line + "\n" and not p.stdout


# Regressions: the blobs that taught the model what real peers do, named after the lesson
# (each was a model disagreement the fuzzer found, fixed in gomodel.session_state).

def _ext(kind: int, body: bytes) -> bytes:
    return kind.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


REGRESSIONS = {
    # unmarshalCertificate lets an empty entry through; crypto/x509 refuses it inside ParseSessionState.
    "empty-certificate-entry-is-an-x509-error": lambda s: dataclasses.replace(
        s, certificates=(b"",), certificate_extensions=(b"",)),
    # A leaf's status_request must be an OCSP response (type 1) with a non-empty body.
    "leaf-ocsp-of-another-type-is-invalid": lambda s: dataclasses.replace(
        s, certificate_extensions=(_ext(5, b"\x02\x00\x00\x01x"),) + s.certificate_extensions[1:]),
    # Go checks only the framing of a leaf extension it does not know, and Bytes() drops it.
    "unknown-leaf-extension-is-dropped": lambda s: dataclasses.replace(
        s, certificate_extensions=(_ext(0x7a7a, b"zz"),) + s.certificate_extensions[1:]),
}


@pytest.mark.parametrize("lesson", sorted(REGRESSIONS))
def test_the_model_keeps_what_the_peers_taught_it(fuzz_peers, lesson) -> None:
    pool, names, seeds = fuzz_peers
    seed = next(s for s in seeds if s.kind == "session" and s.label == "tls1.3 server client-cert")
    session = gomodel.decode(seed.blob, seed.release)
    data = gomodel.encode(REGRESSIONS[lesson](session), seed.release)
    known = sf.known_certificates(seeds)
    answers = {r: pool.get(r).call("parse_sessions", {"kind": "session",
                                                      "blobs": [base64.b64encode(data).decode()]})["results"][0]
               for r in names}
    models = sf.model_outcomes("session", data, names, known)
    for r in names:
        assert sf.admits("session", models[r], answers[r]), (lesson, r, answers[r], models[r])
    if lesson == "empty-certificate-entry-is-an-x509-error":
        assert all(a.get("error", "").startswith("x509: ") for a in answers.values()), answers
    if lesson == "leaf-ocsp-of-another-type-is-invalid":
        assert all(a == {"error": "tls: invalid session encoding"} for a in answers.values()), answers
    if lesson == "unknown-leaf-extension-is-dropped":
        assert all(base64.b64decode(a["bytes"]) == seed.blob for a in answers.values()), answers
