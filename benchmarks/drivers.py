#!/usr/bin/env python3
"""What does a thread per connection cost, next to tlspeerd's one loop, to drive tlspeer?

    python benchmarks/drivers.py [--count N] [--concurrency C] [--rounds R] [--json PATH]

tlspeerd drove each connection in a thread of its own, on blocking sockets: every
read woke its thread, which then waited for the GIL. It now runs every connection
on one loop thread (tlspeerd/loop.py). This measures the two designs side by side,
in one invocation:

- threads: C threads, each making handshakes one after another with
  tlspeer.driver.connect, then close (close_notify);
- loop: C connections at once on tlspeerd's Loop, each the driver's steps
  (connect_socket, handshake_steps, close_steps), as tlspeerd runs a connect;

both against the same server in another process (Python's ssl, a thread per
connection, TLS 1.3, X25519, tlsdiff.pki's server identity), the client verifying
the chain up to root-a at the PKI's epoch. Figures are the client process's CPU
(user and system) and context switches per handshake, from getrusage; the rounds
take turns, and threads / loop is given per round and as the median. Printed,
never asserted.
"""
from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python-peer"))
sys.path.insert(0, str(REPO_ROOT))

from tlsdiff import pki  # noqa: E402
from tlspeer import driver  # noqa: E402
from tlspeer.certs import load_roots  # noqa: E402
from tlspeer.client import ClientConfig, ClientEngine  # noqa: E402
from tlspeerd.loop import Loop  # noqa: E402

from tables import table  # noqa: E402  (benchmarks/tables.py)

TIMEOUT_S = 5.0
WARMUP = 50
NOW = pki.EPOCH.timestamp()  # the certificates' validity, whatever the date


def _clock() -> float:
    return NOW


def serve(port_file: Path, cert_dir: Path) -> None:
    """The server process: OpenSSL, a thread per connection, until killed."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_dir / "chain.pem", cert_dir / "key.pem")
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ecdh_curve("X25519")
    ctx.num_tickets = 1
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    port_file.write_text(str(listener.getsockname()[1]))

    def handle(sock: socket.socket) -> None:
        with sock:
            try:
                tls = ctx.wrap_socket(sock, server_side=True)
                tls.settimeout(TIMEOUT_S)
                tls.recv(1)  # until the client's close_notify
            except (OSError, ssl.SSLError):
                pass
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(sock,), daemon=True).start()


def _config() -> ClientConfig:
    return ClientConfig(server_name=pki.SERVER_NAME, roots=load_roots([pki.root_pem("root-a")]), groups=["X25519"])


def threads(port: int, count: int, concurrency: int) -> int:
    """count handshakes by `concurrency` threads, each blocking on its own socket."""
    config, lock, left, done = _config(), threading.Lock(), [count], [0]

    def work() -> None:
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            conn = driver.connect("127.0.0.1", port, config, timeout=TIMEOUT_S, now=_clock)
            conn.close()
            with lock:
                done[0] += 1
    workers = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return done[0]


def loop(port: int, count: int, concurrency: int) -> int:
    """count handshakes, `concurrency` at once, all on tlspeerd's connection loop (the
    driver's steps, as tlspeerd runs accept and connect)."""
    config, connections = _config(), Loop()
    lock, all_done = threading.Lock(), threading.Event()
    started = done = 0

    def one() -> driver.Steps:
        sock = yield from driver.connect_socket("127.0.0.1", port, time.monotonic() + TIMEOUT_S)
        conn = driver.TLSConnection(sock, ClientEngine(config, now=_clock), TIMEOUT_S)
        yield from conn.handshake_steps()
        yield from conn.close_steps()

    def start() -> None:
        nonlocal started
        started += 1
        connections.submit(one(), ended)

    def ended(_: Any, error: BaseException | None) -> None:  # on the loop's thread
        nonlocal done
        with lock:
            if error is not None:  # not counted: measure() says how many completed
                all_done.set()
                return
            done += 1
            if started < count:
                start()
            elif done == count:
                all_done.set()
    with lock:
        for _ in range(min(concurrency, count)):
            start()
    all_done.wait(TIMEOUT_S * count)
    connections.close(TIMEOUT_S)
    return done


def measure(mode: Callable[[int, int, int], int], port: int, count: int, concurrency: int) -> dict[str, Any]:
    mode(port, WARMUP, concurrency)
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    done = mode(port, count, concurrency)
    r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    if done != count:
        raise RuntimeError(f"{mode.__name__}: {done} of {count} handshakes completed")
    user, system = (r1.ru_utime - r0.ru_utime) / count, (r1.ru_stime - r0.ru_stime) / count
    switches = (r1.ru_nvcsw - r0.ru_nvcsw + r1.ru_nivcsw - r0.ru_nivcsw) / count
    return {"mode": mode.__name__, "handshakes": count, "cpu_ms": 1000 * (user + system), "user_ms": 1000 * user,
            "system_ms": 1000 * system, "switches": switches, "seconds": w1 - w0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=600, help="handshakes per figure (default 600)")
    p.add_argument("--concurrency", type=int, default=16, help="connections at once (default 16, as --workers)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, the two modes taking turns (default 3)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    if not 1 <= args.count <= 100000 or not 1 <= args.concurrency <= 256 or not 1 <= args.rounds <= 50:
        print("drivers.py: --count 1..100000, --concurrency 1..256, --rounds 1..50", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tlsdiff-drivers-") as tmp:
        folder = Path(tmp)
        ident = pki.identity("server")
        (folder / "chain.pem").write_text(ident.chain_pem)
        (folder / "key.pem").write_text(ident.key_pem)
        port_file = folder / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), str(folder)])
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text()):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.05)
            port = int(port_file.read_text())
            rounds = [[measure(mode, port, args.count, args.concurrency) for mode in (threads, loop)]
                      for _ in range(args.rounds)]
        finally:
            server.kill()
            server.wait()
    rows = [["round", "mode", "handshakes", "CPU ms/hs", "user", "system", "switches/hs", "seconds", "threads / loop"]]
    ratios = []
    for n, (t, s) in enumerate(rounds, 1):
        ratios.append(t["cpu_ms"] / s["cpu_ms"])
        for f in (t, s):
            rows.append([str(n), f["mode"], str(f["handshakes"]), f"{f['cpu_ms']:.3f}", f"{f['user_ms']:.3f}",
                         f"{f['system_ms']:.3f}", f"{f['switches']:.1f}", f"{f['seconds']:.2f}",
                         f"{ratios[-1]:.2f}x" if f is s else ""])
    print(f"tlspeer clients against an OpenSSL server in another process; {args.concurrency} connections at once")
    print(table(rows, right={2, 3, 4, 5, 6, 7, 8}))
    print(f"threads / loop, client CPU per handshake: {statistics.median(ratios):.2f}x (median of {len(ratios)} rounds)")
    if args.json:
        args.json.write_text(json.dumps({"concurrency": args.concurrency, "rounds": rounds, "ratios": ratios},
                                        indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(Path(sys.argv[2]), Path(sys.argv[3]))
    sys.exit(main())
