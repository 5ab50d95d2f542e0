"""Standard input and output to a TCP connection: a go-peer started with -listen, as
PeerProcess sees it (the external runner). Killing this process closes the connection,
which ends that peer session and drops its objects.

Run by path, not as a module, so it starts without importing tlsdiff:

    python -I bridge.py HOST PORT CONNECT_TIMEOUT

Exit status 0 when standard input ended and then the peer closed, 3 when nothing
answers at HOST:PORT, 4 when the peer closed the connection first (it died or was
restarted). Why goes to standard error, which PeerProcess keeps.
"""
import os
import socket
import sys
import threading

NOTHING_ANSWERS = 3
PEER_CLOSED = 4


def _say(text: str) -> None:
    sys.stderr.write(f"tlsdiff bridge: {text}\n")
    sys.stderr.flush()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main(argv: list) -> int:
    host, port, timeout = argv[1], int(argv[2]), float(argv[3])
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        _say(f"nothing answers at {where}: {exc}")
        return NOTHING_ANSWERS
    sock.settimeout(None)  # PeerProcess times every request; a quiet peer is not an error here
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stdin_ended = threading.Event()

    def upstream() -> None:
        try:
            while data := os.read(0, 65536):
                sock.sendall(data)
        except OSError:
            pass
        stdin_ended.set()
        try:
            sock.shutdown(socket.SHUT_WR)  # the peer sees the end of its session's input
        except OSError:
            pass

    threading.Thread(target=upstream, daemon=True).start()
    try:
        while data := sock.recv(65536):
            _write_all(1, data)
    except BrokenPipeError:
        return 0  # the harness is gone
    except OSError as exc:
        _say(f"the connection to {where} failed: {exc}")
        return PEER_CLOSED
    if stdin_ended.is_set():
        return 0
    _say(f"the peer at {where} closed the connection (it exited or was restarted)")
    return PEER_CLOSED


if __name__ == "__main__":
    code = main(sys.argv)
    os._exit(code)  # the stdin thread may still be blocked in a read
