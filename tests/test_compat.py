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
