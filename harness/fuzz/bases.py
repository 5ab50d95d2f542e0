"""The base scenarios a stimulus starts from, as case data (what a case file holds).

A base is one Python endpoint facing the Go release under test: the Python client
against a Go server (`pyclient`), or a Go client against the Python server
(`pyserver`); TLS 1.3 or 1.2; one full handshake, or a full handshake then a
resumption an hour later; in TLS 1.3 with or without a HelloRetryRequest, forced by
the server's curve preferences (a Go server that wants only P-384; a Python server
that wants only P-256, which no Go client sends a key share for first); with or
without a client certificate the server requires; and the Python client offering
Encrypted Client Hello to a Go server that holds the ECH keys (Go 1.24 and newer; older
releases answer `unsupported`). The fuzzer's misbehaviours go on the Python endpoint, in
either role.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..scenario.model import Role

PYCLIENT, PYSERVER = "pyclient", "pyserver"


@dataclass(frozen=True)
class Base:
    python: str  # PYCLIENT or PYSERVER: which side the Python peer takes
    tls: str  # "1.3" or "1.2"
    resume: bool = False  # a second connection at +1h, resuming the first one's session
    hrr: bool = False  # TLS 1.3: the server's curve preferences force a HelloRetryRequest
    client_auth: bool = False  # the server requires and verifies a client certificate
    ech: bool = False  # the Python client offers ECH (TLS 1.3, Python client only)

    @property
    def role(self) -> Role:
        """The role the Python endpoint (and so its misbehaviours) takes."""
        return Role.CLIENT if self.python == PYCLIENT else Role.SERVER

    @property
    def name(self) -> str:
        parts = [self.python, "tls" + self.tls.replace(".", "")]
        parts += [p for p, on in (("ech", self.ech), ("hrr", self.hrr), ("auth", self.client_auth),
                                  ("resume", self.resume)) if on]
        return "-".join(parts)

    @property
    def connections(self) -> int:
        return 2 if self.resume else 1

    def describe(self) -> str:
        who = "the Python client and a Go server" if self.python == PYCLIENT else "a Go client and the Python server"
        extra = [w for w, on in (("Encrypted Client Hello", self.ech), ("a HelloRetryRequest", self.hrr),
                                 ("a client certificate", self.client_auth)) if on]
        what = "a full handshake, then a resumption an hour later" if self.resume else "a full handshake"
        return f"TLS {self.tls}, {who}: {what}" + (f", with {' and '.join(extra)}" if extra else "")

    def simpler(self) -> list["Base"]:
        """The bases with one feature fewer (for the minimizer), the cheapest first."""
        out = []
        for feature in ("resume", "ech", "hrr", "client_auth"):
            if getattr(self, feature):
                out.append(dataclasses.replace(self, **{feature: False}))
        return out

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Base":
        return cls(**d)

    def case_data(self, misbehave: dict[str, Any]) -> dict[str, Any]:
        """The endpoints and steps of a case file for this base with these misbehaviours
        on the Python endpoint (description, source and tags are the caller's)."""
        python: dict[str, Any] = {"peer": "python"}
        go: dict[str, Any] = {}
        server, client = (go, python) if self.python == PYCLIENT else (python, go)
        if self.tls == "1.2":
            go["max_version"] = "1.2"  # the Python side offers both; the Go side holds it to 1.2
        if self.hrr:
            server["curve_preferences"] = ["P384"] if self.python == PYCLIENT else ["P256"]
        if self.client_auth:
            server["client_auth"] = "RequireAndVerifyClientCert"
            client["certificate"] = "client"
        if self.ech:
            server.update(certificate="server-ech", ech_keys=["ech-a"])
            client["ech_config_list"] = ["ech-a"]
        if self.resume:
            client["cache"] = "main"
            if server is go:
                server["ticket_keys"] = ["k1"]  # a ticket any restart of the peer still opens
        if misbehave:
            python["misbehave"] = misbehave
        steps: list[dict[str, Any]] = [{"connect": {"client": "c", "server": "s"}}]
        if self.resume:
            steps.append({"connect": {"client": "c", "server": "s", "at": "+1h"}})
        return {"servers": {"s": server}, "clients": {"c": client}, "steps": steps}


def all_bases() -> list[Base]:
    """Every base: per role and version, the single-connection ones, then those that resume."""
    out = []
    for python in (PYCLIENT, PYSERVER):
        for tls in ("1.3", "1.2"):
            for resume in (False, True):
                for hrr in ((False, True) if tls == "1.3" else (False,)):
                    for auth in (False, True):
                        out.append(Base(python, tls, resume, hrr, auth))
                if python == PYCLIENT and tls == "1.3":
                    out += [Base(python, tls, resume, ech=True), Base(python, tls, resume, hrr=True, ech=True)]
    return out
