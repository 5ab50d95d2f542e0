"""The sans-IO TLS 1.3 (and TLS 1.2) server.

    engine = ServerEngine(ServerConfig(certificate=cred))
    events = engine.receive_data(sock.recv(65536))  # ... until HandshakeComplete
    sock.sendall(engine.data_to_send())

Go is the model where RFC 8446 leaves a choice: server preference for suites and
ALPN; a group with a client key share is preferred over a HelloRetryRequest
(`group_selection="prefer_key_share"`, with post-quantum groups first, as Go
1.24+); a dummy ChangeCipherSpec after ServerHello/HRR whatever the client's
session id (`middlebox_ccs="always"`); tickets sent after the client's Finished.
Where Go aborts on an early_data offer, this server follows the RFC and skips
the 0-RTT records it will not read, unless `accept_early_data` is set.

With `min_version=TLS12` it also answers hellos that offer only TLS 1.2 (the
highest mutual version wins, as Go 1.25+), handing them to `server12.Server12`;
a server that could have spoken TLS 1.3 then marks its random with the RFC 8446
§4.1.3 downgrade sentinel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

from cryptography import x509

from . import extensions as ext
from . import groups, sigschemes, tls12
from . import messages as m
from .certs import Credential, parse_chain, verify_chain
from .client import DEFAULT_SUITES_ALL, default_groups, suite_ids
from .engine import Engine, KeyLogWriter, Now, Rand
from .errors import (CertificateRequired, DecryptError, HandshakeFailure, IllegalParameter,
                     InternalError, MissingExtension, NoApplicationProtocol, ProtocolVersion,
                     UnexpectedMessage)
from .events import ConnectionInfo
from .hooks import Hooks, compose
from .keyschedule import Tls13KeySchedule, finished_verify_data, resumption_psk
from .misbehave import Misbehaviour
from .record import MAX_PLAINTEXT
from .server12 import Server12
from .session import ServerSession, Tickets, TicketStore
from .suites import SUITE_BY_ID, CipherSuite

CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                     "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
_EARLY_SKIP_BUDGET = 4 * (MAX_PLAINTEXT + 256)  # rejected 0-RTT bytes we skip at most
_EARLY_AGE_WINDOW_MS = 10_000
# What may differ between ClientHello 1 and 2 (RFC 8446 §4.1.2).
_MAY_CHANGE = {ext.EXT_KEY_SHARE, ext.EXT_COOKIE, ext.EXT_EARLY_DATA, ext.EXT_PRE_SHARED_KEY, 21}


@dataclass
class ServerConfig:
    """A server endpoint. `ticket_store` (how tickets are made and opened: a
    server-side `TicketStore` by default, or any `session.Tickets`) is shared by
    every connection made with this config; None turns resumption and tickets off. `session_id_store` is the
    TLS 1.2 session-ID cache (a fresh session ID in every full-handshake
    ServerHello); None turns it off. `cipher_suites` lists both versions'."""

    certificate: Credential
    cipher_suites: Sequence[str | int] = DEFAULT_SUITES_ALL
    groups: Sequence[str | int] = field(default_factory=default_groups)
    group_selection: Literal["prefer_key_share", "strict"] = "prefer_key_share"
    signature_algorithms: Sequence[int] = sigschemes.CERTIFICATE_VERIFY_SCHEMES
    alpn: Sequence[str] = ()
    client_auth: str = "NoClientCert"
    client_roots: Sequence[x509.Certificate] = ()
    psk_modes: Sequence[int] = (ext.PSK_DHE_KE,)
    ticket_store: Tickets | None = field(default_factory=TicketStore)
    tickets_to_send: int = 1
    ticket_lifetime: int = 604800
    ticket_length: int = 32
    max_early_data_size: int = 0  # advertised in tickets
    accept_early_data: bool = False
    middlebox_ccs: Literal["always", "if_session_id", "never"] = "always"
    min_version: int | str = m.TLS13
    max_version: int | str = m.TLS13
    extended_master_secret: bool = True
    session_id_store: TicketStore | None = field(default_factory=TicketStore)
    misbehaviour: Misbehaviour = field(default_factory=Misbehaviour)

    def __post_init__(self) -> None:
        if self.client_auth not in CLIENT_AUTH_TYPES:
            raise ValueError(f"client_auth must be one of {', '.join(CLIENT_AUTH_TYPES)}")
        self.misbehaviour.check_role("server")
        self.versions = tls12.versions_between(tls12.version_id(self.min_version),
                                               tls12.version_id(self.max_version))
        if not self.versions:
            raise ValueError("tls: no supported versions satisfy MinVersion and MaxVersion")
        self.suite_ids = suite_ids(self.cipher_suites)
        self.group_ids = [groups.group_id(g) for g in self.groups]
        self.usable_groups = [g for g in self.group_ids if groups.unavailable_reason(g) is None]


class ServerEngine(Server12, Engine):
    role = "server"

    def __init__(self, config: ServerConfig, *, rand: Rand | None = None, now: Now | None = None,
                 keylog: KeyLogWriter | None = None, hooks: Hooks | None = None) -> None:
        super().__init__(rand=rand, now=now, keylog=keylog,
                         hooks=compose(config.misbehaviour.hooks("server"), hooks))
        self.config = config
        self._state = "wait_ch1"
        self._ch1: m.ClientHello | None = None
        self._hrr_group: int | None = None
        self._hrr_cookie: bytes | None = None
        self._hrr_count = 0
        self._ccs_sent = False
        self._psk_mode: int | None = None
        self._session: ServerSession | None = None
        self._identity: int | None = None
        self._group: int | None = None
        self._alpn: str | None = None
        self._scheme: int | None = None
        self._early_offered = False
        self._early_accepted = False
        self._cert_request: m.CertificateRequest | None = None
        self._peer_chain: list[bytes] = []
        self._peer_key = None
        self._peer_scheme: int | None = None
        self._verified = False
        self._hs_secrets = (b"", b"")
        self._client_app_secret = b""
        self._resumption_secret = b""
        self._server_name: str | None = None
        self._early_age_ok = False
        self._tickets_sent = 0

    # ------------------------------------------------------------------
    # Dispatch
    # ------------------------------------------------------------------

    def _handle_handshake(self, msg_type: int, body: bytes, raw: bytes) -> None:
        if self.version == m.TLS12:
            self._handle12(msg_type, body, raw)
            return
        state = self._state
        expected = {"wait_ch1": m.CLIENT_HELLO, "wait_ch2": m.CLIENT_HELLO,
                    "wait_eoed": m.END_OF_EARLY_DATA, "wait_cert": m.CERTIFICATE,
                    "wait_cv": m.CERTIFICATE_VERIFY, "wait_finished": m.FINISHED}.get(state)
        if msg_type != expected:
            raise UnexpectedMessage(f"tls: unexpected handshake message type {msg_type} "
                                    f"in state {state}")
        if state == "wait_ch1":
            self._on_client_hello1(m.ClientHello.decode(body), raw)
        elif state == "wait_ch2":
            self._on_client_hello2(m.ClientHello.decode(body), raw)
        elif state == "wait_eoed":
            m.EndOfEarlyData.decode(body)
            self.transcript.add(raw)
            self._set_read(self._hs_secrets[0])
            self._state = "wait_cert" if self._cert_request is not None else "wait_finished"
        elif state == "wait_cert":
            self._on_certificate(m.Certificate.decode(body), raw)
        elif state == "wait_cv":
            self._on_certificate_verify(m.CertificateVerify.decode(body), raw)
        else:
            self._on_finished(m.Finished.decode(body), raw)

    def _handshake_in_progress_ccs_ok(self) -> bool:
        return self._state not in ("wait_ch1", "connected")

    # ------------------------------------------------------------------
    # ClientHello
    # ------------------------------------------------------------------

    def _select_version(self, ch: m.ClientHello) -> int:
        """The highest version both offer (supported_versions, else the legacy
        version, which can only say TLS 1.2 or below: RFC 8446 §4.2.1)."""
        sv = ch.find(ext.SupportedVersionsClient)
        offered = sv.versions if sv is not None else [min(ch.legacy_version, m.TLS12)]
        for v in self.config.versions:
            if v in offered:
                return v
        listed = " ".join(f"{v:x}" for v in offered)
        raise ProtocolVersion(f"tls: client offered only unsupported versions: [{listed}]")

    def _on_client_hello1(self, ch: m.ClientHello, raw: bytes) -> None:
        self.version = self._select_version(ch)
        if self.version == m.TLS12:
            self._on_client_hello12(ch, raw)
            return
        self._check_hello(ch)
        self._ch1 = ch
        self.client_random = ch.random
        suite = self._select_suite(ch)
        self.suite = suite
        self.transcript.set_hash(suite.prf_hash)
        self._alpn = self._select_alpn(ch)
        sni = ch.find(ext.ServerName)
        self._server_name = sni.host_name if sni is not None else None
        self._psk_mode = self._choose_psk_mode(ch)
        self._early_offered = ch.has(ext.EXT_EARLY_DATA)
        if self._psk_mode == ext.PSK_KE and self._known_psk(ch):
            self._negotiate(ch, raw, None)
            return
        group, share = self._select_group(ch)
        mis = self.config.misbehaviour
        if mis.hrr_no_change:
            shares = ch.find(ext.KeyShareClient)
            if shares is not None and shares.shares:
                self._send_hrr(ch, raw, shares.shares[0].group)
                return
        if share is None:
            self._send_hrr(ch, raw, group)
            return
        self._group = group
        self._negotiate(ch, raw, share)

    def _check_hello(self, ch: m.ClientHello) -> None:
        versions = ch.find(ext.SupportedVersionsClient)
        if versions is None or m.TLS13 not in versions.versions:
            raise ProtocolVersion("tls: client offered only unsupported versions")
        if ch.compression_methods != b"\x00":
            raise IllegalParameter("tls: TLS 1.3 client supports illegal compression methods")
        if ch.duplicate_types():
            raise IllegalParameter("tls: client sent duplicate extensions")
        types = ch.extension_types()
        if ext.EXT_PRE_SHARED_KEY in types and types[-1] != ext.EXT_PRE_SHARED_KEY:
            raise IllegalParameter("tls: pre_shared_key is not the last extension")
        reneg = ch.find(ext.RenegotiationInfo)
        if reneg is not None and reneg.renegotiated_connection:
            raise HandshakeFailure("tls: initial handshake had non-empty renegotiation extension")

    def _select_suite(self, ch: m.ClientHello) -> CipherSuite:
        for sid in self.config.suite_ids:
            if sid in ch.cipher_suites and sid in SUITE_BY_ID and SUITE_BY_ID[sid].tls13:
                return SUITE_BY_ID[sid]
        raise HandshakeFailure("tls: no cipher suite supported by both client and server")

    def _select_alpn(self, ch: m.ClientHello) -> str | None:
        offered = ch.find(ext.ALPN)
        if not self.config.alpn or offered is None:
            return None
        client = [p.decode("latin-1") for p in offered.protocols]
        fallback = False
        for proto in self.config.alpn:
            if proto in client:
                return proto
            fallback = fallback or (proto == "h2" and "http/1.1" in client)
        if fallback:
            return None
        raise NoApplicationProtocol("tls: client requested unsupported application protocols")

    def _choose_psk_mode(self, ch: m.ClientHello) -> int | None:
        if not ch.has(ext.EXT_PRE_SHARED_KEY) or self.config.ticket_store is None:
            return None
        modes = ch.find(ext.PskKeyExchangeModes)
        if modes is None:
            raise MissingExtension("tls: pre_shared_key without psk_key_exchange_modes")
        for mode in self.config.psk_modes:
            if mode in modes.modes:
                return mode
        return None

    def _known_psk(self, ch: m.ClientHello) -> bool:
        psk = ch.find(ext.PreSharedKeyClient)
        store, now = self.config.ticket_store, self.now()
        return bool(psk and store and any(isinstance(store.open(i.identity, now), ServerSession)
                                          for i in psk.identities))

    def _select_group(self, ch: m.ClientHello) -> tuple[int, ext.KeyShareEntry | None]:
        supported = ch.find(ext.SupportedGroups)
        shares_ext = ch.find(ext.KeyShareClient)
        if supported is None or shares_ext is None:
            raise MissingExtension("tls: client sent no supported_groups or key_share")
        mutual = [g for g in self.config.usable_groups if g in supported.groups]
        if not mutual:
            raise HandshakeFailure("tls: no key exchanges supported by both client and server")
        shares = {s.group: s for s in reversed(shares_ext.shares)}  # the first share of a group
        if self.config.group_selection == "prefer_key_share":
            mutual.sort(key=lambda g: g not in shares)  # stable: keeps our order otherwise
            pq = (groups.X25519MLKEM768, groups.SECP256R1MLKEM768, groups.SECP384R1MLKEM1024,
                  groups.MLKEM1024)
            mutual.sort(key=lambda g: g not in pq)
        group = mutual[0]
        return group, shares.get(group)

    def _send_hrr(self, ch: m.ClientHello, raw: bytes, group: int) -> None:
        if self._hs_in:
            raise UnexpectedMessage("tls: handshake buffer not empty before HelloRetryRequest")
        self._hrr_count += 1
        self._hrr_group = group
        cookie = self.config.misbehaviour.hrr_cookie
        if isinstance(cookie, str):  # a case file gives text
            cookie = cookie.encode()
        exts: list[ext.Extension] = [ext.KeyShareHelloRetry(group)]
        if cookie is not None:
            self._hrr_cookie = cookie
            exts.append(ext.Cookie(cookie))
        exts.append(ext.SupportedVersionsServer(m.TLS13))
        self.transcript.add(raw)
        if self._hrr_count == 1:
            self.transcript.replace_first_with_message_hash(self._suite.prf_hash)
        hrr = m.ServerHello.hello_retry_request(ch.session_id, self._suite.id, exts)
        name = "hello_retry_request" if self._hrr_count == 1 else f"hello_retry_request_{self._hrr_count}"
        self._write_handshake(name, hrr)
        self._send_ccs_once(ch)
        # 0-RTT the client sent with ClientHello 1 is skipped (RFC 8446 §4.2.10).
        self._skip_app_records = self._early_offered
        self._state = "wait_ch2"

    def _send_ccs_once(self, ch: m.ClientHello) -> None:
        policy = self.config.middlebox_ccs
        if self._ccs_sent or policy == "never" or (policy == "if_session_id" and not ch.session_id):
            return
        self._ccs_sent = True
        self._send_ccs()

    def _on_client_hello2(self, ch: m.ClientHello, raw: bytes) -> None:
        ch1 = self._ch1
        shares = ch.find(ext.KeyShareClient)
        if shares is None or len(shares.shares) != 1:
            raise IllegalParameter("tls: client didn't send one key share in second ClientHello")
        if shares.shares[0].group != self._hrr_group:
            raise IllegalParameter("tls: client sent unexpected key share in second ClientHello")
        if ch.has(ext.EXT_EARLY_DATA):
            raise IllegalParameter("tls: client indicated early data in second ClientHello")
        cookie = ch.find(ext.Cookie)
        if (cookie.cookie if cookie else None) != self._hrr_cookie:
            raise IllegalParameter("tls: client did not echo the HelloRetryRequest cookie")
        if _illegal_change(ch1, ch):
            raise IllegalParameter("tls: client illegally modified second ClientHello")
        self._check_hello(ch)
        self._skip_app_records = False
        if self.config.misbehaviour.two_hrrs and self._hrr_count == 1:
            self._send_hrr(ch, raw, self._hrr_group)
            return
        self._group = self._hrr_group
        self._negotiate(ch, raw, shares.shares[0])

    # ------------------------------------------------------------------
    # The server's flight
    # ------------------------------------------------------------------

    def _select_psk(self, ch: m.ClientHello, raw: bytes) -> None:
        """Find the first identity we know; its binder must verify."""
        if self._psk_mode is None:
            return
        psk = ch.find(ext.PreSharedKeyClient)
        if psk is None:
            return
        if len(psk.identities) != len(psk.binders):
            raise IllegalParameter("tls: invalid or missing PSK binders")
        offset = ch.binders_offset()
        assert offset is not None
        store, now = self.config.ticket_store, self.now()
        for i, identity in enumerate(psk.identities):
            session = store.open(identity.identity, now) if store else None
            if not isinstance(session, ServerSession) or session.cipher_suite not in SUITE_BY_ID:
                continue
            if SUITE_BY_ID[session.cipher_suite].prf_hash != self._suite.prf_hash:
                continue
            if self.config.client_auth in ("RequireAnyClientCert", "RequireAndVerifyClientCert") \
                    and not session.peer_chain:
                continue
            h = self._suite.prf_hash
            binder_key = Tls13KeySchedule(h, session.psk).binder_key()
            expected = finished_verify_data(h, binder_key, self.transcript.digest(extra=raw[:offset]))
            if psk.binders[i] != expected:
                raise DecryptError("tls: invalid PSK binder")
            self._session, self._identity = session, i
            # As Go: a resumed connection has the session's client certificates,
            # and the tickets it issues carry them on.
            self._peer_chain, self._verified = list(session.peer_chain), session.verified
            self._early_age_ok = abs(session.ticket_age_ms(identity.obfuscated_ticket_age)
                                     - int((now - session.created_at) * 1000)) <= _EARLY_AGE_WINDOW_MS
            return

    def _negotiate(self, ch: m.ClientHello, raw: bytes, share: ext.KeyShareEntry | None) -> None:
        # The binder covers the transcript before this hello: check it first.
        self._select_psk(ch, raw)
        self.transcript.add(raw)
        cfg = self.config
        server_random = self.rand(32)  # drawn first, as Go does
        use_dhe = self._session is None or self._psk_mode == ext.PSK_DHE_KE
        if self._session is None:
            sigalgs = ch.find(ext.SignatureAlgorithms)
            if sigalgs is None:
                raise MissingExtension("tls: client sent no signature_algorithms")
            self._scheme = next((s for s in sigalgs.schemes if s in cfg.certificate.schemes
                                 and s in sigschemes.CERTIFICATE_VERIFY_SCHEMES), None)
            if self._scheme is None:
                raise HandshakeFailure("tls: no signature scheme supported by both sides")
        shared = None
        server_share = None
        if use_dhe:
            if share is None:
                group, share = self._select_group(ch)
                if share is None:
                    raise IllegalParameter("tls: no key share for the selected group")
                self._group = group
            key_exchange, shared = groups.server_exchange(self._group, share.key_exchange, self.rand)
            server_share = ext.KeyShareEntry(self._group, key_exchange)
        else:
            self._group = None
        session = self._session
        self._early_accepted = bool(
            self._early_offered and cfg.accept_early_data and session is not None
            and self._identity == 0 and self._hrr_count == 0 and session.max_early_data_size > 0
            and session.cipher_suite == self._suite.id and session.alpn == self._alpn
            and self._early_age_ok)
        h = self._suite.prf_hash
        self.schedule = Tls13KeySchedule(h, session.psk if session else None)
        if self._early_accepted:
            early = self.schedule.client_early_traffic_secret(self.transcript.digest())
            self.keylog("CLIENT_EARLY_TRAFFIC_SECRET", early)
        exts: list[ext.Extension] = []
        if session is not None:
            exts.append(ext.PreSharedKeyServer(self._identity))
        if server_share is not None:
            exts.append(ext.KeyShareServer(server_share))
        exts.append(ext.SupportedVersionsServer(m.TLS13))
        self._write_handshake("server_hello", m.ServerHello(server_random, ch.session_id,
                                                              self._suite.id, exts))
        self._send_ccs_once(ch)
        self.schedule.derive_handshake_secret(shared)
        digest = self.transcript.digest()
        chts = self.schedule.client_handshake_traffic_secret(digest)
        shts = self.schedule.server_handshake_traffic_secret(digest)
        self._hs_secrets = (chts, shts)
        self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", chts)
        self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", shts)
        self._set_write(shts)
        if self._early_accepted:
            self._set_read(early, early=True)
        else:
            self._set_read(chts)
            if self._early_offered and self._hrr_count == 0:
                self._skip_early = _EARLY_SKIP_BUDGET
        self._send_server_parameters(session)

    def _send_server_parameters(self, session: ServerSession | None) -> None:
        cfg = self.config
        exts: list[ext.Extension] = []
        if self._alpn is not None:
            exts.append(ext.ALPN([self._alpn.encode()]))
        if self._early_accepted:
            exts.append(ext.EarlyData())
        self._write_handshake("encrypted_extensions", m.EncryptedExtensions(exts))
        if session is None and cfg.client_auth != "NoClientCert":
            cr = m.CertificateRequest(b"", [ext.SignatureAlgorithms(list(cfg.signature_algorithms))])
            self._write_handshake("certificate_request", cr)
            self._cert_request = cr
        if session is None:
            cred = cfg.certificate
            self._write_handshake("certificate", m.Certificate.from_chain(cred.chain))
            content = sigschemes.signed_content(True, self.transcript.digest())
            self._write_handshake("certificate_verify",
                                  m.CertificateVerify(self._scheme, cred.sign(self._scheme, content)))
        h = self._suite.prf_hash
        verify = finished_verify_data(h, self._hs_secrets[1], self.transcript.digest())
        self._write_handshake("finished", m.Finished(verify))
        self.schedule.derive_master_secret()
        digest = self.transcript.digest()
        cats = self.schedule.client_application_traffic_secret_0(digest)
        sats = self.schedule.server_application_traffic_secret_0(digest)
        self.exporter_secret = self.schedule.exporter_master_secret(digest)
        self.keylog("CLIENT_TRAFFIC_SECRET_0", cats)
        self.keylog("SERVER_TRAFFIC_SECRET_0", sats)
        self._client_app_secret = cats
        self._set_write(sats)
        if self._early_accepted:
            self._state = "wait_eoed"
        else:
            self._state = "wait_cert" if self._cert_request is not None else "wait_finished"

    # ------------------------------------------------------------------
    # The client's flight
    # ------------------------------------------------------------------

    def _on_certificate(self, cert: m.Certificate, raw: bytes) -> None:
        if cert.context != self._cert_request.context:
            raise IllegalParameter("tls: client Certificate has the wrong request context")
        auth = self.config.client_auth
        if not cert.entries:
            if auth in ("RequireAnyClientCert", "RequireAndVerifyClientCert"):
                raise CertificateRequired("tls: client didn't provide a certificate")
            self.transcript.add(raw)
            self._state = "wait_finished"
            return
        chain = cert.chain
        parsed = parse_chain(chain)
        if auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
            verify_chain(chain, self.config.client_roots, self.now(), None, "client")
            self._verified = True
        self._peer_chain, self._peer_key = chain, parsed[0].public_key()
        self.transcript.add(raw)
        self._state = "wait_cv"

    def _on_finished(self, fin: m.Finished, raw: bytes) -> None:
        h = self._suite.prf_hash
        expected = finished_verify_data(h, self._hs_secrets[0], self.transcript.digest())
        if fin.verify_data != expected:
            raise DecryptError("tls: invalid client finished hash")
        self.transcript.add(raw)
        self._set_read(self._client_app_secret)
        self._resumption_secret = self.schedule.resumption_master_secret(self.transcript.digest())
        self._state = "connected"
        self._finish_handshake(self._connection_info())
        self._send_tickets()

    def _connection_info(self) -> ConnectionInfo:
        session = self._session
        return ConnectionInfo(
            role="server", version=m.TLS13, cipher_suite=self._suite.id, group=self._group,
            resumed=session is not None, hello_retry_request=self._hrr_count > 0,
            alpn=self._alpn, server_name=self._server_name,
            peer_chain=list(session.peer_chain if session else self._peer_chain),
            verified=self._verified, signature_scheme=self._peer_scheme,
            selected_identity=self._identity, early_data_offered=self._early_offered,
            early_data_accepted=self._early_accepted, client_random=self.client_random,
            session_id=self._ch1.session_id if self._ch1 else b"")

    # ------------------------------------------------------------------
    # Tickets
    # ------------------------------------------------------------------

    def _client_wants_tickets(self) -> bool:
        # Go sends no ticket the client could not use.
        modes = self._ch1.find(ext.PskKeyExchangeModes) if self._ch1 else None
        return modes is not None and any(mode in self.config.psk_modes for mode in modes.modes)

    def send_tickets(self, count: int = 1) -> None:
        """Send `count` more NewSessionTickets (after the handshake)."""
        if not self.handshake_complete:
            raise UnexpectedMessage("tls: tickets before the handshake is complete")
        self._issue(count)

    def _send_tickets(self) -> None:
        if self.config.ticket_store is not None and self._client_wants_tickets():
            self._issue(self.config.tickets_to_send)

    def _post_handshake_ticket(self) -> None:
        if self.config.ticket_store is None:
            super()._post_handshake_ticket()
        else:
            self._issue(1, flush=False)

    def _issue(self, count: int, flush: bool = True) -> None:
        cfg = self.config
        store = cfg.ticket_store
        if store is None:
            raise InternalError("tls: tickets are disabled")
        h = self._suite.prf_hash
        for _ in range(count):
            nonce = self._tickets_sent.to_bytes(2, "big") if store.counts_nonces else b""
            self._tickets_sent += 1
            age_add = int.from_bytes(self.rand(4), "big")
            exts: list[ext.Extension] = []
            if cfg.max_early_data_size:
                exts.append(ext.EarlyDataTicket(cfg.max_early_data_size))
            nst = m.NewSessionTicket(cfg.ticket_lifetime, age_add, nonce,
                                     self.rand(cfg.ticket_length), exts)
            if self.hooks.mutate is not None:
                nst = self.hooks.mutate("new_session_ticket", nst)
            early = nst.find(ext.EarlyDataTicket) if isinstance(nst, m.NewSessionTicket) else None
            nst.ticket = store.issue(ServerSession(
                psk=resumption_psk(h, self._resumption_secret, nst.nonce),
                cipher_suite=self._suite.id, created_at=self.now(), lifetime=nst.lifetime,
                age_add=nst.age_add, max_early_data_size=early.max_early_data_size if early else 0,
                alpn=self._alpn, peer_chain=list(self._peer_chain), verified=self._verified,
                resumption_secret=self._resumption_secret, nonce=nst.nonce), nst.ticket)
            self._queue_handshake("new_session_ticket", nst.encode(), transcript=False)
        if flush:
            self._flush()


def _illegal_change(ch1: m.ClientHello, ch2: m.ClientHello) -> bool:
    def kept(ch: m.ClientHello) -> list[tuple[int, bytes]]:
        return [(e.ext_type, e.encode_data()) for e in ch.extensions or ()
                if e.ext_type not in _MAY_CHANGE]
    return (ch1.legacy_version != ch2.legacy_version or ch1.random != ch2.random
            or ch1.session_id != ch2.session_id or ch1.cipher_suites != ch2.cipher_suites
            or ch1.compression_methods != ch2.compression_methods or kept(ch1) != kept(ch2))
