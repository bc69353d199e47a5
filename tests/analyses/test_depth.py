"""analyses/depth.py: summarize's claims on synthetic frames, and run() on a tiny config."""

import numpy as np
import pandas as pd
import pytest

from gradflow.diagnostics.theory_depth import stack_prediction


def _frame(depth, *, scale=1.0, cells=("rnn",), conns=("none", "residual"), seeds=6,
           noise=0.01):
    """Per-seed runs whose first-layer gradient follows scale x the mean-field ratio."""
    rows = []
    rng = np.random.default_rng(0)
    for cell in cells:
        for conn in conns:
            pred = stack_prediction(cell, conn, 8).ratio
            for seed in range(seeds):
                for layers, value in ((1, 1.0), (8, (scale ** 7) * pred)):
                    v = value * np.exp(noise * rng.standard_normal())
                    rows.append({"kind": "summary", "cell": cell, "connection": conn,
                                 "layers": layers, "seed": seed, "input_grad": v,
                                 "first_layer_grad": v, "carry": np.nan,
                                 "saturation": 0.0})
                rows.append({"kind": "depth_jacobian", "cell": cell, "connection": conn,
                             "layers": 8, "seed": seed, "layer": 1, "sv_max": 1.0,
                             "sv_median": 0.5, "sv_min": 0.1})
    return pd.DataFrame(rows)


def test_matches_holds_and_fails(analysis):
    depth = analysis("depth")
    good = depth.summarize(_frame(depth)).verdicts()
    assert good["rnn_none_matches_mean_field"] == "holds"
    assert good["rnn_residual_matches_mean_field"] == "holds"
    bad = depth.summarize(_frame(depth, scale=1.3)).verdicts()
    assert bad["rnn_none_matches_mean_field"] == "fails"


def test_plain_loses_holds_and_fails(analysis):
    depth = analysis("depth")
    # The mean-field rnn ratio over 8 layers is ~0.05: below 0.1.
    assert depth.summarize(_frame(depth)).verdicts()["rnn_plain_loses"] == "holds"
    assert depth.summarize(_frame(depth, scale=1.3)).verdicts()["rnn_plain_loses"] == "fails"


def test_direction_is_two_sided(analysis):
    """Residual stacks grow the gradient (per-layer factor 1.14 > 1): the 'shrinks' claim
    fails rather than holding against a low bar; scaled down, it holds."""
    depth = analysis("depth")
    conns = ("none", "residual", "dense")
    grows = depth.summarize(_frame(depth, conns=conns)).verdicts()
    assert grows["rnn_residual_shrinks"] == "fails"
    assert grows["rnn_dense_shrinks"] == "holds"          # mean field 0.951 per layer
    shrinks = depth.summarize(_frame(depth, scale=0.7, conns=conns)).verdicts()
    assert shrinks["rnn_residual_shrinks"] == "holds"
    near = depth.summarize(_frame(depth, scale=1 / 1.1375, conns=conns, seeds=2,
                                 noise=0.2)).verdicts()
    assert near["rnn_residual_shrinks"] == "inconclusive"
    assert not any(name.endswith("_keeps") for name in grows)


def test_direction_states_the_per_layer_factor(analysis):
    depth = analysis("depth")
    c = depth.summarize(_frame(depth)).claims["rnn_residual_shrinks"]
    assert c.sentence.startswith("With residual connections the rnn's first-layer gradient "
                                 "grows with depth (per layer (n = 6) 1.1")
    assert "over 7 more layers" in c.sentence


def test_one_seed_is_inconclusive(analysis):
    depth = analysis("depth")
    v = depth.summarize(_frame(depth, seeds=1)).verdicts()
    assert v["rnn_none_matches_mean_field"] == "inconclusive"


def test_predicted_curve_in_table(analysis):
    depth = analysis("depth")
    s = depth.summarize(_frame(depth))
    curves = s.tables["curves"]
    one = curves[curves.layers == 1]
    assert np.allclose(one.predicted, one.geo_mean)
    assert {"predicted_per_layer", "per_layer", "per_layer_ci_low"} <= set(s.tables["ratios"])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_run_tiny(analysis, cell):
    depth = analysis("depth")
    rows = depth.run(depth.Config(cell=cell, connection="highway", layers=2, seed=0))
    frame = pd.DataFrame(rows)
    assert set(frame.kind) == {"summary", "depth_jacobian"}
    assert {"input_grad", "first_layer_grad", "carry", "saturation"} <= set(frame.columns)
    assert {"sv_max", "sv_median", "sv_min", "layer"} <= set(frame.columns)


def test_independent_steps_claimed_only_where_it_differs(analysis):
    """A tanh RNN's independent-steps mean field is its mean field (no claim re-reads
    it); a gated cell's is another prediction, and it misses."""
    depth = analysis("depth")
    v = depth.summarize(_frame(depth, cells=("rnn", "lstm"), conns=("none",))).verdicts()
    assert "rnn_none_matches_independent_steps" not in v
    assert v["rnn_none_matches_mean_field"] == "holds"
    assert v["lstm_none_matches_independent_steps"] == "fails"
    assert v["lstm_none_matches_mean_field"] == "holds"


@pytest.mark.parametrize("layers", [2, 4, 8])
def test_rnn_independent_steps_is_the_mean_field_by_construction(layers):
    """Without a gate there is no mean path: both mean fields give the same number (the
    claim it replaces could not fail)."""
    coherent = stack_prediction("rnn", "none", layers).ratio
    white = stack_prediction("rnn", "none", layers, coherent=False).ratio
    assert white == pytest.approx(coherent, rel=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_highway_factor_is_the_carry_the_design_sets(analysis, cell):
    """The three former 'highway matches mean field within 10%' claims: the per-layer
    factor is the mean carry 1 - sigma(b_T) = 0.881 at b_T = -2, predicted and measured
    (two seeds, 1 and 8 layers), whatever the cell."""
    depth = analysis("depth")
    carry = 1.0 / (1.0 + np.exp(depth.CARRY_BIAS))
    assert carry == pytest.approx(0.8808, abs=1e-4) and depth.HIGHWAY_CARRY == carry
    predicted = stack_prediction(cell, "highway", 8, carry_bias=depth.CARRY_BIAS).per_layer
    assert abs(predicted / carry - 1) < depth.MARGIN
    for seed in (0, 1):
        grads = {L: pd.DataFrame(depth.run(depth.Config(cell, "highway", L, seed)))
                 .query("kind == 'summary'").first_layer_grad.iloc[0] for L in (1, 8)}
        per_layer = (grads[8] / grads[1]) ** (1 / 7)
        assert abs(per_layer / carry - 1) < depth.MARGIN


def test_no_highway_claim(analysis):
    depth = analysis("depth")
    v = depth.summarize(_frame(depth, conns=("none", "highway"))).verdicts()
    assert not [name for name in v if "highway" in name]
    assert "highway" in set(depth.summarize(_frame(depth, conns=("none", "highway")))
                            .tables["ratios"].connection)


def test_claims_carry_their_sentences(analysis):
    """Each claim's sentence follows its verdict and quotes its evidence; the mean-field
    groups are list items, the loss and keep claims a paragraph each."""
    from gradflow.report.layout import paragraphs

    depth = analysis("depth")
    good, bad = depth.summarize(_frame(depth)), depth.summarize(_frame(depth, scale=1.3))
    c = good.claims["rnn_none_matches_mean_field"]
    assert c.group == "mean_field"
    assert c.sentence == (f"rnn, none: the mean-field factor predicts the measured one "
                          f"within the margin ({c.evidence}).")
    assert bad.claims["rnn_none_matches_mean_field"].sentence.startswith(
        "rnn, none: the mean-field factor misses the measured one")
    assert good.claims["rnn_plain_loses"].sentence.startswith(
        "Without connections, the rnn's first layer keeps less than 0.1")
    assert bad.claims["rnn_plain_loses"].sentence.startswith(
        "Without connections, the rnn's first layer keeps more than 0.1")
    prose = [c for c in good.claims.values() if c.group not in depth.LISTS]
    assert paragraphs(prose, good.groups) == [
        good.claims["rnn_plain_loses"].sentence + " "
        + good.claims["rnn_residual_shrinks"].sentence]


def test_render_writes_the_lists_once(analysis, tmp_path):
    from gradflow.report.output import Section

    depth = analysis("depth")
    section = Section("depth", tmp_path)
    depth.render(_frame(depth, cells=("rnn", "lstm")), section)
    text = section.markdown()
    assert text.count("- rnn, none: the mean-field factor predicts") == 1
    assert text.count("- lstm: adding successive steps") == 1
    assert "- rnn: adding successive steps" not in text
    assert ("(the prediction tracks each adjoint's spectrum over time: a gate's mean carries "
            "it coherently, fluctuations and random weights add it incoherently):\n\n- rnn, "
            "none: ") in text
