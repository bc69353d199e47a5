"""The round-off replicate's bookkeeping: claims made on one side only, idempotence."""

import pandas as pd

from gradflow.report.claims import exceeds
from gradflow.report.output import Section

_ONE_SIDED = (
    "from gradflow.engine.backends import backend\n"
    "from gradflow.report.claims import Says, Summary, exceeds\n"
    "TITLE = 'Tiny'\nQUESTION = 'Is x positive?'\nREPLICATE = True\n"
    "GRID = {'seed': [0, 1]}\n"
    "def run(config):\n"
    "    return [{'x': 1.0 + config['seed'], 'main': backend() == 'numba'}]\n"
    "def summarize(frame):\n"
    "    s = Summary()\n"
    "    says = Says('yes', 'no', 'cannot tell')\n"
    "    s.claim(exceeds('x_positive', 'x is positive.', 2.0, 1.0, 3.0, 0.0, says=says,\n"
    "                    group='g'))\n"
    "    # a claim whose very existence depends on the data (here: on the backend)\n"
    "    name = 'only_main' if frame['main'].all() else 'only_replicate'\n"
    "    s.claim(exceeds(name, f'{name} is positive.', 2.0, 1.0, 3.0, 0.0, says=says,\n"
    "                    group='g'))\n"
    "    return s\n"
    "def render(frame, out):\n    out.summary(summarize(frame))\n")


def test_a_claim_the_replicate_does_not_make_is_fragile_and_the_reverse_is_named(
        tmp_path, monkeypatch):
    from gradflow.report.build import build_report

    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "tiny.py").write_text(_ONE_SIDED)
    monkeypatch.chdir(tmp_path)
    build_report(tmp_path / "out", analyses=folder, cache=None, jobs=1, stream=None)
    claims = pd.read_csv(tmp_path / "out" / "tables" / "claims.csv",
                         keep_default_na=False).set_index("claim")
    rows = claims.to_dict("index")
    x, only = "x is positive.", "only_main is positive."   # the column holds statements
    assert set(rows) == {x, only}
    assert (rows[x]["verdict"], rows[x]["round_off"]) == ("holds", "stable")
    assert (rows[only]["verdict"], rows[only]["round_off"]) == ("inconclusive", "fragile")
    assert "holds here, the replicate makes no such claim" in rows[only]["evidence"]
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "The replicate also made 1 claim this run does not" in report
    assert "tiny: only_replicate" in report


def test_robust_is_idempotent_and_leaves_unchecked_sections_alone(tmp_path):
    claim = exceeds("a", "a is positive.", 2.0, 1.0, 3.0, 0.0)
    unchecked = Section("s", tmp_path)
    assert unchecked.robust(claim) is claim and unchecked.round_off(claim) == ""
    other = exceeds("a", "a is positive.", -2.0, -3.0, -1.0, 0.0)
    checked = Section("s", tmp_path, replicate={"a": other})
    once = checked.robust(claim)
    assert once.verdict == "inconclusive" and once.evidence.count("fragile under") == 1
    assert checked.robust(once) == once and checked.fragile == ["a"]
