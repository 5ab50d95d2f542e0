"""The long-running child processes tlsdiff starts (go build and the compilers under
it), each in a process group of its own, so that an interrupt ends all of them at
once instead of waiting for them (`kill_all`, called from the CLI's signal handler)."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import Any, Sequence

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
