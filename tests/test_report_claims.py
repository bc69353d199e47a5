"""Claims: each verdict rule holds, fails and is inconclusive where it should be,
and a report lists every claim (REPORT.md, claims.csv, paper.tex)."""

import numpy as np
import pandas as pd
import pytest

from gradflow.report.claims import (
    Claim,
    Summary,
    below,
    differ,
    exceeds,
    matches,
    proportion,
    survival_differ,
)


def test_exceeds_and_below_read_the_interval():
    assert exceeds("c", "x > 0", 0.3, 0.1, 0.5, 0.0).verdict == "holds"
    assert exceeds("c", "x > 0", -0.3, -0.5, -0.1, 0.0).verdict == "fails"
    assert exceeds("c", "x > 0", 0.1, -0.1, 0.3, 0.0).verdict == "inconclusive"
    assert exceeds("c", "x > 0", 0.1, 0.05, np.inf, 0.0).verdict == "inconclusive"
    assert below("c", "x < 1", 0.5, 0.4, 0.6, 1.0).verdict == "holds"
    assert below("c", "x < 1", 1.5, 1.4, 1.6, 1.0).verdict == "fails"
    assert below("c", "x < 1", 1.0, 0.9, 1.1, 1.0).verdict == "inconclusive"
    assert "0.3 [0.1, 0.5] vs 0" in exceeds("c", "x > 0", 0.3, 0.1, 0.5, 0.0).evidence


def test_matches_is_an_equivalence_claim():
    assert matches("m", "agrees", 0.12, 0.11, 0.13, 0.127, 0.02).verdict == "holds"
    assert matches("m", "agrees", 0.08, 0.07, 0.09, 0.127, 0.02).verdict == "fails"
    # Overlapping the margin but not inside it: cannot tell.
    assert matches("m", "agrees", 0.12, 0.05, 0.2, 0.127, 0.02).verdict == "inconclusive"
    with pytest.raises(ValueError, match="margin"):
        matches("m", "agrees", 0.1, 0.0, 0.2, 0.1, 0.0)


def test_proportion_uses_wilson_and_states_n():
    assert proportion("p", "most solve", 16, 16, 0.5).verdict == "holds"
    assert proportion("p", "most solve", 0, 16, 0.5).verdict == "fails"
    claim = proportion("p", "most solve", 3, 4, 0.5)
    assert claim.verdict == "inconclusive" and "3/4" in claim.evidence
    assert proportion("p", "few diverge", 0, 16, 0.5, at_least=False).verdict == "holds"
    assert proportion("p", "few diverge", 16, 16, 0.5, at_least=False).verdict == "fails"


def test_differ_is_a_rank_test_with_direction_and_equivalence():
    rng = np.random.default_rng(0)
    low, high = rng.normal(0, 1, 16), rng.normal(3, 1, 16)
    assert differ("d", "b beats a", high, low).verdict == "holds"
    assert differ("d", "b beats a", low, high).verdict == "fails"
    assert differ("d", "smaller", low, high, alternative="less").verdict == "holds"
    same = rng.normal(0, 0.01, 16)
    assert differ("d", "bigger", same, same + 1e-4).verdict == "inconclusive"
    eq = differ("d", "bigger", same, same + 1e-4, margin=0.1)
    assert eq.verdict == "fails" and "TOST" in eq.evidence
    assert differ("d", "bigger", [1.0], [0.0, 2.0]).verdict == "inconclusive"


def test_survival_differ_direction_and_censoring():
    fast = ([100, 120, 130, 150, 160, 170], [True] * 6)
    slow = ([900, 1000, 2000, 2000, 2000, 2000], [True, True, False, False, False, False])
    assert survival_differ("s", "fast solves sooner", *fast, *slow).verdict == "holds"
    assert survival_differ("s", "slow solves sooner", *slow, *fast).verdict == "fails"
    assert survival_differ("s", "same", *fast, *fast).verdict == "inconclusive"
    none = ([10, 10, 10], [False] * 3)
    assert survival_differ("s", "x", *none, *none).verdict == "inconclusive"


def test_claim_validation_and_choose():
    claim = Claim("a_b", "It holds.", "holds", "p = 0.01")
    assert claim.choose(holds="yes", fails="no", inconclusive="?") == "yes"
    with pytest.raises(ValueError, match="verdict"):
        Claim("a", "s", "maybe", "e")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lower_snake_case"):
        Claim("A b", "s", "holds", "e")
    with pytest.raises(ValueError, match="evidence"):
        Claim("a", "s", "holds", " ")
    summary = Summary()
    summary.claim(claim)
    with pytest.raises(ValueError, match="already"):
        summary.claim(claim)
    with pytest.raises(ValueError, match="citable"):
        summary.number("Rate", float("nan"), "a rate")
    assert summary.verdicts() == {"a_b": "holds"}


def test_section_lists_claims_in_markdown_csv_and_paper(tmp_path):
    from gradflow.report.output import Section
    from gradflow.report.paper import paper_tex

    section = Section("demo", tmp_path)
    summary = Summary()
    summary.claim(exceeds("rate_positive", "The rate is positive.", 0.2, 0.1, 0.3, 0.0))
    summary.number("Rate", 0.2, "the rate", low=0.1, high=0.3)
    section.summary(summary)
    md = section.markdown()
    assert "The rate is positive." in md and "**holds**" in md
    frame = section.claims_frame()
    assert list(frame.columns) == ["analysis", "claim", "verdict", "evidence", "round_off"]
    assert frame.verdict.tolist() == ["holds"] and section.numbers[0].macro == "gfDemoRate"
    tex = paper_tex([("demo", "Demo", "Why?", section)], [])
    assert r"\textbf{holds}" in tex and "The rate is positive." in tex
    with pytest.raises(ValueError, match="already registered"):
        section.claim(summary.claims["rate_positive"])


def test_report_writes_claims_csv(tmp_path, monkeypatch):
    from gradflow.report.build import build_report

    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "tiny.py").write_text(
        "from gradflow.report.claims import Summary, exceeds\n"
        "TITLE = 'Tiny'\nQUESTION = 'Is x positive?'\n"
        "GRID = {'seed': [0, 1, 2]}\n"
        "def run(config):\n    return [{'x': 1.0 + config['seed']}]\n"
        "def summarize(frame):\n"
        "    s = Summary()\n"
        "    m, sd = frame.x.mean(), frame.x.std()\n"
        "    s.claim(exceeds('x_positive', 'x is positive.', m, m - 3 * sd, m + 3 * sd, 0.0))\n"
        "    return s\n"
        "def render(frame, out):\n    out.summary(summarize(frame))\n")
    monkeypatch.chdir(tmp_path)
    build_report(tmp_path / "out", analyses=folder, cache=None, jobs=1, stream=None)
    claims = pd.read_csv(tmp_path / "out" / "tables" / "claims.csv", keep_default_na=False)
    assert claims.to_dict("records") == [{
        "analysis": "tiny", "claim": "x is positive.", "verdict": "inconclusive",
        "evidence": claims.evidence[0], "round_off": ""}]     # no replicate: not checked
    assert "x is positive." in (tmp_path / "out" / "REPORT.md").read_text()


def test_an_inconclusive_verdict_says_whether_more_seeds_would_decide_it():
    # half-width 0.2 at distance 0.1: the expected interval touches the threshold at 4x
    # the runs (even odds); 80% power takes 4 * ((1.96 + 0.842) / 1.96)^2 = 8.2x.
    near = exceeds("a", "s", 0.5, 0.3, 0.7, 0.4)
    assert near.verdict == "inconclusive" and "likely decide it (about 8.2x the runs for " \
        "80% power" in near.evidence
    on = exceeds("b", "s", 0.401, 0.2, 0.6, 0.4)      # on its threshold: (0.2/0.001)^2
    assert "would hardly decide it" in on.evidence
    tested = differ("c", "s", [1, 2, 3, 4, 5], [2, 3, 4, 5, 6])
    assert tested.verdict == "inconclusive" and "the runs" in tested.evidence
    decided = exceeds("d", "s", 0.9, 0.8, 1.0, 0.4)
    assert "seeds" not in decided.evidence            # only an inconclusive verdict says it


def test_more_seeds_states_the_multiple_for_80_percent_power_and_stops_at_10x():
    from gradflow.report.claims import more_seeds

    # the 50%-power factor times ((1.96 + 0.8416) / 1.96)^2 = 2.0435
    assert "about 2x the runs for 80% power" in more_seeds(1.0)
    assert "about 10x the runs" in more_seeds(4.89)               # 9.99x: still said
    assert "hardly decide it" in more_seeds(4.9) and "more than 10x" in more_seeds(4.9)
    assert "hardly decide it" in more_seeds(np.inf)
    # one-sided at 5% (a TOST's tests): ((1.645 + 0.8416) / 1.645)^2 = 2.285
    assert "about 2.3x" in more_seeds(1.0, sides=1)


def test_more_seeds_uses_the_side_of_an_asymmetric_interval_towards_the_threshold():
    # 0.5 [0.35, 0.95] vs 0.4: the side towards 0.4 is 0.15 at distance 0.1, so
    # (1.5 * 1.4294)^2 = 4.6x; the symmetric half-width 0.3 would have said 18x (hardly).
    assert "about 4.6x the runs" in exceeds("a", "s", 0.5, 0.35, 0.95, 0.4).evidence
    assert "about 4.6x the runs" in below("a", "s", 0.5, 0.05, 0.65, 0.6).evidence
    # the long side towards the threshold: 0.5 [0.05, 0.55] vs 0.4 is (0.45/0.1)^2 * 2.04
    assert "hardly decide it" in exceeds("a", "s", 0.5, 0.05, 0.55, 0.4).evidence
    # a measurement 0.1 past its margin's edge 1.4 with its interval's lower side 0.15
    # long: 4.6x (the symmetric half-width 0.1 said 1x)
    outside = matches("m", "s", 1.5, 1.35, 1.55, 1.1, 0.3)
    assert outside.verdict == "inconclusive" and "about 4.6x the runs" in outside.evidence
    # inside the margin, the end that must come within it decides: 1.2 [1.1, 1.5] against
    # [0.8, 1.4] needs its upper side 0.3 inside 0.2: (1.5 * 1.4294)^2 = 4.6x
    inside = matches("m", "s", 1.2, 1.1, 1.5, 1.1, 0.3)
    assert inside.verdict == "inconclusive" and "about 4.6x the runs" in inside.evidence


def test_the_stated_multiple_decides_with_80_percent_power_not_even_odds():
    # A claim inconclusive at n = 20 (true mean 0.3, sd 1, threshold 0); at the stated
    # multiple of the runs the same experiment holds in ~80% of repeats. At the touching
    # multiple (half / distance)^2 it would hold in only ~50%.
    from gradflow.report import mean_ci

    n, mu = 20, 0.3
    half = 1.959964 / np.sqrt(n)                      # a known-sd interval: no luck in it
    claim = exceeds("a", "s", mu, mu - half, mu + half, 0.0)
    multiple = float(claim.evidence.split("about ")[1].split("x the runs")[0])
    assert 4.0 < multiple < 4.8
    rng = np.random.default_rng(20261207)
    runs = round(multiple * n)
    holds = [exceeds("a", "s", *mean_ci(rng.normal(mu, 1.0, runs)), 0.0).verdict == "holds"
             for _ in range(2000)]
    assert 0.75 < np.mean(holds) < 0.85


def test_differ_with_a_margin_says_which_test_more_seeds_would_decide():
    from scipy import stats

    from gradflow.report.stats import equivalence

    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, 6), rng.normal(0.1, 1.0, 6)
    near_equal = differ("c", "s", a, b, margin=0.5)   # equivalence is the nearer verdict
    p_eq = equivalence(a, b, 0.5)
    k = ((stats.norm.isf(0.05) + stats.norm.ppf(0.8)) / stats.norm.isf(p_eq)) ** 2
    assert near_equal.verdict == "inconclusive" and 2 < k < 10
    assert f"by the equivalence test (about {k:.2g}x the runs for 80% power" in \
        near_equal.evidence
    assert "the difference test would take more than 10x" in near_equal.evidence
    x = [1, 2, 3, 4, 5, 1.2, 2.2, 3.3]
    apart = differ("c", "s", x, np.add(x, 1.1), alternative="less", margin=0.5)
    assert apart.verdict == "inconclusive"
    assert "by the difference test (about" in apart.evidence
    assert "the equivalence test would take more than 10x" in apart.evidence
    neither = differ("c", "s", [1, 2, 3, 4, 5], [1.5, 2.5, 3.5, 4.5, 5.5], margin=0.1)
    assert "hardly decide it" in neither.evidence and "equivalence test" in neither.evidence


_ROUND_OFF = (
    "from gradflow.engine.backends import backend\n"
    "from gradflow.report.claims import Says, Summary, exceeds\n"
    "TITLE = 'Tiny'\nQUESTION = 'Is x positive?'\nREPLICATE = True\n"
    "GRID = {'seed': [0, 1, 2]}\n"
    "def run(config):\n"
    "    # the backend stands in for round-off: y's sign is what a chaotic run would draw\n"
    "    y = 1.0 if backend() == 'numba' else -1.0\n"
    "    return [{'x': 1.0 + config['seed'], 'y': y}]\n"
    "def summarize(frame):\n"
    "    s = Summary()\n"
    "    says = Says('yes', 'no', 'cannot tell')\n"
    "    s.claim(exceeds('x_positive', 'x is positive.', 2.0, 1.0, 3.0, 0.0, says=says,\n"
    "                    group='g'))\n"
    "    y = frame.y.mean()\n"
    "    s.claim(exceeds('y_positive', 'y is positive.', y, y - 0.1, y + 0.1, 0.0, says=says,\n"
    "                    group='g'))\n"
    "    return s\n"
    "def render(frame, out):\n    out.summary(summarize(frame))\n")


def test_a_verdict_the_round_off_replicate_does_not_repeat_is_reported_fragile(
        tmp_path, monkeypatch):
    from gradflow.report.build import build_report

    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "tiny.py").write_text(_ROUND_OFF)
    monkeypatch.chdir(tmp_path)
    build_report(tmp_path / "out", analyses=folder, cache=None, jobs=1, stream=None)
    claims = pd.read_csv(tmp_path / "out" / "tables" / "claims.csv", keep_default_na=False)
    stable, fragile = claims.to_dict("records")
    assert (stable["verdict"], stable["round_off"]) == ("holds", "stable")
    assert (fragile["verdict"], fragile["round_off"]) == ("inconclusive", "fragile")
    assert "fragile under round-off: holds here, fails on the replicate" in fragile["evidence"]
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "1 verdict moved and is reported" in report and "tiny: y is positive." in report
    assert "cannot tell" in report     # the prose reads the fragile verdict, not the first one


def test_replicate_must_be_a_bool_and_needs_summarize(tmp_path):
    from gradflow.report.analyses import discover

    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "tiny.py").write_text(_ROUND_OFF.replace("REPLICATE = True", "REPLICATE = 1"))
    with pytest.raises(ValueError, match="REPLICATE must be True or False; got 1"):
        discover(folder)
    (folder / "tiny.py").unlink()     # a module is imported once per path: a new file
    (folder / "other.py").write_text(_ROUND_OFF.replace("def summarize", "def summarise"))
    with pytest.raises(ValueError, match="REPLICATE = True needs a pure summarize"):
        discover(folder)


def test_survival_differ_is_inconclusive_where_the_log_rank_test_is_undefined():
    with np.errstate(all="raise"):        # as the report's tests run: no 0/0 escapes
        claim = survival_differ("a", "s", [50, 50], [True, True], [50, 50], [True, True])
    assert claim.verdict == "inconclusive" and "undefined here" in claim.evidence
