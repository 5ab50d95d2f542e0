"""Build go-peer with one Go toolchain, once per (release, source) pair.

The binary is cached at <cache>/peers/<version>-<source hash[:16]>/go-peer.
Builds happen in a fresh directory with a go.mod written here, whose `go`
line is the toolchain's release line: GODEBUG defaults follow that line, so
each build gets the crypto/tls defaults its release ships with.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tlsdiff import children
from tlsdiff.paths import GO_PEER_DIR, cache_dir
from tlsdiff.progress import busy
from tlsdiff.toolchains import Toolchain
from tlsdiff.toolchains.cache import locked, move_into_place, remove_stale

MODULE = "tlsdiff/go-peer"
BINARY = "go-peer"
#: How go-peer is built. Without DWARF (the linker's -w, the compiler's -dwarf=false):
#: nothing reads it, and a cold build (the standard library compiled anew for every
#: toolchain) takes a tenth less CPU. Stack traces and profiles keep their symbols.
BUILD_FLAGS = ("-trimpath", "-buildvcs=false", "-ldflags=-w", "-gcflags=all=-dwarf=false")
#: How the compiler and linker run (not what they make: the binary is the same byte
#: for byte). Their collector only starts near a gigabyte, so a package's compile
#: seldom collects: preparing all eight releases on an empty cache took a sixth less
#: CPU and wall time (benchmarks in the commit that added this).
COMPILER_RUNTIME_ENV = {"GOGC": "off", "GOMEMLIMIT": "1GiB"}
BUILD_TIMEOUT_S = 900
PARALLEL_BUILDS = 2
STDERR_TAIL = 4000


class BuildFailure(Exception):
    """go-peer did not build with one toolchain; stderr holds the compiler's last words."""

    def __init__(self, version: str, stderr: str) -> None:
        self.version = version
        self.stderr = stderr[-STDERR_TAIL:]
        last = next((ln for ln in reversed(self.stderr.splitlines()) if ln.strip()), "no output")
        super().__init__(f"go-peer does not build with Go {version}: {last.strip()}")


def _sources(src_dir: Path) -> list[Path]:
    """Go source files the build uses, relative, sorted; tests and dirs Go ignores are left out."""
    found = []
    for path in src_dir.rglob("*.go"):
        rel = path.relative_to(src_dir)
        ignored_dir = any(p.startswith((".", "_")) or p == "testdata" for p in rel.parts[:-1])
        if path.is_file() and not ignored_dir and not rel.name.endswith("_test.go"):
            found.append(rel)
    return sorted(found, key=lambda rel: rel.as_posix())


def peer_source_hash(src_dir: Path) -> str:
    """sha256 over the sorted relative paths and contents of the sources (go.mod is ours, not hashed)."""
    digest = hashlib.sha256()
    for rel in _sources(src_dir):
        data = (src_dir / rel).read_bytes()
        digest.update(f"{rel.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _peers_dir(cache_root: Path | None) -> Path:
    return (cache_root if cache_root is not None else cache_dir()) / "peers"


def peer_build_hash(src_dir: Path) -> str:
    """sha256 over the source hash and BUILD_FLAGS: a peer built another way is another peer."""
    return hashlib.sha256(f"{peer_source_hash(src_dir)}\0{' '.join(BUILD_FLAGS)}".encode()).hexdigest()


def _key(tc: Toolchain, src_dir: Path) -> str:
    """What a built peer depends on: the toolchain's identity (not only its version), the
    source and how it is built."""
    return f"{tc.version}-{(tc.digest or 'unknown')[:12]}-{peer_build_hash(src_dir)[:16]}"


def peer_binary_path(tc: Toolchain, src_dir: Path = GO_PEER_DIR, cache_root: Path | None = None) -> Path:
    """Where the go-peer built by tc from src_dir lives (or will live)."""
    return _peers_dir(cache_root) / _key(tc, src_dir) / BINARY


def go_mod(tc: Toolchain) -> str:
    """The go.mod for a build: the `go` line is the release line, never a patch."""
    return f"module {MODULE}\n\ngo {tc.line}\n"


def build_env(tc: Toolchain, cache_root: Path | None) -> dict[str, str]:
    """The environment for `go build`: local toolchain only, no network, caches under tlsdiff's."""
    root = cache_root if cache_root is not None else cache_dir()
    env = {**COMPILER_RUNTIME_ENV, **os.environ}  # a GOGC of the user's own stands
    for name in ("GOOS", "GOARCH", "GOWORK", "GOBIN"):
        env.pop(name, None)  # the binary must run here, and no outer workspace may leak in
    env.update({
        "GOROOT": str(tc.goroot), "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod",
        "GOPATH": str(root / "gopath"), "GOCACHE": str(root / "gocache" / tc.version),
        "GOPROXY": "off", "GO111MODULE": "on", "GOENV": "off", "GOWORK": "off",
    })
    return env


def _copy_sources(src_dir: Path, dest: Path) -> None:
    for rel in _sources(src_dir):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src_dir / rel, dest / rel)


def _compile(tc: Toolchain, work: Path, out: Path, cache_root: Path | None) -> None:
    """Run go build in work; raise BuildFailure with the compiler's stderr."""
    cmd = [str(tc.go()), "build", *BUILD_FLAGS, "-o", str(out), "."]
    try:
        proc = children.run(cmd, cwd=work, env=build_env(tc, cache_root), timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildFailure(tc.version, str(exc)) from exc
    if proc.returncode != 0 or not out.is_file():
        raise BuildFailure(tc.version, proc.stderr or proc.stdout)


def _write_build_record(tc: Toolchain, work: Path, path: Path, binary: Path) -> None:
    """What produced this binary (for whoever debugs a surprising result later), and what it
    was when built (so a damaged copy is rebuilt, not run)."""
    st = binary.stat()
    record = {
        "binary_sha256": hashlib.sha256(binary.read_bytes()).hexdigest(),
        "binary_size": st.st_size, "binary_mtime_ns": st.st_mtime_ns,
        "version": tc.version, "name": tc.name, "digest": tc.digest, "line": tc.line, "provider": tc.provider,
        "goroot": str(tc.goroot),
        "go_mod": (work / "go.mod").read_text(), "sources": [rel.as_posix() for rel in _sources(work)],
        "source_sha256": peer_source_hash(work), "build_flags": list(BUILD_FLAGS),
    }
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def intact(binary: Path) -> bool:
    """Is the cached binary the one that was built? Size and time from its record, and
    when the time differs, its bytes."""
    try:
        record = json.loads((binary.parent / "build.json").read_text())
        st = binary.stat()
    except (OSError, ValueError):
        return False
    if "binary_sha256" not in record:
        return False  # built by a tlsdiff that kept no record of it: build again
    if st.st_size != record["binary_size"]:
        return False
    if st.st_mtime_ns == record["binary_mtime_ns"]:
        return True
    return hashlib.sha256(binary.read_bytes()).hexdigest() == record["binary_sha256"]


def build_peer(tc: Toolchain, *, src_dir: Path = GO_PEER_DIR, cache_root: Path | None = None) -> Path:
    """The go-peer binary for tc, built unless the cache has it intact; raises BuildFailure."""
    out = peer_binary_path(tc, src_dir, cache_root)
    if intact(out):
        return out
    peers = out.parent.parent
    key = out.parent.name
    with locked(peers / ".locks" / f"{key}.lock"):
        if intact(out):
            return out  # another process built it while we waited
        remove_stale(peers, f".tmp-{key}-")
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=peers))
        try:
            work = tmp / "src"
            work.mkdir()
            _copy_sources(src_dir, work)
            (work / "go.mod").write_text(go_mod(tc))
            with busy(f"building go-peer with Go {tc.name}"):
                _compile(tc, work, tmp / BINARY, cache_root)
            _write_build_record(tc, work, tmp / "build.json", tmp / BINARY)
            shutil.rmtree(work)
            move_into_place(tmp, out.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def build_peers(
    tcs: list[Toolchain], *, src_dir: Path = GO_PEER_DIR, cache_root: Path | None = None, jobs: int = PARALLEL_BUILDS,
) -> dict[str, Path | BuildFailure]:
    """build_peer for each toolchain, `jobs` at a time; name -> binary or its BuildFailure."""
    unique = list({tc.name: tc for tc in tcs}.values())
    if not unique:
        return {}

    def one(tc: Toolchain) -> Path | BuildFailure:
        try:
            return build_peer(tc, src_dir=src_dir, cache_root=cache_root)
        except BuildFailure as failure:
            return failure

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(unique)))) as pool:
        return dict(zip((tc.name for tc in unique), pool.map(one, unique)))
