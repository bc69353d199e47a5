"""The vanishing analysis: run() gives its columns; what the design sets is tested here, not
claimed (the Pascanu bound, the orthogonal rate -ln g and crossing >= 1 without input, a
Gaussian W's rate tending to -ln rho when J_t = W^T); every claim of summarize() holds and
fails on synthetic frames."""

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from gradflow.diagnostics import critical_gain, driven_mean_field, pascanu_bound, spectral_norm

GAINS = [0.5 + 0.125 * k for k in range(17)]        # 0.5 .. 2.5
INPUTS = [0.0, 1.0]
SIZES, SIZE_GAINS, PHASE_N = [32, 64, 128, 512], [1.0, 1.5], 256
SHIFT_SIZES = [[128, 6], [256, 6], [512, 6], [1024, 6], [2048, 4]]
CONFIG = ["init", "input_variance", "gain", "seed", "phase_hidden", "sizes", "size_gains",
          "warmup", "length", "shift_sizes", "shift_length"]
COLUMNS = [*CONFIG, "study", "hidden", "run_gain", "run_seed", "rate", "rate_low",
           "rate_high", "r_squared", "q", "saturation", "neg_log_rho"]
#: The synthetic finite-N shift of the driven critical gain, b N^power.
SHIFT_B, MF_SLOPE = 2.8, -0.3376


@pytest.fixture
def vanishing(analysis):
    return analysis("vanishing")


def synthetic(rate_of, *, seeds=5, noise=0.003, bias=0.0, grow=False, rho_gap=0.03,
              shift_b=SHIFT_B, power=-1.0, shift_noise=2e-5):
    """A frame shaped like run()'s: rate = rate_of(g - shift, s2) + bias c(N) + seed noise.

    The driven cells (s2 > 0) carry a finite-N shift ``shift_b N^power`` of the gain (so
    of the critical gain). ``bias`` scales a finite-N term ``bias * sqrt(64 / N)``
    (shrinking), or with ``grow`` ``bias * sqrt(N / 64)``; each seed adds
    N(0, noise^2 * 64 / N). Without input below g = 1, ``neg_log_rho`` is
    ``-ln g - rho_gap`` (NaN elsewhere, as run() leaves it). The shift study's rows: the
    rate at g*_MF and g*_MF + 0.03 on the mean-field slope, shifted by the same law.
    """
    rng = np.random.default_rng(0)
    rows = []
    for init in ("gaussian", "orthogonal"):
        for s2 in INPUTS:
            for g in GAINS:
                sizes = [PHASE_N] + (SIZES if g in SIZE_GAINS else [])
                for seed in range(seeds):
                    config = {"init": init, "input_variance": s2, "gain": g, "seed": seed,
                              "phase_hidden": PHASE_N, "sizes": json.dumps(SIZES),
                              "size_gains": json.dumps(SIZE_GAINS), "warmup": 100,
                              "length": 200, "shift_sizes": json.dumps(SHIFT_SIZES),
                              "shift_length": 250}
                    for n in sorted(sizes):
                        scale = np.sqrt(n / 64) if grow else np.sqrt(64 / n)
                        shift = shift_b * n ** power if s2 > 0 else 0.0
                        rate = (rate_of(g - shift, s2) + bias * scale
                                + noise * np.sqrt(64 / n) * rng.standard_normal())
                        mf = _mf(g, s2)
                        rows.append({**config, "study": "grid", "hidden": n, "run_gain": g,
                                     "run_seed": seed, "rate": rate,
                                     "rate_low": rate - 0.01, "rate_high": rate + 0.01,
                                     "r_squared": 0.99, "q": mf.q, "saturation": 0.0,
                                     "neg_log_rho": (mf.rate - rho_gap if s2 == 0 and g < 1
                                                     else np.nan)})
                    if init == "orthogonal" and s2 == 1.0 and g == 0.5:
                        rows += _shift_rows(config, rng, shift_b, power, shift_noise)
    return pd.DataFrame(rows, columns=COLUMNS)


def _shift_rows(config, rng, shift_b, power, shift_noise):
    g0 = critical_gain(1.0)
    rows = []
    for n, n_seeds in SHIFT_SIZES:
        if config["seed"] >= n_seeds:
            continue
        level = shift_noise * np.sqrt(2048 / n) * rng.standard_normal()
        for g in (g0, g0 + 0.03):
            rate = MF_SLOPE * (g - g0 - shift_b * n ** power) + level
            rows.append({**config, "study": "shift", "hidden": n, "run_gain": g,
                         "run_seed": 1000 + config["seed"], "rate": rate})
    return rows


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
              "length": 12, "shift_sizes": [[4, 1], [8, 2]], "shift_length": 12}
    frame = pd.DataFrame(vanishing.run(vanishing.Config(**config)))
    assert list(frame.columns) == COLUMNS[len(CONFIG):]
    assert frame.hidden.tolist() == [4, 8] and (frame.study == "grid").all()
    assert np.isfinite(frame.rate).all() and (frame.q > 0).all()
    # Off the finite-N gains only the phase-diagram size runs.
    assert [r["hidden"] for r in vanishing.run(vanishing.Config(**{**config, "gain": 0.5}))] \
        == [8]
    # At the shift study's anchor (orthogonal, s_in^2 = 1, g = 0.5): two gains per size
    # with more seeds than this one, on the shift study's own seed.
    anchor = {**config, "input_variance": 1.0, "gain": 0.5, "seed": 1}
    shift = [r for r in vanishing.run(vanishing.Config(**anchor)) if r["study"] == "shift"]
    g0 = critical_gain(1.0)
    assert [(r["hidden"], r["run_gain"]) for r in shift] == [(8, g0), (8, g0 + 0.03)]
    assert {r["run_seed"] for r in shift} == {1001}


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
    summary = vanishing.summarize(synthetic(spectral, noise=0.001))
    assert summary.verdicts() == {
        "rate_matches_mean_field_gaussian": "holds",
        "critical_gain_above_mean_field_gaussian": "holds",
        "critical_gain_matches_gaussian": "holds",
        "deviation_shrinks_with_n_gaussian": "holds",
        "rate_matches_mean_field_orthogonal": "holds",
        "critical_gain_above_mean_field_orthogonal": "holds",
        "critical_gain_matches_orthogonal": "holds",
        "deviation_shrinks_with_n_orthogonal": "holds",
        "gain_shift_scales_as_inverse_n": "holds",
        "critical_gain_matches_corrected_orthogonal": "holds",
        "input_raises_critical_gain": "holds"}
    fit = summary.tables["shift_fit"].set_index("quantity")
    assert fit.loc["gain_shift", "coefficient"] == pytest.approx(SHIFT_B, rel=0.02)
    assert fit.loc["gain_shift", "exponent"] == pytest.approx(-1.0, abs=0.05)
    assert fit.loc["rate_shift", "coefficient"] == pytest.approx(-MF_SLOPE * SHIFT_B, rel=0.02)
    assert summary.numbers["GainShiftCoefficient"].value == pytest.approx(SHIFT_B, rel=0.02)
    # The by-construction cells (orthogonal, no input, g < 1) are not in the rate claim.
    assert "16/16" not in summary.claims["rate_matches_mean_field_orthogonal"].evidence


def test_shift_claim_fails_when_the_shift_scales_as_inverse_root_n(vanishing):
    """A shift of 0.2 N^-1/2 (the old figure's reference) is told apart from 1/N; the
    critical gain then lies above mean field by more than the margin at N = 256."""
    verdicts = vanishing.summarize(synthetic(spectral, shift_b=0.2, power=-0.5)).verdicts()
    assert verdicts["gain_shift_scales_as_inverse_n"] == "fails"
    assert verdicts["critical_gain_above_mean_field_orthogonal"] == "holds"


def test_critical_gain_claims_see_no_shift_when_there_is_none(vanishing):
    verdicts = vanishing.summarize(synthetic(spectral, shift_b=0.0)).verdicts()
    assert verdicts["critical_gain_above_mean_field_orthogonal"] != "holds"
    assert verdicts["critical_gain_matches_orthogonal"] == "holds"
    assert verdicts["gain_shift_scales_as_inverse_n"] != "holds"


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
                                             grow=True, shift_b=0.0)).verdicts()
    assert verdicts["deviation_shrinks_with_n_gaussian"] == "fails"


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
    assert {"vanishing-phase-page.png", "vanishing-sizes-page.png",
            "vanishing-shift-page.png"} <= names
    assert len(section.claims) == 11 and "holds" in section.markdown()


def test_claims_carry_their_sentences_in_one_paragraph(vanishing):
    """Every claim is written (its group declared), in the order of the claims, as one
    paragraph that ends by pointing at the claims table; the sentence follows the verdict."""
    from gradflow.report.layout import paragraphs

    holds = vanishing.summarize(synthetic(spectral))
    assert [g.key for g in holds.groups] == ["mean_field_gaussian", "mean_field_orthogonal",
                                             "finite_n", "input"]
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
            == "Whether they lie within 0.02 of it cannot be decided.")


# ---- what the design sets: tests, not claims ------------------------------------------------

@pytest.mark.parametrize("gain", [0.5, 0.75])
def test_orthogonal_rate_without_input_below_one_is_minus_ln_g(vanishing, gain):
    """The state decays to 0, so J_t = g Q^T and ||dL/dh_t|| = g^k exactly: the rate
    claims leave these cells out."""
    row = vanishing.measure(32, gain, 0.0, "orthogonal", 2, 300, 40)
    assert row["rate"] == pytest.approx(-np.log(gain), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_orthogonal_undriven_crossing_cannot_lie_below_one(vanishing, seed):
    """|tanh'| <= 1 and every singular value of g Q is g: at g <= 1 the gradient cannot
    grow, so the rate is >= 0 and the first sign change lies at g >= 1."""
    from _vanishing import first_crossing

    gains = [0.75, 0.875, 1.0]
    rates = [vanishing.measure(32, g, 0.0, "orthogonal", seed, 50, 60)["rate"]
             for g in gains]
    assert min(rates) >= -1e-12
    assert np.isnan(first_crossing(np.array(gains), np.array(rates)))


def test_gaussian_rate_without_input_below_one_follows_its_spectral_radius(vanishing):
    """With the state at 0, J_t = W^T: the rate of a matrix power tends to -ln rho(W)
    (Gelfand), nearer it than the mean-field -ln g (the old claim, a re-reading)."""
    for seed in range(3):
        row = vanishing.measure(64, 0.5, 0.0, "gaussian", seed, 100, 300)
        assert (abs(row["rate"] - row["neg_log_rho"])
                < abs(row["rate"] + np.log(0.5)))


def test_fits_recover_exponent_coefficient_and_intercept():
    from _vanishing import inverse_fit, power_fit

    n = np.array([128.0, 256, 512, 1024, 2048])
    se = 0.02 / n
    p, low, high, c = power_fit(n, 2.8 / n, se)
    assert p == pytest.approx(-1.0, abs=1e-6) and low < -1 < high
    assert c == pytest.approx(2.8, rel=1e-6)
    root = power_fit(n, 0.2 / np.sqrt(n), se)
    assert root[0] == pytest.approx(-0.5, abs=1e-6)
    origin = inverse_fit(n, 2.8 / n, se, intercept=False)
    assert origin["b"] == pytest.approx(2.8) and np.isnan(origin["a_low"])
    free = inverse_fit(n, 0.001 + 2.8 / n, se, intercept=True)
    assert free["b"] == pytest.approx(2.8) and free["a"] == pytest.approx(0.001)
    assert free["a_low"] < 0.001 < free["a_high"]
    assert np.isnan(power_fit(n[:2], 2.8 / n[:2], se[:2])[0])


def test_all_exceed_decides_each_cell():
    from _vanishing import all_exceed

    def cells(low):
        return pd.DataFrame({"label": ["a", "b"], "estimate": [1.1, 1.2], "low": low,
                             "high": [1.2, 1.3], "predicted": [1.0, 1.0]})

    assert all_exceed("x", "x", cells([1.05, 1.1])).verdict == "holds"
    assert all_exceed("x", "x", cells([0.95, 1.1])).verdict == "inconclusive"
    fails = pd.DataFrame({"label": ["a"], "estimate": [0.9], "low": [0.8], "high": [0.95],
                          "predicted": [1.0]})
    assert all_exceed("x", "x", fails).verdict == "fails"
    assert all_exceed("x", "x", fails.iloc[:0]).verdict == "inconclusive"
