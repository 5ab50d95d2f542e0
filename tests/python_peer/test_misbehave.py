"""Every misbehaviour knob: what it puts on the wire, and what a correct tlspeer
peer does about it (the alert it sends, or that it carries on)."""
from __future__ import annotations

import pytest

from tlspeer import messages as M
from tlspeer.errors import (AlertReceived, DecodeError, DecryptError, IllegalParameter,
                            MissingExtension, UnexpectedMessage, UnsupportedExtension)
from tlspeer.extensions import PSK_DHE_KE, PSK_KE
from tlspeer.misbehave import BOTH_KNOBS, CLIENT_KNOBS, SERVER_KNOBS, Misbehaviour
from tlspeer.record import parse_records
from tlspeer.server import ServerConfig
from tlspeer.wire import decode_connection

from tlspeer_helpers import NOW, client_config, run_pair, server_config


def _hellos(pair) -> list[dict]:  # type: ignore[no-untyped-def]
    conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "".join(pair.client_keylog))
    return [m.summary for m in conn.client_to_server.handshake_messages if m.name == "client_hello"]


def _ticket(scfg: ServerConfig):  # type: ignore[no-untyped-def]
    first = run_pair(client_config(), scfg)
    (ticket,) = first.tickets
    return ticket


def _resume(mis: Misbehaviour, scfg: ServerConfig | None = None, **ckw):  # type: ignore[no-untyped-def]
    scfg = scfg or server_config()
    ticket = _ticket(scfg)
    return run_pair(client_config(misbehaviour=mis, **ckw), scfg, tickets=[ticket], now=NOW + 2), ticket


def _fails(pair, side: str, error: type, alert: int) -> None:  # type: ignore[no-untyped-def]
    err = getattr(pair, f"{side}_error")
    other = getattr(pair, f"{'client' if side == 'server' else 'server'}_error")
    assert isinstance(err, error), err
    assert isinstance(other, AlertReceived) and other.alert == alert, other


def test_the_vocabulary_is_closed_and_role_checked() -> None:
    assert set(CLIENT_KNOBS) | set(SERVER_KNOBS) | set(BOTH_KNOBS) | {"corrupt_binder_byte"} == \
        set(Misbehaviour.__dataclass_fields__)
    with pytest.raises(ValueError):
        client_config(misbehaviour=Misbehaviour(two_hrrs=True))
    with pytest.raises(ValueError):
        server_config(misbehaviour=Misbehaviour(psk_not_last=True))
    assert Misbehaviour(huge_ticket=9).active() == ["huge_ticket"]
    with pytest.raises(TypeError):
        Misbehaviour(no_such_knob=True)  # type: ignore[call-arg]


# ---------------------------------------------------------------------------
# Client knobs
# ---------------------------------------------------------------------------


def test_corrupt_binder_1() -> None:
    pair, _ = _resume(Misbehaviour(corrupt_binder=1, corrupt_binder_byte=5))
    _fails(pair, "server", DecryptError, 51)
    assert str(pair.server_error) == "tls: invalid PSK binder"


def test_corrupt_binder_2_after_hrr() -> None:
    scfg = server_config(groups=["P256"])
    pair, _ = _resume(Misbehaviour(corrupt_binder=2), scfg)
    _fails(pair, "server", DecryptError, 51)
    # Only ClientHello 2's binder is checked, so corrupting 1 alone goes unnoticed.
    pair, _ = _resume(Misbehaviour(corrupt_binder=1), scfg)
    assert pair.server_error is None and pair.info("server").resumed
    pair, _ = _resume(Misbehaviour(corrupt_binder="both"), scfg)
    _fails(pair, "server", DecryptError, 51)


def test_wrong_ticket_age_keeps_binders_valid() -> None:
    pair, ticket = _resume(Misbehaviour(wrong_ticket_age=-1500))
    assert pair.server_error is None and pair.info("server").resumed
    (hello,) = _hellos(pair)
    age = hello["pre_shared_key"]["identities"][0]["obfuscated_ticket_age"]
    assert age == (2000 - 1500 + ticket.age_add) % (1 << 32)


def test_wrong_ticket_age_makes_the_server_refuse_0rtt() -> None:
    scfg = server_config(max_early_data_size=100, accept_early_data=True)
    pair, _ = _resume(Misbehaviour(wrong_ticket_age=60_000), scfg, early_data=b"hi")
    assert pair.info("server").resumed and not pair.info("server").early_data_accepted
    pair, _ = _resume(Misbehaviour(), scfg, early_data=b"hi")
    assert pair.info("server").early_data_accepted


def test_extra_identities_before() -> None:
    pair, ticket = _resume(Misbehaviour(extra_identities_before=3))
    assert pair.server_error is None
    assert pair.info("server").selected_identity == pair.info("client").selected_identity == 3
    (hello,) = _hellos(pair)
    ids = hello["pre_shared_key"]["identities"]
    assert len(ids) == 4 and bytes.fromhex(ids[3]["identity"]) == ticket.ticket


def test_psk_not_last() -> None:
    pair, _ = _resume(Misbehaviour(psk_not_last=True))
    _fails(pair, "server", IllegalParameter, 47)
    (hello,) = _hellos(pair)
    assert hello["extensions"][0]["name"] == "pre_shared_key"


def test_psk_modes_missing() -> None:
    pair, _ = _resume(Misbehaviour(psk_modes="missing"))
    _fails(pair, "server", MissingExtension, 109)


def test_psk_modes_psk_ke() -> None:
    pair, _ = _resume(Misbehaviour(psk_modes="psk_ke"))  # the server, like Go, wants dhe
    assert pair.server_error is None and not pair.info("server").resumed
    scfg = server_config(psk_modes=[PSK_DHE_KE, PSK_KE])
    pair, _ = _resume(Misbehaviour(psk_modes="psk_ke"), scfg)
    assert pair.info("server").resumed and pair.info("server").group is None


def test_empty_binders() -> None:
    pair, _ = _resume(Misbehaviour(empty_binders=True))
    _fails(pair, "server", DecodeError, 50)


def test_binder_count_mismatch() -> None:
    pair, _ = _resume(Misbehaviour(binder_count_mismatch=True))
    _fails(pair, "server", IllegalParameter, 47)
    assert "binders" in str(pair.server_error)


def test_second_ch_change_suites() -> None:
    pair = run_pair(client_config(misbehaviour=Misbehaviour(second_ch_change_suites=True)),
                    server_config(groups=["P256"]))
    _fails(pair, "server", IllegalParameter, 47)
    assert "illegally modified" in str(pair.server_error)


def test_second_ch_drop_key_share() -> None:
    pair = run_pair(client_config(misbehaviour=Misbehaviour(second_ch_drop_key_share=True)),
                    server_config(groups=["P256"]))
    _fails(pair, "server", IllegalParameter, 47)
    assert "key share" in str(pair.server_error)


def test_pipeline_after_ch1() -> None:
    pair = run_pair(client_config(misbehaviour=Misbehaviour(pipeline_after_ch1=True)),
                    server_config())
    _fails(pair, "server", UnexpectedMessage, 10)
    records = parse_records(bytes(pair.c2s))[0]
    assert [r.content_type for r in records[:2]] == [22, 22]
    assert records[0].fragment == records[1].fragment


def test_wrong_cookie_echo() -> None:
    scfg = server_config(groups=["P256"], misbehaviour=Misbehaviour(hrr_cookie=b"tlsdiff"))
    pair = run_pair(client_config(misbehaviour=Misbehaviour(wrong_cookie_echo=True)), scfg)
    _fails(pair, "server", IllegalParameter, 47)
    assert "cookie" in str(pair.server_error)


# ---------------------------------------------------------------------------
# Server knobs
# ---------------------------------------------------------------------------


def test_two_hrrs() -> None:
    pair = run_pair(client_config(), server_config(groups=["P256"],
                                                   misbehaviour=Misbehaviour(two_hrrs=True)))
    _fails(pair, "client", UnexpectedMessage, 10)
    assert "two HelloRetryRequest" in str(pair.client_error)


def test_hrr_no_change() -> None:
    pair = run_pair(client_config(groups=["X25519"]),
                    server_config(misbehaviour=Misbehaviour(hrr_no_change=True)))
    _fails(pair, "client", IllegalParameter, 47)


def test_hrr_cookie_is_echoed() -> None:
    scfg = server_config(groups=["P256"], misbehaviour=Misbehaviour(hrr_cookie=b"\x00cookie\xff"))
    pair = run_pair(client_config(), scfg)
    assert pair.server_error is None and pair.client_error is None
    ch1, ch2 = _hellos(pair)
    assert ch1["cookie"] is None and ch2["cookie"] == b"\x00cookie\xff".hex()


@pytest.mark.parametrize("lifetime", [0, 604800, 604801])
def test_ticket_lifetime(lifetime: int) -> None:
    pair = run_pair(client_config(), server_config(
        misbehaviour=Misbehaviour(ticket_lifetime=lifetime)))
    if lifetime == 604801:
        _fails(pair, "client", IllegalParameter, 47)
    elif lifetime == 0:
        assert pair.client_error is None and pair.tickets == []  # discarded at once
    else:
        assert [t.lifetime for t in pair.tickets] == [lifetime]


def test_empty_ticket_label() -> None:
    pair = run_pair(client_config(), server_config(misbehaviour=Misbehaviour(empty_ticket_label=True)))
    _fails(pair, "client", DecodeError, 50)


@pytest.mark.parametrize("size", [60000, 65535])
def test_huge_ticket(size: int) -> None:
    """A 60000-byte ticket resumes (the ClientHello spans several records); one of
    65535 bytes cannot fit in a ClientHello, so the client does not offer it."""
    scfg = server_config(misbehaviour=Misbehaviour(huge_ticket=size))
    first = run_pair(client_config(), scfg)
    (ticket,) = first.tickets
    assert len(ticket.ticket) == size
    assert len(parse_records(bytes(first.s2c))[0]) >= 6  # the NewSessionTicket alone takes 4
    pair = run_pair(client_config(), scfg, tickets=[ticket])
    assert pair.server_error is None
    assert pair.info("server").resumed is (size == 60000)
    if size == 60000:
        assert len(parse_records(bytes(pair.c2s))[0]) >= 4


def test_early_data_in_ee() -> None:
    pair = run_pair(client_config(), server_config(misbehaviour=Misbehaviour(early_data_in_ee=True)))
    _fails(pair, "client", UnsupportedExtension, 110)


def test_mutate_hook_reaches_any_message() -> None:
    """The hooks a later misbehaviour module builds on: change any field."""
    from tlspeer.hooks import Hooks

    def mutate(name: str, msg: M.Message) -> M.Message:
        if name == "server_hello":
            msg.legacy_version = 0x0302
        return msg
    pair = run_pair(client_config(), server_config(), server_hooks=Hooks(mutate=mutate))
    _fails(pair, "client", IllegalParameter, 47)
