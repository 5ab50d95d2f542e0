"""Endpoints under a GODEBUG of their own (`godebug:`), on real Go peers of the oldest
and newest lines: a peer process per (release, GODEBUG), its environment and its
behaviour; a runtime that refuses a setting at startup; the report naming who ran what."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jsonschema
import pytest

from conftest import EDGE_RELEASES, REPO
from tlsdiff import Run, load_cases
from tlsdiff.peers.pool import peer_label

NEWEST_LINE = EDGE_RELEASES.split(",")[-1]


def _environ(pid: int) -> dict[str, str]:
    """A running process's environment, as the kernel holds it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _valid(report: dict) -> dict:
    schema = json.loads((REPO / "harness" / "report" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    return report


def test_two_endpoints_under_different_godebug_run_in_two_processes(edge_releases) -> None:
    new = edge_releases.versions[-1]
    case = load_cases(["godebug/tlsmlkem-off-go-client"])[0]
    with Run(go=NEWEST_LINE) as run:
        result = run.run([case])
        peers = run.pool.running()
        plain, off = peers[new], peers[peer_label(new, "tlsmlkem=0")]
        assert plain.proc is not None and off.proc is not None and plain.proc.pid != off.proc.pid
        assert _environ(off.proc.pid)["GODEBUG"] == "tlsmlkem=0"
        assert _environ(plain.proc.pid).get("GODEBUG") != "tlsmlkem=0"
        report = _valid(result.report())
    doc = result.results[0].docs[(new,)]
    assert doc["endpoints"] == {"hybrid": {"peer": new}, "nomlkem": {"peer": new, "godebug": "tlsmlkem=0"},
                                "plain": {"peer": new}, "s1": {"peer": new}}
    # The same server, two clients of one release: only the process's GODEBUG differs, and what it does.
    assert [doc["steps"][i]["client"]["state"]["CurveID"] for i in (0, 1)] == ["X25519MLKEM768", "X25519"]
    assert result.results[0].verdict == "pass"
    assert report["results"][0]["runs"][new]["observations"]["endpoints"]["nomlkem"]["godebug"] == "tlsmlkem=0"


def test_closing_the_godebug_peers_leaves_the_others_running_and_a_later_run_starts_them_again(edge_releases) -> None:
    """A fuzz campaign closes the peers its known cases started under a GODEBUG (no stimulus
    sets one): the peer under tlsmlkem=0 exits, the plain one runs on, and the case run
    again starts a new process under that GODEBUG and passes."""
    new = edge_releases.versions[-1]
    case = load_cases(["godebug/tlsmlkem-off-go-client"])[0]
    key = peer_label(new, "tlsmlkem=0")
    with Run(go=NEWEST_LINE) as run:
        run.run([case])
        plain, off = run.pool.running()[new], run.pool.running()[key]
        assert run.pool.close_godebug() == 1
        assert off.proc is not None and off.proc.poll() is not None
        assert key not in run.pool.running() and run.pool.running()[new] is plain and plain.proc.poll() is None
        assert run.pool.close_godebug() == 0
        again = run.run([case])
        started = run.pool.running()[key]
        assert started is not off and started.proc is not None and _environ(started.proc.pid)["GODEBUG"] == "tlsmlkem=0"
    assert again.results[0].verdict == "pass"


def test_a_runtime_that_refuses_a_setting_at_startup_makes_its_runs_unsupported(edge_releases) -> None:
    """Go 1.27 aborts at startup on a removed setting with its old value: the runs that need
    that peer are unsupported with the runtime's line, the other releases and cases run on,
    and the refusing peer is not started again for every case."""
    old, new = edge_releases.versions
    cases = load_cases(["godebug/tls10server-removed-in-1.27", "godebug/tls12-ekm-without-ems-tlsunsafeekm",
                        "state/tls12-exporter"])
    started = time.monotonic()
    with Run(go=EDGE_RELEASES) as run:
        result = run.run(cases)
        refused = dict(run.pool.refused)
        restarts = dict(run.pool.restarts)
    assert time.monotonic() - started < 60
    verdicts = {(r.case.id, k[0]): v for r in result.results for k, v in r.verdicts.items()}
    for case, setting in (("godebug/tls10server-removed-in-1.27", ("tls10server", "1")),
                          ("godebug/tls12-ekm-without-ems-tlsunsafeekm", ("tlsunsafeekm", "1"))):
        label = peer_label(new, "=".join(setting))
        line = (f'fatal error: removed GODEBUG "{setting[0]}" set to old value "{setting[1]}" in environment '
                "(https://go.dev/doc/godebug#go-127)")
        assert verdicts[(case, new)].verdict == "unsupported"
        assert verdicts[(case, new)].reason == f"{label}: {line}"
        assert refused[label].reason == line and label not in restarts
        assert verdicts[(case, old)].verdict == "pass", verdicts[(case, old)].failures()
    assert all(verdicts[("state/tls12-exporter", r)].verdict == "pass" for r in (old, new))


def test_the_external_runner_cannot_set_a_peers_environment(edge_releases, tmp_path: Path) -> None:
    """Peers someone else started keep their environment: a case with godebug is unsupported
    there, with the reason, and a case without runs as usual."""
    from test_external_runner import ListeningPeer, _peers_flag
    from tlsdiff.peers.external import NO_GODEBUG
    new = edge_releases.versions[-1]
    peer = ListeningPeer(edge_releases.binaries[new], tmp_path / "peer.log")
    try:
        cases = load_cases(["godebug/tlsmlkem-off-go-client", "state/tls12-exporter"])
        with Run(runner="external", peers=_peers_flag({new: peer.port})) as run:
            result = run.run(cases)
    finally:
        peer.stop()
    by_case = {r.case.id: r.verdicts[(new,)] for r in result.results}
    assert by_case["godebug/tlsmlkem-off-go-client"].verdict == "unsupported"
    assert by_case["godebug/tlsmlkem-off-go-client"].reason == f"{peer_label(new, 'tlsmlkem=0')}: {NO_GODEBUG}"
    assert by_case["state/tls12-exporter"].verdict == "pass"


@pytest.mark.parametrize("value, expected", [
    ("{tlsmlkem: 0}", "clients.nomlkem.godebug.tlsmlkem: 0 has the wrong type; expected string"),
    ("{tlsmlkem: '0 tls10server=1'}", "clients.nomlkem.godebug.tlsmlkem: '0 tls10server=1' does not match"),
    ("{'tls mlkem': '0'}", "clients.nomlkem.godebug: 'tls mlkem' does not match the expected form"),
])
def test_a_bad_godebug_is_one_line_and_exit_2(tmp_path: Path, value: str, expected: str) -> None:
    import subprocess
    import sys
    text = (REPO / "cases" / "godebug" / "tlsmlkem-off-go-client.yaml").read_text()
    bad = text.replace('godebug: {tlsmlkem: "0"}', f"godebug: {value}")
    assert bad != text
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "bad.yaml").write_text(bad)
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", "--no-default-cases", "--cases", "cases",
                        "--go", NEWEST_LINE], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "GODEBUG": ""})
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert p.stderr.startswith("tlsdiff: cases/bad.yaml: ") and expected in p.stderr, p.stderr
