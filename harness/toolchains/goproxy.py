"""Provider "goproxy": the golang.org/toolchain module on proxy.golang.org (opt-in).

This is what `GOTOOLCHAIN=go1.24.11` downloads. It is only tried when
TLSDIFF_GOPROXY_TOOLCHAINS=1 (or the resolver is told to), because many test
machines cannot reach proxy.golang.org; there it must fail within seconds.
The only host contacted is proxy.golang.org. The zip is checked for
integrity (CRC, layout) and the result by `go version`; it is not checked
against sum.golang.org, which would mean contacting a second host.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import threading
import zipfile
from pathlib import Path

from tlsdiff.toolchains.cache import FetchError, Offer, line_of, set_exec_bits, version_key
from tlsdiff.toolchains.identity import left_packed

NAME = "goproxy"
ENV_OPT_IN = "TLSDIFF_GOPROXY_TOOLCHAINS"
BASE_URL = "https://proxy.golang.org/golang.org/toolchain/@v/"
PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 60.0  # per socket operation, not for the whole download
NOT_TRIED = f"goproxy not tried (set {ENV_OPT_IN}=1 where proxy.golang.org is reachable)"

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm"}
_MODULE_VERSION_RE = re.compile(r"^v0\.0\.1-go(\S+)\.([a-z0-9]+-[a-z0-9]+)$")


def enabled(explicit: bool | None = None) -> bool:
    """Opt-in: the caller's choice if given, else TLSDIFF_GOPROXY_TOOLCHAINS=1."""
    if explicit is not None:
        return explicit
    return os.environ.get(ENV_OPT_IN, "").strip() == "1"


def platform_suffix() -> str:
    """"linux-amd64" for this machine, as the toolchain module names it."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}-{_ARCH.get(machine, machine)}"


def _get(url: str, timeout: float) -> bytes:
    """GET with a hard deadline: the socket timeout does not cover DNS, a thread does."""
    import urllib.request  # lazily: ssl and friends cost ~20 ms, and warm resolves never get here

    result: dict[str, object] = {}

    def work() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                result["body"] = resp.read()
        except (OSError, ValueError) as exc:  # URLError is an OSError
            result["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if thread.is_alive():
        raise FetchError(f"goproxy: no answer from proxy.golang.org within {timeout + 1:.0f} s")
    if "error" in result:
        raise FetchError(f"goproxy: proxy.golang.org unreachable ({_why(result['error'])})")
    return result["body"]  # type: ignore[return-value]


def _why(exc: object) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).splitlines()[0] if str(reason) else type(exc).__name__


def listed_releases() -> list[str]:
    """Releases the proxy lists for this platform, via one short request."""
    body = _get(BASE_URL + "list", PROBE_TIMEOUT_S).decode("utf-8", "replace")
    suffix = platform_suffix()
    found = []
    for text in body.split():
        m = _MODULE_VERSION_RE.match(text)
        if m and m.group(2) == suffix:
            try:
                version_key(m.group(1))
            except ValueError:
                continue
            found.append(m.group(1))
    return found


def offer(line: str, exact: str | None) -> Offer | str:
    """What the proxy would give for `line` (newest final patch) or `exact`, or why not."""
    try:
        listed = listed_releases()
    except FetchError as exc:
        return str(exc)
    in_line = sorted((v for v in listed if line_of(v) == line), key=version_key)
    if exact is not None:
        match = [v for v in in_line if version_key(v) == version_key(exact)]
    else:
        match = [v for v in in_line if version_key(v)[2] == 1]  # final releases only
    if not match:
        return f"goproxy has no {exact or line} for {platform_suffix()}"
    release = match[-1]
    module_version = f"v0.0.1-go{release}.{platform_suffix()}"
    return Offer(
        provider=NAME, version=release, fetch_into=lambda tmp: fetch_into(module_version, tmp),
        source=f"golang.org/toolchain@{module_version} (proxy.golang.org)",
    )


def fetch_into(module_version: str, tmp: Path) -> Path:
    """Download the module zip into tmp, check it, unpack it as tmp/go, return that."""
    import urllib.request

    download = tmp / ".download"
    download.mkdir()
    archive = download / "toolchain.zip"
    try:
        with urllib.request.urlopen(f"{BASE_URL}{module_version}.zip", timeout=DOWNLOAD_TIMEOUT_S) as resp:
            with open(archive, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
    except OSError as exc:
        raise FetchError(f"goproxy download of {module_version}: {_why(exc)}") from exc
    _unpack(archive, f"golang.org/toolchain@{module_version}/", tmp / "go")
    shutil.rmtree(download)
    set_exec_bits(tmp / "go")
    return tmp / "go"


def _unpack(archive: Path, prefix: str, goroot: Path) -> None:
    """Check every member is under prefix and its CRC is right, then extract without the prefix."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            bad = [n for n in names if not n.startswith(prefix) or ".." in Path(n).parts]
            if bad or prefix + "bin/go" not in names:
                raise FetchError(f"goproxy: unexpected zip layout (e.g. {bad[:1] or 'no bin/go'})")
            for info in zf.infolist():
                rel = info.filename[len(prefix):]
                if info.is_dir() or left_packed(rel):
                    continue  # as gobin.py
                target = goroot / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)  # raises BadZipFile on a CRC mismatch
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"goproxy: bad toolchain zip: {exc}") from exc
