"""Running cases: a case x a release key -> raw observations from real peers.

A release key is (release,) for 'pairing: same' and (a, b) for 'pairing: cross'.
An endpoint runs on a release of the key, on the release it is pinned to, or on
tlspeer, in the pool's peer process for that release and its GODEBUG (Placement).
Each connect step asks the server's peer to listen and accept while the client's
peer connects; both sides answer with what they saw. A peer that hangs or dies
is killed by the protocol client; the step records why and the run goes on.

A run is written as steps (peers/steps.py): it yields each reply it waits for, so
every run in flight moves on one thread, the one that reads the peers' replies.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from . import ech, pki
from .peers.pool import PYTHON_PEER, PeerPool, python_instance
from .peers.protocol import PeerError, PeerFailure, PeerProcess, Reply, Unsupported
from .peers.steps import Await, Blocking, Steps, run_here, run_many
from .scenario.model import SESSION_STEPS, Case, Endpoint, ReleaseKey, Role, Step, StepKind, key_text
from .toolchains.lines import release_of_name

#: Runs in flight at once by default. A run is a few round trips between the harness
#: and the peers, waiting more than computing: with 4 in flight a default run left the
#: cores idle between them, and took a tenth longer (median of five runs each way,
#: taking turns). Cases run in order, so 16 put about two runs on each release's peer.
WORKERS = 16
#: How long one connection may take on the peer side, and how long the harness
#: waits for a reply beyond that before it declares the peer hung.
CONNECT_TIMEOUT_MS = 5000
REPLY_GRACE_S = 5.0
#: The Python peer waits this much longer than a Go peer: when both sides wait for a
#: message the other will never send, the Go side gives up first, so which side says
#: "i/o timeout" and which "EOF" does not depend on which deadline fires first.
PYTHON_TIMEOUT_LEAD_MS = 1000


@dataclass
class StepResult:
    step: int
    client: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    session: dict[str, Any] | None = None  # export_session / import_session result
    failure: str | None = None  # the peer hung, crashed or refused the step
    stderr: str = ""


@dataclass(frozen=True)
class Placement:
    """The peer process that runs an endpoint in one run: a Go toolchain, named as the
    columns name it ("1.21.13", "1.24.11+a1b2c3"), or tlspeer; and the GODEBUG it was
    started with. The pool keeps one process per placement. instance: which of the
    pool's tlspeer processes (peers.pool.python_instance); what ran is the same in each, so
    documents do not name it."""

    release: str
    godebug: str = ""
    instance: int = 0

    def to_json(self) -> dict[str, str]:
        return {"peer": self.release, **({"godebug": self.godebug} if self.godebug else {})}


@dataclass(frozen=True)
class Pin:
    """What a pinned release (`peer: "1.21"`) came to in this run: the toolchain that
    runs its endpoints (its column name), or why no toolchain of it can."""

    release: str = ""
    unavailable: str = ""


@dataclass
class CaseRun:
    case: Case
    key: ReleaseKey
    steps: list[StepResult] = field(default_factory=list)
    unsupported: str | None = None  # a peer cannot honour the case on its release
    failure: str | None = None  # setup failed (configure refused, peer died)
    stderr: str = ""
    seconds: float = 0.0
    endpoints: dict[str, Placement] = field(default_factory=dict)  # who ran each endpoint


def ticket_key_hex(name_or_hex: str) -> str:
    """Case ticket keys are names (derived deterministically) or 64 hex digits."""
    if len(name_or_hex) == 64 and all(c in "0123456789abcdef" for c in name_or_hex):
        return name_or_hex
    return hashlib.sha256(b"tlsdiff-ticket-key/" + name_or_hex.encode()).hexdigest()


def peer_config(ep: Endpoint, case: Case, prefix: str, release_key: ReleaseKey | None = None) -> dict[str, Any]:
    """Translate a case endpoint into the go-peer configure parameters."""
    s = ep.settings
    cfg: dict[str, Any] = {"rand_seed": f"{case.id}/{ep.name}"}
    if ep.peer == PYTHON and ep.role == Role.SERVER and release_key:
        # A Python server with ticket keys seals Go tickets in the layout of release a,
        # the release under test (its line: "1.24.11+a1b2c3" seals as 1.24).
        cfg["release_line"] = "1.%d" % release_of_name(release_key[0])[1]
    for key in ("min_version", "max_version", "cipher_suites", "curve_preferences", "alpn",
                "session_tickets_disabled", "insecure_skip_verify", "cache_capacity"):
        if key in s:
            cfg[key] = s[key]
    if ep.role == Role.SERVER:
        ident = pki.identity(s.get("certificate", "server"))
        cfg["certificates"] = [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}]
        if "client_auth" in s:
            cfg["client_auth"] = s["client_auth"]
        cfg["client_cas"] = [pki.root_pem(r) for r in s.get("client_cas", ["root-a"])]
        if "ticket_keys" in s:
            cfg["ticket_keys"] = [ticket_key_hex(k) for k in s["ticket_keys"]]
        if "wrap_session" in s:
            cfg["wrap_session"] = s["wrap_session"]
        if "session_ticket_key" in s:
            cfg["session_ticket_key"] = ticket_key_hex(s["session_ticket_key"])
        if "config_for_client" in s:
            cfg["config_for_client"] = prefix + s["config_for_client"]
        if "ech_keys" in s:
            cfg["ech_keys"] = ech_keys(s["ech_keys"], s.get("ech_retry"))
    else:
        cfg["server_name"] = s.get("server_name", pki.SERVER_NAME)
        cfg["root_cas"] = [pki.root_pem(r) for r in s.get("root_cas", ["root-a"])]
        if "certificate" in s:
            ident = pki.identity(s["certificate"])
            cfg["certificates"] = [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}]
        if "cache" in s:
            cfg["cache"] = prefix + s["cache"]
        if "ech_config_list" in s:
            cfg["ech_config_list"] = base64.b64encode(ech.config_list(s["ech_config_list"])).decode()
        if "get_client_certificate" in s:
            cfg["get_client_certificate"] = s["get_client_certificate"]
    # Both peers take misbehaviours the same way; the loader let through only
    # knobs of the peer that runs the endpoint, and key_shares only for tlspeer.
    if "reject_by_callback" in s:
        cfg["reject_by_callback"] = s["reject_by_callback"]
    for key in ("misbehave", "key_shares"):
        if key in s:
            cfg[key] = s[key]
    return cfg


def ech_keys(names: list[str], retry: list[str] | None) -> list[dict[str, Any]]:
    """A server's `ech_keys` as the peers take them; every key is sent as a retry
    config unless `ech_retry` names the ones that are."""
    out = []
    for name in names:
        k = ech.key(name)
        out.append({"config": base64.b64encode(k.config).decode(),
                    "private_key": base64.b64encode(k.private_key).decode(),
                    "send_as_retry": retry is None or name in retry})
    return out


PYTHON = PYTHON_PEER


def release_of(ep: Endpoint, key: ReleaseKey, pins: Mapping[str, Pin] | None = None) -> str:
    """Which peer runs an endpoint: a release of the key, its pinned release, or tlspeer.
    Unsupported when the pinned release cannot be had in this run."""
    if ep.peer == PYTHON:
        return PYTHON
    if ep.pinned is None:
        return key[1] if ep.peer == "b" and len(key) > 1 else key[0]
    pin = (pins or {}).get(ep.pinned)
    if pin is None:
        raise Unsupported(ep.pinned, f"endpoint {ep.name} is pinned to Go {ep.pinned}, which this run did not "
                                     "prepare (Run.prepare(cases) prepares the releases cases pin)")
    if pin.unavailable:
        raise Unsupported(ep.pinned, f"endpoint {ep.name} is pinned to a release this run cannot have: "
                                     f"{pin.unavailable}")
    return pin.release


def placement(ep: Endpoint, key: ReleaseKey, pins: Mapping[str, Pin] | None = None) -> Placement:
    """The peer process of an endpoint: its release, and its GODEBUG."""
    release = release_of(ep, key, pins)
    return Placement(release, "" if release == PYTHON else ep.godebug)


def _name(prefix: str, name: str) -> str:
    return prefix + name


def run_case(case: Case, key: ReleaseKey, pool: PeerPool, conn_timeout_ms: int = CONNECT_TIMEOUT_MS,
             pins: Mapping[str, Pin] | None = None) -> CaseRun:
    """Run every step of one case on one release key, on this thread; pins: what the
    releases its endpoints are pinned to came to (Run prepares them)."""
    return run_here(run_case_steps(case, key, pool, conn_timeout_ms, pins))


def run_case_steps(case: Case, key: ReleaseKey, pool: PeerPool, conn_timeout_ms: int = CONNECT_TIMEOUT_MS,
                   pins: Mapping[str, Pin] | None = None) -> Steps[CaseRun]:
    """run_case as steps: each reply it waits for, yielded."""
    started = time.monotonic()
    run = CaseRun(case, key)
    # The run's own number keeps its objects apart from a later run of the same case
    # and key on the same peer, whose configure may arrive before this run's drop.
    prefix = f"{case.id}#{key_text(key)}#{next(_RUN_NUMBERS)}#"
    endpoints = dict((n, e) for n, e in case.endpoints.items() if not _created_by_clone(case, n))
    used: set[Placement] = set()
    reply_timeout = conn_timeout_ms / 1000 + REPLY_GRACE_S
    blobs: dict[str, dict[str, Any]] = {}  # exported sessions by name
    ctx = _Context(case, key, prefix, pool, run.endpoints, used, reply_timeout)
    try:
        _place(case, key, pins, run.endpoints, python_instance(case.id, pool.python_instances))
        # Sent together, one batch per peer, then awaited in the case's order, so the
        # first endpoint that fails is the one reported.
        by_peer: dict[int, tuple[PeerProcess, list[Endpoint]]] = {}
        for ep in endpoints.values():
            peer = yield from ctx.peer(ep)
            by_peer.setdefault(id(peer), (peer, []))[1].append(ep)
        # The first connection's listener goes in its server peer's batch too, when the
        # client is on another peer (with both on one, `pair` listens).
        first = case.steps[0] if case.steps and case.steps[0].kind == StepKind.CONNECT else None
        listen_first = None
        if first is not None and first.args["server"] in endpoints:
            server = endpoints[first.args["server"]]
            server_peer = yield from ctx.peer(server)
            client_peer = yield from ctx.peer(case.endpoints[first.args["client"]])
            if server_peer is not client_peer and server_peer.serves("batch"):
                listen_first = server
        configuring: dict[str, tuple[PeerProcess, Reply]] = {}
        for peer, eps in by_peer.values():
            requests = [("configure", {"name": _name(prefix, ep.name), "role": ep.role,
                                       "config": peer_config(ep, case, prefix, key)}) for ep in eps]
            listens_here = listen_first is not None and listen_first in eps
            if listens_here:
                requests.append(("listen", _listen_params(prefix, first, listen_first)))
            sent = peer.send_batch(requests)
            if listens_here:
                ctx.listening[first.number] = sent.pop()
            configuring.update((ep.name, (peer, f)) for ep, f in zip(eps, sent))
        for peer, sent in configuring.values():
            yield Await(peer, sent, reply_timeout)
        for step in case.steps:
            result = StepResult(step.number)
            run.steps.append(result)
            try:
                yield from _run_step(ctx, step, result, conn_timeout_ms, blobs)
            except PeerFailure as exc:
                result.failure, result.stderr = str(exc), exc.stderr
                break  # the peer restarts empty: later steps have lost their state
    except Unsupported as exc:
        run.unsupported = f"{exc.release}: {exc.reason}"
    except PeerFailure as exc:
        run.failure, run.stderr = str(exc), exc.stderr
    except PeerError as exc:
        run.failure = str(exc)
    finally:
        for where in list(used):
            # Not awaited: nothing after it depends on it, and a peer that died is
            # restarted empty anyway (here, so that one that stopped answering is
            # given up before the next run waits on it).
            try:
                (yield from _peer_at(pool, where)).drop_later(prefix)
            except (PeerFailure, PeerError, Unsupported):
                pass
    run.seconds = time.monotonic() - started
    return run


_RUN_NUMBERS = itertools.count(1)


def _place(case: Case, key: ReleaseKey, pins: Mapping[str, Pin] | None, into: dict[str, Placement],
           python: int = 0) -> None:
    """Every endpoint's placement that can be had, into `into`, tlspeer's in its process
    number `python`; then Unsupported for the first pinned release that cannot (the
    report still names who would run the others)."""
    refused: Unsupported | None = None
    for ep in case.endpoints.values():
        try:
            where = placement(ep, key, pins)
            into[ep.name] = Placement(PYTHON, instance=python) if where.release == PYTHON else where
        except Unsupported as exc:
            refused = refused or exc
    if refused is not None:
        raise refused


@dataclass
class _Context:
    """What the steps of one case run share: names, the pool, and who runs each endpoint."""

    case: Case
    key: ReleaseKey
    prefix: str
    pool: PeerPool
    placements: dict[str, Placement]
    used: set[Placement]  # the peer processes that hold objects of this run
    reply_timeout: float
    listening: dict[int, Reply] = field(default_factory=dict)  # listens sent ahead, by step number

    def peer(self, ep: Endpoint) -> Steps[PeerProcess]:
        """The endpoint's peer process, noted as holding objects of this run."""
        where = self.placements[ep.name]
        peer = yield from _peer_at(self.pool, where)
        self.used.add(where)
        return peer


def _peer_at(pool: PeerPool, where: Placement) -> Steps[PeerProcess]:
    """The placement's peer process: the running one, or started on a helper thread."""
    peer = pool.ready(where.release, where.godebug, where.instance)
    if peer is None:
        peer = yield Blocking(lambda: pool.get(where.release, where.godebug, where.instance))
    return peer


def _created_by_clone(case: Case, name: str) -> bool:
    return any(s.kind == StepKind.CLONE and s.args["as"] == name for s in case.steps)


def _call(peer: PeerProcess, op: str, params: dict[str, Any], timeout: float) -> Steps[dict[str, Any]]:
    return (yield Await(peer, peer.send(op, params), timeout))


def _run_step(ctx: _Context, step: Step, result: StepResult, conn_timeout_ms: int,
              blobs: dict[str, dict[str, Any]]) -> Steps[None]:
    case, prefix, reply_timeout = ctx.case, ctx.prefix, ctx.reply_timeout
    if step.kind in SESSION_STEPS:
        yield from _session_step(ctx, step, result, blobs)
        return
    if step.kind == StepKind.CLONE:
        src = case.endpoints[step.args["server"]]
        params = {"name": _name(prefix, step.args["as"]), "from": _name(prefix, src.name),
                  "rand_seed": f"{case.id}/{step.args['as']}"}
        if "set" in step.args:
            params["set"] = _clone_set(step.args["set"], prefix)
        yield from _call((yield from ctx.peer(src)), "clone", params, reply_timeout)
        return
    if step.kind == StepKind.FORGET_SESSION:
        client = case.endpoints[step.args["client"]]
        yield from _call(
            (yield from ctx.peer(client)), "forget_session",
            {"cache": prefix + client.settings["cache"],
             "key": step.args.get("server_name", client.settings.get("server_name", pki.SERVER_NAME))},
            reply_timeout)
        return
    if step.kind == StepKind.SET_TICKET_KEYS:
        ep = case.endpoints[step.args["server"]]
        yield from _call(
            (yield from ctx.peer(ep)), "set_ticket_keys",
            {"name": _name(prefix, ep.name), "keys": [ticket_key_hex(k) for k in step.args["keys"]]},
            reply_timeout)
        return
    server_ep = case.endpoints[step.args["server"]]
    client_ep = case.endpoints[step.args["client"]]
    server_peer = yield from ctx.peer(server_ep)
    client_peer = yield from ctx.peer(client_ep)
    unix = int(pki.EPOCH.timestamp()) + step.at_seconds
    conn_id = f"{case.id}#{key_text(ctx.key)}#{step.number}"

    def common(ep: Endpoint) -> dict[str, Any]:
        lead = PYTHON_TIMEOUT_LEAD_MS if ep.peer == PYTHON else 0
        return {"conn_id": conn_id, "time": unix, "timeout_ms": conn_timeout_ms + lead}
    listen = _listen_params(prefix, step, server_ep)
    accept = {"listener": listen["name"], **common(server_ep)}
    connect = {"endpoint": _name(prefix, client_ep.name), **common(client_ep)}
    if server_peer is client_peer and server_peer.serves("pair"):
        # Both ends in one process: one round trip instead of three.
        listened, accepted, connected = server_peer.send_pair(listen, accept, connect)
        yield Await(server_peer, listened, reply_timeout)
    else:
        listened = ctx.listening.pop(step.number, None) or server_peer.send("listen", listen)
        port = (yield Await(server_peer, listened, reply_timeout))["port"]
        accepted = server_peer.send("accept", accept)
        connected = client_peer.send("connect", {**connect, "port": port})
    try:
        result.client = yield Await(client_peer, connected, reply_timeout)
    finally:
        # Always collect the server side, even when the client's peer failed.
        try:
            result.server = yield Await(server_peer, accepted, reply_timeout)
        except PeerError as exc:
            result.failure = f"server: {exc}"


def _listen_params(prefix: str, step: Step, server: Endpoint) -> dict[str, Any]:
    return {"name": f"{prefix}listener{step.number}", "endpoint": _name(prefix, server.name)}


def _clone_set(fields: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A clone step's `set`, in the peer's terms (as peer_config renders them)."""
    out = dict(fields)
    if "client_cas" in out:
        out["client_cas"] = [pki.root_pem(r) for r in out["client_cas"]]
    if "config_for_client" in out:
        out["config_for_client"] = prefix + out["config_for_client"]
    return out


def _session_step(ctx: _Context, step: Step, result: StepResult, blobs: dict[str, dict[str, Any]]) -> Steps[None]:
    """Export a client's cache entry as bytes, or import such bytes into a cache."""
    client = ctx.case.endpoints[step.args["client"]]
    release = ctx.placements[client.name].release
    params = {"cache": ctx.prefix + client.settings["cache"],
              "key": client.settings.get("server_name", pki.SERVER_NAME)}
    if step.kind == StepKind.EXPORT_SESSION:
        out = yield from _call((yield from ctx.peer(client)), "session", {"action": "export", **params},
                               ctx.reply_timeout)
        blobs[step.args["as"]] = out
        result.session = {"release": release, **out}
    else:
        blob = blobs[step.args["from"]]
        if "state" not in blob:
            result.session = {"release": release, "error": "nothing to import: the export failed"}
            return
        out = yield from _call((yield from ctx.peer(client)), "session",
                               {"action": "import", **params, "ticket": blob["ticket"], "state": blob["state"]},
                               ctx.reply_timeout)
        result.session = {"release": release, "state": blob["state"], **out}


def run_all(cases: Iterable[Case], keys_for: Callable[[Case], list[ReleaseKey]], pool: PeerPool,
            workers: int = WORKERS, on_done: Callable[[CaseRun], None] | None = None,
            conn_timeout_ms: int = CONNECT_TIMEOUT_MS, stop: threading.Event | None = None,
            pins: Mapping[str, Pin] | None = None) -> list[CaseRun]:
    """Run every case on every key, `workers` in flight at a time, all on the reactor
    (peers/steps.py); results in a stable order (on_done, on the reactor thread, is
    called as each run ends, so that the normalizer's worker gets it then, not after
    every run before it).

    Once `stop` is set no run starts; the runs in flight end as they would."""
    jobs = [(case, key) for case in cases for key in keys_for(case)]
    runs = run_many(
        [lambda case=case, key=key: run_case_steps(case, key, pool, conn_timeout_ms, pins) for case, key in jobs],
        workers, on_done, stop)
    return [run for run in runs if run is not None]
