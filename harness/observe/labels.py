"""Named masks: values that differ on every run get stable names instead.

A ticket hash becomes T1, T2, ... in order of first appearance within one case
run; exporter outputs become EKM1, ...; tls-unique values U1, ... The same value
gets the same name on both sides of a connection, so equality is still visible.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import pki

# Cache keys fall back to the server address when ServerName is empty.
_ADDR = re.compile(r"^127\.0\.0\.1:[0-9]+$")
# Go's network errors name both ends ("read tcp 127.0.0.1:41267->127.0.0.1:49546: i/o timeout").
_ADDR_IN_TEXT = re.compile(r"\b127\.0\.0\.1:[0-9]+\b")


@dataclass
class Labeler:
    _names: dict[tuple[str, str], str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def name(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._names:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._names[key] = f"{kind}{self._counts[kind]}"
        return self._names[key]


def cert_name(fingerprint: str) -> str:
    """A certificate's PKI name, or its fingerprint if it is not one of ours."""
    return pki.fingerprint_names().get(fingerprint, fingerprint)


def cache_key(key: str) -> str:
    return "127.0.0.1:<port>" if _ADDR.match(key) else key


def error_text(text: str | None) -> str | None:
    """An error with the connection's ports masked: they differ on every run."""
    return _ADDR_IN_TEXT.sub("127.0.0.1:<port>", text) if text and "127.0.0.1:" in text else text
