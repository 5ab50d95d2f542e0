"""harness/memory.py: a long-lived process hands the C allocator's free memory back."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tlsdiff import memory

# In a thread of its own (so in one of glibc's thread arenas), 40 MB of 4 KB buffers,
# every sixteenth kept: the free memory between them is below the heap's top, where a
# free() never gives it back. The script prints its resident memory before and after.
_FRAGMENT = """
import threading
from tlsdiff import memory
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
kept = []
def work():
    blocks = [bytes(4000) for _ in range(10000)]
    kept.extend(blocks[::16])
worker = threading.Thread(target=work)
worker.start()
worker.join()
before = rss()
print(memory.trim(), before, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; malloc_trim is glibc's")
def test_trim_hands_back_the_free_memory_between_live_buffers() -> None:
    if memory._malloc_trim is None:
        pytest.skip("this C library has no malloc_trim")
    out = subprocess.run([sys.executable, "-c", _FRAGMENT], capture_output=True, text=True, timeout=60, check=True)
    trimmed, before, after = out.stdout.split()
    assert trimmed == "True"
    # 37.5 MB were freed and kept by the allocator; at least most of it goes back.
    assert float(before) - float(after) > 25, out.stdout
