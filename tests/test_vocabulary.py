"""Each vocabulary is written in one place; these tests fail when another place
disagrees: the peers (real Go releases and tlspeerd), tlspeer's Misbehaviour,
the case schema and docs/cases.md."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

import vocabulary_docs
from tlsdiff.compare import WORST_FIRST, Verdict
from tlsdiff.observe.fields import EXPECTABLE, SIDE_FIELDS, STATE, STATE_FIELDS
from tlsdiff.scenario import misbehaviours, tls_names
from tlsdiff.scenario.model import StepKind
from tlsdiff.scenario.schema import case_schema
from tlsdiff.toolchains.cache import version_key
from tlspeer.misbehave import BOTH_KNOBS, CLIENT_KNOBS, SERVER_KNOBS, Misbehaviour


def _hello(argv: list[str]) -> dict:
    out = subprocess.run(argv, input='{"id":1,"op":"hello"}\n', capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout.splitlines()[0])["result"]


@pytest.fixture(scope="module")
def go_hellos(edge_releases) -> dict[str, dict]:
    return {v: _hello([str(edge_releases.binaries[v])]) for v in edge_releases.versions}


@pytest.fixture(scope="module")
def python_hello() -> dict:
    return _hello([sys.executable, "-I", "-m", "tlspeerd"])


# ---------------------------------------------------------------- ConnectionState


def test_each_go_release_has_exactly_the_state_fields_of_its_line(go_hellos) -> None:
    """`since` in the field table is what real releases report, oldest and newest."""
    for version, hello in go_hellos.items():
        expected = [f.name for f in STATE if version_key(f.since) <= version_key(version)]
        assert hello["connection_state_fields"] == expected, version


def test_the_newest_release_has_every_field(go_hellos) -> None:
    newest = max(go_hellos, key=version_key)
    assert go_hellos[newest]["connection_state_fields"] == list(STATE_FIELDS)


def test_tlspeerd_renders_every_state_field(python_hello) -> None:
    assert python_hello["connection_state_fields"] == list(STATE_FIELDS)


def test_schema_state_names_are_the_field_table() -> None:
    state = case_schema()["$defs"]["side"]["properties"]["state"]
    assert list(state["properties"]) == list(STATE_FIELDS) and state["additionalProperties"] is False


# ---------------------------------------------------------------- side fields


def test_expectable_fields_are_the_schema_side() -> None:
    side = case_schema()["$defs"]["side"]["properties"]
    assert set(side) == {f.name for f in EXPECTABLE} | {"state"}


def test_side_fields_are_what_normalize_writes(recorded_docs) -> None:
    """Every observed side (from real peers, tests/data) has exactly the listed keys."""
    sides = [s[side] for doc in recorded_docs for s in doc["steps"] for side in ("client", "server")
             if s.get(side)]
    assert sides
    for side in sides:
        assert set(side) == {f.name for f in SIDE_FIELDS}
        assert list(side["state"]) == list(STATE_FIELDS)


# ---------------------------------------------------------------- TLS names


def test_suite_names_are_what_the_releases_know(go_hellos) -> None:
    for version, hello in go_hellos.items():
        assert set(hello["cipher_suites"]) <= set(tls_names.CIPHER_SUITES), version
    assert set().union(*(h["cipher_suites"] for h in go_hellos.values())) == set(tls_names.CIPHER_SUITES)


def test_group_names_are_the_go_peers(go_hellos) -> None:
    for version, hello in go_hellos.items():
        assert set(hello["groups"]) == set(tls_names.GROUPS), version


# ---------------------------------------------------------------- misbehaviours


def test_python_knobs_are_tlspeers_misbehaviour_fields() -> None:
    assert misbehaviours.knobs_of(misbehaviours.PYTHON) == {f.name for f in dataclasses.fields(Misbehaviour)}


def test_knob_roles_are_tlspeers() -> None:
    by_role = {role: {k.name for k in misbehaviours.KNOBS if k.role == role and k.peer == misbehaviours.PYTHON}
               for role in ("client", "server", None)}
    assert by_role["server"] == set(SERVER_KNOBS)
    assert by_role["client"] == set(CLIENT_KNOBS) | {"corrupt_binder_byte"}  # a parameter of corrupt_binder
    assert by_role[None] == set(BOTH_KNOBS)


def test_tlspeerd_lists_the_python_knobs(python_hello) -> None:
    assert set(python_hello["misbehaviours"]) == misbehaviours.knobs_of(misbehaviours.PYTHON)


def test_go_peers_list_the_go_knobs_from_1_21(go_hellos) -> None:
    for version, hello in go_hellos.items():
        expected = misbehaviours.knobs_of(misbehaviours.GO) if version_key(version) >= version_key("1.21") else set()
        assert set(hello["misbehaviours"]) == expected, version


def test_schema_misbehaviours_are_the_knob_table() -> None:
    defs = case_schema()["$defs"]
    for role in ("client", "server"):
        assert set(defs[f"{role}_misbehaviour"]["properties"]) == {k.name for k in misbehaviours.KNOBS
                                                                     if k.for_role(role)}


# ---------------------------------------------------------------- steps and verdicts


def test_step_kinds_are_the_schema_steps() -> None:
    assert set(case_schema()["$defs"]["step"]["properties"]) == {str(k) for k in StepKind}


def test_every_verdict_has_a_rank() -> None:
    assert set(WORST_FIRST) == set(Verdict)


# ---------------------------------------------------------------- docs


def test_docs_tables_are_made_from_the_vocabularies(update: bool) -> None:
    text = vocabulary_docs.CASES_DOC.read_text()
    made = vocabulary_docs.render(text)
    if update:
        vocabulary_docs.CASES_DOC.write_text(made)
    assert set(vocabulary_docs.blocks(text)) == set(vocabulary_docs.TABLES)
    assert text == made, "docs/cases.md is out of date: pytest tests/test_vocabulary.py --update"
