"""The docker runner against a real Docker engine, with real Go 1.19 and 1.27 peers.

Every test that needs an engine is skipped, with the reason, only when no
engine answers; .ci/start-docker.sh installs and starts one in CI. The tests
that check what a user without an engine sees run everywhere.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import EDGE_RELEASES, REPO
from tlsdiff.compare import verdict_for
from tlsdiff.errors import EnvironmentProblem
from tlsdiff.execute import run_case
from tlsdiff.observe.normalize import normalize_run
from tlsdiff.peers import docker as docker_runner
from tlsdiff.report.json_report import case_entry
from tlsdiff import load_cases
from tlsdiff.runs import Run

CASE_IDS = ["resumption/tls13-same-server", "tickets/tls13-cross-release-shared-key"]


def _engine_problem() -> str | None:
    try:
        import docker
        docker.from_env(timeout=5).ping()
    except Exception as exc:
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    return None


_PROBLEM = _engine_problem()
needs_engine = pytest.mark.skipif(_PROBLEM is not None, reason=f"no Docker engine answers: {_PROBLEM}")


def _containers(prefix: str) -> list[str]:
    """Names of tlsdiff peer containers (running or not) whose name starts with prefix."""
    client = docker_runner.engine()
    return sorted(c.name for c in client.containers.list(all=True, filters={"label": docker_runner.LABEL})
                  if c.name.startswith(prefix))


def _docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True, timeout=60)


def _mine() -> str:
    return f"{docker_runner.NAME_PREFIX}{os.getpid()}-"


@pytest.fixture
def docker_peers(edge_releases):
    pool = docker_runner.docker_pool(edge_releases.available, edge_releases.binaries)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def cases():
    found = load_cases(CASE_IDS)
    assert [c.id for c in found] == CASE_IDS
    return found


# ---------------------------------------------------------------- images


@needs_engine
def test_images_are_from_scratch_tagged_by_binary_and_reused(edge_releases) -> None:
    client = docker_runner.engine()
    tags = docker_runner.ensure_images(client, edge_releases.binaries)
    assert set(tags) == set(edge_releases.versions)
    for version, tag in tags.items():
        assert tag == docker_runner.image_tag(version, edge_releases.binaries[version])
        assert tag.startswith(f"tlsdiff-go-peer:{version}-") and len(tag.rsplit("-", 1)[1]) == 12
        image = client.images.get(tag)
        assert image.attrs["Config"]["Entrypoint"] == ["/go-peer"]
        # FROM scratch: the only layer is the binary.
        assert len(image.attrs["RootFS"]["Layers"]) == 1
        assert image.attrs["Size"] < edge_releases.binaries[version].stat().st_size + 4096
    ids = {v: client.images.get(t).id for v, t in tags.items()}
    started = time.monotonic()
    assert docker_runner.ensure_images(client, edge_releases.binaries) == tags
    assert time.monotonic() - started < 5  # the tags exist: nothing is rebuilt
    assert {v: client.images.get(t).id for v, t in tags.items()} == ids


# ---------------------------------------------------------------- runs


@needs_engine
def test_docker_observations_equal_local_ones(edge_releases, cases) -> None:
    with Run(EDGE_RELEASES, runner="docker") as docker_run:
        docker_out = docker_run.run(cases)
        running = _containers(_mine())
        assert len(running) == 2, running  # one long-lived container per release
    with Run(EDGE_RELEASES) as local_run:
        local_out = local_run.run(cases)
    for result in docker_out.results:
        assert result.verdict == "pass", [v.failures() for v in result.verdicts.values()]
    assert [case_entry(r) for r in docker_out.results] == [case_entry(r) for r in local_out.results]
    assert docker_out.handshakes == local_out.handshakes > 0


@needs_engine
def test_killed_container_is_restarted_and_next_case_passes(docker_peers, edge_releases, cases) -> None:
    case, release = cases[0], edge_releases.versions[-1]
    name = docker_runner.container_name(docker_peers.get(release).argv)
    # Freeze it so the case is surely waiting on it, then kill it: a crash mid-case.
    _docker("pause", name)
    threading.Timer(0.3, lambda: _docker("kill", name)).start()
    run = run_case(case, (release,), docker_peers)
    verdict = verdict_for(case, (release,), normalize_run(run))
    assert verdict.verdict == "error"
    assert "exited with status" in verdict.reason
    again = run_case(case, (release,), docker_peers)
    assert verdict_for(case, (release,), normalize_run(again)).verdict == "pass"
    assert docker_runner.container_name(docker_peers.get(release).argv) != name
    assert docker_peers.restarts[release] == 1
    assert name not in _containers(_mine())


@needs_engine
def test_hung_container_is_removed_when_its_client_is_killed(docker_peers, edge_releases, cases) -> None:
    case, release = cases[0], edge_releases.versions[0]
    name = docker_runner.container_name(docker_peers.get(release).argv)
    _docker("pause", name)  # hung: it neither answers nor exits when its stdin closes
    run = run_case(case, (release,), docker_peers, conn_timeout_ms=300)
    failure = run.failure or next(s.failure for s in run.steps if s.failure)
    assert "no response within" in failure
    # PeerProcess.kill killed the `docker run` client; the container must not outlive it.
    assert name not in _containers(_mine())
    again = run_case(case, (release,), docker_peers)
    assert verdict_for(case, (release,), normalize_run(again)).verdict == "pass"


@needs_engine
def test_godebug_and_pinned_endpoints_run_in_containers_of_their_own(edge_releases) -> None:
    """A GODEBUG peer is a container with that GODEBUG in its environment; a runtime that
    refuses it at startup makes the run unsupported; a pinned release (no column) gets its
    image when its first peer starts."""
    from tlsdiff.peers.pool import peer_label
    old, new = edge_releases.versions
    cases = load_cases(["godebug/tlsmlkem-off-go-client", "godebug/tls10server-removed-in-1.27",
                        "state/tls12-ekm-pinned-1.19-client"])
    with Run(EDGE_RELEASES.split(",")[-1], runner="docker") as run:
        result = run.run(cases)
        argv = run.pool.running()[peer_label(new, "tlsmlkem=0")].argv
        assert argv[argv.index("--env") + 1] == "GODEBUG=tlsmlkem=0"
        assert old in run.pool.running()  # the pinned 1.19 client's container
    verdicts = {r.case.id: r.verdicts[(new,)] for r in result.results}
    assert verdicts["godebug/tlsmlkem-off-go-client"].verdict == "pass"
    assert verdicts["state/tls12-ekm-pinned-1.19-client"].verdict == "pass"
    refused = verdicts["godebug/tls10server-removed-in-1.27"]
    assert refused.verdict == "unsupported" and 'removed GODEBUG "tls10server"' in refused.reason
    assert _containers(_mine()) == []


@needs_engine
def test_no_container_is_left_after_close(edge_releases) -> None:
    pool = docker_runner.docker_pool(edge_releases.available, edge_releases.binaries)
    for release in edge_releases.versions:
        pool.get(release)
    assert len(_containers(_mine())) == 2
    pool.close()
    assert _containers(_mine()) == []


@needs_engine
def test_stale_containers_of_dead_runs_are_removed(edge_releases) -> None:
    client = docker_runner.engine()
    newest = edge_releases.versions[-1]
    image = docker_runner.ensure_images(client, edge_releases.binaries)[newest]
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs: its run crashed
    stale = f"{docker_runner.NAME_PREFIX}{gone.pid}-{newest}-1"
    live = f"{_mine()}{newest}-999"
    for name in (stale, live):
        client.containers.create(image, name=name, labels={"tlsdiff": "peer"}, network_mode="host")
    try:
        assert stale in docker_runner.remove_stale_containers(client)
        left = _containers(docker_runner.NAME_PREFIX)
        assert stale not in left and live in left
    finally:
        for name in (stale, live):
            docker_runner.remove_container(client, name)


# ---------------------------------------------------------------- the CLI


def tlsdiff(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, int]:
    proc = subprocess.Popen([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid


@needs_engine
def test_cli_run_with_docker_runner_matches_local(tmp_path: Path, edge_releases) -> None:
    reports = {}
    for runner in ("docker", "local"):
        out = tmp_path / f"{runner}.json"
        p, pid = tlsdiff("run", CASE_IDS[0], "--go", EDGE_RELEASES, "--runner", runner, "--json", str(out))
        assert p.returncode == 0, p.stdout + p.stderr
        assert "passed" in p.stdout.splitlines()[-1]
        report = json.loads(out.read_text())
        report.pop("timing")
        reports[runner] = report
        assert _containers(f"{docker_runner.NAME_PREFIX}{pid}-") == []
    assert reports["docker"] == reports["local"]


def test_no_engine_is_one_line_naming_the_fix(monkeypatch, edge_releases) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EnvironmentProblem) as err:
        docker_runner.docker_pool(edge_releases.available, edge_releases.binaries)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("--runner docker: no Docker engine answers at unix:///nonexistent/docker.sock (")
    assert message.endswith("start dockerd, or use --runner local")


def test_no_docker_command_is_one_line(monkeypatch, tmp_path: Path, edge_releases) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no docker on it
    with pytest.raises(EnvironmentProblem, match=r"^--runner docker: the docker command is not on PATH; .*--runner local$"):
        docker_runner.docker_pool(edge_releases.available, edge_releases.binaries)


def test_cli_without_engine_exits_2_with_one_line(edge_releases) -> None:
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    p, _ = tlsdiff("run", CASE_IDS[0], "--go", EDGE_RELEASES, "--runner", "docker", env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlsdiff: --runner docker: no Docker engine answers"), p.stderr


# ---------------------------------------------------------------- another network namespace

CHROOT = Path("/usr/sbin/chroot")
NS_CASES = ["binder/pyclient-corrupt-binder", "resumption/pyserver-go-client-resumes"]  # Python peer both ways


def _in_a_container_of_its_own(*tlsdiff_args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """tlsdiff run as a CI job in a container with the engine's socket: its own network
    namespace (loopback only), the engine reached through the socket. The container
    is an empty image whose entrypoint chroots into this machine's files (bind-mounted,
    with the loader and libraries chroot needs), so the same Python and tlsdiff run
    there without pulling an image."""
    import docker
    client = docker.from_env(timeout=120)
    tag = "tlsdiff-test-host-shell:1"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        client.images.build(fileobj=docker_runner._dockerfile_only("FROM scratch\nLABEL tlsdiff=test-shell\n"),
                            custom_context=True, tag=tag, rm=True, pull=False)
    environment = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   **(env or {})}
    argv = ["docker", "run", "--rm", "--network", "none", "-v", "/:/host", "-v", "/lib:/lib:ro",
            "-v", "/lib64:/lib64:ro", "-v", "/usr/lib:/usr/lib:ro", "--entrypoint", f"/host{CHROOT}"]
    for k, v in environment.items():
        argv += ["-e", f"{k}={v}"]
    argv += [tag, "/host", "/bin/sh", "-c", f"cd {REPO} && exec {sys.executable} -m tlsdiff.cli " + " ".join(tlsdiff_args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


@needs_engine
@pytest.mark.skipif(not CHROOT.exists() or not Path("/lib64").is_dir(), reason="needs chroot and /lib64 to host the job")
def test_python_peer_cases_pass_when_tlsdiff_runs_in_a_container_of_the_engine(edge_releases) -> None:
    newest = edge_releases.versions[-1]
    base = ("run", "--runner", "docker", "--go", newest, *NS_CASES)
    p = _in_a_container_of_its_own(*base, "-q")
    assert p.returncode == 0 and "2 passed, 0 failed" in p.stdout, p.stdout + p.stderr
    # The peers' old place, the engine host's network, is not where tlsdiff's 127.0.0.1 is:
    # the Python peer and the Go peers cannot reach each other (the bug this fixed).
    p = _in_a_container_of_its_own(*base, env={docker_runner.NETWORK_ENV: "host"})
    assert p.returncode == 1 and "ConnectionRefusedError" in p.stdout, p.stdout + p.stderr


def test_ci_gives_the_docker_tests_an_engine() -> None:
    """In CI the docker tests must run, not skip: .ci/start-docker.sh installs and starts an engine."""
    if not os.environ.get("CI"):
        pytest.skip("outside CI a Docker engine is optional")
    assert _PROBLEM is None, f"no Docker engine answers in CI, so the docker tests would skip: {_PROBLEM}"
