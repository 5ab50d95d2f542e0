"""Provider "debian": Debian's golang-1.N-go + golang-1.N-src packages, unpacked, not installed.

`apt-get download` needs no root, and unpacking both packages into one folder
gives a working Go root at usr/lib/go-1.N (its src/ is a relative symlink into
usr/share, which survives moving the folder). What no build here reads is left
packed (`_extract`).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from tlsdiff.toolchains import lines
from tlsdiff.toolchains.cache import FetchError, Offer, one_line, remembered, version_key
from tlsdiff.toolchains.identity import CMD_DIR, TEST_DIR, TEST_SUFFIX, UNUSED_COMMANDS, UNUSED_TOOLS

NAME = "debian"
APT_TIMEOUT_S = 300

_PACKAGE_RE = re.compile(r"^(\S+):\s*$")
_CANDIDATE_RE = re.compile(r"^\s+Candidate:\s*(\S+)\s*$")

_lock = threading.Lock()
_candidates: dict[str, str] | None = None
_update_lock = threading.Lock()
_updated = False


def missing_tools() -> list[str]:
    """The Debian tools this provider needs that the machine lacks."""
    return [t for t in ("apt-get", "apt-cache", "dpkg-deb", "tar") if shutil.which(t) is None]


def upstream_version(deb_version: str) -> str:
    """"1:1.19.8-2+deb12u1" -> "1.19.8": drop epoch, Debian revision and repack suffixes."""
    version = deb_version.split(":", 1)[-1]
    version = version.rsplit("-", 1)[0] if "-" in version else version
    return re.split(r"[+~]", version, maxsplit=1)[0]


def _policy() -> dict[str, str]:
    """Package -> candidate Debian version, for every golang-1.N-{go,src} apt knows
    (local, no network; remembered for a day in the cache, as `apt-cache` is slow)."""
    return remembered("debian-policy", _ask_apt_cache)


_GO_PACKAGE_RE = re.compile(r"^golang-(1\.\d+)-go$")


def _lines_apt_knows() -> list[str]:
    """Lines with a golang-1.N-go package in apt's lists, 1.19 and newer (local, no network)."""
    try:
        proc = subprocess.run(["apt-cache", "pkgnames", "golang-1."], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = {m.group(1) for name in proc.stdout.split() if (m := _GO_PACKAGE_RE.match(name))}
    return sorted((ln for ln in found if lines.canonical(ln)), key=version_key)


def _ask_apt_cache() -> dict[str, str]:
    packages = [f"golang-{line}-{part}" for line in _lines_apt_knows() for part in ("go", "src")]
    if not packages:
        return {}
    try:
        proc = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, str] = {}
    package = None
    for text in proc.stdout.splitlines():
        if m := _PACKAGE_RE.match(text):
            package = m.group(1)
        elif (m := _CANDIDATE_RE.match(text)) and package and m.group(1) != "(none)":
            found[package] = m.group(1)
    return found


def _apt_get_update() -> str:
    """Run `apt-get update` (needs root); return "" on success, else why not."""
    try:
        proc = subprocess.run(["apt-get", "update"], capture_output=True, text=True, timeout=APT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get update: {exc}"
    return "" if proc.returncode == 0 else f"apt-get update: {one_line(proc.stderr)}"


def _update_once() -> bool:
    """Run `apt-get update` at most once per process; True if this call ran it."""
    global _updated
    with _update_lock:
        if _updated:
            return False
        _updated = True
    _apt_get_update()
    return True


def candidates() -> dict[str, str]:
    """Package -> candidate version; runs `apt-get update` once if apt knows no Go at all."""
    global _candidates
    with _lock:
        if _candidates is None:
            _candidates = _policy()
            if not _candidates and _update_once():  # empty lists, as in a fresh container
                _candidates = _policy()
        return _candidates


def _lines_on_offer(found: dict[str, str]) -> dict[str, str]:
    """Line -> upstream release, for lines whose -go and -src packages are both available."""
    offered = {}
    for line in sorted({p.split("-")[1] for p in found}, key=version_key):
        go, src = found.get(f"golang-{line}-go"), found.get(f"golang-{line}-src")
        if go and src:
            offered[line] = upstream_version(go)
    return offered


def lines_offered() -> list[str]:
    """The lines Debian's archive can give here (none off Debian)."""
    return [] if missing_tools() else list(_lines_on_offer(candidates()))


def offer(line: str, exact: str | None) -> Offer | str:
    """What Debian's archive would give for `line`/`exact`, or why not."""
    if missing := missing_tools():
        return f"debian unavailable: no {', '.join(missing)} (not a Debian-like system)"
    found = candidates()
    offered = _lines_on_offer(found)
    have = ", ".join(sorted(offered.values(), key=version_key))
    release = offered.get(line)
    if release is None or (exact is not None and version_key(exact) != version_key(release)):
        return f"debian has {have} only" if have else "debian: apt knows no golang-1.N-go package"
    pins = [f"golang-{line}-{part}={found[f'golang-{line}-{part}']}" for part in ("go", "src")]
    return Offer(
        provider=NAME, version=release, fetch_into=lambda tmp: fetch_into(line, pins, tmp),
        source=" ".join(pins) + " (apt)",
    )


def _download(pins: list[str], where: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["apt-get", "download", *pins], cwd=where, capture_output=True, text=True, timeout=APT_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"apt-get download: {exc}") from exc


def fetch_into(line: str, pins: list[str], tmp: Path) -> Path:
    """apt-get download both packages, unpack them into tmp, return the Go root."""
    download = tmp / ".download"
    download.mkdir()
    proc = _download(pins, download)
    if proc.returncode != 0 and _update_once():
        # Stale lists: the pinned .deb may have left the mirror. Take the current
        # candidates; `go version` verification still checks the release.
        proc = _download([pin.split("=", 1)[0] for pin in pins], download)
    debs = sorted(download.glob("*.deb"))
    if proc.returncode != 0 or len(debs) != 2:
        raise FetchError(f"apt-get download {' '.join(pins)}: {one_line(proc.stderr)}")
    for deb in debs:
        _extract(deb, tmp, line)
    shutil.rmtree(download)
    goroot = tmp / "usr" / "lib" / f"go-{line}"
    if not (goroot / "bin" / "go").is_file():
        raise FetchError(f"the golang-{line}-go package has no usr/lib/go-{line}/bin/go")
    return goroot


def left_packed(line: str) -> list[str]:
    """What `_extract` leaves out (GNU tar patterns, `*` not matching `/`): what
    toolchains.identity.left_packed names for every provider (the tests and test data
    under src/, the sources under src/cmd/, the tools and commands no build runs), the
    compiler's own test suite, and the standard library compiled by Debian, which no
    build here uses (its flags differ: the packages are compiled anew into the build
    cache)."""
    lib, share = f"./usr/lib/go-{line}", f"./usr/share/go-{line}"
    return [f"*{TEST_SUFFIX}", TEST_DIR, f"{share}/src/{CMD_DIR}", f"{share}/test", f"{lib}/pkg/linux_*",
            *(f"{lib}/pkg/tool/*/{tool}" for tool in sorted(UNUSED_TOOLS)),
            *(f"{lib}/bin/{cmd}" for cmd in sorted(UNUSED_COMMANDS))]


def _extract(deb: Path, dest: Path, line: str) -> None:
    """`dpkg-deb -x`, but for what left_packed names: dpkg-deb gives the package's files
    as a tar stream, and tar unpacks it."""
    excludes = [f"--exclude={pattern}" for pattern in left_packed(line)]
    with tempfile.TemporaryFile() as dpkg_err:  # a file: a full pipe would stall dpkg-deb
        try:
            dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                                    stdout=subprocess.PIPE, stderr=dpkg_err)
        except OSError as exc:
            raise FetchError(f"dpkg-deb --fsys-tarfile {deb.name}: {exc}") from exc
        try:
            tar = subprocess.run(["tar", "-x", "-C", str(dest), "--no-wildcards-match-slash", *excludes],
                                 stdin=dpkg.stdout, capture_output=True, text=True, timeout=APT_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            dpkg.kill()
            raise FetchError(f"tar -x of {deb.name}: {exc}") from exc
        finally:
            assert dpkg.stdout is not None
            dpkg.stdout.close()
            try:
                dpkg.wait(timeout=APT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                dpkg.kill()
                dpkg.wait()
        dpkg_err.seek(0)
        err = dpkg_err.read().decode(errors="replace")
    if dpkg.returncode != 0:
        raise FetchError(f"dpkg-deb --fsys-tarfile {deb.name}: {one_line(err) or f'exit {dpkg.returncode}'}")
    if tar.returncode != 0:
        raise FetchError(f"tar -x of {deb.name}: {one_line(tar.stderr)}")
