"""Giving the C allocator's free memory back to the system, in processes that live long.

A fuzz campaign's processes (the harness, its normalizer worker, tlspeerd) allocate
and free, from several threads, many buffers larger than Python's own allocator takes
(records, certificates, documents), and those go to the C library's malloc. glibc keeps
what is freed in its arenas and hands back to the system only what lies at the top of
a heap, so these processes' resident memory crept up through a campaign while what
they held in use stayed about the same (docs/fuzz.md, "Memory and processes over a
long campaign"). `malloc_trim(0)` hands back the free pages of every arena.
"""
from __future__ import annotations

import ctypes
import threading
import time
from typing import Callable

#: How often a long-lived process hands its free memory back. A trim of a 40 MB heap
#: full of holes (tests/test_memory.py's) took 5 ms here.
TRIM_EVERY_S = 10.0


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing keeps free memory this way


_malloc_trim = _find_malloc_trim()
_trimming = threading.Lock()  # held for good once a process's trimming thread started


def trim() -> bool:
    """Hand the allocator's free memory back to the system now; False where the C
    library has no malloc_trim."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)  # ctypes lets go of the GIL for the call
    return True


def trim_periodically(every_s: float = TRIM_EVERY_S) -> None:
    """Trim every `every_s` seconds for the rest of the process's life, on a daemon
    thread of its own (nothing to stop: it ends with the process). Once a process:
    later calls (the CLI's main called again in one process) start nothing."""
    if _malloc_trim is None or not _trimming.acquire(blocking=False):
        return

    def loop() -> None:
        while True:
            time.sleep(every_s)
            trim()
    threading.Thread(target=loop, name="tlsdiff-trim", daemon=True).start()
