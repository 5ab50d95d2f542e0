"""The Python server's Go tickets (tlspeerd.gotickets): what tlspeer's server sends under
Go ticket keys is, byte for byte, what gomodel seals for the session its client holds, in
each release's layout, and it resumes. That Go servers resume these tickets and the
Python server resumes Go's is said by the cases cases/tickets/tls1?-mixed-fleet-*, on
real peers of every release."""
from __future__ import annotations

import pytest

import gomodel
from gomodel.tickets import open_ticket, seal, uses_key_name
from tlsdiff import pki
from tlsdiff.execute import ticket_key_hex
from tlspeer.certs import Credential, load_roots
from tlspeer.client import ClientConfig, ClientEngine
from tlspeer.events import HandshakeComplete, NewSession12, NewTicket
from tlspeer.keyschedule import resumption_psk
from tlspeer.server import ServerConfig, ServerEngine
from tlspeer.session import ClientSession12, ClientTicket
from tlspeer.suites import SUITE_BY_ID
from tlspeerd.gotickets import GoTickets
from tlspeerd.serve import SeededRand

NOW = pki.EPOCH.timestamp()
FLEET, OLD = bytes.fromhex(ticket_key_hex("fleet")), bytes.fromhex(ticket_key_hex("old"))
LAYOUTS = ["1.19", "1.21", "1.24", "1.25"]  # 1.19/1.20, 1.21-1.24, 1.25+ (TLS 1.2 curve)


def _configs(tls: str, tickets: GoTickets) -> tuple[ClientConfig, ServerConfig]:
    """A client as the release's own: 1.19/1.20 clients offer no extended_master_secret, and
    their tickets have no field for it (a client offering EMS gets a full handshake)."""
    ident = pki.identity("server")
    client = ClientConfig(server_name=pki.SERVER_NAME, roots=tuple(load_roots([pki.root_pem("root-a")])),
                          min_version=tls, max_version=tls, extended_master_secret=not tickets.legacy)
    server = ServerConfig(certificate=Credential.from_pem(ident.chain_pem, ident.key_pem), ticket_store=tickets,
                          min_version="1.2", max_version=tls)
    return client, server


def _connect(client: ClientConfig, server: ServerConfig, *, ticket: ClientTicket | None = None,
             session12: ClientSession12 | None = None, now: float = NOW) -> tuple[list, list]:
    """One handshake in memory; (client events, server events)."""
    c = ClientEngine(client, tickets=[ticket] if ticket else [], session12=session12, now=lambda: now)
    s = ServerEngine(server, rand=SeededRand("gotickets-test"), now=lambda: now)
    cev: list = []
    sev: list = []
    c.start()
    for _ in range(20):
        out = c.data_to_send()
        if out:
            sev += s.receive_data(out)
        back = s.data_to_send()
        if back:
            cev += c.receive_data(back)
        if not out and not back:
            break
    return cev, sev


def _resumed(events: list) -> bool:
    return next(e.info for e in events if isinstance(e, HandshakeComplete)).resumed


@pytest.mark.parametrize("release", LAYOUTS)
def test_a_tls13_ticket_is_what_gomodel_seals_for_the_clients_session(release: str) -> None:
    tickets = GoTickets([FLEET], release, SeededRand("iv"))
    client, server = _configs("1.3", tickets)
    cev, _ = _connect(client, server)
    (t,) = [e.ticket for e in cev if isinstance(e, NewTicket)]
    assert t.nonce == b""  # as Go's: the PSK follows from the resumption secret alone
    opened = open_ticket(t.ticket, [FLEET], release)
    if uses_key_name(release):
        # 1.19/1.20 keep the resumption master secret, from which the client's PSK follows.
        secret = gomodel.legacy.decode(opened.plaintext).secret
        assert resumption_psk(SUITE_BY_ID[t.cipher_suite].prf_hash, secret, b"") == t.psk
        plaintext = gomodel.legacy.encode(gomodel.legacy.LegacySession(0x0304, t.cipher_suite, int(NOW), secret))
    else:
        plaintext = gomodel.encode(gomodel.Session(version=0x0304, type=gomodel.SERVER, cipher_suite=t.cipher_suite,
                                                   created_at=int(NOW), secret=t.psk), release)
    assert seal(plaintext, FLEET, opened.iv, release) == t.ticket
    cev, sev = _connect(client, server, ticket=t, now=NOW + 3600)
    assert _resumed(cev) and _resumed(sev)


@pytest.mark.parametrize("release", LAYOUTS)
def test_a_tls12_ticket_is_what_gomodel_seals_for_the_clients_session(release: str) -> None:
    tickets = GoTickets([FLEET], release, SeededRand("iv"))
    client, server = _configs("1.2", tickets)
    cev, _ = _connect(client, server)
    (s,) = [e.session for e in cev if isinstance(e, NewSession12)]
    opened = open_ticket(s.ticket, [FLEET], release)
    if uses_key_name(release):  # no EMS, no curve in this layout
        plaintext = gomodel.legacy.encode(gomodel.legacy.LegacySession(0x0303, s.cipher_suite, int(NOW),
                                                                       s.master_secret))
    else:
        plaintext = gomodel.encode(gomodel.Session(
            version=0x0303, type=gomodel.SERVER, cipher_suite=s.cipher_suite, created_at=int(NOW),
            secret=s.master_secret, ext_master_secret=s.extended_master_secret, curve_id=s.group or 0), release)
    assert seal(plaintext, FLEET, opened.iv, release) == s.ticket
    cev, sev = _connect(client, server, session12=s, now=NOW + 3600)
    assert _resumed(cev) and _resumed(sev)
    renewed = [e for e in cev if isinstance(e, NewSession12)]
    assert len(renewed) == (0 if uses_key_name(release) else 1)  # 1.19/1.20 renew only an old key's ticket


def test_an_old_keys_ticket_opens_after_rotation_and_is_renewed_under_the_new_key() -> None:
    tickets = GoTickets([OLD], "1.19", SeededRand("iv"))
    client, server = _configs("1.2", tickets)
    cev, _ = _connect(client, server)
    (s,) = [e.session for e in cev if isinstance(e, NewSession12)]
    tickets.set_keys([FLEET, OLD])
    cev, sev = _connect(client, server, session12=s, now=NOW + 60)
    assert _resumed(sev)
    (renewed,) = [e.session for e in cev if isinstance(e, NewSession12)]
    assert open_ticket(renewed.ticket, [FLEET, OLD], "1.19").key_index == 0
    tickets.set_keys([FLEET])
    _, sev = _connect(client, server, session12=s, now=NOW + 120)
    assert not _resumed(sev)  # the old key is gone


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_a_padded_ticket_is_as_long_as_asked_and_still_resumes(tls: str) -> None:
    tickets = GoTickets([FLEET], "1.21", SeededRand("iv"), pad_to=60000)
    client, server = _configs(tls, tickets)
    cev, _ = _connect(client, server)
    t = next(e.ticket if isinstance(e, NewTicket) else e.session for e in cev
             if isinstance(e, (NewTicket, NewSession12)))
    assert len(t.ticket) == 60000
    kwargs = {"ticket": t} if tls == "1.3" else {"session12": t}
    _, sev = _connect(client, server, now=NOW + 60, **kwargs)
    assert _resumed(sev)


def test_a_1_19_ticket_cannot_be_padded_and_says_why() -> None:
    with pytest.raises(ValueError, match="no field to pad"):
        GoTickets([FLEET], "1.19", SeededRand("iv"), pad_to=60000)


def test_a_1_19_tls12_ticket_reads_as_a_session_without_ems() -> None:
    """RFC 7627 §5.3: a client that offers EMS does not resume a session without it."""
    tickets = GoTickets([FLEET], "1.19", SeededRand("iv"))
    _, server = _configs("1.2", tickets)
    ems_client = ClientConfig(server_name=pki.SERVER_NAME, roots=tuple(load_roots([pki.root_pem("root-a")])),
                              min_version="1.2", max_version="1.2")
    cev, _ = _connect(ems_client, server)
    (s,) = [e.session for e in cev if isinstance(e, NewSession12)]
    assert s.extended_master_secret and tickets.open(s.ticket, NOW).extended_master_secret is False
    _, sev = _connect(ems_client, server, session12=s, now=NOW + 60)
    assert not _resumed(sev)


def test_a_ticket_older_than_seven_days_or_under_another_key_does_not_open() -> None:
    tickets = GoTickets([FLEET], "1.27", SeededRand("iv"))
    client, server = _configs("1.3", tickets)
    cev, _ = _connect(client, server)
    (t,) = [e.ticket for e in cev if isinstance(e, NewTicket)]
    assert tickets.open(t.ticket, NOW + 7 * 86400) is not None
    assert tickets.open(t.ticket, NOW + 7 * 86400 + 1) is None
    assert GoTickets([OLD], "1.27", SeededRand("iv")).open(t.ticket, NOW) is None
    assert GoTickets([FLEET], "1.19", SeededRand("iv")).open(t.ticket, NOW) is None  # no key name
