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


def test_the_grid_is_stage_one_of_the_protocol(lr):
    from gradflow.sweep import expand_grid
    configs = [lr.Config(**c) for g in lr.GRID for c in expand_grid(g)]
    stages = lr.FULL.stages
    assert {(c.model, c.lr) for c in configs} == {(m, r) for m in L.MODELS
                                                  for r in stages.rates}
    assert {(c.task, c.lengths, c.steps, c.seeds, c.first_seed) for c in configs} == {
        ("adding", (50,), lr.STEPS, 4, 100)}
    assert not set(lr.TUNING_SEEDS) & set(range(lr.SEEDS))      # tuning seeds never reported


def staged_frame(lr, outcomes) -> tuple[pd.DataFrame, list]:
    """Tuning rows: outcomes(model, lr, seed) -> solve step or None, for every run the
    protocol asks for, stage after stage (the report's loop, on synthetic outcomes), and
    the stage that follows the tuning (the chains)."""
    from gradflow.sweep import expand_grid
    frame, stage = pd.DataFrame(), [c for g in lr.GRID for c in expand_grid(g)]
    while stage:
        rows = []
        for c in stage:
            config = lr.Config(**c)
            if config.first_seed < 100:
                continue                                      # the chains: not run here
            for seed in range(config.first_seed, config.first_seed + config.seeds):
                at = outcomes(config.model, config.lr, seed)
                rows.append({"model": config.model, "task": "adding", "length": 50,
                             "lr": config.lr, "steps": config.steps, "seed": seed,
                             "solved": at is not None,
                             "solve_step": config.steps if at is None else at})
        if not rows:
            return frame, stage
        frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
        stage = [c for g in lr.follow(frame, quick=False) for c in expand_grid(g)]
    return frame, stage


def test_follow_extends_at_the_edge_confirms_and_then_runs_the_chains(lr):
    # The GRU is fastest at the grid's top (0.1) and slower at 0.3: extended once, to 0.3.
    # The LSTM is fastest at 0.03 on the stage-1 seeds, but 0.01 solves every confirmation
    # seed where 0.03 fails two: the confirmation moves its choice to 0.01.
    # The tanh RNN solves nothing anywhere: the rate closest to 0.01, no extension.
    def outcomes(model, rate, seed):
        if model == "gru":
            return {0.003: 900, 0.01: 600, 0.03: 300, 0.1: 100, 0.3: 1500}[rate]
        if model == "lstm":
            if rate == 0.03:
                return 200 if seed < 106 else None
            return {0.003: 1200, 0.01: 400, 0.1: None}[rate]
        return None

    frame, chains = staged_frame(lr, outcomes)
    table = lr.protocol_state(frame, lr.FULL)
    chosen = table[table.chosen].set_index("model").lr
    assert chosen["gru"] == 0.1
    assert set(table[table.model == "gru"].lr) == {0.003, 0.01, 0.03, 0.1, 0.3}
    assert chosen["lstm"] == 0.01
    lstm = table[table.model == "lstm"].set_index("lr")
    assert lstm["first"][0.03] and lstm.finalist[0.03] and lstm.finalist[0.01]
    assert lstm.n_all[0.03] == 8 and lstm.solved_all[0.03] == 6
    assert chosen["rnn"] == 0.01
    assert set(table[table.model == "rnn"].lr) == {0.003, 0.01, 0.03, 0.1}
    # The chains and the doubled cells, at the chosen rates.
    configs = [lr.Config(**c) for c in chains]
    assert {c.lr for c in configs if c.model == "lstm"} == {0.01}
    assert {c.lr for c in configs if c.model == "gru"} == {0.1}
    assert {(c.task, c.lengths[0], c.model) for c in configs if c.steps == 2 * lr.STEPS} \
        == set(lr.DOUBLED)
    # Once the chains have rows, the design is complete.
    done = pd.concat([frame, frame_of({("adding", 50, "gru"): FAST})], ignore_index=True)
    assert lr.follow(done, quick=False) == []


def tuning_rows(rates: dict, first: int = 100) -> pd.DataFrame:
    """rates: model -> {lr: solve steps of the tuning seeds (None: censored)}."""
    rows = []
    for model, by in rates.items():
        for rate, steps in by.items():
            for seed, at in zip(range(first, first + 4), steps, strict=True):
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


def test_protocol_table_says_the_rate_the_chains_ran_at(lr):
    tune = tuning_rows({"gru": {0.01: [500] * 4, 0.03: [300] * 4, 0.1: [200] * 4},
                        "lstm": {0.01: [900] * 4, 0.03: [None] * 4, 0.003: [None] * 4}})
    confirm = tuning_rows({"gru": {0.03: [300] * 4, 0.1: [250] * 4},
                           "lstm": {0.01: [900] * 4, 0.03: [None] * 4}}, first=104)
    frame = pd.concat([frame_of({("adding", 100, "gru"): FAST}).assign(lr=0.1), tune,
                       confirm], ignore_index=True)
    s = lr.summarize(frame)
    table = s.tables["protocol"]
    assert table[table.chosen].set_index("model").lr.to_dict() == {"gru": 0.1, "lstm": 0.01}
    assert table[table.model == "gru"].used.eq(0.1).all()
    assert table[table.model == "lstm"].used.isna().all()     # no LSTM chain in this frame
    assert (s.tables["runs"].seed < 100).all()                 # tuning seeds never reported
    text = lr.protocol_text(s)
    assert "GRU 0.1" in text and "0.01." in text
    assert "The confirmation seeds kept every stage-1 choice." in text
    assert ("The grid was first {0.003, 0.01, 0.03}; on these tuning runs the rule would "
            "put 1 of 2 models at its top, 0.03") in text


def test_every_learning_claim_names_the_protocol(lr):
    tune = tuning_rows({"gru": {0.01: [500] * 4}})
    frame = pd.concat([frame_of({("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): SLOW}),
                       tune], ignore_index=True)
    claims = lr.summarize(frame).claims
    assert claims
    for name, c in claims.items():
        if not name.startswith("mean_field_gradient_"):
            assert "protocol: Adam rate per model (clip 1) from {0.003, 0.01, 0.03, 0.1}" \
                in c.evidence, name
            assert "tuning seeds 100-103" in c.evidence and "budget B = 2000" in c.evidence
            assert "confirmed on seeds 104-107" in c.evidence


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


def test_the_protocol_text_says_which_models_went_further_and_what_moved(lr):
    tune = tuning_rows({"gru": {0.03: [300] * 4, 0.1: [100] * 4, 0.3: [None] * 4},
                        "lstm": {0.03: [400] * 4, 0.1: [900] * 4}})
    confirm = tuning_rows({"gru": {0.1: [100] * 4, 0.03: [300] * 4},
                           "lstm": {0.03: [None] * 4, 0.1: [900] * 4}}, first=104)
    frame = pd.concat([frame_of({("adding", 100, "gru"): FAST}), tune, confirm],
                      ignore_index=True)
    text = lr.protocol_text(lr.summarize(frame))
    assert "Extended: GRU to 0.3." in text
    assert "The confirmation seeds moved the choice for LSTM" in text
    assert "(0.03 to 0.1)" in text
    suffix = lr.protocol_suffix(tune, frame_of({("adding", 100, "gru"): FAST}), 2000)
    assert "from {0.003, 0.01, 0.03, 0.1}, extended by the ladder" in suffix
    assert "confirmed on seeds 104-107" in suffix
    assert lr.go_on(5, 16) and not lr.go_on(4, 16) and lr.go_on(0, 2)


def _runs(spec: dict) -> pd.DataFrame:
    """spec: (model, lr) -> solve steps per seed from 100 (None: never)."""
    return pd.DataFrame([{"model": m, "lr": r, "seed": 100 + i,
                          "solved_at": float("nan") if at is None else at}
                         for (m, r), steps in spec.items() for i, at in enumerate(steps)])


def test_pending_extends_down_at_the_bottom_and_stops_at_the_ladders_end():
    from _protocol import Stages, pending, staged_table
    stages = Stages(rates=(0.003, 0.01), seeds=(100, 101), confirm=(102, 103), prefer=0.01,
                    ladder=(0.001, 0.003, 0.01))
    # fastest at the bottom (0.003): extend down to 0.001
    runs = _runs({("a", 0.003): [100, 100], ("a", 0.01): [500, 500]})
    table = staged_table(runs, 1000, stages, by=("model",))
    assert pending(table, stages, by=("model",)) == [(("a",), 0.001, (100, 101))]
    # still fastest at the bottom, and the ladder ends there: confirm the finalists instead
    runs = _runs({("a", 0.001): [50, 50], ("a", 0.003): [100, 100], ("a", 0.01): [500, 500]})
    table = staged_table(runs, 1000, stages, by=("model",))
    assert sorted(pending(table, stages, by=("model",))) == [
        (("a",), 0.001, (102, 103)), (("a",), 0.003, (102, 103))]
    assert not table.chosen.any()                 # nothing is chosen before the confirmation
    # fastest at the top, with the ladder at its end: no extension either
    runs = _runs({("b", 0.003): [900, 900], ("b", 0.01): [100, 100]})
    table = staged_table(runs, 1000, stages, by=("model",))
    assert sorted(t[1] for t in pending(table, stages, by=("model",))) == [0.003, 0.01]


def test_the_confirmation_decides_on_every_seed_of_the_two_finalists():
    from _protocol import Stages, pending, staged_table
    stages = Stages(rates=(0.003, 0.01, 0.03, 0.1), seeds=(100, 101), confirm=(102, 103),
                    prefer=0.01)
    runs = _runs({("a", 0.003): [None, None], ("a", 0.01): [300, 300, None, None],
                  ("a", 0.03): [400, 400, 400, 400], ("a", 0.1): [None, None]})
    table = staged_table(runs, 1000, stages, by=("model",)).set_index("lr")
    assert pending(table.reset_index(), stages, by=("model",)) == []
    assert table["first"][0.01] and not table.chosen[0.01]       # stage 1 preferred 0.01
    assert table.chosen[0.03] and table.solved_all[0.03] == 4    # all four seeds: 0.03
    assert table.finalist.sum() == 2 and pd.isna(table.n_all[0.003])
    assert pd.isna(table.n_all[0.1])


def test_the_critical_gain_arm_starts_at_g_star_and_the_equal_count_gru_matches_the_lstm():
    from gradflow.diagnostics.theory import critical_gain
    task = L.make_task("adding", 50)
    init = L.init_for("rnn_crit", "adding", 50)
    g_star = critical_gain(L.expected_drive("adding", 50))
    assert init == {"scheme": "orthogonal", "gain": g_star} and g_star > 1.05
    p = gradflow.initial_params(L.network("rnn_crit", 2), task, 3, init)
    g = np.sqrt(L.HIDDEN * np.mean(p["weight_hh_l0"].astype(float) ** 2))
    assert g == pytest.approx(g_star, rel=1e-6)
    # the driven mean field on this seed's own weights and a batch of the task: rate ~ 0
    x, _ = task.sample(np.random.default_rng(4), 256)
    assert abs(L.decay_rate("adding", "rnn_crit", p, x)) < 0.01
    assert L.decay_rate("adding", "rnn_orth", gradflow.initial_params(
        L.network("rnn_orth", 2), task, 3, L.init_for("rnn_orth", "adding", 50)), x) > 0.03
    assert L.init_for("rnn_orth", "adding", 50) == {"scheme": "orthogonal"}
    # The GRU with the LSTM's parameter count: the closest hidden size, within 2%.
    H = L.hidden_of("gru_eq")
    gru, lstm = L.recurrent_params("gru", H), L.recurrent_params("lstm", L.HIDDEN)
    assert abs(gru - lstm) / lstm < 0.02
    assert abs(gru - lstm) <= min(abs(L.recurrent_params("gru", h) - lstm) for h in (H - 1,
                                                                                   H + 1))
    assert L.network("gru_eq", 2).hidden_size == H


def test_the_arms_are_compared_with_their_baselines(lr):
    spec = {("adding", 50, "rnn_crit"): FAST, ("adding", 50, "rnn_orth"): NEVER,
            ("adding", 50, "gru_eq"): SLOW, ("adding", 50, "lstm"): FAST,
            ("adding", 100, "gru_eq"): FAST, ("adding", 100, "lstm"): FAST,
            ("adding", 50, "lstm_io_open"): SLOW, ("adding", 100, "lstm_io_open"): NEVER}
    claims = lr.summarize(frame_of(spec)).claims
    crit = claims["critical_gain_sooner_than_orthogonal"]
    assert crit.verdict == "holds" and "1 log-rank comparisons: 1 holds" in crit.evidence
    eq = claims["gru_eq_sooner_than_lstm"]
    assert eq.verdict == "fails" and "2 log-rank comparisons" in eq.evidence
    assert f"hidden {L.hidden_of('gru_eq')}" in eq.statement
    io = claims["io_gates_help_lstm"]
    assert io.verdict == "holds" and "2 log-rank comparisons: 2 holds" in io.evidence
    assert all(claims[n].group == "arms" for n in ("critical_gain_sooner_than_orthogonal",
                                                   "gru_eq_sooner_than_lstm",
                                                   "io_gates_help_lstm"))


def test_a_confirmed_choice_at_an_edge_extends_the_grid_again():
    from _protocol import Stages, pending, staged_table
    stages = Stages(rates=(0.003, 0.01, 0.03), seeds=(100, 101), confirm=(102, 103),
                    prefer=0.01)
    # stage 1 prefers 0.01, the confirmation 0.03 (the top of the rates tried): try 0.1
    runs = _runs({("a", 0.003): [None, None], ("a", 0.01): [300, 300, None, None],
                  ("a", 0.03): [400, 400, 400, 400]})
    assert pending(staged_table(runs, 1000, stages, by=("model",)), stages,
                   by=("model",)) == [(("a",), 0.1, (100, 101))]


def test_stages_refuse_seeds_a_config_cannot_name():
    from _protocol import Stages
    with pytest.raises(ValueError, match="consecutive"):
        Stages(rates=(0.01,), seeds=(100, 102), confirm=(103,), prefer=0.01)
    with pytest.raises(ValueError, match="must not share"):
        Stages(rates=(0.01,), seeds=(100, 101), confirm=(101, 102), prefer=0.01)


def test_a_chain_the_design_gives_fewer_lengths_is_not_listed_as_stopped(lr):
    spec = {("adding", 50, "gru_eq"): FAST, ("adding", 100, "gru_eq"): FAST,
            ("adding", 50, "rnn"): NEVER}
    frame = frame_of(spec)
    frame["lengths"] = [[50, 100] if m == "gru_eq" else [50, 100, 200, 400]
                        for m in frame.model]
    table = lr.summarize(frame).tables["not_trained"]
    assert table.model.tolist() == ["rnn"] and table.not_trained.tolist() == ["100 200 400"]
