"""`tlsdiff run --capture DIR`: each connection as a pcapng that Debian's tshark
decrypts from the file alone (the key log in its Decryption Secrets Block), on real
Go peers of the oldest and newest line and tlspeerd.

tshark runs with an empty configuration folder, so no keylog_file preference of
the user's can do the decrypting for it."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EDGE_RELEASES, REPO
from tlsdiff.runs import Releases, RunResult

TSHARK = shutil.which("tshark")


@pytest.fixture(autouse=True)
def _tshark() -> None:
    """Skip without tshark; in CI, where .ci/run installs it, fail instead: the test must run there."""
    if TSHARK is None:
        why = "tshark is not installed (Debian: apt-get install tshark, as .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the capture tests: {why}")
        pytest.skip(why)

#: A TLS 1.3 server alert (decrypt_error, in the clear), a client's alert encrypted under
#: its handshake keys, a Python client against a Go server, a resumed TLS 1.2 session, and
#: ECH accepted (keys logged under the encrypted inner hello's random) through an HRR.
CASES = ["binder/tls13-altered-secret", "cache/tls13-verified-expired-leaf", "binder/pyclient-corrupt-binder",
         "resumption/tls12-same-server", "ech/hrr"]
DSB = 0x0000000A
FINISHED, NEW_SESSION_TICKET = 20, 4
DECRYPT_ERROR, BAD_CERTIFICATE = 51, 42


@pytest.fixture(scope="module")
def result(edge_releases: Releases) -> RunResult:
    import tlsdiff
    with tlsdiff.Run(EDGE_RELEASES) as run:
        return run.run(tlsdiff.load_cases(CASES))


@pytest.fixture(scope="module")
def folder(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tlsdiff import capture
    out = tmp_path_factory.mktemp("captures")
    written, problem = capture.write_run(result.runs, out)
    assert problem is None and written
    return out


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wireshark-config")


def tshark(config: Path, path: Path, *args: str) -> list[list[str]]:
    """tshark's fields of every frame (or of those a -Y filter keeps), one list per frame."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(config), "WIRESHARK_CONFIG_DIR": str(config)}
    # The connection's ports are ephemeral, and tshark gives some of those to other protocols
    # by default (one CI run met a capture with no TLS at all in it): every port is TLS here.
    p = subprocess.run([TSHARK, "-n", "-r", str(path), "-d", "tcp.port==1-65535,tls", "-T", "fields",
                        "-E", "separator=|", *args], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return [line.split("|") for line in p.stdout.splitlines()]


def numbers(rows: list[list[str]], column: int = 0) -> list[int]:
    return [int(v) for row in rows for v in row[column].split(",") if v]


def releases(result: RunResult) -> list[str]:
    return result.releases.versions


def test_failing_connection_shows_the_alert(folder: Path, config: Path, result: RunResult) -> None:
    """binder/tls13-altered-secret step 2: the server refuses the wrong binder with
    decrypt_error (51). Go before 1.21 cannot alter a session's secret: no connection."""
    newest = releases(result)[-1]
    path = folder / f"binder_tls13-altered-secret__{newest}__step2.pcapng"
    rows = tshark(config, path, "-Y", "tls.alert_message", "-e", "tls.alert_message.desc")
    assert numbers(rows) == [DECRYPT_ERROR]
    assert not list(folder.glob(f"binder_tls13-altered-secret__{releases(result)[0]}__*"))


@pytest.mark.parametrize("edge", [0, -1], ids=["oldest", "newest"])
def test_alerts_on_oldest_and_newest(folder: Path, config: Path, result: RunResult, edge: int) -> None:
    release = releases(result)[edge]
    # A Python client's wrong binder, refused by the Go server.
    rows = tshark(config, folder / f"binder_pyclient-corrupt-binder__{release}__step2.pcapng",
                  "-Y", "tls.alert_message", "-e", "tls.alert_message.desc")
    assert numbers(rows) == [DECRYPT_ERROR]
    # The Go client's bad_certificate, sent under its handshake keys: seen only decrypted.
    rows = tshark(config, folder / f"cache_tls13-verified-expired-leaf__{release}__step2.pcapng",
                  "-Y", "tls.alert_message", "-e", "tls.alert_message.desc", "-e", "tls.record.opaque_type")
    assert numbers(rows) == [BAD_CERTIFICATE]
    assert numbers(rows, 1) == [23], "the alert is in an encrypted record"


def strip_secrets(data: bytes) -> bytes:
    """The pcapng without its Decryption Secrets Block (a block walk of its own)."""
    out, at = b"", 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        if kind != DSB:
            out += data[at:at + length]
        at += length
    return out


def secrets(data: bytes) -> str:
    at = 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        if kind == DSB:
            stype, size = struct.unpack_from("<II", data, at + 8)
            assert stype == 0x544C534B
            return data[at + 16:at + 16 + size].decode()
        at += length
    raise AssertionError("no Decryption Secrets Block")


def test_the_file_alone_decrypts_and_the_keys_file_does_too(folder: Path, config: Path, result: RunResult,
                                                            tmp_path: Path) -> None:
    stem = folder / f"cache_tls13-verified-expired-leaf__{releases(result)[0]}__step2"
    keys = Path(f"{stem}.keys")
    data = Path(f"{stem}.pcapng").read_bytes()
    assert secrets(data) == keys.read_text() != ""
    bare = tmp_path / "bare.pcapng"
    bare.write_bytes(strip_secrets(data))
    alert = ("-Y", "tls.alert_message", "-e", "tls.alert_message.desc")
    assert tshark(config, bare, *alert) == [], "without the secrets block the alert stays encrypted"
    rows = tshark(config, bare, "-o", f"tls.keylog_file:{keys}", *alert)
    assert numbers(rows) == [BAD_CERTIFICATE]


@pytest.mark.parametrize("edge", [0, -1], ids=["oldest", "newest"])
def test_handshake_messages_are_decrypted(folder: Path, config: Path, result: RunResult, edge: int) -> None:
    release = releases(result)[edge]
    # TLS 1.3: EncryptedExtensions to Finished and the ticket are all under handshake or traffic keys.
    rows = tshark(config, folder / f"cache_tls13-verified-expired-leaf__{release}__step1.pcapng",
                  "-e", "tls.handshake.type")
    assert {8, 11, 15, FINISHED, NEW_SESSION_TICKET} <= set(numbers(rows))
    # A resumed TLS 1.2 session: Go logs no key for it; the capture's line comes from
    # the connection that issued the ticket, and both Finished messages decrypt.
    rows = tshark(config, folder / f"resumption_tls12-same-server__{release}__step2.pcapng",
                  "-e", "tls.handshake.type", "-e", "_ws.col.Info")
    assert numbers(rows).count(FINISHED) == 2
    assert not any("Encrypted Handshake Message" in row[1] for row in rows)


def test_an_ech_connection_decrypts(folder: Path, config: Path, result: RunResult) -> None:
    """Go logs an accepted ECH connection's secrets under the inner ClientHello's random;
    the capture gives them under the outer one's too, the random Wireshark sees."""
    newest = releases(result)[-1]
    path = folder / f"ech_hrr__{newest}__step1.pcapng"
    rows = tshark(config, path, "-e", "tls.handshake.type", "-e", "_ws.col.Info")
    assert {8, 11, 15, FINISHED, NEW_SESSION_TICKET} <= set(numbers(rows))
    assert not any("Encrypted Handshake Message" in row[1] for row in rows)
    assert not list(folder.glob(f"ech_hrr__{releases(result)[0]}__*")), "Go 1.19 has no ECH: no connection"


def test_tshark_sees_what_tlspeer_decoded(folder: Path, config: Path, result: RunResult) -> None:
    """Every capture: the handshake messages and alerts tshark finds are those the
    harness's own decoder finds in the same bytes with the same keys."""
    from tlspeer.wire import decode_connection
    from tlsdiff import capture
    checked = 0
    for run in result.runs:
        steps = {s.step: s for s in run.steps}
        for c in capture.run_captures(run):
            c2s, s2c, _ = capture.streams(steps[int(c.stem.rsplit("step", 1)[1])])
            conn = decode_connection(c2s, s2c, c.keylog)
            sides = (conn.client_to_server, conn.server_to_client)
            rows = tshark(config, folder / f"{c.stem}.pcapng", "-e", "tls.handshake.type", "-e",
                          "tls.alert_message.desc")
            assert sorted(numbers(rows)) == sorted(m.msg_type for d in sides for m in d.handshake_messages), c.stem
            assert sorted(numbers(rows, 1)) == sorted(a.description for d in sides for a in d.alerts), c.stem
            checked += 1
    assert checked >= 12


def test_tcp_is_well_formed(folder: Path, config: Path) -> None:
    """Checksums right, and nothing tshark's TCP analysis would flag (a gap, a
    retransmission, a segment out of order); the stream starts with a three-way
    handshake and ends with both FINs."""
    for path in sorted(folder.glob("*.pcapng")):
        rows = tshark(config, path, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                      "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "tcp.analysis.flags",
                      "-e", "tcp.flags.str")
        assert rows and all(r[0] == "1" and r[1] == "1" and r[2] == "" for r in rows), (path.name, rows)
        flags = [r[3].replace("\u00b7", "").strip() for r in rows]
        assert flags[:3] == ["S", "AS", "A"] and flags[-3:] == ["AF", "AF", "A"], (path.name, flags)


def test_ports_are_the_ones_the_peers_used(folder: Path, config: Path, result: RunResult) -> None:
    """Both peers (Go and tlspeerd) report their ports; the capture shows them."""
    for run in result.runs:
        if run.case.id != "binder/pyclient-corrupt-binder":
            continue
        step = run.steps[0]
        client, server = step.client, step.server
        assert client["remote_port"] == server["local_port"] and server["remote_port"] == client["local_port"]
        rows = tshark(config, folder / f"binder_pyclient-corrupt-binder__{run.key[0]}__step1.pcapng",
                      "-e", "tcp.srcport", "-e", "tcp.dstport")
        assert rows[0] == [str(client["local_port"]), str(server["local_port"])]


def test_same_observations_same_bytes(result: RunResult) -> None:
    """Timestamps from the case clock, fixed sequence numbers: nothing of the moment."""
    import copy
    from tlsdiff import capture, pki
    run = next(r for r in result.runs if r.case.id == "cache/tls13-verified-expired-leaf")
    first = capture.run_captures(run)
    again = capture.run_captures(copy.deepcopy(run))
    assert [(c.stem, c.pcapng, c.keylog) for c in first] == [(c.stem, c.pcapng, c.keylog) for c in again]
    # The first packet of step 2 is at the case clock: the epoch plus three days ("at: +3d").
    data = first[1].pcapng
    at = 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        if kind == 6:
            high, low = struct.unpack_from("<II", data, at + 12)
            assert (high << 32 | low) == (int(pki.EPOCH.timestamp()) + 3 * 86400) * 1_000_000
            break
        at += length


def tlsdiff_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_cli_writes_a_pcapng_and_keys_per_connection(edge_releases: Releases, tmp_path: Path) -> None:
    out = tmp_path / "made" / "here"
    p = tlsdiff_cli("run", "binder/pyclient-corrupt-binder", "--go", "1.27", "-q", "--capture", str(out))
    assert p.returncode == 0, p.stderr
    release = edge_releases.versions[-1]
    names = sorted(f.name for f in out.iterdir())
    assert names == [f"binder_pyclient-corrupt-binder__{release}__step{n}.{ext}"
                     for n in (1, 2) for ext in ("keys", "pcapng")]
    keys = (out / f"binder_pyclient-corrupt-binder__{release}__step1.keys").read_text()
    assert all(line.split()[0] in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                   "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")
               for line in keys.splitlines()) and keys.endswith("\n")


@pytest.mark.parametrize("value, expected", [
    ("", "--capture: an empty path"),
    ("-", "--capture: '-' is not a folder"),
    ("README.md", "--capture: 'README.md' is not a folder"),
    ("README.md/sub", "--capture: cannot write in 'README.md/sub': Not a directory"),
])
def test_cli_refuses_a_bad_folder_before_any_work(value: str, expected: str) -> None:
    p = tlsdiff_cli("run", "binder/pyclient-corrupt-binder", "--go", "1.27", "--capture", value)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"tlsdiff: {expected}"), p.stderr
    assert p.stdout == ""  # no matrix: nothing ran


def test_the_reports_name_each_connections_capture(edge_releases: Releases, tmp_path: Path) -> None:
    """The JSON report names each step's pcapng as written; the HTML page links it relative to itself."""
    import json
    newest = edge_releases.versions[-1]
    (tmp_path / "pages").mkdir()
    out, page = tmp_path / "r.json", tmp_path / "pages" / "r.html"
    p = tlsdiff_cli("run", "binder/pyclient-corrupt-binder", "--go", newest, "--capture", str(tmp_path / "caps"),
                    "--json", str(out), "--html", str(page), "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    steps = json.loads(out.read_text())["results"][0]["runs"][newest]["observations"]["steps"]
    named = [Path(s["capture"]) for s in steps]
    assert [n.name for n in named] == [f"binder_pyclient-corrupt-binder__{newest}__step{i}.pcapng" for i in (1, 2)]
    assert all(n.is_file() for n in named)
    assert f'"capture":"../caps/binder_pyclient-corrupt-binder__{newest}__step2.pcapng"' in page.read_text()
