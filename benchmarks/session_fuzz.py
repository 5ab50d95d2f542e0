#!/usr/bin/env python3
"""How many blobs a second does `tlsdiff ticket fuzz` judge, each by every 1.21+ release and the model?

    python benchmarks/session_fuzz.py [--go all] [--count N] [--batch N ...] [--json PATH]

Every figure comes from this one invocation and is printed, never asserted:

- the campaign: blobs per second for each --batch size (mutation, base64, JSON, every
  peer's parse_sessions, the model, grouping), the same loop `tlsdiff ticket fuzz` runs;
- where one batch's time goes, measured apart: making the mutations, encoding the
  request, each peer alone on the same request (its wall time, Go's JSON included),
  reading the answers, and the model on every release line;
- whether the campaign reaches the target (1,000 blobs a second on 2 cores).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tlsdiff import arguments, session_fuzz as sf  # noqa: E402
from tlsdiff.errors import UserError  # noqa: E402
from tlsdiff.peers.local import local_pool  # noqa: E402
from tlsdiff.peers.protocol import PeerError, PeerFailure, Unsupported  # noqa: E402
from tlsdiff.runs import prepare_releases  # noqa: E402

from tables import table  # benchmarks/tables.py (this folder is on sys.path when run)

TARGET_BLOBS_PER_SECOND = 1000.0
TARGET_CORES = 2


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers") from None
    if not sizes or any(not 1 <= s <= sf.MAX_BATCH for s in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: expected sizes from 1 to {sf.MAX_BATCH}")
    return sizes


def _stages(pool, releases: list[str], seeds: list[sf.Seed], known: frozenset[bytes], kind: str,  # type: ignore[no-untyped-def]
            size: int) -> dict[str, float]:
    """Seconds per blob of each stage of one batch of `kind`, each measured on its own."""
    rng = random.Random(1)
    pick = [s for s in seeds if s.kind == kind]
    t = time.perf_counter()
    blobs = [sf.mutate(rng, pick[rng.randrange(len(pick))]) for _ in range(size)]
    mutate = time.perf_counter() - t
    t = time.perf_counter()
    params: dict[str, Any] = {"kind": kind, "blobs": [base64.b64encode(b.data).decode() for b in blobs]}
    if kind == "ticket":
        params["keys"] = [k.hex() for k in sf.TICKET_KEYS]
    line = json.dumps({"id": 0, "op": "parse_sessions", "params": params}, separators=(",", ":"))
    encode = time.perf_counter() - t
    out = {"mutate": mutate / size, "encode request (once)": encode / size}
    answers = {}
    for r in releases:  # one peer at a time: its own cost, with the JSON both ways
        t = time.perf_counter()
        answers[r] = pool.get(r).call("parse_sessions", params, timeout=120)
        out[f"peer {r} alone"] = (time.perf_counter() - t) / size
    raw = json.dumps(answers[releases[-1]])
    t = time.perf_counter()
    json.loads(raw)
    out["decode one answer"] = (time.perf_counter() - t) / size
    t = time.perf_counter()
    for b in blobs:
        sf.model_outcomes(kind, b.data, releases, known)
    out["model (every line)"] = (time.perf_counter() - t) / size
    out["request bytes"] = len(line) / size
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--go", default="all", help="releases (default all; those before 1.21 are left out)")
    p.add_argument("--count", type=arguments.whole(1, sf.MAX_COUNT), default=20000, help="blobs per campaign (default 20000)")
    p.add_argument("--batch", type=_batch_sizes, default=[100, 500, 2000], help="batch sizes to try (default 100,500,2000)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()

    prepared = prepare_releases(args.go)
    pool = local_pool(prepared.binaries)
    try:
        releases, unable = sf.fuzzable(pool, prepared.versions)
        if not releases:
            raise UserError("--go: no available release has a session parser (Go 1.21 or newer)")
        t = time.perf_counter()
        seeds = sf.collect_seeds(pool, releases)
        seed_seconds = time.perf_counter() - t
        known = sf.known_certificates(seeds)
        sf.run_campaign(pool, releases, seeds, seed=0, count=min(args.count, 1000))  # warm up the peers
        campaigns = []
        for size in args.batch:
            c = sf.run_campaign(pool, releases, seeds, seed=1, count=args.count, batch=size)
            campaigns.append((size, c))
        stages = {kind: _stages(pool, releases, seeds, known, kind, 500) for kind in sf.KINDS}
    finally:
        pool.close()

    cores = os.cpu_count() or 0
    best_size, best = max(campaigns, key=lambda sc: sc[1].blobs / sc[1].seconds)
    best_rate = best.blobs / best.seconds
    print()
    print(f"machine: {cores} cores, Python {platform.python_version()}, Go {', '.join(releases)}"
          + (f"; left out: {', '.join(unable)}" if unable else ""))
    print(f"seeds: {len(seeds)} from the peers in {seed_seconds:.2f} s; {len(known)} distinct certificates in them")
    print()
    rows = [["batch", "blobs", "seconds", "blobs/s", "release groups", "model disagreements"]]
    for size, c in campaigns:
        rows.append([str(size), str(c.blobs), f"{c.seconds:.2f}", f"{c.blobs / c.seconds:.0f}",
                     str(sum(f.what == 'releases' for f in c.findings.values())), str(c.model_disagreements)])
    print(f"campaign: each blob judged by {len(releases)} releases and the model (session and ticket blobs mixed)")
    print(table(rows, right={0, 1, 2, 3, 4, 5}))
    print()
    print("one batch of 500, stage by stage (microseconds per blob; peers one at a time)")
    names = list(stages["session"])
    rows = [["stage", "session", "ticket"]]
    for n in names:
        unit = 1 if n == "request bytes" else 1e6
        rows.append([n, f"{stages['session'][n] * unit:.1f}", f"{stages['ticket'][n] * unit:.1f}"])
    print(table(rows, right={1, 2}))
    print()
    meets = best_rate >= TARGET_BLOBS_PER_SECOND
    note = "" if cores == TARGET_CORES else f"; measured on {cores} cores"
    print(f"target {TARGET_BLOBS_PER_SECOND:.0f} blobs/s on {TARGET_CORES} cores: {'yes' if meets else 'no'} "
          f"(best {best_rate:.0f} blobs/s with batches of {best_size}{note})")
    if args.json:
        args.json.write_text(json.dumps({
            "releases": releases, "cores": cores, "seeds": len(seeds), "seed_seconds": seed_seconds,
            "campaigns": [{"batch": s, "blobs": c.blobs, "seconds": c.seconds, "blobs_per_second": c.blobs / c.seconds,
                           "model_disagreements": c.model_disagreements} for s, c in campaigns],
            "stages_seconds_per_blob": stages, "target_met": meets}, indent=1, sort_keys=True) + "\n")
        print(f"figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (UserError, PeerFailure, PeerError, Unsupported) as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
