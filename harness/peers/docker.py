"""The docker runner: each Go release's peer is a long-lived container.

The container runs the same statically linked go-peer binary the local runner
uses, in a `FROM scratch` image built here (no image is ever pulled). It is
attached to stdin/stdout by `docker run -i`, so PeerProcess speaks the control
protocol to it unchanged. Peers listen on and dial 127.0.0.1, so they must share
one network namespace with tlsdiff, where the Python peer runs: the engine host's
network when tlsdiff runs there, or, when tlsdiff itself runs in a container of that
engine (a CI job with the engine's socket mounted), that container's
(`--network container:<id>`). TLSDIFF_DOCKER_NETWORK overrides the choice.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import shutil
import socket
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from tlsdiff.errors import EnvironmentProblem
from tlsdiff.toolchains import Toolchain

from .pool import PYTHON_PEER, PeerPool, python_peer_argv
from .protocol import PeerProcess

if TYPE_CHECKING:
    from docker import DockerClient

IMAGE_REPO = "tlsdiff-go-peer"
LABEL = "tlsdiff=peer"
NAME_PREFIX = "tlsdiff-peer-"
DOCKERFILE = 'FROM scratch\nCOPY go-peer /go-peer\nENTRYPOINT ["/go-peer"]\n'
PARALLEL_BUILDS = 2  # CI machines have 2 cores
PING_TIMEOUT_S = 5
API_TIMEOUT_S = 120  # image builds and force-removals can be slow on a loaded machine

_NAME_RE = re.compile(rf"^/?{re.escape(NAME_PREFIX)}(\d+)-")
_OWN_ID_RES = (re.compile(r"/docker[/-]([0-9a-f]{64})"), re.compile(r"/containers/([0-9a-f]{64})/"))
NETWORK_ENV = "TLSDIFF_DOCKER_NETWORK"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def engine(timeout: float = API_TIMEOUT_S, who: str = "--runner docker") -> DockerClient:
    """A client of the Docker engine that answers a ping; EnvironmentProblem (naming who asked) otherwise."""
    other = ", or use --runner local" if who == "--runner docker" else ""
    if shutil.which("docker") is None:
        raise EnvironmentProblem(f"{who}: the docker command is not on PATH; install the Docker CLI{other}")
    try:
        import docker
    except ImportError as exc:
        raise EnvironmentProblem(f"{who}: the docker Python package is missing ({_one_line(exc)}); "
                                 f"pip install docker{other}") from None
    try:
        # Ping with a short timeout so a dead socket fails fast; then a patient client.
        probe = docker.from_env(timeout=PING_TIMEOUT_S)
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=timeout)
    except Exception as exc:  # the SDK raises DockerException, requests or socket errors
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise EnvironmentProblem(f"{who}: no Docker engine answers at {where} ({_one_line(exc)}); "
                                 f"start dockerd{other}") from None


# ---------------------------------------------------------------- images


def image_tag(version: str, binary: Path) -> str:
    """tlsdiff-go-peer:<version>-<sha256 of the binary, 12 hex>: a rebuilt peer gets a new image."""
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    return f"{IMAGE_REPO}:{_docker_safe(version)}-{digest[:12]}"


def _docker_safe(name: str) -> str:
    """A toolchain name in a tag or container name ('1.24.11+a1b2c3' has a '+' docker refuses)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _dockerfile_only(dockerfile: str) -> io.BytesIO:
    """A build context holding only a Dockerfile, in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        data = dockerfile.encode()
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _context(binary: Path) -> io.BytesIO:
    """The build context, in memory: the Dockerfile and the binary, nothing else."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in (("Dockerfile", DOCKERFILE.encode(), 0o644), ("go-peer", binary.read_bytes(), 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def ensure_image(client: DockerClient, version: str, binary: Path) -> str:
    """The image tag for this release's binary, built unless the engine has it already."""
    import docker.errors

    tag = image_tag(version, binary)
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.build(fileobj=_context(binary), custom_context=True, tag=tag, rm=True, forcerm=True,
                            pull=False, labels={"tlsdiff": "peer-image", "tlsdiff.go": version})
    except Exception as exc:  # BuildError, APIError, a timeout: all mean this engine cannot build
        raise EnvironmentProblem(f"--runner docker: cannot build image {tag}: {_one_line(exc)}") from None
    return tag


def ensure_images(client: DockerClient, binaries: dict[str, Path], jobs: int = PARALLEL_BUILDS) -> dict[str, str]:
    """version -> image tag for every binary, `jobs` builds at a time."""
    versions = list(binaries)
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(versions) or 1))) as pool:
        tags = list(pool.map(lambda v: ensure_image(client, v, binaries[v]), versions))
    return dict(zip(versions, tags))


def tag_for_compose(client: DockerClient, binaries: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """version -> (tlsdiff-go-peer:<version>, tlsdiff-go-peer:<version>-<sha 12>): each release's
    image, built if missing, also tagged with the name docker-compose.yml's service uses, so
    `docker compose up --no-build` runs tlsdiff's own peers without a registry."""
    out = {}
    for version, tag in ensure_images(client, binaries).items():
        client.images.get(tag).tag(IMAGE_REPO, _docker_safe(version))
        out[version] = (f"{IMAGE_REPO}:{_docker_safe(version)}", tag)
    return out


# ---------------------------------------------------------------- containers


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_container(client: DockerClient, name: str) -> None:
    """Force-remove a container by name; gone already is fine."""
    import docker.errors

    try:
        client.api.remove_container(name, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: --rm is removing it already; wait for that
            raise
        try:
            client.api.wait(name, timeout=30, condition="removed")
        except Exception:
            pass


def remove_stale_containers(client: DockerClient | None = None) -> list[str]:
    """Force-remove tlsdiff peer containers left by a run that died; names removed.

    A container's name carries the pid of the tlsdiff process that started it
    (tlsdiff-peer-<pid>-...); one whose process is gone is stale. Containers of
    live runs, this one included, are left alone.
    """
    client = client if client is not None else engine()
    removed = []
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        m = _NAME_RE.match(c.name)
        if m and _pid_alive(int(m.group(1))):
            continue
        remove_container(client, c.name)
        removed.append(c.name)
    return removed


def _own_container_candidates() -> list[str]:
    """Ids this process's container may have, as Linux shows them (cgroup v1 paths,
    mounts of /etc/hostname and co.) and the hostname Docker gives a container."""
    found = []
    for path in ("/proc/self/cgroup", "/proc/self/mountinfo"):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        for pattern in _OWN_ID_RES:
            found += pattern.findall(text)
    host = socket.gethostname()
    if re.fullmatch(r"[0-9a-f]{12}", host):
        found.append(host)
    return list(dict.fromkeys(found))


def network_mode(client: DockerClient) -> str:
    """Where peer containers must live to share 127.0.0.1 with tlsdiff: $TLSDIFF_DOCKER_NETWORK,
    else the container tlsdiff runs in if this engine runs it, else the engine host's network."""
    import docker.errors

    asked = os.environ.get(NETWORK_ENV, "").strip()
    if asked:
        if asked != "host" and not re.fullmatch(r"container:[\w.-]+", asked):
            raise EnvironmentProblem(f"{NETWORK_ENV}: {asked!r}; expected host or container:<name or id>")
        return asked
    for candidate in _own_container_candidates():
        try:
            return f"container:{client.containers.get(candidate).id}"
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError:
            break
    return "host"


def container_name(argv: Sequence[str]) -> str:
    """The --name of a `docker run` command line built by docker_pool."""
    argv = list(argv)
    return argv[argv.index("--name") + 1]


def docker_pool(toolchains: list[Toolchain], binaries: Mapping[str, Path]) -> PeerPool:
    """A pool whose peers are containers of per-release FROM scratch images.

    The toolchains' images are built at once; a release added to binaries later (one
    a case pins) gets its image when its first peer starts. A peer under a GODEBUG
    value is a container with that GODEBUG in its environment (`docker run -e`)."""
    client = engine()
    remove_stale_containers(client)
    wanted = {tc.name: binaries[tc.name] for tc in toolchains}
    images = ensure_images(client, wanted)
    network = network_mode(client)
    counter = itertools.count(1)

    def argv(release: str, env: list[str]) -> list[str]:
        if release == PYTHON_PEER:
            return python_peer_argv()  # tlspeer is this Python: it runs beside the harness
        if release not in images:
            images[release] = ensure_image(client, release, binaries[release])
        # A fresh name per start: a killed container may still be being removed.
        name = f"{NAME_PREFIX}{os.getpid()}-{_docker_safe(release)}-{next(counter)}"
        return ["docker", "run", "-i", "--rm", "--network", network, "--name", name, "--label", LABEL,
                *env, images[release]]

    def with_godebug(release: str, godebug: str) -> tuple[list[str], None]:
        return argv(release, ["--env", f"GODEBUG={godebug}"]), None

    def on_exit(peer: PeerProcess) -> None:
        if "--name" not in peer.argv:  # tlspeer, a local process
            return
        # Killing the `docker run` client leaves its container running: remove it.
        remove_container(client, container_name(peer.argv))

    return PeerPool(lambda release: argv(release, []), on_exit=on_exit, godebug_launch=with_godebug)
