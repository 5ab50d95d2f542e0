"""The GitHub Actions files users call: valid against the published workflow and action
schemas, no finding by zizmor (offline, default persona), every action pinned to a
commit, and the composite action's script run here as a runner would run it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import EDGE_RELEASES, REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTION = REPO / "action.yml"


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def test_workflows_and_action_match_githubs_schemas() -> None:
    for schema, files in (("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions", [ACTION])):
        p = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr


def test_zizmor_finds_nothing() -> None:
    p = subprocess.run([_tool("zizmor"), "--offline", "--format", "plain", *map(str, WORKFLOWS), str(ACTION)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No findings to report" in p.stdout + p.stderr


def test_every_action_is_pinned_to_a_commit() -> None:
    for path in [*WORKFLOWS, ACTION]:
        for ref in re.findall(r"^\s*(?:-\s*)?uses:\s*([^\s#]+)", path.read_text(), flags=re.M):
            if ref.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref}"


def test_the_repositorys_workflow_calls_the_reusable_one() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "tlsdiff.yml").read_text())
    assert workflow["jobs"]["cases"]["uses"] == "./.github/workflows/tlsdiff-reusable.yml"
    reusable = yaml.safe_load((REPO / ".github" / "workflows" / "tlsdiff-reusable.yml").read_text())
    assert "workflow_call" in reusable[True]  # YAML reads the key 'on' as true
    assert reusable["jobs"]["merge"]["needs"] == "shard"


def _run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_composite_actions_script_runs_a_shard_and_reports(tmp_path: Path, edge_releases) -> None:
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "run")
    output = tmp_path / "github_output"
    env = dict(os.environ, GO=EDGE_RELEASES, GOROOTS="", CASES="", SHARD="1/2", REPORT_DIR="out",
               FAIL_ON_FAILURE="true", GITHUB_OUTPUT=str(output),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # The action installs tlsdiff into the runner's Python; here the test's own install stands in.
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "tlsdiff").write_text(f"#!/bin/sh\nexec {sys.executable} -m tlsdiff.cli \"$@\"\n")
    (shim / "tlsdiff").chmod(0o755)
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    p = _run_step(script, env, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert output.read_text().strip() == "exit-code=0"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["shard"]["index"] == 1 and report["shard"]["count"] == 2
    assert (tmp_path / "out" / "report.xml").is_file() and (tmp_path / "out" / "report.md").is_file()
