"""tlsdiff compat on real peers of the oldest and newest line: every cell, for TLS 1.2
and 1.3, tickets and persisted sessions, is what the model predicts, and each 'no'
says why."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import EDGE_RELEASES, REPO


def tlsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def report(edge_releases, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("compat") / "c.json"
    p = tlsdiff("compat", "--go", EDGE_RELEASES, "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 where the model disagrees" in p.stdout
    return json.loads(out.read_text())


def test_every_cell_is_what_the_model_predicts(report, edge_releases) -> None:
    names = edge_releases.versions
    cells = report["cells"]
    assert len(cells) == 2 * 2 * len(names) ** 2  # kinds x TLS versions x pairs
    assert all(c["agrees"] for c in cells)


def test_the_upgrade_table_says_what_survives_and_why(report, edge_releases) -> None:
    old, new = edge_releases.versions
    cell = {(c["kind"], c["tls"], c["a"], c["b"]): c for c in report["cells"]}
    for tls in ("1.2", "1.3"):
        assert cell[("ticket", tls, new, new)]["resumed"] is True
        assert cell[("ticket", tls, old, old)]["resumed"] is True
        assert cell[("ticket", tls, new, old)]["resumed"] is False
        assert "no key has the key name" in cell[("ticket", tls, new, old)]["why"]
        assert cell[("ticket", tls, old, new)]["resumed"] is False
        assert "ParseSessionState" in cell[("ticket", tls, old, new)]["why"]
        assert cell[("session", tls, old, new)]["resumed"] is None  # 1.19 has no SessionState
        assert cell[("session", tls, new, new)]["resumed"] is True


def test_a_bad_tls_version_is_one_line() -> None:
    p = tlsdiff("compat", "--tls", "1.1")
    assert p.returncode == 2 and p.stderr.strip() == "tlsdiff: --tls: '1.1' is not allowed; expected 1.2, 1.3 or 1.2,1.3"


def test_a_users_goroot_is_a_column_and_its_difference_from_the_model_fails_the_command(edge_releases,
                                                                                        tmp_path) -> None:
    """A Go root whose ParseSessionState refuses TLS 1.2 sessions: compat names it as a
    column of its own, its TLS 1.3 cells agree with the model of its line, and its
    TLS 1.2 cells, which the model of the stock release predicts as resumed, are
    flagged as disagreements and fail the command."""
    from conftest import link_tree

    stock = edge_releases.available[-1]
    edited = tmp_path / "go-edited"
    link_tree(stock.goroot, edited)
    ticket_go = edited / "src" / "crypto" / "tls" / "ticket.go"
    text = ticket_go.read_text()
    anchor = "\tfor !extra.Empty() {\n"
    assert text.count(anchor) == 1
    ticket_go.unlink()  # break the hard link: the cached toolchain stays as it was
    ticket_go.write_text(text.replace(anchor, '\tif ss.version != VersionTLS13 {\n'
                                              '\t\treturn nil, errors.New("tls: edited: TLS 1.2 sessions refused")\n'
                                              '\t}\n' + anchor))
    out = tmp_path / "c.json"
    p = tlsdiff("compat", "--go", stock.version, "--goroot", str(edited), "--json", str(out))
    assert p.returncode == 1, p.stdout + p.stderr
    report = json.loads(out.read_text())
    (name,) = {c["b"] for c in report["cells"]} - {stock.version}
    assert name.startswith(f"{stock.version}+")
    into_edited = [c for c in report["cells"] if c["b"] == name]
    assert into_edited and all(c["agrees"] for c in into_edited if c["tls"] == "1.3")
    tls12 = [c for c in into_edited if c["tls"] == "1.2"]
    assert tls12 and all(c["resumed"] is False and not c["agrees"] for c in tls12)
    assert f"TLS 1.2 ticket {stock.version} -> {name}: peers did not resume, model predicts resumption" in p.stdout
    # From the edited root to the stock release nothing changed: the model agrees.
    assert all(c["agrees"] for c in report["cells"] if c["b"] == stock.version)
