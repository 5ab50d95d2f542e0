"""The report's JSON text is json.dumps(obj, indent=1, sort_keys=True), byte for byte."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from tlsdiff.report.json_text import dumps_indented

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
            | st.text())
_values = st.recursive(
    _scalars,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(st.text(max_size=6), inner, max_size=4)
                   | st.dictionaries(st.integers(), inner, max_size=3)),
    max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_the_text_is_json_dumps_with_indent_and_sorted_keys(value) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=1, sort_keys=True)


def test_a_recorded_report_entry_comes_out_the_same() -> None:
    from pathlib import Path
    golden = sorted((Path(__file__).parent / "data" / "golden").glob("*.json"))
    assert golden
    for path in golden:
        doc = json.loads(path.read_text())
        assert dumps_indented(doc) == json.dumps(doc, indent=1, sort_keys=True)


def test_what_json_cannot_write_is_refused_as_json_refuses_it() -> None:
    for bad in ({"k": object()}, {(1, 2): 3}, [b"bytes"]):
        with pytest.raises(TypeError):
            json.dumps(bad, indent=1, sort_keys=True)
        with pytest.raises(TypeError):
            dumps_indented(bad)
