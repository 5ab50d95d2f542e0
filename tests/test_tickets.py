"""Go's sealed tickets in Python (gomodel.tickets), against real Go servers of the oldest
and newest line: every ticket a Go server sealed under a known key opens, reads as that
release's session encoding and seals again to the same bytes; and whether a ticket of
release a resumes on release b is what the model predicts, for TLS 1.2 and 1.3."""
from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

import gomodel
from gomodel.tickets import TicketError, TicketKey, open_ticket, seal, uses_key_name
from tlsdiff import Run, load_cases
from tlsdiff.execute import ticket_key_hex
from tlsdiff.toolchains.cache import version_key
from tlsdiff.compat import tickets_sent

CASES = {"1.2": "tickets/tls12-cross-release-shared-key", "1.3": "tickets/tls13-cross-release-shared-key"}
FLEET_KEY = bytes.fromhex(ticket_key_hex("fleet"))  # the key those cases' servers share


@pytest.fixture(scope="module")
def observed(edge_releases) -> dict:
    """tls version -> {(a, b): (the ticket release a's server sealed, did b's server resume it)}."""
    out: dict = {}
    with Run(",".join(edge_releases.versions)) as run:
        result = run.run(load_cases(list(CASES.values())))
    for tls, case_id in CASES.items():
        runs = [r for r in result.runs if r.case.id == case_id]
        out[tls] = {r.key: (tickets_sent(r.steps[0].server)[-1], r.steps[1].server["state"]["DidResume"])
                    for r in runs}
    return out


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_go_tickets_open_read_and_seal_again_byte_for_byte(observed, tls: str) -> None:
    for (a, _), (ticket, _) in observed[tls].items():
        opened = open_ticket(ticket, [FLEET_KEY], a)
        if version_key(a) >= version_key("1.21"):
            session = gomodel.decode(opened.plaintext, a)
            assert session.type == gomodel.SERVER and session.version == (0x0303 if tls == "1.2" else 0x0304), a
            plaintext = gomodel.encode(session, a)
        else:  # 1.19/1.20's own layouts
            old = gomodel.legacy.decode(opened.plaintext)
            assert old.version == (0x0303 if tls == "1.2" else 0x0304), a
            plaintext = gomodel.legacy.encode(old)
        assert plaintext == opened.plaintext, a  # read and written again, byte for byte
        assert seal(plaintext, FLEET_KEY, opened.iv, a) == ticket, a


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_which_tickets_resume_across_releases_is_what_the_model_says(observed, tls: str) -> None:
    for (a, b), (ticket, resumed) in observed[tls].items():
        try:
            opened = open_ticket(ticket, [FLEET_KEY], b)
            model = version_key(b) < version_key("1.21") or gomodel.parse(opened.plaintext, b).error is None
        except TicketError:
            model = False
        assert model == resumed, (tls, a, b)


def test_a_wrong_key_a_short_ticket_and_a_foreign_format_say_why() -> None:
    plaintext = b"\x03\x04" + bytes(40)
    new = seal(plaintext, FLEET_KEY, bytes(16), "1.27")
    old = seal(plaintext, FLEET_KEY, bytes(16), "1.19")
    with pytest.raises(TicketError, match="MAC matches no key"):
        open_ticket(new, [bytes(32)], "1.27")
    with pytest.raises(TicketError, match="shorter than the 48"):
        open_ticket(new[:40], [FLEET_KEY], "1.27")
    with pytest.raises(TicketError, match="no key has the key name"):
        open_ticket(new, [FLEET_KEY], "1.19")
    # Under the same key an old ticket passes the new MAC check (it covers the same bytes),
    # opens to garbage, and the session parser refuses it.
    garbage = open_ticket(old, [FLEET_KEY], "1.27").plaintext
    assert garbage != plaintext and gomodel.parse(garbage, "1.27").error is not None
    with pytest.raises(TicketError, match="32 bytes"):
        TicketKey.from_bytes(b"short")
    assert open_ticket(new, [bytes(32), FLEET_KEY], "1.27").key_index == 1  # every key is tried, in order
    assert uses_key_name("1.20.14") and not uses_key_name("1.21.0")


@given(plaintext=st.binary(max_size=600), iv=st.binary(min_size=16, max_size=16), key=st.binary(min_size=32, max_size=32),
       release=st.sampled_from(["1.19.8", "1.20.14", "1.21.13", "1.27.3"]))
def test_seal_then_open_is_the_identity(plaintext: bytes, iv: bytes, key: bytes, release: str) -> None:
    opened = open_ticket(seal(plaintext, key, iv, release), [key], release)
    assert (opened.plaintext, opened.iv, opened.key_index) == (plaintext, iv, 0)


@given(ticket=st.binary(max_size=200))
def test_any_bytes_open_or_say_why(ticket: bytes) -> None:
    for release in ("1.19", "1.27"):
        try:
            open_ticket(ticket, [FLEET_KEY], release)
        except TicketError as exc:
            assert str(exc) and "\n" not in str(exc)


# ---------------------------------------------------------------- tlsdiff ticket inspect


def _inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "inspect", *args], capture_output=True,
                          text=True, timeout=60)


def test_inspect_shows_a_real_ticket_and_says_why_another_release_would_not_open_it(observed, tmp_path) -> None:
    import json
    key = tmp_path / "fleet.key"
    key.write_text(FLEET_KEY.hex() + "\n")
    (newest, _), (ticket, _) = max(observed["1.3"].items(), key=lambda kv: version_key(kv[0][0]))
    p = _inspect("--key", str(key), "--go", newest, ticket.hex())
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout)
    assert found["session"]["version"] == 0x0304 and found["session"]["type"] == gomodel.SERVER
    assert found["key_index"] == 0 and found["length"] == len(ticket)
    as_base64 = _inspect("--key", str(key), "--go", newest, base64.urlsafe_b64encode(ticket).decode().rstrip("="))
    assert json.loads(as_base64.stdout) == found
    old = _inspect("--key", str(key), "--go", "1.19", ticket.hex())
    assert old.returncode == 1 and "a Go 1.19 server would not open this ticket: no key has the key name" in old.stderr
    (oldest, _), (old_ticket, _) = min(observed["1.3"].items(), key=lambda kv: version_key(kv[0][0]))
    p = _inspect("--key", str(key), "--go", oldest, old_ticket.hex())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["session"]["layout"] == "1.19/1.20 sessionStateTLS13"


@pytest.mark.parametrize("args, expected", [
    (["--go", "1.27", "00"], "the following arguments are required: --key"),
    (["--key", "/nonexistent", "--go", "1.27", "00"], "--key: '/nonexistent': no such file"),
    (["--key", "@short", "--go", "1.27", "00"], "expected a 32-byte session ticket key"),
    (["--key", "@nonhex", "--go", "1.27", "00"], "holds 64 characters that are not all hex digits"),
    (["--key", "@good", "--go", "1.9", "00"], "--go: '1.9' is not a Go release tlsdiff knows"),
    (["--key", "@good", "--go", "1.27", "%%%"], "TICKET: not hex or base64"),
])
def test_inspect_bad_input_is_one_line(tmp_path, args: list[str], expected: str) -> None:
    (tmp_path / "short").write_bytes(b"0123")
    (tmp_path / "nonhex").write_text("zz" * 32 + "\n")
    (tmp_path / "good").write_bytes(FLEET_KEY)
    args = [str(tmp_path / a[1:]) if a.startswith("@") else a for a in args]
    p = _inspect(*args)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and expected in p.stderr, p.stderr


def test_a_ticket_from_a_file_is_named_by_its_file_when_no_key_opens_it(observed, edge_releases, tmp_path) -> None:
    """A real ticket read with the wrong key: `inspect` answers no (exit 1), `convert` cannot
    (exit 2), and both name the file the ticket came from, not the argument's placeholder."""
    newest = edge_releases.versions[-1]
    wrong = tmp_path / "other.key"
    wrong.write_bytes(bytes(32))
    ticket = tmp_path / "from-the-capture.bin"
    ticket.write_bytes(observed["1.3"][(newest, newest)][0])
    looked = _inspect("--key", str(wrong), "--go", newest, f"@{ticket}")
    assert looked.returncode == 1 and looked.stdout == "", looked.stderr
    assert looked.stderr == f"tlsdiff: {ticket}: a Go {newest} server would not open this ticket: its MAC matches no key\n"
    converted = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "convert", "--key", str(wrong), "--from",
                                newest, "--to", newest, f"@{ticket}"], capture_output=True, text=True, timeout=60)
    assert converted.returncode == 2 and converted.stdout == "", converted.stderr
    assert converted.stderr == f"tlsdiff: {ticket}: a Go {newest} server would not open it: its MAC matches no key\n"


# ---------------------------------------------------------------- minted by Python, resumed by Go


@pytest.mark.parametrize("edge", ["oldest", "newest"])
def test_a_go_server_resumes_a_ticket_python_minted(edge_releases, edge: str) -> None:
    """A TLS 1.3 session encoded and sealed by gomodel under the server's key, offered by
    tlspeer's client: a Go server of the oldest and of the newest line resumes it. 1.21+
    keep the PSK in the session; 1.19/1.20 keep the resumption master secret and derive
    the PSK with the empty nonce Go servers send."""
    import os

    from tlsdiff import pki
    from tlspeer.keyschedule import resumption_psk

    NOW = pki.EPOCH.timestamp()
    release = edge_releases.versions[0 if edge == "oldest" else -1]
    secret = os.urandom(32)
    if uses_key_name(release):
        psk = resumption_psk("sha256", secret, b"")
        plaintext = gomodel.legacy.encode(gomodel.legacy.LegacySession(0x0304, 0x1301, int(NOW) - 60, secret))
    else:
        psk = secret
        plaintext = gomodel.encode(gomodel.Session(version=0x0304, type=gomodel.SERVER, cipher_suite=0x1301,
                                                   created_at=int(NOW) - 60, secret=secret), release)
    ticket = seal(plaintext, FLEET_KEY, os.urandom(16), release)
    server = _resume_with(release, edge_releases.binaries, ticket, psk, now=NOW)
    assert server["handshake_error"] is None and server["state"]["DidResume"] is True


# ---------------------------------------------------------------- tlsdiff ticket convert


def test_a_minted_tls12_ticket_is_resumed_as_a_go_client_offers_it(edge_releases, tmp_path) -> None:
    """A TLS 1.2 ticket minted for the newest release, offered with extended master secret (as
    every Go client from 1.21 offers it): resumed. Minted --no-ems, the same server declines it,
    as 1.21+ servers resume a session only as it was made (RFC 7627 §5.3). A first-use trial
    found the minted tickets never resumed: they were always minted without it."""
    import os

    from tlsdiff import pki
    newest = edge_releases.versions[-1]
    key = tmp_path / "fleet.key"
    key.write_bytes(FLEET_KEY)
    master, now = os.urandom(48), int(pki.EPOCH.timestamp())

    def minted(*extra: str) -> bytes:
        p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "mint", "--key", str(key), "--go", newest,
                            "--tls", "1.2", "--suite", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "--curve", "X25519",
                            "--secret", master.hex(), "--created-at", str(now - 60), *extra],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return base64.b64decode(p.stdout.strip())
    resumed = _resume_with(newest, edge_releases.binaries, minted(), master, now=now, tls12=True)
    assert resumed["handshake_error"] is None and resumed["state"]["DidResume"] is True, resumed
    declined = _resume_with(newest, edge_releases.binaries, minted("--no-ems"), master, now=now, tls12=True)
    assert declined["handshake_error"] is None and declined["state"]["DidResume"] is False, declined


def test_mint_refuses_what_no_go_session_holds(tmp_path) -> None:
    key = tmp_path / "fleet.key"
    key.write_bytes(FLEET_KEY)
    base = ["--key", str(key), "--go", "1.24", "--created-at", "1767225600"]
    cases = {
        "a TLS 1.2 suite left to the default": (["--tls", "1.2", "--secret", "00" * 48], "--suite: a TLS 1.2 session"),
        "a short PSK": (["--secret", "00" * 15], "--secret: 15 bytes; expected 32"),
        "a PSK of the wrong hash": (["--suite", "TLS_AES_256_GCM_SHA384", "--secret", "00" * 32],
                                    "--secret: 32 bytes; expected 48"),
        "a curve 1.24 does not record": (["--tls", "1.2", "--suite", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                          "--secret", "00" * 48, "--curve", "X25519"],
                                         "--curve: only a 1.25+ TLS 1.2 session records"),
        "no EMS for TLS 1.3": (["--secret", "00" * 32, "--no-ems"], "--no-ems: only a 1.21+ TLS 1.2 session"),
    }
    for name, (args, expected) in cases.items():
        p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "mint", *base, *args],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and expected in p.stderr, (name, p.stderr)


def test_a_ticket_file_may_hold_the_ticket_as_text(observed, edge_releases, tmp_path) -> None:
    """@FILE of the ticket as hex (as tshark prints it) reads as the same ticket as its bytes;
    an empty file is bad input, not a ticket no key opens."""
    import json
    newest = edge_releases.versions[-1]
    key = tmp_path / "fleet.key"
    key.write_bytes(FLEET_KEY)
    ticket = observed["1.3"][(newest, newest)][0]
    (tmp_path / "raw.bin").write_bytes(ticket)
    (tmp_path / "hex.txt").write_text(ticket.hex() + "\n")
    (tmp_path / "empty").write_bytes(b"")
    raw = _inspect("--key", str(key), "--go", newest, f"@{tmp_path / 'raw.bin'}")
    text = _inspect("--key", str(key), "--go", newest, f"@{tmp_path / 'hex.txt'}")
    assert raw.returncode == 0 and text.returncode == 0, raw.stderr + text.stderr
    assert json.loads(text.stdout) == json.loads(raw.stdout)
    empty = _inspect("--key", str(key), "--go", newest, f"@{tmp_path / 'empty'}")
    assert empty.returncode == 2 and "is empty; expected a ticket's bytes" in empty.stderr, empty.stderr


def _resume_with(release: str, binaries, ticket: bytes, psk: bytes, now: float, tls12: bool = False) -> dict:
    """Offer a ticket (with its PSK, or for TLS 1.2 its master secret, offering extended master
    secret as every Go client from 1.21 does) from tlspeer's client to a Go server of release
    that holds the fleet key."""
    from cryptography import x509

    from tlsdiff import pki
    from tlsdiff.peers.protocol import PeerProcess
    from tlspeer import ClientConfig, ClientSession12, ClientTicket, connect

    roots = tuple(x509.load_pem_x509_certificates(pki.root_pem("root-a").encode()))
    peer = PeerProcess(release, [str(binaries[release])])
    peer.start()
    try:
        ident = pki.identity("server")
        peer.call("configure", {"name": "conv-s", "role": "server", "config": {
            "certificates": [{"cert_pem": ident.chain_pem, "key_pem": ident.key_pem}],
            "ticket_keys": [FLEET_KEY.hex()]}})
        port = peer.call("listen", {"name": "conv-l", "endpoint": "conv-s"})["port"]
        accepted = peer.send("accept", {"listener": "conv-l", "conn_id": "conv", "time": int(now),
                                        "timeout_ms": 5000})
        if tls12:
            config = ClientConfig(server_name=pki.SERVER_NAME, roots=roots, min_version="1.2", max_version="1.2",
                                  cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])
            session = ClientSession12(master_secret=psk, cipher_suite=0xC02B, extended_master_secret=True,
                                      received_at=now - 60, ticket=ticket)
            conn = connect("127.0.0.1", port, config, session12=session, now=lambda: now, timeout=5)
        else:
            offered = ClientTicket(ticket=ticket, psk=psk, cipher_suite=0x1301, lifetime=604800, age_add=0,
                                   nonce=b"", received_at=now - 60)
            conn = connect("127.0.0.1", port, ClientConfig(server_name=pki.SERVER_NAME, roots=roots),
                           tickets=[offered], now=lambda: now, timeout=5)
        conn.send(b"tlsdiff-ping")
        conn.recv(12)
        conn.close()
        return peer.wait(accepted, 10)
    finally:
        peer.close()


def test_convert_a_real_1_19_ticket_so_the_newest_release_resumes_it(observed, edge_releases, tmp_path) -> None:
    """The real 1.19 TLS 1.3 ticket, converted: the newest Go server resumes what it would have refused."""
    from tlspeer.keyschedule import resumption_psk

    (oldest, newest) = edge_releases.versions
    old_ticket, resumed_before = observed["1.3"][(oldest, newest)]
    assert resumed_before is False
    key = tmp_path / "fleet.key"
    key.write_bytes(FLEET_KEY)
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "convert", "--key", str(key), "--from", oldest,
                        "--to", newest, old_ticket.hex()], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    converted = base64.b64decode(p.stdout.strip())
    session = gomodel.legacy.decode(open_ticket(old_ticket, [FLEET_KEY], oldest).plaintext)
    psk = resumption_psk("sha256", session.secret, b"")
    server = _resume_with(newest, edge_releases.binaries, converted, psk, now=session.created_at + 60)
    assert server["handshake_error"] is None and server["state"]["DidResume"] is True


def test_convert_says_why_not(observed, edge_releases, tmp_path) -> None:
    oldest, newest = edge_releases.versions
    key = tmp_path / "fleet.key"
    key.write_bytes(FLEET_KEY)
    tls12_ticket, _ = observed["1.2"][(newest, newest)]
    cases = {
        "into 1.19": (["--from", newest, "--to", "1.19"], observed["1.3"][(newest, newest)][0],
                      "--to: converting into the 1.19/1.20 layout is not supported"),
        "no curve": (["--from", "1.24", "--to", newest], None, "--curve:"),
        "wrong from": (["--from", oldest, "--to", newest], tls12_ticket, "a Go 1.19"),
    }
    # A TLS 1.2 session of 1.24 lacks the curve that 1.25+ record: make one under the fleet key.
    s24 = gomodel.Session(version=0x0303, type=gomodel.SERVER, cipher_suite=0xC02B, created_at=1767225600,
                          secret=bytes(48))
    cases["no curve"] = (cases["no curve"][0], seal(gomodel.encode(s24, "1.24"), FLEET_KEY, bytes(16), "1.24"),
                         cases["no curve"][2])
    for name, (args, ticket, expected) in cases.items():
        p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "convert", "--key", str(key), *args,
                            ticket.hex()], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and expected in p.stderr, (name, p.stderr)
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "convert", "--key", str(key), "--from", "1.24",
                        "--to", newest, "--curve", "X25519", cases["no curve"][1].hex()], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    converted = open_ticket(base64.b64decode(p.stdout.strip()), [FLEET_KEY], newest)
    assert gomodel.decode(converted.plaintext, newest).curve_id == 29


@pytest.mark.parametrize("edge", ["oldest", "newest"])
def test_mint_makes_a_ticket_the_release_resumes(edge_releases, tmp_path, edge: str) -> None:
    import os

    from tlsdiff import pki
    from tlspeer.keyschedule import resumption_psk

    release = edge_releases.versions[0 if edge == "oldest" else -1]
    key = tmp_path / "fleet.key"
    key.write_text(FLEET_KEY.hex())
    secret = os.urandom(32)
    now = int(pki.EPOCH.timestamp())
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "mint", "--key", str(key), "--go", release,
                        "--secret", secret.hex(), "--created-at", str(now - 60)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    psk = resumption_psk("sha256", secret, b"") if uses_key_name(release) else secret
    server = _resume_with(release, edge_releases.binaries, base64.b64decode(p.stdout.strip()), psk, now=now)
    assert server["handshake_error"] is None and server["state"]["DidResume"] is True


def test_a_release_past_what_the_model_was_read_from_is_answered_with_a_note(tmp_path) -> None:
    """A devel line's sources may have changed how it seals: the answer says it is the
    newest read line's, and bad input is still one line without the note."""
    key = tmp_path / "fleet.key"
    key.write_bytes(FLEET_KEY)
    newest = gomodel.READ_THROUGH
    devel = f"1.{int(newest.split('.')[1]) + 1}"

    def mint(release: str, secret: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tlsdiff.cli", "ticket", "mint", "--key", str(key), "--go", release,
                               "--secret", secret, "--created-at", "1767225600"], capture_output=True, text=True,
                              timeout=60)
    read, past, bad = mint(newest, "00" * 32), mint(devel, "00" * 32), mint(devel, "zz")
    assert read.returncode == 0 and read.stderr == ""
    assert past.returncode == 0 and past.stdout.strip()
    note = past.stderr.splitlines()
    assert len(note) == 1 and note[0].startswith(f"tlsdiff: note: --go {devel}:") and f"what {newest} would do" in note[0]
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "--secret" in bad.stderr
