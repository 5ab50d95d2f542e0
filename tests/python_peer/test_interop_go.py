"""tlspeer against real Go peers (the oldest and newest release lines), driven
over go-peer's JSON-lines protocol by hand: our client against a Go server and a
Go client against our server, each with a full handshake, a resumption and a
HelloRetryRequest; TLS 1.2 with RSA certificates (RSA key exchange, ECDHE_RSA, client-rsa)
and a tampered RSA premaster secret, which our server must treat as Go's does. Last,
tlspeerd's own connect and accept, failing against Go, leave nothing to the cyclic
collector."""
from __future__ import annotations

import base64
import gc
import hashlib
import socket
import threading
from typing import Any, Iterator

import pytest

from tlsdiff import pki
from tlsdiff.peers.protocol import PeerProcess
from tlsdiff.runs import Releases
from tlspeer import driver, groups
from tlspeer.errors import AlertReceived, DecryptError, TLSError
from tlspeer.misbehave import Misbehaviour
from tlspeer.server import ServerConfig
from tlspeer.wire import decode_connection
from tlspeerd.serve import Peer

from tlspeer_helpers import HOST, NOW, client_config, credential, roots, server_config

TIMEOUT_MS = 5000
PING, PONG = b"tlsdiff-ping", b"tlsdiff-pong"


@pytest.fixture(scope="module", params=["1.19", "1.27"])
def go(request: pytest.FixtureRequest, edge_releases: Releases) -> Iterator[PeerProcess]:
    release = next(r for r in edge_releases.binaries if r.startswith(request.param + "."))
    peer = PeerProcess(release, [str(edge_releases.binaries[release])])
    peer.start()
    yield peer
    peer.close()


_COUNTER = iter(range(1 << 30))


def _name(what: str) -> str:
    return f"tlspeer-interop#{what}#{next(_COUNTER)}"


def _go_server(go: PeerProcess, **config: Any) -> str:
    ident = pki.identity("server")
    name = _name("s")
    go.call("configure", {"name": name, "role": "server", "config": {
        "max_version": "1.3", "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}],
        "ticket_keys": ["11" * 32], **config}})
    return name


def _accept(go: PeerProcess, server: str) -> tuple[int, Any]:
    listener = _name("l")
    port = go.call("listen", {"name": listener, "endpoint": server})["port"]
    future = go.send("accept", {"listener": listener, "conn_id": listener, "time": int(NOW),
                                "timeout_ms": TIMEOUT_MS})
    return port, future


def _our_client(port: int, **kw: Any) -> tuple[driver.TLSConnection, str]:
    keylog: list[str] = []
    tickets, session12 = kw.pop("tickets", ()), kw.pop("session12", None)
    conn = driver.connect("127.0.0.1", port, client_config(**kw), tickets=tickets, session12=session12,
                          now=lambda: NOW, keylog=keylog.append, timeout=TIMEOUT_MS / 1000)
    conn.send(PING)
    assert conn.recv(len(PONG)) == PONG
    conn.close()
    return conn, "".join(keylog)


def test_our_client_against_go_server(go: PeerProcess) -> None:
    server = _go_server(go)
    port, accepted = _accept(go, server)
    conn, keylog = _our_client(port)
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["received"] == PING.decode()
    assert obs["state"]["Version"] == "TLS 1.3" and obs["state"]["DidResume"] is False
    assert conn.info.verified
    # The key log we wrote opens everything we sent and read.
    decoded = decode_connection(bytes(conn.written), bytes(conn.read), keylog)
    assert decoded.client_to_server.undecrypted_records == 0
    assert decoded.server_to_client.undecrypted_records == 0
    tickets = conn.tickets
    assert tickets, "Go sends a ticket after the handshake"

    port, accepted = _accept(go, server)
    again, _ = _our_client(port, tickets=tickets[:1])
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True
    assert again.info.resumed


def test_go_server_sends_hello_retry_request(go: PeerProcess) -> None:
    server = _go_server(go, curve_preferences=["P256"])
    port, accepted = _accept(go, server)
    conn, _ = _our_client(port, groups=["X25519", "P256"])
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None
    assert conn.info.hello_retry_request and conn.info.group == groups.SECP256R1
    # And resumption after an HRR: binders over message_hash(CH1) + HRR + CH2.
    port, accepted = _accept(go, server)
    again, _ = _our_client(port, groups=["X25519", "P256"], tickets=conn.tickets[:1])
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True
    assert again.info.hello_retry_request and again.info.resumed


def _go_client(go: PeerProcess, cache: str, **config: Any) -> str:
    name = _name("c")
    go.call("configure", {"name": name, "role": "client", "config": {
        "max_version": "1.3", "root_cas": [pki.root_pem("root-a")], "server_name": HOST,
        "cache": cache, **config}})
    return name


def _serve(go: PeerProcess, client: str,
           scfg: ServerConfig) -> tuple[driver.TLSConnection | TLSError, dict]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        connected = go.send("connect", {"endpoint": client, "port": port, "conn_id": _name("x"),
                                        "time": int(NOW), "timeout_ms": TIMEOUT_MS})
        try:
            conn = driver.accept(listener, scfg, now=lambda: NOW, timeout=TIMEOUT_MS / 1000)
        except TLSError as exc:
            return exc, go.wait(connected, 10)
        assert conn.recv(len(PING)) == PING
        conn.send(PONG)
        conn.wait_closed()
        conn.close()
    return conn, go.wait(connected, 10)


@pytest.mark.parametrize("hrr", [False, True], ids=["full", "hrr"])
def test_go_client_against_our_server(go: PeerProcess, hrr: bool) -> None:
    scfg = server_config(groups=["P384"]) if hrr else server_config()
    client = _go_client(go, _name("cache"))
    conn, obs = _serve(go, client, scfg)
    assert isinstance(conn, driver.TLSConnection), conn
    assert obs["handshake_error"] is None and obs["io_error"] is None
    assert obs["received"] == PONG.decode() and obs["state"]["Version"] == "TLS 1.3"
    assert conn.info.hello_retry_request is hrr
    assert [op["op"] for op in obs["cache_ops"]] == ["get", "put"]
    written = base64.b64decode(obs["written"])
    assert written == bytes(conn.read)
    decoded = decode_connection(written, base64.b64decode(obs["read"]), obs["keylog"])
    assert decoded.server_to_client.undecrypted_records == 0

    again, obs = _serve(go, client, scfg)
    if hrr and go.release.startswith("1.19."):
        # Go 1.19's client writes the HelloRetryRequest into its running transcript
        # instead of the binder's (handshake_client_tls13.go, fixed by 1.21), so
        # its binder after an HRR is wrong and resumption fails.
        assert isinstance(again, DecryptError) and str(again) == "tls: invalid PSK binder"
        assert obs["handshake_error"] == "remote error: tls: error decrypting message"
        return
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True
    assert isinstance(again, driver.TLSConnection)
    assert again.info.resumed and again.info.hello_retry_request is hrr


# ---------------------------------------------------------------------------
# TLS 1.2
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suite", ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                                   "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"])
def test_tls12_our_client_resumes_with_go_server(go: PeerProcess, suite: str) -> None:
    server = _go_server(go, max_version="1.2", cipher_suites=[suite])
    port, accepted = _accept(go, server)
    conn, keylog = _our_client(port, min_version="1.2")
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["Version"] == "TLS 1.2"
    assert obs["state"]["CipherSuite"] == suite and obs["state"]["TLSUnique"] == conn.info.tls_unique.hex()
    # Go 1.21+ negotiates extended master secret; 1.19 has none.
    assert conn.info.extended_master_secret is (not go.release.startswith("1.19."))
    assert obs["keylog"] == keylog  # the same CLIENT_RANDOM line on both sides
    decoded = decode_connection(bytes(conn.written), bytes(conn.read), keylog)
    assert decoded.client_to_server.undecrypted_records == 0
    assert decoded.server_to_client.undecrypted_records == 0
    session = conn.session12
    assert session is not None and session.ticket and not session.session_id

    port, accepted = _accept(go, server)
    again, _ = _our_client(port, min_version="1.2", session12=session)
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True
    assert again.info.resumed and obs["state"]["TLSUnique"] == again.info.tls_unique.hex()
    # 1.19 re-issues a ticket only for an old key, 1.21+ always.
    assert (again.session12 is None) is go.release.startswith("1.19.")


def test_tls12_our_client_certificate_to_go(go: PeerProcess) -> None:
    server = _go_server(go, max_version="1.2", client_auth="RequireAndVerifyClientCert",
                        client_cas=[pki.root_pem("root-a")])
    port, accepted = _accept(go, server)
    _our_client(port, min_version="1.2", certificate=credential("client"))
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["Version"] == "TLS 1.2"
    assert obs["state"]["PeerCertificates"] == [hashlib.sha256(credential("client").chain[0]).hexdigest()]


@pytest.mark.parametrize("client_max", ["1.2", "1.3"])
def test_tls12_go_client_resumes_with_our_server(go: PeerProcess, client_max: str) -> None:
    scfg = server_config(min_version="1.2", max_version="1.2")
    client = _go_client(go, _name("cache"), max_version=client_max)
    conn, obs = _serve(go, client, scfg)
    assert isinstance(conn, driver.TLSConnection), conn
    assert obs["handshake_error"] is None and obs["io_error"] is None
    assert obs["state"]["Version"] == "TLS 1.2" and conn.info.version == 0x0303
    assert [op["op"] for op in obs["cache_ops"]] == ["get", "put"]
    assert obs["state"]["TLSUnique"] == conn.info.tls_unique.hex()
    written = base64.b64decode(obs["written"])
    decoded = decode_connection(written, base64.b64decode(obs["read"]), obs["keylog"])
    assert decoded.server_to_client.undecrypted_records == 0

    again, obs = _serve(go, client, scfg)
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True
    assert isinstance(again, driver.TLSConnection) and again.info.resumed
    assert [op["op"] for op in obs["cache_ops"]] == ["get", "put"]  # our server re-issues


def test_tls12_go_client_certificate_to_our_server(go: PeerProcess) -> None:
    scfg = server_config(min_version="1.2", max_version="1.2", client_auth="RequireAndVerifyClientCert",
                         client_roots=roots())
    client = _go_client(go, _name("cache"), max_version="1.2", certificates=[
        {"cert_pem": pki.identity("client").chain_pem, "key_pem": pki.identity("client").key_pem}])
    conn, obs = _serve(go, client, scfg)
    assert isinstance(conn, driver.TLSConnection), conn
    assert obs["handshake_error"] is None
    assert conn.info.verified and conn.info.peer_chain[0] == credential("client").chain[0]


# ---------------------------------------------------------------------------
# RSA certificates, TLS 1.2 RSA key exchange
# ---------------------------------------------------------------------------

RSA_KEX = "TLS_RSA_WITH_AES_128_GCM_SHA256"


def _pem(name: str) -> dict[str, str]:
    ident = pki.identity(name)
    return {"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}


@pytest.mark.parametrize("suite", [RSA_KEX, "TLS_RSA_WITH_AES_256_CBC_SHA",
                                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
def test_tls12_rsa_our_client_with_go_server(go: PeerProcess, suite: str) -> None:
    """RSA key exchange (and ECDHE_RSA) to a Go server that lists the suite, with a
    client-rsa certificate, and a resumption."""
    server = _go_server(go, max_version="1.2", cipher_suites=[suite], certificates=[_pem("server-rsa")],
                        client_auth="RequireAndVerifyClientCert", client_cas=[pki.root_pem("root-a")])
    port, accepted = _accept(go, server)
    conn, keylog = _our_client(port, min_version="1.2", cipher_suites=[suite],
                               certificate=credential("client-rsa"))
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["CipherSuite"] == suite
    assert obs["state"]["PeerCertificates"] == [pki.identity("client-rsa").fingerprint]
    assert obs["keylog"] == keylog and obs["state"]["TLSUnique"] == conn.info.tls_unique.hex()
    assert conn.info.extended_master_secret is (not go.release.startswith("1.19."))
    rsa_kex = suite.startswith("TLS_RSA_")
    assert (conn.info.group is None) is rsa_kex
    # Go signs its ServerKeyExchange in our order: PSS first.
    assert conn.info.signature_scheme == (None if rsa_kex else 0x0804)
    port, accepted = _accept(go, server)
    again, _ = _our_client(port, min_version="1.2", cipher_suites=[suite],
                           certificate=credential("client-rsa"), session12=conn.session12)
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True and again.info.resumed


@pytest.mark.parametrize("suite", [RSA_KEX, "TLS_RSA_WITH_AES_128_CBC_SHA",
                                   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"])
def test_tls12_rsa_go_client_with_our_server(go: PeerProcess, suite: str) -> None:
    """A Go client listing the suite decrypts nothing we could not: its premaster
    secret opens with our key (or our ECDHE_RSA signature verifies), and it resumes."""
    scfg = server_config(min_version="1.2", max_version="1.2", certificate=credential("server-rsa"),
                         cipher_suites=[suite], client_auth="RequireAndVerifyClientCert", client_roots=roots())
    client = _go_client(go, _name("cache"), max_version="1.2", cipher_suites=[suite],
                        certificates=[_pem("client-rsa")])
    conn, obs = _serve(go, client, scfg)
    assert isinstance(conn, driver.TLSConnection), conn
    assert obs["handshake_error"] is None and obs["state"]["CipherSuite"] == suite
    assert obs["state"]["TLSUnique"] == conn.info.tls_unique.hex()
    assert conn.info.peer_chain[0] == credential("client-rsa").chain[0] and conn.info.verified
    # Go's client signs its CertificateVerify in the order of our request: PSS first.
    assert conn.info.signature_scheme == 0x0804
    assert (conn.info.group is None) is suite.startswith("TLS_RSA_")
    again, obs = _serve(go, client, scfg)
    assert obs["handshake_error"] is None and obs["state"]["DidResume"] is True
    assert isinstance(again, driver.TLSConnection) and again.info.resumed


def test_tls13_rsa_certificates_with_go(go: PeerProcess) -> None:
    server = _go_server(go, certificates=[_pem("server-rsa")], client_auth="RequireAndVerifyClientCert",
                        client_cas=[pki.root_pem("root-a")])
    port, accepted = _accept(go, server)
    conn, _ = _our_client(port, certificate=credential("client-rsa"))
    obs = go.wait(accepted, 10)
    assert obs["handshake_error"] is None and obs["state"]["Version"] == "TLS 1.3"
    assert conn.info.signature_scheme == 0x0804
    scfg = server_config(certificate=credential("server-rsa"), client_auth="RequireAndVerifyClientCert",
                         client_roots=roots())
    client = _go_client(go, _name("cache"), certificates=[_pem("client-rsa")])
    ours, obs = _serve(go, client, scfg)
    assert obs["handshake_error"] is None and obs["state"]["PeerCertificates"][0] == pki.identity("server-rsa").fingerprint
    assert isinstance(ours, driver.TLSConnection) and ours.info.signature_scheme == 0x0804


Outcome = tuple[str, Any, Any]  # what our client got (data or the alert), the server's error


def _tampering_client(port: int, corrupt: str) -> tuple[str, Any]:
    config = client_config(min_version="1.2", cipher_suites=[RSA_KEX],
                           misbehaviour=Misbehaviour(corrupt_premaster=corrupt))
    try:
        conn = driver.connect("127.0.0.1", port, config, now=lambda: NOW, timeout=TIMEOUT_MS / 1000)
        conn.send(PING)
        got = conn.recv(len(PONG))
        conn.close()
        return "data", got
    except TLSError as exc:
        return "alert", exc.alert if isinstance(exc, AlertReceived) else str(exc)


def _tampered_go(go: PeerProcess, corrupt: str) -> Outcome:
    server = _go_server(go, max_version="1.2", cipher_suites=[RSA_KEX], certificates=[_pem("server-rsa")])
    port, accepted = _accept(go, server)
    client = _tampering_client(port, corrupt)
    error = go.wait(accepted, 10)["handshake_error"]
    return (*client, error and error.removeprefix("local error: "))


def _tampered_ours(corrupt: str) -> Outcome:
    scfg = server_config(min_version="1.2", max_version="1.2", certificate=credential("server-rsa"),
                         cipher_suites=[RSA_KEX])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        result: dict[str, Any] = {}

        def serve() -> None:
            try:
                conn = driver.accept(listener, scfg, now=lambda: NOW, timeout=TIMEOUT_MS / 1000)
                conn.send(PONG if conn.recv(len(PING)) == PING else b"")
            except TLSError as exc:
                result["error"] = str(exc)
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client = _tampering_client(listener.getsockname()[1], corrupt)
        thread.join(10)
    return (*client, result.get("error"))


@pytest.mark.parametrize("corrupt", ["padding", "too_large", "version"])
def test_tls12_corrupt_premaster_our_server_does_as_go(go: PeerProcess, corrupt: str) -> None:
    """The same tampered premaster secret to a Go server and to ours: the same outcome
    (ours sends the alert of Go 1.24+ where Go's changed)."""
    expected: Outcome = {"padding": ("alert", 20, "tls: bad record MAC"),
                         "too_large": ("alert", 47, "crypto/rsa: decryption error"),
                         "version": ("data", PONG, None)}[corrupt]
    assert _tampered_ours(corrupt) == expected
    if corrupt == "too_large" and go.release.startswith("1.19."):
        # Before 1.24 Go answers a failed processClientKeyExchange with handshake_failure.
        expected = ("alert", 40, "crypto/rsa: decryption error")
    assert _tampered_go(go, corrupt) == expected


def test_tlspeerd_failed_connections_leave_no_reference_cycle(go: PeerProcess) -> None:
    """A failed engine keeps its error, and the error kept its traceback: the frames in it
    hold the engine, a cycle for each failed connection (a post_handshake misbehaviour's
    hook, holding its engine, another) that waited for the cyclic collector. A fuzz batch
    fails thousands of connections: 188,407 objects in cycles over 640 stimuli, and some
    20 MB more in tlspeerd through a campaign."""
    ours = Peer()
    post_handshake = {"misbehave": {"post_handshake": {"messages": ["key_update"]}}}
    ours.op_configure({"name": "c", "role": "client", "config": {  # trusts the wrong root
        "max_version": "1.3", "server_name": HOST, "root_cas": [pki.root_pem("root-b")], **post_handshake}})
    ident = pki.identity("server")
    ours.op_configure({"name": "s", "role": "server", "config": {
        "max_version": "1.3", "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}],
        **post_handshake}})
    go_client = _go_client(go, _name("cache"), root_cas=[pki.root_pem("root-b")])  # so does this one
    port, accepted = _accept(go, _go_server(go))
    ours_port = ours.op_listen({"name": "l", "endpoint": "s"})["port"]
    connected = go.send("connect", {"endpoint": go_client, "port": ours_port, "conn_id": _name("x"),
                                    "time": int(NOW), "timeout_ms": TIMEOUT_MS})
    gc.collect()
    gc.disable()
    try:
        as_client = ours.op_connect({"endpoint": "c", "port": port, "conn_id": "c1", "time": int(NOW),
                                     "timeout_ms": TIMEOUT_MS})
        as_server = ours.op_accept({"listener": "l", "conn_id": "s1", "time": int(NOW), "timeout_ms": TIMEOUT_MS})
        left_in_cycles = gc.collect()
    finally:
        gc.enable()
    assert "certificate signed by unknown authority" in as_client["handshake_error"]
    assert as_server["handshake_error"] == "remote error: tls: bad certificate"
    go.wait(accepted, 10)
    go.wait(connected, 10)
    assert left_in_cycles == 0
