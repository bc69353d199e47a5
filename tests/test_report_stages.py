"""An analysis with ``follow``: a protocol's stages chosen on the report's own rows."""

import json

import pandas as pd
import pytest

_STAGED = (
    "from gradflow.report.claims import Says, Summary, exceeds\n"
    "TITLE = 'Staged'\nQUESTION = 'Which rate?'\n"
    "GRID = {'stage': ['tune'], 'rate': [1, 2, 3], 'seed': [100]}\n"
    "import os\n"
    "def run(config):\n"
    "    # the 'score' peaks at rate 2; the reported runs use whatever was chosen\n"
    "    with open(os.path.join(os.path.dirname(__file__), 'runs.log'), 'a') as log:\n"
    "        log.write(str(config) + '\\n')\n"
    "    return [{'score': -abs(config['rate'] - 2) + 0.1 * config['seed'] / 100}]\n"
    "def follow(frame, quick):\n"
    "    if (frame.stage == 'report').any():\n"
    "        return []\n"
    "    best = int(frame.loc[frame.score.idxmax(), 'rate'])\n"
    "    return {'stage': ['report'], 'rate': [best], 'seed': [0, 1]}\n"
    "def summarize(frame):\n"
    "    s = Summary()\n"
    "    used = frame[frame.stage == 'report'].rate\n"
    "    s.claim(exceeds('used_two', 'The rate used is 2.', float(used.mean()), 1.9, 2.1, 1.5,\n"
    "                    says=Says('yes', 'no', 'unsure'), group='g'))\n"
    "    return s\n"
    "def render(frame, out):\n    out.summary(summarize(frame))\n")


def test_the_stages_run_on_the_rows_of_the_stage_before(tmp_path, monkeypatch):
    from gradflow.report.analyses import discover
    from gradflow.report.build import build_report

    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "staged.py").write_text(_STAGED)
    monkeypatch.chdir(tmp_path)
    (analysis,) = discover(folder)
    assert analysis.staged and len(analysis.configs()) == 3
    build_report(tmp_path / "out", analyses=folder, cache=tmp_path / "cache", jobs=1,
                 stream=None)
    claims = pd.read_csv(tmp_path / "out" / "tables" / "claims.csv", keep_default_na=False)
    assert claims.verdict.tolist() == ["holds"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    info = manifest["analyses"]["staged"]
    assert info["configs"] == 5 and info["rows"] == 5          # 3 tuning runs, 2 reported
    assert len((folder / "runs.log").read_text().splitlines()) == 5
    # The second build reads every stage from the cache (no run again), same claims.
    build_report(tmp_path / "out2", analyses=folder, cache=tmp_path / "cache", jobs=1,
                 stream=None)
    assert len((folder / "runs.log").read_text().splitlines()) == 5
    assert (tmp_path / "out2" / "tables" / "claims.csv").read_bytes() == \
        (tmp_path / "out" / "tables" / "claims.csv").read_bytes()


@pytest.mark.parametrize("old, new, message", [
    # a follow that raises: the analysis and the function are named
    ("    if (frame.stage == 'report').any():", "    if frame.no_such_column.any():",
     r"staged.py failed in follow\(...\): AttributeError"),
    # a follow that never ends (it asks again for the runs the cache already holds)
    ("    if (frame.stage == 'report').any():\n        return []\n", "",
     "asked again for 2 run"),
])
def test_a_follow_that_fails_or_never_ends_is_a_clear_error(tmp_path, monkeypatch, old, new,
                                                             message):
    from gradflow.report.analyses import AnalysisError
    from gradflow.report.build import build_report

    folder = tmp_path / "analyses"
    folder.mkdir()
    assert old in _STAGED
    (folder / "staged.py").write_text(_STAGED.replace(old, new))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AnalysisError, match=message):
        build_report(tmp_path / "out", analyses=folder, cache=None, jobs=1, stream=None)
