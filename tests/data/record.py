"""Record raw observations from real peers, for the harness tests that need no Go.

    python tests/data/record.py            # the cases below on the oldest and newest line
    pytest tests/test_core.py --update     # then remake the golden files from them

Each file in raw/ is one case on one release key as the peers answered it (the
CaseRun: every step's client and server observation, wire bytes and key logs
included). tests/test_core.py loads them, normalizes and compares them in-process
and holds the result to golden/. Re-record when the peers' answers change (a new
observed field, a new release line); review the golden diff like any other change.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from tlsdiff import Run, load_cases
from tlsdiff.execute import CaseRun
from tlsdiff.scenario.model import key_text

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"

#: Chosen to cover every kind of observation: same and cross pairings, HRR with a
#: binder failure that splits the releases, session export/import, a run that is
#: unsupported on the oldest line, a Python peer, cache deletions, ECH accepted and
#: rejected with retry configs.
CASES = (
    "bugs/go-59424-hrr-psk-binder",
    "binder/tls13-altered-secret",
    "binder/pyclient-corrupt-binder",
    "cache/tls13-delete-after-failed-resumption",
    "tickets/tls13-cross-release-shared-key",
    "encoding/tls13-client-session-across-releases",
    "ech/key-rotation-shared-ticket-keys",
)
RELEASES = "1.19,1.27"


def raw_name(case_id: str, key: tuple[str, ...]) -> str:
    return f"{case_id.replace('/', '__')}@{key_text(key).replace('>', '_')}.json"


def to_json(run: CaseRun) -> dict[str, Any]:
    return {"case": run.case.id, "key": list(run.key), "unsupported": run.unsupported, "failure": run.failure,
            "stderr": run.stderr, "steps": [dataclasses.asdict(s) for s in run.steps]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--go", default=RELEASES, help=f"releases to record on (default {RELEASES})")
    args = parser.parse_args(argv)
    cases = load_cases(CASES)
    with Run(args.go) as run:
        result = run.run(cases)
    RAW.mkdir(exist_ok=True)
    for old in RAW.glob("*.json"):
        old.unlink()
    for case_run in result.runs:
        path = RAW / raw_name(case_run.case.id, case_run.key)
        path.write_text(json.dumps(to_json(case_run), indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(result.runs)} runs of {len(cases)} cases into {RAW.relative_to(Path.cwd())}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
