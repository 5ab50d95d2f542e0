"""tlspeer against the RFC 8448 traces, byte for byte.

The trace is parsed by `rfc8448_trace` (shared with the engine tests). Every step of sections 3 to 7 that shows a computation is checked: the
HKDF extracts and expansions, traffic keys and IVs, Finished verify_data, the PSK
binder, the resumption secret, every record's protection, and the transcript hashes
the derivations use. Then each section's records go through decode_connection.
"""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives import serialization

from tlspeer import handshake as hs
from tlspeer.keylog import KeyLogError, format_keylog, parse_keylog
from tlspeer.keyschedule import (Tls13KeySchedule, derive_secret, finished_key,
                                 finished_verify_data, hkdf_expand_label, hkdf_extract,
                                 hkdf_label, next_traffic_secret, resumption_psk, traffic_key_iv)
from tlspeer.record import (Record, RecordError, RecordReader, Tls13Protection, parse_records,
                            record_header)
from tlspeer.suites import SUITE_BY_ID
from tlspeer.wire import decode_connection

from rfc8448_trace import (BINDER_STEP, CONTENT, DERIVE_STEP, EXTRACT_STEP, FINISHED_STEP, H,
                           KEYPAIR_STEP, KEYS_STEP, MESSAGE_STEP, RECORD_STEP, SECTIONS,
                           Step, TraceFormatError, first_block, flow,
                           parse_trace, steps, trace)

# ---------------------------------------------------------------------------
# Parametrization: one test id per check
# ---------------------------------------------------------------------------


def _params() -> dict[str, list]:
    names = ("extract", "derive", "keys", "finished", "record", "keypair")
    kinds: dict[str, list] = {k: [] for k in names}
    for number in SECTIONS:
        counters: dict[str, int] = {}
        for i, step in enumerate(trace()[number].steps):
            if not step.blocks:
                continue
            for kind, pattern in (("extract", EXTRACT_STEP), ("derive", DERIVE_STEP),
                                  ("keys", KEYS_STEP), ("finished", FINISHED_STEP),
                                  ("record", RECORD_STEP), ("keypair", KEYPAIR_STEP)):
                m = pattern.match(step.text)
                if not m:
                    continue
                tag = m.group(1).replace(" ", "_") if kind != "finished" else "finished"
                base = f"s{number}-{kind}-{step.actor}-{tag}"
                counters[base] = counters.get(base, 0) + 1
                kinds[kind].append(pytest.param(number, i, id=f"{base}-{counters[base]}"))
    return kinds


PARAMS = _params()


def _step(number: int, i: int) -> Step:
    return trace()[number].steps[i]


# ---------------------------------------------------------------------------
# The parser itself
# ---------------------------------------------------------------------------


def test_trace_has_every_section_and_kind_of_step() -> None:
    sections = trace()
    assert sorted(sections) == list(SECTIONS)
    for number in SECTIONS:
        texts = [s.text for s in sections[number].steps]
        assert any(RECORD_STEP.match(t) for t in texts)
        assert any(DERIVE_STEP.match(t) for t in texts)
        assert any(KEYS_STEP.match(t) for t in texts)
        assert any(FINISHED_STEP.match(t) for t in texts)
    # Every block the checks below read has been placed in a known step kind.
    known = (RECORD_STEP, EXTRACT_STEP, DERIVE_STEP, KEYS_STEP, FINISHED_STEP, BINDER_STEP,
             KEYPAIR_STEP, MESSAGE_STEP)
    for number in SECTIONS:
        for s in sections[number].steps:
            if s.blocks:
                assert any(p.match(s.text) for p in known), (number, s.text)
    assert len(steps(4, BINDER_STEP)) == 1


def test_parser_handles_page_breaks_and_wrapped_steps() -> None:
    text = "\n".join([
        "3.  Simple 1-RTT Handshake",
        "",
        "   {server}  derive read traffic keys for handshake data (same as",
        "      client handshake data write traffic keys)",
        "",
        "   {client}  send handshake record:",
        "",
        "      payload (4 octets):  01 02",
        "",
        "",
        "Thomson                  Expires March 31, 2019                [Page 9]",
        "\fInternet-Draft               TLS 1.3 Traces               September 2018",
        "",
        "         03 04",
        "",
        "      salt:  0 (all zero octets)",
        "",
        "      hash (0 octets):  (empty)",
        "",
    ])
    parsed = parse_trace(text)
    first, second = parsed[3].steps
    assert first.text.endswith("(same as client handshake data write traffic keys)")
    assert second.blocks == {"payload": b"\x01\x02\x03\x04", "salt": None, "hash": b""}
    with pytest.raises(TraceFormatError):
        parse_trace(text.replace("(4 octets)", "(5 octets)"))


# ---------------------------------------------------------------------------
# Key schedule steps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("number,i", PARAMS["extract"])
def test_extract(number: int, i: int) -> None:
    step = _step(number, i)
    salt = step.blocks.get("salt")
    assert hkdf_extract(H, salt, step["IKM"]) == step["secret"]


@pytest.mark.parametrize("number,i", PARAMS["derive"])
def test_derive_secret(number: int, i: int) -> None:
    step = _step(number, i)
    label = DERIVE_STEP.match(step.text).group(1)
    expanded = step["expanded"]
    assert hkdf_label(label, step["hash"], len(expanded)) == step["info"]
    assert hkdf_expand_label(H, step["PRK"], label, step["hash"], len(expanded)) == expanded
    if label == "resumption":
        assert resumption_psk(H, step["PRK"], step["hash"]) == expanded
    else:
        assert derive_secret(H, step["PRK"], label, step["hash"]) == expanded


@pytest.mark.parametrize("number,i", PARAMS["derive"])
def test_derive_secret_context_is_the_transcript_hash(number: int, i: int) -> None:
    """The `hash` each derivation shows is the hash of the section's own messages."""
    step = _step(number, i)
    label = DERIVE_STEP.match(step.text).group(1)
    f = flow(number)
    if label == "derived":
        assert step["hash"] == hashlib.sha256(b"").digest()
    elif label == "resumption":
        nsts = [m for who, m in f.messages if m.msg_type == hs.NEW_SESSION_TICKET]
        assert [hs.decode_new_session_ticket13(m.body).nonce for m in nsts] == [step["hash"]]
    else:
        assert f.transcript(f.point(label)) == step["hash"]


@pytest.mark.parametrize("number,i", PARAMS["keys"])
def test_traffic_keys(number: int, i: int) -> None:
    step = _step(number, i)
    key, iv = step["key expanded"], step["iv expanded"]
    assert hkdf_label("key", b"", len(key)) == step["key info"]
    assert hkdf_label("iv", b"", len(iv)) == step["iv info"]
    keys = traffic_key_iv(H, step["PRK"], SUITE_BY_ID[0x1301].key_len)
    assert (keys.key, keys.iv) == (key, iv)


@pytest.mark.parametrize("number,i", PARAMS["finished"])
def test_finished(number: int, i: int) -> None:
    step = _step(number, i)
    assert hkdf_label("finished", b"", 32) == step["info"]
    assert step["hash"] == b""
    assert finished_key(H, step["PRK"]) == step["expanded"]
    # verify_data is the HMAC of the transcript up to this Finished message.
    f = flow(number)
    at = f.index(lambda w, m: m.msg_type == hs.FINISHED and m.body == step["finished"])
    assert f.messages[at][0] == step.actor
    assert finished_verify_data(H, step["PRK"], f.transcript(at - 1)) == step["finished"]


@pytest.mark.parametrize("number,i", PARAMS["keypair"])
def test_ephemeral_keys_and_shared_secret(number: int, i: int) -> None:
    """The trace's key pairs are consistent and their (EC)DHE output is the IKM of
    the handshake secret extract."""
    step = _step(number, i)
    curve = KEYPAIR_STEP.match(step.text).group(1)
    private = step["private key"]
    if curve == "x25519":
        key = x25519.X25519PrivateKey.from_private_bytes(private)
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        key = ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1())
        public = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    assert public == step["public key"]
    f = flow(number)
    group = 29 if curve == "x25519" else 23
    own_shares, peer_share = [], None
    for who, m in f.messages:
        if m.msg_type == hs.CLIENT_HELLO:
            shares = [s.key_exchange for s in hs.decode_client_hello(m.body).key_shares() or []
                      if s.group == group]
        elif m.msg_type == hs.SERVER_HELLO:
            share = hs.decode_server_hello(m.body).key_share()
            shares = [share.key_exchange] if share is not None and share.group == group else []
        else:
            continue
        if who == step.actor:
            own_shares += shares
        elif shares:
            peer_share = shares[-1]
    # The public key is what this side put in its hello.
    assert public in own_shares
    if peer_share is None:
        # Section 5's first x25519 share: the server answered with an HRR for P-256.
        assert number == 5 and curve == "x25519" and step.actor == "client"
        return
    if curve == "x25519":
        shared = key.exchange(x25519.X25519PublicKey.from_public_bytes(peer_share))
    else:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_share)
        shared = key.exchange(ec.ECDH(), peer)
    extracts = [s for s in steps(number, EXTRACT_STEP) if EXTRACT_STEP.match(s.text).group(1) == "handshake"]
    assert extracts and all(s["IKM"] == shared for s in extracts)


@pytest.mark.parametrize("number", SECTIONS, ids=[f"s{n}" for n in SECTIONS])
def test_key_schedule_class_walks_the_whole_ladder(number: int) -> None:
    """Tls13KeySchedule, fed only the PSK, the shared secret and transcript hashes we
    compute, reaches every secret the trace lists."""
    f = flow(number)
    early = [s for s in steps(number, EXTRACT_STEP) if 'secret "early"' in s.text][0]
    psk = early["IKM"] if any(early["IKM"]) else None
    ks = Tls13KeySchedule(H, psk)
    assert ks.early_secret == early["secret"]
    hs_extract = [s for s in steps(number, EXTRACT_STEP) if 'secret "handshake"' in s.text][0]
    assert ks.derive_handshake_secret(hs_extract["IKM"]) == hs_extract["secret"]
    master = [s for s in steps(number, EXTRACT_STEP) if 'secret "master"' in s.text][0]
    assert ks.derive_master_secret() == master["secret"]

    def want(label: str) -> bytes:
        return first_block(number, DERIVE_STEP, label)

    sh_hash = f.transcript(f.point("c hs traffic"))
    sf_hash = f.transcript(f.point("c ap traffic"))
    cf_hash = f.transcript(f.point("res master"))
    assert ks.client_handshake_traffic_secret(sh_hash) == want("c hs traffic")
    assert ks.server_handshake_traffic_secret(sh_hash) == want("s hs traffic")
    assert ks.client_application_traffic_secret_0(sf_hash) == want("c ap traffic")
    assert ks.server_application_traffic_secret_0(sf_hash) == want("s ap traffic")
    assert ks.exporter_master_secret(sf_hash) == want("exp master")
    assert ks.resumption_master_secret(cf_hash) == want("res master")
    if number == 4:
        ch_hash = f.transcript(f.point("c e traffic"))
        assert ks.client_early_traffic_secret(ch_hash) == want("c e traffic")
        assert ks.early_exporter_master_secret(ch_hash) == want("e exp master")


@pytest.mark.parametrize("number", SECTIONS, ids=[f"s{n}" for n in SECTIONS])
def test_constructed_messages_are_the_ones_sent(number: int) -> None:
    """Each "construct a X handshake message" block is, byte for byte, a message of
    the section's records (section 4's ClientHello is shown before its binders)."""
    f = flow(number)
    sent = [(who, m.encode()) for who, m in f.messages]
    constructed = steps(number, MESSAGE_STEP)
    assert constructed
    for step in constructed:
        name = MESSAGE_STEP.match(step.text).group(1)
        (value,) = step.blocks.values()
        assert value is not None
        matches = [enc for who, enc in sent if who == step.actor and enc.startswith(value)]
        assert matches, (name, step.line)
        msg_type = hs.split_handshake_messages(matches[0])[0][0].name
        assert msg_type.replace("_", "") == name.lower(), (name, msg_type)
        if not (number == 4 and name == "ClientHello"):
            assert value in [enc for _, enc in sent]


# ---------------------------------------------------------------------------
# Resumption and the PSK binder (sections 3 and 4)
# ---------------------------------------------------------------------------


def test_resumption_secret_is_the_psk_of_section_4() -> None:
    res_master = first_block(3, DERIVE_STEP, "res master")
    nst = [m for who, m in flow(3).messages if m.msg_type == hs.NEW_SESSION_TICKET][0]
    ticket = hs.decode_new_session_ticket13(nst.body)
    psk = resumption_psk(H, res_master, ticket.nonce)
    assert psk == first_block(3, DERIVE_STEP, "resumption")
    early = [s for s in steps(4, EXTRACT_STEP) if 'secret "early"' in s.text][0]
    assert early["IKM"] == psk
    # Section 4 offers exactly that ticket, with the obfuscated age the trace shows.
    ch = hs.decode_client_hello(flow(4).messages[0][1].body)
    offered = ch.pre_shared_key()
    assert offered is not None and [i.identity for i in offered.identities] == [ticket.ticket]
    assert (ticket.lifetime, ticket.age_add, ticket.max_early_data_size()) == (30, 0x933D0932, 1024)


def test_psk_binder() -> None:
    step = steps(4, BINDER_STEP)[0]
    prefix = step["ClientHello prefix"]
    assert hashlib.sha256(prefix).digest() == step["binder hash"]
    early = [s for s in steps(4, EXTRACT_STEP) if 'secret "early"' in s.text][0]
    ks = Tls13KeySchedule(H, early["IKM"])
    assert ks.binder_key() == step["PRK"]
    assert hkdf_label("finished", b"", 32) == step["info"]
    assert finished_key(H, step["PRK"]) == step["expanded"]
    assert finished_verify_data(H, ks.binder_key(), step["binder hash"]) == step["finished"]
    # The ClientHello on the wire carries that binder, and the prefix is the hello
    # truncated before the binders list.
    ch_msg = flow(4).messages[0][1]
    offered = hs.decode_client_hello(ch_msg.body).pre_shared_key()
    assert offered is not None and list(offered.binders) == [step["finished"]]
    assert ch_msg.encode()[:-offered.binders_length] == prefix


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


def _record_states(number: int) -> dict[int, tuple[str, int] | None]:
    """For each record step: the writer's (phase, sequence number), or None when the
    writer has no keys yet. Keys are installed by the writer's own "derive write
    traffic keys" step, which the trace places exactly where the writer switches."""
    states: dict[int, tuple[str, int] | None] = {}
    current: dict[str, list] = {}
    for i, step in enumerate(trace()[number].steps):
        m = KEYS_STEP.match(step.text)
        if m and m.group(1) == "write":
            current[step.actor] = [m.group(2), 0]
            continue
        m = RECORD_STEP.match(step.text)
        if m and "complete record" in step.blocks:
            st = current.get(step.actor)
            if st is None or m.group(1) == "change_cipher_spec":
                states[i] = None
            else:
                states[i] = (st[0], st[1])
                st[1] += 1
    return states


@pytest.mark.parametrize("number,i", PARAMS["record"])
def test_record(number: int, i: int) -> None:
    step = _step(number, i)
    inner_type = CONTENT[RECORD_STEP.match(step.text).group(1)]
    payload, complete = step["payload"], step["complete record"]
    state = _record_states(number)[i]
    if state is None:
        assert complete == record_header(inner_type, int.from_bytes(complete[1:3], "big"),
                                         len(payload)) + payload
        records, rest = parse_records(complete)
        assert rest == b"" and [(r.content_type, r.fragment) for r in records] == [(inner_type, payload)]
        return
    phase, seq = state
    key, iv = flow(number).keys[(step.actor, phase)]
    sealer = Tls13Protection("aead-gcm", key, iv, seq=seq)
    assert sealer.encrypt(inner_type, payload) == complete
    records, rest = parse_records(complete)
    assert rest == b"" and len(records) == 1
    opener = Tls13Protection("aead-gcm", key, iv, seq=seq)
    assert opener.decrypt(records[0]) == (inner_type, payload)
    assert opener.seq == seq + 1


# ---------------------------------------------------------------------------
# decode_connection over each section
# ---------------------------------------------------------------------------

EXPECTED_MESSAGES = {
    3: (["client_hello", "finished"],
        ["server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished",
         "new_session_ticket"]),
    4: (["client_hello", "end_of_early_data", "finished"],
        ["server_hello", "encrypted_extensions", "finished"]),
    5: (["client_hello", "client_hello", "finished"],
        ["server_hello", "server_hello", "encrypted_extensions", "certificate",
         "certificate_verify", "finished"]),
    6: (["client_hello", "certificate", "certificate_verify", "finished"],
        ["server_hello", "encrypted_extensions", "certificate_request", "certificate",
         "certificate_verify", "finished"]),
    7: (["client_hello", "finished"],
        ["server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"]),
}

_KEYLOG_LABELS = {
    "c e traffic": "CLIENT_EARLY_TRAFFIC_SECRET",
    "c hs traffic": "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "s hs traffic": "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "c ap traffic": "CLIENT_TRAFFIC_SECRET_0",
    "s ap traffic": "SERVER_TRAFFIC_SECRET_0",
    "exp master": "EXPORTER_SECRET",
}


def section_keylog(number: int, only: set[str] | None = None) -> str:
    f = flow(number)
    client_random = hs.decode_client_hello(f.messages[0][1].body).random
    secrets = {}
    for label, nss in _KEYLOG_LABELS.items():
        if only is not None and nss not in only:
            continue
        try:
            secrets[nss] = first_block(number, DERIVE_STEP, label)
        except KeyError:
            continue
    text = "# written from the RFC 8448 trace\n\n" + format_keylog({client_random: secrets})
    assert parse_keylog(text) == ({client_random: secrets} if secrets else {})
    return text


def section_streams(number: int) -> tuple[bytes, bytes]:
    f = flow(number)
    return b"".join(f.records["client"]), b"".join(f.records["server"])


@pytest.mark.parametrize("number", SECTIONS, ids=[f"s{n}" for n in SECTIONS])
def test_decode_connection(number: int) -> None:
    c2s, s2c = section_streams(number)
    conn = decode_connection(c2s, s2c, section_keylog(number))
    client, server = conn.client_to_server, conn.server_to_client
    assert (client.handshake_types, server.handshake_types) == EXPECTED_MESSAGES[number]
    # The same messages, byte for byte, as the trace's payloads.
    f = flow(number)
    for who, direction in (("client", client), ("server", server)):
        assert [m.encode() for m in direction.handshake_messages] == \
               [m.encode() for w, m in f.messages if w == who]
        assert all(r.decrypted for r in direction.records if r.encrypted)
        assert direction.undecrypted_records == 0
        assert [(a.level, a.description, a.encrypted) for a in direction.alerts] == [(1, 0, True)]
        assert direction.truncated_bytes == direction.pending_handshake_bytes == 0
        assert direction.notes == []
    assert conn.version == 0x0304 and conn.cipher_suite == 0x1301
    assert conn.cipher_suite_name == "TLS_AES_128_GCM_SHA256"
    assert conn.hello_retry_request is (number == 5)
    assert conn.resumed is (number == 4)
    assert conn.early_data_offered is (number == 4)
    assert conn.early_data_accepted is (True if number == 4 else None)
    assert conn.notes == []
    app = bytes(range(50))
    if number in (3, 4):
        assert server.application_bytes == app
        assert client.application_bytes == (b"ABCDEF" + app if number == 4 else app)
        assert [a.epoch for a in client.application_data] == \
               (["early", "application"] if number == 4 else ["application"])
    hello = server.handshake_messages[0].summary
    assert hello is not None and hello["hello_retry_request"] is (number == 5)
    if number == 5:
        assert hello["selected_group"] == 23 and hello["cookie"] is not None
        assert server.handshake_messages[1].summary["selected_group"] == 23
        assert client.handshake_messages[1].summary["key_share_groups"] == [23]
        assert client.handshake_messages[0].summary["key_share_groups"] == [29]
    if number == 7:
        assert client.change_cipher_spec_count == server.change_cipher_spec_count == 1
        assert [r.epoch for r in server.records[:2]] == ["plaintext", "plaintext"]
    if number == 4:
        ch = client.handshake_messages[0].summary
        assert ch["psk_key_exchange_modes"] == [1] and ch["early_data"] is True
        assert len(ch["pre_shared_key"]["identities"]) == 1
        assert server.handshake_messages[0].summary["selected_identity"] == 0
    if number == 3:
        nst = server.handshake_messages[-1]
        assert nst.epoch == "application" and nst.summary["ticket_lifetime"] == 30
    # JSON view: deterministic, and the same twice.
    again = decode_connection(c2s, s2c, section_keylog(number)).to_json()
    assert conn.to_json() == again
    assert list(again) == ["version", "version_name", "cipher_suite", "cipher_suite_name",
                           "hello_retry_request", "resumed", "early_data_offered",
                           "early_data_accepted", "client_random", "server_random",
                           "keylog_labels", "client_to_server", "server_to_client", "notes"]


def test_decode_without_application_keys_keeps_going() -> None:
    c2s, s2c = section_streams(3)
    keylog = section_keylog(3, only={"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET"})
    conn = decode_connection(c2s, s2c, keylog)
    server = conn.server_to_client
    assert server.handshake_types == EXPECTED_MESSAGES[3][1][:-1]  # no NST: app keys missing
    assert server.undecrypted_records == 3  # NST, application data, alert
    assert conn.client_to_server.handshake_types == ["client_hello", "finished"]
    assert all("SERVER_TRAFFIC_SECRET_0" in (r.error or "") for r in server.records if not r.decrypted and r.encrypted)


def test_decode_finds_keys_logged_under_another_random() -> None:
    """With ECH the key log names the inner hello's random, not the one on the wire:
    the entry whose keys open the server's records is used, and that is noted."""
    c2s, s2c = section_streams(6)
    entries = parse_keylog(section_keylog(6))
    (secrets,) = entries.values()
    other = {b"\x01" * 32: {"SERVER_HANDSHAKE_TRAFFIC_SECRET": bytes(32)}, b"\x02" * 32: secrets}
    conn = decode_connection(c2s, s2c, format_keylog(other))
    assert conn.client_to_server.undecrypted_records == conn.server_to_client.undecrypted_records == 0
    assert conn.client_to_server.handshake_types == EXPECTED_MESSAGES[6][0]
    assert len(conn.notes) == 1 and ("02" * 32) in conn.notes[0]


def test_decode_with_no_keys_at_all() -> None:
    c2s, s2c = section_streams(5)
    conn = decode_connection(c2s, s2c, "")
    assert conn.hello_retry_request and conn.version == 0x0304
    assert conn.client_to_server.handshake_types == ["client_hello", "client_hello"]
    assert conn.server_to_client.handshake_types == ["server_hello", "server_hello"]
    assert conn.client_to_server.undecrypted_records == 2
    assert conn.keylog_labels == []


@pytest.mark.parametrize("cut", [1, 3, 5, 6, 40, 96, 100, 400, -30, -24, -1])
def test_decode_truncated_server_stream(cut: int) -> None:
    c2s, s2c = section_streams(3)
    truncated = s2c[:cut]
    conn = decode_connection(c2s, truncated, section_keylog(3))
    server = conn.server_to_client
    records, rest = parse_records(truncated)
    assert len(server.records) == len(records) and server.truncated_bytes == len(rest)
    assert server.undecrypted_records == 0
    expected = EXPECTED_MESSAGES[3][1]
    assert server.handshake_types == expected[:len(server.handshake_types)]
    # The client side does not depend on how much of the server stream survived,
    # as long as the ServerHello did.
    if len(records) >= 1:
        assert conn.client_to_server.handshake_types == EXPECTED_MESSAGES[3][0]
        assert conn.client_to_server.undecrypted_records == 0


def test_decode_refragmented_handshake() -> None:
    """Messages spanning records and several messages per record decode the same."""
    f = flow(3)
    ch = f.messages[0][1].encode()
    pieces = [ch[:3], ch[3:50], ch[50:]]
    c2s = b"".join(record_header(22, 0x0301, len(p)) + p for p in pieces) + f.records["client"][1]
    s2c = b"".join(f.records["server"])
    conn = decode_connection(c2s, s2c, section_keylog(3))
    client = conn.client_to_server
    assert client.handshake_types == ["client_hello", "finished"]
    assert client.handshake_messages[0].record_index == 0
    assert client.handshake_messages[1].record_index == 3


def test_decode_key_update_after_section_3() -> None:
    """Continue the section 3 connection past the trace: each side sends KeyUpdate,
    then data under the next application secret."""
    f = flow(3)
    cap = first_block(3, DERIVE_STEP, "c ap traffic")
    sap = first_block(3, DERIVE_STEP, "s ap traffic")

    def protection(secret: bytes, seq: int) -> Tls13Protection:
        keys = traffic_key_iv(H, secret, 16)
        return Tls13Protection("aead-gcm", keys.key, keys.iv, seq=seq)

    key_update = lambda req: hs.HandshakeMessage(hs.KEY_UPDATE, bytes([req])).encode()  # noqa: E731
    # Server app records in the trace: NST (0), data (1), alert (2). Client: data (0), alert (1).
    s_old, c_old = protection(sap, 2), protection(cap, 1)
    s_new, c_new = protection(next_traffic_secret(H, sap), 0), protection(next_traffic_secret(H, cap), 0)
    s2c = b"".join(f.records["server"][:-1]) + s_old.encrypt(22, key_update(1)) \
        + s_new.encrypt(23, b"after update") + s_new.encrypt(21, b"\x01\x00")
    c2s = b"".join(f.records["client"][:-1]) + c_old.encrypt(22, key_update(0)) \
        + c_new.encrypt(23, b"client after") + c_new.encrypt(21, b"\x01\x00")
    conn = decode_connection(c2s, s2c, section_keylog(3))
    for direction, data in ((conn.server_to_client, b"after update"), (conn.client_to_server, b"client after")):
        assert direction.undecrypted_records == 0
        assert direction.handshake_types[-1] == "key_update"
        assert direction.application_data[-1].data == data
        assert direction.application_data[-1].epoch == "application_1"
        assert direction.alerts[-1].epoch == "application_1"
        assert direction.notes == []
    assert conn.server_to_client.handshake_messages[-1].summary == {"request_update": 1}


def test_decode_ignores_a_corrupted_record_and_carries_on() -> None:
    c2s, s2c = section_streams(3)
    records, _ = parse_records(s2c)
    bad = bytearray(records[-2].encode())  # the server's application data
    bad[-1] ^= 1
    s2c = b"".join(r.encode() for r in records[:-2]) + bytes(bad) + records[-1].encode()
    conn = decode_connection(c2s, s2c, section_keylog(3))
    server = conn.server_to_client
    assert [r.decrypted for r in server.records] == [False, True, True, False, True]
    assert server.records[3].error == "no key opens this record"
    assert [a.description for a in server.alerts] == [0]  # the alert after it still opens


def test_decode_stops_framing_at_a_bad_header() -> None:
    c2s, s2c = section_streams(3)
    conn = decode_connection(c2s, s2c + b"GET / HTTP/1.1\r\n", section_keylog(3))
    server = conn.server_to_client
    assert server.handshake_types == EXPECTED_MESSAGES[3][1] and server.undecrypted_records == 0
    assert server.unparsed_bytes == 16 and server.truncated_bytes == 0
    assert server.notes == [f"framing stopped: offset {len(s2c)}: unknown record content type 71"]
    reader = RecordReader()
    assert len(reader.feed(s2c + b"GET / ")) == 5
    with pytest.raises(RecordError):
        reader.feed(b"")


@pytest.mark.parametrize("junk", [b"", b"\x16", b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 4,
                                  b"\x17\x03\x03\x00\x05hello", b"\x16\x03\x01\x00\x04\x01\x00\x00\x09abc"],
                         ids=["empty", "one-byte", "http", "bytes", "app-data", "short-hello"])
def test_decode_never_raises_on_junk(junk: bytes) -> None:
    conn = decode_connection(junk, junk, "CLIENT_RANDOM zz\nnot a keylog line\n")
    assert conn.version is None
    assert isinstance(conn.to_json(), dict)
    assert conn.notes and "key log line 1" in conn.notes[0]


# ---------------------------------------------------------------------------
# Handshake decoding is exact and fails only with DecodeError
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", SECTIONS, ids=[f"s{n}" for n in SECTIONS])
def test_hello_decoding_is_exact(number: int) -> None:
    f = flow(number)
    decoders = {hs.CLIENT_HELLO: hs.decode_client_hello, hs.SERVER_HELLO: hs.decode_server_hello,
                hs.ENCRYPTED_EXTENSIONS: hs.decode_encrypted_extensions,
                hs.NEW_SESSION_TICKET: hs.decode_new_session_ticket13}
    for _, msg in f.messages:
        decode = decoders.get(msg.msg_type)
        if decode is None:
            continue
        value = decode(msg.body)
        summary = hs.summarize(msg, 0x0304)
        assert summary is not None and summary.get("decode_error") is None
        if msg.msg_type == hs.CLIENT_HELLO:
            assert value.supported_versions() == [0x0304]
            assert value.server_name() == "server"
            assert value.cipher_suites == (0x1301, 0x1303, 0x1302)
        if msg.msg_type == hs.SERVER_HELLO:
            assert value.selected_version() == 0x0304
        # Every proper prefix and every one-byte extension of the body fails cleanly.
        for cut in range(len(msg.body)):
            try:
                decode(msg.body[:cut])
            except hs.DecodeError:
                pass
        with pytest.raises(hs.DecodeError):
            decode(msg.body + b"\x00")


def test_handshake_names_and_constants() -> None:
    assert hs.HRR_RANDOM == hashlib.sha256(b"HelloRetryRequest").digest()
    assert hs.handshake_type_name(254) == "message_hash"
    assert hs.extension_name(65037) == "encrypted_client_hello"
    assert hs.alert_description_name(121) == "ech_required"
    assert hs.group_name(4588) == "X25519MLKEM768" and hs.group_name(0x6399) == "X25519Kyber768Draft00"
    assert hs.handshake_type_name(99) == "unknown(99)"
    msgs, rest = hs.split_handshake_messages(b"\x14\x00\x00\x02ab\x18\x00\x00\x01\x00\x01\x00")
    assert [(m.name, m.body) for m in msgs] == [("finished", b"ab"), ("key_update", b"\x00")]
    assert rest == b"\x01\x00"


def test_keylog_errors_name_the_line() -> None:
    good = "CLIENT_RANDOM " + "aa" * 32 + " " + "bb" * 48
    assert parse_keylog("# comment\n\n" + good + "\r\n") == {b"\xaa" * 32: {"CLIENT_RANDOM": b"\xbb" * 48}}
    for bad in ("CLIENT_RANDOM " + "aa" * 31 + " bb", "CLIENT_RANDOM " + "aa" * 32,
                "CLIENT_RANDOM " + "aa" * 32 + " xyz", "lower " + "aa" * 32 + " bb"):
        with pytest.raises(KeyLogError) as err:
            parse_keylog("# header\n" + good + "\n\n" + bad)
        assert err.value.line_no == 4 and "line 4" in str(err.value)
    assert parse_keylog(good + "\nbroken\n", strict=False) == parse_keylog(good)


def test_record_reader_keeps_partial_bytes() -> None:
    rec = Record(23, 0x0303, b"x" * 10)
    stream = rec.encode() * 2
    reader = RecordReader()
    got = []
    for i in range(0, len(stream), 7):
        got += reader.feed(stream[i:i + 7])
    assert [r.fragment for r in got] == [b"x" * 10] * 2 and [r.offset for r in got] == [0, 15]
    assert reader.pending == b""
    assert parse_records(stream[:-3]) == ([Record(23, 0x0303, b"x" * 10, 0)], stream[15:-3])
