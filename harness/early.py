"""Helper processes a command will need, started while it is still reading its input.

`tlsdiff run` keeps one core busy for its first 0.6 to 0.8 s (its imports, parsing and
checking the case files) while the other waits. tlspeerd and the normalizer's worker
each spend 0.25 to 0.3 s of CPU importing before they answer; started when the run
begins, every run waited for them there. Started here, they import on the idle core.

`spawn` starts a command with the standard streams a later `Popen` would give it;
`take` hands it to whoever would have started exactly that command (same argv,
environment and stderr), once; `discard` kills and reaps what nobody took. A command
nobody takes costs only its start-up, on a core that was idle.
"""
from __future__ import annotations

import subprocess
import threading
from typing import Mapping, Sequence

_Key = tuple[tuple[str, ...], tuple[tuple[str, str], ...] | None, int]

_lock = threading.Lock()
_started: dict[_Key, subprocess.Popen] = {}


def _key(argv: Sequence[str], env: Mapping[str, str] | None, stderr: int) -> _Key:
    return tuple(argv), None if env is None else tuple(sorted(env.items())), stderr


def spawn(argv: Sequence[str], env: Mapping[str, str] | None, stderr: int = subprocess.PIPE) -> None:
    """Start argv now (stdin and stdout piped), unless it already was; an OSError is
    left for the later start to meet and report."""
    key = _key(argv, env, stderr)
    with _lock:
        if key in _started:
            return
        try:
            _started[key] = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=stderr, env=None if env is None else dict(env))
        except OSError:
            pass


def take(argv: Sequence[str], env: Mapping[str, str] | None, stderr: int = subprocess.PIPE) -> subprocess.Popen | None:
    """The process spawn started with exactly this command, still running; else None."""
    with _lock:
        if not _started:  # the usual case after the first starts (and in every fuzz campaign and library run)
            return None
        proc = _started.pop(_key(argv, env, stderr), None)
    if proc is not None and proc.poll() is not None:  # it exited: let the caller start one and see why
        _reap(proc)
        return None
    return proc


def discard() -> None:
    """Kill and reap every process nobody took."""
    with _lock:
        procs = list(_started.values())
        _started.clear()
    for proc in procs:
        _reap(proc)


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
