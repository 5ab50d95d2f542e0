"""The case schema: the hand-written structure in case.schema.json, with the
parts that come from a vocabulary filled in from it (what a side can be expected
to show, the misbehaviour knobs), so no list is written twice.

`python -m tlsdiff.scenario.schema > case.schema.json` prints the whole schema,
for an editor's YAML language server.
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    defs["client_misbehaviour"] = schema_for(Role.CLIENT)
    defs["server_misbehaviour"] = schema_for(Role.SERVER)
    defs["version"] = {"enum": list(VERSIONS)}
    defs["group"] = {"enum": list(GROUPS)}
    defs["common"]["cipher_suites"]["items"] = {"enum": list(CIPHER_SUITES)}
    return schema


if __name__ == "__main__":
    json.dump(case_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
