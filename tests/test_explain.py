"""tlsdiff explain on real releases: the CVE-2025-68121 fix between the 1.25 and 1.26
lines, explained from the two releases' crypto/tls sources on disk."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


def tlsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)


def test_explain_names_the_source_lines_and_the_diff_of_the_function_that_decides() -> None:
    p = tlsdiff("explain", "bugs/go-77113-clone-other-client-cas", "--go", "1.25,1.26")
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    # The server stopped resuming: its decision, and the check 1.26 added to it.
    assert "step 3 server state.DidResume:" in out
    assert "checkForResumption (crypto/tls/handshake_server_tls13.go) changed between go1.25" in out
    assert "+\t\t\t!anyValidVerifiedChain(sessionState.verifiedChains, opts) {" in out
    # The alert the 1.26 server sent, found where it is sent, with file and line.
    assert "step 3 server alerts:" in out and "sendAlert(alertCertificateRequired)" in out
    assert "crypto/tls/handshake_server.go:" in out and " in processCertsFromClient: " in out
    # The alert's places are the client's io_error's: said once, then pointed to.
    assert out.count(" in processCertsFromClient: ") == 2  # in 1.25 and in 1.26, under io_error
    assert "step 3 server alerts:" in out.split("produced at the same places as step 3 client io_error, above")[1]
    # The client side: its cache entry is no longer replaced (no ticket on a full handshake).
    assert "step 3 client cache:" in out


def test_explain_with_nothing_that_differs() -> None:
    p = tlsdiff("explain", "bugs/go-79861-lru-forget-missing-key", "--go", "1.25,1.26")
    assert p.returncode == 0 and "no outcome differs between these releases" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("args, expected", [
    (["bugs/", "--go", "1.25,1.26"], "expected exactly one"),
    (["bugs/go-79861-lru-forget-missing-key", "--go", "1.26"], "expected two releases to compare"),
    (["tickets/tls13-cross-release-shared-key", "--go", "1.25,1.26"], "a pairing: cross case"),
    (["bugs/go-79861-lru-forget-missing-key", "--go", "1.26.5..1.26.6"], "is a range; explain compares two "
                                                                        "releases: --go 1.26.5,1.26.6"),
])
def test_explain_refuses_what_it_cannot_compare_in_one_line(args: list[str], expected: str) -> None:
    p = tlsdiff("explain", *args)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and expected in p.stderr, p.stderr


def test_explain_finds_a_formatted_error_and_the_patch_that_quoted_it() -> None:
    """CVE-2025-58189: 1.25.2 quotes the client's ALPN protocols in negotiateALPN's fmt.Errorf."""
    p = tlsdiff("explain", "bugs/cve-2025-58189-alpn-error-quoted", "--go", "1.25.1,1.25.2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "go1.25.2 crypto/tls/handshake_server.go:" in p.stdout and " in negotiateALPN: " in p.stdout
    # The line whose text the patch changed is named first, in both releases.
    changed = p.stdout.split("  the line that changed:\n", 1)[1].split("  produced at:", 1)[0]
    assert changed.splitlines() == [
        '    go1.25.1 crypto/tls/handshake_server.go:360 in negotiateALPN: return "", fmt.Errorf("tls: client '
        'requested unsupported application protocols (%s)", clientProtos)',
        '    go1.25.2 crypto/tls/handshake_server.go:360 in negotiateALPN: return "", fmt.Errorf("tls: client '
        'requested unsupported application protocols (%q)", clientProtos)'], changed
    assert ('+\treturn "", fmt.Errorf("tls: client requested unsupported application protocols (%q)", clientProtos)'
            in p.stdout)
    assert "crypto/tls files that differ between go1.25.1 and go1.25.2: handshake_server.go" in p.stdout


def test_explain_follows_an_unchanged_check_to_the_function_that_changed_its_state() -> None:
    """go-79866: the error's line is the same in 1.26.5 and 1.26.6; what changed is where
    readRecordOrCCS resets the counter that line checks."""
    p = tlsdiff("explain", "bugs/go-79866-post-handshake-records-do-not-advance", "--go", "1.26.5,1.26.6")
    assert p.returncode == 0, p.stdout + p.stderr
    io_error = p.stdout.split("step 2 client io_error:", 1)[1].split("\nstep ", 1)[0]
    assert "in handlePostHandshakeMessage: " in io_error
    assert "the line that changed" not in io_error  # the check is the same line in both: its state moved
    assert "handlePostHandshakeMessage (crypto/tls/conn.go): the same in go1.26.5 and go1.26.6" in io_error
    assert ("readRecordOrCCS (crypto/tls/conn.go) changed between go1.26.5 and go1.26.6 (it assigns "
            "c.retryCount, which the check at conn.go:") in io_error
    assert "+\tif (typ == recordTypeApplicationData || (typ == recordTypeHandshake && !handshakeComplete))" in io_error
    # Thirty-one places send the alert: the ones named are those beside the error, in the
    # function that raises it, not every site of unexpected_message (doFullHandshake's, TLS 1.2).
    alerts = p.stdout.split("step 2 client alerts:", 1)[1].split("\nstep ", 1)[0]
    assert "sent beside step 2 client io_error (the sites in the functions that raise it)" in alerts
    assert "crypto/tls/conn.go:1316 in handlePostHandshakeMessage: c.sendAlert(alertUnexpectedMessage)" in alerts
    assert "doFullHandshake" not in alerts and "handleKeyUpdate" not in alerts



def test_explain_leaves_a_side_the_case_pins_to_another_release_to_the_other_side() -> None:
    """The server is pinned to 1.19: the 1.26.5 and 1.26.6 sources did not run it, so its
    resumption decision is not looked for in their checkForResumption; the client's is."""
    p = tlsdiff("explain", "godebug/fips140ems-0-client-to-pinned-1.19-server", "--go", "1.26.5,1.26.6")
    assert p.returncode == 0, p.stdout + p.stderr
    client = p.stdout.split("step 1 client error:", 1)[1].split("\nstep ", 1)[0]
    assert "go1.26.5 crypto/tls/handshake_client.go:" in client and " in doFullHandshake: " in client
    assert "+\t\t\tif fips140ems.Value() != \"0\" {" in client
    server = p.stdout.split("step 2 server state.DidResume:", 1)[1].split("\nstep ", 1)[0]
    assert "the server ran go1.19.8 in both, not go1.26.5 or go1.26.6" in server
    assert "checkForResumption" not in p.stdout
    # The cache entry the failed handshake never stored follows from its error.
    cache = p.stdout.split("step 1 client cache:", 1)[1].split("\nstep ", 1)[0]
    assert "where the connection failed (step 1 client error), what it would have done after" in cache
    resumed = p.stdout.split("step 2 client state.DidResume:", 1)[1].split("\nstep ", 1)[0]
    assert "loadSession (crypto/tls/handshake_client.go) changed" in resumed


def test_explain_follows_a_wrapped_x509_error_into_crypto_x509() -> None:
    """The Go client's error wraps crypto/x509's: what changed between 1.26 and 1.27 is
    x509's parseName (any attribute type kept), not the crypto/tls line around it. Of
    parseName's two literals that start the x509 text, the one that ends there (and so
    made no longer error) is left out."""
    p = tlsdiff("explain", "certs/pyserver-issuer-attribute-of-unknown-asn1-type", "--go", "1.26.6,1.27.3")
    assert p.returncode == 0, p.stderr
    error = p.stdout.split("step 1 client error:")[1].split("\nstep ")[0]
    assert "crypto/tls/handshake_client.go:" in error and " in verifyServerCertificate: " in error
    assert ('crypto/x509/parser.go:172 in parseName: return nil, fmt.Errorf("x509: invalid RDNSequence: '
            'invalid attribute value: %s", err)') in error
    assert 'errors.New("x509: invalid RDNSequence: invalid attribute value")' not in error.split("changed between")[0]
    assert "parseName (crypto/x509/parser.go) changed between go1.26.6 and go1.27.3:" in error
    assert "+\t\t\tattr.Value, err = readASN1Any(&atav)" in error
    assert 'crypto/x509/verify.go:' in error and ' in Error: s := "x509: certificate signed by unknown authority"' in error
