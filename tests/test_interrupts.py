"""Ctrl-C and SIGTERM: a run stops scheduling at once, the runs in flight end, and the
reports of what finished are written, marked interrupted; a second signal ends it
now; a signal during a build ends the compilers at once and leaves no temporary
folder behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import EDGE_RELEASES, REPO, cache_holding, wait_for_stderr


def _start(args: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tlsdiff.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)



def test_sigint_writes_the_reports_of_what_finished(tmp_path: Path, edge_releases) -> None:
    out = tmp_path / "r.json"
    proc = _start(["run", "--go", EDGE_RELEASES, "--json", str(out), "-v"])
    wait_for_stderr(proc, "steps (")  # a first run finished: the run is under way
    proc.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - signalled < 15  # in-flight runs end within their timeout
    assert "Traceback" not in stderr and "interrupted: no new runs" in stderr
    assert "interrupted:" in stdout and "did not run" in stdout
    report = json.loads(out.read_text())
    assert report["interrupted"] is True
    done = sum(len(r["runs"]) for r in report["results"])
    assert 0 < done


def _peer_pids(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if "go-peer" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]


def test_a_second_sigint_stops_at_once(tmp_path: Path, edge_releases) -> None:
    proc = _start(["run", "--go", EDGE_RELEASES, "--workers", "1", "-v", "--json", str(tmp_path / "r.json")])
    wait_for_stderr(proc, "steps (")
    peers = _peer_pids(proc.pid)
    try:
        for pid in peers:
            os.kill(pid, signal.SIGSTOP)  # the run in flight now waits on a peer that does not answer
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130 and "stopping now" in stderr, stderr
        assert time.monotonic() - signalled < 3
    finally:
        for pid in peers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_sigterm_during_a_build_ends_the_compilers_and_cleans_up(tmp_path: Path, edge_releases) -> None:
    newest = edge_releases.available[-1]
    cache = cache_holding(newest, tmp_path)  # the toolchain, but no peer and a cold build cache
    proc = _start(["run", "resumption/tls13-same-server", "--go", newest.version],
                  env=dict(os.environ, TLSDIFF_CACHE=str(cache)))
    wait_for_stderr(proc, "building go-peer")
    time.sleep(1.0)  # the compilers are at work
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - signalled < 5, stderr
    assert proc.returncode == 130 and "Traceback" not in stderr
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(cache)], capture_output=True, text=True).stdout.split()
    assert left == [], left  # no go build, no compile
    assert list((cache / "peers").glob(".tmp-*")) == []
