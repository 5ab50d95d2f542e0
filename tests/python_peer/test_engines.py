"""The tlspeer client and server engines against each other, in memory: every
group, suite and signature scheme, HelloRetryRequest, resumption (psk_dhe_ke and
psk_ke, after an HRR), 0-RTT accepted and rejected, client certificates,
KeyUpdate, compatibility mode, certificate failures, and the wire decoder reading
what the engines wrote with their key logs."""
from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tlspeer import groups, sigschemes
from tlspeer.errors import (AlertReceived, BadCertificate, CertificateExpired, CertificateRequired,
                            HandshakeFailure, NoApplicationProtocol, UnexpectedMessage, UnknownCA)
from tlspeer.events import ConnectionClosed, KeyUpdateReceived
from tlspeer.extensions import PSK_DHE_KE, PSK_KE
from tlspeer.record import parse_records
from tlspeer.server import ServerConfig
from tlspeer.wire import decode_connection

from tlspeer_helpers import (HOST, NOW, client_config, credential, leaf_credential, roots,
                             run_pair, server_config)

GROUPS = ["X25519", "P256", "P384", "P521", "X25519MLKEM768", "MLKEM1024", "SecP256r1MLKEM768",
          "SecP384r1MLKEM1024"]
SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]


def _decodes(pair) -> None:  # type: ignore[no-untyped-def]
    """Both key logs open every record both ways, as the harness will."""
    for keylog in (pair.client_keylog, pair.server_keylog):
        conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "".join(keylog))
        assert conn.client_to_server.undecrypted_records == 0
        assert conn.server_to_client.undecrypted_records == 0
        assert conn.notes == [] and conn.client_to_server.notes == [] == conn.server_to_client.notes


@pytest.mark.parametrize("group", GROUPS)
def test_every_group(group: str) -> None:
    if groups.unavailable_reason(groups.group_id(group)):
        pytest.skip(groups.unavailable_reason(groups.group_id(group)))
    pair = run_pair(client_config(groups=[group]), server_config(groups=[group])).exchange()
    assert pair.client_error is None and pair.server_error is None
    assert pair.info("client").group == pair.info("server").group == groups.group_id(group)
    assert pair.data("server") == b"ping" and pair.data("client") == b"pong"
    _decodes(pair)


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite(suite: str) -> None:
    pair = run_pair(client_config(cipher_suites=[suite]), server_config()).exchange()
    assert pair.info("client").cipher_suite == pair.info("server").cipher_suite
    assert pair.data("server") == b"ping"
    _decodes(pair)
    # And resumption under that suite's hash.
    again = run_pair(client_config(cipher_suites=[suite]), pair.server.config,
                     tickets=pair.tickets).exchange()
    assert again.info("server").resumed and again.data("client") == b"pong"


@pytest.mark.parametrize("kind,scheme", [("p256", sigschemes.ECDSA_SECP256R1_SHA256),
                                         ("p384", sigschemes.ECDSA_SECP384R1_SHA384),
                                         ("rsa", sigschemes.RSA_PSS_RSAE_SHA256),
                                         ("ed25519", sigschemes.ED25519)])
def test_every_signature_scheme(kind: str, scheme: int) -> None:
    pair = run_pair(client_config(), server_config(certificate=leaf_credential(kind)))
    assert pair.client_error is None, pair.client_error
    assert pair.info("client").signature_scheme == scheme


@pytest.mark.parametrize("curve, algorithm, length", [
    (ec.SECP256R1, hashes.SHA256, 72), (ec.SECP384R1, hashes.SHA384, 104), (ec.SECP521R1, hashes.SHA512, 139)])
def test_ecdsa_signatures_are_always_their_longest_and_verify(curve: type, algorithm: type, length: int) -> None:
    """A flip_byte counted past a CertificateVerify's end must fall on the same byte every
    run (cases/edits/pyserver-certificate-verify-flip-counted-past-its-end); (r, n - s)
    must verify, so a wrong group order in the table fails here."""
    key = ec.generate_private_key(curve())
    for i in range(40):
        data = b"content %d" % i
        signature = sigschemes.ecdsa_sign(key, algorithm(), data)
        assert len(signature) == length
        key.public_key().verify(signature, data, ec.ECDSA(algorithm()))


def test_a_full_handshake_is_fast() -> None:
    ccfg, scfg = client_config(groups=["X25519"]), server_config()
    run_pair(ccfg, scfg)  # warm up caches
    start = time.perf_counter()
    for _ in range(20):
        run_pair(ccfg, scfg)
    per = (time.perf_counter() - start) / 20
    assert per < 0.05, f"{per * 1000:.1f} ms per handshake"


def test_alpn_and_its_failure() -> None:
    pair = run_pair(client_config(alpn=["h2", "http/1.1"]), server_config(alpn=["http/1.1"]))
    assert pair.info("client").alpn == pair.info("server").alpn == "http/1.1"
    bad = run_pair(client_config(alpn=["h3"]), server_config(alpn=["http/1.1"]))
    assert isinstance(bad.server_error, NoApplicationProtocol)
    assert isinstance(bad.client_error, AlertReceived) and bad.client_error.alert == 120


def test_no_common_suite_or_group() -> None:
    pair = run_pair(client_config(cipher_suites=["TLS_AES_256_GCM_SHA384"]),
                    server_config(cipher_suites=["TLS_AES_128_GCM_SHA256"]))
    assert isinstance(pair.server_error, HandshakeFailure)
    assert pair.client_error.alert == 40
    pair = run_pair(client_config(groups=["P384"]), server_config(groups=["P256"]))
    assert isinstance(pair.server_error, HandshakeFailure)


# ---------------------------------------------------------------------------
# HelloRetryRequest
# ---------------------------------------------------------------------------


def test_hello_retry_request_for_the_servers_group() -> None:
    pair = run_pair(client_config(), server_config(groups=["P384"])).exchange()
    assert pair.client_error is None and pair.server_error is None
    for role in ("client", "server"):
        info = pair.info(role)
        assert info.hello_retry_request and info.group == groups.SECP384R1
    # Compatibility mode: exactly one CCS each way, right after the HRR / before CH2.
    kinds = [r.content_type for r in parse_records(bytes(pair.s2c))[0]]
    assert kinds[:3] == [22, 20, 22] and kinds.count(20) == 1
    kinds = [r.content_type for r in parse_records(bytes(pair.c2s))[0]]
    assert kinds[:3] == [22, 20, 22] and kinds.count(20) == 1
    _decodes(pair)


def test_strict_group_selection_retries_even_with_a_usable_share() -> None:
    scfg = server_config(groups=["P256", "X25519"], group_selection="strict")
    pair = run_pair(client_config(groups=["X25519", "P256"]), scfg)
    assert pair.info("server").hello_retry_request and pair.info("server").group == groups.SECP256R1
    relaxed = run_pair(client_config(groups=["X25519", "P256"]),
                       server_config(groups=["P256", "X25519"]))
    assert not relaxed.info("server").hello_retry_request


def test_resumption_after_hello_retry_request_recomputes_binder_and_age() -> None:
    scfg = server_config(groups=["P256"])
    first = run_pair(client_config(), scfg).exchange()
    (ticket,) = first.tickets
    later = NOW + 3600.25
    pair = run_pair(client_config(), scfg, tickets=[ticket], now=later).exchange()
    assert pair.server_error is None and pair.client_error is None
    assert pair.info("server").resumed and pair.info("server").hello_retry_request
    hellos = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "").client_to_server
    (ch1, ch2) = [m.summary for m in hellos.handshake_messages[:2]]
    ages = [h["pre_shared_key"]["identities"][0]["obfuscated_ticket_age"] for h in (ch1, ch2)]
    assert ages[0] == ages[1] == (3600250 + ticket.age_add) % (1 << 32)
    assert ch1["pre_shared_key"]["binders"] != ch2["pre_shared_key"]["binders"]


# ---------------------------------------------------------------------------
# Resumption and tickets
# ---------------------------------------------------------------------------


def test_resumption_psk_dhe_ke() -> None:
    scfg = server_config()
    first = run_pair(client_config(), scfg).exchange()
    assert len(first.tickets) == 1 and not first.info("server").resumed
    ticket = first.tickets[0]
    assert ticket.lifetime == 604800 and ticket.server_name == HOST
    pair = run_pair(client_config(), scfg, tickets=[ticket], now=NOW + 60).exchange()
    info = pair.info("client")
    assert info.resumed and info.selected_identity == 0 and info.group is not None
    assert info.peer_chain == [] and pair.info("server").resumed
    _decodes(pair)


def test_resumption_psk_ke() -> None:
    scfg = server_config(psk_modes=[PSK_KE, PSK_DHE_KE])
    first = run_pair(client_config(psk_modes=[PSK_KE]), scfg)
    pair = run_pair(client_config(psk_modes=[PSK_KE]), scfg, tickets=first.tickets)
    assert pair.info("client").resumed and pair.info("client").group is None
    assert pair.info("server").group is None
    _decodes(pair)


def test_unknown_or_expired_tickets_fall_back_to_a_full_handshake() -> None:
    scfg = server_config()
    first = run_pair(client_config(), scfg)
    other = run_pair(client_config(), server_config(), tickets=first.tickets)
    assert not other.info("server").resumed and other.server_error is None
    expired = run_pair(client_config(), scfg, tickets=first.tickets, now=NOW + 8 * 86400,
                       server_now=NOW + 8 * 86400)
    assert not expired.info("server").resumed


def test_server_can_send_more_tickets_later() -> None:
    pair = run_pair(client_config(), server_config(tickets_to_send=2))
    assert len(pair.tickets) == 2 and pair.tickets[0].nonce != pair.tickets[1].nonce
    pair.server.send_tickets(1)
    pair.pump()
    assert len(pair.tickets) == 3
    assert len({t.psk for t in pair.tickets}) == 3


def test_no_tickets_for_a_client_without_psk_modes() -> None:
    pair = run_pair(client_config(psk_modes=[PSK_KE]), server_config())
    assert pair.tickets == []


# ---------------------------------------------------------------------------
# 0-RTT
# ---------------------------------------------------------------------------


def _ticket_with_early_data(scfg: ServerConfig):  # type: ignore[no-untyped-def]
    first = run_pair(client_config(), scfg)
    (ticket,) = first.tickets
    assert ticket.max_early_data_size == 1000
    return ticket


def test_early_data_accepted() -> None:
    scfg = server_config(max_early_data_size=1000, accept_early_data=True)
    ticket = _ticket_with_early_data(scfg)
    pair = run_pair(client_config(early_data=b"early!"), scfg, tickets=[ticket], now=NOW + 1)
    assert pair.server_error is None and pair.client_error is None
    assert pair.info("client").early_data_accepted and pair.info("server").early_data_accepted
    assert pair.data("server") == b"early!"
    assert any(line.startswith("CLIENT_EARLY_TRAFFIC_SECRET") for line in pair.client_keylog)
    conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "".join(pair.client_keylog))
    assert conn.early_data_accepted is True
    assert conn.client_to_server.handshake_types == ["client_hello", "end_of_early_data", "finished"]
    assert conn.client_to_server.application_bytes == b"early!"


def test_early_data_rejected_is_skipped() -> None:
    scfg = server_config(max_early_data_size=1000)  # accept_early_data off, as Go
    ticket = _ticket_with_early_data(scfg)
    pair = run_pair(client_config(early_data=b"x" * 900), scfg, tickets=[ticket], now=NOW + 1)
    assert pair.server_error is None and pair.client_error is None
    assert pair.info("client").early_data_offered and not pair.info("client").early_data_accepted
    assert pair.data("server") == b"" and pair.info("server").resumed
    pair.exchange()
    assert pair.data("server") == b"ping"


def test_early_data_rejected_by_hello_retry_request() -> None:
    scfg = server_config(max_early_data_size=1000, accept_early_data=True, groups=["P256"])
    ticket = _ticket_with_early_data(scfg)
    pair = run_pair(client_config(early_data=b"zero"), scfg, tickets=[ticket], now=NOW + 1)
    assert pair.server_error is None and pair.client_error is None
    assert pair.info("server").hello_retry_request and not pair.info("server").early_data_accepted
    assert pair.data("server") == b""


# ---------------------------------------------------------------------------
# Client certificates
# ---------------------------------------------------------------------------


def test_client_certificate_required_and_verified() -> None:
    scfg = server_config(client_auth="RequireAndVerifyClientCert", client_roots=roots())
    pair = run_pair(client_config(certificate=credential("client")), scfg).exchange()
    info = pair.info("server")
    assert info.peer_chain == credential("client").chain and info.verified
    assert info.signature_scheme == sigschemes.ECDSA_SECP256R1_SHA256
    _decodes(pair)
    # The certificate is carried over on resumption.
    again = run_pair(client_config(certificate=credential("client")), scfg, tickets=pair.tickets)
    assert again.info("server").resumed and again.info("server").peer_chain == info.peer_chain


def test_client_certificate_missing_or_untrusted() -> None:
    scfg = server_config(client_auth="RequireAnyClientCert")
    pair = run_pair(client_config(), scfg)
    assert isinstance(pair.server_error, CertificateRequired)
    assert pair.client_error.alert == 116
    pair = run_pair(client_config(), server_config(client_auth="VerifyClientCertIfGiven",
                                                   client_roots=roots()))
    assert pair.server_error is None and pair.info("server").peer_chain == []
    scfg = server_config(client_auth="RequireAndVerifyClientCert", client_roots=roots("root-b"))
    pair = run_pair(client_config(certificate=credential("client")), scfg)
    assert isinstance(pair.server_error, UnknownCA) and pair.client_error.alert == 48


# ---------------------------------------------------------------------------
# Server certificates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case,error,alert", [
    ("wrong-host", BadCertificate, 42), ("unknown-ca", UnknownCA, 48),
    ("expired", CertificateExpired, 45)])
def test_server_certificate_failures(case: str, error: type, alert: int) -> None:
    ccfg = client_config(server_name="other.test" if case == "wrong-host" else HOST,
                         roots=roots("root-b" if case == "unknown-ca" else "root-a"))
    now = NOW + 10 * 86400 if case == "expired" else NOW
    pair = run_pair(ccfg, server_config(certificate=credential(
        "server-short" if case == "expired" else "server")), now=now)
    assert isinstance(pair.client_error, error), pair.client_error
    assert isinstance(pair.server_error, AlertReceived) and pair.server_error.alert == alert


def test_insecure_skip_verify_still_checks_the_signature() -> None:
    pair = run_pair(client_config(insecure_skip_verify=True, roots=[]), server_config())
    assert pair.client_error is None and not pair.info("client").verified


# ---------------------------------------------------------------------------
# After the handshake
# ---------------------------------------------------------------------------


def test_key_update_both_ways() -> None:
    pair = run_pair(client_config(), server_config()).exchange()
    pair.client.send_key_update(request_update=True)
    pair.pump()
    assert [e.update_requested for e in pair.server_events if isinstance(e, KeyUpdateReceived)] == [True]
    assert [e.update_requested for e in pair.client_events if isinstance(e, KeyUpdateReceived)] == [False]
    pair.exchange(b"after", b"update")
    pair.server.send_key_update()
    pair.pump()
    pair.exchange(b"again", b"fine")
    assert pair.data("server") == b"pingafteragain" and pair.data("client") == b"pongupdatefine"
    _decodes(pair)
    conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "".join(pair.client_keylog))
    assert conn.client_to_server.application_data[-1].epoch == "application_1"
    assert conn.server_to_client.application_data[-1].epoch == "application_2"


def test_close_notify_and_large_data() -> None:
    pair = run_pair(client_config(), server_config())
    big = bytes(range(256)) * 300
    pair.client.send_application_data(big)
    pair.pump()
    assert pair.data("server") == big
    pair.client.close()
    pair.server.close()
    pair.pump()
    assert any(isinstance(e, ConnectionClosed) for e in pair.server_events)
    assert any(isinstance(e, ConnectionClosed) for e in pair.client_events)
    with pytest.raises(UnexpectedMessage):
        pair.client.send_application_data(b"late")


def test_compatibility_mode_off() -> None:
    pair = run_pair(client_config(compatibility_mode=False),
                    server_config(middlebox_ccs="if_session_id"))
    for wire in (pair.c2s, pair.s2c):
        assert 20 not in [r.content_type for r in parse_records(bytes(wire))[0]]
    assert pair.info("client").session_id == b""


def test_exporter_agrees() -> None:
    pair = run_pair(client_config(), server_config())
    a = pair.client.export_keying_material("EXPORTER-tlsdiff", None, 32)
    assert a == pair.server.export_keying_material("EXPORTER-tlsdiff", b"", 32) and len(a) == 32


def test_keylog_lines_are_gos() -> None:
    pair = run_pair(client_config(), server_config())
    labels = [line.split()[0] for line in pair.client_keylog]
    assert labels == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                      "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"]
    assert sorted(pair.client_keylog) == sorted(pair.server_keylog)
    assert all(line.endswith("\n") and line.count(" ") == 2 for line in pair.client_keylog)


def test_garbage_in_gets_an_alert_not_a_crash() -> None:
    from tlspeer.server import ServerEngine
    for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
                 b"\x17\x03\x03\x00\x01x", b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"):
        engine = ServerEngine(server_config())
        with pytest.raises(Exception) as err:
            engine.receive_data(junk)
        assert err.value.__class__.__module__ == "tlspeer.errors"
        alert = engine.data_to_send()
        assert alert[:1] == b"\x15" and alert[-2:-1] == b"\x02"
