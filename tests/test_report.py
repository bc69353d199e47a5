"""`gradflow report` (what `make reports` runs): discovery, determinism, outputs, CLI."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gradflow.report import build_report
from gradflow.report.analyses import discover
from gradflow.report.build import DERIVATIONS

ROOT = Path(__file__).resolve().parents[1]

TINY = '''
import numpy as np
import pandas as pd
from matplotlib import pyplot as plt

TITLE = "A tiny analysis"
QUESTION = "Does the pipeline work?"
GRID = {"a": [1, 2, 3], "seed": [0, 1]}
QUICK_GRID = {"a": [1], "seed": [0]}

def run(config):
    rng = np.random.default_rng(config["seed"])
    return [{"k": k, "v": config["a"] * k + float(rng.standard_normal())} for k in range(4)]

def render(frame, out):
    fig, ax = plt.subplots()
    ax.plot(frame.k, frame.v, "o")
    out.figure("points", fig, frame, caption="Points")
    out.table("means", frame.groupby("a", as_index=False)["v"].mean(), caption="Means")
    out.number("MeanValue", frame.v.mean(), "mean of v", low=0.0, high=9.0)
    out.text("Some words.")
'''


@pytest.fixture
def analyses(tmp_path):
    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "tiny.py").write_text(TINY, encoding="utf-8")
    (folder / "_helper.py").write_text("X = 1\n", encoding="utf-8")  # not an analysis
    return folder


def test_report_is_byte_for_byte_reproducible(tmp_path, analyses):
    a = build_report(tmp_path / "a", analyses=analyses, cache=tmp_path / "cache", stream=None)
    b = build_report(tmp_path / "b", analyses=analyses, cache=None, stream=None, jobs=1)
    rel = {p.relative_to(tmp_path / "a") for p in a if p.name != "manifest.json"}
    assert rel == {p.relative_to(tmp_path / "b") for p in b if p.name != "manifest.json"}
    for path in rel:  # cached and fresh, parallel and serial: the same bytes, figures too
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes(), path
    assert any(p.suffix == ".png" for p in rel) and any(p.suffix == ".pdf" for p in rel)


def test_report_writes_figures_with_data_tables_numbers_and_manifest(tmp_path, analyses):
    out = tmp_path / "out"
    build_report(out, analyses=analyses, cache=None, stream=None)
    for suffix in (".pdf", ".png"):  # drawn at column width: the name says so
        assert (out / "figures" / f"tiny-points-column{suffix}").exists()
    for suffix in (".csv", ".tex"):
        assert (out / "figures" / f"tiny-points{suffix}").exists()
    for suffix in (".csv", ".md", ".tex"):
        assert (out / "tables" / f"tiny-means{suffix}").exists()
    assert "\\toprule" in (out / "tables" / "tiny-means.tex").read_text()
    tex = (out / "results.tex").read_text()
    assert "\\providecommand{\\gfTinyMeanValue}" in tex
    assert "\\gfTinyMeanValueLow}{\\gfNumber{0" in tex
    for name in ("preamble.tex", "paper.tex"):
        assert (out / name).exists()
    report = (out / "REPORT.md").read_text()
    assert "## A tiny analysis" in report and "**Question.** Does the pipeline work?" in report
    assert "figures/tiny-points-column.png" in report and "Some words." in report
    for _, _, title in DERIVATIONS:
        assert f"### {title}" in report
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["analyses"]["tiny"]["configs"] == 6
    assert manifest["analyses"]["tiny"]["seeds"] == [0, 1]
    from gradflow._blas_info import describe
    assert manifest["blas"] == describe() != []     # which kernels computed the numbers
    assert set(manifest["reproducible"]) == {"bytes", "verdicts"}   # the two-level contract
    for rel, digest in manifest["outputs"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest


def test_quick_uses_the_quick_grid(tmp_path, analyses):
    build_report(tmp_path / "q", analyses=analyses, cache=None, stream=None, quick=True)
    manifest = json.loads((tmp_path / "q" / "manifest.json").read_text())
    assert manifest["analyses"]["tiny"]["configs"] == 1 and manifest["quick"] is True


def test_a_broken_analysis_file_is_named(tmp_path):
    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "half.py").write_text("TITLE = 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"half.py lacks QUESTION, GRID, run, render"):
        discover(folder)
    with pytest.raises(ValueError, match=r"analyses folder '.*nowhere' does not exist"):
        discover(tmp_path / "nowhere")


def test_report_and_list_commands(tmp_path, analyses):
    listing = subprocess.run([sys.executable, "-m", "gradflow", "report", "--list",
                              "--analyses", str(analyses)], capture_output=True, text=True,
                             timeout=120)
    assert listing.returncode == 0 and "tiny" in listing.stdout and "6 runs (1 quick)" in \
        listing.stdout
    result = subprocess.run([sys.executable, "-m", "gradflow", "report", "--out",
                             str(tmp_path / "r"), "--analyses", str(analyses), "--quick",
                             "--no-cache"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r" / "REPORT.md").exists()
    bad = subprocess.run([sys.executable, "-m", "gradflow", "report", "--analyses",
                          str(tmp_path / "nowhere"), "--list"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert "analyses folder" in bad.stderr


SHIPPED = sorted(p.stem for p in (ROOT / "analyses").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_analysis_runs_on_its_quick_grid(tmp_path, name):
    """What `make reports` runs, on small grids: every analysis renders without error."""
    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / f"{name}.py").write_bytes((ROOT / "analyses" / f"{name}.py").read_bytes())
    for helper in (ROOT / "analyses").glob("_*.py"):
        (folder / helper.name).write_bytes(helper.read_bytes())
    written = build_report(tmp_path / "out", analyses=folder, quick=True, cache=None,
                           stream=None, jobs=1)
    assert any(p.suffix == ".png" for p in written)
    # Its results are computed claims: a pure summarize, and claims.csv lists them.
    from gradflow.report.analyses import load_module
    module = load_module(folder / f"{name}.py")
    assert callable(getattr(module, "summarize", None)), f"{name} has no summarize(frame)"
    claims = pd.read_csv(tmp_path / "out" / "tables" / "claims.csv")
    mine = claims[claims.analysis == name]
    assert len(mine) > 0 and set(mine.verdict) <= {"holds", "fails", "inconclusive"}
    assert mine.evidence.str.len().min() > 0


def test_editing_a_helper_changes_the_cache_key_of_the_analyses_that_import_it(tmp_path,
                                                                            analyses):
    (tiny,) = discover(analyses)
    before = tiny.source_hash()
    (analyses / "_helper.py").write_text("X = 2\n", encoding="utf-8")   # tiny does not use it
    assert tiny.source_hash() == before
    source = (analyses / "tiny.py").read_text(encoding="utf-8")
    (analyses / "tiny.py").write_text("from _helper import X  # noqa\n" + source,
                                      encoding="utf-8")
    (analyses / "_other.py").write_text("import _deep\n", encoding="utf-8")
    (analyses / "_deep.py").write_text("Y = 1\n", encoding="utf-8")
    before = tiny.source_hash()
    (analyses / "_helper.py").write_text("import _other\nX = 3\n", encoding="utf-8")
    assert tiny.source_hash() != before
    from gradflow.report.analyses import imported_helpers
    assert [p.name for p in imported_helpers(tiny.path)] == ["_deep.py", "_helper.py",
                                                             "_other.py"]
    before = tiny.source_hash()
    (analyses / "_deep.py").write_text("Y = 2\n", encoding="utf-8")   # reached through two
    assert tiny.source_hash() != before
