"""The TLS 1.2 half of the server (RFC 5246, RFC 8422 ECDHE, RFC 7627, RFC 5077).

`ServerEngine` reads the ClientHello and picks the version; for TLS 1.2
`Server12` (a mixin of the engine) runs the rest:

    full:    ServerHello Certificate ServerKeyExchange [CertificateRequest]
             ServerHelloDone  <-  [Certificate] ClientKeyExchange [CertificateVerify]
             CCS Finished  ->  [NewSessionTicket] CCS Finished
             (RSA key exchange: no ServerKeyExchange; the ClientKeyExchange carries
             the premaster secret encrypted to our key, `rsakex`)
    resumed: ServerHello [NewSessionTicket] CCS Finished  <-  CCS Finished

Go's `handshake_server.go` is the model: server preference for suites and
groups, the client's preference for the ServerKeyExchange signature, Go's
`checkForResumption` rules (suite still offered and allowed, client
certificates, EMS: a session without it is not resumed by a client offering it,
one with it by a client not offering it fails the handshake with no alert),
and a new ticket on every handshake when the client asks for tickets (as Go
1.21+), keeping the session's creation time. Unlike Go, it also resumes by
session ID (`ServerConfig.session_id_store`).
"""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from . import extensions as ext
from . import groups, rsakex, sigschemes, tls12
from . import messages as m
from . import messages12 as m12
from .certs import parse_chain, verify_chain
from .errors import (DecodeError, DecryptError, HandshakeFailure, IllegalParameter, InternalError,
                     SilentFailure, TLSError, UnexpectedMessage)
from .events import ConnectionInfo
from .keyschedule import extended_master_secret12, finished_verify_data12, master_secret12
from .session import ServerSession12
from .suites import SUITE_BY_ID, CipherSuite

_SCSV_RENEGOTIATION = 0x00FF
_REQUIRE = ("RequireAnyClientCert", "RequireAndVerifyClientCert")
_VERIFY = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")


class Server12:
    """TLS 1.2 states of ServerEngine; its state names start with "12_"."""

    config: Any

    def _on_client_hello12(self, ch: m.ClientHello, raw: bytes) -> None:
        cfg = self.config
        self._ch1, self.client_random = ch, ch.random
        if 0 not in ch.compression_methods:
            raise IllegalParameter("tls: client does not support uncompressed connections")
        if ch.duplicate_types():
            raise IllegalParameter("tls: client sent duplicate extensions")
        reneg = ch.find(ext.RenegotiationInfo)
        if reneg is not None and reneg.renegotiated_connection:
            raise HandshakeFailure("tls: initial handshake had non-empty renegotiation extension")
        sni = ch.find(ext.ServerName)
        self._server_name = sni.host_name if sni is not None else None
        self._alpn = self._select_alpn(ch)
        self.extended_master_secret = (cfg.extended_master_secret and not cfg.misbehaviour.omit_ems
                                       and ch.has(ext.EXT_EXTENDED_MASTER_SECRET))
        self._cred_key = cfg.certificate.private_key or cfg.certificate.public_key()
        self._mutual_groups = self._groups12(ch)
        ticket = ch.find(ext.SessionTicket)
        self._issue_ticket = cfg.ticket_store is not None and (
            ticket is not None or cfg.misbehaviour.unrequested_ticket)
        session = self._resumable12(ch, ticket)
        downgrade = m.TLS13 in cfg.versions
        self.server_random = (self.rand(24) + tls12.DOWNGRADE_TLS12) if downgrade else self.rand(32)
        self._session12 = session
        if session is not None:
            self._resume12(ch, raw, session)
        else:
            self._full12(ch, raw)

    def _groups12(self, ch: m.ClientHello) -> list[int]:
        supported = ch.find(ext.SupportedGroups)
        points = ch.find(ext.EcPointFormats)
        if points is not None and 0 not in points.formats:
            return []  # Go: only uncompressed points
        offered = supported.groups if supported is not None else []
        return [g for g in self.config.usable_groups if g in tls12.ECDHE_GROUPS and g in offered]

    def _suite_ok12(self, suite_id: int, ch: m.ClientHello) -> CipherSuite | None:
        """The suite, if we allow it, the client offers it, our key signs (or, for RSA
        key exchange, decrypts) for it and ECDHE has a group (Go's cipherSuiteOk)."""
        suite = tls12.tls12_suite(suite_id)
        if (suite is None or suite_id not in self.config.suite_ids or suite_id not in ch.cipher_suites
                or not tls12.suite_fits_key(suite, self._cred_key)):
            return None
        if not tls12.rsa_key_exchange(suite) and not self._mutual_groups:
            return None
        return suite

    def _resumable12(self, ch: m.ClientHello, ticket: ext.SessionTicket | None) -> ServerSession12 | None:
        """The session the client offers (ticket first, then session ID), if Go's
        checkForResumption would resume it."""
        cfg, now = self.config, self.now()
        session = None
        if ticket is not None and ticket.ticket and cfg.ticket_store is not None:
            session = cfg.ticket_store.open(ticket.ticket, now)
        if not isinstance(session, ServerSession12) and ch.session_id and cfg.session_id_store is not None:
            session = cfg.session_id_store.get(ch.session_id, now)
        if not isinstance(session, ServerSession12) or session.version != m.TLS12:
            return None
        if self._suite_ok12(session.cipher_suite, ch) is None:
            return None
        has_certs, auth = bool(session.peer_chain), cfg.client_auth
        if auth in _REQUIRE and not has_certs:
            return None
        if has_certs and auth == "NoClientCert":
            return None
        if has_certs:
            leaf = parse_chain(session.peer_chain)[0]
            if now > leaf.not_valid_after_utc.timestamp():
                return None
            if auth in _VERIFY and not session.verified:
                return None
        if session.extended_master_secret and not ch.has(ext.EXT_EXTENDED_MASTER_SECRET):
            # RFC 7627 §5.3 says abort; Go does so without an alert.
            raise SilentFailure("tls: session supported extended_master_secret but client does not")
        if session.extended_master_secret != self.extended_master_secret:
            return None  # this handshake would use EMS and the session did not, or the reverse
        return session

    # ------------------------------------------------------------------
    # The server's first flight
    # ------------------------------------------------------------------

    def _server_hello12(self, ch: m.ClientHello, session_id: bytes, full: bool) -> None:
        exts: list[ext.Extension] = []
        if full and ch.has(ext.EXT_SERVER_NAME):
            exts.append(ext.ServerNameAck())
        if ch.has(ext.EXT_RENEGOTIATION_INFO) or _SCSV_RENEGOTIATION in ch.cipher_suites:
            exts.append(ext.RenegotiationInfo(b""))
        if self.extended_master_secret:
            exts.append(ext.ExtendedMasterSecret())
        if ch.has(ext.EXT_EC_POINT_FORMATS):
            exts.append(ext.EcPointFormats([0]))
        if self._issue_ticket:
            exts.append(ext.SessionTicket(b""))
        if self._alpn is not None:
            exts.append(ext.ALPN([self._alpn.encode()]))
        self._write_handshake("server_hello", m.ServerHello(
            self.server_random, session_id, self._suite.id, exts or None))

    def _start12(self, suite: CipherSuite, raw: bytes) -> None:
        self.suite = suite
        self.transcript.set_hash(suite.prf_hash)
        self.transcript.add(raw)

    def _resume12(self, ch: m.ClientHello, raw: bytes, session: ServerSession12) -> None:
        suite = SUITE_BY_ID[session.cipher_suite]
        if self.config.misbehaviour.resume_other_suite:
            other = next((s for s in self.config.suite_ids
                          if s != suite.id and self._suite_ok12(s, ch) is not None), None)
            suite = SUITE_BY_ID[other] if other is not None else suite
        self._start12(suite, raw)
        self.master_secret = session.master_secret
        self.extended_master_secret = session.extended_master_secret
        self._peer_chain, self._verified, self._group = list(session.peer_chain), session.verified, session.group
        self._issue_ticket = self._issue_ticket and session.renew
        self._server_hello12(ch, ch.session_id, full=False)
        self.keylog("CLIENT_RANDOM", self.master_secret)
        self._keys12 = tls12.protections(suite, self.master_secret, self.client_random,
                                         self.server_random, self.rand)
        if self._issue_ticket:
            self._send_ticket12(session.created_at)
        self._server_finished12 = self._send_finished12()
        self._state = "12_ccs"

    def _full12(self, ch: m.ClientHello, raw: bytes) -> None:
        cfg, mis = self.config, self.config.misbehaviour
        suite = next((s for s in (self._suite_ok12(i, ch) for i in cfg.suite_ids) if s), None)
        if suite is None:
            raise HandshakeFailure("tls: no cipher suite supported by both client and server")
        rsa_kex = tls12.rsa_key_exchange(suite)
        if not rsa_kex:  # only ECDHE signs anything (Go: generateServerKeyExchange)
            sigalgs = ch.find(ext.SignatureAlgorithms)
            self._scheme = tls12.select_scheme(sigalgs.schemes if sigalgs else None, self._cred_key)
            if self._scheme is None:
                raise HandshakeFailure("tls: peer doesn't support any of the certificate's signature algorithms")
        self._start12(suite, raw)
        if mis.echo_session_id:
            session_id = ch.session_id
        else:
            session_id = self.rand(32) if cfg.session_id_store is not None else b""
        self._session_id12 = session_id if not mis.echo_session_id else b""
        self._server_hello12(ch, session_id, full=True)
        cred = cfg.certificate
        self._write_handshake("certificate", m12.Certificate12(list(cred.chain)))
        if rsa_kex:
            self._group = None
        else:
            self._group = self._mutual_groups[0]
            self._share12 = groups.generate(self._group, self.rand)
            ske = m12.ServerKeyExchange(self._group, self._share12.public, self._scheme)
            ske.signature = tls12.sign(cred, self._scheme,
                                       self.client_random + self.server_random + ske.params())
            self._write_handshake("server_key_exchange", ske)
        self._cert_request12 = None
        if cfg.client_auth != "NoClientCert":
            cr = m12.CertificateRequest12(
                schemes=list(sigschemes.DEFAULT_SCHEMES),
                authorities=[r.subject.public_bytes() for r in cfg.client_roots])
            self._write_handshake("certificate_request", cr)
            self._cert_request12 = cr
        self._write_handshake("server_hello_done", m12.ServerHelloDone())
        self._state = "12_cert" if self._cert_request12 is not None else "12_cke"

    # ------------------------------------------------------------------
    # The client's flight
    # ------------------------------------------------------------------

    def _handle12(self, msg_type: int, body: bytes, raw: bytes) -> None:
        state = self._state
        if state == "connected":
            raise TLSError("tls: renegotiation is not supported", alert=100)
        expected = {"12_cert": m.CERTIFICATE, "12_cke": m12.CLIENT_KEY_EXCHANGE,
                    "12_cv": m.CERTIFICATE_VERIFY, "12_finished": m.FINISHED}.get(state)
        if msg_type != expected:
            raise UnexpectedMessage(f"tls: unexpected handshake message type {msg_type} "
                                    f"in state {state}")
        if msg_type == m.CERTIFICATE:
            self._on_certificate12(m12.Certificate12.decode(body), raw)
        elif msg_type == m12.CLIENT_KEY_EXCHANGE:
            self._on_client_key_exchange(body, raw)
        elif msg_type == m.CERTIFICATE_VERIFY:
            self._on_certificate_verify12(m.CertificateVerify.decode(body), raw)
        else:
            self._on_finished12(m.Finished.decode(body), raw)

    def _on_ccs12(self) -> None:
        if self._state != "12_ccs":
            raise UnexpectedMessage("tls: unexpected ChangeCipherSpec")
        self._read = self._keys12[0]
        self._state = "12_finished"

    def _on_certificate12(self, cert: m12.Certificate12, raw: bytes) -> None:
        auth = self.config.client_auth
        if not cert.chain and auth in _REQUIRE:
            raise HandshakeFailure("tls: client didn't provide a certificate")
        if cert.chain:
            parsed = parse_chain(cert.chain)
            if auth in _VERIFY:
                verify_chain(cert.chain, self.config.client_roots, self.now(), None, "client")
                self._verified = True
            self._peer_chain, self._peer_key = list(cert.chain), parsed[0].public_key()
        self.transcript.add(raw)
        self._state = "12_cke"

    def _on_client_key_exchange(self, body: bytes, raw: bytes) -> None:
        if tls12.rsa_key_exchange(self._suite):
            premaster = self._rsa_premaster(body)
        else:
            premaster = self._share12.shared_secret(m12.ClientKeyExchange.decode(body).public)
        self.transcript.add(raw)
        h = self._suite.prf_hash
        if self.extended_master_secret:
            self.master_secret = extended_master_secret12(h, premaster, self.transcript.digest())
        else:
            self.master_secret = master_secret12(h, premaster, self.client_random, self.server_random)
        self.keylog("CLIENT_RANDOM", self.master_secret)
        self._keys12 = tls12.protections(self._suite, self.master_secret, self.client_random,
                                         self.server_random, self.rand)
        self._state = "12_cv" if self._peer_chain else "12_ccs"

    def _rsa_premaster(self, body: bytes) -> bytes:
        """Go's rsaKeyAgreement.processClientKeyExchange: a bad length or a ciphertext
        RSA cannot decrypt fails the handshake (illegal_parameter, as Go 1.24+;
        handshake_failure before); a bad block becomes a random premaster secret."""
        try:
            ciphertext = m12.EncryptedPreMasterSecret.decode(body).ciphertext
        except DecodeError:
            raise IllegalParameter("tls: invalid ClientKeyExchange message") from None
        fallback = self.rand(rsakex.PREMASTER_LEN)  # drawn first, as Go draws it from Config.Rand
        key = self.config.certificate.private_key
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InternalError("tls: certificate private key does not implement crypto.Decrypter")
        try:
            return rsakex.decrypt_premaster(key, ciphertext, fallback)
        except rsakex.DecryptionError as exc:
            raise IllegalParameter(str(exc)) from None

    def _on_certificate_verify12(self, cv: m.CertificateVerify, raw: bytes) -> None:
        if cv.scheme not in self._cert_request12.schemes:
            raise IllegalParameter("tls: client certificate used with invalid signature algorithm")
        if not tls12.verify(self._peer_key, cv.scheme, b"".join(self.transcript.messages), cv.signature):
            raise DecryptError("tls: invalid signature by the client certificate: "
                               + _verification_failure(self._peer_key))
        self._peer_scheme = cv.scheme
        self.transcript.add(raw)
        self._state = "12_ccs"

    def _on_finished12(self, fin: m.Finished, raw: bytes) -> None:
        expected = finished_verify_data12(self._suite.prf_hash, self.master_secret, True,
                                          self.transcript.digest())
        if fin.verify_data != expected:
            raise HandshakeFailure("tls: client's Finished message is incorrect")
        self.transcript.add(raw)
        resumed = self._session12 is not None
        if resumed:
            unique = self._server_finished12 if self.extended_master_secret else b""
        else:
            unique = fin.verify_data
            if self._issue_ticket:
                self._send_ticket12(self.now())
            self._send_finished12()
            if self._session_id12:
                self.config.session_id_store.add(self._session_id12, self._new_session12(self.now()))
        self._state = "connected"
        self._finish_handshake(self._connection_info12(unique))

    # ------------------------------------------------------------------
    # Our Finished and tickets
    # ------------------------------------------------------------------

    def _send_finished12(self) -> bytes:
        self._send_ccs12(self._keys12[1])
        verify = finished_verify_data12(self._suite.prf_hash, self.master_secret, False,
                                        self.transcript.digest())
        self._write_handshake("finished", m.Finished(verify))
        self._flush()
        return verify

    def _new_session12(self, created_at: float) -> ServerSession12:
        return ServerSession12(
            master_secret=self.master_secret, cipher_suite=self._suite.id,
            extended_master_secret=self.extended_master_secret, created_at=created_at,
            peer_chain=list(self._peer_chain), verified=self._verified, group=self._group,
            alpn=self._alpn)

    def _send_ticket12(self, created_at: float) -> None:
        """RFC 5077 §3.3: a label for a session kept in the ticket store. A
        resumption's new ticket keeps the session's creation time (as Go)."""
        cfg = self.config
        nst = m.NewSessionTicketTLS12(cfg.ticket_lifetime, self.rand(cfg.ticket_length))
        if self.hooks.mutate is not None:
            nst = self.hooks.mutate("new_session_ticket", nst)
        nst.ticket = cfg.ticket_store.issue(self._new_session12(created_at), nst.ticket)
        self._queue_handshake("new_session_ticket", nst.encode())

    def _connection_info12(self, tls_unique: bytes) -> ConnectionInfo:
        return ConnectionInfo(
            role="server", version=m.TLS12, cipher_suite=self._suite.id, group=self._group,
            resumed=self._session12 is not None, hello_retry_request=False, alpn=self._alpn,
            server_name=self._server_name, peer_chain=list(self._peer_chain),
            verified=self._verified, signature_scheme=self._peer_scheme,
            client_random=self.client_random, session_id=self._ch1.session_id,
            extended_master_secret=self.extended_master_secret, tls_unique=tls_unique)


def _verification_failure(key: Any) -> str:
    """The error Go's verifyHandshakeSignature gives, by key type."""
    if isinstance(key, rsa.RSAPublicKey):
        return "crypto/rsa: verification error"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519 verification failure"
    return "ECDSA verification failure"

