"""The tables of docs/cases.md that are made from a vocabulary, and the check
that the file holds them as made. `pytest tests/test_vocabulary.py --update`
rewrites them in place (as Go's tests rewrite golden files with -update)."""
from __future__ import annotations

import re
from pathlib import Path

from tlsdiff import ech
from tlsdiff.observe.fields import EXPECTABLE, STATE
from tlsdiff.scenario.misbehaviours import KNOBS

CASES_DOC = Path(__file__).resolve().parent.parent / "docs" / "cases.md"
_BLOCK = re.compile(r"(<!-- generated: (\w+)[^>]*-->\n)(.*?)(<!-- end generated -->)", re.S)


def knob_table() -> str:
    rows = ["| knob (value) | side | what the endpoint does |", "| --- | --- | --- |"]
    for k in KNOBS:
        rows.append(f"| `{k.name}: {k.shown}` | {k.who} | {k.doc} |")
    return "\n".join(rows) + "\n"


def side_table() -> str:
    rows = ["| field | the observed value |", "| --- | --- |"]
    for f in EXPECTABLE:
        rows.append(f"| `{f.name}` | {f.doc} |")
    rows.append("| `state` | ConnectionState fields by their Go name (below) |")
    return "\n".join(rows) + "\n"


def state_table() -> str:
    rows = ["| field | since |", "| --- | --- |"]
    for f in STATE:
        rows.append(f"| `{f.name}` | {f.since} |")
    return "\n".join(rows) + "\n"


def ech_table() -> str:
    rows = ["| name | config id | version | |", "| --- | --- | --- | --- |"]
    for name, spec in ech.SPECS.items():
        rows.append(f"| `{name}` | {spec.config_id} | `0x{spec.version:04x}` | {spec.doc} |")
    return "\n".join(rows) + "\n"


TABLES = {"knobs": knob_table, "side_fields": side_table, "state_fields": state_table, "ech_configs": ech_table}


def render(text: str) -> str:
    """The document with every generated block made afresh."""
    return _BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + m.group(4), text)


def blocks(text: str) -> list[str]:
    return [m.group(2) for m in _BLOCK.finditer(text)]
