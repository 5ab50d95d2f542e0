"""The long-running child processes tlsdiff starts (go build and the compilers under
it), each in a process group of its own, so that an interrupt ends all of them at
once instead of waiting for them (`kill_all`), and what an interrupt of a command
does (`Interrupts`, the signal handler of `run` and `fuzz`); and the timer slack a
child starts with (`timer_slack`)."""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Callable, Iterator, Sequence

_lock = threading.Lock()
_groups: set[int] = set()


def run(cmd: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """subprocess.run in a new process group that kill_all (or a timeout, or any
    exception here) ends whole: grandchildren included."""
    proc = subprocess.Popen(list(cmd), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)
    with _lock:
        _groups.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        with _lock:
            _groups.discard(proc.pid)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


_PR_SET_TIMERSLACK, _PR_GET_TIMERSLACK = 29, 30  # linux/prctl.h


def _find_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):  # the option numbers above are Linux's
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # the C library this process runs on
    except (OSError, AttributeError):
        return None


_prctl = _find_prctl()


@contextlib.contextmanager
def timer_slack(ns: int) -> Iterator[None]:
    """The calling thread's timer slack (Linux: how late the kernel may end its timed
    sleeps, to wake it together with others) set to `ns` while the block runs, then
    put back. A process started in the block starts with it, and every thread that
    process starts inherits it; the caller's own sleeps are late by it only inside.
    Where the system has no such setting, nothing changes."""
    if not ns or _prctl is None:
        yield
        return
    before = _prctl(_PR_GET_TIMERSLACK, 0, 0, 0, 0)
    _prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(ns), 0, 0, 0)
    try:
        yield
    finally:
        _prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(max(before, 0)), 0, 0, 0)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all() -> int:
    """End every registered process group now; how many there were."""
    with _lock:
        groups = list(_groups)
    for pgid in groups:
        _kill_group(pgid)
    return len(groups)


class Interrupts:
    """Ctrl-C and SIGTERM. While preparing: end every build and fetch at once (their
    process groups) and stop. While running: the first stops scheduling, the runs in
    flight end, and the reports of what finished are written, marked interrupted;
    the second exits at once."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self.running:
            kill_all()
            raise KeyboardInterrupt
        if self.stop.is_set():
            kill_all()
            print("tlsdiff: interrupted again: stopping now", file=sys.stderr, flush=True)
            os._exit(130)
        self.stop.set()
        print("tlsdiff: interrupted: no new runs; the ones in flight finish, then the reports are written "
              "(interrupt again to stop now)", file=sys.stderr, flush=True)
