"""The reports CI systems and people read, from one real run on the oldest and newest
line: JSON valid against tlsdiff's published schema, JUnit valid against the Jenkins
xunit schema (with a time per test case, the run's timestamp and each case's file),
and Markdown with the matrix and the cross-release grid."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from conftest import EDGE_RELEASES, REPO

SCHEMAS = Path(__file__).resolve().parent / "schemas"
REPORT_SCHEMA = REPO / "harness" / "report" / "report.schema.json"
CASES = ["binder/", "tickets/tls13-cross-release-shared-key"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, edge_releases) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    paths = {"json": out / "r.json", "junit": out / "r.xml", "markdown": out / "r.md"}
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", *CASES, "--go", EDGE_RELEASES, "-q",
                        *(a for kind, path in paths.items() for a in (f"--{kind}", str(path)))],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return paths


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_json_report_is_valid_and_says_who_made_it(reports, edge_releases) -> None:
    from tlsdiff.paths import GO_PEER_DIR
    from tlsdiff.peers.build import peer_source_hash
    report = json.loads(reports["json"].read_text())
    errors = [f"{e.json_path}: {e.message[:200]}" for e in _validator().iter_errors(report)]
    assert errors == []
    assert report["tlsdiff"]["go_peer"] == peer_source_hash(GO_PEER_DIR)[:16]
    assert [r["name"] for r in report["releases"]] == edge_releases.versions
    assert all(len(r["digest"]) == 64 for r in report["releases"])


def test_golden_report_entries_are_valid_results() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text())
    entry = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/result"})
    golden = sorted((Path(__file__).parent / "data" / "golden").glob("*.json"))
    assert golden
    for path in golden:
        assert list(entry.iter_errors(json.loads(path.read_text()))) == [], path.name


def test_the_json_text_has_every_key_sorted_and_reads_back_as_what_was_written(reports) -> None:
    """The text (orjson) is the same for the same report, so two runs' reports diff as
    text: every object's keys sorted, indented; non-ASCII and integer keys as json has them."""
    from tlsdiff.report import json_report

    def sorted_pairs(pairs: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in pairs]
        assert keys == sorted(keys)
        return dict(pairs)
    text = reports["json"].read_text()
    report = json.loads(text, object_pairs_hook=sorted_pairs)
    assert json_report.dumps(report) == text
    assert text.startswith('{\n  "') and text.endswith("}\n")
    odd = {"b": "caf\u00e9 \u2014 \U0001f600", "a": {2: [1.5, None, True], 10: "x"}, "c": (1, 2)}
    assert json.loads(json_report.dumps(odd)) == {"a": {"10": "x", "2": [1.5, None, True]},
                                                  "b": "caf\u00e9 \u2014 \U0001f600", "c": [1, 2]}


def test_a_report_missing_a_field_is_invalid(reports) -> None:
    report = json.loads(reports["json"].read_text())
    del report["results"][0]["runs"]
    assert not _validator().is_valid(report)


def test_junit_is_valid_against_the_published_xsd(reports) -> None:
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(str(reports["junit"]))
    root = ET.parse(reports["junit"]).getroot()
    suites = root.findall("testsuite")
    assert {s.get("name") for s in suites} >= {"binder/tls13-altered-secret", "tickets/tls13-cross-release-shared-key"}
    for suite in suites:
        assert suite.get("file", "").startswith("cases/") and suite.get("file").endswith(".yaml")
        assert suite.get("timestamp", "").endswith("Z")
        for case in suite.findall("testcase"):
            assert float(case.get("time")) > 0
    unsupported = root.find("testsuite[@name='binder/tls13-altered-secret']")
    assert unsupported is not None and unsupported.get("skipped") == "1"
    assert "skipped" not in root.attrib  # Jenkins' schema has no skipped on testsuites


def test_markdown_has_the_matrix_and_the_grid(reports, edge_releases) -> None:
    text = reports["markdown"].read_text()
    old, new = edge_releases.versions
    assert text.startswith("## tlsdiff: ")
    assert f"| case | {old} | {new} |" in text
    assert "| `binder/tls13-altered-secret` | – | A |" in text
    assert "**`tickets/tls13-cross-release-shared-key`** (rows: release a, columns: release b)" in text


def test_an_imported_sessions_error_is_among_the_differences() -> None:
    """A TLS 1.2 session exported by 1.21 and imported by 1.27 (1.25 added the ECDHE group
    to the encoding): the import's error is a difference of its own (side `session`), not
    only the failed resumption that follows it. Found by a first-use trial: `--diff` and
    the JSON listed only the connection's symptoms."""
    import tlsdiff
    with tlsdiff.Run(go="1.21,1.27") as run:
        (result,) = run.run(tlsdiff.load_cases(["encoding/tls12-client-session-across-releases"])).results
    old, new = (k[0] for k in result.docs if k[0] == k[1])
    errors = [d for d in result.diffs if (d["side"], d["field"]) == ("session", "error")]
    assert len(errors) == 1, result.diffs
    by_value = {v["value"]: set(v["releases"]) for v in errors[0]["values"]}
    assert by_value["tls: invalid session encoding"] == {f"{old}>{new}", f"{new}>{old}"}, by_value
    assert by_value[None] == {f"{old}>{old}", f"{new}>{new}"}, by_value
