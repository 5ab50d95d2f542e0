"""Progress lines while tlsdiff prepares: what it fetches and builds, and a
reminder every few seconds while something long is under way, so a cold run is
never silent. Lines go to the `tlsdiff.progress` logger; the CLI prints them on
stderr, a library user sees them only if it configures logging."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger("tlsdiff.progress")
_lock = threading.Lock()
_busy: dict[int, tuple[str, float]] = {}
_ids = iter(range(1, 1 << 62))


@contextmanager
def busy(what: str) -> Iterator[None]:
    """Say what starts, register it for reminders, say how long it took."""
    started = time.monotonic()
    with _lock:
        token = next(_ids)
        _busy[token] = (what, started)
    log.info("%s ...", what)
    ok = False
    try:
        yield
        ok = True
    finally:
        with _lock:
            _busy.pop(token, None)
        log.info("%s: %s in %.0f s", what, "done" if ok else "failed", time.monotonic() - started)


def in_flight() -> list[str]:
    now = time.monotonic()
    with _lock:
        return [f"{what} ({now - since:.0f} s)" for what, since in _busy.values()]


class Reminder:
    """While open, every `every` seconds, one line naming what is still under way."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            busy_now = in_flight()
            if busy_now:
                log.info("still working: %s", "; ".join(busy_now))

    def __enter__(self) -> "Reminder":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
