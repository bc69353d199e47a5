"""The bidirectional analysis: every claim holds on one synthetic frame and not on another;
the protocol's rule, the two budgets and the prediction."""

import numpy as np
import pandas as pd
import pytest

SEEDS = 16
LENGTHS = [20, 100]
BUDGET = 1000      # the full design's: its stages name the tuning seeds
MODELS = ("rnn", "birnn", "lstm", "bilstm", "rnn_end", "lstm_end")


def _good(model: str, T: int, expected: bool) -> bool:
    """Whether a model solves at T in the synthetic frame: expected, bidirectional models
    and the controls solve at every length, unidirectional ones only at T = 20;
    otherwise the reverse (and the controls never solve)."""
    bi, end = model.startswith("bi"), model.endswith("_end")
    good = bi or end or T == min(LENGTHS)
    if not expected:
        good = not good if not end else False
    return good


def _frame(expected: bool, *, late: tuple[str, ...] = (), seed: int = 0,
           lr: float = 3e-3, ratio_offset: float = 0.0) -> pd.DataFrame:
    """Rows shaped like run()'s: tuning runs (seeds 100-107, every rate, budget BUDGET)
    and reported runs (seeds 0-15, rate ``lr``, budget 2 BUDGET). A solving run stops
    at 30-60 steps, or (models in ``late``) between BUDGET and 2 BUDGET. At init the
    cue's gradient ratio is lambda_max x distance / ln 10 (+ ``ratio_offset`` decades)."""
    rng = np.random.default_rng(seed)
    rows = []
    for model in MODELS:
        bi = model.startswith("bi")
        for T in LENGTHS:
            good = _good(model, T, expected)
            tuning = [(s, rate, BUDGET) for s in range(100, 108)
                      for rate in (1e-3, 3e-3, 1e-2)]
            for s, rate, steps in [*tuning, *((s, lr, 2 * BUDGET) for s in range(SEEDS))]:
                base = {"model": model, "length": T, "lr": rate, "steps": steps, "seed": s}
                at = float(rng.integers(BUDGET + 10, 2 * BUDGET)) if model in late else \
                    float(rng.integers(30, 60))
                rows.append({**base, "kind": "summary", "accuracy": 0.95 if good else 0.5,
                             "test_loss": 0.1 if good else 0.69, "n_skipped": 0,
                             "solved_at": at if good else np.nan,
                             "loss_drop": 0.0 if good else rng.normal(0, 0.001),
                             "final_loss": 0.1 if good else 0.69})
                if s >= 100:
                    continue
                distance = 4.0 if bi else T - 5.0
                lam = -0.5 + rng.normal(0, 0.01)
                for when in ("init", "trained"):
                    row = {**base, "kind": "gradient", "when": when,
                           "log10_ratio_median": lam * distance / np.log(10) + ratio_offset
                           + rng.normal(0, 0.05), "zero_fraction": 0.0, "distance": distance}
                    if when == "init" and not model.endswith("_end"):
                        row["lambda_max"] = lam
                    rows.append(row)
    return pd.DataFrame(rows)


CLAIMS = [f"{name}" for cell in ("rnn", "lstm") for name in (
    f"bi{cell}_keeps_cue", f"{cell}_solves_at_20", f"{cell}_loses_cue",
    f"bi{cell}_beats_{cell}_100", f"{cell}_worse_when_longer", f"distance_defeats_{cell}")]
PREDICTIONS = [f"cue_gradient_{m}_predicted" for m in ("rnn", "birnn", "lstm", "bilstm")]


@pytest.mark.parametrize("name", CLAIMS)
def test_each_claim_holds_and_not(analysis, name):
    mod = analysis("bidirectional")
    assert mod.summarize(_frame(True)).verdicts()[name] == "holds"
    assert mod.summarize(_frame(False)).verdicts()[name] != "holds"


@pytest.mark.parametrize("name", PREDICTIONS)
def test_prediction_holds_and_fails(analysis, name):
    mod = analysis("bidirectional")
    assert mod.summarize(_frame(True)).verdicts()[name] == "holds"
    off = mod.summarize(_frame(True, ratio_offset=3 * mod.MARGIN_DECADES)).verdicts()
    assert off[name] == "fails"


def test_learning_claims_state_the_protocol_and_both_budgets(analysis):
    mod = analysis("bidirectional")
    s = mod.summarize(_frame(True))
    for name in CLAIMS:
        evidence = s.claims[name].evidence
        assert f"within {BUDGET} steps:" in evidence and f"within {2 * BUDGET} steps:" in evidence
        assert "protocol: Adam rate per cell from {0.001, 0.003, 0.01}" in evidence
        assert "tuning seeds 100-103" in evidence and ": lr 0.003" in evidence


def test_a_verdict_that_moves_with_the_budget_is_inconclusive(analysis):
    """The bidirectional RNN solves only between B and 2 B: 'most seeds solve' fails
    within B and holds within 2 B, so it is inconclusive and says why."""
    mod = analysis("bidirectional")
    claim = mod.summarize(_frame(True, late=("birnn",))).claims["birnn_keeps_cue"]
    assert claim.verdict == "inconclusive"
    assert "the verdict changes when the budget is doubled (fails within 1000, holds " \
           "within 2000)" in claim.evidence


def test_no_difference_where_both_solve_alike(analysis):
    mod = analysis("bidirectional")
    # At T = 20 both directions solve at the same pace in the expected frame.
    assert mod.summarize(_frame(True)).verdicts()["birnn_beats_rnn_20"] == "inconclusive"


def test_no_check_is_a_claim(analysis):
    """The learning-curve checks and the escapes are table columns, not claims; the
    init gradient comparison is a test (below), not a claim."""
    mod = analysis("bidirectional")
    names = set(mod.summarize(_frame(True)).claims)
    assert not any(n.startswith("plateau_") for n in names)
    assert "escapes_are_early" not in names
    assert not any(n.endswith("_init") for n in names)


def test_stage_one_follows_the_rule(analysis):
    mod = analysis("bidirectional")
    rows = []
    # rate 1e-3: 2 of 4 solved; 3e-3: 3 of 4 (slow); 1e-2: 3 of 4 (fast) -> 1e-2.
    for lr, times in ((1e-3, [50, 60, np.nan, np.nan]), (3e-3, [90, 80, 70, np.nan]),
                      (1e-2, [20, 30, 40, np.nan])):
        for s, t in zip((100, 101, 102, 103), times, strict=True):
            rows.append({"model": "lstm", "length": 20, "lr": lr, "seed": s, "solved_at": t,
                         "final_loss": 0.5})
    # no rate solves: the lower final loss decides
    for lr, loss in ((1e-3, 0.69), (3e-3, 0.60), (1e-2, 0.70)):
        for s in (100, 101, 102, 103):
            rows.append({"model": "lstm", "length": 100, "lr": lr, "seed": s,
                         "solved_at": np.nan, "final_loss": loss})
    table = mod.protocol_state(pd.DataFrame(rows), mod.FULL)
    chosen = table[table["first"]].set_index("length").lr
    assert chosen[20] == 1e-2 and chosen[100] == 3e-3
    # a run solved after the budget does not count
    late = pd.DataFrame(rows).assign(solved_at=lambda f: f.solved_at + mod.BUDGET)
    assert mod.protocol_state(late, mod.FULL).solved.max() == 0


def test_rates_table_flags_a_rate_the_rule_did_not_choose(analysis):
    mod = analysis("bidirectional")
    s = mod.summarize(_frame(True, lr=1e-3))
    rates = s.tables["rates"]
    # every tuning rate solves alike in the synthetic frame: the rule's tie-breaks choose
    assert set(rates.chosen_lr) <= {1e-3, 3e-3, 1e-2}
    assert (rates.agrees == np.isclose(rates.chosen_lr, rates.used_lr)).all()


def test_accuracy_intervals_stay_in_range(analysis):
    mod = analysis("bidirectional")
    frame = _frame(True)
    # spread near 1: a t-interval would cross 1
    summary = frame.kind == "summary"
    frame.loc[summary, "accuracy"] = np.where(
        frame.loc[summary, "seed"] % 4 == 0, 0.7, 1.0)
    acc = mod.summarize(frame).tables["accuracy"]
    assert (acc.accuracy_ci_low >= 0).all() and (acc.accuracy_ci_high <= 1).all()


def test_tables_and_numbers(analysis):
    mod = analysis("bidirectional")
    s = mod.summarize(_frame(True, late=("rnn",)))
    assert set(s.tables) == {"protocol", "rates", "accuracy", "survival", "gradient"}
    acc = s.tables["accuracy"].set_index(["model", "length"])
    assert acc.loc[("birnn", 100), "solved"] == SEEDS
    assert acc.loc[("rnn", 20), "solved"] == 0 and acc.loc[("rnn", 20), "solved_2b"] == SEEDS
    assert acc.loc[("rnn", 100), "unsolved"] == SEEDS
    assert acc.loc[("rnn", 100), "still_falling"] == 0
    assert "SolvedBiRnnHundred" in s.numbers
    grad = s.tables["gradient"]
    init = grad[(grad.model == "rnn") & (grad.length == 100) & (grad.when == "init")].iloc[0]
    assert init.predicted == pytest.approx(-0.5 * 95 / np.log(10), abs=0.5)
    from gradflow.diagnostics import driven_mean_field
    rate = driven_mean_field(1 / np.sqrt(3), 1 / 32).rate     # PyTorch's tanh RNN at H = 32
    assert init.mean_field == pytest.approx(-rate * init.distance / np.log(10), rel=0.05)


def test_still_improving_reads_the_last_fifth(analysis):
    mod = analysis("bidirectional")
    drop, final = mod.still_improving(np.array([1.0] * 12 + [0.5] * 4 + [0.2] * 4))
    assert drop == pytest.approx(0.3) and final == pytest.approx(0.2)
    assert np.isnan(mod.still_improving(np.array([0.7]))[0])


def _tuning_rows(mod, configs, solved_at):
    """One summary row per tuning config; ``solved_at(model, length, lr, seed)``."""
    from gradflow.sweep import expand_grid

    return pd.DataFrame([{"kind": "summary", **c, "solved_at": solved_at(**{
        k: c[k] for k in ("model", "length", "lr", "seed")}), "final_loss": 0.5}
        for c in expand_grid(configs)])


def test_the_stages_tune_every_cell_then_report_at_the_chosen_rate(analysis):
    """Stage 1 tries every rate on the stage-1 seeds; a choice at an edge extends the
    grid; the two finalists are confirmed; the reported seeds then run at the rule's
    choice to twice the budget, and nothing follows them."""
    from gradflow.sweep import expand_grid

    mod = analysis("bidirectional")
    design = mod.FULL
    stage = mod.first_stage(design)
    configs = expand_grid(stage)
    assert len(configs) == len(mod.MODELS) * 2 * 3 * 4
    assert {c["steps"] for c in configs} == {mod.BUDGET}
    assert not set(mod.TUNING_SEEDS) & set(mod.SEEDS)

    def best_at(model, length, lr, seed):      # 0.01 and above solve fast, 0.003 slowly
        return 100.0 if lr >= 0.01 else (900.0 if lr >= 0.003 else np.nan)

    frame = _tuning_rows(mod, stage, best_at)
    ext = mod.follow(frame, quick=False)        # 0.01 wins at the top edge: try 0.03
    assert {c["lr"] for c in expand_grid(ext)} == {0.03}
    assert {c["seed"] for c in expand_grid(ext)} == set(design.stages.seeds)
    frame = pd.concat([frame, _tuning_rows(mod, ext, best_at)])
    confirm = mod.follow(frame, quick=False)    # a tie at 100 steps: 0.01 (closer to 0.003)
    assert {c["lr"] for c in expand_grid(confirm)} == {0.01, 0.03}
    assert {c["seed"] for c in expand_grid(confirm)} == set(design.stages.confirm)
    frame = pd.concat([frame, _tuning_rows(mod, confirm, best_at)])
    reported = expand_grid(mod.follow(frame, quick=False))
    assert len(reported) == len(mod.MODELS) * 2 * len(mod.SEEDS)
    assert {(c["lr"], c["steps"]) for c in reported} == {(0.01, 2 * mod.BUDGET)}
    frame = pd.concat([frame, pd.DataFrame([{"kind": "summary", **c} for c in reported])])
    assert mod.follow(frame, quick=False) == []


def test_run_gives_the_expected_rows(analysis):
    mod = analysis("bidirectional")
    rows = pd.DataFrame(mod.run(mod.Config(model="birnn", length=10, lr=1e-2, steps=20,
                                           seed=0)))
    assert set(rows.kind) == {"summary", "gradient"}
    assert {"accuracy", "solved_at", "loss_drop", "log10_ratio_median", "distance",
            "lambda_max"} <= set(rows.columns)
    tuning = mod.run(mod.Config(model="rnn", length=10, lr=1e-2, steps=20, seed=100))
    assert [r["kind"] for r in tuning] == ["summary"]


def test_the_cue_gradient_is_smaller_unidirectionally_at_init(analysis):
    """What the report used to claim (it holds by construction at an ordered init): at
    init the gradient reaching an early cue, relative to the last step, is far smaller in
    the unidirectional RNN than in the bidirectional one, and both are near what
    lambda_max predicts."""
    mod = analysis("bidirectional")
    ratio = {}
    for model in ("rnn", "birnn"):
        rows = mod.run(mod.Config(model=model, length=40, lr=1e-3, steps=1, seed=0))
        init = next(r for r in rows if r["kind"] == "gradient" and r["when"] == "init")
        ratio[model] = init["log10_ratio_median"]
        predicted = init["lambda_max"] * init["distance"] / np.log(10)
        assert init["lambda_max"] < 0
        assert abs(ratio[model] - predicted) < 2 * mod.MARGIN_DECADES
    assert ratio["rnn"] < ratio["birnn"] - 3


def test_prose_is_the_claims_in_two_paragraphs(analysis):
    from gradflow.report.layout import paragraphs

    mod = analysis("bidirectional")
    s = mod.summarize(_frame(True))
    prose = paragraphs(s.claims.values(), s.groups)
    assert len(prose) == 2
    assert prose[0].startswith("**tanh RNN.** Most seeds of the bidirectional RNN solve")
    assert prose[1].startswith("**LSTM.** Most seeds of the bidirectional LSTM solve")
    assert "is what its lambda_max predicts" in prose[0]
