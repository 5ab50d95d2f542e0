"""The resumption model (gomodel.resumption) against real Go servers: every server
decision of every case on 1.19, 1.21 and the newest line is what the model predicts,
and the cases exercise each of the model's checks (1.21 for those of 1.21-1.25)."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

import tlsdiff
from conftest import EDGE_RELEASES, REPO
from gomodel import resumption
from tlsdiff import model_check


THREE_LINES = EDGE_RELEASES.replace(",", ",1.21,")


@pytest.fixture(scope="module")
def judged(edge_releases) -> list[model_check.Judgement]:
    with tlsdiff.Run(go=THREE_LINES) as run:
        result = run.run(tlsdiff.load_cases([]))
    return model_check.judge(result.runs)


def test_every_judged_decision_is_what_the_peer_did(judged) -> None:
    wrong = [j for j in judged if not j.agrees]
    assert sum(j.side == "server" for j in judged) > 100 and sum(j.side == "client" for j in judged) > 100
    assert not wrong, model_check.summary(judged)


@pytest.mark.parametrize("reason", [
    "older than 7 days", "ClientAuth requires a client certificate", "ClientAuth is NoClientCert",
    "client certificate has expired", "no verified chains", "rooted in the current ClientCAs",
    "does not enable the session's cipher suite", "psk_dhe_ke", "no key opens the ticket",
    "ParseSessionState", "first 5 identities",
    "session supported extended_master_secret but client does not", "invalid or missing PSK binders",
    "processCertsFromClient",
    # clients
    "server's certificate in the session has expired", "valid now and rooted in the current RootCAs",
    "ticket's lifetime is over", "does not offer the session's cipher suite",
])
def test_the_cases_exercise_each_check(judged, reason) -> None:
    assert any(reason in j.why for j in judged), sorted(Counter(j.why for j in judged))


def test_a_wrong_model_is_caught(edge_releases, monkeypatch) -> None:
    """The check is not a tautology: a model whose tickets live one day disagrees with
    the servers that resume a ticket two days old."""
    monkeypatch.setattr(resumption, "MAX_TICKET_LIFETIME", 24 * 3600)
    with tlsdiff.Run(go=EDGE_RELEASES) as run:
        result = run.run(tlsdiff.load_cases(["resumption/tls13-server-ticket-age-limit",
                                             "resumption/tls12-server-ticket-age-limit"]))
    wrong = [j for j in model_check.judge(result.runs) if not j.agrees and j.side == "server"]
    assert wrong and all(j.predicted == "skip" and j.observed == "resume" for j in wrong)


def test_run_model_reports_in_the_terminal_and_the_json(edge_releases, tmp_path) -> None:
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", "--go", EDGE_RELEASES, "--model", "-q",
                        "--json", str(out), "bugs/"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    model = json.loads(out.read_text())["model"]
    assert model["decisions"] > 0 and model["disagreements"] == []
    assert "client resumption decisions predicted, 0 where the model disagrees" in p.stdout
