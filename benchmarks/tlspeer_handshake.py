#!/usr/bin/env python3
"""How fast is a tlspeer TLS 1.3 handshake, next to Python's ssl (OpenSSL)?

    python benchmarks/tlspeer_handshake.py [--iterations N] [--json PATH]

Every figure comes from this one invocation and is printed, never asserted:

- tlspeer client <-> tlspeer server in one process, sans-IO (the bytes each
  engine writes are handed straight to the other): full handshakes with X25519
  and with the default groups (X25519MLKEM768 first), and resumed handshakes;
- the same full X25519 handshake over a socketpair, with a loop like
  tlspeer.driver's (sendall what the engine wrote, recv 64 KiB, feed it in);
- Python's ssl on both sides, through ssl.MemoryBIO and SSLContext.wrap_bio (also
  sans-IO, in one process) and over a socketpair, with the same certificate, key
  and root from tlsdiff.pki, TLS 1.3, certificate and host name verification on;
- tlspeer / ssl for each pairing, and whether tlspeer is no slower than 2x ssl;
- a cProfile of the tlspeer full handshake: top functions by cumulative and by
  own time.

See benchmarks/README.md ("tlspeer handshake") for what each figure means.
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import json
import os
import platform
import pstats
import select
import socket
import ssl
import statistics
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python-peer"))
sys.path.insert(0, str(REPO_ROOT))

import cryptography  # noqa: E402
from cryptography.hazmat.backends.openssl import backend as _crypto_backend  # noqa: E402

from tlsdiff import pki  # noqa: E402
from tlspeer import groups  # noqa: E402
from tlspeer.certs import Credential, load_roots  # noqa: E402
from tlspeer.client import ClientConfig, ClientEngine  # noqa: E402
from tlspeer.events import NewTicket  # noqa: E402
from tlspeer.server import ServerConfig, ServerEngine  # noqa: E402
from tlspeer.session import ClientTicket  # noqa: E402
from tlspeer.suites import SUITE_BY_ID  # noqa: E402

from tables import table  # benchmarks/tables.py (this folder is on sys.path when run)

DEFAULT_ITERATIONS = 300
TARGET_RATIO = 2.0
TIMEOUT_S = 5.0
PROFILE_TOP = 15
BLOCK = 20  # consecutive timed handshakes of one figure
# tlspeer's clock: the PKI's epoch, as in the tests, so the certificates are
# valid whatever the date. ssl has no clock to inject and uses the real one.
TLSPEER_NOW = pki.EPOCH.timestamp()
_EXT_KEY_SHARE = 51


def _clock() -> float:
    return TLSPEER_NOW


# ---------------------------------------------------------------- tlspeer


@dataclass
class Outcome:
    """What one handshake negotiated, as the client saw it."""

    group: str
    suite: str
    resumed: bool
    verified: bool
    client_key_shares: list[str] = field(default_factory=list)


def _group_name(group: int | None) -> str:
    return "-" if group is None else groups.GROUP_NAMES.get(group, f"0x{group:04x}")


def tlspeer_memory(ccfg: ClientConfig, scfg: ServerConfig,
                   tickets: list[ClientTicket]) -> tuple[ClientEngine, list[ClientTicket]]:
    """One handshake, sans-IO: each engine's output is fed to the other until
    nothing moves (the server's NewSessionTicket included)."""
    client = ClientEngine(ccfg, tickets=tickets, now=_clock)
    server = ServerEngine(scfg, now=_clock)
    client.start()
    new_tickets = []
    c2s = client.data_to_send()
    while True:
        if c2s:
            server.receive_data(c2s)
        s2c = server.data_to_send()
        if s2c:
            for ev in client.receive_data(s2c):
                if isinstance(ev, NewTicket):
                    new_tickets.append(ev.ticket)
        c2s = client.data_to_send()
        if not c2s and not s2c:
            break
    if not (client.handshake_complete and server.handshake_complete):
        raise RuntimeError("tlspeer: the handshake did not complete")
    return client, new_tickets


@dataclass
class _End:
    """One side of a socketpair, driven as tlspeer.driver.TLSConnection drives it."""

    sock: socket.socket
    engine: ClientEngine | ServerEngine
    deadline: float
    written: bytearray = field(default_factory=bytearray)
    read: bytearray = field(default_factory=bytearray)
    tickets: list[ClientTicket] = field(default_factory=list)

    def flush(self) -> None:
        data = self.engine.data_to_send()
        if data:
            self.written += data
            self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            self.sock.sendall(data)

    def pump(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("tls: i/o timeout")
        self.sock.settimeout(remaining)
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("EOF")
        self.read += data
        for ev in self.engine.receive_data(data):
            if isinstance(ev, NewTicket):
                self.tickets.append(ev.ticket)
        self.flush()


def tlspeer_socketpair(ccfg: ClientConfig, scfg: ServerConfig,
                       tickets: list[ClientTicket]) -> tuple[ClientEngine, list[ClientTicket]]:
    """One handshake over a socketpair, both ends in this thread: select picks
    the end that has bytes to read, which then reads once, feeds its engine and
    sends what the engine wrote."""
    a, b = socket.socketpair()
    try:
        deadline = time.monotonic() + TIMEOUT_S
        client = _End(a, ClientEngine(ccfg, tickets=tickets, now=_clock), deadline)
        server = _End(b, ServerEngine(scfg, now=_clock), deadline)
        ends = {a: client, b: server}
        client.engine.start()
        client.flush()
        while not (client.engine.handshake_complete and server.engine.handshake_complete
                   and len(client.written) == len(server.read)
                   and len(server.written) == len(client.read)):
            readable, _, _ = select.select([a, b], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                raise TimeoutError("tlspeer: handshake over the socketpair timed out")
            for s in readable:
                ends[s].pump()
        return client.engine, client.tickets
    finally:
        a.close()
        b.close()


def tlspeer_outcome(client: ClientEngine) -> Outcome:
    info = client.info
    return Outcome(_group_name(info.group), SUITE_BY_ID[info.cipher_suite].name, info.resumed,
                   info.verified, [_group_name(g) for g in client.config.share_ids])


# ---------------------------------------------------------------- Python's ssl


def ssl_contexts(curve: str | None, cert_dir: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(client, server): TLS 1.3 only, the server with tlsdiff.pki's 'server'
    identity and one ticket per connection (as tlspeer), the client verifying
    against root-a with host name checking. `curve` restricts both to one group."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_dir / "chain.pem", cert_dir / "key.pem")
    server.num_tickets = 1
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    client.load_verify_locations(cadata=pki.root_pem("root-a"))
    for ctx in (client, server):
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        if curve is not None:
            ctx.set_ecdh_curve(curve)
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    return client, server


def _ssl_step(obj: ssl.SSLObject | ssl.SSLSocket) -> bool:
    try:
        obj.do_handshake()
        return True
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False


def _ssl_ticket(obj: ssl.SSLObject | ssl.SSLSocket) -> ssl.SSLSession | None:
    """Let the client read what arrived after its handshake (the NewSessionTicket);
    the session once it holds a ticket, else None."""
    try:
        obj.read(1)
    except ssl.SSLWantReadError:
        pass
    session = obj.session
    return session if session is not None and session.has_ticket else None


def ssl_memory(cctx: ssl.SSLContext, sctx: ssl.SSLContext, session: ssl.SSLSession | None,
               capture: list[bytes] | None = None) -> tuple[ssl.SSLObject, ssl.SSLSession]:
    """One handshake through MemoryBIOs, sans-IO: the bytes each side writes are
    moved to the other's incoming BIO until nothing moves, then the client reads
    the ticket. `capture` collects the first flight each way (for the group)."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(c_in, c_out, server_hostname=pki.SERVER_NAME, session=session)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    c_done = s_done = False
    for _ in range(20):
        if not c_done:
            c_done = _ssl_step(client)
        c2s = c_out.read()
        if c2s:
            s_in.write(c2s)
        if not s_done:
            s_done = _ssl_step(server)
        s2c = s_out.read()
        if s2c:
            c_in.write(s2c)
        if capture is not None and len(capture) < 2:
            capture += [x for x in (c2s, s2c) if x][:2 - len(capture)]
        if c_done and s_done and not c2s and not s2c:
            break
    else:
        raise RuntimeError("ssl: the handshake did not complete")
    ticket = _ssl_ticket(client)
    if ticket is None:
        raise RuntimeError("ssl: no session ticket after the handshake")
    return client, ticket


def ssl_socketpair(cctx: ssl.SSLContext, sctx: ssl.SSLContext,
                   session: ssl.SSLSession | None) -> tuple[ssl.SSLSocket, ssl.SSLSession]:
    """One handshake over a non-blocking socketpair, both ends in this thread."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    client = cctx.wrap_socket(a, server_hostname=pki.SERVER_NAME, do_handshake_on_connect=False,
                              session=session)
    server = sctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        pending = [client, server]
        while True:
            pending = [s for s in pending if not _ssl_step(s)]
            if not pending:
                break
            if not select.select(pending, [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("ssl: handshake over the socketpair timed out")
        while (ticket := _ssl_ticket(client)) is None:
            if not select.select([client], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("ssl: no session ticket after the handshake")
        return client, ticket
    finally:
        client.close()
        server.close()


def _hello_key_shares(flight: bytes) -> list[int]:
    """The key_share groups of the ClientHello or ServerHello that starts `flight`
    (one plaintext handshake record)."""
    if len(flight) < 9 or flight[0] != 22 or flight[5] not in (1, 2):
        return []
    client_hello = flight[5] == 1
    body = flight[9:5 + int.from_bytes(flight[3:5], "big")]
    pos = 2 + 32
    pos += 1 + body[pos]  # legacy_session_id
    if client_hello:
        pos += 2 + int.from_bytes(body[pos:pos + 2], "big")  # cipher_suites
        pos += 1 + body[pos]  # compression_methods
    else:
        pos += 3  # cipher_suite, compression_method
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    while pos + 4 <= end:
        ext_type = int.from_bytes(body[pos:pos + 2], "big")
        length = int.from_bytes(body[pos + 2:pos + 4], "big")
        data = body[pos + 4:pos + 4 + length]
        pos += 4 + length
        if ext_type != _EXT_KEY_SHARE:
            continue
        if not client_hello:
            return [int.from_bytes(data[:2], "big")]
        out, i = [], 2
        while i + 4 <= len(data):
            out.append(int.from_bytes(data[i:i + 2], "big"))
            i += 4 + int.from_bytes(data[i + 2:i + 4], "big")
        return out
    return []


def ssl_outcome(client: ssl.SSLObject, cctx: ssl.SSLContext, flights: list[bytes]) -> Outcome:
    offered = _hello_key_shares(flights[0]) if flights else []
    chosen = _hello_key_shares(flights[1]) if len(flights) > 1 else []
    return Outcome(_group_name(chosen[0]) if chosen else "?", client.cipher()[0],
                   client.session_reused,
                   cctx.verify_mode == ssl.CERT_REQUIRED and cctx.check_hostname
                   and not client.session_reused,
                   [_group_name(g) for g in offered])


# ---------------------------------------------------------------- the benchmarks


@dataclass
class Bench:
    """One figure: `once()` makes one timed handshake; `describe()` one more,
    untimed, saying what was negotiated."""

    key: str
    label: str
    side: str  # "tlspeer" or "ssl"
    once: Callable[[], Any]
    describe: Callable[[], Outcome]
    samples: list[float] = field(default_factory=list)
    outcome: Outcome | None = None

    def summary(self) -> dict[str, Any]:
        s = self.samples
        total = sum(s)
        return {
            "label": self.label, "side": self.side, "iterations": len(s),
            "handshakes_per_second": len(s) / total if total else None,
            "median_ms": statistics.median(s) * 1e3,
            "p90_ms": statistics.quantiles(s, n=10)[-1] * 1e3 if len(s) > 1 else s[0] * 1e3,
            "mean_ms": statistics.fmean(s) * 1e3,
            "min_ms": min(s) * 1e3,
            "negotiated": None if self.outcome is None else vars(self.outcome),
            "samples_ms": [x * 1e3 for x in s],
        }


def tlspeer_bench(key: str, label: str, ccfg: ClientConfig, scfg: ServerConfig, *,
                  resumed: bool, transport: Callable[..., tuple[ClientEngine, list[ClientTicket]]]
                  ) -> Bench:
    # Resumed handshakes chain: each uses the ticket the previous one received,
    # as a client with a one-entry cache would.
    state: dict[str, list[ClientTicket]] = {"tickets": []}
    if resumed:
        state["tickets"] = tlspeer_memory(ccfg, scfg, [])[1][:1]

    def once() -> ClientEngine:
        client, tickets = transport(ccfg, scfg, state["tickets"] if resumed else [])
        if resumed:
            if not client.info.resumed:
                raise RuntimeError(f"{label}: tlspeer did not resume")
            state["tickets"] = tickets[:1]
        return client

    return Bench(key, label, "tlspeer", once, lambda: tlspeer_outcome(once()))


def ssl_bench(key: str, label: str, cctx: ssl.SSLContext, sctx: ssl.SSLContext, *,
              resumed: bool, socketpair: bool = False) -> Bench:
    state: dict[str, ssl.SSLSession | None] = {"session": None}
    if resumed:
        state["session"] = ssl_memory(cctx, sctx, None)[1]

    def once() -> Any:
        session = state["session"] if resumed else None
        if socketpair:
            client, ticket = ssl_socketpair(cctx, sctx, session)
        else:
            client, ticket = ssl_memory(cctx, sctx, session)
        if resumed:
            if not client.session_reused:
                raise RuntimeError(f"{label}: ssl did not resume")
            state["session"] = ticket
        return client

    def describe() -> Outcome:
        flights: list[bytes] = []
        session = state["session"] if resumed else None
        client, ticket = ssl_memory(cctx, sctx, session, flights)
        if resumed:
            state["session"] = ticket
        return ssl_outcome(client, cctx, flights)

    return Bench(key, label, "ssl", once, describe)


# The pairings compared: (key, label, tlspeer bench key, ssl bench key).
PAIRINGS = [
    ("full_x25519", "full, X25519, in memory", "tlspeer_full_x25519", "ssl_full_x25519"),
    ("full_default", "full, default groups, in memory", "tlspeer_full_default", "ssl_full_default"),
    ("resumed_x25519", "resumed, X25519, in memory", "tlspeer_resumed_x25519", "ssl_resumed_x25519"),
    ("resumed_default", "resumed, default groups, in memory", "tlspeer_resumed_default",
     "ssl_resumed_default"),
    ("full_x25519_socketpair", "full, X25519, socketpair", "tlspeer_full_x25519_socketpair",
     "ssl_full_x25519_socketpair"),
]


def build_benches(cert_dir: Path) -> tuple[list[Bench], Callable[[], Any], str]:
    """Every Bench, and the function the profile runs (with its description)."""
    ident = pki.identity("server")
    credential = Credential.from_pem(ident.chain_pem, ident.key_pem)
    roots = load_roots([pki.root_pem("root-a")])
    c_x25519 = ClientConfig(server_name=pki.SERVER_NAME, roots=roots, groups=["X25519"])
    c_default = ClientConfig(server_name=pki.SERVER_NAME, roots=roots)
    scfg = ServerConfig(certificate=credential)  # default groups; one ticket per connection
    ssl_x25519 = ssl_contexts("X25519", cert_dir)
    ssl_default = ssl_contexts(None, cert_dir)
    benches = [
        tlspeer_bench("tlspeer_full_x25519", "full, X25519, in memory", c_x25519, scfg,
                      resumed=False, transport=tlspeer_memory),
        ssl_bench("ssl_full_x25519", "full, X25519, in memory", *ssl_x25519, resumed=False),
        tlspeer_bench("tlspeer_full_default", "full, default groups, in memory", c_default, scfg,
                      resumed=False, transport=tlspeer_memory),
        ssl_bench("ssl_full_default", "full, default groups, in memory", *ssl_default,
                  resumed=False),
        tlspeer_bench("tlspeer_resumed_x25519", "resumed, X25519, in memory", c_x25519, scfg,
                      resumed=True, transport=tlspeer_memory),
        ssl_bench("ssl_resumed_x25519", "resumed, X25519, in memory", *ssl_x25519, resumed=True),
        tlspeer_bench("tlspeer_resumed_default", "resumed, default groups, in memory", c_default,
                      scfg, resumed=True, transport=tlspeer_memory),
        ssl_bench("ssl_resumed_default", "resumed, default groups, in memory", *ssl_default,
                  resumed=True),
        tlspeer_bench("tlspeer_full_x25519_socketpair", "full, X25519, socketpair", c_x25519,
                      scfg, resumed=False, transport=tlspeer_socketpair),
        ssl_bench("ssl_full_x25519_socketpair", "full, X25519, socketpair", *ssl_x25519,
                  resumed=False, socketpair=True),
    ]

    profiled = functools.partial(tlspeer_memory, c_default, scfg, [])
    return benches, profiled, "full handshake, default groups, in memory"


def run_rounds(benches: list[Bench], iterations: int, warmup: int) -> None:
    """Rounds of BLOCK handshakes per figure, the figures taking turns, until each
    has `iterations`: a slow moment of the machine hits every figure alike, while
    each block runs with its own code and data in the CPU caches (one handshake
    at the start of a block is not timed). Strict one-by-one alternation would
    make every handshake start with caches full of the other library's state."""
    for _ in range(warmup):
        for b in benches:
            b.once()
    gc.collect()
    clock = time.perf_counter
    done = 0
    while done < iterations:
        n = min(BLOCK, iterations - done)
        for b in benches:
            b.once()
            for _ in range(n):
                t0 = clock()
                b.once()
                b.samples.append(clock() - t0)
        done += n


# ---------------------------------------------------------------- the profile


def _short_path(path: str) -> str:
    """A source path relative to the repository, site-packages or the standard
    library, so that no machine's own directories are printed."""
    if path == "~" or path.startswith("<"):
        return path
    p = os.path.abspath(path)
    try:
        return Path(p).relative_to(REPO_ROOT).as_posix()
    except ValueError:
        pass
    paths = sysconfig.get_paths()
    for label, base in (("site-packages", paths.get("purelib")), ("site-packages", paths.get("platlib")),
                        ("stdlib", paths.get("stdlib"))):
        if base and p.startswith(os.path.abspath(base) + os.sep):
            return f"<{label}>/{Path(p).relative_to(os.path.abspath(base)).as_posix()}"
    return os.path.basename(p)


def _func_name(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":
        return name
    return f"{_short_path(path)}:{line}({name})"


def profile(fn: Callable[[], Any], iterations: int) -> dict[str, Any]:
    fn()  # warm
    prof = cProfile.Profile()
    gc.collect()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(iterations):
        fn()
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows = []
    for key, (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        if key[2].startswith("<method 'disable' of '_lsprof.Profiler'"):
            continue
        rows.append({"function": _func_name(key), "calls_per_handshake": ncalls / iterations,
                     "tottime_ms": tottime / iterations * 1e3,
                     "cumtime_ms": cumtime / iterations * 1e3})
    total = sum(r["tottime_ms"] for r in rows)
    by = {k: sorted(rows, key=lambda r: r[k], reverse=True)[:PROFILE_TOP]
          for k in ("cumtime_ms", "tottime_ms")}
    return {"iterations": iterations, "wall_ms_per_handshake": wall / iterations * 1e3,
            "profiled_ms_per_handshake": total, "by_cumulative": by["cumtime_ms"],
            "by_total": by["tottime_ms"]}


# ---------------------------------------------------------------- printing


def profile_table(rows: list[dict[str, Any]]) -> str:
    out = [["calls/hs", "own ms/hs", "cum ms/hs", "function"]]
    for r in rows:
        calls = r["calls_per_handshake"]
        out.append([f"{calls:.0f}" if calls >= 10 else f"{calls:.2f}".rstrip("0").rstrip("."),
                    f"{r['tottime_ms']:.3f}", f"{r['cumtime_ms']:.3f}", r["function"]])
    return table(out, {0, 1, 2})


def _ssl_default_groups_note(outcome: Outcome | None) -> str | None:
    if outcome is None:
        return None
    return (f"ssl's default: key shares offered {', '.join(outcome.client_key_shares) or '?'}, "
            f"group chosen {outcome.group}")


def _clock_advice(exc: Exception) -> str:
    spec = pki.SPECS["server"]
    return (f"benchmark: ssl failed to verify tlsdiff.pki's certificate: {exc}. ssl checks it "
            f"against this machine's clock; the certificates are valid from "
            f"{spec.not_before:%Y-%m-%d} to {spec.not_after:%Y-%m-%d}.")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/tlspeer_handshake.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                    help=f"timed handshakes per figure, and profiled handshakes "
                         f"(default {DEFAULT_ITERATIONS})")
    ap.add_argument("--json", type=Path, help="also save the figures here")
    args = ap.parse_args(argv)
    if args.iterations < 2:
        ap.error("--iterations must be at least 2")
    iterations = args.iterations
    warmup = min(50, max(5, iterations // 10))

    with tempfile.TemporaryDirectory(prefix="tlspeer-bench-") as tmp:
        cert_dir = Path(tmp)
        ident = pki.identity("server")
        (cert_dir / "chain.pem").write_text(ident.chain_pem)
        (cert_dir / "key.pem").write_text(ident.key_pem)
        try:
            benches, profiled, profiled_what = build_benches(cert_dir)
        except ssl.SSLCertVerificationError as exc:
            raise SystemExit(_clock_advice(exc)) from exc
        except ssl.SSLError as exc:  # Debian's 3.11.2 cannot limit a context to X25519
            raise SystemExit(f"benchmarks/tlspeer_handshake.py: this Python's ssl ({ssl.OPENSSL_VERSION}) "
                             f"cannot set up the side it compares tlspeer with: {exc}") from None
    by_key = {b.key: b for b in benches}

    print("tlspeer handshake: tlspeer client <-> tlspeer server, and Python's ssl on both sides")
    print(f"  machine: {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
          f"Python {platform.python_version()}")
    print(f"  ssl: {ssl.OPENSSL_VERSION}; tlspeer's crypto: cryptography {cryptography.__version__} "
          f"({_crypto_backend.openssl_version_text()})")
    print(f"  ML-KEM in cryptography: {'yes' if groups.MLKEM_UNAVAILABLE is None else 'no'}")
    print(f"  workload: TLS 1.3, server certificate '{ident.name}' (ECDSA P-256, chain to root-a, "
          f"Ed25519-signed), client verifies the chain and the name {pki.SERVER_NAME}; "
          f"one ticket per connection, read by the client")
    print(f"  iterations: {iterations} timed handshakes per figure after {warmup} warm-up, in "
          f"blocks of {BLOCK}, the figures taking turns")
    print()

    try:
        for b in benches:  # once untimed, before anything is timed: what each figure negotiates
            b.outcome = b.describe()
    except ssl.SSLCertVerificationError as exc:
        raise SystemExit(_clock_advice(exc)) from exc
    run_rounds(benches, iterations, warmup)
    summaries = {b.key: b.summary() for b in benches}

    rows = [["figure", "side", "handshakes/s", "median ms", "p90 ms", "group", "suite",
             "resumed", "verified"]]
    for b in benches:
        s, o = summaries[b.key], b.outcome
        rows.append([b.label, b.side, f"{s['handshakes_per_second']:,.0f}", f"{s['median_ms']:.3f}",
                     f"{s['p90_ms']:.3f}", o.group, o.suite, "yes" if o.resumed else "no",
                     "yes" if o.verified else "-"])
    print(table(rows, {2, 3, 4}))
    tl_default, ssl_default = by_key["tlspeer_full_default"].outcome, by_key["ssl_full_default"].outcome
    print(f"  tlspeer's default: key shares offered {', '.join(tl_default.client_key_shares)}, "
          f"group chosen {tl_default.group}")
    print(f"  {_ssl_default_groups_note(ssl_default)}")
    if ssl_default.group != tl_default.group:
        print(f"  note: the default groups differ ({tl_default.group} vs {ssl_default.group}): "
              "the 'default groups' ratios compare different key exchanges")
    suites = {b.outcome.suite for b in benches}
    if len(suites) > 1:
        print(f"  note: the suites differ ({', '.join(sorted(suites))}); both sides keep their "
              "default TLS 1.3 suite order, which Python's ssl cannot change")
    print()

    ratios = {}
    rows = [["pairing", "tlspeer ms", "ssl ms", "tlspeer / ssl", f"<= {TARGET_RATIO:g}x"]]
    for key, label, tl, sl in PAIRINGS:
        t, s = summaries[tl]["median_ms"], summaries[sl]["median_ms"]
        ratio = t / s
        ratios[key] = {"label": label, "tlspeer_median_ms": t, "ssl_median_ms": s, "ratio": ratio,
                       "rate_ratio": summaries[sl]["handshakes_per_second"]
                       / summaries[tl]["handshakes_per_second"],
                       "within_target": ratio <= TARGET_RATIO}
        rows.append([label, f"{t:.3f}", f"{s:.3f}", f"{ratio:.2f}x",
                     "yes" if ratio <= TARGET_RATIO else "no"])
    print("tlspeer / ssl: median time per handshake (above 1: tlspeer is slower)")
    print(table(rows, {1, 2, 3}))
    failing = [r["label"] for r in ratios.values() if not r["within_target"]]
    target_met = not failing
    print(f"target: tlspeer no slower than {TARGET_RATIO:g}x Python's ssl (every pairing above): "
          f"{'yes' if target_met else 'no'}" + (f" (not met: {'; '.join(failing)})" if failing else ""))
    print()

    prof = profile(profiled, iterations)
    print(f"cProfile: tlspeer {profiled_what}, {iterations} handshakes; per handshake: "
          f"{prof['wall_ms_per_handshake']:.3f} ms under the profiler "
          f"(median {summaries['tlspeer_full_default']['median_ms']:.3f} ms without)")
    print("  (the profiler's cost per call inflates Python functions called many times; "
          "C functions such as the crypto are closer to their real cost)")
    print(f"top {PROFILE_TOP} by cumulative time")
    print(profile_table(prof["by_cumulative"]))
    print(f"top {PROFILE_TOP} by own time (tottime)")
    print(profile_table(prof["by_total"]))

    if args.json:
        figures = {
            "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                        "platform": f"{platform.system()} {platform.machine()}",
                        "ssl_openssl": ssl.OPENSSL_VERSION,
                        "cryptography": cryptography.__version__,
                        "cryptography_openssl": _crypto_backend.openssl_version_text()},
            "iterations": iterations, "warmup": warmup,
            "figures": summaries, "ratios": ratios,
            "target": {"ratio": TARGET_RATIO, "met": target_met, "not_met": failing},
            "profile": {"what": profiled_what, **prof},
        }
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        print(f"figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
