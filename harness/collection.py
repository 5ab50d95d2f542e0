"""Fewer garbage collections while a run is under way.

Python collects its youngest generation every 700 allocations of container
objects, and each older collection walks every object still alive. A run keeps
thousands of peer replies and observation documents alive while it allocates
millions of short-lived dicts, most freed by reference counting: the collector
then took about a fifth of the harness's CPU (0.7-1.2 s of a default run) and
found almost nothing. With a young generation of 50,000 it takes about 0.1 s.
What outlives a young collection during a run (replies, documents) mostly lives
until the run ends, so a collection of the middle generation (every 10 young ones)
walked it only to find it alive: every 1,000 young collections instead, a default
run's collections take 0.12 s instead of 0.27 (a fuzz campaign still collects its
middle generation every minute or two). Cycles still get collected, only in larger
steps.

At exit, the interpreter collects once more over everything still alive (a run's
results, documents, replies): 0.7-0.9 s after a default run's report was written,
for nothing the process still needed. Frozen first, those objects are left out of
that collection; they are still freed, by reference counting, as the modules are
torn down.
"""
from __future__ import annotations

import atexit
import gc
import threading
from contextlib import contextmanager
from typing import Iterator

#: Allocations between young collections while a run is under way.
YOUNG = 50_000
#: Young collections between collections of the middle generation.
MIDDLE = 1_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


def collect_less() -> None:
    """For a process of tlsdiff's own (the CLI, the normalizer worker): from now on."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG), max(middle, MIDDLE), old)


def no_collection_at_exit() -> None:
    """For a process of tlsdiff's own: the last collection at exit skips what is alive
    then. Registered early, so it runs after every later atexit handler."""
    atexit.register(gc.freeze)


@contextmanager
def collecting_less() -> Iterator[None]:
    """For the length of a run in someone else's process (tlsdiff.Run used as a
    library): the thresholds it had come back when the last run under way ends."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            collect_less()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
