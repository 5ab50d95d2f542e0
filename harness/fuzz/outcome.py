"""What one stimulus did on every release, kept small, and what makes it a finding.

An `Outcome` is the summary of a case's observation documents across the releases
of a run: the agreement classes (compare.agreement_classes) as a partition of the
releases, which release accepted each connection (both sides' handshakes without
error), which Go peer failed (a panic, a crash, a hang), and whether the Python peer
could not play its part. Campaigns keep outcomes, not documents.

A stimulus's `signatures` are what it could be a finding for, as (kind, partition):

- `peer-failure`: a Go peer panicked, crashed or stopped answering (run verdict `error`);
- `lone-accept` / `lone-reject`: in some connection one release accepts what every
  other release rejects, or rejects what every other accepts (three releases or more);
- `partition`: the releases fall in two classes or more.

A signature no case of the known set shows is new (`Known`): for `partition` the
grouping itself, for the others the kind with that grouping; a Go peer failure is
always new. (A fifth kind, `peer-leak`, is not in the observations: the campaign
counts each Go peer's open file descriptors between batches, campaign.py.)
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..compare import agreement_classes
from ..errors import UserError
from ..scenario.model import PYTHON_PEER, Case, ReleaseKey, StepKind

KINDS = ("peer-failure", "lone-accept", "lone-reject", "partition")  # most telling first
Partition = tuple[tuple[str, ...], ...]
Signature = tuple[str, Partition]
#: A failure that is the Python peer's (tlspeer raised, or its process failed): the
#: stimulus asked tlspeer for something it could not do; Go is not in question.
_PYTHON_FAILURE = re.compile(r"\btlspeer:|\bpeer python:")


#: A Go error that carries the size of what each release built itself. A Go client
#: marshalling a resumption ClientHello around a ticket too large for its length prefix
#: fails alike on every release, with a length that differs as their ClientHellos do
#: (seed 99's huge_ticket: 65634 on 1.19.8, 66902 on 1.27.3), which split the releases
#: six ways in every campaign. The fuzzer groups releases with that size masked;
#: documents, reports and the findings' expectations keep it.
_OWN_SIZE = re.compile(r"(pending child length )\d+")


_ERRORS = ("error", "io_error")


def _own_sizes_masked(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The document with _OWN_SIZE's numbers masked in its sides' errors; None if it has
    none (every document of every stimulus is asked: it is copied only when it has one)."""
    steps = doc.get("steps", [])
    sides = [d for step in steps for d in (step.get("client"), step.get("server")) if d]
    if not any(_OWN_SIZE.search(d.get(f) or "") for d in sides for f in _ERRORS):
        return None

    def masked(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, **{f: _OWN_SIZE.sub(r"\1<n>", d[f]) for f in _ERRORS if d.get(f)}}
    return {**doc, "steps": [{**step, **{side: masked(step[side]) for side in ("client", "server") if step.get(side)}}
                             for step in steps]}


def _failures(doc: dict[str, Any]) -> list[str]:
    out = [doc["failure"]] if doc.get("failure") else []
    return out + [s["failure"] for s in doc.get("steps", []) if s.get("failure")]


def _accepted(doc: dict[str, Any]) -> tuple[bool, ...]:
    """Per connect step: did both sides complete the handshake?"""
    return tuple(s.get("client") is not None and s.get("server") is not None
                 and s["client"].get("error") is None and s["server"].get("error") is None
                 for s in doc.get("steps", []) if "session" not in s)


@dataclass(frozen=True)
class Outcome:
    releases: tuple[str, ...]  # every release of the run, in run order
    partition: Partition  # the releases with an outcome, grouped by class, class A first
    unsupported: tuple[str, ...] = ()
    accepted: Mapping[str, tuple[bool, ...]] = field(default_factory=dict)  # release -> per connection
    go_failures: Mapping[str, str] = field(default_factory=dict)  # release -> what its Go peer did
    python_error: str = ""  # the Python peer could not play its part (on some release)

    @classmethod
    def of(cls, docs: Mapping[ReleaseKey, dict[str, Any]],
           classes: Mapping[ReleaseKey, str] | None = None) -> "Outcome":
        """classes: the docs' agreement classes, if the caller has them (a CaseResult's)."""
        masked = {k: _own_sizes_masked(d) for k, d in docs.items()}
        if any(m is not None for m in masked.values()):
            classes = agreement_classes({k: m if m is not None else docs[k] for k, m in masked.items()})
        elif classes is None:
            classes = agreement_classes(dict(docs))
        groups: dict[str, list[str]] = {}
        for key, letter in classes.items():
            if letter != "-":
                groups.setdefault(letter, []).append(key[0])
        go_failures: dict[str, str] = {}
        python_error = ""
        for key, doc in docs.items():
            for text in _failures(doc):
                if _PYTHON_FAILURE.search(text):
                    python_error = python_error or text
                else:
                    go_failures.setdefault(key[0], text)
        return cls(tuple(k[0] for k in docs), tuple(tuple(g) for g in groups.values()),
                   tuple(k[0] for k, letter in classes.items() if letter == "-"),
                   {k[0]: _accepted(d) for k, d in docs.items() if classes[k] != "-"}, go_failures, python_error)

    @property
    def complete(self) -> bool:
        """Every release of the run gave an outcome or said why not."""
        return len(self.releases) == sum(map(len, self.partition)) + len(self.unsupported)

    def lone(self) -> list[tuple[str, str]]:
        """(kind, release) for each release alone in accepting or rejecting some connection."""
        healthy = [r for g in self.partition for r in g if r not in self.go_failures]
        out: list[tuple[str, str]] = []
        if len(healthy) < 3:
            return out
        for i in range(min(len(self.accepted[r]) for r in healthy)):
            yes = [r for r in healthy if self.accepted[r][i]]
            no = [r for r in healthy if not self.accepted[r][i]]
            if len(yes) == 1:
                out.append(("lone-accept", yes[0]))
            elif len(no) == 1:
                out.append(("lone-reject", no[0]))
        return sorted(set(out), key=out.index)

    def signatures(self) -> list[Signature]:
        """What this outcome could be a finding for, most telling first; none when the
        Python peer failed (the stimulus is tlspeer's problem, not Go's)."""
        if self.python_error:
            return []
        out: list[Signature] = []
        if self.go_failures:
            out.append(("peer-failure", self.partition))
        out += [(kind, self.partition) for kind, _ in self.lone()]
        if len(self.partition) > 1:
            out.append(("partition", self.partition))
        return list(dict.fromkeys(out))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"partition": [list(g) for g in self.partition]}
        if self.unsupported:
            out["unsupported"] = list(self.unsupported)
        if self.go_failures:
            out["go_failures"] = dict(self.go_failures)
        lone = self.lone()
        if lone:
            out["lone"] = [{"kind": k, "release": r} for k, r in lone]
        return out


def _apart(group_of: Mapping[str, int]) -> set[tuple[str, str]]:
    """Every two releases (in name order) in different groups."""
    names = sorted(group_of)
    return {(a, b) for i, a in enumerate(names) for b in names[i + 1:] if group_of[a] != group_of[b]}


def partition_text(partition: Partition) -> str:
    """1.19.8 | 1.21.13 1.22.10 | ...: the classes, A first."""
    return " | ".join(" ".join(g) for g in partition)


def case_words(case: Case) -> frozenset[str]:
    """What a case sets up, as words to compare cases by: each endpoint's role and peer,
    the settings it names, its misbehaviour knobs, and the messages and extensions its
    edits touch; how many connections it makes. Two cases sharing many of them are likely
    about the same thing (`Known.explained_by` prefers such cases among equals)."""
    words = {f"connects:{sum(1 for s in case.steps if s.kind == StepKind.CONNECT)}"}
    for e in case.endpoints.values():
        role = str(e.role)
        words.add(f"{role}:{'python' if e.peer == PYTHON_PEER else 'go'}")
        for key, value in e.settings.items():
            if key != "misbehave":
                words.add(f"{role}.{key}")
                continue
            for knob, setting in value.items():
                words.add(f"{role}.misbehave.{knob}")
                for entry in setting if isinstance(setting, list) else ():
                    if isinstance(entry, dict):
                        words.update(f"{knob}.{entry[k]}" for k in ("message", "extension") if k in entry)
    return frozenset(words)


def _words_of_file(file: Any, report_folder: Path) -> frozenset[str]:
    """case_words of the case file a report names (catalog.report_name: relative to the
    run's working folder, or as its case folder's name and its id), looked for from here,
    from the report's folder and in tlsdiff's own cases; none where it is not found or no
    longer loads: the words only order hints that are equally good."""
    from ..paths import CASES_DIR
    from ..scenario.load import load_file
    if not isinstance(file, str) or not file:
        return frozenset()
    candidates = [Path(file), report_folder / file]
    folder, _, rest = file.partition("/")
    if folder == CASES_DIR.name and rest:
        candidates.append(CASES_DIR / rest)
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            try:
                return case_words(load_file(candidate, candidate.stem, file))
            except UserError:
                return frozenset()
    return frozenset()


#: The most known cases one partition is put down to: more would explain anything.
MAX_EXPLAINING = 3


def _covers(combo: tuple[tuple[frozenset[tuple[str, str]], str], ...], apart: set[tuple[str, str]]) -> bool:
    return apart <= set().union(*(splits for splits, _ in combo))


@dataclass
class Known:
    """The signatures the known cases show: a stimulus is a finding only for others.

    A new partition may still be the known splits of several cases at once: a stimulus
    that sets off two changes the cases show apart (one in 1.25, one in 1.26) splits the
    releases in three, which no single case shows. `explains` names such cases. It stays
    a finding (no case shows it, and another change may fall on the same releases); the
    names are a hint beside it (findings.py explained_by)."""

    signatures: set[Signature] = field(default_factory=set)
    cases: int = 0
    #: Each partition the known cases show, with the cases that show it, in the order added.
    partitions: dict[Partition, list[str]] = field(default_factory=dict)
    #: Each (lone kind, release) the known cases show, with the cases that show it, in the order added.
    lone: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: What each known case sets up (case_words), where its case was at hand.
    words: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, outcome: Outcome, case: str = "", words: frozenset[str] = frozenset()) -> None:
        self.cases += 1
        if words:
            self.words[case] = words
        self.signatures.update(s for s in outcome.signatures() if s[0] != "peer-failure")
        if len(outcome.partition) > 1 and not outcome.python_error:
            self.partitions.setdefault(outcome.partition, []).append(case)
            for fact in outcome.lone():
                self.lone.setdefault(fact, []).append(case)

    def new(self, outcome: Outcome) -> list[Signature]:
        return [s for s in outcome.signatures() if s[0] == "peer-failure" or s not in self.signatures]

    def explains(self, outcome: Outcome, new: list[Signature], words: frozenset[str] = frozenset()) -> list[str]:
        """The known cases that together show every signature in `new` (what `new`
        gave for outcome), or [] if some is not theirs: a partition their splits make
        (explained_by, preferring cases that set up what `words` says the stimulus did),
        and for a lone kind, each release alone as a known case has it alone. A Go peer
        failure is never explained."""
        cases: list[str] = []
        for kind, partition in new:
            if kind == "peer-failure":
                return []
            if kind != "partition":  # lone-accept, lone-reject
                alone = [(k, r) for k, r in outcome.lone() if k == kind]
                if not alone or any(fact not in self.lone for fact in alone):
                    return []
                cases += [self._likest(self.lone[fact], words) for fact in alone]
            splits = self.explained_by(partition, words)
            if not splits:
                return []
            cases += splits
        return list(dict.fromkeys(cases))

    def explained_by(self, partition: Partition, words: frozenset[str] = frozenset()) -> list[str]:
        """The known cases whose splits, together, make `partition`; [] if none do.

        Over the releases the partition has: a known partition that keeps apart two
        releases the partition keeps together cannot be one of them; the others must
        keep apart every two releases the partition keeps apart. Of the sets of up to
        three cases that do, none of them needless, the one whose cases share most of
        `words` (what the stimulus set up), then the fewest, then the first in the order
        the cases were added; named in that order. Seed 40's ECH extension in a
        HelloRetryRequest, resumed by 1.19.8 with its wrong binder, split 1.19.8 |
        1.21-1.22 | 1.23 | 1.24+: in the order added, the ALPN error's and an ECH client's
        cases split so as well, where the ECH-in-HRR and the go-59424 cases are what it
        did. Seed 43's sixteen KeyUpdates after a resumption through an HRR split 1.19.8 |
        1.21-1.25 | 1.26+, as one case about client certificates does alone; go-59424's
        and go-79866's cases are what it did."""
        where = {r: i for i, group in enumerate(partition) for r in group}
        apart = _apart(where)
        if not apart:
            return []
        by_splits: dict[frozenset[tuple[str, str]], list[str]] = {}
        for known, cases in self.partitions.items():
            theirs = {r: i for i, group in enumerate(known) for r in group if r in where}
            splits = _apart(theirs)
            if splits and all(where[a] != where[b] for a, b in splits):
                by_splits.setdefault(frozenset(splits), []).extend(cases)
        options = [(splits, self._likest(cases, words)) for splits, cases in by_splits.items()]
        best: tuple[int, tuple[tuple[frozenset[tuple[str, str]], str], ...]] | None = None
        for size in range(1, MAX_EXPLAINING + 1):
            for combo in itertools.combinations(options, size):
                if not _covers(combo, apart) or any(_covers(combo[:i] + combo[i + 1:], apart) for i in range(size)):
                    continue
                score = sum(len(words & self.words.get(case, frozenset())) for _, case in combo)
                if best is None or score > best[0]:
                    best = (score, combo)
        if best is None:
            return []
        order = [case for cases in self.partitions.values() for case in cases]
        return sorted((case for _, case in best[1]), key=order.index)

    def _likest(self, cases: list[str], words: frozenset[str]) -> str:
        """Of cases that show the same thing, the one sharing most of `words` (the first such)."""
        return max(cases, key=lambda case: len(words & self.words.get(case, frozenset())))

    @classmethod
    def of_results(cls, results: Iterable[Any]) -> "Known":
        """From a run's CaseResults (pairing same only: a cross case's keys are pairs)."""
        known = cls()
        for r in results:
            if all(len(k) == 1 for k in r.docs) and r.docs:
                known.add(Outcome.of(r.docs, r.classes), r.case.id, case_words(r.case))
        return known

    @classmethod
    def of_report(cls, path: Path, releases: Iterable[str]) -> "Known":
        """From a JSON report (`tlsdiff run --json`) of a run on these same releases."""
        try:
            report = json.loads(path.read_text())
            results = report["results"]
            if not isinstance(results, list):
                raise TypeError("results is not a list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"--known: {str(path)!r} cannot be read as a tlsdiff JSON report: {exc}") from None
        wanted = list(releases)
        known = cls()
        for r in results:
            runs = r.get("runs", {})
            if r.get("pairing", "same") != "same" or not runs:
                continue
            missing = [v for v in wanted if v not in runs]
            if missing:
                raise UserError(f"--known: {str(path)!r}: case {r.get('case')!r} has no run on {missing[0]}; "
                                "expected a report of a run on the releases of this campaign")
            known.add(Outcome.of({(v,): runs[v]["observations"] for v in wanted}), str(r.get("case", "")),
                      _words_of_file(r.get("file"), path.parent))
        return known
