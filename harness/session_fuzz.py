"""`tlsdiff ticket fuzz`: differential fuzzing of Go's session parsers.

Seeds are real: each 1.21+ release's peer makes TLS 1.2 and 1.3 connections (with and
without a client certificate) and hands over the client session it persisted
(`SessionState.Bytes`) and the ticket its server sealed; the server session is that
ticket opened. Each blob of a campaign is one seeded mutation of a seed (generic byte
edits, or field-aware ones through the model's own layout); a ticket's mutated session
is sealed again with the model, so the MAC holds and the parser is what is exercised.

Every blob goes, in batches, to every 1.21+ release at once (the `parse_sessions` op:
ParseSessionState or Config.DecryptTicket, then Bytes) and to gomodel. A disagreement
between releases (a real difference, such as 1.25's curve_id) or between a release and
the model (a finding: the model or Go is wrong) is written as one JSON file per group:
kind, mutation, and which releases did what, so a difference is reported once per
mutation kind, not once per blob. `--replay` judges the saved blobs again.
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import gomodel
from gomodel import session_state
from gomodel.tickets import IV_SIZE, decrypt as model_decrypt, open_ticket, seal

from . import arguments, pki
from .compat import SHARED_KEY
from .errors import UserError
from .peers.pool import PeerPool

KINDS = ("session", "ticket")
#: The keys the fuzzed tickets are sealed under: the shared key the seeds' servers use,
#: then a second one, so that a ticket can pass the MAC of a key that is not the first.
OTHER_KEY = hashlib.sha256(b"tlsdiff fuzz second ticket key").digest()
TICKET_KEYS = (SHARED_KEY, OTHER_KEY)
EPOCH = int(pki.EPOCH.timestamp())
DEFAULT_BATCH = 500
FINDING_VERSION = 1

Outcome = dict[str, Any]  # {"bytes": b64} | {"error": text} | {"none": True}, as the peer answers


# ---------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    label: str  # e.g. "tls1.3 client" (a client session), "tls1.2 server client-cert" (a server session)
    kind: str  # "session": blob is a SessionState encoding; "ticket": blob is a sealed ticket
    release: str  # the release whose peer made it
    blob: bytes

    def plaintext(self) -> bytes:
        """The session encoding inside (a ticket opened with the shared key)."""
        return self.blob if self.kind == "session" else _opened(self.blob, self.release)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "release": self.release,
                "blob": base64.b64encode(self.blob).decode()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Seed":
        return cls(d["label"], d["kind"], d["release"], base64.b64decode(d["blob"]))


@functools.lru_cache(maxsize=1024)
def _opened(ticket: bytes, release: str) -> bytes:
    """A seed ticket's plaintext, opened once: every mutation of the seed starts from it."""
    return open_ticket(ticket, TICKET_KEYS, release).plaintext


def fuzzable(pool: PeerPool, releases: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(the releases with the session APIs, {release: why not} for the others)."""
    able, unable = [], {}
    for r in releases:
        if pool.get(r).hello.get("apis", {}).get("session_state"):
            able.append(r)
        else:
            unable[r] = "no ParseSessionState or DecryptTicket (added in Go 1.21)"
    return able, unable


def _connect(peer, name: str, tls: str, client_cert: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One handshake between a server and a client of this peer; the client's exported session."""
    server = pki.identity("server")
    server_cfg: dict[str, Any] = {"certificates": [{"cert_pem": server.chain_pem, "key_pem": server.key_pem}],
                                  "ticket_keys": [k.hex() for k in TICKET_KEYS], "max_version": tls}
    client_cfg: dict[str, Any] = {"server_name": pki.SERVER_NAME, "root_cas": [pki.root_pem("root-a")],
                                  "cache": f"{name}-cache", "max_version": tls}
    if client_cert:
        ident = pki.identity("client")
        server_cfg.update(client_auth="RequireAndVerifyClientCert", client_cas=[pki.root_pem("root-a")])
        client_cfg["certificates"] = [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}]
    peer.call("configure", {"name": f"{name}-s", "role": "server", "config": server_cfg})
    peer.call("configure", {"name": f"{name}-c", "role": "client", "config": client_cfg})
    port = peer.call("listen", {"name": f"{name}-l", "endpoint": f"{name}-s"})["port"]
    accepted = peer.send("accept", {"listener": f"{name}-l", "conn_id": name, "time": EPOCH, "timeout_ms": 5000})
    client = peer.call("connect", {"endpoint": f"{name}-c", "port": port, "conn_id": name, "time": EPOCH,
                                   "timeout_ms": 5000})
    server_side = peer.wait(accepted, 10)
    for side in (client, server_side):
        if side.get("handshake_error"):
            raise RuntimeError(f"seed handshake {name}: {side['handshake_error']}")
    out = peer.call("session", {"action": "export", "cache": f"{name}-cache", "key": pki.SERVER_NAME})
    peer.call("drop", {"prefix": name})
    return out


#: Where a SessionState encoding's secret starts: version u16, type u8, cipher_suite u16,
#: created_at u64, then the secret's u8 length. A TLS 1.3 client session ends with
#: use_by u64 and age_add u32.
SECRET_LENGTH_AT, AGE_ADD_SIZE = 13, 4


def _fixed(connection: str, what: str, n: int) -> bytes:
    return hashlib.shake_256(f"tlsdiff ticket fuzz seed {connection} {what}".encode()).digest(n)


def _fixed_randomness(state: bytes, connection: str) -> bytes:
    """A session encoding with its random parts replaced by bytes named after the
    connection, the same lengths (the parsers read only their lengths): the secret (a
    client's and its server's alike) and a TLS 1.3 client's age_add."""
    n = state[SECRET_LENGTH_AT]
    at = SECRET_LENGTH_AT + 1
    state = state[:at] + _fixed(connection, "secret", n) + state[at + n:]
    if int.from_bytes(state[:2], "big") >= session_state.TLS13 and state[2] == session_state.CLIENT:
        state = state[:-AGE_ADD_SIZE] + _fixed(connection, "age_add", AGE_ADD_SIZE)
    return state


def collect_seeds(pool: PeerPool, releases: Sequence[str]) -> list[Seed]:
    """Real seeds from each release's peer: per TLS version, with and without a client
    certificate, the client session, the sealed ticket, and the server session inside it.

    The random parts of each (the secret, a TLS 1.3 client's age_add, the ticket's IV)
    are replaced by bytes named after its connection, and the ticket sealed again as its
    release sealed it: a campaign mutates and writes the seeds' bytes, and no seed pins
    them (recent releases' key exchange draws its own randomness, and ECDSA signing reads
    a random extra byte of any stream), so the same --seed wrote other blobs each time.
    """
    seeds: list[Seed] = []
    for release in releases:
        peer = pool.get(release)
        for tls in ("1.2", "1.3"):
            for client_cert in (False, True):
                suffix = " client-cert" if client_cert else ""
                name = f"fuzz-seed#{release}#{tls}#{int(client_cert)}"
                out = _connect(peer, name, tls, client_cert)
                state, ticket = base64.b64decode(out["state"]), base64.b64decode(out["ticket"])
                opened = open_ticket(ticket, TICKET_KEYS, release)
                server_state = _fixed_randomness(opened.plaintext, name)
                ticket = seal(server_state, TICKET_KEYS[opened.key_index], _fixed(name, "iv", IV_SIZE), release)
                if not client_cert:  # the client session is the same with a client certificate
                    seeds.append(Seed(f"tls{tls} client", "session", release, _fixed_randomness(state, name)))
                seeds.append(Seed(f"tls{tls} server{suffix}", "ticket", release, ticket))
                seeds.append(Seed(f"tls{tls} server{suffix}", "session", release, server_state))
    return seeds


def known_certificates(seeds: Iterable[Seed]) -> frozenset[bytes]:
    """Every certificate in the seeds: DER a real Go parsed, so crypto/x509 takes it."""
    out: set[bytes] = set()
    for s in seeds:
        session = gomodel.decode(s.plaintext(), s.release)
        out.update(session.certificates)
        out.update(der for chain in session.verified_chains for der in chain)
    return frozenset(out)


# ---------------------------------------------------------------- mutations


def _length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the length prefixes of a SessionState encoding, read leniently:
    as far as the layout holds."""
    out: list[tuple[int, int]] = []
    pos = 13

    def prefix(size: int) -> int:
        nonlocal pos
        if pos + size > len(data):
            raise IndexError
        out.append((pos, size))
        n = int.from_bytes(data[pos:pos + size], "big")
        pos += size
        return n
    try:
        pos += prefix(1)  # secret
        pos += prefix(3)  # extra
        pos += 2  # ext_master_secret, early_data
        end = pos + 3 + prefix(3)  # certificate_list
        while pos < end:
            pos += prefix(3)
            pos += prefix(2)
        end = pos + 3 + prefix(3)  # verified chains
        while pos < end:
            chain_end = pos + 3 + prefix(3)
            while pos < chain_end:
                pos += prefix(3)
    except IndexError:
        pass
    return out


def _flip(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    i = rng.randrange(len(data))
    bit = rng.randrange(8)
    return {"offset": i, "bit": bit}, data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:]


def _set_byte(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    i, b = rng.randrange(len(data)), rng.choice([0, 1, 2, 3, 0x7f, 0x80, 0xff, rng.randrange(256)])
    return {"offset": i, "value": b}, data[:i] + bytes([b]) + data[i + 1:]


def _truncate(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    n = rng.choice([rng.randrange(len(data)), len(data) - rng.randint(1, 14)])
    n = max(0, n)
    return {"length": n}, data[:n]


def _insert(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    i, extra = rng.randrange(len(data) + 1), bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return {"offset": i, "bytes": extra.hex()}, data[:i] + extra + data[i:]


def _remove(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    i, n = rng.randrange(len(data)), rng.randint(1, 4)
    return {"offset": i, "count": n}, data[:i] + data[i + n:]


def _trailing(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    """Bytes appended, or the last ones cut: a curve_id (2), a client's use_by and age_add (12)."""
    if rng.random() < 0.5:
        extra = bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 2, 2, 3, 12])))
        return {"appended": extra.hex()}, data + extra
    n = rng.choice([1, 2, 2, 2, 12])
    return {"cut": n}, data[:-n]


def _length(rng: random.Random, data: bytes) -> tuple[dict[str, Any], bytes]:
    fields = _length_fields(data)
    if not fields:
        return _set_byte(rng, data)
    at, size = rng.choice(fields)
    old = int.from_bytes(data[at:at + size], "big")
    new = rng.choice([0, old - 1, old + 1, old - 2, old + 2, (1 << (8 * size)) - 1]) % (1 << (8 * size))
    return {"offset": at, "size": size, "from": old, "to": new}, data[:at] + new.to_bytes(size, "big") + data[at + size:]


#: Generic mutations: they know nothing of the layout but where its length prefixes are.
GENERIC: dict[str, Callable[[random.Random, bytes], tuple[dict[str, Any], bytes]]] = {
    "flip": _flip, "byte": _set_byte, "truncate": _truncate, "insert": _insert, "remove": _remove,
    "trailing": _trailing, "length": _length,
}

_VERSIONS = (0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x0305, 0x7f1c, 0xffff, 0)
_SUITES = (0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xcca8, 0x0005, 0x0000, 0xffff)
_OCSP, _SCT = 5, 18


def _entry_extensions(rng: random.Random) -> tuple[dict[str, Any], bytes]:
    """A leaf's (or another entry's) extension block: well formed or not, known or not."""
    def ext(t: int, body: bytes) -> bytes:
        return t.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    ocsp = rng.choice([b"\x01\x00\x00\x03abc", b"\x01\x00\x00\x00", b"\x02\x00\x00\x01x", b"\x01\x00\x00\x01xy",
                       b"\x01\x00\x00\x05ab"])
    sct = rng.choice([b"\x00\x05\x00\x03abc", b"\x00\x00", b"\x00\x02\x00\x00", b"\x00\x05\x00\x03abcd",
                      b"\x00\x0a\x00\x03abc\x00\x03def"])
    choices = {"ocsp": ext(_OCSP, ocsp), "sct": ext(_SCT, sct), "unknown": ext(rng.randrange(1, 0xffff), b"zz"),
               "ocsp+sct": ext(_OCSP, ocsp) + ext(_SCT, sct), "two-ocsp": ext(_OCSP, ocsp) * 2,
               "two-sct": ext(_SCT, sct) * 2, "cut": ext(_OCSP, ocsp)[:-1]}
    name = rng.choice(sorted(choices))
    return {"extensions": name}, choices[name]


def _fields(rng: random.Random, session: gomodel.Session) -> tuple[dict[str, Any], gomodel.Session]:
    """One field-aware edit of a parsed session."""
    edits = ["version", "type", "suite", "secret", "extra", "flags", "early_data", "certificates", "empty_cert",
             "chains", "extensions", "curve"]
    what = rng.choice(edits)
    replace = dataclasses.replace
    if what == "version":
        v = rng.choice(_VERSIONS)
        return {"field": what, "to": v}, replace(session, version=v)
    if what == "type":
        t = rng.choice([0, 1, 2, 3, 255])
        return {"field": what, "to": t}, replace(session, type=t)
    if what == "suite":
        s = rng.choice(_SUITES)
        return {"field": what, "to": s}, replace(session, cipher_suite=s)
    if what == "secret":
        n = rng.choice([1, 31, 47, 48, 255])
        return {"field": what, "length": n}, replace(session, secret=bytes(rng.randrange(256) for _ in range(n)))
    if what == "extra":
        extra = tuple(rng.choice([b"", b"x", b"0123456789"]) for _ in range(rng.randint(1, 3)))
        return {"field": what, "entries": len(extra)}, replace(session, extra=extra)
    if what == "flags":
        return {"field": what}, replace(session, ext_master_secret=not session.ext_master_secret)
    if what == "early_data":
        alpn = rng.choice(["", "h2", "http/1.1"])
        return {"field": what, "alpn": alpn}, replace(session, early_data=True, alpn=alpn)
    if what == "certificates":
        return {"field": what, "to": "none"}, replace(session, certificates=(), certificate_extensions=(),
                                                     verified_chains=())
    if what == "empty_cert":
        if not session.certificates:
            return {"field": what, "to": "one empty"}, replace(session, certificates=(b"",), certificate_extensions=())
        i = rng.randrange(len(session.certificates))
        certs = session.certificates[:i] + (b"",) + session.certificates[i + 1:]
        return {"field": what, "index": i}, replace(session, certificates=certs, certificate_extensions=())
    if what == "chains":
        if rng.random() < 0.5 or not session.verified_chains:
            return {"field": what, "to": "empty chain"}, replace(session, verified_chains=((),))
        return {"field": what, "to": "none"}, replace(session, verified_chains=())
    if what == "extensions":
        info, block = _entry_extensions(rng)
        n = len(session.certificates)
        if n == 0:
            return {"field": what, **info, "entry": 0}, replace(session, certificates=(pki_leaf(),),
                                                               certificate_extensions=(block,))
        i = rng.choice([0, 0, n - 1])
        exts = list(session.certificate_extensions or (b"",) * n)
        exts[i] = block
        return {"field": what, **info, "entry": i}, replace(session, certificate_extensions=tuple(exts))
    curve = rng.choice([0, 23, 29, 0x11ec])
    return {"field": "curve", "to": curve}, replace(session, curve_id=curve)


def pki_leaf() -> bytes:
    """The server certificate as DER: a certificate every release parses."""
    from cryptography.hazmat.primitives import serialization
    return pki._cert("server").public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Blob:
    """One mutated blob: what it came from and how."""

    seed: Seed
    mutation: str  # "flip", "length", "field:version", "sealed:flip" (a ticket's own bytes), ...
    detail: dict[str, Any]
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed.to_json(), "mutation": self.mutation, "detail": self.detail,
                "blob": base64.b64encode(self.data).decode()}


def mutate(rng: random.Random, seed: Seed) -> Blob:
    """One seeded mutation of a seed. A ticket is mostly unsealed, mutated and sealed
    again (a valid MAC: the parser is exercised), sometimes mutated as it is."""
    if seed.kind == "ticket" and rng.random() < 0.1:
        name = rng.choice(sorted(GENERIC))
        detail, data = GENERIC[name](rng, seed.blob)
        return Blob(seed, f"sealed:{name}", detail, data)
    plaintext = seed.plaintext()
    if rng.random() < 0.4:
        detail, session = _fields(rng, gomodel.decode(plaintext, seed.release))
        layout = rng.choice(["1.21", "1.25"])  # which release's Bytes() writes it: with a TLS 1.2 curve_id or not
        try:
            data = gomodel.encode(session, layout)
        except ValueError:
            data = plaintext
        name, detail = f"field:{detail.pop('field')}", {**detail, "layout": layout}
    else:
        name = rng.choice(sorted(GENERIC))
        detail, data = GENERIC[name](rng, plaintext)
    if seed.kind == "ticket":
        key = rng.choice([0, 0, 0, 1])
        iv = bytes(rng.randrange(256) for _ in range(16))
        detail = {**detail, "sealed_with_key": key}
        data = seal(data, TICKET_KEYS[key], iv, "1.21")
    return Blob(seed, name, detail, data)


# ---------------------------------------------------------------- judging


def model_outcomes(kind: str, data: bytes, releases: Sequence[str],
                   known: frozenset[bytes]) -> dict[str, tuple[Outcome, bool]]:
    """release -> (the model's outcome, whether an x509 refusal is also possible)."""
    out: dict[str, tuple[Outcome, bool]] = {}
    by_parser: dict[str, tuple[Outcome, bool]] = {}
    for r in releases:
        line = session_state.parser_line(r)
        if line not in by_parser:
            if kind == "session":
                o = gomodel.outcome(data, r, known)
                shown: Outcome = ({"error": o.error} if o.error is not None
                                  else {"bytes": base64.b64encode(o.reencoded or b"").decode()})
                by_parser[line] = (shown, o.x509_pending)
            else:
                d = model_decrypt(data, TICKET_KEYS, r, known)
                by_parser[line] = (({"none": True} if d.reencoded is None
                                    else {"bytes": base64.b64encode(d.reencoded).decode()}), d.maybe_none)
        out[r] = by_parser[line]
    return out


def admits(kind: str, model: tuple[Outcome, bool], peer: Outcome) -> bool:
    """Is what the peer did what the model predicts (or the x509 refusal it leaves open)?"""
    predicted, x509 = model
    if peer == predicted:
        return True
    if not x509:
        return False
    if kind == "ticket":
        return peer == {"none": True}
    return "error" in peer and not peer["error"].startswith("tls: ")


def _category(o: Outcome) -> str:
    return "accepted" if "bytes" in o else "none" if "none" in o else o.get("error", "?")


@dataclass
class Judged:
    blob: Blob
    peers: dict[str, Outcome]
    model: dict[str, tuple[Outcome, bool]]

    @property
    def model_wrong(self) -> list[str]:
        return [r for r, o in self.peers.items() if not admits(self.blob.seed.kind, self.model[r], o)]

    def partition(self) -> list[tuple[list[str], str]]:
        """The releases grouped by what they did (the same outcome, byte for byte), in release order."""
        groups: dict[str, list[str]] = {}
        shown: dict[str, str] = {}
        for r, o in self.peers.items():
            k = json.dumps(o, sort_keys=True)
            groups.setdefault(k, []).append(r)
            shown[k] = _category(o)
        return [(rs, shown[k]) for k, rs in groups.items()]


def judge_batch(pool: PeerPool, releases: Sequence[str], blobs: Sequence[Blob], known: frozenset[bytes],
                timeout: float = 120.0) -> list[Judged]:
    """Every blob (one kind) on every release at once, and by the model while the peers work."""
    if not blobs:
        return []
    kind = blobs[0].seed.kind
    params: dict[str, Any] = {"kind": kind, "blobs": [base64.b64encode(b.data).decode() for b in blobs]}
    if kind == "ticket":
        params["keys"] = [k.hex() for k in TICKET_KEYS]
    futures = {r: pool.get(r).send("parse_sessions", params) for r in releases}
    models = [model_outcomes(kind, b.data, releases, known) for b in blobs]
    answers = {r: pool.get(r).wait(f, timeout)["results"] for r, f in futures.items()}
    for r, a in answers.items():
        if len(a) != len(blobs):
            raise RuntimeError(f"peer {r}: {len(a)} results for {len(blobs)} blobs")
    return [Judged(b, {r: answers[r][i] for r in releases}, models[i]) for i, b in enumerate(blobs)]


# ---------------------------------------------------------------- findings


@dataclass
class Finding:
    """A group of blobs with the same disagreement: what, how often, and the first example."""

    what: str  # "releases": the releases differ; "model": a release differs from the model
    kind: str
    mutation: str
    partition: list[tuple[list[str], str]]  # releases -> what they did; for "model", those the model got wrong
    first: Judged
    count: int = 1
    seeds: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        text = json.dumps([self.what, self.kind, self.mutation, [[_lines(rs), c] for rs, c in self.partition]])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def file_name(self) -> str:
        return f"{self.what}-{self.kind}-{self.mutation.replace(':', '-')}-{self.key}.json"

    def to_json(self) -> dict[str, Any]:
        j = self.first
        return {"tlsdiff_session_fuzz": FINDING_VERSION, "what": self.what, "kind": self.kind,
                "mutation": self.mutation, "count": self.count, "seed_labels": sorted(self.seeds),
                "partition": [{"releases": rs, "outcome": c} for rs, c in self.partition],
                "example": {**j.blob.to_json(),
                            "keys": [k.hex() for k in TICKET_KEYS] if self.kind == "ticket" else [],
                            "peers": j.peers,
                            "model": {r: {**o, **({"or_x509_refusal": True} if x else {})}
                                      for r, (o, x) in j.model.items()}}}


def _lines(releases: Sequence[str]) -> list[str]:
    """Release names without the patch, so that a group is the same group in the next patch release."""
    return [".".join(r.split("+")[0].split(".")[:2]) for r in releases]


def findings_of(judged: Iterable[Judged]) -> dict[str, Finding]:
    """Group the disagreements: one finding per (what, kind, mutation, partition)."""
    out: dict[str, Finding] = {}
    for j in judged:
        candidates = []
        parts = j.partition()
        if len(parts) > 1:
            candidates.append(Finding("releases", j.blob.seed.kind, j.blob.mutation, parts, j))
        wrong = j.model_wrong
        if wrong:
            candidates.append(Finding("model", j.blob.seed.kind, j.blob.mutation,
                                      [(wrong, _category(j.peers[wrong[0]]))], j))
        for f in candidates:
            if f.key in out:
                out[f.key].count += 1
            else:
                out[f.key] = f
            out[f.key].seeds.add(j.blob.seed.label)
    return out


# ---------------------------------------------------------------- campaigns


@dataclass
class Campaign:
    releases: list[str]
    blobs: int
    seconds: float
    findings: dict[str, Finding]
    model_disagreements: int  # blobs on which some release and the model disagree

    def summary(self) -> str:
        rate = self.blobs / self.seconds if self.seconds else 0.0
        diffs = sum(1 for f in self.findings.values() if f.what == "releases")
        return (f"{self.blobs} blobs on {len(self.releases)} releases and the model in {self.seconds:.1f} s "
                f"({rate:.0f} blobs/s): {diffs} groups where releases differ, "
                f"{self.model_disagreements} blobs where the model disagrees with a release")


def run_campaign(pool: PeerPool, releases: Sequence[str], seeds: Sequence[Seed], *, seed: int, count: int,
                 batch: int = DEFAULT_BATCH, kinds: Sequence[str] = KINDS,
                 on_batch: Callable[[int], None] | None = None) -> Campaign:
    """`count` mutations of the seeds, reproducible from `seed` (and the seeds), judged in batches."""
    rng = random.Random(seed)
    known = known_certificates(seeds)
    by_kind = {k: [s for s in seeds if s.kind == k] for k in kinds}
    kinds = [k for k in kinds if by_kind[k]]
    findings: dict[str, Finding] = {}
    wrong = done = 0
    started = time.monotonic()
    while done < count:
        n = min(batch, count - done)
        pending = {k: [] for k in kinds}  # type: dict[str, list[Blob]]
        for _ in range(n):
            k = kinds[rng.randrange(len(kinds))]
            pending[k].append(mutate(rng, by_kind[k][rng.randrange(len(by_kind[k]))]))
        for k in kinds:
            judged = judge_batch(pool, releases, pending[k], known)
            wrong += sum(1 for j in judged if j.model_wrong)
            for key, f in findings_of(judged).items():
                if key in findings:
                    findings[key].count += f.count
                    findings[key].seeds |= f.seeds
                else:
                    findings[key] = f
        done += n
        if on_batch:
            on_batch(done)
    return Campaign(list(releases), count, time.monotonic() - started, findings, wrong)


def write_findings(findings: dict[str, Finding], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in sorted(findings.values(), key=lambda f: f.file_name()):
        p = out / f.file_name()
        p.write_text(json.dumps(f.to_json(), indent=1, sort_keys=True) + "\n")
        paths.append(p)
    return paths


def render(findings: dict[str, Finding]) -> str:
    lines = []
    for f in sorted(findings.values(), key=lambda f: (f.what != "model", f.kind, f.mutation, f.key)):
        parts = "; ".join(f"{_span(rs)}: {c}" for rs, c in f.partition)
        head = "MODEL WRONG" if f.what == "model" else "differ"
        lines.append(f"{head:<11} {f.kind:<7} {f.mutation:<20} x{f.count:<5} {parts}")
    return "\n".join(lines) + ("\n" if lines else "")


def _span(releases: Sequence[str]) -> str:
    names = _lines(releases)
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}" if len(names) > 2 else ",".join(names)


# ---------------------------------------------------------------- replay


@dataclass
class Replayed:
    path: Path
    judged: Judged
    recorded: list[dict[str, Any]]  # the partition the file records

    @property
    def model_wrong(self) -> list[str]:
        return self.judged.model_wrong

    @property
    def releases_differ(self) -> bool:
        return len(self.judged.partition()) > 1


def load_finding(path: Path) -> tuple[Blob, dict[str, Any]]:
    """A saved finding: its blob (with its seed) and the whole file; UserError if it is not one."""
    try:
        doc = json.loads(path.read_text())
        if doc.get("tlsdiff_session_fuzz") != FINDING_VERSION:
            raise ValueError("not a tlsdiff session fuzz finding")
        ex = doc["example"]
        seed = Seed.from_json(ex["seed"])
        if seed.kind not in KINDS:
            raise ValueError(f"kind {seed.kind!r}")
        return Blob(seed, ex["mutation"], ex.get("detail", {}), base64.b64decode(ex["blob"])), doc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"--replay: {str(path)!r}: cannot be read as a finding: {exc}") from None


def finding_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"--replay: {str(folder)!r} is not a folder of findings")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise UserError(f"--replay: {str(folder)!r} holds no finding (*.json)")
    return files


def replay(pool: PeerPool, releases: Sequence[str], files: Sequence[Path]) -> list[Replayed]:
    """Judge each saved blob again on these releases and the model."""
    out = []
    for path in files:
        blob, doc = load_finding(path)
        known = known_certificates([blob.seed])
        judged = judge_batch(pool, releases, [blob], known)[0]
        out.append(Replayed(path, judged, doc.get("partition", [])))
    return out


# ---------------------------------------------------------------- the command


MAX_COUNT = 10_000_000
MAX_BATCH = 100_000  # go-peer's parse_sessions limit


def add_arguments(p: Any) -> None:
    p.add_argument("--go", default="all", help="releases: 'all', '1.21,1.27' (default all; those before 1.21 "
                                               "have no session parser and are left out)")
    p.add_argument("--seed", type=arguments.seed, default=0, help="the random seed of the mutations (default 0)")
    p.add_argument("--count", type=arguments.whole(1, MAX_COUNT), default=10000, help="blobs to judge (default 10000)")
    p.add_argument("--batch", type=arguments.whole(1, MAX_BATCH), default=DEFAULT_BATCH,
                   help=f"blobs per request to each peer (default {DEFAULT_BATCH})")
    p.add_argument("--kind", choices=["session", "ticket", "both"], default="both",
                   help="session encodings (ParseSessionState), sealed tickets (DecryptTicket) or both (default)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write each group of findings here as a JSON file")
    p.add_argument("--replay", type=Path, metavar="DIR", help="judge the findings saved in DIR again, instead of fuzzing")
    p.add_argument("--quiet", "-q", action="store_true", help="only the summary line")


def cli(args: Any) -> int:
    """`tlsdiff ticket fuzz`: 0 the model agreed with every release on every blob, 1 it did
    not (findings written), 2 bad input."""
    import sys

    from . import toolchains
    from .paths import check_cache
    from .runs import Run
    if args.replay is None and args.out is None:
        raise UserError("--out: required: a folder for the findings (or --replay DIR to judge saved ones)")
    if args.replay is not None and args.out is not None:
        raise UserError("--out: not with --replay (a replay writes nothing)")
    if args.out is not None and (args.out.exists() and not args.out.is_dir() or not str(args.out).strip()):
        raise UserError(f"--out: {str(args.out)!r} is not a folder")
    files = finding_files(args.replay) if args.replay is not None else []
    for f in files:
        load_finding(f)  # every file readable before any peer starts
    requested = toolchains.parse_release_list(args.go)
    if requested and all(toolchains.lines.minor_of(r) < 21 for r in requested if r[:2] == "1."):
        raise UserError(f"--go: {args.go[:40]!r} names no release with a session parser; expected 1.21 or newer "
                        "(ParseSessionState and DecryptTicket were added in Go 1.21)")
    check_cache()
    with Run(args.go) as run:
        pool = run.pool
        releases, unable = fuzzable(pool, run.releases.versions)
        for r, why in unable.items():
            print(f"tlsdiff: Go {r}: left out: {why}", file=sys.stderr)
        if not releases:
            raise UserError("--go: no available release has a session parser (Go 1.21 or newer)")
        if args.replay is not None:
            return _replay(pool, releases, files, args.quiet)
        kinds = KINDS if args.kind == "both" else (args.kind,)
        seeds = collect_seeds(pool, releases)
        campaign = run_campaign(pool, releases, seeds, seed=args.seed, count=args.count, batch=args.batch,
                                kinds=kinds)
    written = write_findings(campaign.findings, args.out)
    if not args.quiet:
        print(render(campaign.findings), end="")
    print(campaign.summary())
    print(f"{len(written)} findings written to {args.out}")
    return 1 if campaign.model_disagreements else 0


def _replay(pool: PeerPool, releases: Sequence[str], files: Sequence[Path], quiet: bool) -> int:
    results = replay(pool, releases, files)
    wrong = [r for r in results if r.model_wrong]
    if not quiet:
        for r in results:
            parts = "; ".join(f"{_span(rs)}: {c}" for rs, c in r.judged.partition())
            verdict = f"MODEL WRONG on {', '.join(r.model_wrong)}" if r.model_wrong else "model agrees"
            print(f"{r.path.name}: {verdict}; {parts}")
    print(f"{len(results)} findings replayed on {len(releases)} releases: {len(wrong)} where the model "
          f"disagrees with a release, {sum(r.releases_differ for r in results)} where the releases differ")
    return 1 if wrong else 0
