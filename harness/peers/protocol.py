"""The control-protocol client: JSON lines to a peer's stdin, responses by id.

The reactor (reactor.py) reads every peer's output and settles each response's
Reply, so several requests (a server's accept and a client's connect) can be in
flight at once, awaited by a run's steps on the reactor (steps.py) or by any other thread.
Every wait has a timeout; a peer that misses it is killed and reported with its
stderr (go-peer/PROTOCOL.md).
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import orjson

from .. import children, early
from .reactor import reactor

#: The control-protocol version this harness speaks (go-peer/PROTOCOL.md, "Versions").
PROTOCOL_VERSION = 2

#: The longest response line a peer may write: go-peer reads requests up to the same
#: size. A longer one is a broken peer, killed; read without a bound, one line that never
#: ends would take all the harness's memory.
MAX_LINE = 64 << 20
#: Standard error is kept as its last lines, each cut to this many bytes.
STDERR_PIECE = 64 << 10
#: How much of a pipe one read takes: all a peer's stdout pipe holds (Linux's default,
#: 64 KiB). A read of 256 KiB cost 16 µs more than this one however little the pipe
#: held: glibc maps so large a buffer afresh for every read, and unmaps it.
READ_CHUNK = 64 << 10
#: A peer that takes no part of a request line for this long has stopped reading its
#: requests (its pipe is full): it is killed as hung. Without a bound, the sender waited
#: until some other request to that peer timed out, and forever when there was none.
WRITE_TIMEOUT_S = 10.0
#: What a peer's standard input holds (Linux's default pipe holds 64 KiB): runs in flight
#: send far less than this to a peer that stopped reading before their requests time
#: out, so a send on the reactor's thread does not block, holding up every run.
STDIN_PIPE_SIZE = 1 << 20

#: What orjson refuses (an integer past 64 bits, a lone surrogate) goes out as json writes it.
_json_encode = json.JSONEncoder(separators=(",", ":")).encode


def encode_line(msg: dict[str, Any]) -> bytes:
    """A control-protocol line, without its newline: the harness's requests and
    tlspeerd's replies. orjson takes about a third of json's CPU on a default run's
    requests (and reads the replies in about 40%: `_response`)."""
    try:
        return orjson.dumps(msg, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return _json_encode(msg).encode()


class PeerFailure(Exception):
    """The peer died, hung or answered nonsense. Carries its stderr tail."""

    def __init__(self, release: str, what: str, stderr: str = "") -> None:
        super().__init__(f"peer {release}: {what}")
        self.release = release
        self.what = what
        self.stderr = stderr


class Unsupported(Exception):
    """The peer cannot honour the request on its release; the reason says why."""

    def __init__(self, release: str, reason: str) -> None:
        super().__init__(reason)
        self.release = release
        self.reason = reason


class PeerError(Exception):
    """The peer refused a request (bad parameters, unknown name)."""


class ReplyTimeout(TimeoutError):
    """No reply within the time asked for."""


class Reply:
    """The outcome of one request, once its response is in: a result or an exception.

    A one-shot future as small as it can be. A run sends about three requests a
    connection, and concurrent.futures.Future builds a Condition around an RLock for
    each, then notifies through it: for a default run that was a tenth of this
    process's time. Here a lock held from birth is released once, when the outcome is
    set; waiting is acquiring it (and letting it go for the next waiter)."""

    __slots__ = ("_unset", "_result", "_exception", "_callbacks")

    def __init__(self) -> None:
        self._unset = threading.Lock()
        self._unset.acquire()
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[["Reply"], None]] | None = []  # None once set

    def done(self) -> bool:
        return self._callbacks is None

    def set_result(self, value: Any) -> None:
        self._set(value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._set(None, exc)

    def _set(self, value: Any, exc: BaseException | None) -> None:
        with _CALLBACKS:
            callbacks = self._callbacks
            if callbacks is None:
                return  # set already: the first outcome stands (a peer failing late)
            self._result, self._exception, self._callbacks = value, exc, None
        self._unset.release()
        for fn in callbacks:
            fn(self)

    def add_done_callback(self, fn: Callable[["Reply"], None]) -> None:
        """fn(reply) once the outcome is set: now if it is."""
        with _CALLBACKS:
            if self._callbacks is not None:
                self._callbacks.append(fn)
                return
        fn(self)

    def wait(self, timeout: float | None) -> bool:
        """Whether the outcome is in, waiting up to timeout seconds for it."""
        if self._callbacks is None:
            return True
        if not self._unset.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            return False
        self._unset.release()
        return True

    def _wait(self, timeout: float | None) -> None:
        if not self.wait(timeout):
            raise ReplyTimeout()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return self._exception

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout)
        if self._exception is not None:
            raise self._exception
        return self._result


#: Guards every Reply's callback list against the outcome being set meanwhile (held
#: for a few instructions; one lock for all is cheaper than one each).
_CALLBACKS = threading.Lock()


@dataclass
class _Pending:
    future: Reply
    op: str


@dataclass
class PeerProcess:
    """A running peer: a local process or a container attached to stdin/stdout.

    on_exit, if given, runs once when the peer is over (killed, closed, or its
    process exited): killing a `docker run` client does not stop its container,
    so the docker runner removes the container there. exit_text, if given, says
    what an exit status means (the external runner's bridge exits 3 when nothing
    answers at its address).
    """

    release: str
    argv: Sequence[str]
    on_exit: Callable[["PeerProcess"], None] | None = None
    exit_text: Callable[[int], str] | None = None
    env: Mapping[str, str] | None = None  # the process's environment; None: the harness's
    timer_slack_ns: int = 0  # the timer slack it starts with (children.timer_slack); 0: the harness's
    proc: subprocess.Popen | None = None
    _next_id: int = 0
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stderr_tail: deque = field(default_factory=lambda: deque(maxlen=200))
    dead: str | None = None
    hung: bool = False  # killed because it stopped answering (not because it crashed)
    hello: dict[str, Any] = field(default_factory=dict)
    hello_params: dict[str, Any] = field(default_factory=dict)  # {"binary_sha256": True}: the digest too
    _exited: bool = False  # on_exit has run
    _exit_lock: threading.Lock = field(default_factory=threading.Lock)
    _dead_lock: threading.Lock = field(default_factory=threading.Lock)  # the first reason `dead` gets stands
    _drops: list[str] = field(default_factory=list)  # prefixes of ended runs not yet dropped
    _stderr_done: threading.Event = field(default_factory=threading.Event)  # stderr read to its end
    _out: bytearray = field(default_factory=bytearray)  # stdout read, not yet a whole line
    _err: bytearray = field(default_factory=bytearray)  # stderr read, not yet a whole line
    _asked_to_exit: bool | None = None  # shutdown sent and stdin closed; False: it took neither

    def start(self, timeout: float = 20.0) -> dict[str, Any]:
        """Start the process (or take the one the command started early with exactly this
        argv and environment) and ask for its capabilities (the preflight)."""
        self.proc = early.take(self.argv, self.env)
        if self.proc is None:
            with children.timer_slack(self.timer_slack_ns):
                self.proc = subprocess.Popen(list(self.argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, env=self.env)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        os.set_blocking(self.proc.stdin.fileno(), False)  # written by _write, with a deadline
        try:
            fcntl.fcntl(self.proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, STDIN_PIPE_SIZE)
        except (AttributeError, OSError):
            pass  # not Linux, or over the system's limit: the default pipe, a block sooner
        # Read by the reactor, a read at a time, never through the file objects.
        out, err = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        os.set_blocking(out, False)
        os.set_blocking(err, False)
        reactor().add_reader(out, self._on_stdout)
        reactor().add_reader(err, self._on_stderr)
        self.hello = self.call("hello", self.hello_params, timeout=timeout)
        if self.hello.get("protocol") != PROTOCOL_VERSION:
            what = (f"speaks control protocol {self.hello.get('protocol')!r}; this tlsdiff speaks "
                    f"{PROTOCOL_VERSION} (go-peer/PROTOCOL.md)")
            self.kill(what)
            raise PeerFailure(self.release, what, self.stderr())
        return self.hello

    # -- requests -------------------------------------------------------------

    def send(self, op: str, params: dict[str, Any]) -> Reply:
        """Send one request; the future resolves to its result or raises."""
        future: Reply = Reply()
        stuck = False
        with self._lock:
            if self.dead:
                future.set_exception(PeerFailure(self.release, self.dead, self.stderr()))
                return future
            self._next_id += 1
            rid = self._next_id
            self._pending[rid] = _Pending(future, op)
            line = encode_line({"id": rid, "op": op, "params": params}) + b"\n"
            try:
                self._write(line, WRITE_TIMEOUT_S)
            except TimeoutError:
                stuck = True  # the request stays pending: kill fails it with the reason
            except OSError as exc:
                self._pending.pop(rid, None)
                future.set_exception(PeerFailure(self.release, f"cannot write to peer: {exc}", self.stderr()))
        if stuck:  # kill takes the lock to fail what is pending
            self.hung = True
            self.kill(f"took no request for {WRITE_TIMEOUT_S:g} s: it stopped reading them")
        return future

    def _write(self, data: bytes, timeout: float) -> None:
        """All of data to the peer's standard input; TimeoutError once the pipe has stayed
        full for timeout seconds (a peer reading slowly is not cut off)."""
        assert self.proc and self.proc.stdin
        fd, view = self.proc.stdin.fileno(), memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                view = view[os.write(fd, view):]
                deadline = time.monotonic() + timeout
                continue
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError

    # Every request costs both processes a pipe write, a read and a thread wake-up; at
    # thousands of connections a run, that was as much CPU as the handshakes. A peer
    # whose hello lists `batch` and `pair` takes several requests in one round trip.

    def serves(self, op: str) -> bool:
        """Whether the peer's hello lists op."""
        return op in (self.hello.get("ops") or ())

    def send_batch(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[Reply]:
        """Requests the peer runs one after another, in one round trip when it serves
        `batch`; a future for each, as send would give."""
        if len(requests) < 2 or not self.serves("batch"):
            return [self.send(op, params) for op, params in requests]
        parts = tuple(Reply() for _ in requests)
        outer = self.send("batch", {"requests": [{"op": op, "params": params} for op, params in requests]})

        def settle(done: Reply) -> None:
            exc = done.exception()
            responses = [] if exc is not None else done.result().get("responses") or []
            for i, ((op, _), part) in enumerate(zip(requests, parts)):
                if exc is not None:
                    part.set_exception(exc)
                else:
                    self._settle(part, op, responses[i] if i < len(responses) else {"error": "missing from the batch"})
        outer.add_done_callback(settle)
        return list(parts)  # the caller's own list: settle keeps the tuple

    def send_pair(self, listen: dict[str, Any], accept: dict[str, Any],
                  connect: dict[str, Any]) -> tuple[Reply, Reply, Reply]:
        """A connection between two endpoints of this peer, which serves `pair`: listen,
        then accept and connect at once (connect's port is the listener's), in one
        round trip. Replies for the three, as send would give."""
        parts = (Reply(), Reply(), Reply())
        outer = self.send("pair", {"listen": listen, "accept": accept, "connect": connect})

        def settle(done: Reply) -> None:
            exc = done.exception()
            result = {} if exc is not None else done.result()
            for op, part in zip(("listen", "accept", "connect"), parts):
                if exc is not None:
                    part.set_exception(exc)
                elif op in result:
                    self._settle(part, op, result[op])
                else:  # without a listener neither half ran: they fail as listen did
                    self._settle(part, "listen", result.get("listen") or {"error": "missing from the pair"})
        outer.add_done_callback(settle)
        return parts

    #: Ended runs whose objects are dropped together, in one round trip.
    DROP_BATCH = 16

    def drop_later(self, prefix: str) -> None:
        """Forget an ended run's objects, together with the next runs' (nothing waits
        for a drop; names are unique per run, so a late drop disturbs nothing)."""
        if not self.serves("batch"):
            self.send("drop", {"prefix": prefix})
            return
        with self._lock:
            self._drops.append(prefix)
            if len(self._drops) < self.DROP_BATCH:
                return
        self._send_drops()

    def flush_drops(self, timeout: float) -> bool:
        """Drop what drop_later holds now, and wait for it: the peer is then at rest, its
        descriptors those of no run (the fuzzer counts them to find leaks). True if the
        drops went unanswered and the peer was killed for it (not a run's wait, which
        may meet a hang first: that run reports it)."""
        for f in self._send_drops():
            try:
                f.result(timeout=timeout)
            except ReplyTimeout:
                self._hung(timeout)
                return True
            except (PeerFailure, PeerError, Unsupported):
                pass  # a peer that died holds nothing; the next request meets it
        return False

    def _send_drops(self) -> list[Reply]:
        """The held-back drops, sent in one batch."""
        with self._lock:
            drops, self._drops = self._drops, []
        return self.send_batch([("drop", {"prefix": p}) for p in drops])

    def _settle(self, future: Reply, op: str, msg: dict[str, Any]) -> None:
        """A response's outcome on its future: the result, Unsupported or PeerError."""
        if msg.get("ok"):
            future.set_result(msg.get("result") or {})
        elif "unsupported" in msg:
            future.set_exception(Unsupported(self.release, msg["unsupported"]))
        else:
            future.set_exception(PeerError(f"{op}: {msg.get('error', 'no error text')}"))

    def wait(self, future: Reply, timeout: float) -> dict[str, Any]:
        """Wait for a reply; on timeout the peer is killed (it is hung). Not on the
        reactor's thread, whose steps yield an Await instead (steps.py)."""
        if reactor().on_thread():
            raise RuntimeError("PeerProcess.wait on the reactor thread: it would wait for itself (yield Await)")
        try:
            return future.result(timeout=timeout)
        except ReplyTimeout:
            self._hung(timeout)
            return future.result(timeout=1.0)

    def _hung(self, timeout: float) -> None:
        self.hung = True
        self.kill(f"no response within {timeout:g} s")

    def call(self, op: str, params: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        return self.wait(self.send(op, params), timeout)

    # -- lifecycle ------------------------------------------------------------

    def kill(self, why: str) -> None:
        """Kill the process and fail every pending request with why + stderr.

        Not under self._lock until the process is gone: a send holds that lock while it
        writes, and to a peer that stopped reading (a hung one) the write blocks once the
        pipe is full. Killing the process is what makes that write fail and frees the
        lock; waiting for the lock first waited forever (a fuzz campaign froze so)."""
        self._set_dead(why)
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._fail_pending()
        self._run_on_exit()

    def ask_to_exit(self) -> None:
        """Send shutdown and close the peer's stdin, without waiting for it to exit (close
        waits): a pool asks all its peers first, and they end side by side."""
        if self.proc and self.proc.poll() is None and not self.dead and self._asked_to_exit is None:
            self._asked_to_exit = False
            try:
                assert self.proc.stdin
                with self._lock:  # not inside another request's line
                    self._write(b'{"id":0,"op":"shutdown"}\n', timeout=1.0)
                self.proc.stdin.close()
            except OSError:  # it takes no request (TimeoutError is an OSError): close kills it
                return
            self._asked_to_exit = True

    def close(self) -> None:
        self.ask_to_exit()
        if self._asked_to_exit and self.proc and not self.dead:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.kill("closed")

    def stderr(self) -> str:
        return "".join(self._stderr_tail)

    def exit_stderr(self, timeout: float = 5.0) -> tuple[int | None, str]:
        """The exit status of a process that has ended and all it wrote to stderr;
        (None, what came so far) if it is still running after timeout."""
        if self.proc is None:
            return None, self.stderr()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, self.stderr()
        self._stderr_done.wait(timeout)
        return code, self.stderr()

    # -- reading, on the reactor -------------------------------------------------

    @staticmethod
    def _read(fd: int) -> bytes | None:
        """What the pipe holds now (b"" at its end), or None if nothing after all."""
        try:
            return os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def _on_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        if (data := self._read(fd)) is None:
            return
        if not data:  # stdout closed: the process exited (crashed, or was killed)
            reactor().unwatch(fd)
            reactor().offload(self._exited_now)
            return
        buf = self._out
        seen = len(buf)  # no newline before this: each byte is searched once
        buf += data
        start = 0
        while (end := buf.find(b"\n", max(start, seen))) >= 0:
            self._response(bytes(buf[start:end]))
            start = end + 1
        del buf[:start]
        if len(buf) >= MAX_LINE:
            del buf[:]
            reactor().unwatch(fd)
            reactor().offload(lambda: self.kill(f"wrote a response line longer than {MAX_LINE >> 20} MiB"))

    def _response(self, raw: bytes) -> None:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._stderr_tail.append(f"[stdout, not JSON] {raw[:200]!r}\n")
            return
        with self._lock:
            pending = self._pending.pop(msg.get("id"), None)
        if pending is not None:
            self._settle(pending.future, pending.op, msg)

    def _exited_now(self) -> None:
        """After stdout's end, on a helper thread: the exit status may take a moment."""
        assert self.proc
        code = self.proc.wait()
        self._set_dead(self.exit_text(code) if self.exit_text else f"exited with status {code}")
        self._fail_pending()
        self._run_on_exit()

    def _set_dead(self, why: str) -> None:
        with self._dead_lock:
            if not self.dead:
                self.dead = why

    def _on_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        fd = self.proc.stderr.fileno()
        if (data := self._read(fd)) is None:
            return
        buf = self._err
        if not data:
            reactor().unwatch(fd)
            if buf:
                self._stderr_tail.append(buf.decode(errors="replace"))
                del buf[:]
            self._stderr_done.set()
            return
        buf += data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0 or len(buf) - start >= STDERR_PIECE:
            cut = end + 1 if 0 <= end < start + STDERR_PIECE else start + STDERR_PIECE
            self._stderr_tail.append(buf[start:cut].decode(errors="replace"))
            start = cut
        del buf[:start]

    def _run_on_exit(self) -> None:
        # Held while the hook runs: whoever comes second (kill or the reader thread)
        # returns only once the cleanup is done, so close() leaves nothing behind.
        with self._exit_lock:
            if self._exited or self.on_exit is None:
                return
            self._exited = True
            try:
                self.on_exit(self)
            except Exception as exc:  # a failed cleanup must not crash the run
                self._stderr_tail.append(f"[harness] cleanup after the peer failed: {exc}\n")

    def _fail_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(PeerFailure(self.release, f"{p.op}: {self.dead}", self.stderr()))
