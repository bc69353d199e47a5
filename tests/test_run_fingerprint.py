"""The cache's run fingerprint leaves out most of gradflow's report layer, the CLI, the
analyzer and the benchmarks (``gradflow.sweep.NOT_IN_RUNS``): sound only while no
analysis's ``run(config)`` executes them. Each analysis's first quick configuration is run
in a fresh interpreter (no warm cache hides a call) under a profiler hook that records
every Python function entered, module bodies included."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import gradflow
from gradflow.report.analyses import discover
from gradflow.sweep import NOT_IN_RUNS, left_out, package_fingerprint

PACKAGE = Path(gradflow.__file__).resolve().parent
ANALYSES = Path(__file__).resolve().parents[1] / "analyses"

TRACE = """
import json, sys
from pathlib import Path
from gradflow.report.analyses import Analysis, RunConfig, load_module
path = Path(sys.argv[1])
module = load_module(path)
config = Analysis(path.stem, path, "", "", 0).configs(quick=True)[0]
run = RunConfig(path)
entered = set()
def hook(frame, event, arg):
    if event == "call":
        entered.add(frame.f_code.co_filename)
sys.setprofile(hook)
try:
    rows = run(config)
finally:
    sys.setprofile(None)
print(json.dumps({"rows": len(rows), "entered": sorted(entered)}))
"""


def _excluded(filename: str) -> bool:
    path = Path(filename)
    return path.is_relative_to(PACKAGE) and left_out(path.relative_to(PACKAGE).as_posix())


@pytest.mark.parametrize("analysis", discover(ANALYSES), ids=lambda a: a.name)
def test_no_analysis_run_executes_what_the_fingerprint_leaves_out(analysis):
    done = subprocess.run([sys.executable, "-c", TRACE, str(analysis.path)], check=True,
                          capture_output=True, text=True, cwd=analysis.path.parent)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["rows"] > 0, f"{analysis.name}: its first quick configuration gave no rows"
    assert any(Path(f).is_relative_to(PACKAGE) for f in seen["entered"]), "no gradflow code seen"
    assert not [f for f in seen["entered"] if _excluded(f)]


def test_every_left_out_name_exists_and_the_rest_counts():
    for name in NOT_IN_RUNS:
        assert (PACKAGE / name.rstrip("/")).exists(), name
    assert package_fingerprint() != package_fingerprint(exclude=(*NOT_IN_RUNS, "engine/"))
    assert package_fingerprint() != package_fingerprint(exclude=())
