"""The resumption model (gomodel.resumption) judged against what real Go servers did.

For every connection of a run in which a client offered a session to a Go server whose
ticket keys the case names, the model opens each offered ticket with those keys, reads
the session as the server's release would, and predicts from the server's
configuration, its clock and the ClientHello on the wire whether the server resumes,
ignores the session (a full handshake) or aborts. The prediction stands beside what the
server did; a disagreement is a finding: the model or Go is wrong.

Connections the model cannot judge are left out, with no prediction: servers with
automatic keys (their keys are drawn inside Go), `wrap_session`, `config_for_client`,
Python servers, and hellos that do not decode.

With Encrypted Client Hello the session is offered in the inner ClientHello, sealed on
the wire: the model reads the inner hellos, opened with the case's ECH configuration
(`ech.inner_hellos`), for a client that offers ECH and for a server that accepted it.
A server that rejected ECH decided on the outer hello, as the wire shows it.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from cryptography import x509

import gomodel
from gomodel import resumption as model
from gomodel.tickets import TicketError, open_ticket, uses_key_name
from tlspeer.errors import DecodeError
from tlspeer.handshake import decode_client_hello
from tlspeer.suites import SUITE_BY_ID, SUITE_BY_NAME
from tlspeer.wire import Connection, decode_connection

from . import ech, pki
from .pki import der_by_fingerprint
from .execute import PYTHON, CaseRun, release_of, ticket_key_hex
from .scenario.model import Endpoint, Role, StepKind
from .toolchains.lines import release_of_name

EMS_EXTENSION = 23
SESSION_TICKET_EXTENSION = 35
PSK_DHE_KE = 1
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
INVALID_BINDER = "tls: invalid PSK binder"  # the server chose the session and then checked its binder


@dataclass(frozen=True)
class Judgement:
    """The model's prediction for one side of one connection, beside what it did: a
    server's resumption decision, or what a client did with the session its cache gave."""

    case: str
    key: str  # the release key, as reports name it
    step: int
    release: str
    predicted: str  # server: resume | skip | abort; client: offer | ignore | delete
    why: str
    observed: str  # resume | skip | error: <text>
    agrees: bool
    side: str = "server"

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "key": self.key, "step": self.step, "side": self.side, "release": self.release,
                "predicted": self.predicted, "why": self.why, "observed": self.observed, "agrees": self.agrees}


def judge(runs: Iterable[CaseRun]) -> list[Judgement]:
    """Every resumption decision in the runs that the model can judge: servers', then
    clients'."""
    out: list[Judgement] = []
    for run in runs:
        if run.unsupported or run.failure:
            continue
        out.extend(_judge_run(run))
        out.extend(_judge_clients(run))
    return out


def _release(run: CaseRun, ep: Endpoint) -> str:
    """The toolchain that ran an endpoint: as the run placed it (a pinned release too), or,
    for a run recorded before runs kept that, the release of its key."""
    where = run.endpoints.get(ep.name)
    return where.release if where is not None else release_of(ep, run.key)


def _line(release: str) -> str:
    return ".".join(map(str, release_of_name(release)[:2]))


def _connection(side: dict[str, Any]) -> Connection:
    """One side's recorded connection, decoded (client to server, then server to client)."""
    written, read = base64.b64decode(side.get("written") or ""), base64.b64decode(side.get("read") or "")
    c2s, s2c = (written, read) if side.get("role") == "client" else (read, written)
    return decode_connection(c2s, s2c, side.get("keylog") or "")


def _judge_run(run: CaseRun) -> list[Judgement]:
    case, key = run.case, run.key
    keys: dict[str, list[bytes]] = {}  # each server's ticket keys as the steps left them
    for name, ep in case.endpoints.items():
        s = ep.settings
        if ep.role == Role.SERVER and "ticket_keys" in s:
            keys[name] = [bytes.fromhex(ticket_key_hex(k)) for k in s["ticket_keys"]]
        elif ep.role == Role.SERVER and "session_ticket_key" in s:
            keys[name] = [bytes.fromhex(ticket_key_hex(s["session_ticket_key"]))]
    out: list[Judgement] = []
    results = {r.step: r for r in run.steps}
    for step in case.steps:
        if step.kind == StepKind.SET_TICKET_KEYS:
            keys[step.args["server"]] = [bytes.fromhex(ticket_key_hex(k)) for k in step.args["keys"]]
            continue
        if step.kind == StepKind.CLONE and step.args["server"] in keys:
            keys[step.args["as"]] = list(keys[step.args["server"]])
            continue
        if step.kind != StepKind.CONNECT or step.number not in results:
            continue
        ep = case.endpoints[step.args["server"]]
        side = results[step.number].server
        if (ep.peer == PYTHON or ep.godebug or ep.name not in keys or side is None
                or {"wrap_session", "config_for_client", "session_tickets_disabled"} & set(ep.settings)):
            continue
        release = _release(run, ep)
        try:
            conn = _connection(side)
        except Exception:  # bytes the decoder refuses: nothing to judge  # noqa: BLE001
            continue
        try:
            hellos = _decided_on(conn, bool((side.get("state") or {}).get("ECHAccepted")))
        except Exception:  # a hello the decoder refuses: nothing to judge  # noqa: BLE001
            continue
        if not hellos:
            continue
        decision = _predict(ep.settings, keys[ep.name], release, int(pki.EPOCH.timestamp()) + step.at_seconds,
                            conn, hellos)
        if decision is None or not _reached(decision, side, conn):
            continue
        observed, agrees = _observed(side, decision)
        out.append(Judgement(case.id, ">".join(key), step.number, release, decision.action, decision.why,
                             observed, agrees))
    return out


def _reached(decision: model.Decision, side: dict[str, Any], conn: Connection) -> bool:
    """Did the server get as far as its session checks? When it sent no ServerHello, only
    if its error is one the checks themselves produce: a handshake can fail earlier (no
    common group, a hello it cannot decode)."""
    if any(m.name == "server_hello" for m in conn.server_to_client.handshake_messages):
        return True
    error = side.get("handshake_error")
    return ((decision.action == model.ABORT and error is not None)
            or (decision.action == model.RESUME and error == INVALID_BINDER))


def _observed(side: dict[str, Any], decision: model.Decision) -> tuple[str, bool]:
    error, resumed = side.get("handshake_error"), bool(side["state"].get("DidResume"))
    text = f"error: {error}" if error else ("resume" if resumed else "skip")
    if decision.action == model.ABORT:
        return text, error is not None
    if decision.action == model.RESUME:
        return text, resumed or error == INVALID_BINDER
    return text, not resumed


def _wire_hellos(conn: Connection) -> list[bytes]:
    return [m.body for m in conn.client_to_server.handshake_messages if m.name == "client_hello"]


def _decided_on(conn: Connection, inner: bool) -> list[Any]:
    """The ClientHellos a side decided on, decoded: the wire's, or (`inner`, with ECH)
    the inner ones; [] when the inner ones do not open."""
    bodies = _wire_hellos(conn)
    if inner:
        bodies = ech.inner_hellos(bodies) or []
    return [decode_client_hello(b) for b in bodies]


def _server_hello(conn: Connection) -> dict[str, Any] | None:
    """The last ServerHello's summary."""
    server_hellos = [m.summary for m in conn.server_to_client.handshake_messages if m.name == "server_hello"]
    return server_hellos[-1] if server_hellos else None


def _predict(settings: dict[str, Any], keys: Sequence[bytes], release: str, now: int,
             conn: Connection, hellos: list[Any]) -> model.Decision | None:
    server_hello = _server_hello(conn)
    hello = hellos[-1]  # after a HelloRetryRequest, the second ClientHello is the one checked
    version = _version(settings, hello, server_hello)
    view = model.ServerView(
        release=_line(release), now=now, version=version,
        client_suites=tuple(hello.cipher_suites), server_suites=_server_suites(settings, _line(release)),
        client_auth=settings.get("client_auth", "NoClientCert"),
        client_cas=tuple(pki.der(r) for r in settings.get("client_cas", ["root-a"])),
        client_offers_ems=hello.has_extension(EMS_EXTENSION))
    if version == model.TLS13:
        return _predict13(hello, server_hello, keys, view)
    ticket = _tls12_ticket(hello)
    if not ticket:
        return None
    session = _open(ticket, keys, view.release)
    if isinstance(session, str):
        return model.Decision(model.SKIP, session)
    return model.server_decision(session, view)


def _version(settings: dict[str, Any], hello: Any, server_hello: dict[str, Any] | None) -> int:
    """The negotiated version: the ServerHello's, or, when the server aborted before
    sending one, the highest both sides enable."""
    if server_hello is not None:
        return server_hello.get("selected_version") or server_hello.get("legacy_version")
    offered = hello.supported_versions() or [hello.legacy_version]
    if settings.get("max_version", "1.3") == "1.3" and model.TLS13 in offered:
        return model.TLS13
    return model.TLS12


def _predict13(hello: Any, server_hello: dict[str, Any] | None, keys: Sequence[bytes],
               view: model.ServerView) -> model.Decision | None:
    try:
        psk = hello.pre_shared_key()
    except DecodeError:  # Go refuses the hello before it looks at sessions
        return None
    if psk is None or not psk.identities:
        return None
    if PSK_DHE_KE not in (hello.psk_key_exchange_modes() or []):
        return model.Decision(model.SKIP, "the client does not offer psk_dhe_ke")
    if len(psk.identities) != len(psk.binders):
        return model.Decision(model.ABORT, "tls: invalid or missing PSK binders")
    offered13 = [SUITE_BY_ID[c] for c in hello.cipher_suites if c in SUITE_BY_ID and SUITE_BY_ID[c].tls13]
    # Without a ServerHello (the server aborted), the suite Go prefers: the client's first it knows.
    negotiated = (SUITE_BY_ID.get(server_hello.get("cipher_suite")) if server_hello is not None
                  else (offered13[0] if offered13 else None))
    reasons = []
    for i, identity in enumerate(psk.identities):
        if i >= model.MAX_CLIENT_PSK_IDENTITIES:
            reasons.append(f"the server looks at the first {model.MAX_CLIENT_PSK_IDENTITIES} identities only")
            break
        session = _open(identity.identity, keys, view.release)
        if isinstance(session, str):
            reasons.append(session)
            continue
        suite = SUITE_BY_ID.get(session.cipher_suite)
        ok = suite is not None and negotiated is not None and suite.prf_hash == negotiated.prf_hash
        decision = model.server_decision(session, dataclasses.replace(view, suite_hash_ok=ok))
        if decision.action != model.SKIP:
            return decision
        reasons.append(decision.why)
    return model.Decision(model.SKIP, "; ".join(dict.fromkeys(reasons)))


def _tls12_ticket(hello: Any) -> bytes:
    for e in hello.extensions or ():
        if e.ext_type == SESSION_TICKET_EXTENSION:
            return bytes(getattr(e, "ticket", None) or getattr(e, "data", b"") or b"")
    return b""


def _server_suites(settings: dict[str, Any], line: str) -> tuple[int, ...]:
    """The TLS 1.2 suites the server enables: the case's list, else the release's
    defaults, less those its certificate's key cannot serve."""
    names = settings.get("cipher_suites")
    ids = (gomodel.suites.default_tls12(line) if names is None
           else [SUITE_BY_NAME[n].id for n in names if n in SUITE_BY_NAME])
    return gomodel.suites.usable_with(ids, rsa_key=pki.SPECS[settings.get("certificate", "server")].rsa)


def _open(ticket: bytes, keys: Sequence[bytes], release: str) -> model.OfferedSession | str:
    """The session a server of `release` reads from a ticket, or why it reads none."""
    try:
        opened = open_ticket(ticket, keys, release)
    except TicketError as exc:
        return f"no key opens the ticket: {exc}"
    if uses_key_name(release):
        try:
            old = gomodel.legacy.decode(opened.plaintext)
        except ValueError as exc:
            return f"the session does not parse: {exc}"
        return model.OfferedSession(old.version, old.cipher_suite, old.created_at, tuple(old.certificates))
    verdict = gomodel.parse(opened.plaintext, release)
    if verdict.error is not None:
        return f"ParseSessionState: {verdict.error}"
    s = gomodel.decode(opened.plaintext, release)
    return model.OfferedSession(s.version, s.cipher_suite, s.created_at, tuple(s.certificates),
                                tuple((s.certificates[0], *c) if s.certificates else tuple(c)
                                      for c in s.verified_chains),
                                s.ext_master_secret)


def summary(found: Sequence[Judgement]) -> str:
    """One line, then each disagreement."""
    wrong = [j for j in found if not j.agrees]
    servers = sum(1 for j in found if j.side == "server")
    lines = [f"model: {servers} server and {len(found) - servers} client resumption decisions predicted, "
             f"{len(wrong)} where the model disagrees"]
    lines += [f"  {j.case} [{j.key}] step {j.step} {j.side}: model {j.predicted} ({j.why or 'all checks pass'}), "
              f"{j.side} {j.observed}" for j in wrong]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- clients


@dataclass(frozen=True)
class _Stored:
    """What a Go client put in its cache: the session as the model needs it, and the
    ticket's SHA-256 (how the recorded cache calls name it)."""

    session: model.CachedSession
    ticket_sha256: str


def _judge_clients(run: CaseRun) -> list[Judgement]:
    """For every Go client whose cache returned a session put by an earlier connection of
    the run: did it offer the session, ignore it, or delete it, as the model says?"""
    case, key = run.case, run.key
    untouched = {s.args["client"] for s in case.steps
                 if s.kind in (StepKind.IMPORT_SESSION, StepKind.FORGET_SESSION)}
    caches_touched = {case.endpoints[c].settings.get("cache") for c in untouched}
    results = {r.step: r for r in run.steps}
    stored: dict[str, _Stored] = {}  # by ticket hash, from every connection's puts
    out: list[Judgement] = []
    for step in case.steps:
        if step.kind != StepKind.CONNECT or step.number not in results:
            continue
        ep = case.endpoints[step.args["client"]]
        side = results[step.number].client
        if side is None:
            continue
        try:
            conn = _connection(side)
        except Exception:  # bytes the decoder refuses: nothing to judge  # noqa: BLE001
            continue
        now = int(pki.EPOCH.timestamp()) + step.at_seconds
        ops = side.get("cache_ops") or []
        judgeable = (ep.peer != PYTHON and not ep.godebug and "misbehave" not in ep.settings and ops
                     and ops[0]["op"] == "get"
                     and ops[0].get("hit") and ep.settings.get("cache") not in caches_touched)
        # An empty TLS 1.2 ticket is offered as the empty extension every hello carries
        # to ask for a ticket: on the wire, offering it and ignoring it look the same.
        ambiguous = ops and ops[0].get("ticket") == EMPTY_SHA256 and stored.get(EMPTY_SHA256) is not None \
            and stored[EMPTY_SHA256].session.version == model.TLS12
        if judgeable and not ambiguous and ops[0].get("ticket") in stored:
            release = _release(run, ep)
            try:
                decided = _client_predict(stored[ops[0]["ticket"]], ep.settings, release, now, side, conn)
            except DecodeError:
                decided = None
            if decided is not None:
                decision, observed = decided
                out.append(Judgement(case.id, ">".join(key), step.number, release, decision.action, decision.why,
                                     observed, decision.action == observed, side="client"))
        if ep.peer != PYTHON:
            stored.update(_puts(side, conn, now))
    return out


def _puts(side: dict[str, Any], conn: Connection, now: int) -> dict[str, _Stored]:
    """The sessions this connection put in the cache, keyed by their ticket's hash."""
    put = [o["ticket"] for o in side.get("cache_ops") or [] if o["op"] == "put"]
    state = side.get("state") or {}
    if not put or not state.get("PeerCertificates"):
        return {}
    certs = der_by_fingerprint()
    chain = tuple(certs[fp] for fp in state["PeerCertificates"] if fp in certs)
    verified = tuple(tuple(certs[fp] for fp in c if fp in certs) for c in state.get("VerifiedChains") or [])
    version = {"TLS 1.2": model.TLS12, "TLS 1.3": model.TLS13}.get(state.get("Version"))
    suite = SUITE_BY_NAME.get(state.get("CipherSuite"))
    if version is None or suite is None or len(chain) != len(state["PeerCertificates"]):
        return {}
    lifetimes = _ticket_lifetimes(conn)
    out = {}
    for digest in put:
        use_by = now + min(lifetimes.get(digest, 0), model.MAX_TICKET_LIFETIME)
        out[digest] = _Stored(model.CachedSession(version, suite.id, chain, verified, use_by), digest)
    return out


def _ticket_lifetimes(conn: Connection) -> dict[str, int]:
    """TLS 1.3 NewSessionTicket lifetimes the client read, by the ticket's SHA-256."""
    out = {}
    for m in conn.server_to_client.handshake_messages:
        if m.name == "new_session_ticket" and m.summary and m.summary.get("ticket"):
            ticket = bytes.fromhex(m.summary["ticket"])
            out[hashlib.sha256(ticket).hexdigest()] = int(m.summary.get("ticket_lifetime") or 0)
    return out


def _client_predict(stored: _Stored, settings: dict[str, Any], release: str, now: int,
                    side: dict[str, Any], conn: Connection) -> tuple[model.Decision, str] | None:
    # With ECH, loadSession decides on the hello that becomes the inner one.
    hellos = _decided_on(conn, "ech_config_list" in settings)
    if not hellos:
        return None
    hello = hellos[0]  # loadSession decides once, for the first hello
    s = stored.session
    suite = SUITE_BY_ID.get(s.cipher_suite)
    offered = [SUITE_BY_ID[c] for c in hello.cipher_suites if c in SUITE_BY_ID]
    leaf = x509.load_der_x509_certificate(s.server_chain[0])
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    view = model.ClientView(
        release=_line(release), now=now,
        versions=tuple(hello.supported_versions() or [hello.legacy_version]),
        suites=tuple(hello.cipher_suites),
        suite_hash_offered=any(o.tls13 and suite is not None and o.prf_hash == suite.prf_hash for o in offered),
        insecure_skip_verify=bool(settings.get("insecure_skip_verify")),
        name_matches=settings.get("server_name", pki.SERVER_NAME) in names,
        root_cas=tuple(pki.der(r) for r in settings.get("root_cas", ["root-a"])))
    decision = model.client_decision(s, view)
    return decision, _client_observed(stored, hellos, side)


def _client_observed(stored: _Stored, hellos: list[Any], side: dict[str, Any]) -> str:
    """offer: a hello carried the session's ticket; delete: the cache lost it right after
    the Get, with no ticket sent; ignore: neither."""
    for hello in hellos:
        try:
            psk = hello.pre_shared_key()
        except DecodeError:
            psk = None
        tickets = [i.identity for i in psk.identities] if psk is not None else []
        tickets.append(_tls12_ticket(hello))
        if any(hashlib.sha256(t).hexdigest() == stored.ticket_sha256 for t in tickets):
            return model.OFFER
    ops = side.get("cache_ops") or []
    return model.DELETE if len(ops) > 1 and ops[1]["op"] == "delete" else model.IGNORE
