"""A bound on the test process's memory, so a runaway test ends with its name and stacks.

One CI run was killed by the kernel's OOM killer with pytest at 24 GB, and said
nothing of which test or which line; it did not come back in hundreds of runs. With
this guard a process past the bound prints the test that was running and every
thread's stack, then exits with status 3: the next time it happens, the log says where.
"""
from __future__ import annotations

import faulthandler
import os
import sys
import threading

#: Resident megabytes past which the test process stops itself (TLSDIFF_TEST_MAX_RSS_MB
#: overrides): far above what the suite needs (its peak was 270 MB in a full run), far below
#: the machine.
DEFAULT_MAX_RSS_MB = 4096
INTERVAL_S = 0.5
EXIT_STATUS = 3

current_test = "(between tests)"


def resident_mb() -> float:
    """This process's resident set, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def limit_mb() -> int:
    text = os.environ.get("TLSDIFF_TEST_MAX_RSS_MB", "")
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_MAX_RSS_MB


def _watch(limit: int, stop: threading.Event) -> None:
    while not stop.wait(INTERVAL_S):
        rss = resident_mb()
        if rss > limit:
            sys.stderr.write(f"\ntests: the test process holds {rss:.0f} MB, more than {limit} MB "
                             f"(TLSDIFF_TEST_MAX_RSS_MB), during {current_test}; its threads' stacks:\n")
            sys.stderr.flush()
            faulthandler.dump_traceback(all_threads=True)
            os._exit(EXIT_STATUS)  # the memory would be gone before an orderly exit could finish


def start() -> threading.Event:
    """Start watching; set the returned event to stop."""
    stop = threading.Event()
    threading.Thread(target=_watch, args=(limit_mb(), stop), name="memory-guard", daemon=True).start()
    return stop
