"""Values of the command line's flags that several subcommands take (`run`, `fuzz`,
`ticket fuzz`, `bisect`, ...): each a type for argparse that refuses a bad value in
one line, naming the value and what was expected."""
from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Callable

MAX_TIMEOUT_S = 600.0
MIN_TIMEOUT_S = 0.1
MAX_WORKERS = 64
MAX_SEED = 2**63 - 1

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def seconds(text: str) -> float:
    """A timeout: a plain decimal number of seconds, from MIN_TIMEOUT_S to MAX_TIMEOUT_S."""
    try:
        if not _NUMBER.match(text):
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected seconds from {MIN_TIMEOUT_S:g} "
                                         f"to {MAX_TIMEOUT_S:g}")
    return value


def folder(text: str) -> Path:
    """A folder of case files (whether it exists is checked where it is read)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name; expected a folder of case files")
    return Path(text)


def whole(low: int, high: int) -> Callable[[str], int]:
    """A whole number from low to high (a seed, a count, a batch size)."""
    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit():
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not allowed; expected {low} to {high}")
        return value
    return parse


#: How many runs in flight: 1 to MAX_WORKERS.
workers = whole(1, MAX_WORKERS)
#: A random seed (fuzz, ticket fuzz): 0 to MAX_SEED.
seed = whole(0, MAX_SEED)
