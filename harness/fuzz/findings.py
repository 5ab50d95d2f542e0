"""Findings: one per (kind, partition), written as case files and findings.json.

A finding keeps the first stimulus of its group (in stream order), how many stimuli
fell in the group, and its minimized stimulus. Its case file is the minimized
stimulus as a case (`source: tlsdiff fuzz --seed N`), with `expect` entries for the
fields whose values differ between the releases: written with the values of the
first release, then rewritten by `run --update`'s planner (update.py) to what each
release observed, split by release range. A ConnectionState field some release
lacks gets an entry of its own, limited to the releases that have it. Only the fields
of the agreement class are expected, so the entries split where the classes do.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import update
from ..compare import actual_value, compare_case
from ..observe.fields import ABSENT, STATE
from ..scenario.catalog import load_case
from ..scenario.model import Case, ReleaseKey, StepKind
from .generate import Stimulus
from .outcome import Outcome, Partition, Signature, partition_text

FINDINGS_FILE = "findings.json"
FORMAT_VERSION = 1
#: What a finding's expectations may name: the fields of the agreement class, the alerts
#: by name (the class holds the alert list), and the ConnectionState fields of the class.
#: A field outside the class (a ticket's length, a key exchange group) would split the
#: expectations where the classes do not.
EXPECTED_FIELDS = ("error", "io_error", "alert_sent", "alert_received", "hrr", "tickets", "cache")
EXPECTED_STATE = tuple(f for f in STATE if f.outcome)


@dataclass
class Finding:
    kind: str
    partition: Partition
    first: Stimulus  # the first stimulus of the group in stream order
    outcome: Outcome  # what the first one did
    count: int = 1  # stimuli in the group
    minimized: Stimulus | None = None
    tests: int = 0  # stimuli run to minimize it
    reproduced: bool | None = None  # None: not tried (interrupted)
    file: str = ""  # its case file in the output folder, once written
    verified: bool | None = None  # the written file loaded and passed on every release
    #: Known cases that show this kind and partition together (Known.explains): a hint
    #: that the finding may be two known changes at once; [] when none do.
    explained_by: list[str] = field(default_factory=list)
    #: Where each flip_byte fell, when the releases met different bytes (flip_landings).
    landings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def signature(self) -> Signature:
        return (self.kind, self.partition)

    @property
    def key(self) -> str:
        text = json.dumps([self.kind, [list(g) for g in self.partition]])
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def alone(self) -> list[str]:
        """The releases alone in accepting (lone-accept) or rejecting (lone-reject), as the
        first stimulus of the group showed; [] for the other kinds."""
        return [r for kind, r in self.outcome.lone() if kind == self.kind]

    def kind_text(self) -> str:
        """The kind, with the release a lone kind is about: "lone-accept 1.21.13"."""
        return " ".join([self.kind, *self.alone()])

    @property
    def final(self) -> Stimulus:
        return self.minimized or self.first

    def stem(self) -> str:
        knobs = "-".join(self.final.misbehave) or "no-knob"
        return f"{self.kind}-{self.final.base.name}-{knobs}"[:110] + f"-{self.key}"

    def description(self) -> str:
        s = self.final
        knobs = ", ".join(s.misbehave) or "no misbehaviour"
        what = {"partition": "the releases fall in classes", "lone-accept": "one release alone accepts",
                "lone-reject": "one release alone rejects",
                "peer-failure": "a Go peer fails",
                "peer-leak": "a Go peer keeps file descriptors open after the connections end"}[self.kind]
        if self.alone():
            what += f" ({', '.join(self.alone())})"
        text = f"{s.base.describe()}; the Python {s.base.role}: {knobs}. Found by tlsdiff fuzz: {what}: " \
               f"{partition_text(self.partition)}."
        if self.explained_by:
            text += f" Known cases split the releases so together: {', '.join(self.explained_by)}."
        if self.landings:
            text += f" {self.caveat()}."
        return text

    def caveat(self) -> str:
        """The releases met different bytes: a flip_byte's offset is taken modulo the length of a
        message that differs between them, so the partition may say only that."""
        if not self.landings:
            return ""
        where = "; ".join(f"{at} for {', '.join(releases)}" for at, releases in self.landings.items())
        return (f"The flipped byte fell apart ({where}): the message's length differs between "
                "releases, so they met different bytes")

    def hint(self, before: str = " ") -> str:
        """The known cases named beside the finding on the console (after `before`), or ""."""
        return f"{before}(known cases together: {', '.join(self.explained_by)})" if self.explained_by else ""

    def tags(self) -> list[str]:
        s = self.final.base
        return ["fuzz", self.kind, "tls" + s.tls.replace(".", ""), s.python]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind, "partition": [list(g) for g in self.partition], "key": self.key,
            "count": self.count, "file": self.file or None, "first": self.first.to_json(),
            "outcome": self.outcome.to_json(), "minimized": self.minimized.to_json() if self.minimized else None,
            "minimize_tests": self.tests, "reproduced": self.reproduced, "verified": self.verified,
            "explained_by": self.explained_by, "flip_landings": self.landings}
        return out


#: A hook's message name as the transcript names it, and which occurrence it is (None: every one).
_OCCURRENCE = {"client_hello_1": ("client_hello", 1), "client_hello_2": ("client_hello", 2),
               "hello_retry_request_2": ("hello_retry_request", 2)}


def flip_landings(stimulus: Stimulus, docs: Mapping[ReleaseKey, dict[str, Any]]) -> dict[str, list[str]]:
    """Where each flip_byte of the stimulus fell in the message it edited, per release, when
    that differs between releases: {"server_hello byte 39": ["1.19.8"], ...}; {} otherwise.
    The edit flips byte `offset` modulo the message's length with its 4-byte header; the
    length is the transcript's, as the Python side sent the message (a message whose length
    varies from run to run has none there, and is left out)."""
    flips = [e for e in stimulus.misbehave.get("message_edits") or [] if e.get("do") == "flip_byte"]
    role = stimulus.base.role.value
    landed: dict[str, set[str]] = {}
    for key, doc in docs.items():
        release = " ".join(key)
        for edit in flips:
            name, nth = _OCCURRENCE.get(edit["message"], (edit["message"], edit.get("nth")))
            for step in doc.get("steps", []):
                side = step.get(role) or {}
                sent = [m for m in (side.get("transcript") or {}).get("sent", []) if m.get("type") == name]
                for i, m in enumerate(sent, 1):
                    if (nth is None or i == nth) and "length" in m:
                        at = f"{edit['message']} byte {edit.get('offset', 0) % (m['length'] + 4)}"
                        landed.setdefault(at, set()).add(release)
    if len(landed) < 2:
        return {}
    order = [" ".join(k) for k in docs]

    def first_release(item: tuple[str, set[str]]) -> int:
        return min(order.index(r) for r in item[1])
    return {at: sorted(rs, key=order.index) for at, rs in sorted(landed.items(), key=first_release)}


def case_data(f: Finding, seed: int) -> dict[str, Any]:
    return f.final.case_data(f.description(), f"tlsdiff fuzz --seed {seed}", f.tags())


# ---------------------------------------------------------------- expectations


def _values(docs: Mapping[ReleaseKey, dict[str, Any]], step: int, side: str, name: str) -> dict[str, Any] | None:
    """release -> observed value of one field, or None when some release did not observe that side."""
    out = {}
    for key, doc in docs.items():
        if doc.get("unsupported"):
            continue
        s = next((x for x in doc["steps"] if x["step"] == step), None)
        side_doc = s.get(side) if s else None
        if side_doc is None:
            return None
        out[key[0]] = actual_value(side_doc, name)
    return out


def expect_entries(case: Case, docs: Mapping[ReleaseKey, dict[str, Any]]) -> list[dict[str, Any]]:
    """Expectations of the fields that differ between releases, at the first release's value
    (update.plan splits them by range); one more entry per step for ConnectionState fields
    that only some releases have, limited to those."""
    entries: list[dict[str, Any]] = []
    for step in case.steps:
        if step.kind != StepKind.CONNECT:
            continue
        common: dict[str, dict[str, Any]] = {}
        since: dict[str, dict[str, dict[str, Any]]] = {}  # line -> side -> state fields
        for side in ("client", "server"):
            for name in EXPECTED_FIELDS:
                got = _values(docs, step.number, side, name)
                if got and len({json.dumps(v, sort_keys=True) for v in got.values()}) > 1:
                    common.setdefault(side, {})[name] = next(iter(got.values()))
            for sf in EXPECTED_STATE:
                got = _values(docs, step.number, side, f"state.{sf.name}")
                have = {r: v for r, v in (got or {}).items() if v != ABSENT}
                if len({json.dumps(v, sort_keys=True) for v in have.values()}) < 2:
                    continue
                target = common if len(have) == len(got or {}) else since.setdefault(sf.since, {})
                target.setdefault(side, {}).setdefault("state", {})[sf.name] = next(iter(have.values()))
        if common:
            entries.append({"step": step.number, **common})
        for line, sides in since.items():
            entries.append({"step": step.number, "releases": f">={line}", **sides})
    return entries


# ---------------------------------------------------------------- YAML


def _yaml() -> Any:
    from ruamel.yaml import YAML
    y = YAML()
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)  # the layout of tlsdiff's case files (update.py keeps it)
    return y


def _styled(value: Any, depth: int = 0) -> Any:
    """ruamel nodes: short mappings and lists inline, as the hand-written cases have them."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    if isinstance(value, dict):
        node: Any = CommentedMap((k, _styled(v, depth + 1)) for k, v in value.items())
    elif isinstance(value, list):
        node = CommentedSeq(_styled(v, depth + 1) for v in value)
    else:
        return value
    if depth >= 2 and len(json.dumps(value)) <= 90:
        node.fa.set_flow_style()
    return node


def dump(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    _yaml().dump(_styled(data), buf)
    return buf.getvalue()


def write_case(path: Path, data: dict[str, Any]) -> None:
    path.write_text(dump(data), encoding="utf-8")


def load(path: Path, root: Path) -> Case:
    return load_case(path, root)


def add_expectations(path: Path, root: Path, data: dict[str, Any], docs: Mapping[ReleaseKey, dict[str, Any]],
                     order: Sequence[str]) -> Case:
    """Write the case file with expectations of what differs, split by range as `run --update`
    does; the case as loaded from it."""
    case = load(path, root)
    entries = expect_entries(case, docs)
    if not entries:
        return case
    write_case(path, {**data, "expect": entries})
    result = compare_case(load(path, root), dict(docs))
    for u in update.plan([result], order):
        update.write([u])
    return load(path, root)


# ---------------------------------------------------------------- findings.json


@dataclass
class Summary:
    """What findings.json holds besides the findings."""

    seed: int
    releases: list[dict[str, Any]]
    counts: dict[str, Any] = field(default_factory=dict)
    python_errors: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


def findings_json(summary: Summary, findings: Sequence[Finding]) -> str:
    doc = {"tlsdiff_fuzz": FORMAT_VERSION, "seed": summary.seed, "releases": summary.releases,
           "counts": summary.counts, "python_errors": summary.python_errors,
           "findings": [f.to_json() for f in findings], "timing": summary.timing}
    if summary.interrupted:
        doc["interrupted"] = True
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"
