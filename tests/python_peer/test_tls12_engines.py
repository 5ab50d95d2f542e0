"""tlspeer's TLS 1.2 client against its TLS 1.2 server, in memory: every suite (RSA key
exchange too), full and resumed handshakes (by ticket and by session ID), extended master
secret, client certificates, version negotiation and the downgrade sentinel,
key logs the wire decoder opens, and the TLS 1.2 misbehaviours."""
from __future__ import annotations

import hashlib
import re

import pytest

from tlspeer import groups, tls12
from tlspeer import messages as M
from tlspeer import messages12 as M12
from tlspeer.client import ClientConfig, ClientEngine
from tlspeer.errors import (AlertReceived, BadRecordMacError, HandshakeFailure, IllegalParameter,
                            ProtocolVersion, SilentFailure, UnexpectedMessage)
from tlspeer.events import NewSession12
from tlspeer.hooks import HandshakeBytes, Hooks
from tlspeer.misbehave import Misbehaviour
from tlspeer.server import ServerConfig, ServerEngine
from tlspeer.session import ClientSession12, TicketStore
from tlspeer.suites import SUITE_BY_NAME
from tlspeer.wire import decode_connection

from tlspeer_helpers import NOW, Pair, client_config, credential, leaf_credential, roots, server_config

SUITES_EC = [n for n in tls12.DEFAULT_SUITES_TLS12 if "ECDSA" in n] + [
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"]
SUITES_RSA = [n for n in tls12.DEFAULT_SUITES_TLS12 if "_RSA_" in n] + [
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"]
# RSA key exchange: every such suite Go has and the record layer implements (not RC4).
SUITES_RSA_KEX = ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
                  "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA",
                  "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]


def c12(**kw) -> ClientConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("min_version", "1.2")
    kw.setdefault("max_version", "1.3")
    return client_config(**kw)


def s12(**kw) -> ServerConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("min_version", "1.2")
    kw.setdefault("max_version", "1.2")
    return server_config(**kw)


def run(ccfg: ClientConfig, scfg: ServerConfig, *, session: ClientSession12 | None = None,
        now: float = NOW, rand=None, srand=None, client_hooks: Hooks | None = None,  # type: ignore[no-untyped-def]
        server_hooks: Hooks | None = None) -> Pair:
    ckl: list[str] = []
    skl: list[str] = []
    client = ClientEngine(ccfg, session12=session, now=lambda: now, rand=rand, keylog=ckl.append,
                          hooks=client_hooks)
    server = ServerEngine(scfg, now=lambda: now, rand=srand, keylog=skl.append, hooks=server_hooks)
    pair = Pair(client, server, client_keylog=ckl, server_keylog=skl)
    client.start()
    return pair.pump()


def session_of(pair: Pair) -> ClientSession12:
    (ev,) = [e for e in pair.client_events if isinstance(e, NewSession12)]
    return ev.session


def ok(pair: Pair) -> Pair:
    assert pair.client_error is None and pair.server_error is None, (pair.client_error, pair.server_error)
    pair.exchange()
    assert pair.data("server") == b"ping" and pair.data("client") == b"pong"
    return pair


def opens(pair: Pair, keylog: str | None = None) -> None:
    """The key log (either side's) decrypts every record both ways."""
    for text in (keylog,) if keylog is not None else ("".join(pair.client_keylog),
                                                    "".join(pair.server_keylog)):
        conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), text)
        assert conn.client_to_server.undecrypted_records == 0
        assert conn.server_to_client.undecrypted_records == 0


# ---------------------------------------------------------------------------
# Suites, groups, resumption
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES_EC + SUITES_RSA + SUITES_RSA_KEX)
def test_every_suite_full_and_resumed_both_ways(suite: str) -> None:
    cred = leaf_credential("rsa") if "_RSA_" in suite else credential()
    scfg = s12(certificate=cred, cipher_suites=[suite])
    first = ok(run(c12(cipher_suites=[suite]), scfg))
    info = first.info("client")
    assert info.version == M.TLS12 and info.cipher_suite == SUITE_BY_NAME[suite].id
    assert not info.resumed and info.extended_master_secret
    if tls12.rsa_key_exchange(SUITE_BY_NAME[suite]):  # no ServerKeyExchange, nothing signed
        assert info.group is None and info.signature_scheme is None
        assert _types(first, "s2c") == ["server_hello", "certificate", "server_hello_done",
                                        "new_session_ticket", "finished"]
    opens(first)
    session = session_of(first)
    assert session.ticket and session.session_id  # a ticket, and an ID for the session cache
    by_ticket = ok(run(c12(cipher_suites=[suite]), scfg, session=session))
    assert by_ticket.info("client").resumed and by_ticket.info("server").resumed
    opens(by_ticket)
    assert session_of(by_ticket).ticket != session.ticket  # re-issued, as Go 1.21+
    # The same session without its ticket resumes by session ID.
    by_id = ClientSession12(**{**session.__dict__, "ticket": b""})
    again = ok(run(c12(cipher_suites=[suite]), scfg, session=by_id))
    assert again.info("server").resumed and again.info("client").session_id == session.session_id
    opens(again)


@pytest.mark.parametrize("group", ["X25519", "P256", "P384", "P521"])
def test_every_group(group: str) -> None:
    pair = ok(run(c12(groups=[group]), s12(groups=["X25519", "P256", "P384", "P521"])))
    assert pair.info("client").group == pair.info("server").group == groups.group_id(group)


def test_groups_follow_the_server_and_skip_hybrids() -> None:
    pair = ok(run(c12(groups=["X25519MLKEM768", "P384", "X25519"]), s12(groups=["P256", "P384", "X25519"])))
    assert pair.info("server").group == groups.SECP384R1


@pytest.mark.parametrize("kind", ["p256", "p384", "ed25519", "rsa"])
def test_server_key_exchange_signatures(kind: str) -> None:
    pair = ok(run(c12(), s12(certificate=leaf_credential(kind))))
    scheme = pair.info("client").signature_scheme
    assert scheme == {"p256": 0x0403, "p384": 0x0403, "ed25519": 0x0807, "rsa": 0x0804}[kind]
    # RSA PKCS#1 v1.5 when the client asks for it first.
    if kind == "rsa":
        pkcs1 = ok(run(c12(signature_algorithms=[0x0401, 0x0804]), s12(certificate=leaf_credential(kind))))
        assert pkcs1.info("client").signature_scheme == 0x0401


def _types(pair: Pair, direction: str) -> list[str]:
    conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "".join(pair.client_keylog))
    return (conn.server_to_client if direction == "s2c" else conn.client_to_server).handshake_types


def test_rsa_key_exchange_only_when_listed_and_only_with_an_rsa_key() -> None:
    rsa_cred = credential("server-rsa")
    everything = SUITES_RSA_KEX + list(tls12.DEFAULT_SUITES_TLS12)
    # The defaults (Go 1.22+'s) have no RSA key exchange: ECDHE_RSA it is.
    pair = ok(run(c12(cipher_suites=everything), s12(certificate=rsa_cred)))
    assert SUITE_BY_NAME["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"].id == pair.info("server").cipher_suite
    # A server that lists only RSA key exchange, to a client that offers it last.
    pair = ok(run(c12(cipher_suites=everything[::-1]),
                  s12(certificate=rsa_cred, cipher_suites=["TLS_RSA_WITH_AES_256_CBC_SHA"])))
    assert SUITE_BY_NAME["TLS_RSA_WITH_AES_256_CBC_SHA"].id == pair.info("client").cipher_suite
    # An ECDSA key cannot decrypt: no common suite.
    pair = run(c12(cipher_suites=SUITES_RSA_KEX), s12(cipher_suites=SUITES_RSA_KEX))
    assert isinstance(pair.server_error, HandshakeFailure)
    assert str(pair.server_error) == "tls: no cipher suite supported by both client and server"
    # RSA key exchange needs no common group and no signature algorithm.
    pair = ok(run(c12(cipher_suites=SUITES_RSA_KEX[:1], signature_algorithms=[0x0403]),
                  s12(certificate=rsa_cred, cipher_suites=SUITES_RSA_KEX[:1], groups=["P521"])))
    assert pair.info("client").group is None


def test_rsa_key_exchange_is_reproducible_with_seeded_rand() -> None:
    """The premaster secret and its PKCS#1 padding come from the client's rand."""
    suite = ["TLS_RSA_WITH_AES_128_GCM_SHA256"]
    scfg = s12(certificate=credential("server-rsa"), cipher_suites=suite)
    wires = [bytes(ok(run(c12(cipher_suites=suite), scfg, rand=_stream("c"), srand=_stream("s"))).c2s)
             for _ in range(2)]
    assert wires[0] == wires[1]


def test_the_client_refuses_a_server_key_exchange_in_rsa_key_exchange() -> None:
    suite = ["TLS_RSA_WITH_AES_128_GCM_SHA256"]
    ske = M12.ServerKeyExchange(groups.X25519, bytes(32), 0x0804, b"sig").encode()
    pair = run(c12(cipher_suites=suite), s12(certificate=credential("server-rsa"), cipher_suites=suite),
               server_hooks=Hooks(after_message=lambda name, raw: HandshakeBytes(ske) if name == "certificate" else b""))
    assert isinstance(pair.client_error, UnexpectedMessage)
    assert str(pair.client_error) == "tls: unexpected ServerKeyExchange"


def test_no_common_suite() -> None:
    pair = run(c12(cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]), s12())
    assert isinstance(pair.server_error, HandshakeFailure)
    assert isinstance(pair.client_error, AlertReceived) and pair.client_error.alert == 40


def test_session_id_cache_alone() -> None:
    scfg = s12(ticket_store=None)
    first = ok(run(c12(), scfg))
    session = session_of(first)
    assert not session.ticket and len(session.session_id) == 32
    assert not [e for e in first.client_events if isinstance(e, NewSession12) and e.ticket_received]
    again = ok(run(c12(), scfg, session=session))
    assert again.info("client").resumed
    assert not [e for e in again.client_events if isinstance(e, NewSession12)]  # nothing new


def test_no_session_cache_no_session() -> None:
    pair = ok(run(c12(session_ticket_extension=False), s12(session_id_store=None)))
    assert not [e for e in pair.client_events if isinstance(e, NewSession12)]
    assert pair.info("client").session_id == b""


def test_unknown_or_expired_session_falls_back_to_a_full_handshake() -> None:
    scfg = s12()
    session = session_of(ok(run(c12(), scfg)))
    other = ok(run(c12(), s12(), session=session))  # another server knows nothing of it
    assert not other.info("client").resumed
    late = ok(run(c12(), scfg, session=session, now=NOW + 8 * 86400))  # Go's 7-day limit
    assert not late.info("server").resumed
    # A session whose suite the hello no longer offers is not offered at all.
    engine = ClientEngine(c12(cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]), session12=session)
    assert engine._session12 is None


def test_tickets_keep_the_session_creation_time() -> None:
    scfg = s12()
    session = session_of(ok(run(c12(), scfg)))
    second = session_of(ok(run(c12(), scfg, session=session, now=NOW + 6 * 86400)))
    # The re-issued ticket still dies 7 days after the full handshake.
    late = ok(run(c12(), scfg, session=second, now=NOW + 7 * 86400 + 60))
    assert not late.info("server").resumed


# ---------------------------------------------------------------------------
# Extended master secret, exporter, tls-unique
# ---------------------------------------------------------------------------


def test_extended_master_secret_and_the_exporter() -> None:
    pair = ok(run(c12(), s12()))
    assert pair.info("server").extended_master_secret
    assert (pair.client.export_keying_material("EXPORTER-tlsdiff", None, 32)
            == pair.server.export_keying_material("EXPORTER-tlsdiff", None, 32))
    assert (pair.client.export_keying_material("EXPORTER-tlsdiff", b"", 32)
            != pair.client.export_keying_material("EXPORTER-tlsdiff", None, 32))
    unique = pair.info("client").tls_unique
    assert len(unique) == 12 and unique == pair.info("server").tls_unique


def test_without_extended_master_secret() -> None:
    for ccfg, scfg in ((c12(extended_master_secret=False), s12()),
                       (c12(), s12(extended_master_secret=False))):
        pair = ok(run(ccfg, scfg))
        assert not pair.info("client").extended_master_secret
        with pytest.raises(UnexpectedMessage, match="Extended Master Secret"):
            pair.client.export_keying_material("EXPORTER-tlsdiff", None, 32)
        resumed = ok(run(ccfg, scfg, session=session_of(pair)))
        assert resumed.info("client").resumed
        assert resumed.info("client").tls_unique == b"" == resumed.info("server").tls_unique


def test_tls_unique_is_the_first_finished() -> None:
    scfg = s12()
    full = ok(run(c12(), scfg))
    resumed = ok(run(c12(), scfg, session=session_of(full)))
    # Full: the client's Finished; resumed: the server's (it comes first).
    assert resumed.info("client").tls_unique == resumed.info("server").tls_unique
    assert resumed.info("client").tls_unique != full.info("client").tls_unique
    conn = decode_connection(bytes(resumed.c2s), bytes(resumed.s2c), "".join(resumed.client_keylog))
    fins = [m for m in conn.server_to_client.handshake_messages if m.name == "finished"]
    assert fins[0].body == resumed.info("client").tls_unique


def test_a_non_ems_session_is_not_resumed_by_an_ems_hello() -> None:
    scfg = s12()
    session = session_of(ok(run(c12(extended_master_secret=False), scfg)))
    pair = ok(run(c12(), scfg, session=session))
    assert not pair.info("server").resumed and pair.info("server").extended_master_secret


# ---------------------------------------------------------------------------
# Client certificates
# ---------------------------------------------------------------------------


def test_client_certificates_and_their_resumption() -> None:
    scfg = s12(client_auth="RequireAndVerifyClientCert", client_roots=roots())
    pair = ok(run(c12(certificate=credential("client")), scfg))
    server = pair.info("server")
    assert server.verified and server.peer_chain[0] == credential("client").chain[0]
    assert server.signature_scheme == 0x0403
    opens(pair)
    again = ok(run(c12(certificate=credential("client")), scfg, session=session_of(pair)))
    assert again.info("server").resumed and again.info("server").peer_chain == server.peer_chain


def test_a_required_certificate_that_is_missing() -> None:
    pair = run(c12(), s12(client_auth="RequireAnyClientCert"))
    assert isinstance(pair.server_error, HandshakeFailure)
    assert str(pair.server_error) == "tls: client didn't provide a certificate"
    optional = ok(run(c12(), s12(client_auth="RequestClientCert")))
    assert optional.info("server").peer_chain == []


def test_a_session_without_certificate_is_not_resumed_where_one_is_required() -> None:
    store = TicketStore()
    session = session_of(ok(run(c12(), s12(ticket_store=store))))
    pair = ok(run(c12(certificate=credential("client")),
                  s12(ticket_store=store, client_auth="RequireAnyClientCert"), session=session))
    assert not pair.info("server").resumed and pair.info("server").peer_chain


# ---------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------


def test_version_negotiation() -> None:
    assert ok(run(c12(), server_config())).info("client").version == M.TLS13
    assert ok(run(c12(), s12())).info("client").version == M.TLS12
    both = s12(max_version="1.3")
    assert ok(run(c12(), both)).info("server").version == M.TLS13
    capped = ok(run(c12(max_version="1.2"), both))
    assert capped.info("client").version == M.TLS12
    # A TLS 1.3-capable server marks its random when it settles for TLS 1.2 ...
    (sh,) = [m for m in decode_connection(bytes(capped.c2s), bytes(capped.s2c), "")
             .server_to_client.handshake_messages if m.name == "server_hello"]
    assert sh.body[2 + 24:2 + 32] == tls12.DOWNGRADE_TLS12
    # ... and one capped at TLS 1.2 does not.
    plain = ok(run(c12(), s12()))
    (sh,) = [m for m in decode_connection(bytes(plain.c2s), bytes(plain.s2c), "")
             .server_to_client.handshake_messages if m.name == "server_hello"]
    assert sh.body[2 + 24:2 + 32] != tls12.DOWNGRADE_TLS12


def test_the_client_refuses_a_downgrade() -> None:
    def mark(name, msg):  # type: ignore[no-untyped-def]
        if name == "server_hello":
            msg.random = msg.random[:24] + tls12.DOWNGRADE_TLS12
        return msg
    pair = run(c12(), s12(), server_hooks=Hooks(mutate=mark))
    assert isinstance(pair.client_error, IllegalParameter)
    assert "downgrade attempt detected" in str(pair.client_error)
    # (A client capped at TLS 1.2 accepts the sentinel: test_version_negotiation.)


def test_no_common_version() -> None:
    pair = run(c12(max_version="1.2"), server_config())
    assert isinstance(pair.server_error, ProtocolVersion)
    assert str(pair.server_error) == "tls: client offered only unsupported versions: [303]"
    with pytest.raises(ValueError):
        client_config(min_version="1.3", max_version="1.2")


def test_a_tls13_only_hello_is_unchanged_and_a_tls12_one_has_its_extensions() -> None:
    pair = run(client_config(), server_config())
    conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "")
    hello = conn.client_to_server.handshake_messages[0].summary
    names = [e["name"] for e in hello["extensions"]]
    assert "session_ticket" not in names and "renegotiation_info" not in names
    assert all(s >> 8 == 0x13 for s in hello["cipher_suites"])
    pair = run(c12(), s12())
    hello = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "").client_to_server.handshake_messages[0].summary
    names = [e["name"] for e in hello["extensions"]]
    for name in ("ec_point_formats", "session_ticket", "renegotiation_info", "supported_versions", "key_share"):
        assert name in names
    assert hello["supported_versions"] == [M.TLS13, M.TLS12]


# ---------------------------------------------------------------------------
# Key log, determinism
# ---------------------------------------------------------------------------


def test_key_log_lines_are_goes() -> None:
    pair = ok(run(c12(), s12()))
    (line,) = pair.client_keylog
    assert re.fullmatch(r"CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}\n", line)
    assert pair.client_keylog == pair.server_keylog
    assert line.split()[1] == pair.client.client_random.hex()


def _stream(seed: str):  # type: ignore[no-untyped-def]
    state = {"n": 0, "buf": b""}

    def rand(n: int) -> bytes:
        while len(state["buf"]) < n:
            state["buf"] += hashlib.sha256(f"{seed}/{state['n']}".encode()).digest()
            state["n"] += 1
        out, state["buf"] = state["buf"][:n], state["buf"][n:]
        return out
    return rand


@pytest.mark.parametrize("suite", ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"])
def test_seeded_rand_gives_the_same_bytes(suite: str) -> None:
    """Ed25519 signs deterministically, so with seeded rand (keys, randoms, CBC
    IVs, tickets) two connections are byte for byte the same."""
    wires = []
    for _ in range(2):
        pair = ok(run(c12(cipher_suites=[suite]), s12(certificate=leaf_credential("ed25519")),
                      rand=_stream("c"), srand=_stream("s")))
        wires.append((bytes(pair.c2s), bytes(pair.s2c)))
    assert wires[0] == wires[1]


# ---------------------------------------------------------------------------
# Misbehaviours
# ---------------------------------------------------------------------------


def test_unrequested_ticket() -> None:
    mis = Misbehaviour(unrequested_ticket=True)
    pair = run(c12(session_ticket_extension=False), s12(misbehaviour=mis))
    assert isinstance(pair.client_error, IllegalParameter)
    assert str(pair.client_error) == "tls: server sent unrequested session ticket"
    # To a client that asked, nothing changes.
    assert ok(run(c12(), s12(misbehaviour=mis)))


def test_echo_session_id() -> None:
    pair = run(c12(), s12(misbehaviour=Misbehaviour(echo_session_id=True)))
    assert isinstance(pair.client_error, IllegalParameter)
    assert str(pair.client_error) == "tls: server echoed TLS 1.3 compatibility session ID in TLS 1.2"
    assert isinstance(pair.server_error, AlertReceived) and pair.server_error.alert == 47


def test_resume_other_suite() -> None:
    scfg = s12(misbehaviour=Misbehaviour(resume_other_suite=True))
    first = ok(run(c12(), scfg))  # a full handshake is untouched
    pair = run(c12(), scfg, session=session_of(first))
    assert isinstance(pair.client_error, HandshakeFailure)
    assert str(pair.client_error) == "tls: server resumed a session with a different cipher suite"
    # With no other suite to pick, it resumes normally.
    only = s12(cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
               misbehaviour=Misbehaviour(resume_other_suite=True))
    again = ok(run(c12(), only, session=session_of(ok(run(c12(), only)))))
    assert again.info("client").resumed


def test_drop_ems_on_resume() -> None:
    scfg = s12()
    session = session_of(ok(run(c12(), scfg)))
    mis = c12(misbehaviour=Misbehaviour(drop_ems_on_resume=True))
    pair = run(mis, scfg, session=session)
    # RFC 7627 §5.3: abort; as Go, without an alert.
    assert isinstance(pair.server_error, SilentFailure)
    assert str(pair.server_error) == "tls: session supported extended_master_secret but client does not"
    assert pair.client_error is None and not pair.client.handshake_complete
    assert len(pair.s2c) == 0
    # Without a session to offer, the hello keeps the extension.
    assert ok(run(mis, scfg)).info("client").extended_master_secret


def _premaster_block(pair: Pair) -> bytes:
    """The RSA block the client's ClientKeyExchange encrypts, decrypted with the
    server's key without any padding check."""
    conn = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "")
    (cke,) = [m for m in conn.client_to_server.handshake_messages if m.name == "client_key_exchange"]
    ciphertext = M12.EncryptedPreMasterSecret.decode(cke.body).ciphertext
    numbers = credential("server-rsa").private_key.private_numbers()
    n = numbers.public_numbers.n
    assert len(ciphertext) == 256
    if int.from_bytes(ciphertext, "big") >= n:
        return ciphertext
    return pow(int.from_bytes(ciphertext, "big"), numbers.d, n).to_bytes(256, "big")


@pytest.mark.parametrize("corrupt", ["padding", "too_large", "version"])
def test_corrupt_premaster(corrupt: str) -> None:
    """What each value puts on the wire, and what our server does with it: Go's
    rsaKeyAgreement (a bad block is a random premaster, so the client's Finished
    record does not open; a ciphertext above the modulus fails; the version is not
    checked)."""
    suite = ["TLS_RSA_WITH_AES_128_GCM_SHA256"]
    pair = run(c12(cipher_suites=suite, misbehaviour=Misbehaviour(corrupt_premaster=corrupt)),
               s12(certificate=credential("server-rsa"), cipher_suites=suite))
    block = _premaster_block(pair)
    if corrupt == "too_large":
        assert block == b"\xff" * 256
        assert isinstance(pair.server_error, IllegalParameter)
        assert str(pair.server_error) == "crypto/rsa: decryption error"
        assert isinstance(pair.client_error, AlertReceived) and pair.client_error.alert == 47
        return
    assert block[:2] == (b"\x00\x01" if corrupt == "padding" else b"\x00\x02")
    premaster = block[-48:]
    assert block[-49] == 0 and premaster[:2] == (b"\x03\x01" if corrupt == "version" else b"\x03\x03")
    if corrupt == "version":
        ok(pair)
        return
    assert isinstance(pair.server_error, BadRecordMacError)
    assert str(pair.server_error) == "tls: bad record MAC"
    assert isinstance(pair.client_error, AlertReceived) and pair.client_error.alert == 20


def test_the_server_refuses_a_bad_premaster_length() -> None:
    suite = ["TLS_RSA_WITH_AES_128_GCM_SHA256"]

    def cut(name, msg):  # type: ignore[no-untyped-def]
        if name == "client_key_exchange":
            return M12.ClientKeyExchange(msg.ciphertext[:200])  # a u8 length instead of u16
        return msg
    pair = run(c12(cipher_suites=suite), s12(certificate=credential("server-rsa"), cipher_suites=suite),
               client_hooks=Hooks(mutate=cut))
    assert isinstance(pair.server_error, IllegalParameter)
    assert str(pair.server_error) == "tls: invalid ClientKeyExchange message"


def test_omit_ems() -> None:
    scfg = s12()
    mis = c12(misbehaviour=Misbehaviour(omit_ems=True))
    pair = ok(run(mis, scfg))
    assert not pair.info("client").extended_master_secret and not pair.info("server").extended_master_secret
    hello = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "").client_to_server.handshake_messages[0].summary
    names = [e["name"] for e in hello["extensions"]]
    assert "extended_master_secret" not in names and "renegotiation_info" in names
    # Without EMS the exporter is not bound to the connection: refused, as Go 1.22+ does by default.
    with pytest.raises(UnexpectedMessage, match="neither TLS 1.3 nor Extended Master Secret"):
        pair.client.export_keying_material("EXPORTER-tlsdiff", None, 32)
    # A resumption of such a session keeps EMS off too, and resumes.
    again = ok(run(mis, scfg, session=session_of(pair)))
    assert again.info("client").resumed and not again.info("server").extended_master_secret


def test_omit_ems_on_a_server_does_not_take_up_the_clients_offer() -> None:
    """A server from before RFC 7627: the client offers EMS, the ServerHello does not echo
    it, and both derive the RFC 5246 master secret (an edit that only drops the echo
    leaves the server on EMS, and Finished fails)."""
    scfg = s12(misbehaviour=Misbehaviour(omit_ems=True))
    pair = ok(run(c12(), scfg))
    assert not pair.info("client").extended_master_secret and not pair.info("server").extended_master_secret
    flights = decode_connection(bytes(pair.c2s), bytes(pair.s2c), "")
    offered = [e["name"] for e in flights.client_to_server.handshake_messages[0].summary["extensions"]]
    echoed = [e["name"] for e in flights.server_to_client.handshake_messages[0].summary["extensions"]]
    assert "extended_master_secret" in offered and "extended_master_secret" not in echoed
    again = ok(run(c12(), scfg, session=session_of(pair)))
    assert again.info("client").resumed and not again.info("client").extended_master_secret


def test_ticket_knobs_act_on_tls12_tickets() -> None:
    scfg = s12(misbehaviour=Misbehaviour(huge_ticket=3000, ticket_lifetime=77))
    session = session_of(ok(run(c12(), scfg)))
    assert len(session.ticket) == 3000 and session.lifetime_hint == 77
    assert ok(run(c12(), scfg, session=session)).info("client").resumed
    empty = session_of(ok(run(c12(), s12(misbehaviour=Misbehaviour(empty_ticket_label=True)))))
    assert empty.ticket == b"" and empty.session_id


# ---------------------------------------------------------------------------
# Protocol checks
# ---------------------------------------------------------------------------


def test_a_corrupt_finished_and_a_wrong_ccs() -> None:
    def bad_finished(name, msg):  # type: ignore[no-untyped-def]
        if name == "finished":
            msg.verify_data = bytes(12)
        return msg
    pair = run(c12(), s12(), client_hooks=Hooks(mutate=bad_finished))
    assert isinstance(pair.server_error, HandshakeFailure)
    assert str(pair.server_error) == "tls: client's Finished message is incorrect"
    pair = run(c12(), s12(), server_hooks=Hooks(mutate=bad_finished))
    assert str(pair.client_error) == "tls: server's Finished message was incorrect"
    # A ChangeCipherSpec before the keys exist.
    client = ClientEngine(c12(), now=lambda: NOW)
    client.start()
    server = ServerEngine(s12(), now=lambda: NOW)
    server.receive_data(client.data_to_send())
    with pytest.raises(UnexpectedMessage):
        server.receive_data(b"\x14\x03\x03\x00\x01\x01")


def test_key_update_is_refused_in_tls12() -> None:
    pair = ok(run(c12(), s12()))
    with pytest.raises(UnexpectedMessage):
        pair.client.send_key_update()


def test_signature_scheme_selection() -> None:
    ec_key = credential().private_key
    assert tls12.select_scheme([0x0804, 0x0503, 0x0403], ec_key) == 0x0503  # any curve in TLS 1.2
    assert tls12.select_scheme(None, ec_key) == tls12.ECDSA_SHA1  # no extension: SHA-1
    assert tls12.select_scheme([], ec_key) is None
    # A client certificate the CertificateRequest's schemes cannot sign is not sent.
    def only_pss(name, msg):  # type: ignore[no-untyped-def]
        if name == "certificate_request":
            msg.schemes = [0x0804]
        return msg
    pair = run(c12(certificate=credential("client")), s12(client_auth="RequestClientCert"),
               server_hooks=Hooks(mutate=only_pss))
    ok(pair)
    assert pair.info("server").peer_chain == [] and not pair.info("client").client_certificate_sent
