"""The harness core without Go: loading, normalization and comparison, in-process,
on raw observations recorded once from real peers (tests/data/raw, made by
tests/data/record.py). The golden files (tests/data/golden) are the JSON report's
entry for each case; `pytest tests/test_core.py --update` remakes them."""
from __future__ import annotations

import copy
import dataclasses
import json
import random
from pathlib import Path

import pytest

from data.record import RAW, raw_name
from tlsdiff.compare import CheckOutcome, Verdict, agreement_classes, compare_case, differences, verdict_for
from tlsdiff.errors import UserError
from tlsdiff.observe.fields import ABSENT
from tlsdiff.report.json_report import case_entry
from tlsdiff.scenario.catalog import load_case
from tlsdiff.scenario.model import Case, Expectation, Pairing, key_text
from tlsdiff.scenario.ranges import parse_range

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"


def _golden_path(case_id: str) -> Path:
    return GOLDEN / f"{case_id.replace('/', '__')}.json"


def test_every_recorded_case_matches_its_golden_report_entry(recorded, update: bool) -> None:
    for case_id, (case, docs) in recorded.items():
        entry = json.loads(json.dumps(case_entry(compare_case(case, docs))))
        path = _golden_path(case_id)
        if update:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")
        assert entry == json.loads(path.read_text()), f"{case_id}: pytest tests/test_core.py --update, then review"


def test_recorded_files_are_the_recorded_cases(recorded) -> None:
    for case_id, (case, docs) in recorded.items():
        for key in docs:
            assert (RAW / raw_name(case_id, key)).is_file()


def test_the_case_files_expectations_hold_on_the_recorded_observations(recorded) -> None:
    """The expectations were written from Go's source, not from these recordings."""
    for case_id, (case, docs) in recorded.items():
        for key, doc in docs.items():
            v = verdict_for(case, key, doc)
            assert v.verdict in (Verdict.PASS, Verdict.UNSUPPORTED), (case_id, key, v.failures())


def test_go_59424_splits_the_oldest_release_from_the_newest(recorded) -> None:
    case, docs = recorded["bugs/go-59424-hrr-psk-binder"]
    (old,), (new,) = sorted(docs, key=lambda k: [int(p) for p in k[0].split(".")])
    classes = agreement_classes(docs)
    assert classes[(old,)] != classes[(new,)]
    fields = {(d["side"], d["field"]) for d in differences(docs)}
    assert ("server", "alerts") in fields and ("client", "error") in fields


def test_unsupported_runs_have_no_class(recorded) -> None:
    case, docs = recorded["binder/tls13-altered-secret"]
    unsupported = [k for k, d in docs.items() if d.get("unsupported")]
    assert unsupported, "the oldest line cannot flip a session secret (no SessionState before 1.21)"
    for key in unsupported:
        assert agreement_classes(docs)[key] == "-"
        assert verdict_for(case, key, docs[key]).verdict == Verdict.UNSUPPORTED


def test_cross_case_has_every_pair(recorded) -> None:
    case, docs = recorded["tickets/tls13-cross-release-shared-key"]
    assert case.pairing == Pairing.CROSS
    releases = sorted({k[0] for k in docs})
    assert sorted(docs) == sorted((a, b) for a in releases for b in releases)


def _twins(recorded) -> dict:
    """One recorded observation under two release keys: they agree on everything."""
    _, docs = recorded["cache/tls13-delete-after-failed-resumption"]
    doc = next(iter(docs.values()))
    twins = {("1.0.1",): copy.deepcopy(doc), ("1.0.2",): copy.deepcopy(doc)}
    assert set(agreement_classes(twins).values()) == {"A"} and differences(twins) == []
    return twins


def test_a_different_alert_makes_a_new_class_and_a_difference(recorded) -> None:
    docs = _twins(recorded)
    server = docs[("1.0.2",)]["steps"][-1]["server"]
    server["alerts"]["sent"] = [{"bytes": "0233", "level": "fatal", "name": "decrypt_error", "encrypted": True}]
    assert agreement_classes(docs) == {("1.0.1",): "A", ("1.0.2",): "B"}
    assert [(d["side"], d["field"]) for d in differences(docs)] == [("server", "alerts")]


def test_a_transcript_difference_is_listed_but_keeps_the_class(recorded) -> None:
    docs = _twins(recorded)
    docs[("1.0.2",)]["steps"][0]["client"]["transcript"]["sent"][0]["length"] += 1
    assert set(agreement_classes(docs).values()) == {"A"}
    assert [d["field"] for d in differences(docs)] == ["transcript"]


def test_outcome_only_documents_make_the_same_classes(recorded_runs, recorded) -> None:
    """What a fuzz campaign's batches normalize (Run.run outcome_only): every outcome
    field the same value, ticket names included, on every recorded run; no transcript."""
    from tlsdiff.compare import _outcome_values
    from tlsdiff.observe.normalize import normalize_run
    tickets = 0
    for case_id, (case, runs) in recorded_runs.items():
        slim = {key: normalize_run(run, outcome_only=True) for key, run in runs.items()}
        full = recorded[case_id][1]
        assert agreement_classes(slim) == agreement_classes(full), case_id
        # Errors alone decide an outcome-only verdict: no expectation is judged on fields it lacks.
        assert ({k: v.verdict for k, v in compare_case(case, slim, outcome_only=True).verdicts.items()}
                == {k: v.verdict for k, v in compare_case(case, full).verdicts.items()}), case_id
        for key, doc in slim.items():
            assert [s["step"] for s in doc["steps"]] == [s["step"] for s in full[key]["steps"]]
            for mine, theirs in zip(doc["steps"], full[key]["steps"]):
                for side in ("client", "server"):
                    assert _outcome_values(mine.get(side)) == _outcome_values(theirs.get(side)), (case_id, key, side)
                    if mine.get(side):
                        assert "transcript" not in mine[side] and "received" not in mine[side]
                        tickets += any(op.startswith("put T") for op in mine[side]["cache"])
    assert tickets  # cache calls that name tickets were compared, not only empty ones


def test_outcome_only_wire_view_names_the_tickets_the_transcript_names(recorded_runs) -> None:
    """A cache call names its ticket by the order tickets first appeared, on the wire
    or in the cache: without the transcript, the wire's tickets are still named, alike."""
    from tlsdiff.observe.labels import Labeler
    from tlsdiff.observe.normalize import _decode, _what_the_view_reads
    from tlsdiff.observe.transcript import wire_view
    named = 0
    for _, runs in recorded_runs.values():
        for run in runs.values():
            for step in run.steps:
                for raw in (step.client, step.server):
                    if raw is None:
                        continue
                    full, slim = Labeler(), Labeler()
                    conn = _decode(raw)
                    wire_view(_what_the_view_reads(conn), raw["role"], full)
                    wire_view(_what_the_view_reads(conn, outcome_only=True), raw["role"], slim, transcript=False)
                    assert slim._names == full._names
                    named += bool(full._names)
    assert named


def test_an_expectation_on_a_field_the_release_lacks_is_stale(recorded) -> None:
    case, docs = recorded["bugs/go-59424-hrr-psk-binder"]
    oldest = min(docs, key=lambda k: [int(p) for p in k[0].split(".")])
    assert docs[oldest]["steps"][0]["client"]["state"]["CurveID"] == ABSENT
    stale = Expectation(1, {"client": {"state": {"CurveID": "X25519"}}}, index=0)
    v = verdict_for(_with(case, stale), oldest, docs[oldest])
    assert v.verdict == Verdict.FAIL
    assert [c.outcome for c in v.checks] == [CheckOutcome.STALE]
    assert "absent on this release" in v.failures()[0]


def _with(case: Case, expectation: Expectation) -> Case:
    return dataclasses.replace(case, expectations=(expectation,))


def test_a_failed_expectation_says_what_was_expected_and_what_came(recorded) -> None:
    case, docs = recorded["bugs/go-59424-hrr-psk-binder"]
    key = next(iter(docs))
    wrong = Expectation(2, {"server": {"hrr": False}}, index=3)
    v = verdict_for(_with(case, wrong), key, docs[key])
    assert v.verdict == Verdict.FAIL
    assert v.failures() == ["expect[3] step 2: server hrr: expected false, got true"]


# ---------------------------------------------------------------- ranges


@pytest.mark.parametrize("text, inside, outside", [
    ("<1.21", ["1.19.8", "1.20.14"], ["1.21.0", "1.27.3"]),
    (">=1.21 <1.25", ["1.21.0", "1.24.11"], ["1.19.8", "1.25.0"]),
    ("1.25", ["1.25.0", "1.25.5"], ["1.24.11", "1.26.0"]),
    ("==1.24.11", ["1.24.11"], ["1.24.10", "1.24.12"]),
])
def test_release_ranges(text: str, inside: list[str], outside: list[str]) -> None:
    r = parse_range(text)
    assert all(r.contains(v) for v in inside) and not any(r.contains(v) for v in outside)


# ---------------------------------------------------------------- loading


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "area" / "c.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD = """description: d
source: s
servers: {s1: {}}
clients: {c1: {cache: main}}
steps:
  - connect: {client: c1, server: s1}
"""


def test_a_good_case_loads_with_typed_steps(tmp_path: Path) -> None:
    case = load_case(_write(tmp_path, GOOD), tmp_path)
    assert case.id == "area/c" and case.pairing == Pairing.SAME
    assert [str(s.kind) for s in case.steps] == ["connect"]


def test_tags_are_words_with_dots_underscores_and_dashes(tmp_path: Path) -> None:
    case = load_case(_write(tmp_path, GOOD + "tags: [tls13, key_share, go-1.26, rfc8446.4.2]\n"), tmp_path)
    assert case.tags == ("tls13", "key_share", "go-1.26", "rfc8446.4.2")


@pytest.mark.parametrize("extra, message", [
    ("clients: {c1: {misbehave: {corrupt_binder: 1}}}\n",
     "clients.c1.misbehave.corrupt_binder: needs 'peer: python' (a Go endpoint can only flip_secret_byte)"),
    ("clients: {c1: {peer: python, misbehave: {flip_secret_byte: true}}}\n",
     "clients.c1.misbehave.flip_secret_byte: is a Go peer misbehaviour"),
    ("clients: {c1: {peer: python, misbehave: {corrupt_binder_byte: 3}}}\n",
     "clients.c1.misbehave.corrupt_binder_byte: goes with corrupt_binder"),
    ("clients: {c1: {misbehave: {two_hrrs: true}}}\n", "unknown key 'two_hrrs'"),
    ("clients: {c1: {peer: python, misbehave: {message_edits: [{message: server_hello, do: drop}]}}}\n",
     "clients.c1.misbehave.message_edits[0].message: a client does not send server_hello"),
    ("clients: {c1: {peer: python, misbehave: {message_edits: [{message: finished, do: replace}]}}}\n",
     "clients.c1.misbehave.message_edits[0].bytes: goes with do: replace"),
    ("clients: {c1: {peer: python, misbehave: {extension_edits: [{message: client_hello_1, extension: keyshare,"
     " do: omit}]}}}\n", "clients.c1.misbehave.extension_edits[0].extension: 'keyshare' is not allowed"),
    ("clients: {c1: {peer: python, misbehave: {post_handshake: {messages: [key_updat]}}}}\n",
     "clients.c1.misbehave.post_handshake.messages[0]"),
    ("expect:\n  - {step: 1, client: {state: {Bogus: 1}}}\n", "expect[0].client.state"),
    ("expect:\n  - {step: 2, client: {hrr: true}}\n", "expect[0].step: 2 is not a connect step"),
    ("expect:\n  - {step: 1, a: '<1.21', client: {hrr: true}}\n", "pairing 'same' takes releases, not a"),
    ("clients: {c1: {ech_config_list: [ech-c]}}\n", "clients.c1.ech_config_list[0]: 'ech-c' is not allowed"),
    ("clients: {c1: {peer: python, misbehave: {ech_outer_extensions: two_lists}}}\n",
     "clients.c1.misbehave.ech_outer_extensions: goes with ech_config_list"),
    # get_client_certificate: a Go client's callback, returning the client's certificate
    ("clients: {c1: {peer: python, certificate: client, get_client_certificate: always}}\n",
     "clients.c1.get_client_certificate: needs a Go client"),
    ("clients: {c1: {get_client_certificate: always}}\n", "clients.c1.get_client_certificate: goes with certificate"),
    ("clients: {c1: {certificate: client, get_client_certificate: never}}\n",
     "clients.c1.get_client_certificate: 'never' is not allowed; expected one of: always"),
    # godebug: names and values checked by form, Go endpoints only
    ("clients: {c1: {peer: python, godebug: {tlsmlkem: '0'}}}\n", "clients.c1.godebug: needs a Go endpoint"),
    ("clients: {c1: {godebug: {tlsmlkem: 0}}}\n", "clients.c1.godebug.tlsmlkem: 0 has the wrong type; expected string"),
    ("clients: {c1: {godebug: {tlsmlkem: '0,tls10server=1'}}}\n",
     "clients.c1.godebug.tlsmlkem: '0,tls10server=1' does not match the expected form (a quoted value of letters"),
    ("clients: {c1: {godebug: {TLS-MLKEM: '0'}}}\n",
     "clients.c1.godebug: 'TLS-MLKEM' does not match the expected form (a GODEBUG setting's name"),
    ("clients: {c1: {godebug: {}}}\n", "clients.c1.godebug"),
    # peer: a pinned release is a quoted line or exact release, 1.19 or newer
    ("clients: {c1: {peer: '1.18'}}\n", "clients.c1.peer: '1.18' is not a Go release tlsdiff can run; expected a line 1.19"),
    ("clients: {c1: {peer: 1.21}}\n", "clients.c1.peer: 1.21 has the wrong type; expected string"),
    ("clients: {c1: {peer: c}}\n", "clients.c1.peer: 'c' does not match the expected form (a, b, python, or a Go release"),
    ("clients: {c1: {peer: '1.21.x'}}\n", "clients.c1.peer: '1.21.x' does not match the expected form"),
    # what YAML makes of a value, and a form said in words, not as the schema's pattern
    ("clients: {c1: {max_version: 1.3}}\n",
     "clients.c1.max_version: 1.3 is not allowed; expected one of: 1.0, 1.1, 1.2, 1.3 (YAML read a number: quote it, \"1.3\")"),
    ("tags: [Key Share]\n", "tags[0]: 'Key Share' does not match the expected form (a lowercase word: letters, digits"),
    ("clients: {c1: {peer: python, misbehave: {message_edits: [{message: finished, do: replace, bytes: zz}]}}}\n",
     "clients.c1.misbehave.message_edits[0].bytes: 'zz' does not match the expected form (hex digits, two a byte)"),
])
def test_bad_cases_are_one_line_naming_the_field(tmp_path: Path, extra: str, message: str) -> None:
    text = GOOD.replace("clients: {c1: {cache: main}}\n", extra) if extra.startswith("clients") else GOOD + extra
    with pytest.raises(UserError) as err:
        load_case(_write(tmp_path, text), tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(Path("area") / "c.yaml")) or "c.yaml" in str(err.value)


def _mutations(data: dict, rng: random.Random, count: int) -> list[dict]:
    """Variants of a case's data with one node changed: another type, a float, a key
    dropped or added; what a hand-edited case file gets wrong."""
    out = []
    for _ in range(count):
        variant = copy.deepcopy(data)
        parent, key = None, None
        node: object = variant
        for _ in range(rng.randrange(1, 8)):  # a random walk down from the top
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
            if not children:
                break
            k, child = rng.choice(children)
            parent, key, node = node, k, child
        if parent is None:
            continue
        change = rng.randrange(4)
        if change == 0 and isinstance(parent, dict):
            del parent[key]
        elif change == 1 and isinstance(parent, dict):
            parent["bogus"] = 1
        else:
            parent[key] = rng.choice([1.0, 2.5, True, False, None, "", "x", "1.21", -1, 7, 70000, [], {}, [1], {"a": 1}])
        out.append(variant)
    return out


def test_schema_fast_path_agrees_with_jsonschema() -> None:
    """The Rust validator says a case is valid only when jsonschema does (it decides
    every load that is valid, so a case it let through wrongly would run), and it
    decides every default case."""
    import yaml

    from tlsdiff.fuzz.generate import Stimuli
    from tlsdiff.paths import CASES_DIR
    from tlsdiff.scenario import load

    cases = [yaml.safe_load(p.read_text()) for p in sorted(CASES_DIR.rglob("*.yaml"))]
    stimuli = Stimuli(seed=7)
    drawn = [s.case_data() for s, _ in zip(stimuli, range(300))]
    rng = random.Random("schema fast path")
    variants = [m for d in cases + drawn for m in _mutations(d, rng, 6)]

    def slow(d: dict) -> bool:
        return not any(True for _ in load._validator().iter_errors(d))

    assert all(load._valid_fast(d) for d in cases + drawn)
    wrong = [d for d in variants if load._valid_fast(d) and not slow(d)]
    assert not wrong, f"{len(wrong)} variants the fast path lets through, e.g. {json.dumps(wrong[0])[:400]}"
    refused = sum(1 for d in variants if not slow(d))
    assert refused > len(variants) // 3  # the variants do reach the schema's rules


def test_ech_retry_names_a_key_the_server_holds(tmp_path: Path) -> None:
    text = GOOD.replace("servers: {s1: {}}", "servers: {s1: {ech_keys: [ech-a], ech_retry: [ech-b]}}")
    with pytest.raises(UserError) as err:
        load_case(_write(tmp_path, text), tmp_path)
    assert "servers.s1.ech_retry: 'ech-b' is not one of this server's ech_keys; expected one of: ech-a" in str(err.value)


def test_godebug_and_a_pinned_peer_load_into_the_endpoint(tmp_path: Path) -> None:
    text = GOOD.replace("clients: {c1: {cache: main}}\n",
                        "clients: {c1: {cache: main, peer: '1.21', godebug: {tlsmlkem: '0', fips140: 'on'}}}\n")
    c1 = load_case(_write(tmp_path, text), tmp_path).endpoints["c1"]
    # One GODEBUG string per setting set, by name: two endpoints that agree share a peer process.
    assert (c1.peer, c1.pinned, c1.godebug) == ("1.21", "1.21", "fips140=on,tlsmlkem=0")
    assert "godebug" not in c1.settings and "peer" not in c1.settings
    s1 = load_case(_write(tmp_path, GOOD), tmp_path).endpoints["s1"]
    assert (s1.peer, s1.pinned, s1.godebug) == ("a", None, "")


def test_key_text() -> None:
    assert key_text(("1.19.8",)) == "1.19.8" and key_text(("1.19.8", "1.27.3")) == "1.19.8>1.27.3"


def test_update_ranges_inside_an_expectations_own_range_do_not_repeat_its_bounds() -> None:
    from tlsdiff.update import _range_text
    covered = ["1.21.13", "1.22.10", "1.25.5"]  # the releases a ">=1.21 <1.26" expectation covered
    assert _range_text(["1.21.13"], covered, ">=1.21 <1.26") == ">=1.21 <1.22"
    assert _range_text(["1.22.10"], covered, ">=1.21 <1.26") == "1.22"
    assert _range_text(["1.25.5"], covered, ">=1.21 <1.26") == ">=1.25 <1.26"
    assert _range_text(["1.25.5"], covered, ">=1.21") == ">=1.25"
