"""What a Go toolchain is, beyond its version string: a digest of what it compiles.

Two Go roots that print the same `go version` can differ (a maintainer's patched
crypto/tls); a peer built with one must never stand in for the other. The digest
covers the `go version` line and every source the toolchain builds from: every
file under src/ but tests and testdata (crypto/tls, crypto/internal, the runtime,
the compiler and linker under cmd/). Hashing that takes a second or two, so the
digest is remembered beside a cheap fingerprint of the same files (path, size,
modification time): while the fingerprint holds, the digest does.

The cache records both when it fetches a toolchain; a cached toolchain whose
fingerprint no longer matches is damaged and fetched again (cache.lookup).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tlsdiff.paths import cache_dir

#: Bump when the set of files or the way they are hashed changes: recorded values
#: of another scheme are recomputed, not taken for damage.
SCHEME = 2


#: What under src/ is a test, not something the toolchain builds from.
TEST_DIR = "testdata"
TEST_SUFFIX = "_test.go"


def is_test_file(path_in_goroot: str) -> bool:
    """Whether a file of a Go root ('/'-separated, relative to the root) is a test or
    test data under src/: left out of the digest, and not unpacked by the providers
    (half the files of a Go tree)."""
    parts = path_in_goroot.split("/")
    return parts[0] == "src" and (parts[-1].endswith(TEST_SUFFIX) or TEST_DIR in parts[1:-1])


def _walk(top: str, rel: str, out: list[tuple[str, os.DirEntry]]) -> None:
    with os.scandir(top) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        name = rel + e.name
        if e.is_dir():  # follows symlinks: Debian's src/ is one
            if e.name != TEST_DIR and not e.name.startswith("."):
                _walk(e.path, name + "/", out)
        elif not e.name.endswith(TEST_SUFFIX):
            out.append((name, e))


def _tree(goroot: Path) -> list[tuple[str, os.DirEntry]]:
    """(path under src/, entry) of the files that make up what the toolchain builds, sorted.

    Plain strings and scandir: this runs for every toolchain on every run."""
    out: list[tuple[str, os.DirEntry]] = []
    src = goroot / "src"
    if src.is_dir():
        _walk(str(src), "", out)
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
