"""TLS 1.2 record protection: round trips for every suite, and known answers from a
real TLS stack.

The known answers come from OpenSSL through Python's `ssl` module: a client and a
server talk over memory BIOs in this process, every byte each way is kept, and the
client's key log is written by OpenSSL itself. decode_connection must then open
every record with keys it derives from that key log alone.
"""
from __future__ import annotations

import datetime
import hmac
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

from tlspeer import handshake as hs
from tlspeer.keylog import parse_keylog
from tlspeer.keyschedule import finished_verify_data12, key_block12, master_secret12, prf12, transcript_hash
from tlspeer.record import (BadRecordMac, Record, Tls12AeadProtection, Tls12CbcProtection,
                            Tls13Protection, parse_records, tls12_protection)
from tlspeer.suites import ALL_SUITES, SUITE_BY_ID, CipherSuite, hash_name, suite_name
from tlspeer.wire import decode_connection

TLS12_SUITES = [s for s in ALL_SUITES if not s.tls13]

# ---------------------------------------------------------------------------
# The suite table
# ---------------------------------------------------------------------------


def test_suite_table() -> None:
    assert len(SUITE_BY_ID) == len(ALL_SUITES) == 22
    assert suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert suite_name(0xCCA9) == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert suite_name(0xC012) == "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
    assert suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert suite_name(0x1234) == "0x1234" and suite_name(0x0A0A) == "GREASE"
    for s in ALL_SUITES:
        assert s.prf_hash == ("sha384" if s.name.endswith("SHA384") else "sha256")
        assert hash_name(s.id) == s.prf_hash
        if s.kind == "cbc":
            assert s.mac_hash == ("sha256" if s.name.endswith("SHA256") else "sha1")
            assert s.fixed_iv_len == 0 and s.record_iv_len == s.block_size
        else:
            assert s.mac_hash is None and s.mac_len == 0
        assert ("CHACHA20" in s.name) == (s.kind == "chacha")


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


def _keys(suite: CipherSuite) -> tuple[bytes, bytes, bytes]:
    return os.urandom(suite.key_len), os.urandom(suite.fixed_iv_len), os.urandom(suite.mac_len)


ROUND_TRIPS = [pytest.param(s, False, id=s.name) for s in TLS12_SUITES] + \
    [pytest.param(s, True, id=s.name + "+ETM") for s in TLS12_SUITES if s.kind == "cbc"]


@pytest.mark.parametrize("suite,etm", ROUND_TRIPS)
def test_tls12_round_trip(suite: CipherSuite, etm: bool) -> None:
    key, iv, mac_key = _keys(suite)
    sender = tls12_protection(suite, key, iv, mac_key, encrypt_then_mac=etm)
    receiver = tls12_protection(suite, key, iv, mac_key, encrypt_then_mac=etm)
    payloads = [(22, b"\x14\x00\x00\x0c" + bytes(12)), (23, b""), (23, os.urandom(1000)),
                (21, b"\x01\x00"), (23, os.urandom(16384))]
    wire = b"".join(sender.encrypt(t, p) for t, p in payloads)
    records, rest = parse_records(wire)
    assert rest == b""
    assert [receiver.decrypt(r) for r in records] == payloads
    assert sender.seq == receiver.seq == len(payloads)
    # Overhead is what the suite says: explicit nonce + tag, or IV + MAC + padding.
    if suite.kind == "aead-gcm":
        assert len(records[1].fragment) == 8 + 16
    elif suite.kind == "chacha":
        assert len(records[1].fragment) == 16
    elif etm:
        assert (len(records[1].fragment) - suite.mac_len) % suite.block_size == 0
        assert len(records[1].fragment) == 2 * suite.block_size + suite.mac_len
    else:
        assert len(records[1].fragment) % suite.block_size == 0
        assert len(records[1].fragment) >= suite.block_size + suite.mac_len + 1
    # Any flipped bit, a wrong sequence number or a wrong header fails the same way.
    fresh = tls12_protection(suite, key, iv, mac_key, encrypt_then_mac=etm)
    rec = records[2]
    for i in (0, len(rec.fragment) // 2, len(rec.fragment) - 1):
        bad = bytearray(rec.fragment)
        bad[i] ^= 0x80
        with pytest.raises(BadRecordMac):
            fresh.decrypt(Record(rec.content_type, rec.legacy_version, bytes(bad)), seq=2)
    with pytest.raises(BadRecordMac):
        fresh.decrypt(rec, seq=3)
    with pytest.raises(BadRecordMac):
        fresh.decrypt(Record(22, rec.legacy_version, rec.fragment), seq=2)
    with pytest.raises(BadRecordMac):
        fresh.decrypt(Record(23, rec.legacy_version, rec.fragment[:5]), seq=2)
    assert fresh.seq == 0  # failures do not use up sequence numbers
    assert fresh.decrypt(rec, seq=2) == payloads[2] and fresh.seq == 3


def test_gcm_explicit_nonce_is_the_sequence_number() -> None:
    suite = SUITE_BY_ID[0xC02F]
    key, iv, _ = _keys(suite)
    prot = Tls12AeadProtection("aead-gcm", key, iv, seq=0x0102030405060708)
    (rec,), _ = parse_records(prot.encrypt(23, b"x"))
    assert rec.fragment[:8] == bytes.fromhex("0102030405060708")
    other = Tls12AeadProtection("aead-gcm", key, iv, seq=5)
    (rec2,), _ = parse_records(other.encrypt(23, b"x", explicit_nonce=b"\xff" * 8))
    assert rec2.fragment[:8] == b"\xff" * 8
    assert Tls12AeadProtection("aead-gcm", key, iv, seq=5).decrypt(rec2) == (23, b"x")


def test_cbc_padding_is_checked() -> None:
    suite = SUITE_BY_ID[0xC013]
    key, _, mac_key = _keys(suite)
    sender = Tls12CbcProtection.for_suite(suite, key, mac_key)
    (rec,), _ = parse_records(sender.encrypt(23, b"hello", extra_padding_blocks=3))
    assert Tls12CbcProtection.for_suite(suite, key, mac_key).decrypt(rec) == (23, b"hello")
    # Re-encrypt the same plaintext + MAC with one padding byte wrong.
    mac = hmac.new(mac_key, bytes(8) + b"\x17\x03\x03\x00\x05" + b"hello", "sha1").digest()
    body = b"hello" + mac  # 25 bytes: 7 padding bytes of value 6 make 32
    for padding in (bytes([6]) * 7, bytes([6]) * 6 + b"\x05", bytes([5]) * 6 + b"\x06"):
        iv = os.urandom(16)
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        frag = iv + enc.update(body + padding) + enc.finalize()
        prot = Tls12CbcProtection.for_suite(suite, key, mac_key)
        if padding == bytes([6]) * 7:
            assert prot.decrypt(Record(23, 0x0303, frag)) == (23, b"hello")
        else:
            with pytest.raises(BadRecordMac):
                prot.decrypt(Record(23, 0x0303, frag))


@pytest.mark.parametrize("suite", [s for s in ALL_SUITES if s.tls13], ids=lambda s: s.name)
def test_tls13_round_trip_with_padding(suite: CipherSuite) -> None:
    key, iv = os.urandom(suite.key_len), os.urandom(12)
    sender, receiver = Tls13Protection(suite.kind, key, iv), Tls13Protection(suite.kind, key, iv)
    wire = sender.encrypt(22, b"msg", padding=100) + sender.encrypt(21, b"\x02\x28")
    records, _ = parse_records(wire)
    assert [r.content_type for r in records] == [23, 23]
    assert len(records[0].fragment) == 3 + 1 + 100 + 16
    assert [receiver.decrypt(r) for r in records] == [(22, b"msg"), (21, b"\x02\x28")]


def test_tls12_prf_and_key_block_layout() -> None:
    # P_SHA256 is HMAC chaining; check the first block by hand and the split order.
    secret, seed = b"s" * 48, b"seed"
    a1 = hmac.new(secret, b"label" + seed, "sha256").digest()
    assert prf12("sha256", secret, "label", seed, 32) == hmac.new(secret, a1 + b"label" + seed, "sha256").digest()
    assert len(prf12("sha384", secret, "label", seed, 100)) == 100
    cr, sr = b"c" * 32, b"r" * 32
    block = key_block12("sha256", secret, cr, sr, 20, 16, 4)
    raw = prf12("sha256", secret, "key expansion", sr + cr, 80)
    assert block.client_write_mac_key + block.server_write_mac_key + block.client_write_key \
        + block.server_write_key + block.client_write_iv + block.server_write_iv == raw
    assert master_secret12("sha256", b"p" * 48, cr, sr) == prf12("sha256", b"p" * 48, "master secret", cr + sr, 48)


# ---------------------------------------------------------------------------
# Known answers from OpenSSL
# ---------------------------------------------------------------------------


def _self_signed(key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlspeer.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    out = {}
    base = tmp_path_factory.mktemp("certs")
    for kind, key in (("ecdsa", ec.generate_private_key(ec.SECP256R1())),
                      ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))):
        cert_path, key_path = base / f"{kind}.pem", base / f"{kind}.key"
        cert_path.write_bytes(_self_signed(key))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        out[kind] = (cert_path, key_path)
    return out


@dataclass
class Capture:
    c2s: bytes
    s2c: bytes
    client_keylog: str
    server_keylog: str
    session: ssl.SSLSession | None
    cipher: str
    version: str


CLIENT_DATA = b"ping from the ssl client " * 3
SERVER_DATA = b"pong from the ssl server"

def _client_ctx(version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


NO_ENCRYPT_THEN_MAC = 1 << 19  # SSL_OP_NO_ENCRYPT_THEN_MAC; Go never negotiates RFC 7366


def run_ssl(tmp_path: Path, cert: tuple[Path, Path], *, tls13: bool = False, ciphers: str | None = None,
            server_options: int = 0, session: ssl.SSLSession | None = None,
            server_ctx: ssl.SSLContext | None = None, client_ctx: ssl.SSLContext | None = None,
            server_groups: str | None = None) -> Capture:
    """One connection between two SSLObjects over memory BIOs: handshake, a message
    each way, close_notify each way. Returns the bytes each way and both key logs."""
    version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    tag = os.urandom(4).hex()
    if server_ctx is None:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(*cert)
        server_ctx.minimum_version = server_ctx.maximum_version = version
        if ciphers:
            server_ctx.set_ciphers(ciphers)
        server_ctx.options |= server_options
        if server_groups:
            server_ctx.set_ecdh_curve(server_groups)
    server_ctx.keylog_filename = str(tmp_path / f"server-{tag}.keylog")
    if client_ctx is None:
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
        client_ctx.minimum_version = client_ctx.maximum_version = version
        if ciphers:
            client_ctx.set_ciphers(ciphers)
    client_ctx.keylog_filename = str(tmp_path / f"client-{tag}.keylog")

    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname="tlspeer.test",
                                 session=session)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    c2s, s2c = bytearray(), bytearray()

    def pump() -> None:
        data = c_out.read()
        c2s.extend(data)
        s_in.write(data)
        data = s_out.read()
        s2c.extend(data)
        c_in.write(data)

    def attempt(fn) -> bool:
        try:
            fn()
            return True
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False

    done_c = done_s = False
    for _ in range(20):
        done_c = done_c or attempt(client.do_handshake)
        done_s = done_s or attempt(server.do_handshake)
        pump()
        if done_c and done_s:
            break
    assert done_c and done_s, "in-memory handshake did not finish"

    client.write(CLIENT_DATA)
    pump()
    got = bytearray()
    while len(got) < len(CLIENT_DATA):
        got += server.read(4096)
    assert bytes(got) == CLIENT_DATA
    server.write(SERVER_DATA)
    pump()
    got = bytearray()
    while len(got) < len(SERVER_DATA):
        got += client.read(4096)
    assert bytes(got) == SERVER_DATA
    # close_notify both ways
    attempt(client.unwrap)
    pump()
    attempt(server.unwrap)
    pump()
    attempt(client.unwrap)
    pump()
    cipher, proto, _ = client.cipher()
    return Capture(bytes(c2s), bytes(s2c),
                   (tmp_path / f"client-{tag}.keylog").read_text(),
                   (tmp_path / f"server-{tag}.keylog").read_text(),
                   client.session, cipher, proto)


# (OpenSSL cipher string, certificate, Go name, encrypt-then-MAC allowed)
TLS12_CASES = [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", False),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "ecdsa", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", False),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "ecdsa", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", False),
    ("ECDHE-RSA-AES128-GCM-SHA256", "rsa", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", False),
    ("ECDHE-RSA-AES256-GCM-SHA384", "rsa", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", False),
    ("ECDHE-RSA-CHACHA20-POLY1305", "rsa", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", False),
    ("ECDHE-ECDSA-AES128-SHA", "ecdsa", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", False),
    ("ECDHE-RSA-AES256-SHA", "rsa", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", False),
    ("ECDHE-RSA-AES128-SHA256", "rsa", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", False),
    ("ECDHE-RSA-AES128-SHA", "rsa", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True),
    ("AES128-GCM-SHA256", "rsa", "TLS_RSA_WITH_AES_128_GCM_SHA256", False),
    ("AES256-GCM-SHA384", "rsa", "TLS_RSA_WITH_AES_256_GCM_SHA384", False),
    ("AES128-SHA", "rsa", "TLS_RSA_WITH_AES_128_CBC_SHA", False),
    ("AES128-SHA256", "rsa", "TLS_RSA_WITH_AES_128_CBC_SHA256", False),
    ("ECDHE-RSA-DES-CBC3-SHA", "rsa", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", False),
    ("DES-CBC3-SHA", "rsa", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", False),
]


def _check_common(conn, capture: Capture) -> None:
    client, server = conn.client_to_server, conn.server_to_client
    for direction in (client, server):
        encrypted = [r for r in direction.records if r.encrypted]
        assert encrypted and all(r.decrypted for r in encrypted), direction.notes
        assert direction.undecrypted_records == 0
        assert direction.truncated_bytes == direction.unparsed_bytes == 0
        assert direction.pending_handshake_bytes == 0
        assert all(m.decode_error is None for m in direction.handshake_messages)
        assert direction.alerts and (direction.alerts[-1].level, direction.alerts[-1].description) == (1, 0)
        assert direction.alerts[-1].encrypted and direction.alerts[-1].description_name == "close_notify"
    assert client.application_bytes == CLIENT_DATA
    assert server.application_bytes == SERVER_DATA
    assert conn.notes == []
    json_view = conn.to_json()
    assert json_view["client_to_server"]["application_data_bytes"] == len(CLIENT_DATA)
    assert json_view == decode_connection(capture.c2s, capture.s2c, capture.client_keylog).to_json()


def _check_tls12_finished(conn, keylog: str) -> None:
    """Both Finished messages verify with the PRF over the transcript we rebuild."""
    client, server = conn.client_to_server, conn.server_to_client
    master = parse_keylog(keylog)[conn.client_random]["CLIENT_RANDOM"]
    h = SUITE_BY_ID[conn.cipher_suite].prf_hash
    c_msgs = [m.encode() for m in client.handshake_messages]
    s_msgs = [m.encode() for m in server.handshake_messages]
    s_types = [m.msg_type for m in server.handshake_messages]
    if conn.resumed:
        # Abbreviated: ServerHello [NewSessionTicket] Finished, then the client's Finished.
        server_fin_at = s_types.index(hs.FINISHED)
        s_transcript = c_msgs[:1] + s_msgs[:server_fin_at]
        assert server.handshake_messages[server_fin_at].body == finished_verify_data12(
            h, master, False, transcript_hash(h, s_transcript))
        c_transcript = s_transcript + [s_msgs[server_fin_at]]
        assert client.handshake_messages[-1].body == finished_verify_data12(
            h, master, True, transcript_hash(h, c_transcript))
        return
    shd = s_types.index(hs.SERVER_HELLO_DONE)
    c_transcript = c_msgs[:1] + s_msgs[:shd + 1] + c_msgs[1:-1]
    assert client.handshake_messages[-1].body == finished_verify_data12(
        h, master, True, transcript_hash(h, c_transcript))
    s_transcript = c_transcript + c_msgs[-1:] + s_msgs[shd + 1:-1]
    assert server.handshake_messages[-1].body == finished_verify_data12(
        h, master, False, transcript_hash(h, s_transcript))


@pytest.mark.parametrize("ciphers,cert,go_name,etm", TLS12_CASES, ids=[c[2] + ("+ETM" if c[3] else "")
                                                                        for c in TLS12_CASES])
def test_openssl_tls12(tmp_path: Path, certs, ciphers: str, cert: str, go_name: str, etm: bool) -> None:
    try:
        capture = run_ssl(tmp_path, certs[cert], ciphers=ciphers + ("" if "DES" not in ciphers else ":@SECLEVEL=0"),
                          server_options=0 if etm else NO_ENCRYPT_THEN_MAC)
    except ssl.SSLError as exc:
        pytest.skip(f"this OpenSSL build will not negotiate {ciphers}: {exc}")
    conn = decode_connection(capture.c2s, capture.s2c, capture.client_keylog)
    assert conn.version == 0x0303 and conn.version_name == "TLS 1.2"
    assert conn.cipher_suite_name == go_name
    assert conn.resumed is False and conn.hello_retry_request is False
    assert conn.keylog_labels == ["CLIENT_RANDOM"]
    sh = conn.server_to_client.handshake_messages[0]
    assert (hs.EXT_ENCRYPT_THEN_MAC in [e["type"] for e in sh.summary["extensions"] or []]) is (
        etm and SUITE_BY_ID[conn.cipher_suite].kind == "cbc")
    _check_common(conn, capture)
    client_types = conn.client_to_server.handshake_types
    assert client_types == ["client_hello", "client_key_exchange", "finished"]
    server_types = conn.server_to_client.handshake_types
    kx = [] if go_name.startswith("TLS_RSA_") else ["server_key_exchange"]
    assert server_types[:3 + len(kx)] == ["server_hello", "certificate"] + kx + ["server_hello_done"]
    assert server_types[-1] == "finished"
    assert conn.client_to_server.change_cipher_spec_count == conn.server_to_client.change_cipher_spec_count == 1
    # Records before each side's CCS are clear, the rest protected.
    for direction in (conn.client_to_server, conn.server_to_client):
        ccs = next(r.index for r in direction.records if r.content_type == 20)
        assert all(not r.encrypted for r in direction.records[:ccs + 1])
        assert all(r.encrypted and r.epoch == "protected" for r in direction.records[ccs + 1:])
    # The server's key log describes the same connection.
    assert decode_connection(capture.c2s, capture.s2c, capture.server_keylog).to_json() == conn.to_json()
    _check_tls12_finished(conn, capture.client_keylog)


def test_openssl_tls12_resumption(tmp_path: Path, certs) -> None:
    """An abbreviated handshake: the server's CCS and Finished come first."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*certs["ecdsa"])
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.options |= NO_ENCRYPT_THEN_MAC
    client_ctx = _client_ctx(ssl.TLSVersion.TLSv1_2)
    first = run_ssl(tmp_path, certs["ecdsa"], server_ctx=server_ctx, client_ctx=client_ctx)
    second = run_ssl(tmp_path, certs["ecdsa"], server_ctx=server_ctx, client_ctx=client_ctx,
                     session=first.session)
    conn = decode_connection(second.c2s, second.s2c, second.client_keylog)
    assert conn.version == 0x0303 and conn.resumed is True
    _check_common(conn, second)
    assert conn.client_to_server.handshake_types == ["client_hello", "finished"]
    types = conn.server_to_client.handshake_types
    assert types[0] == "server_hello" and types[-1] == "finished" and "certificate" not in types
    _check_tls12_finished(conn, second.client_keylog)
    # The first connection's NewSessionTicket is read with the TLS 1.2 layout.
    first_conn = decode_connection(first.c2s, first.s2c, first.client_keylog)
    nst = [m for m in first_conn.server_to_client.handshake_messages if m.name == "new_session_ticket"]
    assert len(nst) == 1 and set(nst[0].summary) == {"lifetime_hint", "ticket", "ticket_sha256"}
    assert first_conn.resumed is False


def test_openssl_tls13(tmp_path: Path, certs) -> None:
    capture = run_ssl(tmp_path, certs["ecdsa"], tls13=True)
    conn = decode_connection(capture.c2s, capture.s2c, capture.client_keylog)
    assert conn.version == 0x0304 and conn.cipher_suite_name == capture.cipher
    assert set(conn.keylog_labels) >= {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                       "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}
    _check_common(conn, capture)
    assert conn.client_to_server.handshake_types[0] == "client_hello"
    assert conn.client_to_server.handshake_types[-1] == "finished"
    server_types = conn.server_to_client.handshake_types
    assert server_types[:5] == ["server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"]
    assert server_types[5:] and set(server_types[5:]) == {"new_session_ticket"}
    assert all(m.epoch == "application" for m in conn.server_to_client.handshake_messages[5:])
    # The server's key log (no EXPORTER_SECRET needed) reads the same.
    assert decode_connection(capture.c2s, capture.s2c, capture.server_keylog).to_json() == conn.to_json()

    # Resume with one of its tickets: a PSK handshake without certificates.
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*certs["ecdsa"])
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    client_ctx = _client_ctx(ssl.TLSVersion.TLSv1_3)
    first = run_ssl(tmp_path, certs["ecdsa"], tls13=True, server_ctx=server_ctx, client_ctx=client_ctx)
    second = run_ssl(tmp_path, certs["ecdsa"], tls13=True, server_ctx=server_ctx, client_ctx=client_ctx,
                     session=first.session)
    resumed = decode_connection(second.c2s, second.s2c, second.client_keylog)
    assert resumed.resumed is True
    _check_common(resumed, second)
    ch = resumed.client_to_server.handshake_messages[0].summary
    assert ch["pre_shared_key"] is not None and len(ch["pre_shared_key"]["binders"]) == 1
    assert resumed.server_to_client.handshake_messages[0].summary["selected_identity"] == 0
    assert "certificate" not in resumed.server_to_client.handshake_types


def test_openssl_tls13_hello_retry_request(tmp_path: Path, certs) -> None:
    capture = run_ssl(tmp_path, certs["ecdsa"], tls13=True, server_groups="prime256v1")
    conn = decode_connection(capture.c2s, capture.s2c, capture.client_keylog)
    if not conn.hello_retry_request:
        pytest.skip("this OpenSSL build sent a P-256 share first; no HRR to observe")
    _check_common(conn, capture)
    assert conn.client_to_server.handshake_types[:2] == ["client_hello", "client_hello"]
    hrr, sh = conn.server_to_client.handshake_messages[:2]
    assert hrr.summary["hello_retry_request"] and hrr.summary["selected_group"] == 23
    assert not sh.summary["hello_retry_request"] and sh.summary["selected_group"] == 23


def test_decode_tls12_without_the_master_secret(tmp_path: Path, certs) -> None:
    capture = run_ssl(tmp_path, certs["rsa"], ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    conn = decode_connection(capture.c2s, capture.s2c, "")
    assert conn.version == 0x0303
    for direction in (conn.client_to_server, conn.server_to_client):
        assert direction.undecrypted_records > 0
        assert all(r.error for r in direction.records if r.encrypted)
        assert direction.handshake_types[0] in ("client_hello", "server_hello")
        assert any("CLIENT_RANDOM" in n for n in direction.notes)
    # Truncated mid-record: the complete records still decode.
    cut = decode_connection(capture.c2s[:-3], capture.s2c[:-7], capture.client_keylog)
    assert cut.client_to_server.truncated_bytes > 0 and cut.server_to_client.truncated_bytes > 0
    assert cut.client_to_server.application_bytes == CLIENT_DATA
    assert cut.client_to_server.undecrypted_records == 0
