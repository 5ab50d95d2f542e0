"""The command line as a user meets it: usage, version, where reports go, which
cases run, and bad input of every kind answered with one line and exit 2 before
any work. Runs that need peers use the oldest and newest line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EDGE_RELEASES, REPO

ONE_CASE = "resumption/tls13-same-server"


def tlsdiff(*args: str, cwd: Path = REPO, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsdiff.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, input=stdin)


def one_line_exit_2(p: subprocess.CompletedProcess, expected: str) -> None:
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], p.stderr


def test_bare_tlsdiff_prints_usage() -> None:
    p = tlsdiff()
    assert p.returncode == 0 and p.stdout.startswith("usage: tlsdiff") and "run" in p.stdout


def test_version_names_the_go_peer_source() -> None:
    from tlsdiff.paths import GO_PEER_DIR
    from tlsdiff.peers.build import peer_source_hash
    p = tlsdiff("--version")
    assert p.returncode == 0
    assert p.stdout.startswith("tlsdiff 0.") and f"go-peer {peer_source_hash(GO_PEER_DIR)[:16]}" in p.stdout


# ---------------------------------------------------------------- bad input, before any work


@pytest.mark.parametrize("args, expected", [
    (["run", "--json", "/nonexistent-folder/r.json"], "--json: folder '/nonexistent-folder' does not exist"),
    (["run", "--junit", "/tmp"], "--junit: '/tmp' is a folder"),
    (["run", "--json", "-", "--junit", "-"], "only one report can go to standard output"),
    (["run", "--timeout", "nan"], "--timeout: 'nan' is not a number of seconds"),
    (["run", "--timeout", "inf"], "--timeout: 'inf' is not a number of seconds"),
    (["run", "--timeout", "1_0"], "--timeout: '1_0' is not a number of seconds"),
    (["run", "--json=--"], "--json: '--' is not a value"),
    (["run", "--shard", ""], "--shard: '' is not a shard"),
    (["run", ""], "case selector '': empty"),
    (["run", "--cases", ""], "--cases: an empty folder name"),
    (["run", "--go", ""], "--go: empty; expected"),
    (["run", "--json", "newdir/"], "ends with '/', a folder"),
    (["run", "--json", "x" * 300 + ".json"], "File name too long"),
    (["run", "--json", "same.out", "--junit", "./same.out"], "--json and --junit: both would write"),
    (["run", "--json", "cases/resumption/tls13-same-server.yaml"], "is a case file of this run"),
    (["ticket", "inspect", "--key", "README.md", "--go", "all", "00"], "--go: 'all' is not a Go release tlsdiff"),
    (["ticket", "inspect", "--key", "README.md", "--go", "1.99", "00"], "--go: Go 1.99 does not exist yet"),
    (["run", "--timeout", "0.0001"], "--timeout: '0.0001' is not allowed; expected seconds from 0.1 to 600"),
    (["run", "--workers", "1000"], "--workers: '1000' is not allowed"),
    (["run", "--cases", "cases/resumption/tls13-same-server.yaml"], "is not a folder"),
    (["run", "--cases", "/nonexistent-folder"], "--cases: '/nonexistent-folder' does not exist"),
    (["run", "-k", "no-such-case-anywhere"], "-k no-such-case-anywhere: no case matches"),
    (["run", "--tag", "nope"], "--tag nope: no case matches; tags in use:"),
    (["run", ONE_CASE, "--go", "1.20,1.27"], "--go: Go 1.20 cannot be had here"),
    (["diff", "README.md", "README.md"], "README.md: not JSON"),
])
def test_bad_flags_are_one_line(args: list[str], expected: str) -> None:
    one_line_exit_2(tlsdiff(*args), expected)


def _json_file(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return path


EMPTY_REPORT = {"tlsdiff_report": 1, "tlsdiff": {"version": "0", "go_peer": "0" * 16}, "releases": [],
                "summary": {"cases": 0, "pass": 0, "fail": 0, "error": 0, "unsupported": 0}, "results": [],
                "timing": {}}
ENTRY = {"case": "a/b", "file": "cases/a/b.yaml", "description": "d", "source": "s", "tags": [], "pairing": "same",
         "verdict": "pass", "classes": {}, "differences": [], "runs": {}}


@pytest.mark.parametrize("content, expected", [
    ({k: v for k, v in EMPTY_REPORT.items() if k != "results"}, "(top level): 'results' is a required property"),
    ({**EMPTY_REPORT, "results": None}, "results: None is not of type 'array'"),
    ({**EMPTY_REPORT, "results": [{k: v for k, v in ENTRY.items() if k != "runs"}]},
     "results[0]: 'runs' is a required property"),
    ({**EMPTY_REPORT, "results": [{**ENTRY, "runs": {"1.2": 3}}]}, "3 is not of type 'object'"),
    ({**EMPTY_REPORT, "results": [{**ENTRY, "runs": {"1.2": {"verdict": "bogus", "class": "A", "failures": [],
                                                              "observations": {"steps": []}}}}]},
     "'bogus' is not one of"),
    ({**EMPTY_REPORT, "results": [ENTRY, ENTRY]}, "results: case 'a/b' is there twice"),
    ({**EMPTY_REPORT, "tlsdiff_report": True}, "tlsdiff_report: expected a tlsdiff JSON report of schema 1"),
])
def test_diff_refuses_reports_it_cannot_read(tmp_path: Path, content: object, expected: str) -> None:
    good = _json_file(tmp_path, "good.json", EMPTY_REPORT)
    one_line_exit_2(tlsdiff("diff", str(good), str(_json_file(tmp_path, "bad.json", content))), expected)


@pytest.mark.parametrize("text, expected", [
    ('{"tlsdiff_report": 1, "x": ' + "[" * 100000 + "]" * 100000 + "}", "not a JSON report"),
    ('{"tlsdiff_report": 1' + "0" * 5000 + "}", "not a JSON report"),
    ('{"tlsdiff_report": NaN}', "not a JSON report (NaN is not JSON)"),
], ids=["deep", "long-number", "nan"])
def test_diff_refuses_pathological_json(tmp_path: Path, text: str, expected: str) -> None:
    good = _json_file(tmp_path, "good.json", EMPTY_REPORT)
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    one_line_exit_2(tlsdiff("diff", str(good), str(bad)), expected)


def test_diff_refuses_a_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    one_line_exit_2(tlsdiff("diff", str(fifo), str(fifo)), "not a regular file")


def test_diff_refuses_a_binary_file(tmp_path: Path) -> None:
    blob = tmp_path / "blob.json"
    blob.write_bytes(bytes(range(256)))
    one_line_exit_2(tlsdiff("diff", str(blob), str(blob)), "not a JSON report (not UTF-8 text)")


# ---------------------------------------------------------------- case files


def _case_dir(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    root = tmp_path / "mine"
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return root


GOOD = ("description: d\nsource: s\nservers: {s1: {}}\nclients: {c1: {}}\n"
        "steps: [{connect: {client: c1, server: s1}}]\n")
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n' \
       'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n' \
       'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n'


@pytest.mark.parametrize("body, expected", [
    (bytes(range(256)), "not UTF-8 text (byte 0x80 at offset 128)"),
    ("description: café\n".encode("latin-1"), "not UTF-8 text"),
    ("description: d\n".encode("utf-16"), "not UTF-8 text"),
    (BOMB, "YAML anchors and aliases (&name, *name) are not allowed"),
    (GOOD.replace("servers: {s1: {}}", "servers: {s1: {}, s1: {max_version: '1.2'}}"),
     "key 's1' is given twice in one mapping"),
    (GOOD + "description: again\n", "key 'description' is given twice"),
    ("#" * (300 * 1024), "larger than 256 KiB"),
    # Ours says "nested more than 32 deep"; PyYAML 6.0.4 and newer refuse first ("maximum nesting depth").
    ("description: " + "[" * 1000 + "]" * 1000 + "\nsource: s\nsteps: []\n", "nest"),
    ("description: " + "[" * 50000 + "]" * 50000 + "\nsource: s\nsteps: []\n", "nest"),
    (GOOD + "expect:\n  - step: 1.0\n    client: {tickets: 0}\n", "1.0 has the wrong type; expected integer"),
    (GOOD + "1: x\nfoo: y\n", "unknown key"),
    (GOOD + "? [a, b]\n: 1\n", "a key must be a plain name"),
    (GOOD.replace("servers: {s1: {}}", 'servers: {"s1\\n": {}}'), "does not match the expected form"),
    (GOOD.replace("clients: {c1: {}}", "clients: {c1: {cache_capacity: 5}}"), "cache_capacity: goes with cache"),
    (GOOD + "expect: [{step: 1, client: {state: {DidResume: 'false'}}}]\n", "'false' has the wrong type"),
    (GOOD + "expect: [{step: 1, client: {alert_sent: not_an_alert}}]\n", "'not_an_alert' is not allowed"),
    (GOOD + "expect: [{step: 1, releases: '>=1.25 <1.21', client: {hrr: false}}]\n",
     "'>=1.25 <1.21' matches no Go release"),
    (GOOD + "expect: [{step: 1, releases: '1.99', client: {hrr: false}}]\n", "'1.99' matches no Go release"),
    (GOOD + "expect: [{step: 1, releases: '1.2', client: {hrr: false}}]\n", "(a line is 1.21, not 1.2)"),
    (GOOD.replace("servers: {s1: {}}", "servers: {s1: {cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA265]}}"),
     "'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA265' is not allowed; expected one of: TLS_AES_128_GCM_SHA256"),
    (GOOD.replace("servers: {s1: {}}", "servers: {s1: {curve_preferences: [X25518]}}"), "'X25518' is not allowed"),
    (GOOD.replace("clients: {c1: {}}", "clients: {c1: {cache: m, cache_capacity: 99999999999999999999999}}"),
     "is greater than the maximum of 1000000"),
    (GOOD.replace("server: s1}", "server: s1, at: '+99999999999999999999d'}"), "is too far; expected at most +36500d"),
], ids=["random-bytes", "latin-1", "utf-16", "alias-bomb", "duplicate-server", "duplicate-top-key", "5-mb",
        "deep-1000", "deep-50000", "float-step", "mixed-keys", "complex-key", "name-newline", "capacity-no-cache",
        "state-value-type", "alert-name",
        "empty-range", "future-line", "line-1.2", "misspelt-suite", "misspelt-group", "huge-capacity", "huge-clock"])
def test_hostile_case_files_are_one_line(tmp_path: Path, body: bytes | str, expected: str) -> None:
    root = _case_dir(tmp_path, {"c.yaml": body})
    one_line_exit_2(tlsdiff("run", "--list", "--no-default-cases", "--cases", str(root)), expected)


def test_a_dangling_symlink_is_named_as_itself(tmp_path: Path) -> None:
    root = _case_dir(tmp_path, {"ok.yaml": GOOD})
    (root / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    one_line_exit_2(tlsdiff("run", "--list", "--no-default-cases", "--cases", str(root)),
                    "gone.yaml: cannot read: No such file or directory (a symlink to a missing file)")


def test_a_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    root = _case_dir(tmp_path, {"area/ok.yaml": GOOD})
    (root / "area" / "loop").symlink_to(root, target_is_directory=True)
    p = tlsdiff("run", "--list", "--no-default-cases", "--cases", str(root))
    assert p.returncode == 0, p.stderr
    assert "area/ok " in p.stdout


def test_user_case_folders_add_to_the_default_and_clashes_name_both_files(tmp_path: Path) -> None:
    root = _case_dir(tmp_path, {"extra/one.yaml": GOOD})
    p = tlsdiff("run", "--list", "--cases", str(root))
    assert p.returncode == 0 and "extra/one " in p.stdout and ONE_CASE in p.stdout
    clash = _case_dir(tmp_path / "b", {"resumption/tls13-same-server.yaml": GOOD})
    p = tlsdiff("run", "--list", "--cases", str(clash))
    one_line_exit_2(p, "case id 'resumption/tls13-same-server' is given by two files")
    assert "tls13-same-server.yaml" in p.stderr and str(clash) in p.stderr


def test_a_folder_given_as_selector_keeps_its_name_in_the_ids(tmp_path: Path) -> None:
    a = _case_dir(tmp_path / "x", {"same.yaml": GOOD})
    b = _case_dir(tmp_path / "y", {"same.yaml": GOOD})
    p = tlsdiff("run", "--list", str(a), cwd=tmp_path)
    assert p.returncode == 0 and "mine/same " in p.stdout
    one_line_exit_2(tlsdiff("run", "--list", str(a), str(b), cwd=tmp_path), "case id 'mine/same' is given by two files")


def test_an_id_the_peers_could_confuse_is_refused(tmp_path: Path) -> None:
    root = _case_dir(tmp_path, {"a#b.yaml": GOOD})
    one_line_exit_2(tlsdiff("run", "--list", "--no-default-cases", "--cases", str(root)),
                    "case id 'a#b' has characters other than")


def test_keyword_and_tag_select_cases() -> None:
    p = tlsdiff("run", "--list", "-k", "altered", "--tag", "tls12")
    assert p.returncode == 0, p.stderr
    ids = [line.split()[0] for line in p.stdout.splitlines()[1:]]
    assert ids and all("altered" in i for i in ids)
    assert "binder/tls12-altered-master-secret" in ids and "binder/tls13-altered-secret" not in ids


# ---------------------------------------------------------------- runs: where output goes


def test_json_to_standard_output_is_parseable_and_the_matrix_goes_to_stderr(edge_releases) -> None:
    p = tlsdiff("run", ONE_CASE, "--go", EDGE_RELEASES, "--json", "-")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert [r["case"] for r in report["results"]] == [ONE_CASE]
    assert ONE_CASE in p.stderr and "1 passed" in p.stderr


def test_a_report_that_cannot_be_written_keeps_the_matrix_and_exits_2(edge_releases) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    p = tlsdiff("run", ONE_CASE, "--go", EDGE_RELEASES, "--json", "/dev/full")
    assert p.returncode == 2
    assert ONE_CASE in p.stdout and "1 passed" in p.stdout  # the result is not lost
    assert p.stderr.strip().splitlines()[-1] == "tlsdiff: --json: cannot write /dev/full: No space left on device"


def test_a_closed_pipe_ends_quietly(edge_releases) -> None:
    p = subprocess.run(f"{sys.executable} -m tlsdiff.cli run resumption/ --go {EDGE_RELEASES} | head -1",
                       shell=True, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.stdout.strip() and "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_all_with_an_unavailable_release_says_so_on_stderr_even_quiet(edge_releases) -> None:
    from tlsdiff import toolchains
    if "1.20" not in toolchains.parse_release_list("all"):
        pytest.skip("'all' does not reach 1.20 here")
    p = tlsdiff("run", ONE_CASE, "--go", "all", "-q")
    assert p.returncode == 0, p.stderr
    assert "tlsdiff: Go 1.20: unavailable, left out:" in p.stderr


# ---------------------------------------------------------------- the pytest plugin


def pytest_run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("go, expected", [
    ("1.9", "ERROR: tlsdiff: --go: '1.9' is not a Go release tlsdiff knows"),
    ("1.20", "ERROR: tlsdiff: --go: Go 1.20 cannot be had here"),
])
def test_plugin_reports_a_bad_go_once_as_a_usage_error(go: str, expected: str) -> None:
    p = pytest_run("cases/", "--go", go)
    assert p.returncode == 4, p.stdout + p.stderr
    assert (p.stdout + p.stderr).count(expected) == 1 and "Traceback" not in p.stdout + p.stderr


def test_plugin_checks_the_timeout_and_names_a_bad_case_file_in_one_line(tmp_path: Path) -> None:
    p = pytest_run("cases/resumption/tls13-same-server.yaml", "--go", "1.27", "--tlsdiff-timeout", "inf")
    assert p.returncode == 4 and "--tlsdiff-timeout: inf is not allowed" in p.stdout + p.stderr
    root = _case_dir(tmp_path, {"bad.yaml": "steps: [\n"})
    p = pytest_run("--go", "1.27", "--cases", str(root), str(root))
    assert "malformed YAML" in p.stdout and "pytest_plugin.py" not in p.stdout, p.stdout


def test_plugin_tags_are_markers_and_user_folders_are_collected(tmp_path: Path, edge_releases) -> None:
    newest = edge_releases.versions[-1]
    p = pytest_run("cases/", "--go", newest, "-m", "tls12 and binder", "--collect-only")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "tls12-altered-master-secret.yaml" in p.stdout and "tls13-altered-secret.yaml" not in p.stdout
    root = _case_dir(tmp_path, {"area/mine.yaml": GOOD.replace("source: s\n", "source: s\ntags: [mytag]\n")})
    p = pytest_run("--go", newest, "--cases", str(root), "-m", "mytag", str(root))
    assert p.returncode == 0 and "1 passed" in p.stdout, p.stdout + p.stderr


def test_the_python_peer_runs_isolated_from_the_working_directory(tmp_path: Path, edge_releases) -> None:
    trap = tmp_path / "tlspeerd"
    trap.mkdir()
    witness = tmp_path / "executed"
    (trap / "__init__.py").write_text(f"open({str(witness)!r}, 'w').write('x')\n")
    (trap / "__main__.py").write_text(f"open({str(witness)!r}, 'w').write('x')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", "binder/pyclient-corrupt-binder", "--go",
                        edge_releases.versions[-1], "-q"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not witness.exists()


def test_a_case_file_that_is_a_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    os.mkfifo(root / "x.yaml")
    one_line_exit_2(tlsdiff("run", "--list", "--no-default-cases", "--cases", str(root)), "not a regular file")


def test_a_report_into_a_pipe_is_refused_before_the_run(tmp_path: Path) -> None:
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    one_line_exit_2(tlsdiff("run", "--json", str(fifo)), "not a regular file (a pipe or a socket)")


def test_a_relative_goroot_works(tmp_path: Path, edge_releases) -> None:
    newest = edge_releases.available[-1]
    (tmp_path / "go").symlink_to(newest.goroot, target_is_directory=True)
    p = tlsdiff("run", ONE_CASE, "--goroot", "go", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_cache_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = subprocess.run([sys.executable, "-m", "tlsdiff.cli", "run", ONE_CASE, "--go", "1.27"], cwd=REPO,
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, TLSDIFF_CACHE=str(blocker)))
    one_line_exit_2(p, f"TLSDIFF_CACHE: {str(blocker)!r} cannot be a cache folder")


def test_closed_standard_output_loses_nothing_else(tmp_path: Path, edge_releases) -> None:
    out = tmp_path / "r.json"
    p = subprocess.run(f"{sys.executable} -m tlsdiff.cli run {ONE_CASE} --go {EDGE_RELEASES} --json {out} >&-",
                       shell=True, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert json.loads(out.read_text())["results"][0]["verdict"] == "pass"


def test_plugin_expected_failures_are_xfail_and_strict(tmp_path: Path, edge_releases) -> None:
    from test_run import WRONG_CASE
    newest = edge_releases.versions[-1]
    root = _case_dir(tmp_path, {"mine/wrong.yaml": WRONG_CASE})
    listed = tmp_path / "xfail.yaml"
    listed.write_text('- case: mine/wrong\n  reason: go.dev/issue/00000, an example\n')
    p = pytest_run("--go", newest, "--cases", str(root), "--expected-failures", str(listed), "-rx", str(root))
    assert p.returncode == 0 and "1 xfailed" in p.stdout and "expected failure: go.dev/issue/00000" in p.stdout, \
        p.stdout + p.stderr
    p = pytest_run("--go", "1.19", "--cases", str(root), "--expected-failures", str(listed), str(root))
    assert p.returncode == 1 and "no longer fails as expected" in p.stdout, p.stdout + p.stderr
    listed.write_text('- case: nowhere\n  reason: x\n')
    p = pytest_run("--go", newest, "--cases", str(root), "--expected-failures", str(listed), str(root))
    assert p.returncode == 4 and "[0].case: 'nowhere' matches no case" in p.stdout + p.stderr


def _session_processes(sid: int) -> list[str]:
    """The command lines of processes still in session sid."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
            left.append(cmdline)
    return left


@pytest.mark.parametrize("what", ["bad-case", "neither-helper-used"])
def test_helpers_started_early_are_ended_when_unused(tmp_path: Path, edge_releases, what: str) -> None:
    """`run` starts tlspeerd and the normalizer's worker while it reads the case files:
    a run refused for its input, and a run that needs neither, leave neither behind."""
    if what == "bad-case":
        args = ["run", "--no-default-cases", "--cases", str(_case_dir(tmp_path, {"c.yaml": GOOD + "foo: y\n"}))]
    else:  # Go on both ends, fewer runs than the worker is started for
        args = ["run", "state/tls13-full-handshake", "--go", edge_releases.versions[-1]]
    p = subprocess.Popen([sys.executable, "-m", "tlsdiff.cli", *args], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = p.communicate(timeout=600)
    assert p.returncode == (2 if what == "bad-case" else 0), out + err
    assert _session_processes(p.pid) == []
