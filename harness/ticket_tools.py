"""`tlsdiff ticket`: for people holding a Go session ticket and its server's key.

`inspect` opens a ticket as a release's server would and shows the session inside
as JSON, or says in one line why that server would not open it (and so fall back
to a full handshake). `convert` re-seals a ticket's session as another release's
server would have sealed it, or says exactly why it cannot. Bad input (a key that is not 32 bytes, a ticket that is not
base64 or hex, a release tlsdiff does not know) is one line and exit 2.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Sequence

import gomodel
from gomodel.tickets import TicketError, open_ticket, uses_key_name

from .errors import UserError
from .toolchains import lines

_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


MAX_KEY_FILE = 1024
MAX_TICKET = 1 << 16  # a ticket travels in a u16-length field


def _read_small(path: Path, limit: int, flag: str) -> bytes:
    """At most limit + 1 bytes of a regular file: a pipe or a device could never end."""
    try:
        if not path.is_file():
            raise UserError(f"{flag}: {str(path)!r}: " + ("no such file" if not path.exists()
                                                        else "not a regular file (a pipe, a device or a folder)"))
        with path.open("rb") as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise UserError(f"{flag}: {str(path)!r}: cannot read: {exc.strerror}") from None


def read_key(path: Path, flag: str = "--key") -> bytes:
    """A 32-byte session ticket key from a file: the raw 32 bytes, or 64 hex digits."""
    raw = _read_small(path, MAX_KEY_FILE, flag)
    text = raw.strip()
    if len(raw) == 32:
        return raw
    if len(text) == 64 and _HEX.match(text.decode("ascii", "replace")):
        return bytes.fromhex(text.decode())
    if len(text) == 64:  # the length of a hex key: say which part is wrong
        raise UserError(f"{flag}: {str(path)!r} holds 64 characters that are not all hex digits; expected a "
                        "32-byte session ticket key (32 raw bytes, or 64 hex digits)")
    size = f"{len(raw)}" if len(raw) <= MAX_KEY_FILE else f"more than {MAX_KEY_FILE}"
    raise UserError(f"{flag}: {str(path)!r} holds {size} bytes; expected a 32-byte session ticket key "
                    "(32 raw bytes, or 64 hex digits)")


def read_ticket(text: str, flag: str = "TICKET") -> bytes:
    """A ticket given as hex or base64 (standard or URL-safe, padding optional), or @FILE of
    its raw bytes or of that text (a ticket's random bytes are never all hex or base64 digits)."""
    if text.startswith("@"):
        data = _read_small(Path(text[1:]), MAX_TICKET, flag)
        if len(data) > MAX_TICKET:
            raise UserError(f"{flag}: {text[1:]!r} holds more than {MAX_TICKET} bytes; a ticket is at most 65535")
        if not data:
            raise UserError(f"{flag}: {text[1:]!r} is empty; expected a ticket's bytes, or the ticket as hex or base64")
        try:
            return _from_text(data.decode("ascii").strip()) or data
        except UnicodeDecodeError:
            return data
    stripped = text.strip()
    decoded = _from_text(stripped)
    if decoded is None:
        raise UserError(f"{flag}: not hex or base64 ({len(stripped)} characters); expected a ticket as printed "
                        "by a packet capture or a cache, or @FILE with its bytes")
    return decoded


def _from_text(text: str) -> bytes | None:
    """The bytes of a ticket written as hex or base64; None if the text is neither (or empty)."""
    if not text:
        return None
    if _HEX.match(text):
        return bytes.fromhex(text)
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text
                                or "_" in text else None, validate=True) or None
    except (binascii.Error, ValueError):
        return None


def ticket_source(text: str, flag: str = "TICKET") -> str:
    """How messages about a ticket name it: the file it came from (@FILE), or the argument."""
    return text[1:] if text.startswith("@") else flag


def release_of(text: str, flag: str = "--go") -> str:
    release = lines.canonical(text.strip())
    if release is None:
        raise UserError(f"{flag}: {text[:40]!r} is not a Go release tlsdiff knows; expected one release: a line "
                        "such as 1.24 or an exact release such as 1.24.11")
    return release


def group_id(name: str, flag: str = "--curve") -> int:
    """A group by its Go name, as a curve_id."""
    from tlspeer.groups import GROUP_IDS

    from .scenario.tls_names import GROUPS
    if name not in GROUPS or name not in GROUP_IDS:
        raise UserError(f"{flag}: {name[:40]!r} is not a group; expected one of: {', '.join(GROUP_IDS)}")
    return GROUP_IDS[name]


def check_known(release: str, flag: str = "--go") -> None:
    """A release past the line after the newest any provider offers is a typo, not a layout."""
    from .toolchains import newest_line
    newest = lines.minor_of(newest_line())
    if lines.minor_of(release) > newest + 1:
        raise UserError(f"{flag}: Go {release} does not exist yet (the newest line a provider offers is 1.{newest})")


def checked_release(text: str, flag: str = "--go") -> str:
    """The release a flag names, refused (UserError) if it is no release or past the next line."""
    release = release_of(text, flag)
    check_known(release, flag)
    return release


def unread_note(release: str, flag: str = "--go") -> str | None:
    """What to say when release is past the newest line the model was read from: its
    answer is that line's, a guess the user should know is one."""
    newest = gomodel.READ_THROUGH
    if lines.minor_of(release) <= lines.minor_of(newest):
        return None
    return (f"note: {flag} {release}: tlsdiff's model of Go's tickets was read from sources up to Go {newest}; "
            f"this answer is what {newest} would do")


def inspect(ticket: bytes, keys: Sequence[bytes], release: str,
            shown: str = "TICKET") -> tuple[dict[str, Any], str | None]:
    """(what a release's server reads from the ticket, or None and why it would not open it);
    shown: how the why names the ticket (ticket_source)."""
    try:
        opened = open_ticket(ticket, keys, release)
    except TicketError as exc:
        return {}, f"{shown}: a Go {release} server would not open this ticket: {exc}"
    out: dict[str, Any] = {"release": release, "layout": "1.19/1.20" if uses_key_name(release) else "1.21+",
                           "key_index": opened.key_index, "iv": opened.iv.hex(), "length": len(ticket)}
    if uses_key_name(release):
        try:
            old = gomodel.legacy.decode(opened.plaintext)
        except ValueError as exc:
            return out, (f"{shown}: a Go {release} server opens this ticket but cannot read the session in it ({exc}): "
                         "it falls back to a full handshake")
        out["session"] = _named({"version": old.version, "cipher_suite": old.cipher_suite,
                                 "created_at": old.created_at, "secret_length": len(old.secret),
                                 "certificates": len(old.certificates),
                                 "layout": "1.19/1.20 " + ("sessionStateTLS13" if old.version == gomodel.TLS13
                                                           else "sessionState")})
        return out, None
    parsed = gomodel.parse(opened.plaintext, release)
    if parsed.error is not None:
        return out, (f"{shown}: a Go {release} server opens this ticket but cannot read the session in it "
                     f"({parsed.error}): it falls back to a full handshake")
    out["session"] = _named({**parsed.fields, **gomodel.describe(opened.plaintext)})
    return out, None


def _named(session: dict[str, Any]) -> dict[str, Any]:
    """The session's numbers with their names beside them, as --suite and --curve take them."""
    from tlspeer.groups import GROUP_NAMES
    from tlspeer.suites import suite_name
    names = {"version": lambda v: {0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}.get(v), "cipher_suite": suite_name,
             "curve_id": lambda v: GROUP_NAMES.get(v) if v else None,
             "type": lambda v: {gomodel.SERVER: "server", gomodel.CLIENT: "client"}.get(v)}
    out = dict(session)
    for field, name_of in names.items():
        if isinstance(session.get(field), int) and name_of(session[field]):
            out[f"{field}_name"] = name_of(session[field])
    return out


def render(found: dict[str, Any]) -> str:
    return json.dumps(found, indent=1, sort_keys=True, default=lambda b: b.hex() if isinstance(b, bytes) else str(b))


def convert(ticket: bytes, keys: Sequence[bytes], source: str, target: str, *, curve: int | None = None,
            iv: bytes | None = None, shown: str = "TICKET") -> bytes:
    """The ticket a `target` server would have sealed for the same session as a `source`
    server's ticket, under the first key; UserError saying exactly why when it cannot be.

    1.19/1.20 TLS 1.3 sessions hold the resumption master secret, 1.21+ the PSK derived
    from it with the empty nonce Go servers send; a 1.25+ TLS 1.2 session records the
    ECDHE group, which older ones lack (give `curve`). shown: how errors name the
    ticket (ticket_source)."""
    import os

    from tlspeer.keyschedule import resumption_psk
    from gomodel.tickets import seal
    from tlspeer.suites import SUITE_BY_ID

    try:
        opened = open_ticket(ticket, keys, source)
    except TicketError as exc:
        raise UserError(f"{shown}: a Go {source} server would not open it: {exc}") from None
    if uses_key_name(source):
        try:
            old = gomodel.legacy.decode(opened.plaintext)
        except ValueError as exc:
            raise UserError(f"{shown}: not a Go {source} session: {exc}") from None
        secret = old.secret
        if old.version == gomodel.TLS13:
            suite = SUITE_BY_ID.get(old.cipher_suite)
            if suite is None:
                raise UserError(f"{shown}: cipher suite 0x{old.cipher_suite:04x} is unknown")
            secret = resumption_psk(suite.prf_hash, old.secret, b"")
        session = gomodel.Session(version=old.version, type=gomodel.SERVER, cipher_suite=old.cipher_suite,
                                  created_at=old.created_at, secret=secret, certificates=old.certificates,
                                  certificate_extensions=old.certificate_extensions)
    else:
        try:
            session = gomodel.decode(opened.plaintext, source)
        except ValueError as exc:
            raise UserError(f"{shown}: a Go {source} server cannot read the session in it: {exc}") from None
    if uses_key_name(target):
        raise UserError(f"--to: converting into the 1.19/1.20 layout is not supported (a {target} server keeps the "
                        "resumption master secret, which a 1.21+ session no longer holds)")
    new_tls12 = lines.minor_of(target) >= 25 and session.version < gomodel.TLS13
    if new_tls12 and not session.curve_id:
        if curve is None:
            raise UserError(f"--curve: a Go {target} TLS 1.2 session records its ECDHE group, which this "
                            f"{source} session lacks; name it (e.g. --curve X25519)")
        session = dataclasses.replace(session, curve_id=curve)
    elif curve is not None:  # said and not used would read as done
        tls = "1.3" if session.version == gomodel.TLS13 else "1.2"
        why = (f"the {source} session already records its group" if new_tls12
               else f"a Go {target} TLS {tls} session records none")
        raise UserError(f"--curve: not needed: {why}")
    plaintext = gomodel.encode(session, target)
    if gomodel.parse(plaintext, target).error is not None:  # the model's own check before a ticket goes out
        raise UserError(f"the {target} session this would seal does not parse: {gomodel.parse(plaintext, target).error}")
    return seal(plaintext, keys[0], iv if iv is not None else os.urandom(16), target)


#: A TLS 1.2 master secret's length (RFC 5246 §8.1), which every session Go makes holds.
MASTER_SECRET_BYTES = 48


def mint(keys: Sequence[bytes], release: str, *, tls: str, suite: str | None, secret: bytes, created_at: int,
         curve: int = 0, ems: bool = True, iv: bytes | None = None) -> bytes:
    """A server ticket a `release` server accepts, for a session with this secret (TLS 1.3: the
    PSK on 1.21+, the resumption master secret on 1.19/1.20; TLS 1.2: the master secret).
    suite: None is TLS_AES_128_GCM_SHA256 for TLS 1.3; a TLS 1.2 session's suite must be named
    (it follows the server's certificate). ems: a TLS 1.2 session made with extended master
    secret, as every Go client from 1.21 offers it: a 1.21+ server resumes a session only as
    it was made (RFC 7627 §5.3)."""
    import os

    from gomodel.tickets import seal
    from tlspeer.suites import SUITE_BY_NAME

    if suite is None:
        if tls == "1.2":
            raise UserError("--suite: a TLS 1.2 session's suite follows the server's certificate; name it (e.g. "
                            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, or TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")
        suite = "TLS_AES_128_GCM_SHA256"
    info = SUITE_BY_NAME.get(suite)
    if info is None:
        raise UserError(f"--suite: {suite[:60]!r} is not a cipher suite; expected a Go suite name such as "
                        "TLS_AES_128_GCM_SHA256")
    version = 0x0304 if tls == "1.3" else 0x0303
    if info.tls13 != (tls == "1.3"):
        raise UserError(f"--suite: {suite} is not a TLS {tls} suite")
    want = info.hash_len if tls == "1.3" else MASTER_SECRET_BYTES
    if len(secret) != want:
        what = (f"the {'resumption master secret' if uses_key_name(release) else 'PSK'} of {suite} is as long as "
                f"its hash" if tls == "1.3" else "a TLS 1.2 master secret")
        raise UserError(f"--secret: {len(secret)} bytes; expected {want} ({what})")
    records_curve = version < gomodel.TLS13 and not uses_key_name(release) and lines.minor_of(release) >= 25
    if curve and not records_curve:
        raise UserError(f"--curve: only a 1.25+ TLS 1.2 session records its ECDHE group; a Go {release} TLS {tls} "
                        "session has none")
    if not ems and (version == gomodel.TLS13 or uses_key_name(release)):
        raise UserError(f"--no-ems: only a 1.21+ TLS 1.2 session records extended master secret; a Go {release} "
                        f"TLS {tls} session has none")
    if uses_key_name(release):
        plaintext = gomodel.legacy.encode(gomodel.legacy.LegacySession(version, info.id, created_at, secret))
    else:
        if records_curve and not curve:
            raise UserError(f"--curve: a Go {release} TLS 1.2 session records its ECDHE group; name it "
                            "(e.g. --curve X25519)")
        plaintext = gomodel.encode(gomodel.Session(version=version, type=gomodel.SERVER, cipher_suite=info.id,
                                                   created_at=created_at, secret=secret, curve_id=curve,
                                                   ext_master_secret=ems and version < gomodel.TLS13), release)
    return seal(plaintext, keys[0], iv if iv is not None else os.urandom(16), release)
