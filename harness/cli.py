"""The tlsdiff command line. Exit codes: 0 every expectation held, 1 some failed
or a peer failed, 2 the input was wrong (one line on stderr, no traceback)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from . import toolchains
from .errors import UserError
from .paths import CASES_DIR
from .runs import RUNNERS

DEFAULT_RELEASES = "all"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every bad input
        raise UserError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tlsdiff", description="Differential interop tests for Go's crypto/tls across Go releases.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("toolchains", help="show each Go release: exact version, provider, cache path or why unavailable")
    t.add_argument("--go", default=DEFAULT_RELEASES, help="releases: 'all', '1.21,1.27', '1.24.11' (default all)")
    t.add_argument("--goroot", action="append", default=[], help="a Go installation to use first (repeatable)")
    t.add_argument("--no-fetch", action="store_true", help="use only cached toolchains; download nothing")

    r = sub.add_parser("run", help="run cases on Go releases and compare")
    r.add_argument("selectors", nargs="*", help="case ids or folders under cases/ ('resumption/', 'binder/foo')")
    r.add_argument("--go", default=os.environ.get("TLSDIFF_GO", DEFAULT_RELEASES), help="releases (default all)")
    r.add_argument("--goroot", action="append", default=[], help="a Go installation to use first (repeatable)")
    r.add_argument("--cases", type=Path, default=CASES_DIR, help="the cases folder (default: the repository's cases/)")
    r.add_argument("--list", action="store_true", help="list what would run; start no peer")
    r.add_argument("--json", type=Path, help="write the JSON report here")
    r.add_argument("--junit", type=Path, help="write JUnit XML here")
    r.add_argument("--runner", choices=list(RUNNERS), default="local", help="how peers run (default local)")
    r.add_argument("--workers", type=int, default=4, help="cases in flight at once (default 4)")
    r.add_argument("--timeout", type=float, default=5.0, help="seconds a connection may take before the peer is judged hung")
    r.add_argument("--quiet", "-q", action="store_true", help="no matrix, only the summary line")
    r.add_argument("--diff", action="store_true",
                   help="after the matrix, what the releases disagree on, value by value")
    d = sub.add_parser("diff", help="what changed between two JSON reports (exit 1 if anything did)")
    d.add_argument("old", type=Path, help="the earlier report (tlsdiff run --json)")
    d.add_argument("new", type=Path, help="the later report")
    return p


def cmd_diff(args: argparse.Namespace) -> int:
    from .report import diff
    lines = diff.changes(diff.load(args.old), diff.load(args.new))
    diff.render(lines, sys.stdout)
    return 1 if lines else 0


def cmd_toolchains(args: argparse.Namespace) -> int:
    requested = toolchains.parse_release_list(args.go)
    results = toolchains.resolve_many(requested, goroots=[Path(g) for g in args.goroot] or None, fetch=not args.no_fetch)
    print(f"{'line':<6} {'release':<9} {'provider':<8} GOROOT or why unavailable")
    for row in toolchains.describe(results):
        if row["status"] == "ok":
            note = f"  ({row['note']})" if row["note"] else ""
            print(f"{row['line']:<6} {row['version']:<9} {row['provider']:<8} {row['goroot']}{note}")
        else:
            print(f"{row['line']:<6} {'-':<9} {'-':<8} unavailable: {row['reason']}")
    return 0 if any(isinstance(r, toolchains.Toolchain) for r in results) else 2


def cmd_run(args: argparse.Namespace) -> int:
    from .report import json_report, junit, terminal
    from .runs import Run
    from .scenario.load import discover

    cases = discover(args.selectors, args.cases)
    run = Run(args.go, goroots=[Path(g) for g in args.goroot], runner=args.runner, timeout=args.timeout,
              workers=args.workers)
    if args.list:
        requested = toolchains.parse_release_list(args.go)
        print(f"{len(cases)} cases x releases {', '.join(requested)}")
        for c in cases:
            print(f"{c.id:<48} {c.pairing:<5} {c.description}")
        return 0

    with run:
        total = sum(len(run.keys(c)) for c in cases)
        progress = terminal.Progress(total)
        try:
            result = run.run(cases, on_done=lambda case_run: progress.step(case_run.case.id))
        finally:
            progress.finish()
    if args.json:
        json_report.write(args.json, result.report())
    if args.junit:
        junit.write(args.junit, result.results, result.seconds)
    if not args.quiet:
        terminal.render(result.results, result.releases.rows)
        if args.diff:
            terminal.render_differences(result.results)
    print(f"\n{terminal.summary_line(result.counts)} ({len(cases)} cases, {total} runs, {result.handshakes} "
          f"connections, {result.seconds:.1f} s)")
    return 0 if result.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return {"toolchains": cmd_toolchains, "run": cmd_run, "diff": cmd_diff}[args.command](args)
    except UserError as exc:
        print(f"tlsdiff: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tlsdiff: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
