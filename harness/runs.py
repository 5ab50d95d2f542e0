"""One tlsdiff run, start to finish: releases -> peers -> cases -> results.

The CLI and the pytest plugin both drive runs through here, so they cannot
drift apart.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import toolchains
from .compare import CaseResult, compare_case
from .errors import UserError
from .execute import CONNECT_TIMEOUT_MS, CaseRun, ReleaseKey, run_all
from .observe.normalize import normalize_run
from .peers.build import BuildFailure, build_peers
from .peers.pool import PeerPool
from .peers.protocol import PeerFailure
from .scenario.model import Case


@dataclass
class Releases:
    """The releases of a run: those with a built peer, and those without (with why)."""

    available: list[toolchains.Toolchain]
    unavailable: list[toolchains.Unavailable]
    binaries: dict[str, Path]
    rows: list[Any] = field(default_factory=list)  # in requested order, for reports

    @property
    def versions(self) -> list[str]:
        return [t.version for t in self.available]


def prepare_releases(spec: str, *, source: str = "--go", goroots: list[Path] | None = None) -> Releases:
    """Resolve, fetch and build: every requested release gets a peer or a reason."""
    requested = toolchains.parse_release_list(spec, source=source)
    resolved = toolchains.resolve_many(requested, goroots=goroots)
    tcs = [r for r in resolved if isinstance(r, toolchains.Toolchain)]
    built = build_peers(tcs)
    available, unavailable, binaries, rows = [], [], {}, []
    for r in resolved:
        if isinstance(r, toolchains.Toolchain):
            b = built.get(r.version)
            if isinstance(b, BuildFailure):
                u = toolchains.Unavailable(r.version, r.line, f"peer build failed: {b.stderr.strip().splitlines()[-1] if b.stderr.strip() else 'no output'}")
                unavailable.append(u)
                rows.append(u)
                continue
            available.append(r)
            binaries[r.version] = b
        else:
            unavailable.append(r)
        rows.append(r)
    # The same exact release may be requested twice ("1.24" and "1.24.11").
    seen: set[str] = set()
    available = [t for t in available if not (t.version in seen or seen.add(t.version))]
    if not available:
        reasons = "; ".join(f"{u.requested}: {u.reason}" for u in unavailable)
        raise UserError(f"{source}: no requested Go release is available: {reasons}")
    return Releases(available, unavailable, binaries, rows)


def keys_for(case: Case, versions: list[str]) -> list[ReleaseKey]:
    if case.pairing == "cross":
        return [(a, b) for a in versions for b in versions]
    return [(v,) for v in versions]


@dataclass
class Outcome:
    results: list[CaseResult]
    runs: list[CaseRun]
    seconds: float
    handshakes: int
    capabilities: dict[str, dict[str, Any]]  # release -> the peer's hello (its preflight answer)


def run_cases(cases: list[Case], versions: list[str], pool: PeerPool, *, workers: int = 4,
              on_done: Callable[[CaseRun], None] | None = None,
              conn_timeout_ms: int = CONNECT_TIMEOUT_MS) -> Outcome:
    started = time.monotonic()
    runs = run_all(cases, lambda c: keys_for(c, versions), pool, workers=workers, on_done=on_done,
                   conn_timeout_ms=conn_timeout_ms)
    by_case: dict[str, dict[ReleaseKey, dict[str, Any]]] = {}
    for run in runs:
        by_case.setdefault(run.case.id, {})[run.key] = normalize_run(run)
    results = [compare_case(c, by_case[c.id]) for c in cases]
    handshakes = sum(1 for run in runs for s in run.steps if s.client is not None)
    seconds = time.monotonic() - started
    capabilities = {v: _capabilities(pool, v) for v in versions}
    return Outcome(results, runs, seconds, handshakes, capabilities)


def _capabilities(pool: PeerPool, version: str) -> dict[str, Any]:
    try:
        hello = pool.get(version).hello
    except PeerFailure as exc:
        return {"error": str(exc)}
    return {"apis": hello.get("apis", {}), "connection_state_fields": hello.get("connection_state_fields", [])}
