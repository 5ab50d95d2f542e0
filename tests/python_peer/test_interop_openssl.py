"""tlspeer against OpenSSL (Python's `ssl`, and `openssl s_client` where `ssl` cannot
choose the signature algorithms) over real loopback sockets: our client against an
OpenSSL server and our server against an OpenSSL client, with full handshakes,
HelloRetryRequest, resumption with each other's tickets and client certificates, RSA
certificates and TLS 1.2 RSA key exchange. Every socket has a timeout."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from tlsdiff import pki
from tlspeer import driver, groups
from tlspeer.suites import SUITE_BY_ID, SUITE_BY_NAME
from tlspeer.wire import decode_connection

from tlspeer_helpers import HOST, NOW, client_config, credential, roots, server_config

TIMEOUT = 5.0


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pem")
    out = {"root": d / "root.pem"}
    out["root"].write_text(pki.root_pem("root-a"))
    for name in ("server", "client", "server-rsa", "client-rsa"):
        ident = pki.identity(name)
        (d / f"{name}.pem").write_text(ident.chain_pem)
        (d / f"{name}.key").write_text(ident.key_pem)
        out[name], out[name + "_key"] = d / f"{name}.pem", d / f"{name}.key"
    return out


class Background:
    """Runs `fn` in a thread; `result()` re-raises what it raised."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:  # handed to the test thread
                self._error = exc
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join(TIMEOUT * 2)
        assert not self._thread.is_alive(), "the OpenSSL side hung"
        if self._error is not None:
            raise self._error
        return self._value


def _listener() -> socket.socket:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(TIMEOUT)
    return sock


# ---------------------------------------------------------------------------
# tlspeer client, OpenSSL server
# ---------------------------------------------------------------------------


def _openssl_server_ctx(pem: dict[str, Path], curve: str | None = None,
                        verify_client: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pem["server"], pem["server_key"])
    if curve is not None:
        ctx.set_ecdh_curve(curve)  # one group only: forces an HRR for other shares
    if verify_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(pem["root"]))
    return ctx


def _serve_once(listener: socket.socket, ctx: ssl.SSLContext, shutdown: bool = False) -> Background:
    """One OpenSSL connection. With `shutdown` it sends close_notify too, which
    OpenSSL needs to keep the session in its session-ID cache."""
    def serve() -> dict[str, Any]:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        with ctx.wrap_socket(conn, server_side=True) as s:
            got = s.recv(100)
            s.sendall(b"pong")
            out = {"got": got, "reused": s.session_reused, "version": s.version(),
                   "peer": s.getpeercert(binary_form=True)}
            try:
                if shutdown:
                    s.unwrap()
                else:
                    s.recv(100)  # the client's close_notify
            except (ssl.SSLError, OSError):
                pass
            return out
    return Background(serve)


def _our_client(port: int, **kw: Any) -> tuple[driver.TLSConnection, list[str]]:
    keylog: list[str] = []
    tickets = kw.pop("tickets", ())
    session12, now = kw.pop("session12", None), kw.pop("now", None)
    conn = driver.connect("127.0.0.1", port, client_config(**kw), tickets=tickets,
                          session12=session12, timeout=TIMEOUT, keylog=keylog.append, now=now)
    conn.send(b"ping")
    assert conn.recv(4) == b"pong"
    return conn, keylog


def test_client_full_handshake(pem_files: dict[str, Path]) -> None:
    with _listener() as listener:
        server = _serve_once(listener, _openssl_server_ctx(pem_files))
        conn, keylog = _our_client(listener.getsockname()[1])
        conn.close()
        out = server.result()
    assert out["got"] == b"ping" and out["version"] == "TLSv1.3"
    assert conn.info.verified and not conn.info.hello_retry_request
    decoded = decode_connection(bytes(conn.written), bytes(conn.read), "".join(keylog))
    assert decoded.client_to_server.undecrypted_records == 0
    assert decoded.server_to_client.undecrypted_records == 0


def test_client_hello_retry_request(pem_files: dict[str, Path]) -> None:
    with _listener() as listener:
        server = _serve_once(listener, _openssl_server_ctx(pem_files, curve="prime256v1"))
        conn, _ = _our_client(listener.getsockname()[1], groups=["X25519", "P256"])
        conn.close()
        server.result()
    assert conn.info.hello_retry_request and conn.info.group == groups.SECP256R1


def test_client_resumes_with_openssl_tickets(pem_files: dict[str, Path]) -> None:
    ctx = _openssl_server_ctx(pem_files)
    with _listener() as listener:
        server = _serve_once(listener, ctx)
        conn, _ = _our_client(listener.getsockname()[1])
        conn.close()
        assert not server.result()["reused"]
        tickets = conn.tickets
        assert len(tickets) == 2  # OpenSSL's default
        server = _serve_once(listener, ctx)
        again, _ = _our_client(listener.getsockname()[1], tickets=tickets[:1])
        again.close()
        assert server.result()["reused"]
    assert again.info.resumed


def test_client_certificate_to_openssl(pem_files: dict[str, Path]) -> None:
    with _listener() as listener:
        server = _serve_once(listener, _openssl_server_ctx(pem_files, verify_client=True))
        conn, _ = _our_client(listener.getsockname()[1], certificate=credential("client"))
        conn.close()
        out = server.result()
    assert out["peer"] == credential("client").chain[0]


# ---------------------------------------------------------------------------
# tlspeer server, OpenSSL client
# ---------------------------------------------------------------------------


def _openssl_client_ctx(pem: dict[str, Path], with_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cafile=str(pem["root"]))
    if with_cert:
        ctx.load_cert_chain(pem["client"], pem["client_key"])
    return ctx


def _openssl_client(port: int, ctx: ssl.SSLContext, session: Any = None) -> Background:
    def run() -> dict[str, Any]:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST, session=session) as s:
                s.sendall(b"ping")
                got = s.recv(100)
                return {"got": got, "session": s.session, "reused": s.session_reused,
                        "version": s.version()}
    return Background(run)


def _our_server(listener: socket.socket, **kw: Any) -> driver.TLSConnection:
    conn = driver.accept(listener, kw.pop("config", None) or server_config(**kw), timeout=TIMEOUT)
    assert conn.recv(4) == b"ping"
    conn.send(b"pong")
    return conn


def test_server_full_handshake(pem_files: dict[str, Path]) -> None:
    with _listener() as listener:
        client = _openssl_client(listener.getsockname()[1], _openssl_client_ctx(pem_files))
        conn = _our_server(listener)
        out = client.result()
        conn.close()
    assert out["got"] == b"pong" and out["version"] == "TLSv1.3"
    assert not conn.info.resumed


def test_server_hello_retry_request(pem_files: dict[str, Path]) -> None:
    with _listener() as listener:
        client = _openssl_client(listener.getsockname()[1], _openssl_client_ctx(pem_files))
        conn = _our_server(listener, groups=["P384"])
        client.result()
        conn.close()
    assert conn.info.hello_retry_request and conn.info.group == groups.SECP384R1


def test_server_tickets_resume_openssl(pem_files: dict[str, Path]) -> None:
    scfg = server_config()
    ctx = _openssl_client_ctx(pem_files)
    with _listener() as listener:
        port = listener.getsockname()[1]
        client = _openssl_client(port, ctx)
        _our_server(listener, config=scfg).close()
        session = client.result()["session"]
        assert session is not None and session.has_ticket
        client = _openssl_client(port, ctx, session=session)
        conn = _our_server(listener, config=scfg)
        out = client.result()
        conn.close()
    assert out["reused"] and conn.info.resumed


def test_server_requires_openssl_client_certificate(pem_files: dict[str, Path]) -> None:
    scfg = server_config(client_auth="RequireAndVerifyClientCert", client_roots=roots())
    with _listener() as listener:
        client = _openssl_client(listener.getsockname()[1],
                                 _openssl_client_ctx(pem_files, with_cert=True))
        conn = _our_server(listener, config=scfg)
        client.result()
        conn.close()
    # OpenSSL sends the chain it built, root included.
    assert conn.info.verified and conn.info.peer_chain[0] == credential("client").chain[0]


# ---------------------------------------------------------------------------
# TLS 1.2, both directions
# ---------------------------------------------------------------------------


def _tls12(ctx: ssl.SSLContext, ciphers: str | None = None, tickets: bool = True) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


@pytest.mark.parametrize("ciphers, suite", [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    ("ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
])
def test_tls12_client_resumes_openssl_tickets(pem_files: dict[str, Path], ciphers: str | None,
                                               suite: str) -> None:
    ctx = _tls12(_openssl_server_ctx(pem_files), ciphers)
    with _listener() as listener:
        port = listener.getsockname()[1]
        server = _serve_once(listener, ctx)
        conn, keylog = _our_client(port, min_version="1.2")
        conn.close()
        out = server.result()
        assert out["version"] == "TLSv1.2" and not out["reused"]
        assert conn.info.version == 0x0303 and conn.info.extended_master_secret
        assert SUITE_BY_NAME[suite].id == conn.info.cipher_suite
        decoded = decode_connection(bytes(conn.written), bytes(conn.read), "".join(keylog))
        assert decoded.client_to_server.undecrypted_records == 0
        assert decoded.server_to_client.undecrypted_records == 0
        session = conn.session12
        assert session is not None and session.ticket  # OpenSSL's own ticket
        server = _serve_once(listener, ctx)
        again, keylog = _our_client(port, min_version="1.2", session12=session)
        again.close()
        assert server.result()["reused"] and again.info.resumed
        decoded = decode_connection(bytes(again.written), bytes(again.read), "".join(keylog))
        assert decoded.server_to_client.undecrypted_records == 0


def test_tls12_client_resumes_openssl_session_id(pem_files: dict[str, Path]) -> None:
    ctx = _tls12(_openssl_server_ctx(pem_files), tickets=False)
    with _listener() as listener:
        port = listener.getsockname()[1]
        server = _serve_once(listener, ctx, shutdown=True)
        conn, _ = _our_client(port, min_version="1.2")
        conn.wait_closed()
        conn.close()
        server.result()
        session = conn.session12
        assert session is not None and not session.ticket and len(session.session_id) == 32
        server = _serve_once(listener, ctx)
        again, _ = _our_client(port, min_version="1.2", session12=session)
        again.close()
        assert server.result()["reused"] and again.info.resumed


def test_tls12_client_rsa_and_certificate(pem_files: dict[str, Path]) -> None:
    ctx = _tls12(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    ctx.load_cert_chain(pem_files["server-rsa"], pem_files["server-rsa_key"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(pem_files["root"]))
    with _listener() as listener:
        server = _serve_once(listener, ctx)
        conn, _ = _our_client(listener.getsockname()[1], min_version="1.2",
                              certificate=credential("client"), now=lambda: NOW)
        conn.close()
        out = server.result()
    assert out["peer"] == credential("client").chain[0]
    assert "ECDHE_RSA" in SUITE_BY_ID[conn.info.cipher_suite].name


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_tls12_server_resumes_openssl_client(pem_files: dict[str, Path], tickets: bool) -> None:
    scfg = server_config(min_version="1.2", max_version="1.2")
    ctx = _tls12(_openssl_client_ctx(pem_files), tickets=tickets)
    first, out, again, out2 = _openssl_client_twice(ctx, scfg)
    assert out["version"] == "TLSv1.2" and first.info.version == 0x0303
    assert first.info.extended_master_secret  # OpenSSL offers RFC 7627
    assert out["session"] is not None and out["session"].has_ticket is tickets
    assert out2["reused"] and again.info.resumed


def _openssl_client_twice(ctx: ssl.SSLContext, scfg: Any) -> tuple[Any, dict, Any, dict]:
    """An OpenSSL client connects to our server, then again with the session it got:
    our two connections and what OpenSSL reported of each."""
    with _listener() as listener:
        port = listener.getsockname()[1]
        client = _openssl_client(port, ctx)
        first = _our_server(listener, config=scfg)
        out = client.result()
        first.close()
        client = _openssl_client(port, ctx, session=out["session"])
        again = _our_server(listener, config=scfg)
        out2 = client.result()
        again.close()
    return first, out, again, out2


@pytest.mark.parametrize("ciphers", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-CHACHA20-POLY1305",
                                     "ECDHE-ECDSA-AES256-GCM-SHA384"])
def test_tls12_server_suites_and_client_certificate(pem_files: dict[str, Path], ciphers: str) -> None:
    scfg = server_config(min_version="1.2", max_version="1.2", client_roots=roots(),
                         client_auth="RequireAndVerifyClientCert")
    ctx = _tls12(_openssl_client_ctx(pem_files, with_cert=True), ciphers)
    with _listener() as listener:
        client = _openssl_client(listener.getsockname()[1], ctx)
        conn = _our_server(listener, config=scfg)
        client.result()
        conn.close()
    assert conn.info.verified and conn.info.peer_chain[0] == credential("client").chain[0]


def test_tls12_version_negotiation_with_openssl(pem_files: dict[str, Path]) -> None:
    """A tlspeer client offering 1.2 and 1.3 gets 1.3 from OpenSSL's default and
    1.2 from a capped one; a tlspeer server capped at 1.2 gives OpenSSL 1.2."""
    for cap, want in ((None, 0x0304), (ssl.TLSVersion.TLSv1_2, 0x0303)):
        ctx = _openssl_server_ctx(pem_files)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if cap is not None:
            ctx.maximum_version = cap
        with _listener() as listener:
            server = _serve_once(listener, ctx)
            conn, _ = _our_client(listener.getsockname()[1], min_version="1.2")
            conn.close()
            server.result()
        assert conn.info.version == want
    client_ctx = _openssl_client_ctx(pem_files)
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with _listener() as listener:
        client = _openssl_client(listener.getsockname()[1], client_ctx)
        conn = _our_server(listener, min_version="1.2", max_version="1.2")
        assert client.result()["version"] == "TLSv1.2"
        conn.close()


# ---------------------------------------------------------------------------
# RSA certificates, TLS 1.2 RSA key exchange
# ---------------------------------------------------------------------------

# (OpenSSL cipher string, Go name): every RSA key exchange suite both have.
RSA_KEX = [("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
           ("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
           ("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
           ("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"),
           ("AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256")]


def _rsa_server_ctx(pem: dict[str, Path], ciphers: str, verify_client: bool = False) -> ssl.SSLContext:
    ctx = _tls12(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ciphers)
    ctx.load_cert_chain(pem["server-rsa"], pem["server-rsa_key"])
    ctx.options |= 1 << 19  # SSL_OP_NO_ENCRYPT_THEN_MAC: neither Go nor tlspeer does RFC 7366
    if verify_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(pem["root"]))
    return ctx


@pytest.mark.parametrize("ciphers, suite", RSA_KEX, ids=[s for _, s in RSA_KEX])
def test_tls12_rsa_key_exchange_client_against_openssl(pem_files: dict[str, Path], ciphers: str,
                                                       suite: str) -> None:
    """Our premaster secret, encrypted to OpenSSL's key, opens; with a client-rsa
    certificate (a TLS 1.2 RSA CertificateVerify); and the session resumes."""
    ctx = _rsa_server_ctx(pem_files, ciphers, verify_client=True)
    with _listener() as listener:
        port = listener.getsockname()[1]
        server = _serve_once(listener, ctx)
        conn, keylog = _our_client(port, min_version="1.2", max_version="1.2", cipher_suites=[suite],
                                   certificate=credential("client-rsa"), now=lambda: NOW)
        conn.close()
        out = server.result()
        assert out["version"] == "TLSv1.2" and out["peer"] == credential("client-rsa").chain[0]
        assert conn.info.cipher_suite == SUITE_BY_NAME[suite].id and conn.info.group is None
        assert conn.info.extended_master_secret and conn.info.peer_chain[0] == credential("server-rsa").chain[0]
        decoded = decode_connection(bytes(conn.written), bytes(conn.read), "".join(keylog))
        assert decoded.client_to_server.undecrypted_records == decoded.server_to_client.undecrypted_records == 0
        assert "server_key_exchange" not in decoded.server_to_client.handshake_types
        session = conn.session12
        assert session is not None and session.ticket
        server = _serve_once(listener, ctx)
        again, _ = _our_client(port, min_version="1.2", max_version="1.2", cipher_suites=[suite],
                               certificate=credential("client-rsa"), session12=session, now=lambda: NOW)
        again.close()
        assert server.result()["reused"] and again.info.resumed


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
@pytest.mark.parametrize("ciphers, suite", RSA_KEX, ids=[s for _, s in RSA_KEX])
def test_tls12_rsa_key_exchange_server_against_openssl(pem_files: dict[str, Path], ciphers: str, suite: str,
                                                       tickets: bool) -> None:
    """OpenSSL's premaster secret, encrypted to our key, opens; the session resumes."""
    scfg = server_config(min_version="1.2", max_version="1.2", certificate=credential("server-rsa"),
                         cipher_suites=[suite])
    ctx = _tls12(_openssl_client_ctx(pem_files), ciphers, tickets=tickets)
    ctx.options |= 1 << 19
    first, out, again, out2 = _openssl_client_twice(ctx, scfg)
    assert out["version"] == "TLSv1.2" and first.info.cipher_suite == SUITE_BY_NAME[suite].id
    assert first.info.extended_master_secret and first.info.group is None
    assert out2["reused"] and again.info.resumed


def test_tls13_rsa_certificates_both_ways(pem_files: dict[str, Path]) -> None:
    """TLS 1.3 CertificateVerify with RSA keys is RSA-PSS, each side verifying the other's."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    server_ctx.load_cert_chain(pem_files["server-rsa"], pem_files["server-rsa_key"])
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(pem_files["root"]))
    with _listener() as listener:
        server = _serve_once(listener, server_ctx)
        conn, _ = _our_client(listener.getsockname()[1], certificate=credential("client-rsa"))
        conn.close()
        out = server.result()
    assert out["version"] == "TLSv1.3" and out["peer"] == credential("client-rsa").chain[0]
    assert conn.info.signature_scheme == 0x0804 and conn.info.peer_chain[0] == credential("server-rsa").chain[0]

    scfg = server_config(certificate=credential("server-rsa"), client_auth="RequireAndVerifyClientCert",
                         client_roots=roots())
    client_ctx = _openssl_client_ctx(pem_files)
    client_ctx.load_cert_chain(pem_files["client-rsa"], pem_files["client-rsa_key"])
    with _listener() as listener:
        client = _openssl_client(listener.getsockname()[1], client_ctx)
        ours = _our_server(listener, config=scfg)
        client.result()
        ours.close()
    assert ours.info.verified and ours.info.signature_scheme in (0x0804, 0x0805, 0x0806)
    assert ours.info.peer_chain[0] == credential("client-rsa").chain[0]


def test_tls12_pkcs1_server_key_exchange_client(pem_files: dict[str, Path]) -> None:
    """Asked for PKCS#1 v1.5 only, OpenSSL signs its ServerKeyExchange with it and we verify."""
    ctx = _rsa_server_ctx(pem_files, "ECDHE-RSA-AES128-GCM-SHA256")
    with _listener() as listener:
        server = _serve_once(listener, ctx)
        conn, _ = _our_client(listener.getsockname()[1], min_version="1.2", max_version="1.2",
                              signature_algorithms=[0x0401])
        conn.close()
        server.result()
    assert conn.info.signature_scheme == 0x0401
    assert conn.info.cipher_suite == SUITE_BY_NAME["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"].id


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("sigalgs, shown", [("RSA+SHA256", "RSA"), ("RSA-PSS+SHA256", "RSA-PSS")])
def test_tls12_server_key_exchange_signature_for_s_client(pem_files: dict[str, Path], sigalgs: str,
                                                         shown: str) -> None:
    """Our ECDHE_RSA ServerKeyExchange signs with what the client's signature_algorithms
    ask for, PKCS#1 v1.5 or PSS (Go: selectSignatureScheme, the peer's order), and
    OpenSSL verifies it."""
    scfg = server_config(min_version="1.2", max_version="1.2", certificate=credential("server-rsa"))
    with _listener() as listener:
        port = listener.getsockname()[1]
        proc = Background(lambda: subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-sigalgs", sigalgs,
             "-CAfile", str(pem_files["root"]), "-verify_return_error", "-servername", HOST],
            input=b"ping", capture_output=True, timeout=TIMEOUT * 2))
        conn = driver.accept(listener, scfg, timeout=TIMEOUT)
        assert conn.recv(4) == b"ping"
        conn.close()
        out = proc.result()
    text = out.stdout.decode(errors="replace")
    assert f"Peer signature type: {shown}\n" in text and "Verification: OK" in text, text
    assert "ECDHE-RSA-AES128-GCM-SHA256" in text
