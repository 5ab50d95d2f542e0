"""Shared by the tlspeer engine tests: certificates, configs, and an in-process
pump that runs a client engine against a server engine."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsdiff import pki
from tlspeer.certs import Credential, load_roots
from tlspeer.client import ClientConfig, ClientEngine
from tlspeer.errors import TLSError
from tlspeer.events import (ApplicationData, ConnectionInfo, Event, HandshakeComplete,
                            NewTicket)
from tlspeer.hooks import Hooks
from tlspeer.server import ServerConfig, ServerEngine
from tlspeer.session import ClientTicket

NOW = pki.EPOCH.timestamp()
HOST = pki.SERVER_NAME


@lru_cache(maxsize=None)
def roots(name: str = "root-a") -> list[x509.Certificate]:
    return load_roots([pki.root_pem(name)])


@lru_cache(maxsize=None)
def credential(name: str = "server") -> Credential:
    ident = pki.identity(name)
    return Credential.from_pem(ident.chain_pem, ident.key_pem)


def _seeded_key(kind: str) -> Any:
    seed = hashlib.sha256(b"tlspeer-test/" + kind.encode()).digest()
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    if kind == "p384":
        return ec.derive_private_key(int.from_bytes(seed, "big"), ec.SECP384R1())
    if kind == "p256":
        return ec.derive_private_key(int.from_bytes(seed, "big"), ec.SECP256R1())
    return credential("server-rsa").private_key  # the PKI's fixed RSA key: no key generation per run


@lru_cache(maxsize=None)
def leaf_credential(kind: str) -> Credential:
    """A server leaf of key type `kind` (p256, p384, rsa, ed25519) under root-a."""
    key = _seeded_key(kind)
    root_key = ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"tlsdiff-pki/root-a").digest())
    root = roots()[0]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"leaf {kind}")]))
            .issuer_name(root.subject).public_key(key.public_key())
            .serial_number(int.from_bytes(hashlib.sha256(kind.encode()).digest()[:8], "big") >> 1)
            .not_valid_before(pki.EPOCH - dt.timedelta(days=30))
            .not_valid_after(pki.EPOCH + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(root_key, None))
    return Credential([cert.public_bytes(serialization.Encoding.DER)], key)


def client_config(**kw: Any) -> ClientConfig:
    kw.setdefault("server_name", HOST)
    kw.setdefault("roots", roots())
    return ClientConfig(**kw)


def server_config(**kw: Any) -> ServerConfig:
    kw.setdefault("certificate", credential())
    return ServerConfig(**kw)


@dataclass
class Pair:
    """A client and a server engine run against each other in memory."""

    client: ClientEngine
    server: ServerEngine
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)
    client_error: TLSError | None = None
    server_error: TLSError | None = None
    c2s: bytearray = field(default_factory=bytearray)
    s2c: bytearray = field(default_factory=bytearray)
    client_keylog: list[str] = field(default_factory=list)
    server_keylog: list[str] = field(default_factory=list)

    def pump(self) -> "Pair":
        for _ in range(50):
            moved = self._move(self.client, self.server, self.c2s, self.server_events, "server")
            moved |= self._move(self.server, self.client, self.s2c, self.client_events, "client")
            if not moved:
                break
        return self

    def _move(self, src: Any, dst: Any, wire: bytearray, events: list[Event], who: str) -> bool:
        data = src.data_to_send()
        if not data:
            return False
        wire += data
        if dst.error is not None:
            return True
        try:
            events += dst.receive_data(data)
        except TLSError as exc:
            events += getattr(exc, "events", [])
            setattr(self, f"{who}_error", exc)
        return True

    def info(self, role: str) -> ConnectionInfo:
        events = self.client_events if role == "client" else self.server_events
        return next(e.info for e in events if isinstance(e, HandshakeComplete))

    @property
    def tickets(self) -> list[ClientTicket]:
        return [e.ticket for e in self.client_events if isinstance(e, NewTicket)]

    def data(self, role: str) -> bytes:
        events = self.client_events if role == "client" else self.server_events
        return b"".join(e.data for e in events if isinstance(e, ApplicationData))

    def exchange(self, ping: bytes = b"ping", pong: bytes = b"pong") -> "Pair":
        self.client.send_application_data(ping)
        self.pump()
        self.server.send_application_data(pong)
        return self.pump()


def run_pair(ccfg: ClientConfig, scfg: ServerConfig, *, tickets: list[ClientTicket] = (),
             now: float = NOW, client_hooks: Hooks | None = None,
             server_hooks: Hooks | None = None, server_now: float | None = None) -> Pair:
    ckl: list[str] = []
    skl: list[str] = []
    client = ClientEngine(ccfg, tickets=tickets, now=lambda: now, keylog=ckl.append,
                          hooks=client_hooks)
    server = ServerEngine(scfg, now=lambda: server_now if server_now is not None else now,
                          keylog=skl.append, hooks=server_hooks)
    pair = Pair(client, server, client_keylog=ckl, server_keylog=skl)
    client.start()
    return pair.pump()
