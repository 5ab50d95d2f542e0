#!/usr/bin/env python3
"""Does a long fuzz campaign keep its memory flat and leave no process behind?

    python benchmarks/soak.py [--go all] [--minutes 60] [--every 60] [--seed 11] [--json PATH]

It runs the command a user runs, `tlsdiff fuzz --go SPEC --seed N --budget Mm --out DIR
--quiet` (as `python -m tlsdiff.cli`), and every --every seconds reads from /proc the
resident memory (VmRSS) of each of its processes, found by a tag in their environment
that all it starts inherit: the harness, its normalizer worker, tlspeerd and the Go
peers. Printed, never asserted:

- a line a sample: the minute, and each kind's memory in MB (the Go peers added up, with
  how many there are);
- each kind's growth in MB per 10 minutes over the first half of the samples and over the
  second: memory that fills caches and allocator arenas and then levels off grows less in
  the second half; a leak grows as much;
- the command's exit code and its summary line (stimuli, rate, findings);
- the processes left behind: every process still carrying the tag once the command has
  exited.

Linux only: it reads /proc.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tlsdiff import arguments, toolchains  # noqa: E402
from tlsdiff.errors import UserError  # noqa: E402

from tables import table  # noqa: E402  (benchmarks/tables.py)

#: The harness's own kinds of child process, told apart by their command lines.
KINDS = ("harness", "normalizer", "tlspeerd", "go peers")
#: Set in the command's environment, so that its processes can be found once it has exited.
TAG_VARIABLE = "TLSDIFF_SOAK"
#: Seconds the command may take past its budget (minimizing the findings, writing them,
#: ending the peers) before it is stopped and reported as hung.
GRACE_S = 600


@dataclass(frozen=True)
class Proc:
    pid: int
    kind: str
    argv: tuple[str, ...]


@dataclass
class Sample:
    seconds: float
    rss_kb: dict[str, int] = field(default_factory=dict)
    go_peers: int = 0


def _argv(pid: int) -> tuple[str, ...]:
    try:
        return tuple(a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a)
    except OSError:
        return ()


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def kind_of(argv: tuple[str, ...], is_root: bool) -> str:
    """Which of the campaign's processes this is, from its command line."""
    if is_root:
        return "harness"
    if "tlspeerd" in argv or any(a.endswith("tlspeerd") for a in argv):
        return "tlspeerd"
    if "tlsdiff.observe.parallel" in argv:
        return "normalizer"
    if argv and Path(argv[0]).name == "go-peer":
        return "go peers"
    return Path(argv[0]).name if argv else "?"


def tagged(tag: str, root: int) -> list[Proc]:
    """The live processes whose environment carries the campaign's tag: the command (root)
    and every process it started, which inherit it, wherever they were re-parented."""
    mark = f"{TAG_VARIABLE}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if mark in environ:
            argv = _argv(int(entry))
            found.append(Proc(int(entry), kind_of(argv, int(entry) == root), argv))
    return found


def sample(tag: str, root: int, seconds: float) -> Sample:
    s = Sample(seconds)
    for p in tagged(tag, root):
        rss = _rss_kb(p.pid)
        if rss is None:
            continue
        s.rss_kb[p.kind] = s.rss_kb.get(p.kind, 0) + rss
        s.go_peers += p.kind == "go peers"
    return s


def growth_per_10min(samples: list[Sample], kind: str) -> float | None:
    """MB per 10 minutes between the first and last of samples (None with fewer than two)."""
    have = [s for s in samples if kind in s.rss_kb]
    if len(have) < 2 or have[-1].seconds <= have[0].seconds:
        return None
    mb = (have[-1].rss_kb[kind] - have[0].rss_kb[kind]) / 1024
    return mb / ((have[-1].seconds - have[0].seconds) / 600)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/soak.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--go", default="all", help="releases, as for `tlsdiff fuzz --go` (default all)")
    ap.add_argument("--minutes", type=arguments.whole(1, 24 * 60), default=60,
                    help="the campaign's budget in minutes (default 60)")
    ap.add_argument("--every", type=arguments.whole(5, 3600), default=60, help="seconds between samples (default 60)")
    ap.add_argument("--seed", type=arguments.seed, default=11, help="the campaign's seed (default 11)")
    ap.add_argument("--json", type=Path, help="also save the figures here")
    args = ap.parse_args(argv)
    if args.json is not None and not args.json.parent.is_dir():
        ap.error(f"--json: {str(args.json)!r}: its folder does not exist")
    try:
        toolchains.parse_release_list(args.go)  # a bad --go is refused here, not an hour later
    except UserError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="tlsdiff-soak-"))
    out = work / "findings"
    cmd = [sys.executable, "-m", "tlsdiff.cli", "fuzz", "--go", args.go, "--seed", str(args.seed),
           "--budget", f"{args.minutes}m", "--out", str(out), "--quiet"]
    print(f"soak: tlsdiff {' '.join(cmd[3:])}, memory every {args.every} s", flush=True)
    started = time.monotonic()
    # Files, not pipes: nobody reads a pipe for the hour, and a full one would stall the command.
    with open(work / "stdout", "w") as stdout_file, open(work / "stderr", "w") as stderr_file:
        tag = f"{os.getpid()}-{time.time_ns()}"
        proc = subprocess.Popen(cmd, stdout=stdout_file, stderr=stderr_file, env={**os.environ, TAG_VARIABLE: tag})
    samples: list[Sample] = []
    deadline = started + args.minutes * 60 + GRACE_S
    while time.monotonic() < deadline:
        try:
            proc.wait(timeout=args.every)  # the first sample after one interval: the peers are up by then
            break
        except subprocess.TimeoutExpired:
            pass
        samples.append(sample(tag, proc.pid, time.monotonic() - started))
        s = samples[-1]
        print(f"  {s.seconds / 60:5.1f} min  " + "  ".join(f"{k} {s.rss_kb.get(k, 0) / 1024:.0f} MB" for k in KINDS)
              + f" ({s.go_peers} Go peers)", flush=True)
    hung = proc.poll() is None
    if hung:
        proc.kill()
        proc.wait()
    stdout, stderr = (work / "stdout").read_text(), (work / "stderr").read_text()
    time.sleep(2)  # the command has returned; its children get a moment to finish exiting
    left = tagged(tag, proc.pid)

    half = len(samples) // 2
    rows = [["process", "first MB", "last MB", "first half MB/10min", "second half MB/10min"]]
    figures: dict[str, object] = {"command": ["tlsdiff", *cmd[3:]], "exit_code": proc.returncode, "hung": hung,
                                  "samples": [{"seconds": round(s.seconds, 1), "rss_kb": s.rss_kb,
                                               "go_peers": s.go_peers} for s in samples]}
    growth = {}
    for kind in KINDS:
        first = next((s.rss_kb[kind] for s in samples if kind in s.rss_kb), None)
        last = next((s.rss_kb[kind] for s in reversed(samples) if kind in s.rss_kb), None)
        a, b = growth_per_10min(samples[:half + 1], kind), growth_per_10min(samples[half:], kind)
        growth[kind] = {"first_half_mb_per_10min": a, "second_half_mb_per_10min": b}
        rows.append([kind, "-" if first is None else f"{first / 1024:.0f}", "-" if last is None else f"{last / 1024:.0f}",
                     "-" if a is None else f"{a:+.1f}", "-" if b is None else f"{b:+.1f}"])
    print()
    print(table(rows, right={1, 2, 3, 4}))
    summary = next((ln for ln in reversed(stdout.splitlines()) if " stimuli on " in ln), "(no summary line)")
    print(f"\nexit code {proc.returncode}{' (killed: still running past its budget and grace)' if hung else ''}: {summary}")
    if proc.returncode and stderr.strip():
        print("stderr, last lines:\n" + "\n".join(stderr.strip().splitlines()[-5:]))
    print(f"findings, and the command's output: {work}")
    print(f"processes left behind: {len(left)}" + "".join(f"\n  {p.pid} {p.kind}: {' '.join(p.argv)[:200]}" for p in left))
    figures.update(growth=growth, summary=summary, left_behind=[{"pid": p.pid, "argv": list(p.argv)} for p in left])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        print(f"figures saved to {args.json}")
    return 2 if proc.returncode == 2 else 0  # the command refused its input: so does this


if __name__ == "__main__":
    sys.exit(main())
