"""The test process's memory bound (memory_guard.py): past it, the process names the
running test, prints its threads' stacks and exits with status 3."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import memory_guard

HERE = Path(__file__).resolve().parent

_GROWS = """
import time, memory_guard
memory_guard.current_test = "tests/test_x.py::test_that_grows"
memory_guard.start()
held = []
for _ in range(40):
    held.append(b"\\x01" * (16 << 20))  # written, so resident
    time.sleep(0.05)
time.sleep(1.5)
print("not stopped")
"""


def _run(limit_mb: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "TLSDIFF_TEST_MAX_RSS_MB": str(limit_mb), "PYTHONPATH": str(HERE)}
    return subprocess.run([sys.executable, "-c", _GROWS], env=env, capture_output=True, text=True, timeout=60)


def test_a_process_past_the_bound_names_the_test_and_its_stacks() -> None:
    proc = _run(200)
    assert proc.returncode == memory_guard.EXIT_STATUS, proc.stderr
    assert "during tests/test_x.py::test_that_grows" in proc.stderr
    assert "more than 200 MB" in proc.stderr
    assert 'File "<string>"' in proc.stderr  # the main thread's stack, at the line that allocates
    assert "not stopped" not in proc.stdout


def test_a_process_under_the_bound_is_left_alone() -> None:
    proc = _run(4096)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "not stopped"


def test_this_process_is_watched_with_room_to_spare() -> None:
    assert 0 < memory_guard.resident_mb() < memory_guard.limit_mb()
    assert any(t.name == "memory-guard" for t in __import__("threading").enumerate())
