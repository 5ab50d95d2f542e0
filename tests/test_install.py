"""tlsdiff as users get it: a wheel built from this checkout, installed into a fresh
virtual environment outside it, run from a folder that holds nothing of tlsdiff."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import EDGE_RELEASES, REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv with the wheel installed (its dependencies from the index)."""
    work = tmp_path_factory.mktemp("install")
    # A file an earlier build left behind (a case deleted since) must not ship.
    stale = REPO / "build" / "lib" / "tlsdiff" / "cases" / "deleted-since" / "stale-case.yaml"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("id: stale\n")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = (work / "dist").glob("tlsdiff-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not any("deleted-since" in n for n in names), "a stale build/ file went into the wheel"
    assert "tlsdiff/go_peer/main.go" in names and "tlsdiff/cases/resumption/tls13-same-server.yaml" in names
    assert "tlsdiff/scenario/case.schema.json" in names and "tlspeerd/serve.py" in names
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=300)
    bin_dir = work / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    return bin_dir


def _elsewhere(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if "venv" not in p)
    return env


def test_the_installed_tool_runs_cases_from_an_empty_folder(installed: Path, tmp_path: Path, edge_releases) -> None:
    env = _elsewhere(tmp_path)
    version = subprocess.run([str(installed / "tlsdiff"), "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("tlsdiff 0."), version.stderr
    # A Go-against-Go case and a Python-peer case: the go-peer sources and tlspeerd come from the wheel.
    p = subprocess.run([str(installed / "tlsdiff"), "run", "resumption/tls13-same-server",
                        "binder/pyclient-corrupt-binder", "--go", EDGE_RELEASES, "--json", "r.json"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["verdict"] for r in report["results"]] == ["pass", "pass"]
    where = subprocess.run([str(installed / "python"), "-c", "import tlsdiff.paths as p; print(p.GO_PEER_DIR)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert str(REPO) not in where.stdout and "site-packages/tlsdiff/go_peer" in where.stdout


def test_the_installed_tool_reports_captures_models_and_explains(installed: Path, tmp_path: Path,
                                                                  edge_releases) -> None:
    """What the wheel ships beyond the run: the HTML page's style and script, captures, the
    resumption model, and explain reading the toolchains' sources."""
    env = _elsewhere(tmp_path)
    tool = str(installed / "tlsdiff")
    p = subprocess.run([tool, "run", "bugs/go-77113-clone-other-client-cas", "--go", EDGE_RELEASES, "--model",
                        "--html", "r.html", "--capture", "caps", "-q"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 where the model disagrees" in p.stdout
    page = (tmp_path / "r.html").read_text()
    assert "<style>" in page and "<script>" in page and "bugs/go-77113-clone-other-client-cas" in page
    assert len(list((tmp_path / "caps").glob("*.pcapng"))) == 2 * 2  # two connections on each of two releases
    x = subprocess.run([tool, "explain", "bugs/go-77113-clone-other-client-cas", "--go", EDGE_RELEASES],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert x.returncode == 0 and "checkForResumption (crypto/tls/handshake_server_tls13.go) changed" in x.stdout, \
        x.stdout + x.stderr
