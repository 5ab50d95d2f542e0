"""The tlsdiff command line. Exit codes: 0 every expectation held, 1 some failed
or a peer failed, 2 the input was wrong (one line on stderr, no traceback, before
any work), 130 interrupted."""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from . import arguments, children, early, toolchains
from .collection import collect_less, no_collection_at_exit
from .errors import UserError
from .execute import WORKERS
from .memory import trim_periodically
from .paths import CASES_DIR
from .runs import RUNNERS
from .shards import parse_shard

DEFAULT_RELEASES = "all"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every bad input
        where = self.prog.removeprefix("tlsdiff").strip()
        raise UserError(f"{where}: {message}" if where else message)


def version_text() -> str:
    """tlsdiff's version and the hash of the go-peer source it builds."""
    from .report.json_report import provenance
    made_by = provenance()
    return f"tlsdiff {made_by['version']} (go-peer {made_by['go_peer']})"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tlsdiff", description="Differential interop tests for Go's crypto/tls across Go releases.")
    p.add_argument("--version", action="store_true", help="print the version and the go-peer source hash")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("toolchains", help="show each Go release: exact version, provider, cache path or why unavailable")
    t.add_argument("--go", default=DEFAULT_RELEASES, help="releases: 'all', '1.21,1.27', '1.24.11' (default all)")
    t.add_argument("--goroot", action="append", default=[], help="a Go installation to use first (repeatable)")
    t.add_argument("--no-fetch", action="store_true", help="use only cached toolchains; download nothing")

    im = sub.add_parser("images", help="build each release's FROM scratch peer image and tag it "
                                       "tlsdiff-go-peer:<release>, the name docker-compose.yml runs")
    im.add_argument("--go", default=DEFAULT_RELEASES, help="releases: 'all', '1.21,1.27', '1.24.11' (default all)")

    r = sub.add_parser("run", help="run cases on Go releases and compare")
    r.add_argument("selectors", nargs="*", help="case ids, folders or files ('resumption/', 'binder/foo', ./mine)")
    r.add_argument("--go", help="releases: 'all', '1.21,1.27', '1.24.11' (default: all, or none when --goroot "
                                "is given; $TLSDIFF_GO)")
    r.add_argument("--goroot", action="append", default=[],
                   help="a Go installation (a release, an edited copy, a devel build): a column of its own (repeatable)")
    r.add_argument("--cases", action="append", type=arguments.folder, default=[], metavar="DIR",
                   help="a folder of your own cases, added to tlsdiff's (repeatable)")
    r.add_argument("--no-default-cases", action="store_true", help="leave out tlsdiff's own cases")
    r.add_argument("-k", dest="keywords", action="append", default=[], metavar="TEXT",
                   help="only cases whose id contains TEXT (repeatable: any of them)")
    r.add_argument("--tag", dest="tags", action="append", default=[], help="only cases with this tag (repeatable: any)")
    r.add_argument("--list", action="store_true", help="list what would run; start no peer")
    r.add_argument("--json", metavar="FILE", help="write the JSON report here ('-': standard output)")
    r.add_argument("--junit", metavar="FILE", help="write JUnit XML here ('-': standard output)")
    r.add_argument("--markdown", metavar="FILE", help="write a Markdown report here ('-': standard output)")
    r.add_argument("--github", metavar="FILE", help="write GitHub Actions error annotations here ('-': standard output)")
    r.add_argument("--html", metavar="FILE", help="write a self-contained HTML report here ('-': standard output)")
    r.add_argument("--capture", metavar="DIR", help="write each connection as a pcapng (key log inside) and a "
                                                  ".keys file in DIR, made if missing")
    r.add_argument("--runner", choices=list(RUNNERS), default="local",
                   help="how peers run: local processes, docker containers, or external: peers already running "
                        "(--peers) (default local)")
    r.add_argument("--peers", metavar="NAME=HOST:PORT,...",
                   help="with --runner external: the running go-peers (go-peer -listen ADDR) by release, e.g. "
                        "1.19=127.0.0.1:7119,1.27=127.0.0.1:7127 (default $TLSDIFF_PEERS)")
    r.add_argument("--workers", type=arguments.workers, default=WORKERS,
                   help=f"cases in flight at once (default {WORKERS})")
    r.add_argument("--timeout", type=arguments.seconds, default=5.0,
                   help="seconds a connection may take before the peer is judged hung (default 5)")
    r.add_argument("--quiet", "-q", action="store_true", help="no matrix, only the summary line")
    r.add_argument("--verbose", "-v", action="store_true", help="a line per finished run, and more detail")
    r.add_argument("--diff", action="store_true",
                   help="after the matrix, what the releases disagree on: each path that differs, values whole "
                        "(with -v, transcripts too)")
    r.add_argument("--baseline", metavar="OLD.json", type=Path,
                   help="a JSON report of an earlier run: print only what changed since (as tlsdiff diff); "
                        "exit 1 when something did")
    r.add_argument("--expected-failures", metavar="FILE", type=Path,
                   help="a YAML list of case, releases, reason: failures it covers are reported as expected "
                        "(xfail) and pass; an entry that covers no failure any more fails the run")
    r.add_argument("--update", action="store_true",
                   help="show, as a diff of each case file, the failed expectations rewritten to what the "
                        "releases observed (split by release range where they differ)")
    r.add_argument("--write", action="store_true", help="with --update: write those case files (-q: without the diff)")
    r.add_argument("--model", action="store_true",
                   help="judge every server resumption decision against the Python model of Go "
                        "(gomodel.resumption); a disagreement fails the run")
    r.add_argument("--shard", metavar="K/N", help="run only shard K of N of the (case, release) runs; merge the "
                                                  "shards' JSON reports with 'tlsdiff merge'")

    m = sub.add_parser("merge", help="merge the JSON reports of 'run --shard K/N' into the whole run's reports")
    m.add_argument("reports", nargs="+", type=Path, help="the shards' JSON reports, every shard once")
    m.add_argument("--json", metavar="FILE", help="write the merged JSON report here ('-': standard output)")
    m.add_argument("--junit", metavar="FILE", help="write JUnit XML here ('-': standard output)")
    m.add_argument("--markdown", metavar="FILE", help="write a Markdown report here ('-': standard output)")
    m.add_argument("--github", metavar="FILE", help="write GitHub Actions error annotations here ('-': standard output)")
    m.add_argument("--html", metavar="FILE", help="write a self-contained HTML report here ('-': standard output)")
    m.add_argument("--quiet", "-q", action="store_true", help="no matrix, only the summary line")

    c = sub.add_parser("compat", help="which tickets and persisted sessions survive a change of Go release, and why")
    c.add_argument("--go", default=DEFAULT_RELEASES, help="releases to pair: 'all', '1.24,1.25' (default all)")
    c.add_argument("--goroot", action="append", default=[], help="a Go installation to pair too (repeatable)")
    c.add_argument("--tls", default="1.2,1.3", help="TLS versions: '1.2', '1.3' or '1.2,1.3' (default both)")
    c.add_argument("--json", metavar="FILE", help="write the cells as JSON here ('-': standard output)")
    c.add_argument("--markdown", metavar="FILE", help="write the grids as Markdown here ('-': standard output)")
    c.add_argument("--quiet", "-q", action="store_true", help="no grids on the terminal")

    x = sub.add_parser("explain", help="why two releases observed different things: the crypto/tls source "
                                       "lines that produce each difference, and their diff")
    x.add_argument("case", help="one case: an id (binder/tls13-altered-secret) or a case file")
    x.add_argument("--go", default="", help="the two releases to compare, e.g. '1.25.5,1.26.0' (with --goroot: "
                                            "one, or none beside two Go roots)")
    x.add_argument("--goroot", action="append", default=[], help="a Go installation to compare (repeatable)")
    x.add_argument("--cases", action="append", default=[], type=Path, metavar="DIR",
                   help="a folder of your own cases (repeatable)")

    tk = sub.add_parser("ticket", help="Go session tickets: open one as a release's server would")
    tks = tk.add_subparsers(dest="ticket_command", required=True, parser_class=_Parser)
    ti = tks.add_parser("inspect", help="the session in a ticket as JSON, or why a release's server would not open it")
    ti.add_argument("ticket", help="the ticket: hex, base64, or @FILE with its raw bytes")
    ti.add_argument("--key", action="append", type=Path, required=True, metavar="FILE",
                    help="a 32-byte session ticket key file (raw or 64 hex digits); repeat for several, first seals")
    ti.add_argument("--go", required=True, help="the release of the server that reads it: 1.19 ... or 1.24.11")
    tm = tks.add_parser("mint", help="a server ticket a release's server resumes, for a session you describe")
    tm.add_argument("--key", action="append", type=Path, required=True, metavar="FILE",
                    help="the 32-byte session ticket key file; the first seals")
    tm.add_argument("--go", required=True, help="the release of the server that will read it")
    tm.add_argument("--tls", choices=["1.2", "1.3"], default="1.3", help="the session's TLS version (default 1.3)")
    tm.add_argument("--suite", help="the session's cipher suite (Go name; default TLS_AES_128_GCM_SHA256 for TLS "
                                    "1.3, named for TLS 1.2: it follows the server's certificate)")
    tm.add_argument("--secret", required=True, help="hex: TLS 1.3 the PSK (1.21+) or resumption master secret "
                                                    "(1.19/1.20); TLS 1.2 the master secret")
    tm.add_argument("--created-at", type=int, required=True, help="Unix seconds the session was made (the server "
                                                                  "refuses one older than 7 days)")
    tm.add_argument("--curve", help="the ECDHE group of a TLS 1.2 session, for 1.25+")
    tm.add_argument("--no-ems", dest="ems", action="store_false",
                    help="a TLS 1.2 session made without extended master secret (1.21+ record it; a Go client from "
                         "1.21 offers it, and a 1.21+ server resumes a session only as it was made)")
    tc = tks.add_parser("convert", help="the ticket another release's server would have sealed for the same session")
    tc.add_argument("ticket", help="the ticket: hex, base64, or @FILE with its raw bytes")
    tc.add_argument("--key", action="append", type=Path, required=True, metavar="FILE",
                    help="the 32-byte session ticket key file(s); the first seals the new ticket")
    tc.add_argument("--from", dest="source", required=True, help="the release whose server sealed it")
    tc.add_argument("--to", dest="target", required=True, help="the release (1.21 or newer) to seal it for")
    tc.add_argument("--curve", help="the ECDHE group of a TLS 1.2 session, for 1.25+ (which record it)")
    from .session_fuzz import add_arguments as add_fuzz_arguments
    add_fuzz_arguments(tks.add_parser("fuzz", help="fuzz the session parsers of every 1.21+ release against each "
                                                   "other and the model; --replay judges saved findings again"))

    from .fuzz.command import add_arguments as add_handshake_fuzz_arguments
    add_handshake_fuzz_arguments(sub.add_parser(
        "fuzz", help="fuzz the handshake: the Python peer misbehaves at random, every release answers; partitions "
                     "of the releases no case shows become minimized case files"))

    d = sub.add_parser("diff", help="what changed between two JSON reports (exit 1 if anything did)")
    d.add_argument("old", type=Path, help="the earlier report (tlsdiff run --json)")
    d.add_argument("new", type=Path, help="the later report")

    b = sub.add_parser("bisect", help="the first release of a range whose observation of a case differs from "
                                      "the range's start (binary search; fetches only what it visits)")
    b.add_argument("case", help="one case: an id (bugs/cve-2025-58189-alpn-error-quoted) or a case file")
    b.add_argument("--go", help="the range, in release order: FIRST..LAST, e.g. 1.26.0..1.26.6")
    b.add_argument("--goroot", action="append", default=[],
                   help="instead of --go: Go roots to search, in the order given (repeat, two or more)")
    b.add_argument("--fields", help="compare these observed fields, e.g. error,state.DidResume (default: the "
                                    "outcome fields of the agreement class)")
    b.add_argument("--cases", action="append", default=[], type=Path, metavar="DIR",
                   help="a folder of your own cases (repeatable)")
    b.add_argument("--timeout", type=arguments.seconds, default=5.0, help="seconds a connection may take (default 5)")

    rp = sub.add_parser("repro", help="run a case file written from a bug report on every release: what each did, "
                                      "which agree, the expectations' verdicts")
    rp.add_argument("file", help="the case file (FILE.yaml), anywhere on disk, or the id of a case tlsdiff ships")
    rp.add_argument("--go", help="releases: 'all', '1.21,1.27', '1.24.11' (default all; $TLSDIFF_GO)")
    rp.add_argument("--goroot", action="append", default=[], help="a Go installation: a column of its own (repeatable)")
    rp.add_argument("--timeout", type=arguments.seconds, default=5.0, help="seconds a connection may take (default 5)")
    return p


def cmd_diff(args: argparse.Namespace) -> int:
    from .report import diff
    lines = diff.changes(diff.load(args.old), diff.load(args.new))
    diff.render(lines, sys.stdout)
    return 1 if lines else 0


def _one_case_of_same_pairing(args: argparse.Namespace, command: str) -> Any:
    """The one case args.case names (an id or a file), which must compare releases side by side."""
    from .scenario.catalog import case_folders, discover
    from .scenario.model import Pairing
    cases = discover([args.case], case_folders(args.cases, default=CASES_DIR))
    if len(cases) != 1:
        raise UserError(f"case {args.case!r}: names {len(cases)} cases; expected exactly one")
    if cases[0].pairing != Pairing.SAME:
        raise UserError(f"case {cases[0].id!r}: a pairing: cross case; {command} compares releases of a "
                        "pairing: same case")
    return cases[0]


def _shown_case(args: argparse.Namespace, case: Any) -> str:
    """The case as the user named it: a file by its path (a loose file's id is no selector
    they could give back), else its id."""
    return args.case if Path(args.case).is_file() else case.id


def cmd_explain(args: argparse.Namespace) -> int:
    from . import explain, progress
    from .runs import Run
    case = _one_case_of_same_pairing(args, "explain")
    if ".." in args.go:
        first, _, last = args.go.partition("..")
        raise UserError(f"--go: {args.go!r} is a range; explain compares two releases: --go {first},{last} "
                        "(bisect searches a range)")
    named = toolchains.parse_release_list(args.go) if args.go.strip() else []
    if len(named) + len(args.goroot) != 2:
        raise UserError(f"--go: {args.go!r} with {len(args.goroot)} --goroot; expected two releases to compare "
                        "(--go A,B, or --go A --goroot DIR, or --goroot DIR1 --goroot DIR2)")
    with Run(args.go, goroots=[Path(g) for g in args.goroot]) as run:
        with progress.Reminder():
            releases = run.prepare([case])
        result = run.run([case])
    rows = [t for t in releases.rows if hasattr(t, "goroot")]
    if len(rows) != 2:
        missing = "; ".join(f"{u.requested}: {u.reason_alone}" for u in releases.unavailable)
        raise UserError(f"--go: {args.go!r}: {len(rows)} of 2 releases can be had ({missing})")
    sources = {t.name: explain.Source(t.name, Path(t.goroot)) for t in rows}
    a, b = (sources[t.name] for t in rows)
    found = explain.explain(result.results[0].diffs, sources, explain.runners(case, result.results[0].docs))
    print(explain.render(_shown_case(args, case), found, explain.changed_files(a, b), a.release, b.release), end="")
    return 0


def cmd_bisect(args: argparse.Namespace) -> int:
    from . import bisect, progress
    from .observe.fields import OUTCOME_FIELDS
    fields = bisect.parse_fields(args.fields) if args.fields is not None else None
    if args.go is not None and args.goroot:
        raise UserError("--go and --goroot: one or the other; bisect a range of releases (--go FIRST..LAST) or Go "
                        "roots in order (--goroot, repeated)")
    if args.go is None and len(args.goroot) == 1:
        raise UserError(f"--goroot: {args.goroot[0]!r} alone; expected two Go roots or more, in the order to search")
    if args.go is None and not args.goroot:
        raise UserError(f"--go: missing; expected {bisect.RANGE_EXPECTED}, or Go roots in order (--goroot, repeated)")
    case = _one_case_of_same_pairing(args, "bisect")
    if args.go is not None:
        from .toolchains.served import served_releases
        candidates = [bisect.Candidate(r, release=r) for r in bisect.parse_range(args.go, served_releases())]
        shown = args.go.strip()
    else:
        roots = [toolchains.from_goroot(Path(g)) for g in args.goroot]
        # Two roots of one toolchain (a copy of a release) share its name: the folder tells them apart.
        clash = len({t.name for t in roots}) < len(roots)
        candidates = [bisect.Candidate(f"{t.name} ({t.goroot})" if clash else t.name, goroot=t.goroot) for t in roots]
        shown = f"{len(roots)} Go roots in the order given"

    def say(text: str) -> None:
        print(f"tlsdiff: bisect: {text}", file=sys.stderr, flush=True)
    search = bisect.Search(candidates, lambda c: bisect.probe(case, c, fields or OUTCOME_FIELDS, args.timeout), say)
    with progress.Reminder():
        outcome = search.run()
    print(bisect.render(outcome, _shown_case(args, case), shown, fields), end="")
    return 0 if outcome.compared else 1


def cmd_repro(args: argparse.Namespace) -> int:
    from . import progress, repro
    from .runs import Run
    case = repro.case_named(args.file)
    with Run(_releases_asked(args), goroots=[Path(g) for g in args.goroot], timeout=args.timeout) as run:
        with progress.Reminder():
            releases = run.prepare([case])
        _say_unavailable(releases)
        _say_pins(releases)
        result = run.run([case])
    print(repro.render(result.results[0]), end="")
    return 0 if result.ok else 1


def cmd_compat(args: argparse.Namespace) -> int:
    from . import compat, progress
    from .report import outputs
    from .report.json_report import provenance
    from .runs import Run
    from .scenario.catalog import load_cases
    tls = sorted({v.strip() for v in args.tls.split(",") if v.strip()})
    if not tls or any(v not in compat.TLS_VERSIONS for v in tls):
        raise UserError(f"--tls: {args.tls!r} is not allowed; expected 1.2, 1.3 or 1.2,1.3")
    targets = outputs.targets([("--json", args.json), ("--markdown", args.markdown)])
    cases = load_cases(sorted({compat.CASES[(k, v)] for k in compat.KINDS for v in tls}))
    with Run(args.go, goroots=[Path(g) for g in args.goroot]) as run:
        with progress.Reminder():
            _say_unavailable(run.prepare())
        result = run.run(cases)
    names = result.releases.versions
    found = compat.cells(result.runs, tls)
    made = {"--json": lambda: json.dumps({"tlsdiff": provenance(), "releases": names,
                                          "cells": [c.to_json() for c in found]}, indent=1, sort_keys=True) + "\n",
            "--markdown": lambda: compat.render_markdown(found, names)}
    problems = [p for t in targets if (p := t.write(made[t.flag]()))]
    screen = sys.stderr if any(t.to_stdout for t in targets) else sys.stdout
    if not args.quiet:
        print(compat.render_terminal(found, names), file=screen, end="")
    for problem in problems:
        print(f"tlsdiff: {problem}", file=sys.stderr)
    disagree = sum(not c.agrees for c in found)
    print(f"{len(found)} cells, {disagree} where the model disagrees with the peers", file=screen)
    return 2 if problems else (1 if disagree else 0)


#: The releases each ticket command names: (flag, its argparse dest), in the order it takes them.
_TICKET_RELEASES = {"mint": (("--go", "go"),), "convert": (("--from", "source"), ("--to", "target")),
                    "inspect": (("--go", "go"),)}


def cmd_ticket(args: argparse.Namespace) -> int:
    from . import ticket_tools as tt
    if args.ticket_command == "fuzz":
        from .session_fuzz import cli
        return cli(args)
    curve = tt.group_id(args.curve) if getattr(args, "curve", None) is not None else None
    flags = _TICKET_RELEASES[args.ticket_command]
    releases = [tt.checked_release(getattr(args, dest), flag) for flag, dest in flags]
    notes = [n for r, (flag, _) in zip(releases, flags) if (n := tt.unread_note(r, flag)) is not None]
    code = _ticket_answer(args, releases, curve)
    for note in notes:  # after the answer, so that bad input still gets exactly one line
        print(f"tlsdiff: {note}", file=sys.stderr)
    return code


def _ticket_answer(args: argparse.Namespace, releases: list[str], curve: int | None) -> int:
    """mint, convert or inspect, for releases already checked (in the order of their flags)."""
    from . import ticket_tools as tt
    if args.ticket_command == "mint":
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", args.secret):
            raise UserError(f"--secret: not hex ({len(args.secret)} characters); expected the secret as hex digits")
        if not 0 <= args.created_at < 1 << 63:
            raise UserError(f"--created-at: {args.created_at} is not a Unix time")
        keys = [tt.read_key(k) for k in args.key]
        print(base64.b64encode(tt.mint(keys, releases[0], tls=args.tls, suite=args.suite,
                                       secret=bytes.fromhex(args.secret), created_at=args.created_at,
                                       curve=curve or 0, ems=args.ems)).decode())
        return 0
    if args.ticket_command == "convert":
        keys = [tt.read_key(k) for k in args.key]
        print(base64.b64encode(tt.convert(tt.read_ticket(args.ticket), keys, releases[0], releases[1], curve=curve,
                                          shown=tt.ticket_source(args.ticket))).decode())
        return 0
    keys = [tt.read_key(k) for k in args.key]
    found, why = tt.inspect(tt.read_ticket(args.ticket), keys, releases[0], tt.ticket_source(args.ticket))
    if why is not None and not found:
        print(f"tlsdiff: {why}", file=sys.stderr)
        return 1
    print(tt.render(found))
    if why is not None:
        print(f"tlsdiff: {why}", file=sys.stderr)
        return 1
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    from .fuzz.command import cli
    return cli(args)


def cmd_images(args: argparse.Namespace) -> int:
    """Compose-usable images from tlsdiff's own peer builds: no registry, no golang image."""
    from . import progress
    from .peers import docker as docker_runner
    from .runs import prepare_releases
    client = docker_runner.engine(who="images")
    with progress.Reminder():
        releases = prepare_releases(args.go)
    _say_unavailable(releases)
    for name, tag in docker_runner.tag_for_compose(client, releases.binaries).values():
        print(f"{name}  (= {tag})")
    return 0


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
    if any(isinstance(r, toolchains.Toolchain) for r in results):
        return 0
    print("tlsdiff: toolchains: none of the requested releases is available (the table says why)", file=sys.stderr)
    return 2


def _known_case_ids(args: argparse.Namespace, selected: Sequence[Any]) -> list[str]:
    """Every case id in the run's folders, selected or not, and those of the case files named
    (what an expected-failures entry may name)."""
    from .scenario.catalog import case_files, case_folders, case_id
    folders = case_folders(args.cases, default=None if args.no_default_cases else CASES_DIR)
    return [case_id(f, folder) for folder in folders for f in case_files(folder)] + [c.id for c in selected]


def _select(args: argparse.Namespace) -> list:
    from .scenario.catalog import case_folders, discover, filter_cases
    for sel in args.selectors:
        if not sel.strip():
            raise UserError("case selector '': empty; expected a case id, a folder or a file")
    folders = case_folders(args.cases, default=None if args.no_default_cases else CASES_DIR)
    if not folders and not args.selectors:
        raise UserError("--no-default-cases: no case folder left; add --cases DIR or name case files")
    return filter_cases(discover(args.selectors, folders), args.keywords, args.tags)


def _releases_asked(args: argparse.Namespace) -> str:
    """--go, else $TLSDIFF_GO, else every release (none when Go roots are named: just those)."""
    roots = args.goroot or os.environ.get("TLSDIFF_GOROOT", "").strip(" ,:")
    go = args.go if args.go is not None else os.environ.get("TLSDIFF_GO", "" if roots else DEFAULT_RELEASES)
    if not go.strip() and not roots:
        where = "--go" if args.go is not None else "TLSDIFF_GO"
        raise UserError(f"{where}: empty; expected {toolchains.lines.EXPECTED}")
    return str(go)


def _start_helpers_early() -> None:
    """tlspeerd and the normalizer's worker, importing on the idle core while the case
    files are read (early.py); a run that needs neither kills them at exit."""
    from .observe import parallel
    from .peers.local import peer_env
    from .peers.pool import python_peer_argv
    early.spawn(python_peer_argv(), peer_env())
    parallel.start_early()


def cmd_run(args: argparse.Namespace) -> int:
    if args.runner == "local" and not args.list and not args.peers:
        _start_helpers_early()
    from . import capture, expected, progress
    from .report import diff, json_report, outputs, terminal
    from .runs import Run

    reports = outputs.targets([("--json", args.json), ("--junit", args.junit), ("--markdown", args.markdown),
                               ("--github", args.github), ("--html", args.html)])
    captures = capture.check_folder(args.capture) if args.capture is not None else None
    shard = parse_shard(args.shard) if args.shard is not None else None
    if args.write and not args.update:
        raise UserError("--write: goes with --update (it writes the updated case files)")
    baseline = diff.load(args.baseline) if args.baseline is not None else None
    cases = _select(args)
    xfails = expected.load(args.expected_failures, _known_case_ids(args, cases)) if args.expected_failures else None
    outputs.refuse_inputs(reports, [c.path for c in cases])
    from .peers.external import peers_asked
    peers = peers_asked(args.runner, args.peers, args.go, args.goroot)
    go = "" if peers else _releases_asked(args)
    run = Run(go, goroots=[Path(g) for g in args.goroot], runner=args.runner, timeout=args.timeout,
              workers=args.workers, peers=peers)
    if args.list:
        requested = [p.name for p in peers] or (toolchains.parse_release_list(go) if go.strip() else [])
        print(f"{len(cases)} cases x releases {', '.join(requested + args.goroot)}")
        for c in cases:
            print(f"{c.id:<48} {c.pairing:<5} {c.description}")
        return 0
    # The matrix goes where no report does: a report on standard output stays parseable.
    screen = sys.stderr if any(t.to_stdout for t in reports) else sys.stdout
    interrupts = children.Interrupts()
    interrupts.install()
    with progress.Reminder():
        releases = run.prepare(cases)
    interrupts.running = True
    _say_unavailable(releases)
    _say_pins(releases)

    def done(case_run) -> None:  # type: ignore[no-untyped-def]
        bar.step(case_run.case.id)
        if args.verbose:
            what = case_run.unsupported or case_run.failure or f"{len(case_run.steps)} steps"
            print(f"tlsdiff: {case_run.case.id} go{'>'.join(case_run.key)}: {what} ({case_run.seconds:.2f} s)",
                  file=sys.stderr)

    with run:
        total = sum(len(run.keys(c)) for c in cases)
        bar = terminal.Progress(total)
        try:
            result = run.run(cases, on_done=done, shard=shard, stop=interrupts.stop)
        finally:
            bar.finish()
    stale: list = []
    if xfails is not None:
        applied = expected.apply(xfails, result.results)
        stale = applied.stale
    runs = sum(len(r.verdicts) for r in result.results)
    # A shard takes runs, not cases: a case whose runs fall in several shards counts in each.
    cases = f"{len(result.results)} cases" + (f" with runs in shard {args.shard}" if shard is not None else "")
    summary = (f"{terminal.summary_line(result.counts)} ({cases}, {runs} runs, "
               f"{result.handshakes} connections, {result.seconds:.1f} s)")
    if result.interrupted:
        summary += f"; interrupted: {total - runs} of {total} runs did not run"
    report, model_text, model_wrong = result.report(), "", False
    if xfails is not None:
        report["expected_failures"] = {
            "file": str(args.expected_failures),
            "expected": [{"case": c, "key": k, "reason": why} for c, k, why in applied.expected],
            "stale": [{"case": e.case, **({"releases": e.releases.text} if e.releases else {}), "reason": e.reason}
                      for e in stale]}
    if args.model:
        from . import model_check
        judged = model_check.judge(result.runs)
        wrong = [j.to_json() for j in judged if not j.agrees]
        report["model"] = {"decisions": len(judged), "disagreements": wrong}
        model_text, model_wrong = model_check.summary(judged), bool(wrong)
    captured = None
    if captures is not None:
        paths, captured = capture.write_run(result.runs, captures)
        capture.name_in_report(report, paths)
    code = _report(args, reports, result.results, result.releases.rows, report, result.started_at,
                   summary, screen)
    if captured is not None:  # as a report that could not be written: after the matrix, exit 2
        print(f"tlsdiff: {captured}", file=sys.stderr)
        code = 2
    if model_text:
        print(model_text, file=screen, end="")
        if model_wrong and code == 0:
            code = 1
    for e in stale:
        print(f"tlsdiff: {e.where}: {e.case} no longer fails as expected ({e.reason}); remove the entry",
              file=screen)
    if args.update:
        _update(args, result, screen)
    if stale and code == 0:
        code = 1
    if baseline is not None and code != 2:
        # Against a baseline, what counts is what changed, not what was already so.
        changed = diff.changes(baseline, json.loads(json_report.dumps(report)))
        print(f"\nsince {args.baseline}:", file=screen)
        diff.render(changed, screen)
        code = 1 if changed or model_wrong or stale else 0
    return 130 if result.interrupted and code != 2 else code


def _say_unavailable(releases: Any) -> None:
    """A release asked for (as `all` asks for 1.20) that no provider has: a line, and the run goes on."""
    for u in releases.unavailable:
        print(f"tlsdiff: Go {u.requested}: unavailable, left out: {u.reason_alone}", file=sys.stderr)


def _say_pins(releases: Any) -> None:
    """A pinned release that cannot be had: its cases' runs are unsupported, and the user should know why."""
    for spec, row in releases.pinned.items():
        if isinstance(row, toolchains.Unavailable):
            print(f"tlsdiff: Go {spec} (pinned by cases): unavailable, their runs are unsupported: {row.reason_alone}",
                  file=sys.stderr)


def _update(args: argparse.Namespace, result: Any, screen: Any) -> None:
    """--update: each case file's failed expectations as the releases observed them, shown or written."""
    from . import update
    order = [row.name for row in result.releases.rows if hasattr(row, "goroot")]
    updates = update.plan(result.results, order)
    changed = [u for u in updates if u.after != u.before]
    for u in updates:
        if u.after != u.before and not (args.write and args.quiet):  # written and quiet: the files say it
            print(u.diff(), file=screen, end="")
        for note in u.notes:
            print(f"tlsdiff: --update: {note}", file=screen)
    if args.write:
        update.write(changed)
        print(f"--update: wrote {len(changed)} case file{'s' if len(changed) != 1 else ''}", file=screen)
    elif changed:
        print(f"--update: {len(changed)} case file{'s' if len(changed) != 1 else ''} would change; "
              "add --write to write them", file=screen)
    else:
        print("--update: no expectation to update", file=screen)


def _captures_relative_to(report: dict, page: Path | None) -> dict:
    """The report with its capture paths relative to the HTML page's folder, so its links work."""
    steps = [s for r in report.get("results", []) for run in r["runs"].values()
             for s in run.get("observations", {}).get("steps", [])]
    if page is None or not any("capture" in s for s in steps):
        return report
    copy = json.loads(json.dumps(report))
    base = page.resolve().parent
    for r in copy["results"]:
        for run in r["runs"].values():
            for s in run.get("observations", {}).get("steps", []):
                if "capture" in s:
                    s["capture"] = os.path.relpath(Path(s["capture"]).resolve(), base)
    return copy


def _report(args: argparse.Namespace, targets: list, results: list, rows: list, report: dict, started_at: str,
            summary: str, screen) -> int:  # type: ignore[no-untyped-def]
    """Write the reports, then the matrix and the summary; 0, 1 (a case failed) or 2 (a report was not written)."""
    from .compare import Verdict
    from .report import github, html, json_report, junit, markdown, terminal
    counts = report["summary"]
    made = {"--json": lambda: json_report.dump_bytes(report),
            "--junit": lambda: junit.dumps(results, report["timing"].get("run_seconds", 0.0), started_at),
            "--markdown": lambda: markdown.render(results, rows, counts, sum(len(r.verdicts) for r in results)),
            "--github": lambda: github.render(results),
            "--html": lambda: html.render(_captures_relative_to(report, next(
                (t.path for t in targets if t.flag == "--html"), None)))}
    problems = [p for t in targets if (p := t.write(made[t.flag]()))]
    try:
        if not args.quiet and getattr(args, "baseline", None) is None:
            terminal.render(results, rows, out=screen)
            if getattr(args, "diff", False):
                terminal.render_differences(results, out=screen, transcripts=getattr(args, "verbose", False))
        print(f"\n{summary}", file=screen)
        screen.flush()
    except BrokenPipeError:
        _silence_stdout()
    for problem in problems:
        print(f"tlsdiff: {problem}", file=sys.stderr)
    if problems:
        return 2
    return 1 if any(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in results) else 0


def cmd_merge(args: argparse.Namespace) -> int:
    from .report import diff, json_report, outputs, terminal
    from .shards import check_shards, merge_results, rows_of
    targets = outputs.targets([("--json", args.json), ("--junit", args.junit), ("--markdown", args.markdown),
                               ("--github", args.github), ("--html", args.html)])
    reports = [(str(p), diff.load(p)) for p in args.reports]
    check_shards(reports)
    shards = [r for _, r in reports]
    results = merge_results(shards)
    rows, capabilities = rows_of(shards[0])
    timing = {"prepare_seconds": max(r["timing"].get("prepare_seconds", 0) for r in shards),
              "run_seconds": round(sum(r["timing"].get("run_seconds", 0) for r in shards), 3),
              "handshakes": sum(r["timing"].get("handshakes", 0) for r in shards),
              "runs": {case: {k: s for r in shards for k, s in r["timing"].get("runs", {}).get(case, {}).items()}
                       for case in sorted({c for r in shards for c in r["timing"].get("runs", {})})}}
    report = json_report.build(results, rows, capabilities, timing, shards[0].get("pinned"))
    screen = sys.stderr if any(t.to_stdout for t in targets) else sys.stdout
    summary = (f"{terminal.summary_line(report['summary'])} ({len(results)} cases, "
               f"{sum(len(r.verdicts) for r in results)} runs, merged from {len(shards)} shards)")
    return _report(args, targets, results, rows, report, "", summary, screen)


def _silence_stdout() -> None:
    """The reader of our output went away (`| head`): say nothing more there."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


_EQUALS_DASHES = re.compile(r"^(--?[A-Za-z][\w-]*)=--")


def main(argv: Sequence[str] | None = None) -> int:
    if sys.stdout is None:  # started with standard output closed: write nothing there, lose nothing else
        from .report import outputs
        sys.stdout = open(os.devnull, "w")
        outputs.STDOUT_CLOSED = True
    logging.basicConfig(format="tlsdiff: %(message)s", level=logging.INFO, stream=sys.stderr)
    logging.getLogger("tlsdiff.toolchains").setLevel(logging.WARNING)
    collect_less()  # the report is built after the run, from as many objects (collection.py)
    no_collection_at_exit()  # nor a last walk over all of them at exit
    trim_periodically()  # a fuzz campaign runs for an hour (memory.py)
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        for word in words:  # argparse turns '--json=--' into a list: refuse it as a value instead
            if m := _EQUALS_DASHES.match(word):
                raise UserError(f"{m.group(1)}: {word[len(m.group(1)) + 1:]!r} is not a value; name a value after "
                                f"{m.group(1)}=")
        from .paths import check_cache
        parser = _parser()
        args = parser.parse_args(words)
        if args.command in ("run", "toolchains", "compat", "explain", "images", "bisect", "repro"):
            check_cache()
        if args.version:
            print(version_text())
            return 0
        if args.command is None:  # bare `tlsdiff`: say what it can do
            parser.print_help()
            return 0
        commands = {"toolchains": cmd_toolchains, "images": cmd_images, "run": cmd_run, "diff": cmd_diff, "merge": cmd_merge,
                    "ticket": cmd_ticket, "compat": cmd_compat, "explain": cmd_explain, "bisect": cmd_bisect,
                    "repro": cmd_repro, "fuzz": cmd_fuzz}
        return commands[args.command](args)
    except UserError as exc:
        print(f"tlsdiff: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        children.kill_all()
        print("tlsdiff: interrupted", file=sys.stderr)
        return 130
    finally:
        early.discard()  # helpers started early that the command did not use


if __name__ == "__main__":
    sys.exit(main())
