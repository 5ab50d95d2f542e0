"""A toolchain is what it compiles, not its version string: a copy of a cached Go
root with one crypto/tls error string edited gets its own peer and its own column,
shows the edit, and leaves the stock release in the same run unchanged."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, link_tree

CASE = "binder/tls13-altered-secret"
STOCK_ERROR = "tls: invalid PSK binder"
EDITED_ERROR = "tls: invalid PSK binder (edited by tlsdiff's test)"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.unlink()  # break the hard link: the stock file stays as it was
    path.write_text(text.replace(old, new))


def test_an_edited_goroot_is_its_own_column_and_shows_the_edit(edge_releases, tmp_path: Path) -> None:
    stock = edge_releases.available[-1]  # the newest line, from tlsdiff's cache
    edited, same = tmp_path / "go-edited", tmp_path / "go-same"
    link_tree(stock.goroot, edited)
    link_tree(stock.goroot, same)  # the stock release in another folder: no column of its own
    _edit(edited / "src" / "crypto" / "tls" / "handshake_server_tls13.go", f'"{STOCK_ERROR}"', f'"{EDITED_ERROR}"')
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", CASE, "--go", stock.version,
                        "--goroot", str(edited), "--goroot", str(same), "--json", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=900)
    assert p.returncode == 1, p.stdout + p.stderr  # the edited column fails the case's expectation
    report = json.loads(out.read_text())
    rows = {r["name"]: r for r in report["releases"]}
    (edited_name,) = [n for n in rows if n != stock.version]
    assert edited_name.startswith(f"{stock.version}+") and rows[edited_name]["provider"] == "goroot"
    assert rows[edited_name]["digest"] != rows[stock.version]["digest"]
    # Which folder each column is, in the report and under the matrix.
    assert rows[edited_name]["goroot"] == str(edited) and rows[stock.version]["also_goroots"] == [str(same)]
    assert f"go{edited_name}: the Go root {edited}\n" in p.stdout
    assert f"go{stock.version}: also the Go root {same} (the same sources and binaries: one column)" in p.stdout
    header = p.stdout.splitlines()[0].split()
    assert header == [stock.version, edited_name], p.stdout  # columns apart, however long a name
    runs = report["results"][0]["runs"]
    assert runs[stock.version]["verdict"] == "pass"
    assert runs[stock.version]["observations"]["steps"][1]["server"]["error"] == STOCK_ERROR
    assert runs[edited_name]["verdict"] == "fail"
    assert runs[edited_name]["observations"]["steps"][1]["server"]["error"] == EDITED_ERROR
    assert f"go{edited_name}" in p.stdout and EDITED_ERROR in p.stdout
    # --update cannot split an expectation between a release and a Go root of it: it says so.
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", CASE, "--go", stock.version,
                        "--goroot", str(edited), "--update", "-q"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert (f"expect[0]: {stock.version} and {edited_name} observed different values, and a release range cannot "
            "tell a Go root from the release it is; not updated") in p.stdout, p.stdout + p.stderr
    assert "--update: no expectation to update" in p.stdout
    # explain between two Go roots needs no --go: it names the edited line.
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "explain", CASE, "--goroot", str(stock.goroot),
                        "--goroot", str(edited)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"go{edited_name} crypto/tls/handshake_server_tls13.go:" in p.stdout and EDITED_ERROR in p.stdout
    # The stock toolchain in the cache is untouched.
    assert EDITED_ERROR not in (stock.goroot / "src/crypto/tls/handshake_server_tls13.go").read_text()
