"""long_range's learning-rate protocol and doubled budget (issue 25)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gradflow

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analyses"))
import _long_range as L  # noqa: E402

from .test_long_range import FAST, NEVER, SLOW, frame_of  # noqa: E402


@pytest.fixture
def lr(analysis):
    return analysis("long_range")


def test_a_run_to_2n_steps_is_the_run_to_n_continued():
    """The batch stream and the record/check spacing do not depend on ``steps``: the first
    n records and checks of a 2n-step run are those of the n-step run."""
    task = gradflow.tasks.AddingProblem(8)
    net = gradflow.Network("gru", 2, 4)

    def train(steps):
        return gradflow.train(net, task, steps, 4, optimizer="adam", lr=0.01, clip=1.0,
                              seed=3, record_every=5, progress=False, stop_every=5,
                              stop_size=16, stop_when=lambda p, y: False)

    short, long = train(20), train(40)
    a = short.frame[short.frame.step % 5 == 0].reset_index(drop=True)
    b = long.frame[long.frame.step < 20].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(short.checks.reset_index(drop=True),
                                  long.checks[long.checks.step <= 20].reset_index(drop=True))


def test_train_one_at_twice_the_budget_solves_at_the_same_step():
    a = L.train_one("adding", 10, "gru", 0, 300, lr=0.03)
    b = L.train_one("adding", 10, "gru", 0, 600, lr=0.03)
    if a["solved"]:
        assert b["solved"] and b["solve_step"] == a["solve_step"]
    else:
        assert not b["solved"] or b["solve_step"] > 300


def test_run_uses_the_configs_rate_and_seeds(lr, monkeypatch):
    seen = []
    monkeypatch.setattr(lr, "train_one", lambda task, T, model, seed, steps, lr: seen.append(
        (seed, steps, lr)) or {"solved": False, "solve_step": steps})
    lr.run(lr.Config(model="rnn", task="adding", lengths=(50,), steps=7, seeds=2, lr=0.03,
                     first_seed=100))
    assert seen == [(100, 7, 0.03), (101, 7, 0.03)]


def test_the_grid_tunes_every_model_then_doubles_the_named_cells(lr):
    from gradflow.sweep import expand_grid
    configs = [lr.Config(**c) for g in lr.GRID for c in expand_grid(g)]
    tune = [c for c in configs if c.first_seed == lr.TUNING_SEEDS[0]]
    assert len(tune) == len(L.MODELS) * len(lr.LR_GRID) + sum(map(len, lr.EXTENDED.values()))
    assert {c.lr for c in tune if c.model == "gru"} == {*lr.LR_GRID, *lr.EXTENDED["gru"]}
    assert {(c.task, c.lengths, c.steps, c.seeds) for c in tune} == {
        ("adding", (50,), lr.STEPS, 4)}
    double = [c for c in configs if c.steps == 2 * lr.STEPS]
    assert {(c.task, c.lengths[0], c.model) for c in double} == set(lr.DOUBLED)
    assert all(c.lr == lr.TUNED[c.model] and c.seeds == 16 for c in double)
    assert set(lr.TUNED) == set(L.MODELS)
    assert all(r in (*lr.LR_GRID, *lr.EXTENDED.get(m, ())) for m, r in lr.TUNED.items())
    # the extension rule: a model's choice is never at the top of its own grid
    assert all(r < max((*lr.LR_GRID, *lr.EXTENDED.get(m, ()))) for m, r in lr.TUNED.items())


def tuning_rows(rates: dict) -> pd.DataFrame:
    """rates: model -> {lr: solve steps of the tuning seeds (None: censored)}."""
    rows = []
    for model, by in rates.items():
        for rate, steps in by.items():
            for seed, at in zip((100, 101, 102, 103), steps, strict=True):
                rows.append({"steps": 2000, "seed": seed, "task": "adding", "length": 50,
                             "model": model, "lr": rate, "solved": at is not None,
                             "solve_step": 2000 if at is None else at,
                             "log10_grad_init": -5.0, "held_out_loss": 0.01,
                             "baseline": 1 / 6, "n_params": 100, "n_skipped": 0})
    return pd.DataFrame(rows)


def with_doubled(spec: dict, doubled: dict) -> pd.DataFrame:
    """frame_of(spec) plus replicates at 4000 steps (doubled: cell -> solve steps)."""
    base = frame_of(spec)
    more = frame_of(doubled).assign(steps=4000)
    more["solve_step"] = np.where(more.solved, more.solve_step, 4000)
    return pd.concat([base, more], ignore_index=True)


def test_protocol_table_rederives_the_tuned_rate(lr, monkeypatch):
    monkeypatch.setattr(lr, "TUNED", {**lr.TUNED, "gru": 0.03, "lstm": 0.01})
    tune = tuning_rows({"gru": {0.01: [500] * 4, 0.03: [300] * 4},
                        "lstm": {0.01: [900] * 4, 0.03: [None] * 4}})
    frame = pd.concat([frame_of({("adding", 100, "gru"): FAST}), tune], ignore_index=True)
    s = lr.summarize(frame)
    table = s.tables["protocol"]
    assert table[table.chosen].set_index("model").lr.to_dict() == {"gru": 0.03, "lstm": 0.01}
    assert table.agrees.all()
    assert (s.tables["runs"].seed < 100).all()                 # tuning seeds never reported
    monkeypatch.setattr(lr, "TUNED", {**lr.TUNED, "gru": 0.01})
    assert not lr.summarize(frame).tables["protocol"].set_index("model").agrees["gru"].any()


def test_every_learning_claim_names_the_protocol(lr):
    tune = tuning_rows({"gru": {0.01: [500] * 4}})
    frame = pd.concat([frame_of({("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): SLOW}),
                       tune], ignore_index=True)
    claims = lr.summarize(frame).claims
    assert claims
    for name, c in claims.items():
        if not name.startswith("mean_field_gradient_"):
            assert "protocol: Adam rate per model from {0.01}" in c.evidence, name
            assert "tuning seeds 100-103" in c.evidence and "budget B = 2000" in c.evidence


def test_gru_vs_lstm_counts_its_censored_runs(lr):
    s = lr.summarize(frame_of({("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): FAST}))
    assert "0 of 32 runs censored at B = 2000: none" in s.claims["gru_sooner_than_lstm"].evidence
    s = lr.summarize(frame_of({("adding", 100, "gru"): FAST,
                               ("adding", 100, "lstm"): SLOW[:12] + NEVER[:4]}))
    assert "4 of 32 runs censored" in s.claims["gru_sooner_than_lstm"].evidence


def test_doubled_cells_decide_their_claims_again(lr):
    spec = {("adding", 50, m): NEVER for m in L.RNNS} | {("adding", 50, "gru"): FAST}
    same = {("adding", 50, m): NEVER for m in L.RNNS}
    s = lr.summarize(with_doubled(spec, same))
    budget = s.tables["budget"]
    assert budget.solved_2b.eq(0).all() and budget.same_first_b.all()
    assert budget.censored_b.eq(16).all()
    assert s.claims["budget_doubling_keeps_verdicts"].verdict == "holds"
    assert "with the doubled cells at 2 B = 4000 steps: holds" in s.claims[
        "gated_beat_rnn"].evidence
    # Synthetic: the replicate of the tanh RNN solves at once (its first B steps differ
    # from the reported run's, which the budget table flags), so the verdict moves.
    early = dict(same)
    early[("adding", 50, "rnn")] = [100] * 16
    s = lr.summarize(with_doubled(spec, early))
    table = s.tables["budget_verdicts"].set_index("claim")
    assert table.loc["gated_beat_rnn", "verdict_b"] == "holds"
    assert table.loc["gated_beat_rnn", "verdict_2b"] == "fails"
    assert s.claims["budget_doubling_keeps_verdicts"].verdict == "fails"
    cells = s.tables["budget"].set_index("model")
    assert cells.solved_2b["rnn"] == 16 and not cells.same_first_b["rnn"]
    assert cells.same_first_b["irnn"]


def test_the_protocol_text_says_which_models_went_further_up(lr, monkeypatch):
    monkeypatch.setattr(lr, "TUNED", {**lr.TUNED, "gru": 0.1, "lstm": 0.03})
    tune = tuning_rows({"gru": {0.03: [300] * 4, 0.1: [100] * 4, 0.3: [None] * 4},
                        "lstm": {0.03: [400] * 4, 0.1: [900] * 4}})
    frame = pd.concat([frame_of({("adding", 100, "gru"): FAST}), tune], ignore_index=True)
    s = lr.summarize(frame)
    text = lr.protocol_text(s)
    assert "to 0.3 only for the models whose choice sat at 0.1" in text
    assert "only for the models whose choice sat at 0.1, the grid's top, until the choice " \
           "was inside it: GRU." in text
    suffix = lr.protocol_suffix(tune, frame_of({("adding", 100, "gru"): FAST}), 2000)
    assert "from {0.03, 0.1, 0.3 (0.3 where the choice sat at 0.1)}" in suffix
