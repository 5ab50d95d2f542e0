"""Running cases on Go toolchains: the one way tlsdiff runs anything.

The CLI, the pytest plugin and a user's own Python all go through `Run`:

    import tlsdiff
    cases = tlsdiff.load_cases(["resumption/"])
    with tlsdiff.Run(go="1.21,1.27") as run:
        result = run.run(cases)
    for r in result.results:
        print(r.case.id, r.verdict, r.classes)

A Run resolves, fetches and builds the requested releases once (`prepare`), and
the releases the cases' endpoints are pinned to (`peer: "1.21"`) as it meets them,
keeps one peer per release (and per GODEBUG a case asks for) alive until `close`,
and turns cases into typed results: a `CaseResult` per case with its agreement
classes, differences and a `RunVerdict` per release key.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import toolchains
from .toolchains import lines
from .collection import collecting_less
from .compare import CaseResult, RunVerdict, Verdict, compare_case, verdict_for
from .errors import UserError
from .execute import CONNECT_TIMEOUT_MS, WORKERS, CaseRun, Pin, run_all, run_case
from .observe.normalize import normalize_run
from .observe.parallel import Normalizer
from .peers.build import BuildFailure, build_peers
from .peers.pool import PeerPool
from .peers.protocol import PeerFailure
from .scenario.model import Case, Pairing, ReleaseKey, key_text
from .shards import Shard, case_set

RUNNERS = ("local", "docker", "external")


@dataclass
class Releases:
    """The releases of a run: those with a built peer, and those without (with why)."""

    available: list[toolchains.Toolchain]
    unavailable: list[toolchains.Unavailable]
    binaries: dict[str, Path]  # the peers' binaries by toolchain name, the pinned releases' included
    rows: list[toolchains.Toolchain | toolchains.Unavailable] = field(default_factory=list)  # requested order
    #: What each release cases pin ("1.21", "1.21.13") came to: a toolchain (not a column) or why none.
    pinned: dict[str, toolchains.Toolchain | toolchains.Unavailable] = field(default_factory=dict)

    @property
    def pins(self) -> dict[str, Pin]:
        """The pinned releases as execute.run_case takes them: the toolchain's name, or why none."""
        return {spec: Pin(release=r.name) if isinstance(r, toolchains.Toolchain) else Pin(unavailable=r.reason)
                for spec, r in self.pinned.items()}

    @property
    def versions(self) -> list[str]:
        """The columns of the run: each toolchain's name (its release, or what marks it apart)."""
        return [t.name for t in self.available]


def prepare_releases(spec: str, *, source: str = "--go", goroots: Sequence[Path] | None = None) -> Releases:
    """Resolve, fetch and build: every requested release and named Go root gets a peer or a reason.

    An empty spec asks for no release: only the Go roots (goroots, or $TLSDIFF_GOROOT).
    """
    requested = toolchains.parse_release_list(spec, source=source) if spec.strip() else []
    resolved = toolchains.resolve_many(requested, goroots=list(goroots) if goroots else None)
    named = toolchains.named_releases(spec, source=source) if spec.strip() else set()
    roots = {str(Path(g).expanduser().absolute()) for g in goroots or ()}
    named |= roots
    _refuse_unavailable(resolved, named, source, roots)  # before anything is built
    resolved = [_repaired(r) if isinstance(r, toolchains.Toolchain) else r for r in resolved]
    tcs = [r for r in resolved if isinstance(r, toolchains.Toolchain)]
    built = build_peers(tcs)
    available: list[toolchains.Toolchain] = []
    unavailable: list[toolchains.Unavailable] = []
    binaries: dict[str, Path] = {}
    rows: list[toolchains.Toolchain | toolchains.Unavailable] = []
    for r in resolved:
        if isinstance(r, toolchains.Toolchain):
            b = built.get(r.name)
            if isinstance(b, BuildFailure):
                last = b.stderr.strip().splitlines()[-1] if b.stderr.strip() else "no output"
                u = toolchains.Unavailable(r.requested or r.name, r.line, f"Go {r.name}: peer build failed: {last}")
                unavailable.append(u)
                rows.append(u)
                continue
            assert b is not None
            available.append(r)
            binaries[r.name] = b
        else:
            unavailable.append(r)
        rows.append(r)
    # The same exact release may be requested twice ("1.24" and "1.24.11").
    seen: set[str] = set()
    available = [t for t in available if not (t.name in seen or seen.add(t.name))]
    _refuse_unavailable(unavailable, named, source, roots)  # a peer that did not build
    if not available:
        reasons = "; ".join(f"{u.requested}: {u.reason_alone}" for u in unavailable)
        raise UserError(f"{source}: no requested Go release is available: {reasons}")
    return Releases(available, unavailable, binaries, rows)


def _refuse_unavailable(results: Sequence[Any], named: set[str], source: str, roots: set[str]) -> None:
    """A release asked for by name that cannot be had: a run without it answers another question."""
    for u in results:
        if isinstance(u, toolchains.Unavailable) and u.requested in named:
            flag = "--goroot" if u.requested in roots else source
            raise UserError(u.refusal(flag, f"{u.requested!r}" if u.requested in roots else None))


def _repaired(tc: toolchains.Toolchain) -> toolchains.Toolchain | toolchains.Unavailable:
    """A cached toolchain about to build a peer, checked first: one whose files changed since
    it was fetched is fetched again (a damaged tree builds a wrong peer, or none)."""
    from .peers.build import intact, peer_binary_path
    from .toolchains import cache
    if tc.provider == "goroot" or intact(peer_binary_path(tc)) or not cache.damaged(None, tc.version):
        return tc
    logging.getLogger("tlsdiff.progress").warning(
        "cached Go %s changed since it was fetched (a file edited or removed); fetching it again", tc.version)
    cache.forget(None, tc.version)
    again = toolchains.resolve(tc.version)
    return dataclasses.replace(again, requested=tc.requested) if isinstance(again, toolchains.Toolchain) else again


def pinned_releases(cases: Sequence[Case]) -> list[str]:
    """The releases the cases' endpoints are pinned to, oldest first."""
    return sorted({ep.pinned for c in cases for ep in c.endpoints.values() if ep.pinned}, key=lines.sort_key)


def prepare_pins(specs: Sequence[str], releases: Releases) -> dict[str, toolchains.Toolchain | toolchains.Unavailable]:
    """Resolve, fetch and build the pinned releases a run has not met yet, as the run's
    own: "1.21" is the newest 1.21 release a provider has, "1.21.13" exactly that. Each
    built peer's binary joins releases.binaries (a pinned release that is also a column
    shares its peer). One that cannot be had, or whose peer does not build, is
    Unavailable with the reason: its cases' runs are unsupported, not the run refused."""
    resolved = [toolchains.resolve(spec) for spec in specs]
    resolved = [_repaired(r) if isinstance(r, toolchains.Toolchain) else r for r in resolved]
    built = build_peers([r for r in resolved if isinstance(r, toolchains.Toolchain) and r.name not in releases.binaries])
    out: dict[str, toolchains.Toolchain | toolchains.Unavailable] = {}
    for spec, r in zip(specs, resolved):
        if isinstance(r, toolchains.Toolchain) and r.name not in releases.binaries:
            b = built.get(r.name)
            if isinstance(b, BuildFailure) or b is None:
                last = b.stderr.strip().splitlines()[-1] if isinstance(b, BuildFailure) and b.stderr.strip() else "no output"
                r = toolchains.Unavailable(spec, r.line, f"Go {r.name}: peer build failed: {last}")
            else:
                releases.binaries[r.name] = b
        out[spec] = r
    return out


def keys_for(case: Case, versions: Sequence[str]) -> list[ReleaseKey]:
    """The release keys a case runs on: each release, or each (a, b) pair for cross cases."""
    if case.pairing == Pairing.CROSS:
        return [(a, b) for a in versions for b in versions]
    return [(v,) for v in versions]


@dataclass
class RunResult:
    """What a run of cases gave: typed results, and what the report needs beside them."""

    results: list[CaseResult]
    releases: Releases
    capabilities: dict[str, dict[str, Any]]  # release -> the peer's hello (its preflight answer)
    seconds: float  # running the cases
    prepare_seconds: float  # resolving, fetching and building
    handshakes: int
    runs: list[CaseRun] = field(repr=False, default_factory=list)  # the raw observations
    started_at: str = ""  # when the cases started, ISO 8601 UTC (JUnit's timestamp)

    @property
    def counts(self) -> dict[str, int]:
        """Cases per verdict, and the number of cases."""
        counts = {"cases": len(self.results), **{str(v): 0 for v in Verdict}}
        for r in self.results:
            counts[str(r.verdict)] += 1
        return counts

    @property
    def ok(self) -> bool:
        """Every expectation held and no peer failed."""
        return not any(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in self.results)

    shard: dict[str, Any] | None = None  # {index, count, cases} for a shard of a run
    interrupted: bool = False  # stopped early: the results are of the runs that finished

    @property
    def timing(self) -> dict[str, Any]:
        per_run = {r.case.id: {key_text(k): round(s, 3) for k, s in r.seconds.items()} for r in self.results}
        return {"prepare_seconds": round(self.prepare_seconds, 3), "run_seconds": round(self.seconds, 3),
                "handshakes": self.handshakes, "runs": per_run}

    def report(self) -> dict[str, Any]:
        """The JSON report (docs/report-json.md)."""
        from .report import json_report
        pinned = json_report.pinned_rows(self.releases.pinned, self.capabilities)
        report = json_report.build(self.results, self.releases.rows, self.capabilities, self.timing, pinned)
        if self.shard is not None:
            report["shard"] = self.shard
        if self.interrupted:
            report["interrupted"] = True
        return report


class Run:
    """Cases on Go releases: prepare once, run as often as wanted, close.

    go: 'all', lines ('1.21,1.27') or exact releases ('1.24.11'); goroots: Go
    installations to use first; runner: 'local' (subprocesses), 'docker', or
    'external' (peers already running: `peers`, '1.27=127.0.0.1:7127,...', instead of go);
    timeout: seconds a connection may take before its peer is judged hung;
    workers: cases in flight at once in each run() call (run() calls may overlap: all
    their runs move on the reactor's one thread, peers/steps.py).
    """

    def __init__(self, go: str = "all", *, goroots: Sequence[Path] = (), runner: str = "local",
                 timeout: float = CONNECT_TIMEOUT_MS / 1000, workers: int = WORKERS, source: str = "--go",
                 peers: str | Sequence[Any] = ()) -> None:
        if runner not in RUNNERS:
            raise UserError(f"runner: {runner!r} is not allowed; expected one of: {', '.join(RUNNERS)}")
        from .peers import external
        self.peers = external.parse_peers(peers, "peers") if isinstance(peers, str) else list(peers)
        if runner == "external" and not self.peers:
            raise UserError(f"peers: none named; runner 'external' expects peers {external.EXPECTED}")
        if runner != "external" and self.peers:
            raise UserError(f"peers: go with runner 'external' (peers already running); runner is {runner!r}")
        if workers < 1:
            raise UserError(f"--workers: {workers} is not allowed; expected 1 or more")
        if not timeout > 0:
            raise UserError(f"--timeout: {timeout} is not allowed; expected seconds > 0")
        self.go, self.goroots, self.runner, self.source = go, list(goroots), runner, source
        self.timeout_ms, self.workers = int(timeout * 1000), workers
        self._releases: Releases | None = None
        self._pool: PeerPool | None = None
        self._normalizer = Normalizer()  # one worker for every run() call of this Run
        self._pin_lock = threading.Lock()  # the pytest plugin may meet pins from several threads
        self.prepare_seconds = 0.0

    # -- lifecycle ------------------------------------------------------------

    def prepare(self, cases: Sequence[Case] = ()) -> Releases:
        """Resolve, fetch and build the releases (once), and the releases these cases pin
        that the run has not met yet; UserError if no release is available."""
        if self._releases is None:
            started = time.monotonic()
            if self.runner == "external":
                from .peers.external import prepare_external
                self._releases = prepare_external(self.peers)
            else:
                self._releases = prepare_releases(self.go, source=self.source, goroots=self.goroots)
            self.prepare_seconds = time.monotonic() - started
        with self._pin_lock:
            new = [spec for spec in pinned_releases(cases) if spec not in self._releases.pinned]
            if new:
                started = time.monotonic()
                if self.runner == "external":
                    from .peers.external import pin_external
                    self._releases.pinned.update({spec: pin_external(spec, self._releases.available) for spec in new})
                else:
                    self._releases.pinned.update(prepare_pins(new, self._releases))
                self.prepare_seconds += time.monotonic() - started
        return self._releases

    @property
    def releases(self) -> Releases:
        return self.prepare()

    @property
    def pool(self) -> PeerPool:
        """The peers, one per release, started on first use."""
        if self._pool is None:
            releases = self.prepare()
            if self.runner == "docker":
                from .peers.docker import docker_pool
                self._pool = docker_pool(releases.available, releases.binaries)
            elif self.runner == "external":
                from .peers.external import external_pool
                self._pool = external_pool(releases.available)  # type: ignore[arg-type]
            else:
                from .peers.local import local_pool
                self._pool = local_pool(releases.binaries)
        return self._pool

    def close(self) -> None:
        self._normalizer.close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running --------------------------------------------------------------

    def keys(self, case: Case) -> list[ReleaseKey]:
        return keys_for(case, self.releases.versions)

    def run(self, cases: Sequence[Case], on_done: Callable[[CaseRun], None] | None = None,
            shard: Shard | None = None, stop: threading.Event | None = None,
            outcome_only: bool = False) -> RunResult:
        """Every case on every release key, `workers` at a time; results in case order.

        With a shard, only its share of the (case, key) runs (shards.py). Once `stop`
        is set no further run starts, and the result is of the runs that finished,
        marked interrupted. With outcome_only, each document holds only what the
        agreement classes read (the fuzzer's batches): no transcript, no ConnectionState
        field outside the class; the classes are the same, and a verdict judges no
        expectation (only failures and unsupported runs)."""
        self.prepare(cases)
        with collecting_less():
            return self._run(cases, on_done, shard, stop, outcome_only)

    def _run(self, cases: Sequence[Case], on_done: Callable[[CaseRun], None] | None,
             shard: Shard | None, stop: threading.Event | None, outcome_only: bool) -> RunResult:
        pool = self.pool
        order = [(c.id, k) for c in cases for k in self.keys(c)]
        taken = {job for i, job in enumerate(order) if shard is None or shard.takes(i)}

        def keys(case: Case) -> list[ReleaseKey]:
            return [k for k in self.keys(case) if (case.id, k) in taken]
        started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        started = time.monotonic()
        batch = self._normalizer.batch(len(taken), outcome_only)  # its worker normalizes while the cases run
        # A case is compared as soon as the worker has returned its runs' documents,
        # while later cases run, rather than every case in the run's single-threaded
        # tail (half a second of a default run).
        keys_of = {c.id: keys(c) for c in cases}
        runs_of: dict[str, dict[ReleaseKey, CaseRun]] = {c.id: {} for c in cases}
        ran: deque[Case] = deque()  # every run done, oldest first; not yet compared
        compared: dict[str, CaseResult] = {}

        def done(r: CaseRun) -> None:
            batch.submit(r)
            if on_done is not None:
                on_done(r)
            runs_of[r.case.id][r.key] = r
            if len(runs_of[r.case.id]) == len(keys_of[r.case.id]):
                ran.append(r.case)
            while ran:  # the worker returns documents in the order it was given runs
                case = ran[0]
                in_order = [runs_of[case.id][k] for k in keys_of[case.id]]
                docs = batch.returned(in_order)
                if docs is None:
                    break
                ran.popleft()
                compared[case.id] = compare_case(case, dict(zip(keys_of[case.id], docs)), outcome_only)
        runs = run_all(cases, keys, pool, workers=self.workers, on_done=done,
                       conn_timeout_ms=self.timeout_ms, stop=stop, pins=self.releases.pins)
        pool.flush_drops()  # the peers hold no object of these runs once run() returns
        rest = [r for r in runs if r.case.id not in compared]
        docs_of = {id(r): doc for r, doc in zip(rest, batch.normalize(rest))}
        by_case: dict[str, dict[ReleaseKey, dict[str, Any]]] = {}
        seconds: dict[str, dict[ReleaseKey, float]] = {}
        for r in runs:
            doc = compared[r.case.id].docs[r.key] if r.case.id in compared else docs_of[id(r)]
            by_case.setdefault(r.case.id, {})[r.key] = doc
            seconds.setdefault(r.case.id, {})[r.key] = r.seconds
        # A shard reports the cases it ran; the merge puts every case back together.
        interrupted = stop is not None and stop.is_set()
        results = [compared.get(c.id) or compare_case(c, by_case.get(c.id, {}), outcome_only) for c in cases
                   if (shard is None and not interrupted) or c.id in by_case]
        for result in results:
            result.seconds = seconds.get(result.case.id, {})
        handshakes = sum(1 for r in runs for s in r.steps if s.client is not None)
        names = self.releases.versions + [t.name for t in self.releases.pinned.values()
                                          if isinstance(t, toolchains.Toolchain) and t.name not in self.releases.versions]
        capabilities = {v: self._capabilities(v) for v in dict.fromkeys(names)}
        mark = None if shard is None else {"index": shard.index, "count": shard.count, "cases": case_set(cases)}
        return RunResult(results, self.releases, capabilities, time.monotonic() - started, self.prepare_seconds,
                         handshakes, runs, started_at, mark, interrupted)

    def run_one(self, case: Case, key: ReleaseKey) -> tuple[dict[str, Any], RunVerdict]:
        """One case on one release key: its observation document and verdict."""
        pins = self.prepare([case]).pins
        doc = normalize_run(run_case(case, key, self.pool, self.timeout_ms, pins))
        return doc, verdict_for(case, key, doc)

    def _capabilities(self, version: str) -> dict[str, Any]:
        try:
            hello = self.pool.get(version).hello
        except PeerFailure as exc:
            return {"error": str(exc)}
        return {"apis": hello.get("apis", {}), "connection_state_fields": hello.get("connection_state_fields", []),
                "misbehaviours": hello.get("misbehaviours", [])}
