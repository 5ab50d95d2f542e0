"""NSS key log files (the SSLKEYLOGFILE format Go's Config.KeyLogWriter writes).

Each line is `LABEL <client_random hex> <secret hex>`; `#` starts a comment line.
The result maps the 32-byte client random to {label: secret}.
"""
from __future__ import annotations

import re

CLIENT_RANDOM = "CLIENT_RANDOM"  # TLS 1.2 (and earlier) master secret
CLIENT_EARLY_TRAFFIC_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET"
CLIENT_HANDSHAKE_TRAFFIC_SECRET = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0 = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0 = "SERVER_TRAFFIC_SECRET_0"
EXPORTER_SECRET = "EXPORTER_SECRET"

RSA = "RSA"  # premaster secret keyed by the encrypted premaster's first 8 bytes

KNOWN_LABELS: tuple[str, ...] = (
    CLIENT_RANDOM,
    CLIENT_EARLY_TRAFFIC_SECRET,
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_TRAFFIC_SECRET_0,
    EXPORTER_SECRET,
)

KeyLog = dict[bytes, dict[str, bytes]]

# Other tools write more labels (EARLY_EXPORTER_SECRET, ECH_SECRET, ...); they are
# kept as long as they look like labels, so a key log from any source still parses.
_LABEL = re.compile(r"[A-Z][A-Z0-9_]*")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class KeyLogError(ValueError):
    """A key log line that does not parse. `line_no` is 1-based."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"key log line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason


def _parse_line(line_no: int, line: str) -> tuple[str, bytes, bytes]:
    fields = line.split()
    if len(fields) != 3:
        raise KeyLogError(line_no, f"expected 3 fields (LABEL client_random secret), got {len(fields)}")
    label, random_hex, secret_hex = fields
    if not _LABEL.fullmatch(label):
        raise KeyLogError(line_no, f"bad label {label!r}")
    if label == RSA:
        # `RSA <first 8 bytes of the encrypted premaster> <premaster>` (OpenSSL
        # writes it for RSA key exchange); keyed by no client random.
        if not _HEX.fullmatch(random_hex) or len(random_hex) != 16:
            raise KeyLogError(line_no, "RSA line: encrypted premaster prefix is not 8 bytes of hex")
    elif not _HEX.fullmatch(random_hex) or len(random_hex) != 64:
        raise KeyLogError(line_no, "client random is not 32 bytes of hex")
    if not _HEX.fullmatch(secret_hex):
        raise KeyLogError(line_no, "secret is not hex")
    return label, bytes.fromhex(random_hex), bytes.fromhex(secret_hex)


def parse_keylog(text: str, strict: bool = True) -> KeyLog:
    """Parse key log text. Blank lines and `#` comments are skipped. A malformed line
    raises KeyLogError naming it, unless strict is False, when it is skipped. `RSA`
    lines are checked but not returned: they are not keyed by a client random. When a
    label repeats for one client random, the last line wins (as a reader of an
    appended file would see it)."""
    out: KeyLog = {}
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            label, client_random, secret = _parse_line(line_no, line)
        except KeyLogError:
            if strict:
                raise
            continue
        if label == RSA:
            continue  # the CLIENT_RANDOM line written with it is what decryption needs
        out.setdefault(client_random, {})[label] = secret
    return out


def union(*texts: str) -> str:
    """Key log texts as one: each non-blank line once, in the order first met. A later
    text's line for a label an earlier one also logged comes after it, so it is the one
    parse_keylog keeps."""
    lines: dict[str, None] = {}
    for text in texts:
        lines.update((line, None) for line in text.splitlines() if line.strip())
    return "".join(line + "\n" for line in lines)


def master_secret_lines(*texts: str) -> str:
    """The CLIENT_RANDOM lines (TLS 1.2 master secrets) of key log texts, each once, as
    union gives them: what a later connection that resumes a session may need, since Go
    logs none for a resumed TLS 1.2 connection (wire.decode_connection's `earlier`)."""
    return "".join(line + "\n" for line in union(*texts).splitlines() if line.startswith(f"{CLIENT_RANDOM} "))


def format_keylog(entries: KeyLog) -> str:
    """Write entries back in NSS format (used by tests and by the Python peer)."""
    lines = []
    for client_random, secrets in entries.items():
        for label, secret in secrets.items():
            lines.append(f"{label} {client_random.hex()} {secret.hex()}")
    return "\n".join(lines) + ("\n" if lines else "")
