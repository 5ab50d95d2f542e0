"""The Go peer's control lines, read and written without encoding/json (go-peer/jsonread.go,
jsonwrite.go): a request in any form JSON allows is read as encoding/json read it (but
for member names, which are matched exactly), a malformed line is refused without
ending the session, and strings come back as they were sent, as encoding/json would
have decoded them; on real Go peers of the oldest and newest line, over their standard
input and output as the harness talks to them."""
from __future__ import annotations

import json
import random
import select
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from tlsdiff import pki
from tlsdiff.peers.pool import python_peer_argv

HELLO_OPS = {"batch", "pair", "configure", "drop"}


class RawPeer:
    """A peer process (go-peer, or tlspeerd's argv) spoken to in raw lines, each answer read
    with a timeout."""

    def __init__(self, binary: Path | list[str]) -> None:
        argv = binary if isinstance(binary, list) else [str(binary)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env={"GOMAXPROCS": "1"})
        self.pending = b""

    def ask(self, line: bytes | str, timeout: float = 10.0) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((line.encode() if isinstance(line, str) else line) + b"\n")
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], timeout)
            assert ready, f"no answer in {timeout} s to {line!r}"
            chunk = self.proc.stdout.read1(1 << 20)
            assert chunk, f"the peer exited answering {line!r}"
            self.pending += chunk
        answer, self.pending = self.pending.split(b"\n", 1)
        return json.loads(answer)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(params=["oldest", "newest"])
def raw_peer(request, edge_releases) -> Iterator[RawPeer]:
    versions = edge_releases.versions
    peer = RawPeer(edge_releases.binaries[versions[0] if request.param == "oldest" else versions[-1]])
    yield peer
    peer.close()


@pytest.mark.parametrize("line", [
    '{"id":5,"op":"hello","params":{}}',  # as the harness writes it
    '{"params":{},"op":"hello","id":5}',  # another order
    ' { "id" : 5 ,\t"op" : "hello" } \r',  # space everywhere, no params
    '{"id":5,"op":"hel\\u006co"}',  # an escape in a string
    '{"id":5,"op":"hello","note":[1,{"a":null}]}',  # an unknown key, ignored
    '{"id":4,"id":5,"op":"hello","params":null}',  # the last of two keys
])
def test_a_request_is_read_as_encoding_json_reads_it(raw_peer, line) -> None:
    answer = raw_peer.ask(line)
    assert answer["id"] == 5 and answer["ok"] is True, answer
    assert HELLO_OPS <= set(answer["result"]["ops"])


def test_member_names_are_matched_exactly(raw_peer) -> None:
    """encoding/json took "ID" for "id"; PROTOCOL.md spells every name, and another
    spelling is a member the peer does not read."""
    assert raw_peer.ask('{"ID":5,"op":"hello"}')["id"] == 0
    assert raw_peer.ask('{"id":5,"OP":"hello"}') == {"id": 5, "ok": False, "error": 'go-peer: unknown op ""'}


@pytest.mark.parametrize("line", [
    '{"id":5,"op":"hello","params":{"a":tru}}',  # a bad literal inside the params
    '{"id":5,"op":"hello","params":{}',  # not closed
    '{"id":5,"op":"hello"} x',  # something after the object
    '{"id":5.5,"op":"hello"}',  # an id that is no integer
    '{"id":5,"op":"hello","params":"\x01"}',  # a control character in a string
    '{"id":5,"op":"hello","params":"\\x"}',  # an escape JSON does not have
    '{"id":5,"op":"hello","params":"\\u12"}',  # a short \\u escape
    '{"id":5,"op":"hello","params":{"a":01}}',  # a number with a leading zero
    '{"id":5,"op":"hello","params":{"a":1.}}',  # a number without its fraction
    '{"id":5,"op":"hello","params":{"a" 1}}',  # no colon
    '{"id":5,"op":"hello","params":[1,]}',  # a trailing comma
    '["id",5]',  # not an object
    '{"id":5,"op":"hello","params":' + '[' * 10001 + ']' * 10001 + '}',  # deeper than encoding/json allows
])
def test_a_malformed_line_is_refused_as_encoding_json_refuses_it(raw_peer, line) -> None:
    answer = raw_peer.ask(line)
    assert answer["id"] == -1 and answer["error"].startswith("go-peer: malformed request: "), answer
    assert raw_peer.ask('{"id":6,"op":"hello"}')["ok"] is True  # and the session goes on


@pytest.mark.parametrize("line, says", [
    ('{"id":5,"op":"hello","params":[1]}', "params: want an object, got an array"),
    ('{"id":5,"op":7}', "op: want a string, got a number"),
])
def test_a_request_whose_id_was_read_is_refused_under_its_id(raw_peer, line, says) -> None:
    """Answered at once under its own id: the harness's request fails now rather than
    waiting out its timeout and killing the peer as hung."""
    assert raw_peer.ask(line) == {"id": 5, "ok": False, "error": "go-peer: malformed request: " + says}


@pytest.mark.parametrize("line, answer_id", [
    ('["id",5]', -1),  # not an object
    ('{"id":5,"op":"batch","params":[1]}', 5),  # a batch whose params are no object
    ('{"id":5,"op":"configure","params":"x"}', 5),
    ('not json', -1),
])
def test_tlspeerd_refuses_a_line_that_is_no_request_and_goes_on(line, answer_id) -> None:
    """tlspeerd reads its lines with orjson; a line of the wrong shape is answered with an
    error (under its id once it has one), and the session goes on."""
    peer = RawPeer(python_peer_argv())
    try:
        answer = peer.ask(line)
        assert answer["id"] == answer_id and answer["error"].startswith("tlspeer: "), answer
        assert peer.ask('{"id":6,"op":"hello"}')["ok"] is True
    finally:
        peer.close()


#: Every character encoding/json escapes, beside some it does not.
AWKWARD_NAME = 'q"b\\s/ <tag> & \u2028\u2029 \n\r\t\x01\x1f\x7f é 世界 \U0001f600#'


def test_strings_come_back_as_they_were_sent_in_and_out_of_a_batch(raw_peer) -> None:
    client = {"root_cas": [pki.root_pem("root-a")], "server_name": pki.SERVER_NAME, "rand_seed": "x"}
    for ascii_only in (True, False):  # escaped by the sender, or sent as UTF-8
        alone = raw_peer.ask(json.dumps({"id": 1, "op": "configure", "params": {
            "name": AWKWARD_NAME, "role": "client", "config": client}}, ensure_ascii=ascii_only))
        assert alone == {"id": 1, "ok": True, "result": {"name": AWKWARD_NAME}}
        answer = raw_peer.ask(json.dumps({"id": 2, "op": "batch", "params": {"requests": [
            {"op": "configure", "params": {"name": AWKWARD_NAME + "2", "role": "client", "config": client}},
            {"op": "configure", "params": {"name": "x", "role": AWKWARD_NAME, "config": {}}},
            {"op": "drop", "params": {"prefix": AWKWARD_NAME[:5]}}]}}, ensure_ascii=ascii_only))
        ok, refused, dropped = answer["result"]["responses"]
        assert ok == {"id": 0, "ok": True, "result": {"name": AWKWARD_NAME + "2"}}
        assert refused["ok"] is False and refused["error"].startswith("role: "), refused
        assert dropped["result"] == {"dropped": 2}


@pytest.mark.parametrize("sent, got", [
    (b'"a\\ud800b"', "a\ufffdb"),  # a lone surrogate
    (b'"a\\udc00\\ud83d\\ude00b"', "a\ufffd\U0001f600b"),  # a low half alone, then a pair
    (b'"a\\ud83d\\u0041b"', "a\ufffdAb"),  # a high half whose next escape is no low half
    (b'"a\xffb\xc3"', "a\ufffdb\ufffd"),  # bytes that are not UTF-8
    (b'"\\/\\b\\f"', "/\b\f"),
])
def test_strings_are_decoded_as_encoding_json_decodes_them(raw_peer, sent, got) -> None:
    answer = raw_peer.ask(b'{"id":1,"op":"configure","params":{"name":' + sent + b',"role":"client","config":{}}}')
    assert answer == {"id": 1, "ok": True, "result": {"name": got}}


def _any_string(rng: random.Random) -> str:
    """Up to 40 code points from every range UTF-8 and JSON treat apart: ASCII, two-,
    three- and four-byte ones, what JSON escapes, and lone surrogates."""
    picks = (lambda: chr(rng.randint(0, 0x7f)), lambda: chr(rng.randint(0x80, 0x7ff)),
             lambda: chr(rng.choice([rng.randint(0x800, 0xd7ff), rng.randint(0xe000, 0xffff)])),
             lambda: chr(rng.randint(0x10000, 0x10ffff)), lambda: rng.choice('"\\/<>&\u2028\u2029\b\f\n\r\t'),
             lambda: chr(rng.randint(0xd800, 0xdfff)))
    return "".join(rng.choice(picks)() for _ in range(rng.randint(0, 40)))


def test_any_string_comes_back_as_encoding_json_would_have_read_it(raw_peer) -> None:
    """500 seeded strings, escaped by the sender or sent as UTF-8: each comes back as
    sent, but for a surrogate left without its other half, which reads as U+FFFD."""
    rng = random.Random(7)
    for i in range(500):
        name = _any_string(rng)
        lone = any(0xD800 <= ord(c) <= 0xDFFF for c in name)
        line = json.dumps({"id": i, "op": "configure", "params": {"name": name, "role": "client", "config": {}}},
                          ensure_ascii=lone or rng.random() < 0.5)
        sent = json.loads(line)["params"]["name"]  # two halves in a row are one code point now
        expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in sent)
        assert raw_peer.ask(line) == {"id": i, "ok": True, "result": {"name": expected}}, line


def test_a_field_of_the_wrong_kind_is_named(raw_peer) -> None:
    for params, says in (('{"name":7,"role":"client","config":{}}', "bad params: name: want a string, got a number"),
                         ('{"name":"x","role":"client","config":{"alpn":["h2",1]}}',
                          "bad params: config.alpn[1]: want a string, got a number"),
                         ('{"name":"x","role":"client","config":{"certificates":[{"cert_pem":true}]}}',
                          "bad params: config.certificates[0].cert_pem: want a string, got a boolean"),
                         ('{"name":"x","role":"client","config":{"cache_capacity":1.5}}',
                          "bad params: config.cache_capacity: want an integer, got 1.5"),
                         ('{"name":"x","role":"client","config":{"ech_config_list":"%%%"}}',
                          "bad params: config.ech_config_list: not base64: ")):
        answer = raw_peer.ask('{"id":3,"op":"configure","params":' + params + '}')
        assert answer["id"] == 3 and answer["error"].startswith(says), answer


def test_a_batch_in_another_form_is_read_alike(raw_peer) -> None:
    answer = raw_peer.ask('{"op":"batch","id":3,"params":{"requests":[{"params":{"prefix":"none#"},"op":"drop"},'
                          '{"op":"dr\\u006fp","params":{"prefix":"none#"}}], "other": 1}}')
    assert answer["result"]["responses"] == [{"id": 0, "ok": True, "result": {"dropped": 0}}] * 2
    answer = raw_peer.ask('{"id":4,"op":"batch","params":{"requests":{"op":"drop"}}}')
    assert answer["id"] == 4 and answer["error"].startswith("bad params: "), answer


def test_a_pair_connects_to_its_own_listener_whatever_port_the_connect_names(raw_peer) -> None:
    ident = pki.identity("server")
    for name, role, config in (("p#s", "server", {"certificates": [{"cert_pem": ident.chain_pem,
                                                                     "key_pem": ident.key_pem}]}),
                               ("p#c", "client", {"root_cas": [pki.root_pem("root-a")],
                                                  "server_name": pki.SERVER_NAME})):
        assert raw_peer.ask(json.dumps({"id": 1, "op": "configure",
                                        "params": {"name": name, "role": role, "config": config}}))["ok"]
    common = {"conn_id": "c", "time": int(pki.EPOCH.timestamp()), "timeout_ms": 5000}
    for rid, connect in enumerate(({"endpoint": "p#c", "port": 1, **common},  # a wrong port, overridden
                                   {"endpoint": "p#c", **common}), start=2):
        answer = raw_peer.ask(json.dumps({"id": rid, "op": "pair", "params": {
            "listen": {"name": f"p#l{rid}", "endpoint": "p#s"},
            "accept": {"listener": f"p#l{rid}", **common}, "connect": connect}}))
        result = answer["result"]
        client, server = result["connect"]["result"], result["accept"]["result"]
        assert client["handshake_error"] is None and server["handshake_error"] is None, answer
        assert client["remote_port"] == result["listen"]["result"]["port"] == server["local_port"]
    answer = raw_peer.ask(json.dumps({"id": 9, "op": "pair", "params": {
        "listen": {"name": "p#l9", "endpoint": "p#s"}, "accept": {"listener": "p#l9", **common},
        "connect": [1]}}))
    assert answer["error"] == "bad params: connect: want an object, got an array", answer
