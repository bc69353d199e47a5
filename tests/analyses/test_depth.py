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


def test_residual_keeps_holds_and_fails(analysis):
    depth = analysis("depth")
    assert depth.summarize(_frame(depth)).verdicts()["rnn_residual_keeps"] == "holds"
    assert depth.summarize(_frame(depth, scale=0.7)).verdicts()["rnn_residual_keeps"] == "fails"


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


def test_independent_steps_holds_for_rnn_fails_for_lstm(analysis):
    depth = analysis("depth")
    v = depth.summarize(_frame(depth, cells=("rnn", "lstm"), conns=("none",))).verdicts()
    assert v["rnn_none_matches_independent_steps"] == "holds"
    assert v["lstm_none_matches_independent_steps"] == "fails"
    assert v["lstm_none_matches_mean_field"] == "holds"


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
    assert good.claims["rnn_none_matches_independent_steps"].group == "independent_steps"
    prose = [c for c in good.claims.values() if c.group not in depth.LISTS]
    assert paragraphs(prose, good.groups) == [
        good.claims["rnn_plain_loses"].sentence, good.claims["rnn_residual_keeps"].sentence]


def test_render_writes_the_lists_once(analysis, tmp_path):
    from gradflow.report.output import Section

    depth = analysis("depth")
    section = Section("depth", tmp_path)
    depth.render(_frame(depth), section)
    text = section.markdown()
    assert text.count("- rnn, none: the mean-field factor predicts") == 1
    assert text.count("- rnn: adding successive steps") == 1
    assert ("(the prediction tracks each adjoint's spectrum over time: a gate's mean carries "
            "it coherently, fluctuations and random weights add it incoherently):\n\n- rnn, "
            "none: ") in text
