"""The bidirectional analysis: every claim holds on one synthetic frame and not on another."""

import numpy as np
import pandas as pd
import pytest

SEEDS = 16
LENGTHS = [20, 100]


def _frame(expected: bool, *, still_learning: tuple[str, ...] = (), seed: int = 0
           ) -> pd.DataFrame:
    """Rows shaped like run()'s. ``expected``: bidirectional models solve at every length,
    unidirectional ones solve at T = 20 and sit at chance at T = 100 (their controls
    solve), learning curves are flat at the end, and at init the cue's gradient is far
    smaller in the unidirectional models. Otherwise the reverse. Models named in
    ``still_learning`` have loss still falling at the end of the budget."""
    rng = np.random.default_rng(seed)
    rows = []
    for model in ("rnn", "birnn", "lstm", "bilstm", "rnn_end", "lstm_end"):
        bi, end = model.startswith("bi"), model.endswith("_end")
        for T in LENGTHS:
            for s in range(SEEDS):
                base = {"model": model, "length": T, "steps": 100, "seed": s}
                good = bi or end or T == min(LENGTHS)
                if not expected:
                    good = not good if not end else False
                acc = (1.0 - abs(rng.normal(0, 0.01))) if good else 0.5 + rng.normal(0, 0.02)
                rows.append({**base, "kind": "summary", "accuracy": acc,
                             "test_loss": 0.01 if good else 0.69, "n_skipped": 0})
                final = 0.01 if good else 0.69
                for w in range(20):
                    loss = final + (0.3 * (1 - w / 19) if model in still_learning
                                    else (0.6 if w < 3 and good else 0.0))
                    rows.append({**base, "kind": "curve", "window": w, "fraction": (w + 1) / 20,
                                 "loss": loss + rng.normal(0, 0.002)})
                for when in ("init", "trained"):
                    ratio = (-0.5 if bi else -6.0) if expected else (-6.0 if bi else -0.5)
                    rows.append({**base, "kind": "gradient", "when": when,
                                 "log10_ratio_median": ratio + rng.normal(0, 0.1),
                                 "zero_fraction": 0.0})
    return pd.DataFrame(rows)


CLAIMS = ["birnn_keeps_cue", "rnn_loses_cue", "birnn_beats_rnn_100", "rnn_worse_when_longer",
          "distance_defeats_rnn", "cue_gradient_rnn_init",
          "bilstm_keeps_cue", "lstm_loses_cue", "bilstm_beats_lstm_100",
          "lstm_worse_when_longer", "distance_defeats_lstm", "cue_gradient_lstm_init",
          *(f"plateau_{m}_{T}" for m in ("rnn", "birnn", "lstm", "bilstm", "rnn_end",
                                         "lstm_end") for T in LENGTHS)]


@pytest.mark.parametrize("name", CLAIMS)
def test_each_claim_holds_and_not(analysis, name):
    mod = analysis("bidirectional")
    holds = mod.summarize(_frame(True)).verdicts()
    assert holds[name] == "holds"
    if name.startswith("plateau_"):
        model = name.removeprefix("plateau_").rsplit("_", 1)[0]
        other = mod.summarize(_frame(True, still_learning=(model,))).verdicts()
    else:
        other = mod.summarize(_frame(False)).verdicts()
    assert other[name] != "holds"


def test_escapes_are_early_holds_and_not(analysis):
    mod = analysis("bidirectional")
    assert mod.summarize(_frame(True)).verdicts()["escapes_are_early"] == "holds"
    late = tuple(mod.MODELS)   # every run still falling: the solving ones escape late
    assert mod.summarize(_frame(True, still_learning=late)).verdicts()[
        "escapes_are_early"] == "fails"


def test_no_difference_where_both_solve(analysis):
    mod = analysis("bidirectional")
    # At T = 20 both directions solve in the expected frame: nothing to tell apart.
    assert mod.summarize(_frame(True)).verdicts()["birnn_beats_rnn_20"] == "inconclusive"


def test_distance_needs_the_learning_curve_check(analysis):
    """The control beats the start cue, but the start-cue runs are still learning: a
    longer budget might close the gap, so the claim is inconclusive."""
    mod = analysis("bidirectional")
    claim = mod.summarize(_frame(True, still_learning=("rnn",))).claims["distance_defeats_rnn"]
    assert claim.verdict == "inconclusive" and "learning-curve check" in claim.evidence


def test_improvement_reads_the_last_fifth(analysis):
    mod = analysis("bidirectional")
    curves = pd.DataFrame({"model": "rnn", "length": 20, "seed": 0, "window": range(20),
                           "loss": [1.0] * 12 + [0.5] * 4 + [0.2] * 4})
    r = mod.improvements(curves).iloc[0]
    assert r.improvement == pytest.approx(0.3) and r.final_loss == pytest.approx(0.2)
    assert np.isnan(r.escape)
    curves["loss"] = [1.0] * 5 + [0.05] * 15
    assert mod.improvements(curves).escape.iloc[0] == pytest.approx(6 / 20)


def test_tables_and_numbers(analysis):
    mod = analysis("bidirectional")
    s = mod.summarize(_frame(True))
    assert set(s.tables) == {"accuracy", "plateau", "curves", "gradient"}
    acc = s.tables["accuracy"]
    assert acc[(acc.model == "birnn") & (acc.length == 100)].solved.iloc[0] == SEEDS
    assert "SolvedBiRnnHundred" in s.numbers


def test_run_gives_the_expected_rows(analysis):
    mod = analysis("bidirectional")
    rows = pd.DataFrame(mod.run(mod.Config(model="birnn", length=10, steps=20, seed=0)))
    assert set(rows.kind) == {"summary", "curve", "gradient"}
    curve = rows[rows.kind == "curve"]
    assert list(curve.window) == list(range(20)) and np.isfinite(curve.loss).all()
    assert {"accuracy", "test_loss", "log10_ratio_median", "zero_fraction"} <= set(rows.columns)


def test_prose_is_the_claims_in_three_paragraphs(analysis):
    """The learning-curve check (with the escapes), then one paragraph per cell, each
    opened by its heading; the cells still learning are listed with their verdicts."""
    from gradflow.report.layout import paragraphs

    mod = analysis("bidirectional")
    s = mod.summarize(_frame(True))
    prose = paragraphs(s.claims.values(), s.groups)
    assert len(prose) == 3
    assert prose[0].startswith("**Is the budget past the plateaus?** The loss has stopped "
                               "improving by the end of the 100-step budget for 12 of 12")
    assert "So a failure here is not a run stopped on its way down." in prose[0]
    assert prose[0].endswith("show how long the task itself takes.")
    assert prose[1].startswith("**tanh RNN.** Most seeds of the bidirectional RNN solve")
    assert prose[2].startswith("**LSTM.** Most seeds of the bidirectional LSTM solve")
    s = mod.summarize(_frame(True, still_learning=("rnn", "lstm")))
    first = paragraphs(s.claims.values(), s.groups)[0]
    assert "for 8 of 12 model-length cells. It is not established for: LSTM at T = 20 (" in first
    assert "); RNN at T = 100 (" in first
    assert ". Conclusions about these cells are limited to this budget." in first
    s = mod.summarize(_frame(True, still_learning=tuple(mod.MODELS)))
    first = paragraphs(s.claims.values(), s.groups)[0]
    assert "The learning-curve check holds for no model-length cell." in first
