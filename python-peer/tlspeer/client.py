"""The sans-IO TLS 1.3 (and TLS 1.2) client.

    engine = ClientEngine(ClientConfig(server_name="example.test", roots=roots))
    engine.start()                      # queues ClientHello 1
    sock.sendall(engine.data_to_send())
    events = engine.receive_data(sock.recv(65536))  # ... until HandshakeComplete

In TLS 1.3 it does full handshakes, HelloRetryRequest (new key share, cookie
echo, binders recomputed over message_hash(CH1) + HRR + CH2), PSK resumption with
psk_dhe_ke or psk_ke from tickets the caller passes in, 0-RTT when a ticket
allows it, client certificates, KeyUpdate, and middlebox compatibility mode (a
legacy_session_id and one dummy ChangeCipherSpec, on by default as in Go).

With `ech_config_list` it offers Encrypted Client Hello (RFC 9849): the hello it
builds becomes ClientHelloInner, sealed into a ClientHelloOuter with the config's
public name (ech.py, hpke.py); an accepted offer goes on over the inner transcript.
A rejected one goes on over the outer hello, as Go's client: the certificate checked
against the public name, then ech_required after the client Finished, and the error
carries the server's retry configs. Through a HelloRetryRequest, one that confirms
acceptance gets the second inner hello sealed with the same HPKE context; one that does
not gets the outer hello with the HelloRetryRequest's changes.

With `min_version=TLS12` the same ClientHello also offers TLS 1.2 (its suites,
extended_master_secret, renegotiation_info, ec_point_formats and a SessionTicket
extension carrying `session12`'s ticket); a TLS 1.2 ServerHello hands the rest
of the handshake to `client12.Client12`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from cryptography import x509

from . import ech
from . import extensions as ext
from . import groups, sigschemes, tls12
from . import messages as m
from .certs import Credential, parse_chain, verify_chain
from .client12 import Client12
from .engine import Engine, KeyLogWriter, Now, Rand, Transcript
from .errors import (DecodeError, DecryptError, IllegalParameter, MissingExtension,
                     ProtocolVersion, TLSError, UnexpectedMessage, UnsupportedExtension)
from .events import ConnectionInfo, NewTicket
from .hooks import Hooks, compose
from .keyschedule import Tls13KeySchedule, finished_verify_data, resumption_psk
from .misbehave import Misbehaviour
from .record import APPLICATION_DATA
from .session import MAX_TICKET_LIFETIME, ClientSession12, ClientTicket
from .suites import SUITE_BY_ID, CipherSuite

_MAX_OFFERED_TICKET = 65535 - 1024
DEFAULT_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                  "TLS_CHACHA20_POLY1305_SHA256")
# Both versions' suites: a hello lists those of the versions it offers.
DEFAULT_SUITES_ALL = DEFAULT_SUITES + tls12.DEFAULT_SUITES_TLS12


def default_groups() -> list[str]:
    """Go 1.24+'s preference list, without the ML-KEM hybrid if unavailable."""
    base = ["X25519", "P256", "P384"]
    return base if groups.MLKEM_UNAVAILABLE else ["X25519MLKEM768"] + base


def suite_ids(names: Sequence[str | int]) -> list[int]:
    """Suite ids from Go names (TLS 1.3, or TLS 1.2 ECDHE) or ids."""
    return [tls12.suite_id(n) for n in names]


def suite_offered(suite_id: int, versions: Sequence[int]) -> bool:
    """Whether a hello offering `versions` lists the suite (unknown ids are kept)."""
    suite = SUITE_BY_ID.get(suite_id)
    if suite is None:
        return True
    return (m.TLS13 if suite.tls13 else m.TLS12) in versions


@dataclass
class ClientConfig:
    """A client endpoint. Names are Go's (suites, groups); ids are accepted too.

    `key_share_groups` defaults to Go's choice: the first group, plus X25519 when
    the first is a hybrid containing it. `early_data` is sent as 0-RTT when the
    first offered ticket allows it. `min_version`/`max_version` (0x0303, 0x0304
    or "1.2", "1.3") default to TLS 1.3 only; `session_ticket_extension` and
    `extended_master_secret` shape a hello that offers TLS 1.2 (Go sends the
    SessionTicket extension only with a session cache). `ech_config_list` (an
    ECHConfigList) makes it offer ECH with the first config it can use, and TLS 1.3
    only, as Go does.
    """

    server_name: str | None = None
    roots: Sequence[x509.Certificate] = ()
    insecure_skip_verify: bool = False
    cipher_suites: Sequence[str | int] = DEFAULT_SUITES_ALL
    groups: Sequence[str | int] = field(default_factory=default_groups)
    key_share_groups: Sequence[str | int] | None = None
    signature_algorithms: Sequence[int] = sigschemes.DEFAULT_SCHEMES
    alpn: Sequence[str] = ()
    certificate: Credential | None = None
    compatibility_mode: bool = True
    psk_modes: Sequence[int] = (ext.PSK_DHE_KE,)
    early_data: bytes | None = None
    min_version: int | str = m.TLS13
    max_version: int | str = m.TLS13
    session_ticket_extension: bool = True
    extended_master_secret: bool = True
    misbehaviour: Misbehaviour = field(default_factory=Misbehaviour)
    ech_config_list: bytes | None = None

    def __post_init__(self) -> None:
        if self.server_name is None and not self.insecure_skip_verify:
            raise ValueError("tls: either server_name or insecure_skip_verify must be set")
        self.misbehaviour.check_role("client")
        self.versions = tls12.versions_between(tls12.version_id(self.min_version),
                                               tls12.version_id(self.max_version))
        self.ech: tuple[ech.ECHConfig, int, int] | None = None
        if self.ech_config_list is not None:
            # As Go's supportedVersions: a client offering ECH offers TLS 1.3 only.
            self.versions = [v for v in self.versions if v >= m.TLS13]
            self.ech = ech.pick_config(ech.parse_config_list(self.ech_config_list))
            if self.ech is None:
                raise ValueError("tls: EncryptedClientHelloConfigList contains no valid configs")
        elif self.misbehaviour.ech_outer_extensions is not None:
            raise ValueError("misbehaviour ech_outer_extensions needs an ECH client (ech_config_list)")
        if not self.versions:
            raise ValueError("tls: no supported versions satisfy MinVersion and MaxVersion")
        self.suite_ids = suite_ids(self.cipher_suites)
        self.group_ids = [groups.group_id(g) for g in self.groups]
        if self.key_share_groups is None:
            first = self.group_ids[0]
            shares = [first]
            if first == groups.X25519MLKEM768 and groups.X25519 in self.group_ids:
                shares.append(groups.X25519)
        else:
            shares = [groups.group_id(g) for g in self.key_share_groups]
        for g in shares:
            reason = groups.unavailable_reason(g)
            if reason is not None:
                raise ValueError(f"key share for {groups.GROUP_NAMES.get(g, g)}: {reason}")
        self.share_ids = shares


class ClientEngine(Client12, Engine):
    """One client connection. `tickets` (TLS 1.3) are offered for resumption, in
    order; `session12` is a TLS 1.2 session to resume, by its ticket or, without
    one, by its session ID. Either is left out when the hello cannot use it (as
    Go: another version, no suite to resume it with)."""

    role = "client"

    def __init__(self, config: ClientConfig, *, tickets: Sequence[ClientTicket] = (),
                 session12: ClientSession12 | None = None,
                 rand: Rand | None = None, now: Now | None = None,
                 keylog: KeyLogWriter | None = None, hooks: Hooks | None = None) -> None:
        super().__init__(rand=rand, now=now, keylog=keylog,
                         hooks=compose(config.misbehaviour.hooks("client"), hooks))
        self.config = config
        now_s = self.now()
        offered = {s for s in config.suite_ids if s in SUITE_BY_ID and SUITE_BY_ID[s].tls13}
        if m.TLS13 not in config.versions:
            tickets = ()
        # A ticket too big for the ClientHello's 64 KiB extensions block cannot be
        # offered at all; it is left out rather than failing the hello.
        self._tickets = [t for t in tickets if len(t.ticket) <= _MAX_OFFERED_TICKET
                         and not t.expired(now_s) and t.cipher_suite in SUITE_BY_ID and any(
            SUITE_BY_ID[s].prf_hash == SUITE_BY_ID[t.cipher_suite].prf_hash for s in offered)]
        if session12 is not None and (session12.version not in config.versions
                                      or session12.cipher_suite not in config.suite_ids
                                      or len(session12.ticket) > _MAX_OFFERED_TICKET):
            session12 = None
        self._session12 = session12
        self._by_identity = {t.ticket: t for t in self._tickets}
        self._state = "start"
        self._plain_version = 0x0301  # Go's record version before the ServerHello
        self._shares: list[groups.KeyShare] = []
        self._ch1: m.ClientHello | None = None
        self._ch_sent: m.ClientHello | None = None
        self._ch1_raw = b""
        self._hrr: m.ServerHello | None = None
        self._hrr_raw = b""
        self._ccs_sent = False
        self._early_offered = False
        self._early_accepted = False
        self._psk_ticket: ClientTicket | None = None
        self._selected_identity: int | None = None
        self._group: int | None = None
        self._alpn: str | None = None
        self._cert_request: m.CertificateRequest | None = None
        self._peer_chain: list[bytes] = []
        self._peer_key = None
        self._peer_scheme: int | None = None
        self._verified = False
        self._hs_secrets = (b"", b"")
        self._app_secrets = (b"", b"")
        self._early_secret = b""
        self._resumption_secret = b""
        self._certificate_sent = False
        # pipeline_second_client_hello: (hello, encoding, group) sent ahead of the HRR.
        self._pipelined: tuple[m.ClientHello, bytes, int] | None = None
        self._pipelined_shares: list[groups.KeyShare] = []
        self._ech = None if config.ech is None else ech.ClientOffer(*config.ech)
        self.ech_accepted = False
        self._ech_outer = b""  # the ClientHelloOuter sent last: the handshake's if the server rejects
        self._outer_messages: list[bytes] = []  # the transcript of the outer hellos, for a rejection
        self.ech_rejected = False  # the server answered the outer hello; the handshake goes on with it
        #: The retry configs (an ECHConfigList) of the server's EncryptedExtensions after a
        #: rejection; set (possibly empty) when the handshake ended in the rejection error.
        self.ech_retry_configs: bytes | None = None
        self._retry_configs = b""  # read from EncryptedExtensions, given out once the handshake ends

    # ------------------------------------------------------------------
    # ClientHello
    # ------------------------------------------------------------------

    def start(self) -> None:
        """Queue ClientHello 1 (and 0-RTT data, if any)."""
        if self._state != "start":
            raise UnexpectedMessage("tls: client already started")
        cfg = self.config
        offer13, offer12 = m.TLS13 in cfg.versions, m.TLS12 in cfg.versions
        s12 = self._session12
        random = self.rand(32)
        if s12 is not None and not s12.ticket and s12.session_id:
            session_id = s12.session_id  # RFC 5246 session-ID resumption
        elif cfg.compatibility_mode or s12 is not None:
            session_id = self.rand(32)  # RFC 5077 §3.4: detects the server's resumption
        else:
            session_id = b""
        self.client_random = random
        self._shares = [groups.generate(g, self.rand) for g in cfg.share_ids] if offer13 else []
        forced = cfg.misbehaviour.send_early_data is not None  # whatever the ticket allows
        early = bool(self._tickets) and (forced or (cfg.early_data is not None
                                                    and self._tickets[0].max_early_data_size > 0))
        group_ids = list(cfg.group_ids) if offer13 else [
            g for g in cfg.group_ids if g in tls12.ECDHE_GROUPS]
        exts: list[ext.Extension] = []
        if cfg.server_name is not None:
            exts.append(ext.ServerName.for_host(cfg.server_name))
        exts.append(ext.SupportedGroups(group_ids))
        if offer12:
            exts.append(ext.EcPointFormats([0]))
            if cfg.session_ticket_extension:
                exts.append(ext.SessionTicket(s12.ticket if s12 is not None else b""))
        exts.append(ext.SignatureAlgorithms(list(cfg.signature_algorithms)))
        if cfg.alpn:
            exts.append(ext.ALPN([p.encode() for p in cfg.alpn]))
        if offer12:
            drop = cfg.misbehaviour.omit_ems or (s12 is not None and cfg.misbehaviour.drop_ems_on_resume)
            if cfg.extended_master_secret and not drop:
                exts.append(ext.ExtendedMasterSecret())
            exts.append(ext.RenegotiationInfo(b""))
        exts.append(ext.SupportedVersionsClient(list(cfg.versions)))
        if offer13:
            exts.append(ext.KeyShareClient([ext.KeyShareEntry(s.group, s.public)
                                            for s in self._shares]))
        if early:
            exts.append(ext.EarlyData())
        if offer13 and cfg.psk_modes:
            exts.append(ext.PskKeyExchangeModes(list(cfg.psk_modes)))
        if self._tickets:
            now = self.now()
            exts.append(ext.PreSharedKeyClient(
                [ext.PskIdentity(t.ticket, t.obfuscated_age(now)) for t in self._tickets],
                [bytes(SUITE_BY_ID[t.cipher_suite].hash_len) for t in self._tickets]))
        if self._ech is not None:
            exts = self._inner_layout(exts)
        suites = [s for s in cfg.suite_ids if suite_offered(s, cfg.versions)]
        hello = m.ClientHello(random, session_id, suites, exts)
        raw = self._send_hello("client_hello_1", hello)
        self._ch1_raw = raw
        self._ch1 = self._ch_sent
        self._state = "wait_sh"
        if self._ch_sent.has(ext.EXT_EARLY_DATA) and self._psk_first_is_ours():
            self._send_early_data()
        self._early_offered = bool(self._early_secret)
        if cfg.misbehaviour.pipeline_second_client_hello is not None:
            self._pipeline_second_hello(groups.group_id(cfg.misbehaviour.pipeline_second_client_hello))

    def _second_hello(self, group: int | None, cookie: bytes | None, suite: CipherSuite | None) -> m.ClientHello:
        """ClientHello 1 as sent (misbehaviours included) with only the changes
        RFC 8446 §4.1.2 allows: a share for the group the HRR selected, its
        cookie, no early_data, PSKs the suite can use; then second_client_hello."""
        hello = m.clone(self._ch1)
        if hello.extensions is None:
            hello.extensions = []
        exts = hello.extensions
        if group is not None:
            self._share_for(exts, [group], add=False)
        exts[:] = [e for e in exts if e.ext_type not in (ext.EXT_EARLY_DATA, ext.EXT_COOKIE)]
        if cookie is not None:
            at = next((i for i, e in enumerate(exts) if e.ext_type in
                       (ext.EXT_PSK_KEY_EXCHANGE_MODES, ext.EXT_PRE_SHARED_KEY)), len(exts))
            exts.insert(at, ext.Cookie(cookie))
        if suite is None:
            exts[:] = [e for e in exts if e.ext_type != ext.EXT_PRE_SHARED_KEY]
        else:
            self._update_psk_after_hrr(exts, suite)
        fields = self.config.misbehaviour.second_client_hello or {}
        if "key_shares" in fields:
            self._share_for(exts, [groups.group_id(g) for g in fields["key_shares"]], add=True)
        if "cipher_suites" in fields:
            hello.cipher_suites = suite_ids(fields["cipher_suites"])
        if "session_id" in fields:
            hello.session_id = bytes.fromhex(fields["session_id"])
        if "random" in fields:
            hello.random = bytes.fromhex(fields["random"])
        if "legacy_version" in fields:
            hello.legacy_version = fields["legacy_version"]
        return hello

    def _share_for(self, exts: list[ext.Extension], group_ids: list[int], add: bool) -> None:
        """Fresh key shares for these groups, kept as the engine's and put in the
        hello's key_share (added first when it has none and `add`)."""
        self._shares = [groups.generate(g, self.rand) for g in group_ids]
        share = ext.KeyShareClient([ext.KeyShareEntry(s.group, s.public) for s in self._shares])
        at = [i for i, e in enumerate(exts) if e.ext_type == ext.EXT_KEY_SHARE]
        for i in at:
            exts[i] = share
        if not at and add:
            exts.insert(0, share)

    def _pipeline_second_hello(self, group: int) -> None:
        """ClientHello 2 for an HRR not yet received, in its own record; it joins
        the transcript when the HRR does (after it)."""
        first = self._shares
        hello = self._second_hello(group, None, None)
        self._pipelined_shares, self._shares = self._shares, first
        if self.hooks.mutate is not None:
            hello = self.hooks.mutate("client_hello_2", hello)
        raw = hello.encode()
        self._own_record(raw, 0x0303)
        self._plain_version = 0x0303  # as every record after the first ClientHello's
        self._pipelined = (hello, raw, group)

    def _inner_layout(self, exts: list[ext.Extension]) -> list[ext.Extension]:
        """The hello that becomes ClientHelloInner: server_name, the inner
        encrypted_client_hello, then one run of the extensions the outer hello
        repeats, then early_data and pre_shared_key (RFC 9849 §5.1)."""
        kept = (ext.EXT_SERVER_NAME, ext.EXT_EARLY_DATA, ext.EXT_PRE_SHARED_KEY)
        run: list[ext.Extension] = [e for e in exts if e.ext_type not in kept]
        if self.config.misbehaviour.ech_outer_extensions == "self_reference":
            run.insert(0, ext.UnknownExtension(ech.EXT_ECH_OUTER_EXTENSIONS, b""))
        return ([e for e in exts if e.ext_type == ext.EXT_SERVER_NAME]
                + [ext.UnknownExtension(ech.EXT_ENCRYPTED_CLIENT_HELLO, ech.INNER_EXTENSION_DATA)] + run
                + [e for e in exts if e.ext_type in (ext.EXT_EARLY_DATA, ext.EXT_PRE_SHARED_KEY)])

    def _psk_first_is_ours(self) -> bool:
        psk = self._ch_sent.find(ext.PreSharedKeyClient) if self._ch_sent else None
        return bool(psk and psk.identities and psk.identities[0].identity in self._by_identity)

    def _send_hello(self, name: str, hello: m.ClientHello) -> bytes:
        """mutate, then binders, then after_binders; returns what was sent."""
        if self.hooks.mutate is not None:
            hello = self.hooks.mutate(name, hello)
        raw = self._bind(hello)
        if self.hooks.after_binders is not None:
            hello = self.hooks.after_binders(name, hello)
            raw = hello.encode()
        self._ch_sent = hello
        if self._ech is not None and not self.ech_rejected:
            # The inner hello is the transcript's if the server accepts; the wire
            # carries the outer one, sealing it. The outer transcript is kept too,
            # for a server that answers the outer hello.
            second = name == "client_hello_2"
            outer_random = self._ech_outer[6:38] if second else self.rand(32)
            outer = self._ech.seal(raw, outer_random, self.rand, self.config.misbehaviour.ech_outer_extensions,
                                   second=second)
            self._ech_outer = outer
            self._outer_messages.append(outer)
            self.client_random = self._ech.inner_random  # Go logs keys under the inner random
            self.transcript.add(raw)
            self._queue_handshake(name, outer, transcript=False)
            return raw
        self._queue_handshake(name, raw)
        return raw

    def _bind(self, hello: m.ClientHello) -> bytes:
        """Fill in the binder of every identity that is one of our tickets; the
        hello's encoding, binders in."""
        psk = next((e for e in hello.extensions or () if isinstance(e, ext.PreSharedKeyClient)),
                   None)
        raw, offset = hello.encode_with_binders_offset()
        if psk is None or offset is None:
            return raw
        prefix = raw[:offset]
        unbound = psk.encode_binders()
        for i, identity in enumerate(psk.identities):
            ticket = self._by_identity.get(identity.identity)
            if ticket is None or i >= len(psk.binders):
                continue
            h = SUITE_BY_ID[ticket.cipher_suite].prf_hash
            before = ([m.MessageHash.of(h, self._ch1_raw).encode(), self._hrr_raw]
                      if self._hrr is not None else [])
            digest = Transcript.of(h, before, prefix)
            binder_key = Tls13KeySchedule(h, ticket.psk).binder_key()
            psk.binders[i] = finished_verify_data(h, binder_key, digest)
        bound = psk.encode_binders()
        first = next(e for e in hello.extensions or () if e.ext_type == ext.EXT_PRE_SHARED_KEY)
        if first is not psk or len(bound) != len(unbound):
            return hello.encode()  # the offset is another extension's, or a binder changed length
        return prefix + bound + raw[offset + len(unbound):]

    def _send_early_data(self) -> None:
        ticket = self._tickets[0]
        suite = SUITE_BY_ID[ticket.cipher_suite]
        schedule = Tls13KeySchedule(suite.prf_hash, ticket.psk)
        secret = schedule.client_early_traffic_secret(Transcript.of(suite.prf_hash, [self._ch1_raw]))
        self._early_secret = secret
        self.keylog("CLIENT_EARLY_TRAFFIC_SECRET", secret)
        if self.config.compatibility_mode:
            self._send_ccs_once()  # RFC 8446 §D.4: right after ClientHello when sending 0-RTT
        self._set_write(secret, suite)
        forced = self.config.misbehaviour.send_early_data
        data = (forced.encode() if forced is not None
                else (self.config.early_data or b"")[:ticket.max_early_data_size])
        if data:
            self._send_record(APPLICATION_DATA, data)

    def _send_ccs_once(self) -> None:
        if not self._ccs_sent:
            self._ccs_sent = True
            self._send_ccs()

    # ------------------------------------------------------------------
    # Dispatch
    # ------------------------------------------------------------------

    def _handle_handshake(self, msg_type: int, body: bytes, raw: bytes) -> None:
        if self.version == m.TLS12:
            self._handle12(msg_type, body, raw)
            return
        state = self._state
        if state == "connected":
            if msg_type == m.NEW_SESSION_TICKET:
                self._on_ticket(m.NewSessionTicket.decode(body))
                return
            raise UnexpectedMessage(f"tls: unexpected post-handshake message type {msg_type}")
        expected = {"wait_sh": (m.SERVER_HELLO,), "wait_ee": (m.ENCRYPTED_EXTENSIONS,),
                    "wait_cert_cr": (m.CERTIFICATE, m.CERTIFICATE_REQUEST),
                    "wait_cert": (m.CERTIFICATE,), "wait_cv": (m.CERTIFICATE_VERIFY,),
                    "wait_finished": (m.FINISHED,)}.get(state, ())
        if msg_type not in expected:
            raise UnexpectedMessage(f"tls: unexpected handshake message type {msg_type} "
                                    f"in state {state}")
        if msg_type == m.SERVER_HELLO:
            self._on_server_hello(m.ServerHello.decode(body), raw)
        elif msg_type == m.ENCRYPTED_EXTENSIONS:
            self._on_encrypted_extensions(m.EncryptedExtensions.decode(body), raw)
        elif msg_type == m.CERTIFICATE_REQUEST:
            self._on_certificate_request(m.CertificateRequest.decode(body), raw)
        elif msg_type == m.CERTIFICATE:
            self._on_certificate(m.Certificate.decode(body), raw)
        elif msg_type == m.CERTIFICATE_VERIFY:
            self._on_certificate_verify(m.CertificateVerify.decode(body), raw)
        else:
            self._on_finished(m.Finished.decode(body), raw)

    def _handshake_in_progress_ccs_ok(self) -> bool:
        return self._state not in ("start", "connected")

    # ------------------------------------------------------------------
    # ServerHello and HelloRetryRequest
    # ------------------------------------------------------------------

    def _check_hello_common(self, sh: m.ServerHello) -> CipherSuite:
        version = sh.find(ext.SupportedVersionsServer)
        if version is None:
            raise ProtocolVersion(f"tls: server selected unsupported protocol version "
                                  f"{sh.legacy_version:x}")
        if version.version != m.TLS13 or sh.legacy_version != m.TLS12:
            raise IllegalParameter(f"tls: server selected unsupported protocol version "
                                   f"{version.version:x}")
        if sh.session_id != self._ch1.session_id:
            raise IllegalParameter("tls: server did not echo the legacy session ID")
        if sh.compression_method != 0:
            raise IllegalParameter("tls: server selected unsupported compression format")
        if sh.duplicate_types():
            raise IllegalParameter("tls: server sent duplicate extensions")
        suite = SUITE_BY_ID.get(sh.cipher_suite)
        if suite is None or not suite.tls13 or sh.cipher_suite not in self._ch_sent.cipher_suites:
            raise IllegalParameter("tls: server chose an unconfigured cipher suite")
        if self._hrr is not None and sh.cipher_suite != self._hrr.cipher_suite:
            raise IllegalParameter("tls: server changed cipher suite after a HelloRetryRequest")
        return suite

    def _negotiated_version(self, sh: m.ServerHello) -> int:
        """The version of the first ServerHello (or HRR): supported_versions, else
        legacy_version, which may only say TLS 1.2 (RFC 8446 §4.2.1)."""
        if sh.find(ext.SupportedVersionsServer) is None and not sh.is_hello_retry_request:
            if sh.legacy_version == m.TLS12 and m.TLS12 in self.config.versions:
                return m.TLS12
            raise ProtocolVersion(f"tls: server selected unsupported protocol version "
                                  f"{sh.legacy_version:x}")
        if m.TLS13 not in self.config.versions:
            raise ProtocolVersion("tls: server selected unsupported protocol version 304")
        return m.TLS13

    def _on_server_hello(self, sh: m.ServerHello, raw: bytes) -> None:
        if self.version is None:
            self.version = self._negotiated_version(sh)
            if self.version == m.TLS12:
                self._on_server_hello12(sh, raw)
                return
        suite = self._check_hello_common(sh)
        self._plain_version = 0x0303
        if sh.is_hello_retry_request:
            self._on_hello_retry_request(sh, raw, suite)
            return
        if self._ech is not None and not self.ech_rejected:
            self._check_ech_accepted(raw, suite)
        allowed = {ext.EXT_SUPPORTED_VERSIONS, ext.EXT_KEY_SHARE, ext.EXT_PRE_SHARED_KEY}
        self._check_unsolicited(sh, allowed, "ServerHello")
        if self.suite is None:
            self.suite = suite
            self.transcript.set_hash(suite.prf_hash)
        psk_ext = sh.find(ext.PreSharedKeyServer)
        psk = None
        if psk_ext is not None:
            offered = self._ch_sent.find(ext.PreSharedKeyClient)
            index = psk_ext.selected_identity
            if offered is None or index >= len(offered.identities):
                raise IllegalParameter("tls: server selected an invalid PSK")
            ticket = self._by_identity.get(offered.identities[index].identity)
            if ticket is None or SUITE_BY_ID[ticket.cipher_suite].prf_hash != suite.prf_hash:
                raise IllegalParameter("tls: server selected an invalid PSK and cipher suite pair")
            self._psk_ticket, self._selected_identity, psk = ticket, index, ticket.psk
        share = sh.find(ext.KeyShareServer)
        shared = None
        if share is not None:
            mine = next((s for s in self._shares if s.group == share.share.group), None)
            if mine is None:
                raise IllegalParameter("tls: server selected unsupported group")
            shared = mine.shared_secret(share.share.key_exchange)
            self._group = mine.group
        elif psk is None:
            raise MissingExtension("tls: server did not send a key share")
        else:
            modes = self._ch_sent.find(ext.PskKeyExchangeModes)
            if modes is None or ext.PSK_KE not in modes.modes:
                raise MissingExtension("tls: server did not send a key share")
        self.transcript.add(raw)
        self.schedule = Tls13KeySchedule(suite.prf_hash, psk)
        self.schedule.derive_handshake_secret(shared)
        digest = self.transcript.digest()
        chts = self.schedule.client_handshake_traffic_secret(digest)
        shts = self.schedule.server_handshake_traffic_secret(digest)
        self._hs_secrets = (chts, shts)
        self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", chts)
        self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", shts)
        if self.config.compatibility_mode:
            self._send_ccs_once()
        self._set_read(shts)
        if not self._early_offered:
            self._set_write(chts)
        self._state = "wait_ee"

    def _check_ech_accepted(self, raw: bytes, suite: CipherSuite) -> None:
        """RFC 9849 §6.1.4: the last 8 bytes of ServerHello.random confirm acceptance,
        over the inner transcript with those bytes zeroed. Without them the server
        answered ClientHelloOuter: as Go's client (handshake_client_tls13.go), the
        handshake goes on over the outer hello, the certificate is checked against the
        config's public name, no client certificate is sent, and after its Finished the
        client sends ech_required and fails with the server's retry configs (§6.1.6)."""
        zeroed = raw[:30] + bytes(ech.CONFIRMATION_LEN) + raw[38:]
        digest = Transcript.of(suite.prf_hash, self.transcript.messages, zeroed)  # the inner one
        expected = ech.accept_confirmation(suite.prf_hash, self._ech.inner_random, digest)
        if ech.confirms(expected, raw[30:38]):
            self.ech_accepted = True
            return
        self._go_outer(suite)

    def _go_outer(self, suite: CipherSuite | None) -> None:
        """The server answered the outer hellos: theirs is the transcript from now on."""
        self.ech_rejected, self.ech_accepted = True, False
        self._ch1 = m.ClientHello.decode(self._outer_messages[0][4:], raw_extensions=True)
        self._ch_sent = m.ClientHello.decode(self._ech_outer[4:], raw_extensions=True)
        self._ch1_raw = self._outer_messages[0]
        self.client_random = self._ch_sent.random  # the keys are the outer hello's, logged under its random
        self.transcript = Transcript()
        if suite is not None and self._hrr is not None:
            self.transcript.set_hash(suite.prf_hash)
        for message in self._outer_messages:
            self.transcript.add(message)

    def _on_hello_retry_request(self, hrr: m.ServerHello, raw: bytes, suite: CipherSuite) -> None:
        if self._hrr is not None:
            raise UnexpectedMessage("tls: server sent two HelloRetryRequest messages")
        allowed = {ext.EXT_SUPPORTED_VERSIONS, ext.EXT_KEY_SHARE, ext.EXT_COOKIE}
        if self._ech is not None:
            allowed.add(ech.EXT_ENCRYPTED_CLIENT_HELLO)
        self._check_unsolicited(hrr, allowed, "HelloRetryRequest")
        group_ext = hrr.find(ext.KeyShareHelloRetry)
        cookie = hrr.find(ext.Cookie)
        if group_ext is None and cookie is None:
            raise IllegalParameter("tls: server sent an unnecessary HelloRetryRequest message")
        self._hrr, self._hrr_raw = hrr, raw
        self.suite = suite
        if self._ech is not None:
            self._ech_after_hrr(hrr, raw, suite)
        self.transcript.set_hash(suite.prf_hash)
        self.transcript.replace_first_with_message_hash(suite.prf_hash)
        self.transcript.add(raw)
        group = None
        if group_ext is not None:
            group = group_ext.group
            supported = self._ch1.find(ext.SupportedGroups)
            if supported is None or group not in supported.groups:
                raise IllegalParameter("tls: server selected unsupported group")
            if any(s.group == group for s in self._shares):
                raise IllegalParameter("tls: server sent an unnecessary HelloRetryRequest key_share")
            if groups.unavailable_reason(group) is not None:
                raise IllegalParameter("tls: server selected unsupported group")
        if self._pipelined is not None and self._pipelined[2] == group and cookie is None:
            # ClientHello 2 is already on the wire: it goes in the transcript now.
            hello, raw, _ = self._pipelined
            self._shares = self._pipelined_shares
            self._ch_sent = hello
            self.transcript.add(raw)
            return
        hello = self._second_hello(group, cookie.cookie if cookie is not None else None, suite)
        if self._early_offered:
            # The 0-RTT data is lost; the handshake goes on under handshake keys.
            self._early_offered = False
            self._write, self._write_secret = None, b""
        if self.config.compatibility_mode:
            self._send_ccs_once()
        self._send_hello("client_hello_2", hello)

    def _ech_after_hrr(self, hrr: m.ServerHello, raw: bytes, suite: CipherSuite) -> None:
        """RFC 9849 §6.1.5, as Go's processHelloRetryRequest: an encrypted_client_hello
        in the HelloRetryRequest holds 8 bytes confirming acceptance, over the inner
        transcript with them zeroed. Accepted: the second hello is the inner one, sealed
        again. Otherwise the server answered the outer hello, and the second hello is
        the outer one with the HelloRetryRequest's changes (its ECH extension as it was)."""
        h = suite.prf_hash
        signal = hrr.find_raw(ech.EXT_ENCRYPTED_CLIENT_HELLO)
        if signal is not None:
            if len(signal) != ech.CONFIRMATION_LEN:
                raise DecodeError("tls: malformed encrypted client hello extension")
            zeroed = raw.replace(signal, bytes(ech.CONFIRMATION_LEN), 1)
            digest = Transcript.of(h, [m.MessageHash.of(h, self._ech.inner_raw).encode()], zeroed)
            if ech.confirms(ech.accept_confirmation(h, self._ech.inner_random, digest, after_hrr_request=True),
                            signal):
                self.ech_accepted = True
                self._outer_messages = [m.MessageHash.of(h, self._outer_messages[0]).encode(), raw]
                return
        self._go_outer(None)  # the transcript is the outer first hello's; the caller goes on from it

    def _update_psk_after_hrr(self, exts: list[ext.Extension], suite: CipherSuite) -> None:
        """New ages; identities whose PSK hash differs from the suite's are dropped
        (Go drops the PSK); binders are computed when the hello is sent."""
        at = next((i for i, e in enumerate(exts) if e.ext_type == ext.EXT_PRE_SHARED_KEY), None)
        if at is None:
            return
        psk = ext.typed(exts[at], ext.PreSharedKeyClient)
        now = self.now()
        ids, binders = [], []
        for i, identity in enumerate(psk.identities):
            ticket = self._by_identity.get(identity.identity)
            if ticket is not None:
                if SUITE_BY_ID[ticket.cipher_suite].prf_hash != suite.prf_hash:
                    continue
                identity = ext.PskIdentity(identity.identity, ticket.obfuscated_age(now))
            ids.append(identity)
            if i < len(psk.binders):
                binders.append(psk.binders[i])
        binders += psk.binders[len(psk.identities):]  # extra binders a misbehaviour added
        if not ids:
            del exts[at]
            return
        exts[at] = ext.PreSharedKeyClient(ids, binders)

    def _check_unsolicited(self, msg: m.HasExtensions, allowed: set[int], where: str) -> None:
        # A cookie is the one extension a server may send unasked (RFC 8446 §4.2).
        sent = set(self._ch_sent.extension_types()) | {ext.EXT_COOKIE}
        for t in msg.extension_types():
            if t not in sent:
                raise UnsupportedExtension(f"tls: server sent an unsolicited extension {t} "
                                           f"in {where}")
            if t not in allowed:
                raise IllegalParameter(f"tls: server sent extension {t} in {where}")

    # ------------------------------------------------------------------
    # Server parameters and authentication
    # ------------------------------------------------------------------

    def _on_encrypted_extensions(self, ee: m.EncryptedExtensions, raw: bytes) -> None:
        forbidden = {ext.EXT_KEY_SHARE, ext.EXT_PRE_SHARED_KEY, ext.EXT_SUPPORTED_VERSIONS,
                     ext.EXT_COOKIE, ext.EXT_PSK_KEY_EXCHANGE_MODES, ext.EXT_SIGNATURE_ALGORITHMS,
                     ext.EXT_SIGNATURE_ALGORITHMS_CERT, ext.EXT_STATUS_REQUEST, ext.EXT_SCT}
        sent = set(self._ch_sent.extension_types())
        for t in ee.extension_types():
            if t in forbidden:
                raise IllegalParameter(f"tls: server sent extension {t} in EncryptedExtensions")
            if t not in sent:
                raise UnsupportedExtension(f"tls: server sent an unsolicited extension {t} "
                                           "in EncryptedExtensions")
        if ee.duplicate_types():
            raise IllegalParameter("tls: server sent duplicate extensions")
        alpn = ee.find(ext.ALPN)
        if alpn is not None:
            offered = self._ch_sent.find(ext.ALPN)
            if len(alpn.protocols) != 1 or offered is None or alpn.protocols[0] not in offered.protocols:
                raise IllegalParameter("tls: server selected unadvertised ALPN protocol")
            self._alpn = alpn.protocols[0].decode("latin-1")
        self._early_accepted = ee.has(ext.EXT_EARLY_DATA)
        if self._early_accepted and (self._selected_identity != 0):
            raise IllegalParameter("tls: server accepted 0-RTT without the first PSK")
        if self._early_offered and not self._early_accepted:
            self._set_write(self._hs_secrets[0])
        retry = ee.find_raw(ech.EXT_ENCRYPTED_CLIENT_HELLO)
        if self.ech_rejected:
            self._retry_configs = retry if retry is not None else b""
        elif retry is not None:  # an accepted offer (without one, the check above refused it)
            raise UnsupportedExtension("tls: server sent encrypted client hello retry configs after accepting "
                                       "encrypted client hello")
        self.transcript.add(raw)
        self._state = "wait_finished" if self._psk_ticket is not None else "wait_cert_cr"

    def _on_certificate_request(self, cr: m.CertificateRequest, raw: bytes) -> None:
        if cr.context:
            raise IllegalParameter("tls: non-empty certificate_request_context in the handshake")
        if cr.find(ext.SignatureAlgorithms) is None:
            raise MissingExtension("tls: CertificateRequest without signature_algorithms")
        self._cert_request = cr
        self.transcript.add(raw)
        self._state = "wait_cert"

    def _on_certificate(self, cert: m.Certificate, raw: bytes) -> None:
        if cert.context:
            raise IllegalParameter("tls: server Certificate has a request context")
        if not cert.entries:
            raise DecodeError("tls: received empty certificates message")
        chain = cert.chain
        parsed = parse_chain(chain)
        if not self.config.insecure_skip_verify:
            host = self._ech.config.public_name if self.ech_rejected else self.config.server_name
            verify_chain(chain, self.config.roots, self.now(), host, "server")
            self._verified = True
        self._peer_chain = chain
        self._peer_key = parsed[0].public_key()
        self.transcript.add(raw)
        self._state = "wait_cv"

    def _on_finished(self, fin: m.Finished, raw: bytes) -> None:
        h = self._suite.prf_hash
        chts, shts = self._hs_secrets
        expected = finished_verify_data(h, shts, self.transcript.digest())
        if fin.verify_data != expected:
            raise DecryptError("tls: invalid server finished hash")
        self.transcript.add(raw)
        self.schedule.derive_master_secret()
        digest = self.transcript.digest()
        cats = self.schedule.client_application_traffic_secret_0(digest)
        sats = self.schedule.server_application_traffic_secret_0(digest)
        self.exporter_secret = self.schedule.exporter_master_secret(digest)
        self.keylog("CLIENT_TRAFFIC_SECRET_0", cats)
        self.keylog("SERVER_TRAFFIC_SECRET_0", sats)
        self._set_read(sats)
        if self._early_accepted:
            # Still under the early traffic key; then the handshake key.
            self._write_handshake("end_of_early_data", m.EndOfEarlyData())
            if self._early_offered:
                self._set_write(chts)
        if self._cert_request is not None:
            self._send_client_certificate()
        verify = finished_verify_data(h, chts, self.transcript.digest())
        self._write_handshake("finished", m.Finished(verify))
        self._set_write(cats)
        if self.ech_rejected:
            self.ech_retry_configs = self._retry_configs
            raise TLSError("tls: server rejected ECH", alert=ech.ALERT_ECH_REQUIRED)
        self._resumption_secret = self.schedule.resumption_master_secret(self.transcript.digest())
        self._state = "connected"
        self._finish_handshake(self._connection_info())

    def _send_client_certificate(self) -> None:
        cr = self._cert_request
        cred = None if self.ech_rejected else self.config.certificate  # not to the outer hello's server
        accepted = cr.find(ext.SignatureAlgorithms).schemes
        scheme = None
        if cred is not None:
            scheme = next((s for s in accepted if s in cred.schemes
                           and s in sigschemes.CERTIFICATE_VERIFY_SCHEMES), None)
        if cred is None or scheme is None:
            self._write_handshake("certificate", m.Certificate(cr.context, []))
            return
        self._write_handshake("certificate", m.Certificate.from_chain(cred.chain, cr.context))
        self._certificate_sent = True
        content = sigschemes.signed_content(False, self.transcript.digest())
        self._write_handshake("certificate_verify",
                              m.CertificateVerify(scheme, cred.sign(scheme, content)))

    def _connection_info(self) -> ConnectionInfo:
        return ConnectionInfo(
            role="client", version=m.TLS13, cipher_suite=self._suite.id, group=self._group,
            resumed=self._psk_ticket is not None, hello_retry_request=self._hrr is not None,
            alpn=self._alpn, server_name=self.config.server_name,
            peer_chain=list(self._peer_chain), verified=self._verified,
            signature_scheme=self._peer_scheme, selected_identity=self._selected_identity,
            early_data_offered=self._ch1.has(ext.EXT_EARLY_DATA),
            early_data_accepted=self._early_accepted, client_random=self.client_random,
            session_id=self._ch1.session_id, client_certificate_sent=self._certificate_sent)

    # ------------------------------------------------------------------
    # Tickets
    # ------------------------------------------------------------------

    def _on_ticket(self, nst: m.NewSessionTicket) -> None:
        if nst.lifetime == 0:
            return  # RFC 8446 §4.6.1: discard at once
        if nst.lifetime > MAX_TICKET_LIFETIME:
            raise IllegalParameter("tls: received a session ticket with invalid lifetime")
        early = nst.find(ext.EarlyDataTicket)
        suite = self._suite
        ticket = ClientTicket(
            ticket=nst.ticket, psk=resumption_psk(suite.prf_hash, self._resumption_secret, nst.nonce),
            cipher_suite=suite.id, lifetime=nst.lifetime, age_add=nst.age_add, nonce=nst.nonce,
            received_at=self.now(), max_early_data_size=early.max_early_data_size if early else 0,
            server_name=self.config.server_name, alpn=self._alpn)
        self._events.append(NewTicket(ticket))
