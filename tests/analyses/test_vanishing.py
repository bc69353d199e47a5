"""The vanishing analysis: run() gives its columns, the Pascanu bound holds on its networks
(a theorem, so a test), and every claim of summarize() holds and fails on synthetic frames."""

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from gradflow.diagnostics import critical_gain, driven_mean_field, pascanu_bound, spectral_norm

GAINS = [0.5 + 0.125 * k for k in range(17)]        # 0.5 .. 2.5
INPUTS = [0.0, 1.0]
SIZES, SIZE_GAINS, PHASE_N = [32, 64, 128, 512], [1.0, 1.5], 256
COLUMNS = ["init", "input_variance", "gain", "seed", "phase_hidden", "sizes", "size_gains",
           "warmup", "length", "hidden", "rate", "rate_low", "rate_high", "r_squared", "q",
           "saturation", "neg_log_rho"]


@pytest.fixture
def vanishing(analysis):
    return analysis("vanishing")


def synthetic(rate_of, *, seeds=5, noise=0.003, bias=0.0, grow=False, rho_gap=0.03):
    """A frame shaped like run()'s: rate = rate_of(g, s2) + bias c(N) + seed noise.

    ``bias`` scales a finite-N term ``bias * sqrt(64 / N)`` (shrinking), or with ``grow``
    ``bias * sqrt(N / 64)``; each seed adds N(0, noise^2 * 64 / N). Without input below
    g = 1, ``neg_log_rho`` is ``-ln g - rho_gap`` (NaN elsewhere, as run() leaves it).
    """
    rng = np.random.default_rng(0)
    rows = []
    for init in ("gaussian", "orthogonal"):
        for s2 in INPUTS:
            for g in GAINS:
                sizes = [PHASE_N] + (SIZES if g in SIZE_GAINS else [])
                for seed in range(seeds):
                    for n in sorted(sizes):
                        scale = np.sqrt(n / 64) if grow else np.sqrt(64 / n)
                        rate = (rate_of(g, s2) + bias * scale
                                + noise * np.sqrt(64 / n) * rng.standard_normal())
                        mf = _mf(g, s2)
                        rows.append({"init": init, "input_variance": s2, "gain": g,
                                     "seed": seed, "phase_hidden": PHASE_N,
                                     "sizes": json.dumps(SIZES),
                                     "size_gains": json.dumps(SIZE_GAINS), "warmup": 100,
                                     "length": 200, "hidden": n, "rate": rate,
                                     "rate_low": rate - 0.01, "rate_high": rate + 0.01,
                                     "r_squared": 0.99, "q": mf.q, "saturation": 0.0,
                                     "neg_log_rho": (mf.rate - rho_gap if s2 == 0 and g < 1
                                                     else np.nan)})
    return pd.DataFrame(rows, columns=COLUMNS)


@cache
def _mf(g, s2):
    return driven_mean_field(g, s2)


def mean_field(g, s2):
    return _mf(g, s2).rate


def spectral(g, s2):
    """Mean field, but -ln rho = -ln g - 0.03 where the state is 0 (as a sampled W's)."""
    return mean_field(g, s2) - (0.03 if s2 == 0 and g < 1 else 0.0)


def test_run_gives_the_expected_columns(vanishing):
    config = {"init": "orthogonal", "input_variance": 0.25, "gain": 1.5, "seed": 0,
              "phase_hidden": 8, "sizes": [4, 8], "size_gains": [1.5], "warmup": 5,
              "length": 12}
    frame = pd.DataFrame(vanishing.run(vanishing.Config(**config)))
    assert list(frame.columns) == COLUMNS[9:]
    assert frame.hidden.tolist() == [4, 8]
    assert np.isfinite(frame.rate).all() and (frame.q > 0).all()
    # Off the finite-N gains only the phase-diagram size runs.
    assert [r["hidden"] for r in vanishing.run(vanishing.Config(**{**config, "gain": 0.5}))] \
        == [8]


def test_runs_are_reproducible_and_the_input_is_controlled(vanishing):
    args = (32, 1.0, 0.25, "gaussian", 3, 20, 40)
    assert json.dumps(vanishing.measure(*args)) == json.dumps(vanishing.measure(*args))
    assert np.isnan(vanishing.measure(*args)["neg_log_rho"])      # only without input, g < 1
    zero = vanishing.measure(32, 0.5, 0.0, "orthogonal", 3, 20, 40)
    assert zero["neg_log_rho"] == pytest.approx(-np.log(0.5))   # every |eigenvalue| is g
    params, h_prev, x, profile = vanishing.simulate(*args)
    assert np.allclose(params["weight_ih_l0"], 0.5 * np.eye(32))
    assert profile.shape == (40, vanishing.BATCH) and profile[0] == pytest.approx(1.0)


@pytest.mark.parametrize("gain,s2", [(0.25, 0.0), (0.4, 0.25), (0.45, 1.0)])
def test_pascanu_bound_holds_on_the_analysis_networks(vanishing, gain, s2):
    """||dL/dh_t|| / ||dL/dh_T|| <= sigma_max(W_hh)^k: a theorem (|tanh'| <= 1)."""
    params, _, _, profile = vanishing.simulate(16, gain, s2, "gaussian", 0, 10, 30)
    sigma = spectral_norm(params["weight_hh_l0"])
    assert sigma < 1
    bound = pascanu_bound(sigma, np.arange(30))[:, None]
    assert (profile <= bound * (1 + 1e-12)).all()


def test_first_crossing_interpolates_and_reports_none():
    from _vanishing import first_crossing

    assert first_crossing(np.array([1.0, 2.0, 3.0]), np.array([0.2, -0.2, -0.4])) == 1.5
    assert np.isnan(first_crossing(np.array([1.0, 2.0]), np.array([0.1, 0.2])))


def test_claims_hold_when_the_data_follow_mean_field(vanishing):
    verdicts = vanishing.summarize(synthetic(spectral)).verdicts()
    assert verdicts == {
        "subcritical_rate_is_spectral_radius": "holds",
        "rate_matches_mean_field_gaussian": "holds",
        "critical_gain_matches_gaussian": "holds",
        "deviation_shrinks_with_n_gaussian": "holds",
        "rate_matches_mean_field_orthogonal": "holds",
        "critical_gain_matches_orthogonal": "holds",
        "deviation_shrinks_with_n_orthogonal": "holds",
        "input_raises_critical_gain": "holds"}


def test_rate_claim_fails_when_the_rate_is_off_by_more_than_the_margin(vanishing):
    summary = vanishing.summarize(synthetic(lambda g, s2: mean_field(g, s2) + 0.1))
    assert summary.claims["rate_matches_mean_field_gaussian"].verdict == "fails"
    assert "outside" in summary.claims["rate_matches_mean_field_gaussian"].evidence


def test_critical_gain_claim_fails_when_the_crossing_moves(vanishing):
    summary = vanishing.summarize(synthetic(lambda g, s2: mean_field(1.3 * g, s2)))
    assert summary.verdicts()["critical_gain_matches_orthogonal"] == "fails"
    crit = summary.tables["critical"]
    assert np.allclose(crit.predicted, [critical_gain(s2) for s2 in crit.input_variance])


def test_deviation_claim_fails_when_the_deviation_grows_with_n(vanishing):
    verdicts = vanishing.summarize(synthetic(mean_field, bias=0.01, noise=0.0005,
                                             grow=True)).verdicts()
    assert verdicts["deviation_shrinks_with_n_gaussian"] == "fails"


def test_spectral_radius_claim_fails_when_the_rate_is_mean_fields(vanishing):
    verdicts = vanishing.summarize(synthetic(mean_field, rho_gap=0.05)).verdicts()
    assert verdicts["subcritical_rate_is_spectral_radius"] == "fails"


def test_input_claim_fails_when_input_lowers_the_critical_gain(vanishing):
    # The input variances swapped: the driven network crosses first.
    summary = vanishing.summarize(synthetic(lambda g, s2: mean_field(g, 1.0 - s2)))
    assert summary.verdicts()["input_raises_critical_gain"] == "fails"


def test_claims_are_inconclusive_on_too_little_data(vanishing):
    frame = synthetic(mean_field, seeds=1)
    summary = vanishing.summarize(frame)
    verdicts = summary.verdicts()
    assert not [name for name in summary.numbers if name.startswith("CriticalGain")]
    assert verdicts["critical_gain_matches_gaussian"] == "inconclusive"
    assert verdicts["rate_matches_mean_field_gaussian"] == "inconclusive"


def test_render_writes_figures_tables_and_claims(vanishing, tmp_path):
    from gradflow.report.output import Section

    section = Section("vanishing", tmp_path)
    vanishing.render(synthetic(spectral, bias=0.01), section)
    names = {p.name for p in (tmp_path / "figures").iterdir()}
    assert {"vanishing-phase-page.png", "vanishing-sizes-page.png"} <= names
    assert len(section.claims) == 8 and "holds" in section.markdown()


def test_claims_carry_their_sentences_in_one_paragraph(vanishing):
    """Every claim is written (its group declared), in the order of the claims, as one
    paragraph that ends by pointing at the claims table; the sentence follows the verdict."""
    from gradflow.report.layout import paragraphs

    holds = vanishing.summarize(synthetic(spectral))
    assert [g.key for g in holds.groups] == ["mean_field_gaussian", "mean_field_orthogonal",
                                             "subcritical", "input"]
    assert all(c.sentence and c.group for c in holds.claims.values())
    (text,) = paragraphs(holds.claims.values(), holds.groups)
    assert text.startswith("With gaussian W_hh the measured rates agree with mean field")
    assert text.endswith("explodes only at larger gain. The claims below give the evidence "
                         "of each sentence.")
    fails = vanishing.summarize(synthetic(lambda g, s2: mean_field(g, 1.0 - s2)))
    (text,) = paragraphs(fails.claims.values(), fails.groups)
    assert "Input does not raise the measured critical gain. The claims below" in text
    few = vanishing.summarize(synthetic(mean_field, seeds=1))
    assert (few.claims["critical_gain_matches_gaussian"].sentence
            == "Whether its critical gains match g*(s_in^2) cannot be decided.")
