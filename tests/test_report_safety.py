"""`gradflow report` never loses a user's work and fails clearly (issue 9).

Each case runs the real command in a temporary folder that already holds a
report and a user's own files, and compares every file's hash before and after.
"""

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradflow.report import build_report

ROOT = Path(__file__).resolve().parents[1]

GOOD = '''
import pandas as pd
from matplotlib import pyplot as plt

TITLE = "A good analysis"
QUESTION = "Does it work?"
GRID = {"a": [1, 2], "seed": [0]}

def run(config):
    return [{"v": float(config["a"])}]

def render(frame, out):
    fig, ax = plt.subplots()
    ax.plot(frame.a, frame.v, "o")
    out.figure("points", fig, frame, caption="Points")
    out.table("values", frame, caption="Values")
    out.number("Total", frame.v.sum(), "sum of v")
'''

# A run that fails for a = 3 only, after the others could finish; MARKERS (if set) gets
# one file per started run holding the worker's pid, and SLEEP makes runs wait.
BROKEN_RUN = '''
import os, time

TITLE = "A broken analysis"
QUESTION = "What does a failure look like?"
GRID = {"a": [1, 2, 3], "seed": [0]}

def run(config):
    markers = os.environ.get("GRADFLOW_TEST_MARKERS")
    if markers:
        with open(os.path.join(markers, f"{config['a']}.pid"), "w") as f:
            f.write(str(os.getpid()))
    time.sleep(float(os.environ.get("GRADFLOW_TEST_SLEEP", "0")))
    if config["a"] == 3:
        raise ValueError("a = 3 is not allowed")
    return [{"v": float(config["a"])}]

def render(frame, out):
    out.text("never reached")
'''

BROKEN_RENDER = GOOD.replace('out.number("Total"', 'raise ValueError("bad render")\n'
                                                    '    out.number("Total"')


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _gradflow(*args, cwd, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "gradflow", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.fixture(scope="module")
def previous_report(tmp_path_factory):
    """A finished report (with a user's own files beside it), built once."""
    base = tmp_path_factory.mktemp("previous")
    good = base / "analyses"
    good.mkdir()
    (good / "good.py").write_text(GOOD, encoding="utf-8")
    build_report(base / "reports", analyses=good, cache=None, stream=None, jobs=1)
    (base / "reports" / "figures" / "my-own-sketch.png").write_bytes(b"mine")
    (base / "reports" / "notes.md").write_text("my notes\n", encoding="utf-8")
    return base / "reports"


@pytest.fixture
def project(tmp_path, previous_report):
    """A user's project: reports/ holding the previous report, and analyses/."""
    shutil.copytree(previous_report, tmp_path / "reports")
    (tmp_path / "analyses").mkdir()
    return tmp_path


def _use(project: Path, **files: str) -> None:
    for name, text in files.items():
        (project / "analyses" / f"{name}.py").write_text(text, encoding="utf-8")


def _untouched(project: Path, before: dict[str, str], stderr: str,
               out: str = "reports") -> None:
    assert _hashes(project / "reports") == before
    assert f"{out}/ is exactly as it was" in stderr
    assert not list(project.glob(".reports.staging-*"))


def test_a_failing_run_leaves_the_report_and_keeps_finished_runs(project):
    _use(project, broken=BROKEN_RUN)
    before = _hashes(project / "reports")
    result = _gradflow("report", "--jobs", 1, cwd=project)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "a = 3 is not allowed" in result.stderr
    assert 'analysis broken.py failed in run(config={"a": 3, "seed": 0}): ValueError' \
        in result.stderr
    _untouched(project, before, result.stderr)
    assert len(list((project / ".gradflow-cache" / "broken").glob("*.json"))) == 2


def test_a_failing_render_is_named_and_leaves_the_report(project):
    _use(project, good=BROKEN_RENDER)
    before = _hashes(project / "reports")
    result = _gradflow("report", "--jobs", 1, cwd=project)
    assert result.returncode == 1
    assert "analysis good.py failed in render(...): ValueError: bad render" in result.stderr
    assert 'good.py", line' in result.stderr          # the traceback reaches the file
    _untouched(project, before, result.stderr)


def test_an_analysis_that_does_not_import_is_named(project):
    _use(project, typo="TITLE = 'x'\ndef run(config:\n")
    before = _hashes(project / "reports")
    result = _gradflow("report", cwd=project)
    assert result.returncode == 1 and "SyntaxError" in result.stderr
    assert "analysis typo.py failed in import" in result.stderr
    _untouched(project, before, result.stderr)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_workers_and_leaves_the_report(project, signum, code):
    _use(project, broken=BROKEN_RUN)
    markers = project / "markers"
    markers.mkdir()
    before = _hashes(project / "reports")
    process = subprocess.Popen(
        [sys.executable, "-m", "gradflow", "report", "--jobs", "2"], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "GRADFLOW_TEST_MARKERS": str(markers),
             "GRADFLOW_TEST_SLEEP": "120", "PYTHONFAULTHANDLER": "1"},
        # As from a terminal: a test run started in the background by a shell without job
        # control inherits SIGINT ignored, and so would the report (it then hung here).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while len(list(markers.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.read_text()) for p in markers.glob("*.pid")]
    assert len(workers) == 2, "the workers did not start"
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        # Have faulthandler print where every thread of the report process stands, then
        # fail (how the inherited SIG_IGN above was found).
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate(timeout=30)
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"gradflow report did not stop within 30 s of "
                    f"{signal.Signals(signum).name}; its threads:\n{stderr}")
    assert process.returncode == code, stderr
    assert f"interrupted ({signal.Signals(signum).name})" in stderr
    assert "Traceback" not in stderr
    _untouched(project, before, stderr)
    for pid in workers:   # nothing left running
        assert not _running(pid), f"worker {pid} still runs"


def _running(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        if "\nState:\tZ" in status:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "--analyses folder 'analyses/nowhere' does not exist"),
    (lambda p: (p / "analyses" / "nowhere").mkdir(), "holds no analysis file"),
    (lambda p: ((p / "analyses" / "nowhere").mkdir(),
                (p / "analyses" / "nowhere" / "_helper.py").write_text("X = 1\n")),
     "holds no analysis file"),
])
def test_a_missing_or_empty_analyses_folder_is_a_usage_error(project, setup, message):
    setup(project)
    before = _hashes(project / "reports")
    result = _gradflow("report", "--analyses", "analyses/nowhere", cwd=project)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
    _untouched(project, before, result.stderr, out="reports-nowhere")


def test_an_unreachable_scheduler_is_one_line_and_quick(project):
    _use(project, good=GOOD)
    before = _hashes(project / "reports")
    start = time.monotonic()
    result = _gradflow("report", "--scheduler", "tcp://127.0.0.1:9", cwd=project)
    elapsed = time.monotonic() - start
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert elapsed < 60   # a hang guard only; the time is measured, not asserted tightly
    _untouched(project, before, result.stderr)


def test_quick_writes_a_marked_preview_beside_the_report(project):
    _use(project, good=GOOD)
    before = _hashes(project / "reports")
    result = _gradflow("report", "--quick", "--no-cache", "--jobs", 1, cwd=project)
    assert result.returncode == 0, result.stderr
    assert _hashes(project / "reports") == before        # the full report is left alone
    quick = project / "reports-quick"
    assert "PREVIEW, not results" in (quick / "REPORT.md").read_text()
    assert "PREVIEW of a quick grid" in (quick / "results.tex").read_text()
    assert "Preview of a quick grid, not results" in (quick / "REPORT.md").read_text()
    assert json.loads((quick / "manifest.json").read_text())["quick"] is True


def test_a_successful_run_replaces_only_what_gradflow_generated(project):
    old = json.loads((project / "reports" / "manifest.json").read_text())["outputs"]
    assert "figures/good-points-column.png" in old and "tables/good-values.csv" in old
    (project / "reports" / "tables" / "good-values.md").write_text("edited by hand\n")
    _use(project, other=GOOD.replace('"points"', '"dots"').replace('"values"', '"numbers"'))
    result = _gradflow("report", "--jobs", 1, "--no-cache", cwd=project)
    assert result.returncode == 0, result.stderr
    reports = project / "reports"
    assert (reports / "figures" / "my-own-sketch.png").read_bytes() == b"mine"
    assert (reports / "notes.md").read_text() == "my notes\n"
    assert (reports / "figures" / "other-dots-column.png").exists()
    assert not (reports / "figures" / "good-points-column.png").exists()   # old, unedited
    assert (reports / "tables" / "good-values.md").read_text() == "edited by hand\n"
    assert "kept 1 file(s) of the previous report that were edited" in result.stdout
    manifest = json.loads((reports / "manifest.json").read_text())
    for rel, digest in manifest["outputs"].items():
        assert hashlib.sha256((reports / rel).read_bytes()).hexdigest() == digest
    assert not list(project.glob(".reports.staging-*"))


def test_a_corrupt_cache_entry_is_recomputed_with_a_note(project):
    _use(project, good=GOOD)
    assert _gradflow("report", "--jobs", 1, cwd=project).returncode == 0
    first = _hashes(project / "reports")
    entry = sorted((project / ".gradflow-cache" / "good").glob("*.json"))[0]
    payload = json.loads(entry.read_text())
    payload["rows"][0]["v"] = 99.0                    # an edited result
    entry.write_text(json.dumps(payload))
    result = _gradflow("report", "--jobs", 1, cwd=project)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "recomputing" in line]
    assert len(notes) == 1 and "corrupt (checksum mismatch" in notes[0]
    second = _hashes(project / "reports")
    del first["manifest.json"], second["manifest.json"]
    assert first == second                          # the edit did not reach the report


def test_the_manifest_names_the_commit_of_the_analyses(tmp_path):
    folder = tmp_path / "project" / "analyses"
    folder.mkdir(parents=True)
    (folder / "good.py").write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out"
    build_report(out, analyses=folder, cache=None, stream=None, jobs=1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["git_commit"] == "not a git checkout" and manifest["git_dirty"] is None

    def git(*args):
        subprocess.run(["git", "-C", str(folder.parent), *args], check=True,
                       capture_output=True)
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "analyses")
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    build_report(out, analyses=folder, cache=None, stream=None, jobs=1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["git_commit"] == head and manifest["git_dirty"] is False
    (folder / "good.py").write_text(GOOD + "\n# edited\n", encoding="utf-8")
    build_report(out, analyses=folder, cache=None, stream=None, jobs=1)
    assert json.loads((out / "manifest.json").read_text())["git_dirty"] is True


HEAVY = ("pandas", "matplotlib", "seaborn", "sympy", "scipy", "gradflow.engine", "torch", "numba")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["report", "--help"],
                                  ["derive", "--help"], ["bench", "--help"], ["analyze", "--help"]])
def test_the_command_line_starts_light(argv):
    """Help and version import none of the heavy libraries (their time is in the README)."""
    code = ("import sys\nfrom gradflow.cli import main\ntry:\n"
            f"    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_port_that_does_not_speak_dask_is_one_line(project):
    """Something listens at the address but never answers like a Dask scheduler (the
    second connection is never even accepted): the wait is bounded all the same."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_garbage():
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)
            time.sleep(1)

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    _use(project, good=GOOD)
    before = _hashes(project / "reports")
    result = _gradflow("report", "--scheduler", f"tcp://127.0.0.1:{port}", cwd=project)
    server.close()
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"Dask scheduler at tcp://127.0.0.1:{port}" in result.stderr
    _untouched(project, before, result.stderr)


# --- Ownership: a report run never deletes or overwrites what it did not make (issue 23) --

def _everything(project: Path) -> dict[str, str]:
    """Every file of the project but the cache and the analyses: the report, the user's
    own files, and a victim beside the report."""
    return {rel: digest for rel, digest in _hashes(project).items()
            if not rel.startswith((".gradflow-cache/", "analyses/"))}


@pytest.fixture
def victim(project):
    path = project / "victim.txt"
    path.write_text("a file outside --out\n", encoding="utf-8")
    return path


def _refused(result, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_own_analyses_go_to_a_folder_of_their_own(project, victim):
    (project / "my_analyses").mkdir()
    (project / "my_analyses" / "mine.py").write_text(GOOD.replace('"points"', '"mine"'))
    before = _everything(project)
    result = _gradflow("report", "--analyses", "my_analyses", "--jobs", 1, cwd=project)
    assert result.returncode == 0, result.stderr
    after = _everything(project)
    assert {k: v for k, v in after.items() if not k.startswith("reports-my_analyses/")} \
        == before
    assert (project / "reports-my_analyses" / "figures" / "mine-mine-column.pdf").is_file()
    quick = _gradflow("report", "--analyses", "my_analyses", "--quick", "--jobs", 1,
                      cwd=project)
    assert quick.returncode == 0, quick.stderr
    assert (project / "reports-my_analyses-quick" / "REPORT.md").is_file()


@pytest.mark.parametrize("args,words", [
    (["--analyses", "my_analyses", "--out", "reports"],
     ["holds the full report of", "this run is the full report of my_analyses/", "--replace"]),
    (["--quick", "--out", "reports"],
     ["holds the full report of", "this run is a --quick preview", "--out DIR"]),
])
def test_another_report_is_never_replaced_by_accident(project, victim, args, words):
    _use(project, good=GOOD)
    (project / "my_analyses").mkdir()
    (project / "my_analyses" / "mine.py").write_text(GOOD)
    before = _everything(project)
    start = time.monotonic()
    result = _gradflow("report", *args, "--jobs", 1, cwd=project)
    _refused(result, *words, "reports/ is exactly as it was")
    assert _everything(project) == before
    assert not (project / ".gradflow-cache").exists()    # stopped before computing anything
    assert time.monotonic() - start < 60                   # a hang guard only


def test_replace_takes_another_report_on_purpose_and_keeps_the_users_files(project):
    (project / "my_analyses").mkdir()
    (project / "my_analyses" / "mine.py").write_text(GOOD.replace('"points"', '"mine"'))
    result = _gradflow("report", "--analyses", "my_analyses", "--out", "reports",
                       "--replace", "--jobs", 1, cwd=project)
    assert result.returncode == 0, result.stderr
    reports = project / "reports"
    assert (reports / "figures" / "my-own-sketch.png").read_bytes() == b"mine"
    assert (reports / "notes.md").read_text() == "my notes\n"
    assert not (reports / "figures" / "good-points-column.png").exists()
    assert (reports / "figures" / "mine-mine-column.png").is_file()
    manifest = json.loads((reports / "manifest.json").read_text())
    assert manifest["analyses_folder"] == "../my_analyses" and list(manifest["analyses"]) \
        == ["mine"]


def test_a_folder_without_a_report_is_never_written_into(project, victim):
    _use(project, good=GOOD)
    before = _everything(project)
    for out in (".", "analyses"):
        _refused(_gradflow("report", "--out", out, "--jobs", 1, cwd=project),
                 "but no gradflow report", "choose another --out")
    assert _everything(project) == before


def test_manifest_entries_outside_out_are_never_deleted(project, victim):
    """A report folder someone sent you cannot delete files outside it."""
    _use(project, good=GOOD)
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    manifest_path = project / "reports" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["outputs"].update({"../victim.txt": digest, str(victim): digest,
                                "figures/../../victim.txt": digest})
    manifest_path.write_text(json.dumps(manifest))
    result = _gradflow("report", "--jobs", 1, cwd=project)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "a file outside --out\n"
    assert "left alone 3 entries of the previous manifest" in result.stdout


def test_a_file_edited_by_hand_is_never_overwritten(project, victim):
    _use(project, good=GOOD)
    report = project / "reports" / "REPORT.md"
    report.write_text(report.read_text() + "\nMy own conclusion.\n")
    before = _everything(project)
    result = _gradflow("report", "--jobs", 1, cwd=project)
    _refused(result, "REPORT.md (edited by hand)", "move them away",
             "reports/ is exactly as it was")
    assert _everything(project) == before
    assert not list(project.glob(".reports.staging-*"))
    # the runs were cached: moving the file away and rerunning only renders
    report.rename(project / "my-REPORT.md")
    again = _gradflow("report", "--jobs", 1, cwd=project)
    assert again.returncode == 0, again.stderr
    assert (project / "my-REPORT.md").read_text().endswith("My own conclusion.\n")


def test_a_cache_entry_that_is_not_utf8_is_recomputed_with_a_note(project):
    _use(project, good=GOOD)
    assert _gradflow("report", "--jobs", 1, cwd=project).returncode == 0
    first = _hashes(project / "reports")
    entry = sorted((project / ".gradflow-cache" / "good").glob("*.json"))[0]
    entry.write_bytes(b"\xff\xfe" + entry.read_bytes()[2:])
    result = _gradflow("report", "--jobs", 1, cwd=project)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "recomputing" in line]
    assert len(notes) == 1 and entry.name in notes[0] and "not UTF-8" in notes[0]
    second = _hashes(project / "reports")
    del first["manifest.json"], second["manifest.json"]
    assert first == second


@pytest.mark.parametrize("args,words", [
    (["--out", ""], ["argument --out: empty (an unset shell variable?)"]),
    (["--cache", ""], ["argument --cache: empty"]),
    (["--analyses", ""], ["argument --analyses: empty"]),
    (["--cache", "victim.txt"], ["--cache must be a folder; 'victim.txt' is a file"]),
    (["--cache", "victim.txt/sub"], ["--cache folder 'victim.txt/sub' cannot be written"]),
])
def test_bad_folders_are_usage_mistakes(project, victim, args, words):
    _use(project, good=GOOD)
    before = _everything(project)
    _refused(_gradflow("report", *args, "--jobs", 1, cwd=project), *words)
    assert _everything(project) == before


def test_sigkill_of_the_report_leaves_no_worker(project):
    """SIGKILL (Slurm's escalation, the OOM killer) gives the report no chance to stop its
    workers: they notice that their parent is gone and end."""
    _use(project, broken=BROKEN_RUN)
    markers = project / "markers"
    markers.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "gradflow", "report", "--jobs", "2"], cwd=project,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), "GRADFLOW_TEST_MARKERS": str(markers),
             "GRADFLOW_TEST_SLEEP": "120"})
    deadline = time.monotonic() + 60
    while len(list(markers.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.read_text()) for p in markers.glob("*.pid")]
    assert len(workers) == 2, "the workers did not start"
    process.kill()
    process.wait(timeout=30)
    try:
        for pid in workers:
            assert not _running(pid), f"worker {pid} still runs after its parent was killed"
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_report_from_other_blas_kernels_is_noted(project):
    _use(project, good=GOOD)
    first = _gradflow("report", "--jobs", 1, cwd=project)
    assert first.returncode == 0 and "other BLAS kernels" not in first.stdout
    manifest_path = project / "reports" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["blas"] = ["openblas 0.3.0 (Nehalem)"]
    manifest_path.write_text(json.dumps(manifest))
    second = _gradflow("report", "--jobs", 1, cwd=project)
    assert second.returncode == 0, second.stderr
    assert "computed on other BLAS kernels (openblas 0.3.0 (Nehalem))" in second.stdout


TYPED = GOOD.replace('GRID = {"a": [1, 2], "seed": [0]}', '''
from dataclasses import dataclass

@dataclass(frozen=True)
class Config:
    a: int
    seed: int

GRID = {"a": [1, 2], "seed": [0]}''').replace('return [{"v": float(config["a"])}]',
                                               'return [{"v": float(config.a)}]')


def test_a_typed_config_runs_and_a_grid_that_does_not_match_it_is_named(tmp_path):
    typed = tmp_path / "typed"
    typed.mkdir()
    (typed / "good.py").write_text(TYPED, encoding="utf-8")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "good.py").write_text(GOOD, encoding="utf-8")
    build_report(tmp_path / "a", analyses=typed, cache=None, stream=None, jobs=1)
    build_report(tmp_path / "b", analyses=plain, cache=None, stream=None, jobs=1)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    del a["manifest.json"], b["manifest.json"]
    assert a == b                       # a Config changes nothing but the type run sees
    (typed / "good.py").write_text(TYPED.replace('"seed": [0]}', '"seed": [0], "b": [1]}'))
    result = _gradflow("report", "--analyses", "typed", "--out", "c", cwd=tmp_path)
    _refused(result, "its grid does not match Config (unknown: b; missing: none)")
