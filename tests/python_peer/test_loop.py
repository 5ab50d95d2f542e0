"""tlspeerd's connection loop (tlspeerd/loop.py): many tlspeer connections' steps
(tlspeer.driver) on one thread, each with its own deadline; the same steps run on
the caller's thread (driver.run_blocking)."""
from __future__ import annotations

import socket
import threading
import time

from tlspeer import driver
from tlspeer.client import ClientEngine
from tlspeerd import loop

from tlspeer_helpers import NOW, client_config, server_config


def _tlspeer_server(listener: socket.socket, count: int) -> threading.Thread:
    """A server answering `count` connections in turn: ping in, pong out, to the close."""
    def run() -> None:
        for _ in range(count):
            conn = driver.accept(listener, server_config(), timeout=5, now=lambda: NOW)
            conn.recv(4)
            conn.send(b"pong")
            conn.wait_closed()
            conn.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _client(port: int, timeout: float) -> driver.Steps:
    """A client connection as steps: handshake, ping, pong, close; what it saw."""
    deadline = time.monotonic() + timeout
    sock = yield from driver.connect_socket("127.0.0.1", port, deadline)
    conn = driver.TLSConnection(sock, ClientEngine(client_config(), now=lambda: NOW), timeout)
    try:
        yield from conn.handshake_steps()
        yield from conn.send_steps(b"ping")
        answer = yield from conn.recv_steps(4)
    except OSError as exc:
        yield from conn.close_after_failure_steps()
        return ("failed", f"{type(exc).__name__}: {exc}", len(conn.read))
    yield from conn.close_steps()
    return ("ok", answer, conn.info.verified)


class _Results:
    def __init__(self) -> None:
        self.got: dict[str, tuple] = {}
        self.order: list[str] = []
        self.done = threading.Event()
        self.want = 0

    def callback(self, name: str):  # type: ignore[no-untyped-def]
        def done(value, error) -> None:  # type: ignore[no-untyped-def]
            self.got[name] = (value, None if error is None else f"{type(error).__name__}: {error}")
            self.order.append(name)
            if len(self.got) == self.want:
                self.done.set()
        return done


def test_connections_share_one_thread_and_a_stalled_one_waits_alone() -> None:
    """A server that accepts and never answers holds its client until the deadline;
    meanwhile three handshakes with a real server complete on the same loop thread."""
    with socket.create_server(("127.0.0.1", 0)) as good, socket.create_server(("127.0.0.1", 0)) as silent:
        server = _tlspeer_server(good, 3)
        results, connections = _Results(), loop.Loop()
        results.want = 4
        start = time.monotonic()
        connections.submit(_client(silent.getsockname()[1], 1.5), results.callback("stalled"))
        for n in range(3):
            connections.submit(_client(good.getsockname()[1], 5), results.callback(f"good{n}"))
        assert results.done.wait(10)
        took = time.monotonic() - start
        connections.close(5)
        server.join(5)
    assert results.got["stalled"] == (("failed", "TimeoutError: tls: i/o timeout", 0), None)
    for n in range(3):
        assert results.got[f"good{n}"] == (("ok", b"pong", True), None)
    assert results.order[-1] == "stalled" and 1.5 <= took < 6
    assert not connections._live and not connections._thread.is_alive()


def test_an_op_that_fails_is_handed_its_error_and_the_loop_goes_on() -> None:
    """A refused connection ends with socket.create_connection's error; the next
    connection on the same loop still completes."""
    with socket.create_server(("127.0.0.1", 0)) as good:
        closed = socket.create_server(("127.0.0.1", 0))
        refused_port = closed.getsockname()[1]
        closed.close()
        server = _tlspeer_server(good, 1)
        results, connections = _Results(), loop.Loop()
        results.want = 2
        connections.submit(_client(refused_port, 5), results.callback("refused"))
        connections.submit(_client(good.getsockname()[1], 5), results.callback("good"))
        assert results.done.wait(10)
        connections.close(5)
        server.join(5)
    assert results.got["refused"] == (None, "ConnectionRefusedError: [Errno 111] Connection refused")
    assert results.got["good"] == (("ok", b"pong", True), None)


def test_the_same_steps_run_on_the_callers_thread() -> None:
    """run_blocking (an op inside batch or pair) gives what the loop gives, timeouts included."""
    with socket.create_server(("127.0.0.1", 0)) as good, socket.create_server(("127.0.0.1", 0)) as silent:
        server = _tlspeer_server(good, 1)
        assert driver.run_blocking(_client(good.getsockname()[1], 5)) == ("ok", b"pong", True)
        start = time.monotonic()
        assert driver.run_blocking(_client(silent.getsockname()[1], 0.3)) == (
            "failed", "TimeoutError: tls: i/o timeout", 0)
        assert 0.3 <= time.monotonic() - start < 2
        server.join(5)
