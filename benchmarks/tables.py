"""Plain-text tables for the benchmark scripts' printed figures, and the CPU they ran on."""
from __future__ import annotations

import platform


def cpu_name() -> str:
    """The processor's model name (/proc/cpuinfo), or what platform says elsewhere. Two
    machines of one kind may differ: one session's Go peers took 0.75 ms of CPU a
    handshake where another's took 1.73, for the same code."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(rows: list[list[str]], right: set[int]) -> str:
    """Rows of cells, the first a header; columns in `right` are right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  " + "  ".join(cells).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)
