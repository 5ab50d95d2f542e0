"""tlspeer's message and extension edits, second ClientHello fields, 0-RTT and
post-handshake messages: what goes on the wire and in the sender's transcript.

Each is checked between two tlspeer engines and on the bytes they wrote; what
Go does with them is in the cases (cases/edits/, cases/post_handshake/, the
second-hello cases in cases/hrr/).
"""
from __future__ import annotations

import pytest

from tlspeer import extensions as ext
from tlspeer import messages as m
from tlspeer.edits import ExtensionEdit, MessageEdit
from tlspeer.errors import TLSError
from tlspeer.misbehave import Misbehaviour
from tlspeer.record import RecordReader

from tlspeer_helpers import client_config, run_pair, server_config


def _records(wire: bytes) -> list[tuple[int, int, bytes]]:
    """(content type, record version, fragment) of each record on the wire."""
    return [(r.content_type, r.legacy_version, r.fragment) for r in RecordReader().feed(bytes(wire))]


def _first_hello(wire: bytes) -> m.ClientHello:
    ctype, _, fragment = _records(wire)[0]
    assert ctype == 22 and fragment[0] == m.CLIENT_HELLO
    return m.ClientHello.decode(fragment[4:4 + int.from_bytes(fragment[1:4], "big")])


def test_extension_edits_shape_the_hello_on_the_wire() -> None:
    mis = Misbehaviour(extension_edits=[
        {"message": "client_hello_1", "extension": "signature_algorithms", "do": "omit"},
        {"message": "client_hello_1", "extension": "supported_groups", "do": "duplicate"},
        {"message": "client_hello_1", "extension": "key_share", "do": "first"},
        {"message": "client_hello_1", "extension": 0x1234, "do": "bytes", "bytes": "beef"}])
    pair = run_pair(client_config(misbehaviour=mis), server_config())
    hello = _first_hello(pair.c2s)
    types = hello.extension_types()
    assert ext.EXT_SIGNATURE_ALGORITHMS not in types
    assert types.count(ext.EXT_SUPPORTED_GROUPS) == 2 and types[0] == ext.EXT_KEY_SHARE
    assert types[-1] == 0x1234 and hello.extensions[-1].encode_data() == b"\xbe\xef"
    assert pair.server_error is not None  # a duplicate extension does not parse


def test_an_inserted_message_is_outside_the_transcript_and_shares_the_record() -> None:
    stray = bytes.fromhex("63000000")
    mis = Misbehaviour(message_edits=[{"message": "client_hello_1", "do": "insert_after", "bytes": stray.hex()}])
    pair = run_pair(client_config(misbehaviour=mis), server_config())
    (ctype, version, fragment), *_ = _records(pair.c2s)
    assert fragment.endswith(stray) and version == 0x0301
    assert len(pair.client.transcript.messages) >= 1 and stray not in pair.client.transcript.messages
    assert pair.server_error is not None and pair.server_error.alert == 10  # unexpected_message


def test_own_record_and_record_version() -> None:
    mis = Misbehaviour(message_edits=[{"message": "client_hello_1", "do": "duplicate", "record": "own",
                                       "record_version": 0x0300}])
    pair = run_pair(client_config(misbehaviour=mis), server_config())
    first, second = _records(pair.c2s)[:2]
    assert first[1] == second[1] == 0x0300 and first[2] == second[2]


def test_swap_with_next_sends_the_held_message_after_the_next_one() -> None:
    mis = Misbehaviour(message_edits=[{"message": "encrypted_extensions", "do": "swap_with_next"}])
    pair = run_pair(client_config(), server_config(misbehaviour=mis))
    sent = [msg[0] for msg in pair.server.transcript.messages[1:]]  # after the ClientHello
    assert sent[:3] == [m.SERVER_HELLO, m.CERTIFICATE, m.ENCRYPTED_EXTENSIONS]
    assert pair.client_error is not None and "unexpected handshake message type 11" in str(pair.client_error)


def test_nth_edits_only_that_occurrence() -> None:
    edit = MessageEdit.parse({"message": "new_session_ticket", "do": "drop", "nth": 2}, "e")
    from tlspeer.edits import Wire
    wire = Wire((edit,))
    assert [len(wire("new_session_ticket", b"x" * n)) for n in (1, 2, 3)] == [1, 0, 1]


def test_second_client_hello_fields_keep_their_keys() -> None:
    # The server asks for P384; ClientHello 2 offers P384 and P256 shares and
    # other suites: a tlspeer server takes the P384 share, so the keys kept work.
    mis = Misbehaviour(second_client_hello={"key_shares": ["P384", "P256"], "session_id": "aa" * 32})
    pair = run_pair(client_config(misbehaviour=mis, groups=["X25519", "P384", "P256"]),
                    server_config(groups=["P384"]))
    hello2 = pair.client._ch_sent
    assert [s.group for s in hello2.find(ext.KeyShareClient).shares] == [0x18, 0x17]
    assert hello2.session_id == b"\xaa" * 32
    assert pair.server_error is not None  # the session ID changed between the hellos


def test_a_pipelined_second_hello_completes_with_a_server_that_asks_for_it() -> None:
    mis = Misbehaviour(pipeline_second_client_hello="P384")
    pair = run_pair(client_config(misbehaviour=mis, groups=["X25519", "P384"]), server_config(groups=["P384"]))
    assert pair.client_error is None and pair.server_error is None
    assert pair.info("client").group == 0x18
    hellos = [r for r in _records(pair.c2s) if r[0] == 22][:2]
    assert [r[1] for r in hellos] == [0x0301, 0x0303] and all(r[2][0] == m.CLIENT_HELLO for r in hellos)


def test_post_handshake_key_updates_in_one_record_are_refused_by_tlspeer_too() -> None:
    pair = run_pair(client_config(), server_config())
    pair.client.send_post_handshake(["key_update", "key_update"], together=True)
    pair.pump()
    assert isinstance(pair.server_error, TLSError) and "changes keys" in str(pair.server_error)
    apart = run_pair(client_config(), server_config())
    apart.client.send_post_handshake(["key_update_requested", "key_update"])
    apart.exchange()
    assert apart.server_error is None and apart.data("server") == b"ping" and apart.data("client") == b"pong"


@pytest.mark.parametrize("item, message", [
    ({"message": "nope", "do": "drop"}, "unknown message 'nope'"),
    ({"message": "finished", "do": "flip_byte", "xor": 0}, "xor: 0"),
    ({"message": "finished", "do": "insert_after"}, "bytes: goes with"),
])
def test_bad_edits_name_the_field(item: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Misbehaviour(message_edits=[item])


def test_extension_edit_parse_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown extension 'keyshare'"):
        ExtensionEdit.parse({"message": "client_hello_1", "extension": "keyshare", "do": "omit"}, "e")
