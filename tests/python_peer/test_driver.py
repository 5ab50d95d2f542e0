"""The blocking socket driver: tlspeer to tlspeer over loopback, timeouts, EOF,
and failures that keep what was on the wire."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tlspeer import driver
from tlspeer.errors import AlertReceived, UnknownCA
from tlspeer.wire import decode_connection

from tlspeer_helpers import NOW, client_config, roots, server_config


def _server_thread(listener: socket.socket, scfg, out: dict) -> threading.Thread:  # type: ignore[no-untyped-def]
    def run() -> None:
        try:
            conn = driver.accept(listener, scfg, timeout=5, now=lambda: NOW)
            out["ping"] = conn.recv(4)
            conn.key_update(request_update=True)
            conn.send(b"pong")
            out["rest"] = conn.wait_closed()
            conn.close()
            out["conn"] = conn
        except Exception as exc:  # handed to the test
            out["error"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_loopback_handshake_data_key_update_and_close() -> None:
    out: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        t = _server_thread(listener, server_config(), out)
        keylog: list[str] = []
        conn = driver.connect("127.0.0.1", listener.getsockname()[1], client_config(),
                              timeout=5, now=lambda: NOW, keylog=keylog.append)
        conn.send(b"ping")
        assert conn.recv(4) == b"pong"
        conn.send(b"bye")
        conn.close()
        t.join(5)
    assert "error" not in out, out.get("error")
    assert out["ping"] == b"ping" and out["rest"] == b"bye"
    assert conn.tickets and conn.info.verified
    decoded = decode_connection(bytes(conn.written), bytes(conn.read), "".join(keylog))
    assert decoded.server_to_client.handshake_types[-1] == "key_update"
    assert decoded.client_to_server.handshake_types[-1] == "key_update"
    assert decoded.client_to_server.undecrypted_records == 0


def test_every_read_has_a_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        start = time.monotonic()
        with pytest.raises(TimeoutError) as err:
            driver.connect("127.0.0.1", listener.getsockname()[1], client_config(), timeout=0.3)
        assert time.monotonic() - start < 2
        conn = err.value.connection  # type: ignore[attr-defined]
        assert conn.written[:1] == b"\x16" and conn.read == b""


def test_eof_and_failures_keep_the_wire() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def close_at_once() -> None:
            s, _ = listener.accept()
            s.recv(4096)
            s.close()
        threading.Thread(target=close_at_once, daemon=True).start()
        with pytest.raises(driver.UnexpectedEOF):
            driver.connect("127.0.0.1", listener.getsockname()[1], client_config(), timeout=5)

    out: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        t = _server_thread(listener, server_config(), out)
        with pytest.raises(UnknownCA) as err:
            driver.connect("127.0.0.1", listener.getsockname()[1],
                           client_config(roots=roots("root-b")), timeout=5, now=lambda: NOW)
        t.join(5)
    conn = err.value.connection  # type: ignore[attr-defined]
    # Our alert went out last, encrypted: 2 bytes + content type + 16-byte tag.
    assert conn.written[-24:-19] == b"\x17\x03\x03\x00\x13"
    assert isinstance(out["error"], AlertReceived) and out["error"].alert == 48
