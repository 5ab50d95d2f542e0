"""The case schema: the hand-written structure in case.schema.json, with the
parts that come from a vocabulary filled in from it (what a side can be expected
to show, the misbehaviour knobs, the certificates of the PKI), so no list is
written twice.

`python -m tlsdiff.scenario.schema > case.schema.json` prints the whole schema,
for an editor's YAML language server.
"""
from __future__ import annotations

import copy
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import pki
from .. import ech
from ..observe.fields import side_schema
from .misbehaviours import schema_for
from .model import Role
from .tls_names import CIPHER_SUITES, GROUPS, VERSIONS

SKELETON_PATH = Path(__file__).with_name("case.schema.json")


@lru_cache(maxsize=1)
def case_schema() -> dict[str, Any]:
    schema = json.loads(SKELETON_PATH.read_text())
    defs = schema["$defs"]
    defs["side"] = side_schema()
    # Copies: _anchor_ends edits patterns in place, and the knob table's value schemas
    # are read as they are written (tlsdiff fuzz draws values from them).
    defs["client_misbehaviour"] = copy.deepcopy(schema_for(Role.CLIENT))
    defs["server_misbehaviour"] = copy.deepcopy(schema_for(Role.SERVER))
    defs["version"] = {"enum": list(VERSIONS)}
    defs["group"] = {"enum": list(GROUPS)}
    defs["ech_config"] = {"enum": list(ech.NAMES)}
    defs["common"]["cipher_suites"]["items"] = {"enum": list(CIPHER_SUITES)}
    defs["root"] = {"enum": list(pki.ROOTS)}
    defs["server"]["properties"]["certificate"] = {"enum": list(pki.SERVER_LEAVES)}
    defs["client"]["properties"]["certificate"] = {"enum": list(pki.CLIENT_LEAVES)}
    _anchor_ends(schema)
    return schema


TRUE_END = r"(?!\n)$"


def _anchor_ends(node: Any) -> None:
    """Make every pattern's '$' the true end: Python's '$' also matches before a final
    newline, which would let "s1\\n" pass as the name s1. The lookahead is ECMA too."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern.endswith("$") and not pattern.endswith(TRUE_END):
            node["pattern"] = pattern[:-1] + TRUE_END
        for value in node.values():
            _anchor_ends(value)
    elif isinstance(node, list):
        for value in node:
            _anchor_ends(value)


if __name__ == "__main__":
    json.dump(case_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
