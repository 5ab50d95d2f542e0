"""The case model: what a loaded, validated case file holds."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .ranges import Range

#: What a run is keyed by: (release,) for pairing same, (a, b) for pairing cross.
ReleaseKey = tuple[str, ...]


def key_text(key: ReleaseKey) -> str:
    """"1.21.13" or "1.21.13>1.27.3": how a key is written in reports."""
    return ">".join(key)


class Pairing(StrEnum):
    SAME = "same"  # every endpoint on one release
    CROSS = "cross"  # endpoints on release a or b, every (a, b) pair


class Role(StrEnum):
    SERVER = "server"
    CLIENT = "client"


class StepKind(StrEnum):
    """The kinds of step a case may take (the keys of a step in the case file)."""

    CONNECT = "connect"
    CLONE = "clone"
    SET_TICKET_KEYS = "set_ticket_keys"
    EXPORT_SESSION = "export_session"
    IMPORT_SESSION = "import_session"
    FORGET_SESSION = "forget_session"


#: Steps whose result is an observation the report keeps and expectations judge.
SESSION_STEPS = frozenset({StepKind.EXPORT_SESSION, StepKind.IMPORT_SESSION})
OBSERVED_STEPS = frozenset({StepKind.CONNECT}) | SESSION_STEPS


#: The `peer` values that are not a pinned release: the releases of the key, and tlspeer.
KEY_PEERS = ("a", "b")
PYTHON_PEER = "python"


@dataclass(frozen=True)
class Endpoint:
    """A server or client configuration, named in the case."""

    name: str
    role: Role
    settings: dict[str, Any]
    peer: str = "a"  # "a"/"b": a release of the key; "python": tlspeer; "1.21"/"1.21.13": a pinned release
    godebug: str = ""  # the GODEBUG its Go peer process runs under: "name=value,..." sorted by name

    @property
    def pinned(self) -> str | None:
        """The Go release this endpoint is pinned to ("1.21", "1.21.13"), whatever the key; or None."""
        return None if self.peer in KEY_PEERS or self.peer == PYTHON_PEER else self.peer


@dataclass(frozen=True)
class Step:
    """One step, numbered from 1 as case authors count them."""

    number: int
    kind: StepKind
    args: dict[str, Any]
    at_seconds: int = 0  # the case clock, seconds after the epoch


@dataclass(frozen=True)
class Expectation:
    step: int
    sides: dict[str, dict[str, Any]]  # "client"/"server"/"session" -> field -> expected value
    releases: Range | None = None
    a: Range | None = None
    b: Range | None = None
    why: str = ""
    index: int = 0  # position in the case file, for messages

    def applies(self, key: ReleaseKey) -> bool:
        """Does this expectation apply to a run keyed by (release,) or (a, b)?"""
        if len(key) == 1:
            return self.releases is None or self.releases.contains(key[0])
        ok_a = self.a is None or self.a.contains(key[0])
        ok_b = self.b is None or self.b.contains(key[1])
        return ok_a and ok_b

    def label(self) -> str:
        scope = [f"{n}{r.text}" if n != "releases" else r.text for n, r in
                 (("releases", self.releases), ("a", self.a), ("b", self.b)) if r is not None]
        return f"expect[{self.index}] step {self.step}" + (f" ({', '.join(scope)})" if scope else "")


@dataclass(frozen=True)
class Case:
    id: str  # the path under cases/ without .yaml, e.g. "resumption/tls13-same-key"
    path: Path
    description: str
    source: str
    tags: tuple[str, ...]
    pairing: Pairing
    endpoints: dict[str, Endpoint]
    steps: tuple[Step, ...]
    expectations: tuple[Expectation, ...] = field(default=())
    file: str = ""  # how reports name the file: "cases/resumption/x.yaml" (scenario/catalog.report_name)

    @property
    def area(self) -> str:
        return self.id.split("/", 1)[0]
