"""`tlsdiff compat`: which tickets and persisted sessions survive a change of Go release.

For every ordered pair (a, b) of the releases and each TLS version it runs two cases on
real peers: a ticket sealed by release a's server under a shared key, presented to
release b's server (tickets/tls1N-cross-release-shared-key); and a client session
persisted by release a's client (SessionState.Bytes) restored by release b's and
resumed (encoding/tls1N-client-session-across-releases). Beside each outcome stands the
Python model's prediction (gomodel: how b opens a's ticket, how b parses a's session)
and its reason; a cell where the peers and the model disagree is a finding and fails
the command.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Sequence

import gomodel
from gomodel.tickets import TicketError, open_ticket, uses_key_name
from tlspeer.wire import decode_connection

from .execute import CaseRun, ticket_key_hex
from .scenario.model import ReleaseKey
from .toolchains.lines import release_of_name

TLS_VERSIONS = ("1.2", "1.3")
KINDS = ("ticket", "session")
CASES = {("ticket", "1.2"): "tickets/tls12-cross-release-shared-key",
         ("ticket", "1.3"): "tickets/tls13-cross-release-shared-key",
         ("session", "1.2"): "encoding/tls12-client-session-across-releases",
         ("session", "1.3"): "encoding/tls13-client-session-across-releases"}
SHARED_KEY = bytes.fromhex(ticket_key_hex("fleet"))  # the key those cases' servers share


@dataclass(frozen=True)
class Cell:
    kind: str  # "ticket" | "session"
    tls: str
    a: str  # the release that issued (sealed the ticket, persisted the session)
    b: str  # the release that read it
    resumed: bool | None  # what the peers did; None: the releases cannot (no session API before 1.21)
    model: bool | None  # what the model predicts
    why: str  # the model's reason, when not resumed

    @property
    def agrees(self) -> bool:
        return self.resumed == self.model

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tls": self.tls, "a": self.a, "b": self.b, "resumed": self.resumed,
                "model": self.model, "why": self.why, "agrees": self.agrees}


def tickets_sent(side: dict[str, Any]) -> list[bytes]:
    """The tickets a server put on the wire, from its recorded bytes and key log."""
    written, read = base64.b64decode(side["written"]), base64.b64decode(side["read"])
    conn = decode_connection(read, written, side["keylog"]).to_json()
    return [bytes.fromhex(m["summary"]["ticket"]) for m in conn["server_to_client"]["handshake_messages"]
            if m["name"] == "new_session_ticket" and m["summary"].get("ticket")]


def _is_legacy(name: str) -> bool:
    return uses_key_name(".".join(map(str, release_of_name(name)[:2])))


def predict_ticket(ticket: bytes, b: str) -> tuple[bool, str]:
    """Does release b's server, holding the shared key, resume on this ticket? And why not."""
    try:
        opened = open_ticket(ticket, [SHARED_KEY], b)
    except TicketError as exc:
        return False, f"{b} does not open it: {exc}"
    if _is_legacy(b):
        try:
            gomodel.legacy.decode(opened.plaintext)
        except ValueError as exc:
            return False, f"{b} opens it but cannot read the session: {exc}"
        return True, ""
    verdict = gomodel.parse(opened.plaintext, b)
    if verdict.error is not None:
        written = gomodel.describe(opened.plaintext).get("readable_by", "none")
        hint = f"; the session is readable by {written}{_because(written)}" if written != "none" else ""
        return False, f"{b} opens it but ParseSessionState says {verdict.error!r}{hint}"
    return True, ""


def predict_session(state: bytes, ticket: bytes, b: str) -> tuple[bool, str]:
    """Does release b's client restore this persisted session, and b's server then resume it?"""
    verdict = gomodel.parse(state, b)
    if verdict.error is not None:
        written = gomodel.describe(state).get("readable_by", "none")
        return False, (f"{b}'s ParseSessionState says {verdict.error!r} (the session is readable by "
                       f"{written}{_because(written)})")
    ok, why = predict_ticket(ticket, b)
    return ok, ("the session restores, but " + why) if not ok else ""


def _because(readable_by: str) -> str:
    """What changed in the encoding, where the model knows (gomodel.session_state.WHY_UNREADABLE)."""
    why = gomodel.session_state.WHY_UNREADABLE.get(readable_by)
    return f": {why}" if why else ""


def cells(runs: Sequence[CaseRun], tls_versions: Sequence[str]) -> list[Cell]:
    """A cell per (kind, TLS version, a, b) from the compat cases' raw runs."""
    out: list[Cell] = []
    by_case = {}
    for r in runs:
        by_case.setdefault(r.case.id, {})[r.key] = r
    for tls in tls_versions:
        for kind in KINDS:
            for key, run in by_case.get(CASES[(kind, tls)], {}).items():
                out.append(_cell(kind, tls, key, run))
    return out


def _cell(kind: str, tls: str, key: ReleaseKey, run: CaseRun) -> Cell:
    a, b = key
    if run.unsupported:
        return Cell(kind, tls, a, b, None, None if _is_legacy(a) or _is_legacy(b) else False,
                    run.unsupported.split(": ", 1)[-1])
    last = run.steps[-1]
    resumed = bool(last.server and last.server["state"].get("DidResume"))
    if kind == "ticket":
        ticket = tickets_sent(run.steps[0].server)[-1]
        model, why = predict_ticket(ticket, b)
    else:
        export = run.steps[1].session or {}
        state, ticket = base64.b64decode(export.get("state") or ""), base64.b64decode(export.get("ticket") or "")
        model, why = predict_session(state, ticket, b)
    return Cell(kind, tls, a, b, resumed, model, why)


# ---------------------------------------------------------------- reports


def _mark(c: Cell | None) -> str:
    if c is None:
        return "."
    text = "-" if c.resumed is None else ("yes" if c.resumed else "no")
    return text + ("!" if not c.agrees else "")


def render_terminal(found: Sequence[Cell], names: Sequence[str]) -> str:
    """A grid per TLS version and kind (rows: the issuing release, columns: the reader), then
    why each 'no' is a no, and every disagreement between the peers and the model."""
    lines: list[str] = []
    index = {(c.kind, c.tls, c.a, c.b): c for c in found}
    titles = {"ticket": "tickets sealed by a, presented to b's server (one shared key)",
              "session": "client sessions persisted by a, restored by b's client"}
    for tls in sorted({c.tls for c in found}):
        for kind in KINDS:
            if not any(c.kind == kind and c.tls == tls for c in found):
                continue
            lines += [f"TLS {tls}: {titles[kind]}", " " * 10 + "".join(f"{n:>10}" for n in names)]
            lines += [f"{a:>10}" + "".join(f"{_mark(index.get((kind, tls, a, b))):>10}" for b in names) for a in names]
            lines.append("")
    reasons = sorted({(c.tls, c.kind, c.a, c.b, c.why) for c in found if c.resumed is False})
    if reasons:
        lines.append("Why not:")
        lines += [f"  TLS {tls} {kind} {a} -> {b}: {why}" for tls, kind, a, b, why in reasons]
    wrong = [c for c in found if not c.agrees]
    if wrong:
        lines += ["", "The model disagrees with the peers (a finding: the model or Go is wrong):"]
        lines += [f"  TLS {c.tls} {c.kind} {c.a} -> {c.b}: peers {'resumed' if c.resumed else 'did not resume'}, "
                  f"model {'predicts resumption' if c.model else 'predicts none'} ({c.why or 'no reason'})"
                  for c in wrong]
    lines.append("yes: resumed; no: full handshake; -: not possible on that release; !: the model predicted "
                 "otherwise.")
    return "\n".join(lines) + "\n"


def render_markdown(found: Sequence[Cell], names: Sequence[str]) -> str:
    index = {(c.kind, c.tls, c.a, c.b): c for c in found}
    lines = ["## tlsdiff compat", ""]
    for tls in sorted({c.tls for c in found}):
        for kind in KINDS:
            if not any(c.kind == kind and c.tls == tls for c in found):
                continue
            lines += [f"**TLS {tls}, {kind}s** (rows: issued by, columns: read by)", "",
                      "| a \\ b | " + " | ".join(names) + " |", "|" + " --- |" * (len(names) + 1)]
            lines += [f"| {a} | " + " | ".join(_mark(index.get((kind, tls, a, b))) for b in names) + " |"
                      for a in names]
            lines.append("")
    for c in sorted((c for c in found if c.resumed is False), key=lambda c: (c.tls, c.kind, c.a, c.b)):
        lines.append(f"- TLS {c.tls} {c.kind} {c.a} → {c.b}: {c.why.replace('|', '/')}")
    return "\n".join(lines) + "\n"
