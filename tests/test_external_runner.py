"""`go-peer -listen` and `tlsdiff run --runner external`, on real Go 1.19 and 1.27 peers:
processes started here with -listen, and containers of tlsdiff's own images (skipped
only when no Docker engine answers, as in test_docker_runner.py). Every process and
container a test starts is stopped by it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from conftest import EDGE_RELEASES, REPO
from test_docker_runner import needs_engine
from tlsdiff import load_cases
from tlsdiff.compare import verdict_for
from tlsdiff.errors import UserError
from tlsdiff.execute import run_case
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.peers import external
from tlsdiff.runs import Run

CASES = ["resumption/tls13-same-server", "tickets/tls13-cross-release-shared-key",
         "resumption/pyserver-go-client-resumes"]  # the last: the Python peer beside external Go peers
SERVING = re.compile(r"serving the control protocol on 127\.0\.0\.1:(\d+)$", re.M)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ListeningPeer:
    """A go-peer binary run with -listen, its stderr in a file."""

    def __init__(self, binary: Path, log: Path, port: int = 0) -> None:
        self.binary, self.log_path = binary, log
        with open(log, "ab") as err:
            self.proc = subprocess.Popen([str(binary), "-listen", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        self.port = _wait_for_port(self.log, self.proc.poll, port)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a test may have paused it
            self.proc.kill()
        self.proc.wait(timeout=10)


def _wait_for_port(log, exited, port: int = 0) -> int:  # type: ignore[no-untyped-def]
    """The port a peer says it serves on (the last such line: a restart appends to the log)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [int(p) for p in SERVING.findall(log())]
        if found and (port == 0 or found[-1] == port):
            return found[-1]
        if exited() is not None:
            raise AssertionError(f"the peer exited: {log()}")
        time.sleep(0.05)
    raise AssertionError(f"the peer did not start listening: {log()}")


@pytest.fixture
def listening(edge_releases, tmp_path: Path) -> Iterator[dict[str, ListeningPeer]]:
    """version -> a running peer of that release, with -listen on a port of its choosing."""
    peers: dict[str, ListeningPeer] = {}
    try:
        for version, binary in edge_releases.binaries.items():
            peers[version] = ListeningPeer(binary, tmp_path / f"peer-{version}.log")
        yield peers
    finally:
        for p in peers.values():
            p.stop()


def _peers_flag(peers: dict[str, int]) -> str:
    return ",".join(f"{version}=127.0.0.1:{port}" for version, port in peers.items())


def tlsdiff(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=env)


def _report_checked(path: Path, expected: dict[str, tuple[str, str]]) -> dict:
    """The JSON report, valid against the schema, its release rows external with what each peer reported."""
    import jsonschema
    report = json.loads(path.read_text())
    schema = json.loads((REPO / "harness" / "report" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    rows = {r["name"]: r for r in report["releases"]}
    assert set(rows) == set(expected)
    for version, (address, digest) in expected.items():
        row = rows[version]
        assert (row["provider"], row["address"], row["binary_sha256"]) == ("external", address, digest), row
        assert row["version"] == version and row["peer"]["connection_state_fields"]
    return report


# ---------------------------------------------------------------- go-peer -listen


def _session(port: int) -> tuple[socket.socket, object]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock, sock.makefile("rwb")


def _ask(f, rid: int, op: str, params: dict) -> dict:  # type: ignore[no-untyped-def]
    f.write(json.dumps({"id": rid, "op": op, "params": params}).encode() + b"\n")
    f.flush()
    return json.loads(f.readline())


def test_each_connection_is_a_fresh_session_and_closing_it_drops_its_objects(listening, edge_releases) -> None:
    peer = listening[edge_releases.versions[-1]]
    a, fa = _session(peer.port)
    b, fb = _session(peer.port)  # two sessions at once
    hello = _ask(fa, 1, "hello", {"binary_sha256": True})["result"]
    assert hello["release"] == edge_releases.versions[-1]
    assert hello["binary_sha256"] == _sha256(peer.binary)
    # Unasked, no digest: a local run's peers never pay for reading their executable.
    assert "binary_sha256" not in _ask(fb, 9, "hello", {})["result"]
    assert _ask(fa, 2, "configure", {"name": "x", "role": "server", "config": {}})["ok"]
    assert _ask(fa, 3, "listen", {"name": "l", "endpoint": "x"})["ok"]
    # Session b does not see session a's objects.
    assert _ask(fb, 1, "listen", {"name": "l", "endpoint": "x"})["error"] == 'no endpoint named "x"'
    fa.close()  # the file holds the socket open too
    a.close()
    deadline = time.monotonic() + 10
    while "session 1: closed, 2 objects dropped" not in peer.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "session 1: closed, 2 objects dropped" in peer.log()
    # shutdown ends a session, not the peer: the connection closes and the next one is served.
    fb.write(b'{"id":0,"op":"shutdown"}\n')
    fb.flush()
    assert fb.read() == b""
    fb.close()
    b.close()
    c, fc = _session(peer.port)
    with c, fc:
        assert _ask(fc, 1, "listen", {"name": "l", "endpoint": "x"})["error"] == 'no endpoint named "x"'
    assert peer.proc.poll() is None


def test_listen_refuses_an_address_off_loopback_and_stray_arguments(edge_releases) -> None:
    binary = edge_releases.binaries[edge_releases.versions[0]]
    for argv, says in (([str(binary), "-listen", "0.0.0.0:0"], '"0.0.0.0" is not a loopback address'),
                       ([str(binary), "-listen", "7127"], "expected HOST:PORT"),
                       ([str(binary), "serve"], 'unexpected argument "serve"')):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        assert p.returncode == 2, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and says in p.stderr, p.stderr


# ---------------------------------------------------------------- tlsdiff run --runner external


def test_cli_run_on_listening_peers_matches_local_and_names_each_binary(listening, edge_releases,
                                                                         tmp_path: Path) -> None:
    ports = {v: p.port for v, p in listening.items()}
    out = tmp_path / "external.json"
    p = tlsdiff("run", *CASES, "--runner", "external", "--peers", _peers_flag(ports), "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{len(CASES)} passed, 0 failed" in p.stdout.splitlines()[-1]
    report = _report_checked(out, {v: (f"127.0.0.1:{port}", _sha256(listening[v].binary))
                                   for v, port in ports.items()})
    local = tmp_path / "local.json"
    assert tlsdiff("run", *CASES, "--go", EDGE_RELEASES, "--json", str(local)).returncode == 0
    local_report = json.loads(local.read_text())
    assert report["results"] == local_report["results"]  # the same observations, over TCP
    # The same peers named by line through the environment; the hello fills in the release.
    env = dict(os.environ, TLSDIFF_PEERS=_peers_flag({v.rsplit(".", 1)[0]: port for v, port in ports.items()}))
    p = tlsdiff("run", CASES[0], "--runner", "external", "-q", env=env)
    assert p.returncode == 0 and "1 passed" in p.stdout, p.stdout + p.stderr


def _one_line_exit_2(p: subprocess.CompletedProcess, *says: str) -> None:
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for text in says:
        assert text in lines[0], lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_wrong_name_dead_address_and_a_stranger_are_one_line_and_exit_2(listening, edge_releases) -> None:
    old, new = edge_releases.versions
    port = listening[old].port
    started = time.monotonic()
    _one_line_exit_2(tlsdiff("run", CASES[0], "--runner", "external", "--peers", f"1.27=127.0.0.1:{port}"),
                     f"--peers: 1.27=127.0.0.1:{port}: the peer at 127.0.0.1:{port} is Go {old}, not Go 1.27")
    dead = _free_port()
    _one_line_exit_2(tlsdiff("run", CASES[0], "--runner", "external", "--peers",
                             f"1.19=127.0.0.1:{port},1.27=127.0.0.1:{dead}"),
                     f"--peers: 1.27=127.0.0.1:{dead}: nothing answers at 127.0.0.1:{dead}",
                     f"expected a go-peer started with -listen 127.0.0.1:{dead}")
    # Something that answers, but not a go-peer.
    stranger = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = stranger.accept()
        with conn:
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.recv(100)
    threading.Thread(target=answer, daemon=True).start()
    with stranger:
        sport = stranger.getsockname()[1]
        _one_line_exit_2(tlsdiff("run", CASES[0], "--runner", "external", "--peers", f"1.27=127.0.0.1:{sport}"),
                         "answers 'SSH-2.0-OpenSSH_9.2", "not a hello; expected a go-peer")
    for args, says in ((["--peers", f"1.27=10.1.2.3:{port}"], "'10.1.2.3' in '1.27=10.1.2.3:"),
                       (["--peers", f"127.0.0.1:{port}"], "is not NAME=HOST:PORT"),
                       (["--peers", f"go=127.0.0.1:{port}"], "'go' in 'go=127.0.0.1:"),
                       (["--peers", "1.27=127.0.0.1:0"], "'0' in '1.27=127.0.0.1:0' is not a port"),
                       ([], "--runner external: no peers named; expected --peers NAME=HOST:PORT"),
                       (["--go", "1.27", "--peers", f"1.27=127.0.0.1:{port}"], "--go: not with --runner external")):
        env = {k: v for k, v in os.environ.items() if k != external.ENV}
        _one_line_exit_2(tlsdiff("run", CASES[0], "--runner", "external", *args, env=env), *says)
    _one_line_exit_2(tlsdiff("run", CASES[0], "--peers", f"1.19=127.0.0.1:{port}"),
                     "--peers: goes with --runner external")
    assert time.monotonic() - started < 60


def test_a_peer_that_sends_no_hello_is_refused_before_any_case(monkeypatch) -> None:
    monkeypatch.setattr(external, "HELLO_TIMEOUT_S", 0.5)
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts (the backlog), never answers
        port = mute.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(UserError, match=rf"^peers: 1.27=127.0.0.1:{port}: 127.0.0.1:{port} answers but "
                                            r"sends no hello within 0.5 s"):
            Run(runner="external", peers=f"1.27=127.0.0.1:{port}").prepare()
        assert time.monotonic() - started < 5


def test_a_peer_killed_mid_run_is_reported_and_the_run_goes_on(listening, edge_releases) -> None:
    old, new = edge_releases.versions
    cases = load_cases(CASES)
    killed: list[str] = []  # the case whose run on the new release came first: the peer dies after it

    def kill_new_after_first(case_run) -> None:  # type: ignore[no-untyped-def]
        if case_run.key == (new,) and not killed:
            listening[new].proc.kill()
            listening[new].proc.wait()
            killed.append(case_run.case.id)

    peers = {v: p.port for v, p in listening.items()}
    with Run(runner="external", peers=_peers_flag(peers), workers=1) as run:
        result = run.run(cases, on_done=kill_new_after_first)
        assert killed
        verdicts = {(r.case.id, k): v for r in result.results for k, v in r.verdicts.items()}
        assert len(verdicts) == 2 + 4 + 2  # every run ran (one case is cross: four pairs)
        assert verdicts[(killed[0], (new,))].verdict == "pass"  # before the kill
        assert all(v.verdict == "pass" for (_, k), v in verdicts.items() if new not in k)
        after = [v for (c, k), v in verdicts.items() if new in k and c != killed[0]]
        assert len(after) == 4 and all(v.verdict == "error" for v in after), [v.reason for v in after]
        assert f"nothing answers at 127.0.0.1:{peers[new]} any more" in after[-1].reason, after[-1].reason
        # The same binary back on its port: the next case dials it again and passes.
        listening[new] = ListeningPeer(listening[new].binary, listening[new].log_path, peers[new])
        doc = normalize_run(run_case(cases[0], (new,), run.pool))
        assert verdict_for(cases[0], (new,), doc).verdict == "pass"


def test_a_peer_restarted_as_another_binary_does_not_stand_in(listening, edge_releases, tmp_path: Path) -> None:
    old, new = edge_releases.versions
    case = load_cases([CASES[0]])[0]
    with Run(runner="external", peers=_peers_flag({new: listening[new].port})) as run:
        assert verdict_for(case, (new,), normalize_run(run_case(case, (new,), run.pool))).verdict == "pass"
        port, session = listening[new].port, run.pool.get(new)
        listening[new].stop()
        # The session learns of it when its bridge reads the end of the connection; on a
        # busy machine that can come after the next run's first request.
        deadline = time.monotonic() + 10
        while not session.dead and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.dead
        listening[new] = ListeningPeer(edge_releases.binaries[old], tmp_path / "imposter.log", port)
        verdict = verdict_for(case, (new,), normalize_run(run_case(case, (new,), run.pool)))
        assert verdict.verdict == "error"
        assert f"the peer at 127.0.0.1:{port} is now Go {old}" in verdict.reason, verdict.reason


def test_a_hung_session_is_dropped_and_dialled_again_then_given_up_after_two_hangs(listening, edge_releases) -> None:
    """A request the peer does not answer in time (here an accept nobody connects to, waiting
    longer than the harness does): the connection is dropped, the next use dials a fresh
    session, and the second hang gives the peer up for the run."""
    from tlsdiff.peers.protocol import PeerError, PeerFailure
    new = edge_releases.versions[-1]
    peer = listening[new]
    rows = Run(runner="external", peers=_peers_flag({new: peer.port})).prepare().available
    pool = external.external_pool(rows, start_timeout=2.0)

    def hang(n: int) -> None:
        session = pool.get(new)
        session.call("configure", {"name": f"e{n}", "role": "server", "config": {}})
        session.call("listen", {"name": f"l{n}", "endpoint": f"e{n}"})
        with pytest.raises(PeerFailure, match=r"accept: no response within 0.5 s"):
            session.call("accept", {"listener": f"l{n}", "conn_id": "c", "time": 0, "timeout_ms": 1500},
                         timeout=0.5)
    try:
        hang(1)
        fresh = pool.get(new)
        assert fresh.hello["binary_sha256"] == rows[0].binary_sha256
        with pytest.raises(PeerError, match='no endpoint named "e1"'):  # a new session: nothing of the old one
            fresh.call("listen", {"name": "again", "endpoint": "e1"})
        hang(2)
        started = time.monotonic()
        with pytest.raises(PeerFailure, match="stopped answering 2 times in this run"):
            pool.get(new)
        assert time.monotonic() - started < 0.5
        # The peer itself closed each dropped session and forgot its objects.
        deadline = time.monotonic() + 10
        while len(re.findall(r"session \d+: closed, [1-9]\d* objects dropped", peer.log())) < 2 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(re.findall(r"session \d+: closed, [1-9]\d* objects dropped", peer.log())) == 2, peer.log()
    finally:
        pool.close()


def test_a_paused_peer_is_given_up_without_waiting_on_every_case(listening, edge_releases) -> None:
    """A peer that stops answering altogether (paused): the case times out, dialling again
    finds it silent too, and later cases fail at once instead of each waiting."""
    new = edge_releases.versions[-1]
    peer = listening[new]
    case = load_cases([CASES[0]])[0]
    rows = Run(runner="external", peers=_peers_flag({new: peer.port})).prepare().available
    pool = external.external_pool(rows, start_timeout=1.0)
    try:
        assert verdict_for(case, (new,), normalize_run(run_case(case, (new,), pool))).verdict == "pass"
        os.kill(peer.proc.pid, signal.SIGSTOP)
        started = time.monotonic()
        run = run_case(case, (new,), pool, conn_timeout_ms=300)
        assert "no response within" in (run.failure or next(s.failure for s in run.steps if s.failure))
        assert time.monotonic() - started < 0.3 + 5 + 1.0 + 3  # the reply timeout, one silent hello
        started = time.monotonic()
        run = run_case(case, (new,), pool, conn_timeout_ms=300)
        assert time.monotonic() - started < 0.5
        assert "stopped answering 2 times in this run" in run.failure, run.failure
    finally:
        os.kill(peer.proc.pid, signal.SIGCONT)
        pool.close()


# ---------------------------------------------------------------- containers


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=120).stdout


@needs_engine
def test_cli_run_on_peer_containers_of_tlsdiff_images(edge_releases, tmp_path: Path) -> None:
    # `tlsdiff images` gives the compose file's image names to tlsdiff's own FROM scratch images.
    p = tlsdiff("images", "--go", EDGE_RELEASES)
    assert p.returncode == 0, p.stderr
    tags = dict(re.findall(r"^(tlsdiff-go-peer:[\d.]+)  \(= (tlsdiff-go-peer:[\w.-]+)\)$", p.stdout, re.M))
    assert sorted(tags) == sorted(f"tlsdiff-go-peer:{v}" for v in edge_releases.versions), p.stdout
    for name, tag in tags.items():
        assert _docker("image", "inspect", "-f", "{{.Id}}", name) == _docker("image", "inspect", "-f", "{{.Id}}", tag)
    names = {v: f"tlsdiff-external-test-{os.getpid()}-{v}" for v in edge_releases.versions}
    try:
        ports = {}
        for version, name in names.items():
            # As docker-compose.yml runs them, but on a port of the peer's choosing.
            _docker("run", "-d", "--rm", "--network", "host", "--name", name, "--label", "tlsdiff=external-test",
                    f"tlsdiff-go-peer:{version}", "-listen", "127.0.0.1:0")
            ports[version] = _wait_for_port(lambda n=name: subprocess.run(
                ["docker", "logs", n], capture_output=True, text=True, timeout=30).stderr, lambda: None)
        out = tmp_path / "containers.json"
        p = tlsdiff("run", *CASES, "--runner", "external", "--peers", _peers_flag(ports), "--json", str(out))
        assert p.returncode == 0, p.stdout + p.stderr
        _report_checked(out, {v: (f"127.0.0.1:{port}", _sha256(edge_releases.binaries[v]))
                              for v, port in ports.items()})
        # A container killed: the next run says which address stopped answering, one line, exit 2.
        _docker("kill", names[edge_releases.versions[-1]])
        p = tlsdiff("run", CASES[0], "--runner", "external", "--peers", _peers_flag(ports))
        _one_line_exit_2(p, f"nothing answers at 127.0.0.1:{ports[edge_releases.versions[-1]]}")
    finally:
        for name in names.values():
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


# ---------------------------------------------------------------- the compose file


def test_compose_services_listen_on_their_documented_ports() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    documented = re.search(r"TLSDIFF_PEERS=(\S+)", (REPO / "docker-compose.yml").read_text()).group(1)
    readme = re.search(r"TLSDIFF_PEERS=(\S+)", (REPO / "README.md").read_text()).group(1)
    assert readme == documented
    expected = {}
    for service, spec in compose["services"].items():
        version = spec["build"]["args"]["GO_VERSION"]
        minor = version.split(".")[1]
        assert service == f"go-peer-1.{minor}"
        assert spec["image"] == f"tlsdiff-go-peer:{version}"  # what `tlsdiff images` tags
        assert spec["command"] == ["-listen", f"127.0.0.1:71{minor}"]
        assert spec["network_mode"] == "host"  # the peers share tlsdiff's 127.0.0.1
        expected[f"1.{minor}"] = f"127.0.0.1:71{minor}"
    assert {p.name: p.address for p in external.parse_peers(documented)} == expected
