"""Raw peer observations -> the stable, comparable observation of one side.

Alerts and the handshake transcript come from the wire: the bytes the side wrote
and read, decrypted by tlspeer with the connection's secrets (its own key log, and the
other side's for what its own lacks). ConnectionState comes from
the peer, with certificates named, per-connection values masked by name, and a
field the release lacks marked "absent".
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from typing import AbstractSet, Any

import gomodel
from tlspeer import keylog
from tlspeer.wire import DecodeCache, decode_connection

from .. import ech
from ..execute import CaseRun, StepResult
from ..scenario.model import OBSERVED_STEPS, Case
from .fields import ABSENT, OUTCOME_FIELDS, STATE_FIELDS
from .labels import Labeler, cache_key, cert_name, error_text
from .transcript import wire_view


def _state(raw: dict[str, Any], labels: Labeler, names: tuple[str, ...] = STATE_FIELDS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        if name not in raw:
            out[name] = ABSENT
            continue
        v = raw[name]
        if name in ("PeerCertificates", "LocalCertificate") and v is not None:
            v = [cert_name(f) for f in v]
        elif name == "VerifiedChains":
            v = [[cert_name(f) for f in chain] for chain in v]
        elif name == "TLSUnique" and v and set(v) != {"0"}:
            v = labels.name("U", v)
        elif name == "ExportKeyingMaterial" and "value" in v:
            v = labels.name("EKM", v["value"])
        elif name == "ExportKeyingMaterial":
            v = {"error": v["error"]}
        out[name] = v
    return out


def _cache(ops: list[dict[str, Any]], labels: Labeler) -> list[str]:
    out = []
    for op in ops:
        key = cache_key(op["key"])
        suffix = f" @{key}" if key != "example.test" else ""
        if op["op"] == "get":
            text = f"get hit {labels.name('T', op['ticket'])}" if op.get("hit") else "get miss"
            if op.get("note"):
                text += f" ({op['note']})"
        elif op["op"] == "put":
            text = f"put {labels.name('T', op['ticket'])}"
        else:
            text = "delete"
        out.append(text + suffix)
    return out


def _ech_retry_configs(raw: str | None) -> list[str] | None:
    """The retry configs of a client's ECHRejectionError, by name."""
    if raw is None:
        return None
    data = base64.b64decode(raw)
    return ech.names_in_list(data) if data else []


#: The ConnectionState fields of the agreement class: all an outcome-only document keeps.
OUTCOME_STATE: tuple[str, ...] = tuple(f[len("state."):] for f in OUTCOME_FIELDS if f.startswith("state."))


#: The two sides of a connection record the same streams, and releases that behave
#: alike send the same bytes: about a third of the directions a run decodes were
#: decoded before. Bounded, so a long fuzz campaign stays flat.
_DECODED = DecodeCache(size=2048)


def _keylog(raw: dict[str, Any], other: dict[str, Any] | None) -> str:
    """The key log a side's bytes are decrypted with: the other side's lines, then its
    own. Both ends of one connection hold the same secrets, but an end that fails before
    logging one may already have written under it: a Go 1.26+ server refusing a stray
    message when it sets its handshake read secret has set its write secret, and sends
    its alert encrypted, before it logs either. Its own lines last: where both logged a
    label, its own wins (the last line wins). A record opens only under its own key
    (AEAD, or TLS 1.2's MAC), so the other's secrets can open a record, never misread one."""
    own = raw.get("keylog") or ""
    theirs = (other or {}).get("keylog") or ""
    if not theirs or theirs == own or set(theirs.splitlines()) <= set(own.splitlines()):
        return own  # the usual case: both logged every secret, in their own order
    return keylog.union(theirs, own)


def _decode(raw: dict[str, Any], other: dict[str, Any] | None = None, earlier: str = "") -> Any:
    written = binascii.a2b_base64(raw.get("written") or "")  # base64.b64decode's work, without its checks
    read = binascii.a2b_base64(raw.get("read") or "")
    c2s, s2c = (written, read) if raw["role"] == "client" else (read, written)
    return decode_connection(c2s, s2c, _keylog(raw, other), _DECODED, earlier)


def _what_the_view_reads(conn: Any, outcome_only: bool = False) -> dict[str, Any]:
    """The part of Connection.to_json() that wire_view reads, made without the rest
    (every record's JSON is most of to_json's cost and none of the view's); for the
    outcome alone, of the handshake messages only the tickets' (counted and named)."""
    def direction(d: Any) -> dict[str, Any]:
        messages = d.handshake_messages
        if outcome_only:
            messages = [m for m in messages if m.name == "new_session_ticket"]
        return {"handshake_messages": [{"name": m.name, "length": m.length, "summary": m.summary,
                                        "decode_error": m.decode_error} for m in messages],
                "alerts": [{"level": a.level, "description": a.description, "level_name": a.level_name,
                            "description_name": a.description_name, "encrypted": a.encrypted} for a in d.alerts],
                "undecrypted_records": d.undecrypted_records}
    return {"client_to_server": direction(conn.client_to_server), "server_to_client": direction(conn.server_to_client),
            "hello_retry_request": conn.hello_retry_request}


def normalize_side(raw: dict[str, Any], labels: Labeler, conn: Any, outcome_only: bool = False) -> dict[str, Any]:
    """One side's document; conn: its connection decoded (_decode). outcome_only: only
    the fields of the agreement class (fields.OUTCOME_FIELDS), as the same values."""
    doc: dict[str, Any] = {
        "error": error_text(raw.get("handshake_error")),
        "io_error": error_text(raw.get("io_error")),
        "ech_retry_configs": _ech_retry_configs(raw.get("ech_retry_configs")),
    }
    if not outcome_only:
        doc["received"] = raw.get("received", "")
    doc.update(wire_view(_what_the_view_reads(conn, outcome_only), raw["role"], labels, transcript=not outcome_only))
    doc["cache"] = _cache(raw.get("cache_ops") or [], labels)
    doc["state"] = _state(raw.get("state") or {}, labels, OUTCOME_STATE if outcome_only else STATE_FIELDS)
    return doc


def normalize_session(raw: dict[str, Any], labels: Labeler) -> dict[str, Any]:
    """An export or import: the Go error, the encoding as the Python model reads
    it, and (import) what the model predicted the importing release would say."""
    doc: dict[str, Any] = {"error": raw.get("error")}
    state = base64.b64decode(raw["state"]) if raw.get("state") else None
    if raw.get("ticket"):
        doc["ticket"] = labels.name("T", hashlib.sha256(base64.b64decode(raw["ticket"])).hexdigest())
    if state is not None:
        doc.update(gomodel.describe(state))
        doc["model_error"] = gomodel.parse(state, raw["release"]).error
    return doc


def _failure(text: str, key: tuple[str, ...]) -> str:
    """A peer failure as the document keeps it: the peer named by its place in the
    key (`peer:`, or `peer a:`/`peer b:` in a cross pairing), not by its release, so
    that two releases that fail alike share an agreement class (the report's
    columns already say which release ran)."""
    for i, release in enumerate(key):
        text = text.replace(f"peer {release}:", "peer:" if len(key) == 1 else f"peer {'ab'[i]}:")
    return text


def normalize_step(step: StepResult, labels: Labeler, key: tuple[str, ...] = (),
                   outcome_only: bool = False, earlier: str = "") -> dict[str, Any]:
    """earlier: the master secrets the run's steps before this one logged."""
    doc: dict[str, Any] = {"step": step.step}
    if step.session is not None:
        doc["session"] = normalize_session(step.session, labels)
        return doc
    # The server side is decoded first: the server usually wrote more than the client
    # read (a close_notify the client never took), so its server-to-client stream holds
    # the client's, whose decoding the cache then cuts from it. The sides are normalized
    # client first: labels are given in that order.
    other = {"client": step.server, "server": step.client}
    decoded = {side: _decode(getattr(step, side), other[side], earlier)
               for side in ("server", "client") if getattr(step, side) is not None}
    for side in ("client", "server"):
        raw = getattr(step, side)
        doc[side] = normalize_side(raw, labels, decoded[side], outcome_only) if raw is not None else None
    if step.failure:
        doc["failure"] = _failure(step.failure, key)
        doc["stderr"] = step.stderr[-2000:]
    return doc


def observed_steps(case: Case) -> frozenset[int]:
    """The numbers of the case's steps whose outcome goes into the document."""
    return frozenset(s.number for s in case.steps if s.kind in OBSERVED_STEPS)


def normalize_run(run: CaseRun, observed: AbstractSet[int] | None = None, outcome_only: bool = False) -> dict[str, Any]:
    """The observation document of one case on one release key; observed: the case's
    observed_steps, for a run handed over without its case (parallel.py); outcome_only:
    each side with only what its agreement class reads (a fuzz campaign's batches: the
    same classes, a third of the pickling, no transcript to build)."""
    labels = Labeler()
    doc: dict[str, Any] = {"steps": []}
    if run.endpoints:  # who ran each endpoint: the toolchain (or tlspeer) and its GODEBUG
        doc["endpoints"] = {name: run.endpoints[name].to_json() for name in sorted(run.endpoints)}
    if run.unsupported:
        doc["unsupported"] = run.unsupported
    if run.failure:
        doc["failure"] = _failure(run.failure, tuple(run.key))
        doc["stderr"] = run.stderr[-2000:]
    if observed is None:
        observed = observed_steps(run.case)
    earlier = ""  # the master secrets the run's connections so far logged (keylog.master_secret_lines)
    for i, step in enumerate(run.steps):
        if step.step in observed or step.failure:
            doc["steps"].append(normalize_step(step, labels, tuple(run.key), outcome_only, earlier))
        if step.session is None and i + 1 < len(run.steps):  # only a later connection reads them
            logs = ((side or {}).get("keylog") or "" for side in (step.client, step.server))
            earlier += keylog.master_secret_lines(*logs)
    return doc
