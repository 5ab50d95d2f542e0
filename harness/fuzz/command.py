"""`tlsdiff fuzz`: its flags, the checks of its input, and what it prints.

Exit codes: 0 the campaign ran (findings are facts about the releases, not failures),
1 a Go peer panicked, crashed or hung on some stimulus (a `peer-failure` finding), or
with --replay the finding no longer holds; 2 bad input (one line, before any peer
starts); 130 interrupted (what was found is written first).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from .. import toolchains
from ..errors import UserError
from ..paths import CASES_DIR
from . import findings as fnd
from .campaign import DEFAULT_BATCH, Campaign, remove_previous
from .outcome import Known, Outcome, partition_text

MAX_COUNT = 10_000_000
MAX_BATCH = 1000
MAX_BUDGET_S = 7 * 86400
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_WORKERS = 32


_DURATION = re.compile(r"^([0-9]{1,9})(s|m|h|d)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def duration(text: str) -> float:
    """An argparse type: 90s, 10m, 1h, 2d or plain seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a duration; expected e.g. 90s, 10m, 1h")
    seconds = int(m.group(1)) * _UNIT[m.group(2)]
    if not 1 <= seconds <= MAX_BUDGET_S:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not allowed; expected 1s to 7d")
    return float(seconds)


def add_arguments(p: Any) -> None:
    from .. import arguments
    p.add_argument("--go", default="all", help="releases to compare: 'all', '1.19,1.21,1.27' (default all)")
    p.add_argument("--seed", type=arguments.seed, default=0,
                   help="the random seed: the same seed makes the same stimuli (default 0)")
    p.add_argument("--budget", type=duration, metavar="DURATION",
                   help="fuzz this long: 90s, 10m, 1h (minimizing a finding under way and writing the files "
                        "come after)")
    p.add_argument("--count", type=arguments.whole(1, MAX_COUNT), metavar="N",
                   help="fuzz this many stimuli (with --budget: whichever comes first)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write each finding here as a case file, and "
                                                           "findings.json")
    p.add_argument("--cases", action="append", type=arguments.folder, default=[], metavar="DIR",
                   help="a folder of cases whose partitions are known, beside tlsdiff's own (repeatable)")
    p.add_argument("--no-default-cases", action="store_true",
                   help="leave tlsdiff's own cases out of the known partitions")
    p.add_argument("--known", type=Path, metavar="REPORT.json",
                   help="the known partitions from a JSON report of a run on the same releases "
                        "(tlsdiff run --json), instead of running the cases")
    p.add_argument("--replay", type=Path, metavar="FILE.yaml",
                   help="run one finding's case file on the releases and say whether it still holds")
    p.add_argument("--batch", type=arguments.whole(1, MAX_BATCH), default=DEFAULT_BATCH,
                   help=f"stimuli given to the peers at once (default {DEFAULT_BATCH})")
    p.add_argument("--workers", type=arguments.workers, default=DEFAULT_WORKERS,
                   help=f"runs in flight at once (default {DEFAULT_WORKERS}): runs waiting out a stalled "
                   "handshake leave the others the cores")
    p.add_argument("--timeout", type=arguments.seconds, default=DEFAULT_TIMEOUT_S,
                   help=f"seconds a connection may take (default {DEFAULT_TIMEOUT_S:g}: a stalled handshake "
                        "costs this much)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines, only the findings and summary")


def _check_out(out: Path) -> None:
    if not str(out).strip():
        raise UserError("--out: an empty folder name; expected a folder for the findings")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {str(out)!r} is not a folder; expected a folder for the findings")
    if out.is_dir():
        ours = {fnd.FINDINGS_FILE}
        try:
            previous = json.loads((out / fnd.FINDINGS_FILE).read_text())
            ours |= {f["file"] for f in previous.get("findings", []) if isinstance(f.get("file"), str)}
        except (OSError, ValueError, AttributeError, TypeError):
            pass
        others = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if others:
            raise UserError(f"--out: {str(out)!r} holds {others[0]!r}, which no earlier tlsdiff fuzz wrote; "
                            "expected a new or empty folder, or one of an earlier campaign")
    parent = out if out.is_dir() else next((p for p in out.absolute().parents if p.exists()), Path("/"))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out: {str(out)!r} cannot be written here (no write permission in {str(parent)!r})")


def _check(args: argparse.Namespace) -> None:
    """Every flag checked before any work: one line naming the flag, the value, what was expected."""
    if args.replay is not None:
        for flag, value in (("--out", args.out), ("--budget", args.budget), ("--count", args.count),
                            ("--known", args.known)):
            if value is not None:
                raise UserError(f"{flag}: not with --replay (a replay runs one case file, writes nothing)")
        if not args.replay.is_file():
            raise UserError(f"--replay: {str(args.replay)!r} is not a file; expected a finding's case file")
    else:
        if args.out is None:
            raise UserError("--out: missing; expected a folder for the findings (or --replay FILE.yaml)")
        if args.budget is None and args.count is None:
            raise UserError("--budget: missing; expected --budget DURATION (90s, 10m, 1h) or --count N, or both")
        _check_out(args.out)
        if args.known is not None:
            if args.cases or args.no_default_cases:
                raise UserError("--known: not with --cases or --no-default-cases (the report gives the known "
                                "partitions)")
            if not args.known.is_file():
                raise UserError(f"--known: {str(args.known)!r} is not a file; expected a JSON report "
                                "(tlsdiff run --json)")
    requested = toolchains.parse_release_list(args.go)
    if len(requested) < 2:
        raise UserError(f"--go: {args.go!r} names one release; expected two or more to compare")


def _known_cases(args: argparse.Namespace) -> list:
    from ..scenario.catalog import case_folders, discover
    folders = case_folders(args.cases, default=None if args.no_default_cases else CASES_DIR)
    return discover([], folders) if folders else []


def cli(args: argparse.Namespace) -> int:
    from ..children import Interrupts
    from ..paths import check_cache
    from ..runs import Run
    _check(args)
    check_cache()
    report = None
    if args.known is not None:
        try:
            report = json.loads(args.known.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"--known: {str(args.known)!r} cannot be read as JSON: {exc}") from None
    known_cases = _known_cases(args) if args.replay is None and report is None else []
    replay = _load_replay(args.replay) if args.replay is not None else None
    say = (lambda text: None) if args.quiet else (lambda text: print(f"tlsdiff: fuzz: {text}", file=sys.stderr,
                                                                       flush=True))
    interrupts = Interrupts()
    interrupts.install()
    run = Run(args.go, timeout=args.timeout, workers=args.workers)
    with run:
        releases = run.prepare()
        for u in releases.unavailable:
            print(f"tlsdiff: Go {u.requested}: unavailable, left out: {u.reason_alone}", file=sys.stderr)
        if len(releases.versions) < 2:
            raise UserError(f"--go: {args.go!r}: {len(releases.versions)} release can be had; expected two or more "
                            "to compare")
        interrupts.running = True
        if replay is not None:
            return _replay(run, args.replay, replay)
        started = time.monotonic()
        if report is not None:
            known = Known.of_report(args.known, releases.versions)
        else:
            known = Known.of_results(run.run(known_cases, stop=interrupts.stop, outcome_only=True).results)
        say(f"known: {len(known.signatures)} signatures from {known.cases} cases ({time.monotonic() - started:.1f} s)")
        campaign = Campaign(run, known, args.seed, count=args.count, budget=args.budget, batch=args.batch,
                            stop=interrupts.stop, say=say)
        campaign.fuzz()
        remove_previous(args.out)
        written = campaign.write(args.out)
        summary = fnd.Summary(args.seed, _release_rows(run), {**campaign.stats.to_json(), "findings": len(written),
                                                               "by_kind": _by_kind(written)},
                              campaign.python_examples, _timing(campaign), interrupts.stop.is_set())
        (args.out / fnd.FINDINGS_FILE).write_text(fnd.findings_json(summary, written))
    for f in written:
        print(f"{f.kind_text():<20} {partition_text(f.partition)}  x{f.count}  {f.file}{f.hint('  ')}")
        if f.landings:
            print(f"{'':<12} {f.caveat()}")
    s = campaign.stats
    findings = f"{len(written)} finding{'s' if len(written) != 1 else ''}"
    print(f"{s.stimuli} stimuli on {len(releases.versions)} releases in {s.seconds:.0f} s "
          f"({s.stimuli / s.seconds if s.seconds else 0:.1f}/s, {s.handshakes / s.seconds if s.seconds else 0:.0f} "
          f"handshakes/s): {findings} in {args.out} ({s.unstable} unstable, {s.python_errors} stimuli "
          "the Python peer could not play)")
    if interrupts.stop.is_set():
        return 130
    return 1 if any(f.kind == "peer-failure" for f in written) else 0


def _release_rows(run: Any) -> list[dict[str, Any]]:
    rows = []
    for t in run.releases.available:
        hello = run.pool.get(t.name).call("hello", {"binary_sha256": True})
        rows.append({"name": t.name, "version": t.version, "provider": t.provider, "digest": t.digest,
                     **({"binary_sha256": hello["binary_sha256"]} if hello.get("binary_sha256") else {})})
    return rows


def _by_kind(written: list[fnd.Finding]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in written:
        out[f.kind] = out.get(f.kind, 0) + 1
    return out


def _timing(c: Campaign) -> dict[str, Any]:
    s = c.stats
    return {"seconds": round(s.seconds, 1), "stimuli_per_second": round(s.stimuli / s.seconds, 2) if s.seconds else 0,
            "handshakes_per_second": round(s.handshakes / s.seconds, 1) if s.seconds else 0}


# ---------------------------------------------------------------- replay


def _load_replay(path: Path) -> Any:
    from ..scenario.catalog import load_case
    return load_case(path, path.absolute().parent)


def _recorded(path: Path) -> dict[str, Any] | None:
    """The finding findings.json beside the file records for it, if any."""
    try:
        doc = json.loads((path.parent / fnd.FINDINGS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return next((f for f in doc.get("findings", []) if f.get("file") == path.name), None)


def _replay(run: Any, path: Path, case: Any) -> int:
    from ..compare import Verdict
    result = run.run([case]).results[0]
    outcome = Outcome.of(result.docs, result.classes)
    for key, letter in result.classes.items():
        v = result.verdicts[key]
        print(f"{key[0]:<12} {letter}  {v.verdict}" + (f": {v.failures()[0]}" if v.failures() else ""))
    print(f"classes: {partition_text(outcome.partition)}")
    passed = result.verdict in (Verdict.PASS, Verdict.UNSUPPORTED)
    recorded = _recorded(path)
    holds = True
    if recorded is not None:
        signature = (recorded["kind"], tuple(tuple(g) for g in recorded["partition"]))
        holds = signature in outcome.signatures()
        print(f"recorded: {recorded['kind']}: {partition_text(signature[1])}: {'holds' if holds else 'no longer holds'}")
    print(f"{path}: {'passes' if passed else 'fails'}")
    return 0 if passed and holds else 1
