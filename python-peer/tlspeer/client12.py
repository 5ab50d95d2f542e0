"""The TLS 1.2 half of the client (RFC 5246, RFC 8422 ECDHE, RFC 7627, RFC 5077).

`ClientEngine` sends one ClientHello for every version it offers; when the
ServerHello says TLS 1.2, `Client12` (a mixin of the engine) runs the rest:

    full:    ServerHello Certificate ServerKeyExchange [CertificateRequest]
             ServerHelloDone  ->  [Certificate] ClientKeyExchange [CertificateVerify]
             CCS Finished  ->  [NewSessionTicket] CCS Finished
             (RSA key exchange: no ServerKeyExchange; the ClientKeyExchange carries
             the premaster secret encrypted to the server's key, `rsakex`)
    resumed: ServerHello [NewSessionTicket] CCS Finished  ->  CCS Finished

Go (`handshake_client.go`) is the model for every check and error string: the
downgrade sentinels, "server echoed TLS 1.3 compatibility session ID in TLS
1.2", "server sent unrequested session ticket", resumption detected by the
echo of our session ID and refused with a different suite or EMS flag.
"""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from . import extensions as ext
from . import groups, rsakex, tls12
from . import messages as m
from . import messages12 as m12
from .certs import parse_chain, verify_chain
from .errors import (HandshakeFailure, IllegalParameter, InternalError, UnexpectedMessage,
                     UnsupportedExtension)
from .events import ConnectionInfo, NewSession12
from .keyschedule import extended_master_secret12, finished_verify_data12, master_secret12
from .record import ALERT
from .session import ClientSession12

_WRONG_PREMASTER_VERSION = 0x0301  # corrupt_premaster "version": TLS 1.0's, not the hello's


class Client12:
    """TLS 1.2 states of ClientEngine. Uses the engine's config, transcript,
    rand/now/keylog and record layer; its own state names start with "12_"."""

    # Set by ClientEngine.__init__ / start(); declared for readers.
    config: Any
    _session12: ClientSession12 | None
    _ch_sent: m.ClientHello

    def _on_server_hello12(self, sh: m.ServerHello, raw: bytes) -> None:
        cfg, hello = self.config, self._ch_sent
        if m.TLS13 in cfg.versions and sh.random[24:] in (tls12.DOWNGRADE_TLS12,
                                                          tls12.DOWNGRADE_TLS11):
            raise IllegalParameter("tls: downgrade attempt detected, possibly due to a MitM "
                                   "attack or a broken middlebox")
        self._plain_version = m.TLS12
        s12 = self._session12
        if s12 is None and hello.session_id and sh.session_id == hello.session_id:
            raise IllegalParameter("tls: server echoed TLS 1.3 compatibility session ID in TLS 1.2")
        suite = tls12.tls12_suite(sh.cipher_suite)
        if suite is None or sh.cipher_suite not in hello.cipher_suites:
            raise HandshakeFailure("tls: server chose an unconfigured cipher suite")
        if sh.compression_method != 0:
            raise IllegalParameter("tls: server selected unsupported compression format")
        if sh.duplicate_types():
            raise IllegalParameter("tls: server sent duplicate extensions")
        if sh.has(ext.EXT_SESSION_TICKET) and not hello.has(ext.EXT_SESSION_TICKET):
            raise IllegalParameter("tls: server sent unrequested session ticket")
        for t in sh.extension_types():
            if not hello.has(t):
                raise UnsupportedExtension(f"tls: server sent an unsolicited extension {t} "
                                           "in ServerHello")
        reneg = sh.find(ext.RenegotiationInfo)
        if reneg is not None and reneg.renegotiated_connection:
            raise HandshakeFailure("tls: initial handshake had non-empty renegotiation extension")
        points = sh.find(ext.EcPointFormats)
        if points is not None and 0 not in points.formats:
            raise HandshakeFailure("tls: server offered only incompatible point formats")
        alpn = sh.find(ext.ALPN)
        if alpn is not None:
            offered = hello.find(ext.ALPN)
            if len(alpn.protocols) != 1 or offered is None or alpn.protocols[0] not in offered.protocols:
                raise UnsupportedExtension("tls: server selected unadvertised ALPN protocol")
            self._alpn = alpn.protocols[0].decode("latin-1")
        self.suite = suite
        self.transcript.set_hash(suite.prf_hash)
        self.transcript.add(raw)
        self.server_random = sh.random
        self._sh12 = sh
        self._ticket_expected = sh.has(ext.EXT_SESSION_TICKET)
        self._nst12: m.NewSessionTicketTLS12 | None = None
        self._cert_request12: m12.CertificateRequest12 | None = None
        self._resumed12 = bool(s12 is not None and sh.session_id and sh.session_id == hello.session_id)
        ems = sh.has(ext.EXT_EXTENDED_MASTER_SECRET)
        if not self._resumed12:
            self.extended_master_secret = ems
            self._state = "12_cert"
            return
        assert s12 is not None
        if s12.cipher_suite != suite.id:
            raise HandshakeFailure("tls: server resumed a session with a different cipher suite")
        if s12.extended_master_secret != ems:
            raise HandshakeFailure("tls: server resumed a session with a different EMS extension")
        self.master_secret, self.extended_master_secret = s12.master_secret, ems
        self._peer_chain, self._verified, self._group = list(s12.peer_chain), s12.verified, s12.group
        self.keylog("CLIENT_RANDOM", self.master_secret)
        self._keys12 = tls12.protections(suite, self.master_secret, self.client_random,
                                         self.server_random, self.rand)
        self._state = "12_ticket" if self._ticket_expected else "12_ccs"

    # ------------------------------------------------------------------
    # Dispatch
    # ------------------------------------------------------------------

    def _handle12(self, msg_type: int, body: bytes, raw: bytes) -> None:
        state = self._state
        if state == "connected":
            if msg_type == m12.HELLO_REQUEST:
                m12.HelloRequest.decode(body)
                self._send_record(ALERT, bytes([1, 100]))  # warning no_renegotiation
                return
            raise UnexpectedMessage(f"tls: unexpected post-handshake message type {msg_type}")
        expected = {"12_cert": (m.CERTIFICATE,), "12_ske": (m12.SERVER_KEY_EXCHANGE,),
                    "12_cr_done": (m.CERTIFICATE_REQUEST, m12.SERVER_HELLO_DONE),
                    "12_done": (m12.SERVER_HELLO_DONE,), "12_ticket": (m.NEW_SESSION_TICKET,),
                    "12_finished": (m.FINISHED,)}.get(state, ())
        if msg_type not in expected:
            if msg_type == m12.SERVER_KEY_EXCHANGE and state == "12_cr_done":
                # Go: rsaKeyAgreement.processServerKeyExchange
                raise UnexpectedMessage("tls: unexpected ServerKeyExchange")
            raise UnexpectedMessage(f"tls: unexpected handshake message type {msg_type} "
                                    f"in state {state}")
        if msg_type == m.CERTIFICATE:
            self._on_certificate12(m12.Certificate12.decode(body), raw)
        elif msg_type == m12.SERVER_KEY_EXCHANGE:
            self._on_server_key_exchange(m12.ServerKeyExchange.decode(body), raw)
        elif msg_type == m.CERTIFICATE_REQUEST:
            self._cert_request12 = m12.CertificateRequest12.decode(body)
            self.transcript.add(raw)
            self._state = "12_done"
        elif msg_type == m12.SERVER_HELLO_DONE:
            m12.ServerHelloDone.decode(body)
            self.transcript.add(raw)
            self._send_client_flight12()
        elif msg_type == m.NEW_SESSION_TICKET:
            self._nst12 = m.NewSessionTicketTLS12.decode(body)
            self.transcript.add(raw)
            self._state = "12_ccs"
        else:
            self._on_finished12(m.Finished.decode(body), raw)

    def _on_ccs12(self) -> None:
        if self._state != "12_ccs":
            raise UnexpectedMessage("tls: unexpected ChangeCipherSpec")
        self._read = self._keys12[1]
        self._state = "12_finished"

    # ------------------------------------------------------------------
    # Full handshake
    # ------------------------------------------------------------------

    def _on_certificate12(self, cert: m12.Certificate12, raw: bytes) -> None:
        if not cert.chain:
            raise UnexpectedMessage("tls: received empty certificates message")
        parsed = parse_chain(cert.chain)
        if not self.config.insecure_skip_verify:
            verify_chain(cert.chain, self.config.roots, self.now(), self.config.server_name, "server")
            self._verified = True
        self._peer_chain, self._peer_key = list(cert.chain), parsed[0].public_key()
        self.transcript.add(raw)
        self._state = "12_cr_done" if tls12.rsa_key_exchange(self._suite) else "12_ske"

    def _on_server_key_exchange(self, ske: m12.ServerKeyExchange, raw: bytes) -> None:
        hello = self._ch_sent
        offered = hello.find(ext.SupportedGroups)
        if ske.group not in tls12.ECDHE_GROUPS or offered is None or ske.group not in offered.groups:
            raise IllegalParameter("tls: server selected unsupported curve")
        if not tls12.suite_fits_key(self._suite, self._peer_key):
            raise IllegalParameter("tls: server's certificate does not fit the cipher suite")
        # A client that sent no signature_algorithms (an edit took it out) has offered
        # SHA-1 with each key type, and a server signs with that.
        allowed = (self.config.signature_algorithms if hello.has(ext.EXT_SIGNATURE_ALGORITHMS)
                   else tls12.IMPLIED_SCHEMES)
        if ske.scheme not in allowed:
            raise IllegalParameter("tls: certificate used with invalid signature algorithm")
        signed = self.client_random + self.server_random + ske.params()
        if not tls12.verify(self._peer_key, ske.scheme, signed, ske.signature):
            raise IllegalParameter("tls: invalid signature by the server certificate")
        self._ske12, self._group, self._peer_scheme = ske, ske.group, ske.scheme
        self.transcript.add(raw)
        self._state = "12_cr_done"

    def _send_client_flight12(self) -> None:
        cred, cr = self.config.certificate, self._cert_request12
        scheme = None
        if cr is not None:
            if cred is not None:
                scheme = tls12.select_scheme([s for s in cr.schemes
                                              if s in self.config.signature_algorithms],
                                             cred.private_key or cred.public_key())
            chain = cred.chain if cred is not None and scheme is not None else []
            self._write_handshake("certificate", m12.Certificate12(list(chain)))
            self._certificate_sent = bool(chain)
        if tls12.rsa_key_exchange(self._suite):
            premaster = self._send_rsa_premaster()
        else:
            share = groups.generate(self._group, self.rand)
            premaster = share.shared_secret(self._ske12.public)
            self._write_handshake("client_key_exchange", m12.ClientKeyExchange(share.public))
        h = self._suite.prf_hash
        if self.extended_master_secret:
            self.master_secret = extended_master_secret12(h, premaster, self.transcript.digest())
        else:
            self.master_secret = master_secret12(h, premaster, self.client_random, self.server_random)
        self.keylog("CLIENT_RANDOM", self.master_secret)
        if scheme is not None:
            signed = b"".join(self.transcript.messages)
            self._write_handshake("certificate_verify",
                                  m.CertificateVerify(scheme, tls12.sign(cred, scheme, signed)))
        self._keys12 = tls12.protections(self._suite, self.master_secret, self.client_random,
                                         self.server_random, self.rand)
        self._send_finished12()
        self._state = "12_ticket" if self._ticket_expected else "12_ccs"

    def _send_rsa_premaster(self) -> bytes:
        """Go's rsaKeyAgreement.generateClientKeyExchange: the hello's version and 46
        random bytes, encrypted to the server's key. `corrupt_premaster` sends a block
        whose padding is wrong, a ciphertext above the modulus or another version."""
        if not isinstance(self._peer_key, rsa.RSAPublicKey):
            raise InternalError("tls: server certificate contains incorrect key type for "
                                "selected ciphersuite")
        corrupt = self.config.misbehaviour.corrupt_premaster
        version = _WRONG_PREMASTER_VERSION if corrupt == "version" else self._ch_sent.legacy_version
        premaster = rsakex.premaster_secret(version, self.rand)
        size = (self._peer_key.key_size + 7) // 8
        if corrupt == "too_large":
            ciphertext = b"\xff" * size  # above any modulus of that size
        else:
            block = rsakex.pad(premaster, size, self.rand, 1 if corrupt == "padding" else 2)
            ciphertext = rsakex.encrypt(self._peer_key, block)
        self._write_handshake("client_key_exchange", m12.EncryptedPreMasterSecret(ciphertext))
        return premaster

    def _send_finished12(self) -> None:
        self._send_ccs12(self._keys12[0])
        verify = finished_verify_data12(self._suite.prf_hash, self.master_secret, True,
                                        self.transcript.digest())
        self._write_handshake("finished", m.Finished(verify))
        self._client_finished12 = verify
        self._flush()

    # ------------------------------------------------------------------
    # The server's Finished, and the session it leaves
    # ------------------------------------------------------------------

    def _on_finished12(self, fin: m.Finished, raw: bytes) -> None:
        expected = finished_verify_data12(self._suite.prf_hash, self.master_secret, False,
                                          self.transcript.digest())
        if fin.verify_data != expected:
            raise HandshakeFailure("tls: server's Finished message was incorrect")
        self.transcript.add(raw)
        if self._resumed12:
            self._send_finished12()
            # Go: tls-unique is the first Finished, and only with EMS on a resumption.
            unique = fin.verify_data if self.extended_master_secret else b""
        else:
            unique = self._client_finished12
        self._state = "connected"
        self._finish_handshake(self._connection_info12(unique))
        session = self._new_session12()
        if session is not None:
            self._events.append(NewSession12(session, self._nst12 is not None))

    def _new_session12(self) -> ClientSession12 | None:
        nst, sh = self._nst12, self._sh12
        if nst is None and (self._resumed12 or not sh.session_id):
            return None
        s12 = self._session12 if self._resumed12 else None
        return ClientSession12(
            master_secret=self.master_secret, cipher_suite=self._suite.id,
            extended_master_secret=self.extended_master_secret, received_at=self.now(),
            ticket=nst.ticket if nst is not None else b"",
            session_id=sh.session_id if s12 is None else s12.session_id,
            lifetime_hint=nst.lifetime_hint if nst is not None else 0,
            peer_chain=list(self._peer_chain), verified=self._verified, group=self._group,
            server_name=self.config.server_name, alpn=self._alpn)

    def _connection_info12(self, tls_unique: bytes) -> ConnectionInfo:
        return ConnectionInfo(
            role="client", version=m.TLS12, cipher_suite=self._suite.id, group=self._group,
            resumed=self._resumed12, hello_retry_request=False, alpn=self._alpn,
            server_name=self.config.server_name, peer_chain=list(self._peer_chain),
            verified=self._verified, signature_scheme=self._peer_scheme,
            client_random=self.client_random, session_id=self._sh12.session_id,
            extended_master_secret=self.extended_master_secret, tls_unique=tls_unique,
            client_certificate_sent=self._certificate_sent and not self._resumed12)
