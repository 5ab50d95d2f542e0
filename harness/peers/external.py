"""The external runner: Go peers someone else started with `go-peer -listen ADDR` (the
docker-compose.yml services, or a binary run by hand), reached over TCP.

Each peer is what its `hello` says: its release is the column, and the report's
release row names the address and the SHA-256 of the binary it reported
(`ExternalPeer`). Every connection is checked to be that same binary: a peer
restarted as something else mid-run is a failure, never a stand-in. The pool
talks to a peer through bridge.py (stdin/stdout to one TCP connection), so
PeerProcess, its timeouts and the pool's hang rules are those of local peers: a
hung peer's connection is dropped and dialled again (a fresh session), and after
two hangs it is given up. The Python peer still runs beside tlsdiff, and every TLS
connection is on 127.0.0.1, so the peers must share tlsdiff's 127.0.0.1.
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tlsdiff.errors import UserError
from tlsdiff.toolchains import Toolchain, Unavailable, lines

from .pool import PYTHON_PEER, PeerPool, python_peer_argv
from .protocol import PROTOCOL_VERSION, PeerFailure, PeerProcess

if TYPE_CHECKING:
    from tlsdiff.runs import Releases

FLAG = "--peers"
ENV = "TLSDIFF_PEERS"
PROVIDER = "external"
EXPECTED = "NAME=HOST:PORT[,NAME=HOST:PORT...], e.g. 1.19=127.0.0.1:7119,1.27=127.0.0.1:7127"
CONNECT_TIMEOUT_S = 5.0
HELLO_TIMEOUT_S = 10.0
START_TIMEOUT_S = 10.0  # a session's hello, through the bridge
BRIDGE = Path(__file__).with_name("bridge.py")
#: Why a case's `godebug` cannot run here: its runs are unsupported with this reason.
NO_GODEBUG = ("the external runner talks to peers that already run, so it cannot start one under a GODEBUG "
              "of its own; run cases with godebug with --runner local or docker")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DEVEL_RE = re.compile(r"^devel go(1\.\d+)-(\w+)")  # a devel build's runtime.Version()
_DEVEL_NAME = re.compile(r"^1\.\d+-devel-\w+$")  # how tlsdiff names one


@dataclass(frozen=True)
class PeerAddress:
    """One NAME=HOST:PORT of --peers: where a peer listens and what the user says it is."""

    name: str  # a release or a line ("1.27.3", "1.27"), checked against the peer's hello
    host: str
    port: int
    item: str  # as written, for messages
    source: str = FLAG  # the flag or variable it came from

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ExternalPeer(Toolchain):
    """A release row for a peer tlsdiff did not build: where it listens and the binary it reported."""

    address: str = ""
    binary_sha256: str = ""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_peers(text: str, source: str = FLAG) -> list[PeerAddress]:
    """--peers text to addresses; UserError naming the item and what was expected."""
    if not text.strip():
        raise UserError(f"{source}: empty; expected {EXPECTED}")
    peers: list[PeerAddress] = []
    for item in (i.strip() for i in text.split(",")):
        name, sep, addr = item.partition("=")
        host, colon, port_text = addr.strip().rpartition(":")
        host = host.strip().removeprefix("[").removesuffix("]")
        if not sep or not name.strip() or not colon or not host:
            raise UserError(f"{source}: {item!r} is not NAME=HOST:PORT; expected {EXPECTED}")
        name = name.strip()
        if lines.canonical(name) is None and not _DEVEL_NAME.match(name):
            raise UserError(f"{source}: {name!r} in {item!r} is not a Go release; expected the peer's release "
                            f"or line, such as 1.27 or 1.27.3")
        if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise UserError(f"{source}: {port_text!r} in {item!r} is not a port; expected 1 to 65535")
        if not _loopback(host):
            raise UserError(f"{source}: {host!r} in {item!r} is not a loopback address; expected 127.0.0.1:PORT "
                            "(the peers do their TLS on 127.0.0.1 with the Python peer beside tlsdiff, so they "
                            "must share tlsdiff's 127.0.0.1)")
        peers.append(PeerAddress(lines.canonical(name) or name, host, int(port_text), item, source))
    for attr in ("name", "address"):
        seen: dict[str, str] = {}
        for p in peers:
            if getattr(p, attr) in seen:
                raise UserError(f"{source}: {seen[getattr(p, attr)]!r} and {p.item!r} name the same {attr}; "
                                "expected one peer per release and address")
            seen[getattr(p, attr)] = p.item
    return peers



def peers_asked(runner: str, flag: str | None, go: str | None, goroots: Sequence[str]) -> list[PeerAddress]:
    """The peers of `run --runner external` (--peers, else $TLSDIFF_PEERS); [] for another runner.
    The flags that pick releases to build go with the other runners only."""
    import os
    if runner != PROVIDER:
        if flag is not None:
            raise UserError(f"{FLAG}: goes with --runner external (peers that already run); "
                            f"expected --runner external {FLAG} {flag}")
        return []
    if go is not None or goroots:
        which = "--go" if go is not None else "--goroot"
        raise UserError(f"{which}: not with --runner external; expected no {which}: the releases are those of "
                        f"the running peers {FLAG} names")
    if flag is not None:
        return parse_peers(flag, FLAG)
    if os.environ.get(ENV, "").strip():
        return parse_peers(os.environ[ENV], ENV)
    raise UserError(f"--runner external: no peers named; expected {FLAG} {EXPECTED} (or ${ENV})")


# ---------------------------------------------------------------- the preflight


def release_of_hello(release: str) -> tuple[str, str] | None:
    """(line, version) of a Go peer's hello release: "1.27.3", or a devel build's
    "devel go1.28-7f3c1a2b ..." as "1.28-devel-7f3c1a2" (as --goroot names it)."""
    if (exact := lines.canonical(release)) is not None and exact.count(".") == 2:
        return ".".join(exact.split(".")[:2]), exact
    if m := _DEVEL_RE.match(release):
        return m.group(1), f"{m.group(1)}-devel-{m.group(2)[:7]}"
    return None


def _hello(peer: PeerAddress) -> dict[str, Any]:
    """Dial the peer, ask hello, hang up (its session ends). UserError for anything else."""
    where = f"{peer.source}: {peer.item}"
    try:
        sock = socket.create_connection((peer.host, peer.port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UserError(f"{where}: nothing answers at {peer.address} ({reason}); expected a go-peer started "
                        f"with -listen {peer.address}") from None
    with sock:
        sock.settimeout(HELLO_TIMEOUT_S)
        try:
            sock.sendall(b'{"id":1,"op":"hello","params":{"binary_sha256":true}}\n')
            line = sock.makefile("rb").readline(1 << 20)
        except OSError as exc:  # socket.timeout included
            what = f"sends no hello within {HELLO_TIMEOUT_S:g} s" if isinstance(exc, TimeoutError) else f"fails ({exc})"
            raise UserError(f"{where}: {peer.address} answers but {what}; expected a go-peer "
                            "(go-peer/PROTOCOL.md)") from None
    try:
        msg = json.loads(line)
        hello = msg["result"] if msg.get("ok") and msg.get("id") == 1 else None
    except (ValueError, TypeError, KeyError, AttributeError):
        hello = None
    if not isinstance(hello, dict):
        shown = line[:80].decode(errors="replace") if line else "nothing"
        raise UserError(f"{where}: {peer.address} answers {shown!r}, not a hello; expected a go-peer "
                        "(go-peer/PROTOCOL.md)")
    return hello


def probe(peer: PeerAddress) -> ExternalPeer:
    """What listens at a --peers address, checked against its NAME: a release row."""
    hello = _hello(peer)
    where = f"{peer.source}: {peer.item}"
    if hello.get("protocol") != PROTOCOL_VERSION:
        raise UserError(f"{where}: the peer speaks control protocol {hello.get('protocol')!r}; expected "
                        f"{PROTOCOL_VERSION} (go-peer/PROTOCOL.md)")
    found = release_of_hello(str(hello.get("release", "")))
    if found is None:
        raise UserError(f"{where}: the peer reports release {hello.get('release')!r}; expected a Go 1.19 or "
                        "newer go-peer")
    line, version = found
    if peer.name not in (line, version):
        raise UserError(f"{where}: the peer at {peer.address} is Go {version}, not Go {peer.name}; expected "
                        f"{version}={peer.address} (or the address of the Go {peer.name} peer)")
    digest = hello.get("binary_sha256")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise UserError(f"{where}: the peer's hello names no binary_sha256, so a report could not say what ran; "
                        "expected a go-peer built from this tlsdiff's go-peer sources")
    return ExternalPeer(line=line, version=version, provider=PROVIDER, goroot=Path(), requested=peer.name,
                        name=version, address=peer.address, binary_sha256=digest)


def prepare_external(peers: Sequence[PeerAddress]) -> Releases:
    """The run's releases: one row per peer, from its hello, oldest first. UserError before any case."""
    from tlsdiff.runs import Releases
    found = [probe(p) for p in peers]
    by_version: dict[str, PeerAddress] = {}
    for p, row in zip(peers, found):
        if row.version in by_version:
            raise UserError(f"{p.source}: {by_version[row.version].item!r} and {p.item!r} are both Go "
                            f"{row.version}; expected one peer per release")
        by_version[row.version] = p
    found.sort(key=lambda r: lines.release_of_name(r.version))
    return Releases(available=list(found), unavailable=[], binaries={}, rows=list(found))


def pin_external(spec: str, peers: Sequence[Toolchain]) -> Toolchain | Unavailable:
    """The running peer a pinned release ("1.21", "1.21.13") means here: the peer of exactly
    that release, or the newest peer of that line; Unavailable when no peer is."""
    exact = [p for p in peers if p.version == spec]
    of_line = sorted((p for p in peers if p.line == spec), key=lambda p: lines.release_of_name(p.version))
    found = exact or of_line[-1:]
    if found:
        return found[0]
    names = ", ".join(p.version for p in peers)
    return Unavailable(spec, ".".join(spec.split(".")[:2]),
                       f"Go {spec}: no peer of it among the running peers {FLAG} names ({names}); the external "
                       "runner starts none")


# ---------------------------------------------------------------- the pool


def bridge_argv(host: str, port: int) -> list[str]:
    """The command that connects stdin/stdout to a peer's control address."""
    return [sys.executable, "-I", str(BRIDGE), host, str(port), f"{CONNECT_TIMEOUT_S:g}"]


def external_pool(peers: Sequence[ExternalPeer], start_timeout: float = START_TIMEOUT_S) -> PeerPool:
    """A pool whose Go peers are sessions on running peers; tlspeer runs locally."""
    by_name = {p.name: p for p in peers}

    def make_argv(release: str) -> list[str]:
        if release == PYTHON_PEER:
            return python_peer_argv()
        host, _, port = by_name[release].address.rpartition(":")
        return bridge_argv(host.strip("[]"), int(port))

    def same_binary(peer: PeerProcess) -> None:
        # A result is about exactly what ran: a peer restarted as another binary is not this column.
        if peer.release == PYTHON_PEER:
            return
        want = by_name[peer.release]
        found = release_of_hello(str(peer.hello.get("release", "")))
        got = (found[1] if found else peer.hello.get("release"), peer.hello.get("binary_sha256"))
        if got != (want.version, want.binary_sha256):
            why = (f"the peer at {want.address} is now Go {got[0]} with binary {str(got[1])[:12]}; this run is "
                   f"of Go {want.version} with binary {want.binary_sha256[:12]}")
            peer.kill(why)
            raise PeerFailure(peer.release, why, peer.stderr())

    return PeerPool(make_argv, start_timeout=start_timeout, check=same_binary, exit_text=_bridge_exit_text(peers),
                    no_godebug=NO_GODEBUG, hello_params={"binary_sha256": True})


def _bridge_exit_text(peers: Sequence[ExternalPeer]) -> Callable[[str, int], str]:
    """What a bridge's exit status says (bridge.py), naming the peer's address."""
    by_name = {p.name: p.address for p in peers}

    def text(release: str, code: int) -> str:
        if release not in by_name:  # tlspeer, a local process
            return f"exited with status {code}"
        if code == 3:
            return f"nothing answers at {by_name[release]} any more"
        if code == 4:
            return f"the peer at {by_name[release]} closed the connection (it exited or was restarted)"
        return f"the connection to the peer at {by_name[release]} ended (bridge status {code})"
    return text
