"""`tlsdiff explain CASE --go A,B`: why two releases observed different things, from
their crypto/tls sources (on disk with each toolchain).

For every outcome that differs between the releases (an error, an alert, a resumption
decision, the cache calls, a HelloRetryRequest, tickets sent), it finds the places in
each release's source that produce it: the error string (`errors.New("tls: …")`, a
"remote error" is the peer's alert, a "local error" this side's), the `sendAlert` of an
alert that was sent, or the function that makes the decision (`checkForResumption`,
`loadSession`, …). For each place it names file, line and function in both releases and
prints the diff of that function between them, so a maintainer sees why, not only that.
"""
from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .report.changed import show

#: For outcomes no string names, the functions that decide them, by side: (file, function).
DECIDERS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("server", "state.DidResume"): (("handshake_server_tls13.go", "checkForResumption"),
                                    ("handshake_server.go", "checkForResumption")),
    ("client", "state.DidResume"): (("handshake_client.go", "loadSession"),),
    ("client", "cache"): (("handshake_client.go", "loadSession"),
                          ("handshake_client_tls13.go", "handleNewSessionTicket")),
    ("server", "tickets"): (("handshake_server_tls13.go", "sendSessionTickets"),
                            ("handshake_server.go", "sendSessionTicket")),
    ("client", "tickets"): (("handshake_server_tls13.go", "sendSessionTickets"),
                            ("handshake_server.go", "sendSessionTicket")),
    ("server", "hrr"): (("handshake_server_tls13.go", "processClientHello"),
                        ("handshake_server_tls13.go", "doHelloRetryRequest")),
    ("client", "hrr"): (("handshake_client_tls13.go", "processHelloRetryRequest"),),
    # The server's retry configs, and the outer ClientHello it read them for (with ECH
    # the client builds it in clientHandshake and marshalMsg writes it).
    ("client", "ech_retry_configs"): (("handshake_server_tls13.go", "sendServerParameters"),
                                      ("ech.go", "buildRetryConfigList"),
                                      ("ech.go", "processECHClientHello"),
                                      ("handshake_client.go", "clientHandshake"),
                                      ("handshake_messages.go", "marshalMsg")),
}
#: More places than this, and those in functions the same in both releases are counted, not
#: listed: an alert that thirty call sites send would bury the one function that changed.
MAX_PLACES = 8
EXPLAINED = ("error", "io_error", "alerts", "state.DidResume", "cache", "tickets", "hrr", "ech_retry_configs")
#: Outcomes an error of the same side and step can account for: the calls it would have
#: made later were never made.
FOLLOW_ERRORS = ("state.DidResume", "cache", "tickets")
SIDE_FILES = {"server": "handshake_server", "client": "handshake_client"}
OTHER = {"server": "client", "client": "server"}


@dataclass(frozen=True)
class Place:
    """A line of a release's source and the function around it."""

    release: str
    file: str  # relative to src/, e.g. crypto/tls/handshake_server_tls13.go
    line: int
    function: str
    text: str


@dataclass
class Explanation:
    step: int
    side: str
    field: str
    values: list[tuple[list[str], Any]]  # (releases, value)
    places: list[Place] = field(default_factory=list)
    diffs: list[tuple[str, str, str]] = field(default_factory=list)  # (file, function, unified diff or "")
    # A function added because it writes state a place's condition reads: (file, function) -> why.
    writers: dict[tuple[str, str], str] = field(default_factory=dict)
    # The places whose own line their function's diff takes out or puts in (_edited).
    edited: list[Place] = field(default_factory=list)
    # What ran this side instead of the compared release, by column, when the side ran
    # neither compared source in any column (a pinned release, or tlspeer).
    ran_instead: dict[str, str] = field(default_factory=dict)
    # The error difference whose functions an alert's sites were narrowed to ("step 2 client io_error").
    beside: str = ""
    # For what a connection does after its handshake (cache calls, tickets, resumption): the
    # same side's error difference in this step, which cut it short in some release.
    failed: str = ""


class Source:
    """One release's Go sources, read on demand."""

    def __init__(self, release: str, goroot: Path) -> None:
        self.release, self.src = release, goroot / "src"
        self._text: dict[str, list[str]] = {}

    def lines(self, rel: str) -> list[str]:
        if rel not in self._text:
            path = self.src / rel
            self._text[rel] = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []
        return self._text[rel]

    def files(self, package: str = "crypto/tls") -> list[str]:
        folder = self.src / package
        return sorted(f"{package}/{p.name}" for p in folder.glob("*.go") if not p.name.endswith("_test.go"))

    def find(self, needle: str, files: Iterable[str]) -> list[Place]:
        out = []
        for rel in files:
            for i, line in enumerate(self.lines(rel)):
                if needle in line:
                    out.append(Place(self.release, rel, i + 1, self.function_at(rel, i), line.strip()))
        return out

    def function_at(self, rel: str, index: int) -> str:
        for line in reversed(self.lines(rel)[:index + 1]):
            m = re.match(r"func (?:\([^)]*\) )?(\w+)", line)
            if m:
                return m.group(1)
        return ""

    def function(self, rel: str, name: str, receiver_hint: str = "") -> list[str]:
        """The source of a top-level function or method by name (the first whose receiver
        contains receiver_hint), through its closing brace at column 0."""
        return self.function_at_line(rel, name, receiver_hint)[1]

    def function_at_line(self, rel: str, name: str, receiver_hint: str = "") -> tuple[int, list[str]]:
        """`function`, with the line number of its first line (0 and [] when absent)."""
        lines = self.lines(rel)
        for i, line in enumerate(lines):
            m = re.match(r"func (\([^)]*\) )?(\w+)\(", line)
            if m and m.group(2) == name and receiver_hint in (m.group(1) or ""):
                for j in range(i + 1, len(lines)):
                    if lines[j] == "}":
                        return i + 1, lines[i:j + 1]
                return i + 1, lines[i:]
        return 0, []


def _alert_constant(src: Source, name: str) -> str | None:
    """alertDecryptError for decrypt_error (alert.go's constants, matched by name)."""
    camel = "alert" + "".join(p.capitalize() for p in name.split("_"))
    return camel if any(re.match(rf"\s*{camel}\s+alert\s*=", ln) for ln in src.lines("crypto/tls/alert.go")) else None


def _alert_of_text(src: Source, text: str) -> str | None:
    """The constant whose alertText is `text` ("bad certificate" -> alertBadCertificate)."""
    for line in src.lines("crypto/tls/alert.go"):
        m = re.match(r'\s*(alert\w+):\s*"([^"]*)"', line)
        if m and m.group(2) == text:
            return m.group(1)
    return None


def _side_files(src: Source, side: str) -> list[str]:
    return [f for f in src.files() if Path(f).name.startswith(SIDE_FILES[side])]


def _places_for_error(src: Source, side: str, text: str) -> list[Place]:
    """Where a Handshake or I/O error string comes from in one release."""
    m = re.match(r"(remote|local) error: tls: (.*)$", text)
    if m:
        const = _alert_of_text(src, m.group(2))
        sender = OTHER[side] if m.group(1) == "remote" else side
        return _alert_sites(src, const, sender) if const else []
    # The longest prefix, cut between words, that starts a string literal in crypto/tls (or
    # crypto/x509): a fmt.Errorf format stops matching where its first %v was filled in.
    words = re.split(r"(?<=[\s:])", text)
    for n in range(len(words), 0, -1):
        needle = "".join(words[:n]).rstrip(" :")
        if len(needle) < 12:
            break
        package = "crypto/x509" if needle.startswith("x509:") else "crypto/tls"
        found = src.find(f'"{needle}', src.files(package))
        if found:
            # a literal that ends at the needle, nothing added, made no longer text
            # (parser.go's 'errors.New("x509: ...: invalid attribute value")' beside its
            # 'fmt.Errorf("x509: ...: invalid attribute value: %s", err)')
            if len(needle) < len(text):
                found = [p for p in found if not re.match(r'"\s*\)', p.text.partition(f'"{needle}')[2])] or found
            own = [p for p in found if Path(p.file).name.startswith(SIDE_FILES[side])]
            # crypto/tls wraps crypto/x509's errors ("tls: failed to parse certificate from
            # server: x509: ..."): what changed may be in x509, so its part is looked for too.
            wrapped = text[len(needle):].lstrip(" :")
            inner = _places_for_error(src, side, wrapped) if package == "crypto/tls" and wrapped.startswith("x509:") else []
            return (own or found) + inner
    return []


def _places_for_alert(src: Source, sender: str, name: str) -> list[Place]:
    const = _alert_constant(src, name)
    return _alert_sites(src, const, sender) if const else []


def _alert_sites(src: Source, const: str, sender: str) -> list[Place]:
    """The calls that send this alert: in the sender's handshake files, and in conn.go
    (record layer, KeyUpdate, key changes), by sendAlert or, with the lock held, sendAlertLocked."""
    files = _side_files(src, sender) + [f for f in src.files() if Path(f).name == "conn.go"]
    return [p for needle in (f"sendAlert({const})", f"sendAlertLocked({const})") for p in src.find(needle, files)]


def _condition_fields(src: Source, place: Place) -> set[str]:
    """The connection fields (`c.retryCount`) the `if` that guards a place reads: the
    error may come from an unchanged line whose condition another function now sets."""
    lines = src.lines(place.file)
    for i in range(place.line - 1, max(-1, place.line - 5), -1):
        text = lines[i].strip()
        if text.startswith("if "):
            return set(re.findall(r"\b(?:c|hs)\.(\w+)\b(?![(.\w])", text))
    return set()


def _writers(src: Source, names: set[str]) -> set[tuple[str, str, str]]:
    """(file, function, field) for each function of crypto/tls that assigns one of these fields."""
    out = set()
    for name in sorted(names):
        write = re.compile(rf"\.{name}\s*(?:=(?!=)|\+\+|--|[-+]=)")
        for rel in src.files():
            for i, line in enumerate(src.lines(rel)):
                if write.search(line):
                    out.add((rel, src.function_at(rel, i), name))
    return out


def _first_alert(value: Any, way: str) -> str | None:
    for a in (value or {}).get(way, []):
        if a.get("name") != "close_notify":
            return a["name"]
    return None


def runners(case: Any, docs: Mapping[tuple[str, ...], dict[str, Any]]) -> dict[tuple[int, str, str], str]:
    """(step, side, column) -> what ran that side of that connect step in that column, as
    the document's `endpoints` name it: the column's own release, a pinned one, or python."""
    ends = {s.number: s.args for s in case.steps if "client" in s.args and "server" in s.args}
    out = {}
    for key, doc in docs.items():
        for step, args in ends.items():
            for side in ("client", "server"):
                peer = (doc.get("endpoints") or {}).get(args[side], {}).get("peer")
                if peer is not None:
                    out[(step, side, key[0])] = peer
    return out


def explain(differences: Sequence[dict[str, Any]], sources: dict[str, Source],
            ran: Mapping[tuple[int, str, str], str] | None = None) -> list[Explanation]:
    """An explanation for each difference of an outcome field, between the given releases.
    ran (runners): who ran each side; a side that a pinned release or tlspeer ran is not
    looked for in the column's source (what it did follows from the other side)."""
    out = []
    error_places = functools.cache(_places_for_error)  # _raised and the loop below ask alike
    raised = _raised(differences, sources, ran, error_places)
    for d in differences:
        if d["field"] not in EXPLAINED:
            continue
        values = [(v["releases"], v["value"]) for v in d["values"]]
        e = Explanation(d["step"], d["side"], d["field"], values)
        own = raised.get((d["step"], d["side"]))
        e.failed = own.title if own is not None and d["field"] in FOLLOW_ERRORS else ""

        def column_ran(side: str, release: str) -> bool:
            return _ran_column(ran, d["step"], side, release)

        def sent_by(side: str, places: list[Place]) -> list[Place]:
            """An alert's sites, narrowed to the functions where that side raised its
            error in this step, when it did and some are there (an alert thirty call
            sites send is the one beside the error)."""
            error = raised.get((d["step"], side))
            near = [p for p in places if error is not None and (p.release, p.file, p.function) in error.where]
            if near:
                e.beside = e.beside or error.title
            return near or places
        found: list[Place] = []
        for releases, value in values:
            for release in releases:
                src = sources.get(release)
                if src is None:
                    continue
                if d["field"] in ("error", "io_error") and isinstance(value, str):
                    # a remote error is the alert the other side sent: its sender's source
                    remote = value.startswith("remote error:")
                    sender = OTHER[d["side"]] if remote else d["side"]
                    if column_ran(sender, release):
                        places = error_places(src, d["side"], value)
                        found += sent_by(sender, places) if remote else places
                elif d["field"] == "alerts":
                    sent, received = _first_alert(value, "sent"), _first_alert(value, "received")
                    if sent and column_ran(d["side"], release):
                        found += sent_by(d["side"], _places_for_alert(src, d["side"], sent))
                    if received and column_ran(OTHER[d["side"]], release):
                        found += sent_by(OTHER[d["side"]], _places_for_alert(src, OTHER[d["side"]], received))
        e.places = sorted(set(found), key=lambda p: (p.release, p.file, p.line))
        functions = {(p.file, p.function) for p in e.places if p.function}
        names = sorted({r for rs, _ in values for r in rs if r in sources})
        functions |= {(f"crypto/tls/{f}", fn) for f, fn in DECIDERS.get((d["side"], d["field"]), ())
                      if any(column_ran(_decided_by(f, d["side"]), r) for r in names)}
        if not functions and not any(column_ran(d["side"], r) for r in names):
            e.ran_instead = {r: ran[(d["step"], d["side"], r)] for r in names if ran is not None}
            out.append(e)
            continue
        if len(names) >= 2:
            a, b = sources[names[0]], sources[names[-1]]
            for rel, fn in sorted(functions):
                diff = _diff(a, b, rel, fn)
                if diff is not None:
                    e.diffs.append((rel, fn, diff))
            if d["field"] in ("error", "io_error"):
                _add_writers(e, a, b, functions)
            e.edited = _edited(e, a, b)
        out.append(e)
    return out


@dataclass
class _Raised:
    """A side's own errors in one step (not remote ones): the first difference that names
    one ("step 2 client io_error"), and (release, file, function) of each place raising them."""

    title: str
    where: set[tuple[str, str, str]] = field(default_factory=set)


def _raised(differences: Sequence[dict[str, Any]], sources: dict[str, Source],
            ran: Mapping[tuple[int, str, str], str] | None,
            error_places: Callable[[Source, str, str], list[Place]]) -> dict[tuple[int, str], _Raised]:
    """(step, side) -> its own errors, for the error and io_error differences whose side
    ran the compared release."""
    out: dict[tuple[int, str], _Raised] = {}
    for d in differences:
        if d["field"] not in ("error", "io_error"):
            continue
        for v in d["values"]:
            if not isinstance(v["value"], str) or v["value"].startswith("remote error:"):
                continue
            for release in v["releases"]:
                if release in sources and _ran_column(ran, d["step"], d["side"], release):
                    found = out.setdefault((d["step"], d["side"]), _Raised(f"step {d['step']} {d['side']} {d['field']}"))
                    found.where.update((p.release, p.file, p.function)
                                       for p in error_places(sources[release], d["side"], v["value"]))
    return out


def _ran_column(ran: Mapping[tuple[int, str, str], str] | None, step: int, side: str, release: str) -> bool:
    """Whether the column's own release ran this side of this step (not a pinned release, not tlspeer)."""
    return ran is None or ran.get((step, side, release), release) == release


def _decided_by(file: str, side: str) -> str:
    """The side whose source a decider file is: handshake_server*.go the server's, and so on."""
    return next((s for s, prefix in SIDE_FILES.items() if file.startswith(prefix)), side)


def _edited(e: Explanation, a: Source, b: Source) -> list[Place]:
    """The places whose own line the diff of their function takes out (in a) or puts in
    (in b), by line number: where the releases' source says the thing differently, the
    likeliest explanation (CVE-2025-58189: the error's format; 1.25's decode_error: the
    alert of unmarshalHandshakeMessage)."""
    changed: set[tuple[str, str, int]] = set()  # release, file, line
    for rel, fn, diff in e.diffs:
        if not diff:
            continue
        start_a, before = a.function_at_line(rel, fn)
        start_b, after = b.function_at_line(rel, fn)
        # the matcher unified_diff uses, so these are the lines the printed diff marks
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after).get_opcodes():
            if tag != "equal":
                changed.update((a.release, rel, start_a + i) for i in range(i1, i2))
                changed.update((b.release, rel, start_b + j) for j in range(j1, j2))
    return [p for p in e.places if (p.release, p.file, p.line) in changed]


def _diff(a: Source, b: Source, rel: str, fn: str) -> str | None:
    """The unified diff of a function between two releases; "" when it is the same, None
    when neither has it."""
    before, after = a.function(rel, fn), b.function(rel, fn)
    if not before and not after:
        return None
    return "\n".join(difflib.unified_diff(before, after, f"go{a.release}/{rel}", f"go{b.release}/{rel}",
                                          lineterm="", n=2))


def _add_writers(e: Explanation, a: Source, b: Source, diffed: set[tuple[str, str]]) -> None:
    """The functions that changed between a and b and assign a field an error's guard reads
    (go-79866: the error's line is the same in both, the reset of its counter moved)."""
    sources = {a.release: a, b.release: b}
    for p in e.places:
        if p.release not in sources or "sendAlert" in p.text:  # an alert's sites are too many to follow
            continue
        fields = _condition_fields(sources[p.release], p)
        if not fields:
            continue
        found = _writers(a, fields) | _writers(b, fields)
        for rel, fn, name in sorted(found):
            if (rel, fn) in diffed or (rel, fn) in e.writers:
                continue
            diff = _diff(a, b, rel, fn)
            if diff:  # only the writers that changed can explain the difference
                e.writers[(rel, fn)] = f"it assigns c.{name}, which the check at {Path(p.file).name}:{p.line} reads"
                e.diffs.append((rel, fn, diff))


def render(case_id: str, explanations: Sequence[Explanation], changed_files: Sequence[str], a: str, b: str) -> str:
    lines = [f"{case_id}: go{a} against go{b}"]
    shown: set[tuple[str, str]] = set()  # each function's diff is printed once
    # Outcomes that come from the same places (an alert, and the errors both sides say
    # of it) are explained once.
    explained: dict[tuple[Any, ...], str] = {}
    if not explanations:
        lines.append("  no outcome differs between these releases")
    for e in explanations:
        title = f"step {e.step} {e.side} {e.field}"
        lines.append(f"\n{title}:")
        for releases, value in e.values:
            if e.field == "alerts":
                value = {"sent": _first_alert(value, "sent"), "received": _first_alert(value, "received")}
            lines.append(f"  {show(value):<60} {', '.join(releases)}")
        if e.ran_instead:
            who = sorted(set(e.ran_instead.values()))
            named = ", ".join("tlspeer (the Python peer)" if w == "python" else f"go{w}" for w in who)
            lines.append(f"  the {e.side} ran {named} in both, not go{a} or go{b} (the case names its peer): its sources "
                         f"are not these; this follows from what the {OTHER[e.side]} did differently")
            continue
        if e.failed:
            lines.append(f"  where the connection failed ({e.failed}), what it would have done after the error "
                         "is missing")
        if e.beside:
            lines.append(f"  sent beside {e.beside} (the sites in the functions that raise it)")
        key = (tuple(e.places), tuple(e.diffs))
        if e.places and key in explained:
            lines.append(f"  produced at the same places as {explained[key]}, above")
            continue
        explained[key] = title
        if e.edited:
            lines.append("  the line that changed:")
            lines += [f"    go{p.release} {p.file}:{p.line} in {p.function}: {p.text}" for p in e.edited]
        changed = {(rel, fn) for rel, fn, diff in e.diffs if diff}
        places, same = list(e.places), []
        if len(places) > MAX_PLACES:
            same = [p for p in places if (p.file, p.function) not in changed]
            places = [p for p in places if (p.file, p.function) in changed]
        if e.places:
            lines.append("  produced at:")
            lines += [f"    go{p.release} {p.file}:{p.line} in {p.function}: {p.text}" for p in places]
        if same:
            lines.append(f"    and {len(same)} more in functions the same in go{a} and go{b}: "
                         f"{', '.join(sorted({p.function for p in same}))}")
        counted = {(p.file, p.function) for p in same}
        for rel, fn, diff in e.diffs:
            if not diff and (rel, fn) in counted:
                continue  # named in the count above
            if not diff:
                lines.append(f"  {fn} ({rel}): the same in go{a} and go{b}")
            elif (rel, fn) in shown:
                lines.append(f"  {fn} ({rel}) changed: the diff is above")
            else:
                shown.add((rel, fn))
                why = f" ({e.writers[(rel, fn)]})" if (rel, fn) in e.writers else ""
                lines.append(f"  {fn} ({rel}) changed between go{a} and go{b}{why}:")
                lines += ["    " + ln for ln in diff.splitlines()]
    if changed_files:
        lines.append(f"\ncrypto/tls files that differ between go{a} and go{b}: {', '.join(changed_files)}")
    return "\n".join(lines) + "\n"


def changed_files(a: Source, b: Source) -> list[str]:
    """The crypto/tls files (tests aside) whose text differs between two releases."""
    names = sorted(set(a.files()) | set(b.files()))
    return [Path(n).name for n in names if a.lines(n) != b.lines(n)]
