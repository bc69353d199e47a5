"""analyses/gates.py: run() on a tiny config, the small-weight cell path as a theorem, and
every claim of summarize() on synthetic frames where it holds and where it does not."""

import math

import numpy as np
import pandas as pd
import pytest

import gradflow
from gradflow.diagnostics import forget_gate_timescale, product_norms


@pytest.fixture
def gates(analysis):
    return analysis("gates")


def world(gates, *, factor=2.0, r2=0.99, default_gap=0.3, step=0.1, noise=0.01,
          seeds=5, mf_offset=0.0, seed=0) -> pd.DataFrame:
    """Synthetic run() output: each biased variant decays at rate 1 / (factor * naive
    timescale); the RNN ``default_gap`` faster than the default LSTM and GRU (0.45); each
    forget-bias step lowers the rate (by at least ``step``, as the naive rates do, when
    factor is fixed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for v, (cell, bias) in gates.VARIANTS.items():
        if bias is None:
            rate = 0.45 + (default_gap if cell == "rnn" else 0.0)
        else:
            rate = 1.0 / (factor * gates.naive_timescale(bias))
        for s in range(seeds):
            r = rate * (1 + noise * rng.standard_normal())
            rows += [{"variant": v, "seed": s, "hidden": 64, "length": 400, "kind": "profile",
                      "distance": d, "log10_ratio": -r * d / math.log(10)} for d in (0, 1, 2)]
            rows.append({"variant": v, "seed": s, "hidden": 64, "length": 400,
                         "kind": "summary", "rate": r, "rate_low": r - 0.01,
                         "rate_high": r + 0.01, "r_squared": r2,
                         "bias": math.nan if bias is None else bias,
                         "ln_mean_gate": -0.5, "slowest_unit": -0.4,
                         "lambda_max": -r + 1e-3 * rng.standard_normal()}
                        | ({} if cell == "rnn" else {"mf_rate": rate + mf_offset}))
    return pd.DataFrame(rows)


def test_run_gives_the_expected_columns(gates):
    rows = gates.run(gates.Config("lstm_b1", 0, 4, 60))
    summary = rows[-1]
    assert summary["kind"] == "summary"
    assert {"rate", "rate_low", "rate_high", "r_squared", "bias", "ln_mean_gate",
            "slowest_unit", "lambda_max", "mf_rate"} <= set(summary)
    assert [r["distance"] for r in rows[:-1]] == list(range(60))
    rnn = gates.run(gates.Config("rnn", 0, 4, 60))[-1]
    assert "slowest_unit" not in rnn
    with pytest.raises(ValueError, match="length"):
        gates.run(gates.Config("rnn", 0, 4, 20))


@pytest.mark.parametrize("bias", [0.0, 1.0, 2.0])
def test_small_weights_cell_path_is_sigma_b_to_the_k_a_theorem(bias):
    """With every weight scaled by 1e-3, f = sigma(b_f) up to 1e-3, so the cell path's
    product diag(f_t) ... decays as sigma(b_f)^k: -1/ln sigma(b_f) by construction."""
    H, T = 6, 40
    net = gradflow.Network("lstm", 3, H)
    params = net.init(0, forget_bias=bias)
    params = {k: v * 1e-3 if k.startswith("weight") else v for k, v in params.items()}
    x = np.random.default_rng(0).standard_normal((T, 2, 3))
    J = net.step_jacobians(params, net.forward(params, x))[:, :, H:, H:]   # diag(f_t)
    norms = product_norms(J)                                               # (T, B)
    k = np.arange(1, T + 1)
    expected = np.exp(-k / forget_gate_timescale(bias))[:, None]
    np.testing.assert_allclose(norms, np.broadcast_to(expected, norms.shape), rtol=0.01)


def test_naive_timescale_is_the_reference_one(gates):
    for b in (0.0, 1.0, 2.0, 3.0):
        assert gates.naive_timescale(b) == pytest.approx(float(forget_gate_timescale(b)))


def test_claims_hold_in_a_world_where_gates_outlive_the_naive_timescale(gates):
    verdicts = gates.summarize(world(gates)).verdicts()
    assert set(verdicts) == {
        "timescale_exceeds_naive_gru_z2", "timescale_exceeds_naive_lstm_b0",
        "timescale_exceeds_naive_lstm_b1", "timescale_exceeds_naive_lstm_b2",
        "timescale_exceeds_naive_lstm_b3", "default_lstm_vs_rnn", "default_gru_vs_rnn",
        "bias_slows_decay_lstm_b0_lstm_b1", "bias_slows_decay_lstm_b1_lstm_b2",
        "bias_slows_decay_lstm_b2_lstm_b3", "lstm_rate_matches_gated_mean_field",
        "gru_rate_matches_gated_mean_field"}
    assert all(v == "holds" for v in verdicts.values()), verdicts


def test_mean_field_claims_fail_off_the_prediction(gates):
    verdicts = gates.summarize(world(gates, mf_offset=0.1)).verdicts()
    assert verdicts["lstm_rate_matches_gated_mean_field"] == "fails"
    assert verdicts["gru_rate_matches_gated_mean_field"] == "fails"


def test_timescale_claims_fail_when_shorter_than_naive(gates):
    verdicts = gates.summarize(world(gates, factor=0.5)).verdicts()
    assert verdicts["timescale_exceeds_naive_lstm_b1"] == "fails"
    assert verdicts["timescale_exceeds_naive_lstm_b2"] == "fails"


def test_uninformative_fits_are_inconclusive_and_not_cited(gates):
    summary = gates.summarize(world(gates, r2=0.12))
    claim = summary.claims["timescale_exceeds_naive_lstm_b2"]
    assert claim.verdict == "inconclusive" and "uninformative" in claim.evidence
    assert not any(name.startswith("Timescale") and "Lstm" in name for name in summary.numbers)
    # An interval reaching 0: the timescale is unbounded.
    frame = world(gates)
    b3 = (frame.variant == "lstm_b3") & (frame.kind == "summary")
    frame.loc[b3, "rate"] = [0.01, -0.01, 0.005, -0.004, 0.0]
    claim = gates.summarize(frame).claims["timescale_exceeds_naive_lstm_b3"]
    assert claim.verdict == "inconclusive" and "unbounded" in claim.evidence


def test_comparisons_fail_when_equal_or_reversed(gates):
    verdicts = gates.summarize(world(gates, default_gap=0.0, factor=1.0)).verdicts()
    # Equal within the margin (TOST): "no slower" is a finding, not an overlap.
    assert verdicts["default_lstm_vs_rnn"] == "fails"
    assert verdicts["default_gru_vs_rnn"] == "fails"
    frame = world(gates)
    for a, b in (("lstm_b1", "lstm_b2"),):
        ia = (frame.variant == a) & (frame.kind == "summary")
        ib = (frame.variant == b) & (frame.kind == "summary")
        ra, rb = frame.loc[ia, "rate"].to_numpy(), frame.loc[ib, "rate"].to_numpy()
        frame.loc[ia, "rate"], frame.loc[ib, "rate"] = rb, ra
    assert gates.summarize(frame).verdicts()["bias_slows_decay_lstm_b1_lstm_b2"] == "fails"


def test_summarize_is_pure_and_render_writes_the_figures(gates, tmp_path):
    from gradflow.report.output import Section

    frame = world(gates)
    before = frame.copy()
    summary = gates.summarize(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert {"rates", "profiles"} <= set(summary.tables)
    ratio = summary.tables["rates"].set_index("variant").loc["lstm_b1", "ratio"]
    assert ratio == pytest.approx(2.0, rel=0.02)
    section = Section("gates", tmp_path)
    gates.render(frame, section)
    assert (tmp_path / "figures" / "gates-timescales-column.png").exists()
    assert (tmp_path / "figures" / "gates-rates-column.png").exists()
    assert len(section.claims) == len(summary.claims)


@pytest.mark.parametrize("variant", ["rnn", "gru", "lstm_b1"])
def test_real_runs_reconcile_the_rate_with_lambda_max(gates, variant):
    """The fitted rate of ||dL/ds_t|| is -lambda_max of the same runs: the same Jacobian
    product read backward and forward (an identity of the code, so a test here and not a
    claim of the report)."""
    row = gates.run(gates.Config(variant, seed=0, hidden=8, length=200))[-1]
    assert row["rate"] == pytest.approx(-row["lambda_max"], abs=gates.LYAPUNOV_MARGIN)
