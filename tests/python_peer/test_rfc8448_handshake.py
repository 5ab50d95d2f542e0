"""The tlspeer engines reproduce RFC 8448, byte for byte.

Each engine is run against the trace itself: the client is fed the trace's server
records and must write the trace's client records, every one; the server the
other way round. Then the two engines run against each other and must put the
trace's bytes on the wire both ways, with key logs that decrypt them. Sections:
3 (1-RTT), 4 (resumed 0-RTT, with the ticket section 3 issued), 5
(HelloRetryRequest with a cookie), 6 (client authentication), 7 (compatibility
mode).

What is injected, and why:

* `rand` is scripted with the trace's values, in the order the engines draw them
  (client: random, session id in compatibility mode, key shares; server: random,
  key share, then ticket_age_add and ticket per NewSessionTicket), and `now` is
  fixed (section 4 is 5 ms after section 3: its obfuscated ticket age says so).
* The CertificateVerify signatures are RSA-PSS (random salt) and ECDSA (random
  nonce), so they cannot be recomputed: each credential's deterministic `signer`
  hook returns the trace's signature; the peer engine still verifies it with the
  certificate's public key.
* Extensions tlspeer does not write (record_size_limit, padding,
  renegotiation_info, session_ticket; in EncryptedExtensions supported_groups and
  server_name) are taken from the trace through the `mutate` hook, in the
  trace's order. Every extension the engine does write is kept from the engine,
  so its bytes are checked; PSK binders are computed after the hook, over the
  hello as sent.
* The trace's certificates do not chain to anything, so the client skips chain
  verification (the signature check stays), and the server asks for a client
  certificate without verifying it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import pytest

from tlspeer import extensions as ext
from tlspeer import messages as M
from tlspeer.certs import Credential
from tlspeer.client import ClientConfig, ClientEngine
from tlspeer.engine import Engine
from tlspeer.events import ApplicationData, Event, HandshakeComplete, NewTicket
from tlspeer.hooks import Hooks
from tlspeer.keylog import parse_keylog
from tlspeer.misbehave import Misbehaviour
from tlspeer.record import parse_records
from tlspeer.server import ServerConfig, ServerEngine
from tlspeer.session import TicketStore
from tlspeer.wire import decode_connection

from rfc8448_trace import (DERIVE_STEP, KEYPAIR_STEP, SECTIONS, first_block,
                           flow, record_steps, steps)

T0 = 1_500_000_000.0  # section 3's clock; the trace has no time
SECTION4_AGE = 0.005  # 0x933d0937 - 0x933d0932 ms after section 3's ticket arrived
ROLES = ("client", "server")


# ---------------------------------------------------------------------------
# Inputs from the trace
# ---------------------------------------------------------------------------


class Script:
    """A rand that hands out the trace's values in order, checking each size."""

    def __init__(self, values: list[bytes]) -> None:
        self.values = list(values)

    def __call__(self, n: int) -> bytes:
        assert self.values, f"rand({n}) asked beyond the script"
        value = self.values.pop(0)
        assert len(value) == n, f"rand({n}) asked where the trace has {len(value)} bytes"
        return value


def _message(number: int, actor: str, cls: type, index: int = 0):  # type: ignore[no-untyped-def]
    found = [M.decode_message(msg.msg_type, msg.body) for who, msg in flow(number).messages
             if who == actor and msg.msg_type == cls.msg_type]
    found = [x for x in found if isinstance(x, cls)
             and (cls is not M.ServerHello or not x.is_hello_retry_request)]
    return found[index]


def _hrr(number: int) -> M.ServerHello | None:
    for who, msg in flow(number).messages:
        if msg.msg_type == M.SERVER_HELLO:
            sh = M.ServerHello.decode(msg.body)
            if sh.is_hello_retry_request:
                return sh
    return None


def _private_keys(number: int, actor: str) -> list[bytes]:
    return [s["private key"] for s in steps(number, KEYPAIR_STEP) if s.actor == actor]


def _signer(signature: bytes, scheme: int) -> Callable[[int, bytes], bytes]:
    def sign(asked: int, content: bytes) -> bytes:
        assert asked == scheme, f"asked to sign with 0x{asked:04x}, the trace used 0x{scheme:04x}"
        return signature
    return sign


def _credential(number: int, actor: str) -> Credential | None:
    try:
        cert = _message(number, actor, M.Certificate)
    except IndexError:
        return None
    cv = _message(number, actor, M.CertificateVerify)
    return Credential(cert.chain, signer=_signer(cv.signature, cv.scheme))


def _shaped_like_trace(expected: dict[str, M.Message]) -> Callable[[str, M.Message], M.Message]:
    """The mutate hook: the trace's extension list, in its order, with every
    extension the engine wrote kept from the engine."""
    def mutate(name: str, msg: M.Message) -> M.Message:
        want = expected.get(name)
        if want is None:
            return msg
        produced = {e.ext_type: e for e in msg.extensions or []}
        wanted_types = [e.ext_type for e in want.extensions or []]
        missing = set(produced) - set(wanted_types)
        assert not missing, f"{name}: the engine wrote extensions the trace lacks: {missing}"
        msg.extensions = [produced.get(e.ext_type, e) for e in want.extensions or []]
        return msg
    return mutate


def client_hello(number: int, index: int = 0) -> M.ClientHello:
    return _message(number, "client", M.ClientHello, index)


def client_config(number: int) -> ClientConfig:
    ch = client_hello(number)
    return ClientConfig(
        server_name="server", insecure_skip_verify=True,
        cipher_suites=list(ch.cipher_suites),
        groups=ch.find(ext.SupportedGroups).groups,
        key_share_groups=[s.group for s in ch.find(ext.KeyShareClient).shares],
        signature_algorithms=ch.find(ext.SignatureAlgorithms).schemes,
        compatibility_mode=bool(ch.session_id),
        psk_modes=ch.find(ext.PskKeyExchangeModes).modes,
        certificate=_credential(number, "client"),
        early_data=_early_data(number))


def _early_data(number: int) -> bytes | None:
    if not client_hello(number).has(ext.EXT_EARLY_DATA):
        return None
    return next(r.payload for r in record_steps(number)
                if r.actor == "client" and r.kind == "application_data")


def client_inputs(number: int) -> tuple[Script, Hooks]:
    ch = client_hello(number)
    values = [ch.random] + ([ch.session_id] if ch.session_id else []) + _private_keys(number, "client")
    expected = {"client_hello_1": ch}
    if _hrr(number) is not None:
        expected["client_hello_2"] = client_hello(number, 1)
    return Script(values), Hooks(mutate=_shaped_like_trace(expected))


def server_config(number: int, store: TicketStore) -> ServerConfig:
    ch = client_hello(number)
    hrr = _hrr(number)
    sh = _message(number, "server", M.ServerHello)
    groups = [s.group for s in ch.find(ext.KeyShareClient).shares]
    if hrr is not None:  # the server prefers the group it asked for, strictly
        groups = [hrr.find(ext.KeyShareHelloRetry).group] + groups
    nsts = [m for who, m in flow(number).messages if m.msg_type == M.NEW_SESSION_TICKET]
    nst = M.NewSessionTicket.decode(nsts[0].body) if nsts else None
    early = nst.find(ext.EarlyDataTicket) if nst else None
    try:
        cr = _message(number, "server", M.CertificateRequest)
    except IndexError:
        cr = None
    cookie = hrr.find(ext.Cookie) if hrr is not None else None
    return ServerConfig(
        # Section 4 resumes: the certificate is section 3's, and never sent.
        certificate=_credential(number, "server") or _credential(3, "server"),
        cipher_suites=[sh.cipher_suite], groups=groups,
        group_selection="strict",
        signature_algorithms=(cr.find(ext.SignatureAlgorithms).schemes if cr else
                              [0x0804, 0x0403]),
        client_auth="RequireAnyClientCert" if cr else "NoClientCert",
        ticket_store=store, tickets_to_send=len(nsts),
        ticket_lifetime=nst.lifetime if nst else 604800,
        ticket_length=len(nst.ticket) if nst else 32,
        max_early_data_size=early.max_early_data_size if early else 0,
        accept_early_data=ch.has(ext.EXT_EARLY_DATA),
        middlebox_ccs="if_session_id",
        misbehaviour=Misbehaviour(hrr_cookie=cookie.cookie if cookie else None))


def server_inputs(number: int) -> tuple[Script, Hooks]:
    sh = _message(number, "server", M.ServerHello)
    values = [sh.random] + _private_keys(number, "server")
    for who, msg in flow(number).messages:
        if msg.msg_type == M.NEW_SESSION_TICKET:
            nst = M.NewSessionTicket.decode(msg.body)
            values += [nst.age_add.to_bytes(4, "big"), nst.ticket]
    expected = {"encrypted_extensions": _message(number, "server", M.EncryptedExtensions)}
    return Script(values), Hooks(mutate=_shaped_like_trace(expected))


def now_of(number: int) -> float:
    return T0 + (SECTION4_AGE if number == 4 else 0.0)


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@dataclass
class Run:
    """One engine against the trace: what it wrote, record by record, next to
    what the trace has there."""

    records: list[tuple[bytes, bytes]] = field(default_factory=list)  # (trace, ours)
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # (hook name, bytes)
    events: list[Event] = field(default_factory=list)
    keylog: list[str] = field(default_factory=list)
    leftover: list[bytes] = field(default_factory=list)
    error: BaseException | None = None
    engine: Engine | None = None


def _capture(run: Run, hooks: Hooks) -> Hooks:
    def after(name: str, raw: bytes) -> bytes:
        run.messages.append((name, raw))
        return b""
    return Hooks(hooks.mutate, hooks.after_binders, after)


def _split(data: bytes) -> list[bytes]:
    records, rest = parse_records(data)
    assert rest == b""
    return [r.encode() for r in records]


def _drive(number: int, role: str, engine: Engine, run: Run) -> None:
    queue: list[bytes] = []
    if isinstance(engine, ClientEngine):
        engine.start()
    queue += _split(engine.data_to_send())
    for step in record_steps(number):
        if step.actor == role:
            if not queue:  # what the application does: send data, close
                if step.kind == "application_data":
                    engine.send_application_data(step.payload)
                elif step.kind == "alert":
                    engine.close()
                queue += _split(engine.data_to_send())
            run.records.append((step.record, queue.pop(0) if queue else b""))
        else:
            run.events += engine.receive_data(step.record)
            queue += _split(engine.data_to_send())
    run.leftover = queue


def _client_tickets(number: int) -> list:
    if number != 4:
        return []
    return [e.ticket for e in run_against_trace(3, "client").events if isinstance(e, NewTicket)]


def _server_store(number: int) -> TicketStore:
    if number != 4:
        return TicketStore()
    engine = run_against_trace(3, "server").engine
    assert isinstance(engine, ServerEngine)
    return engine.config.ticket_store


def make_engine(number: int, role: str, run: Run) -> Engine:
    if role == "client":
        rand, hooks = client_inputs(number)
        return ClientEngine(client_config(number), tickets=_client_tickets(number), rand=rand,
                            now=lambda: now_of(number), keylog=run.keylog.append,
                            hooks=_capture(run, hooks))
    rand, hooks = server_inputs(number)
    return ServerEngine(server_config(number, _server_store(number)), rand=rand,
                        now=lambda: now_of(number), keylog=run.keylog.append,
                        hooks=_capture(run, hooks))


@lru_cache(maxsize=None)
def run_against_trace(number: int, role: str) -> Run:
    run = Run()
    try:
        run.engine = make_engine(number, role, run)
        _drive(number, role, run.engine, run)
    except Exception as exc:  # reported by every test of the run
        run.error = exc
    return run


def _ok(run: Run) -> None:
    if run.error is not None:
        raise AssertionError(f"the engine failed: {type(run.error).__name__}: {run.error}") \
            from run.error


# ---------------------------------------------------------------------------
# One test per message and per record
# ---------------------------------------------------------------------------


def _params() -> tuple[list, list]:
    msgs, recs = [], []
    for n in SECTIONS:
        for role in ROLES:
            for i, (who, msg) in enumerate(m for m in flow(n).messages if m[0] == role):
                msgs.append(pytest.param(n, role, i, id=f"s{n}-{role}-{i}-{msg.name}"))
            for i, r in enumerate(r for r in record_steps(n) if r.actor == role):
                recs.append(pytest.param(n, role, i, id=f"s{n}-{role}-{i}-{r.kind}"))
    return msgs, recs


MESSAGE_PARAMS, RECORD_PARAMS = _params()


@pytest.mark.parametrize("number,role,index", MESSAGE_PARAMS)
def test_message(number: int, role: str, index: int) -> None:
    run = run_against_trace(number, role)
    _ok(run)
    expected = [msg.encode() for who, msg in flow(number).messages if who == role]
    assert len(run.messages) == len(expected)
    name, ours = run.messages[index]
    assert ours.hex() == expected[index].hex(), name


@pytest.mark.parametrize("number,role,index", RECORD_PARAMS)
def test_record(number: int, role: str, index: int) -> None:
    run = run_against_trace(number, role)
    _ok(run)
    trace_record, ours = run.records[index]
    assert ours.hex() == trace_record.hex()


@pytest.mark.parametrize("number", SECTIONS, ids=[f"s{n}" for n in SECTIONS])
@pytest.mark.parametrize("role", ROLES)
def test_run_is_complete(number: int, role: str) -> None:
    """Nothing left over, the handshake done, what each side learned right, and a
    key log with exactly Go's lines for this handshake."""
    run = run_against_trace(number, role)
    _ok(run)
    assert run.leftover == []
    done = [e.info for e in run.events if isinstance(e, HandshakeComplete)]
    assert len(done) == 1
    info = done[0]
    assert info.cipher_suite == 0x1301 and info.version == 0x0304
    assert info.resumed is (number == 4)
    assert info.hello_retry_request is (number == 5)
    assert info.group == (23 if number == 5 else 29)
    assert info.early_data_accepted is (number == 4)
    data = b"".join(e.data for e in run.events if isinstance(e, ApplicationData))
    if number == 4 and role == "server":
        assert data == b"ABCDEF" + bytes(range(50))
    elif number in (3, 4):
        assert data == bytes(range(50))
    if number == 6 and role == "server":
        assert info.peer_chain == _message(6, "client", M.Certificate).chain
    labels = {"c e traffic": "CLIENT_EARLY_TRAFFIC_SECRET",
              "c hs traffic": "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
              "s hs traffic": "SERVER_HANDSHAKE_TRAFFIC_SECRET",
              "c ap traffic": "CLIENT_TRAFFIC_SECRET_0", "s ap traffic": "SERVER_TRAFFIC_SECRET_0"}
    expected = {}
    for label, nss in labels.items():
        if label == "c e traffic" and number != 4:
            continue
        expected[nss] = first_block(number, DERIVE_STEP, label)
    assert parse_keylog("".join(run.keylog)) == {client_hello(number).random: expected}
    order = [line.split()[0] for line in run.keylog]
    assert order[-4:] == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                          "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"]


def test_section_3_ticket_is_the_trace_psk() -> None:
    run = run_against_trace(3, "client")
    _ok(run)
    (ticket,) = [e.ticket for e in run.events if isinstance(e, NewTicket)]
    assert ticket.psk == first_block(3, DERIVE_STEP, "resumption")
    assert (ticket.lifetime, ticket.max_early_data_size) == (30, 1024)


# ---------------------------------------------------------------------------
# Both engines together
# ---------------------------------------------------------------------------


def _pump(client: ClientEngine, server: ServerEngine) -> tuple[bytes, bytes]:
    c2s, s2c = bytearray(), bytearray()
    for _ in range(10):
        a = client.data_to_send()
        c2s += a
        if a:
            server.receive_data(a)
        b = server.data_to_send()
        s2c += b
        if b:
            client.receive_data(b)
        if not a and not b:
            break
    return bytes(c2s), bytes(s2c)


@pytest.mark.parametrize("number", SECTIONS, ids=[f"s{n}" for n in SECTIONS])
def test_engines_together_write_the_trace(number: int) -> None:
    """Client and server engines talk to each other; each direction is the
    trace's byte stream, and the client's key log decrypts all of it."""
    crun, srun = Run(), Run()
    crand, chooks = client_inputs(number)
    srand, shooks = server_inputs(number)
    store = _server_store(number)
    client = ClientEngine(client_config(number), tickets=_client_tickets(number), rand=crand,
                          now=lambda: now_of(number), keylog=crun.keylog.append, hooks=chooks)
    server = ServerEngine(server_config(number, store), rand=srand, now=lambda: now_of(number),
                          keylog=srun.keylog.append, hooks=shooks)
    client.start()
    c2s, s2c = _pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    if number in (3, 4):
        client.send_application_data(bytes(range(50)))
        sent = client.data_to_send()
        c2s += sent
        server.receive_data(sent)
        server.send_application_data(bytes(range(50)))
        s2c += server.data_to_send()
    client.close()
    server.close()
    c2s += client.data_to_send()
    s2c += server.data_to_send()
    trace_c2s = b"".join(r.record for r in record_steps(number) if r.actor == "client")
    trace_s2c = b"".join(r.record for r in record_steps(number) if r.actor == "server")
    assert c2s.hex() == trace_c2s.hex()
    assert s2c.hex() == trace_s2c.hex()
    for keylog in (crun.keylog, srun.keylog):
        conn = decode_connection(c2s, s2c, "".join(keylog))
        assert conn.client_to_server.undecrypted_records == 0
        assert conn.server_to_client.undecrypted_records == 0
        assert conn.notes == []
