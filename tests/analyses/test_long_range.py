"""The long-range learning analysis: its runs, its statistics and every claim's verdict."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gradflow

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analyses"))
import _long_range as L  # noqa: E402

BUDGET = 2000


def frame_of(spec: dict, grads: dict | None = None) -> pd.DataFrame:
    """A frame like run()'s: spec maps (task, T, model) -> solve steps (None: censored)."""
    rows = []
    for (task, T, model), steps in spec.items():
        g = (grads or {}).get((task, T, model), [-5.0] * len(steps))
        for seed, (step, lg) in enumerate(zip(steps, g, strict=True)):
            rows.append({"steps": BUDGET, "seed": seed,
                         "task": task, "length": T, "model": model,
                         "solved": step is not None,
                         "solve_step": BUDGET if step is None else step,
                         "log10_grad_init": lg, "held_out_loss": 0.01, "baseline": 1 / 6,
                         "n_params": 100, "n_skipped": 0})
    return pd.DataFrame(rows)


FAST = [200 + 50 * (i % 4) for i in range(16)]          # solves at 200-350
SLOW = [1000 + 50 * (i % 8) for i in range(16)]         # solves at 1000-1350
NEVER = [None] * 16


@pytest.fixture
def lr(analysis):
    return analysis("long_range")


def verdicts(lr, spec, grads=None):
    return lr.summarize(frame_of(spec, grads)).verdicts()


def test_run_trains_a_chain_with_the_expected_columns(lr):
    rows = lr.run(lr.Config(model="gru_open", task="adding", lengths=(10, 20), steps=3,
                            seeds=2))
    # 3 steps solve nothing: 0/2 is not significantly below one half (Wilson upper 0.66),
    # so the chain goes on to T = 20.
    assert [(r["length"], r["seed"]) for r in rows] == [(10, 0), (10, 1), (20, 0), (20, 1)]
    assert set(rows[0]) == {"task", "length", "model", "seed", "solved", "solve_step",
                            "log10_grad_init", "held_out_loss", "baseline", "n_params",
                            "n_skipped", "log10_grad_last", "mf_rate", "cue_distance",
                            "log10_grad_pred"}
    # The GRU reset-gate control: no prediction yet (the gated mean field's place).
    assert np.isnan(rows[0]["mf_rate"]) and np.isnan(rows[0]["log10_grad_pred"])
    assert all(r["solve_step"] == 3 or r["solved"] for r in rows)
    assert rows[0]["n_params"] == 3 * (32 * 32 + 32 * 2 + 2 * 32)
    assert np.isfinite(rows[0]["log10_grad_init"])
    for task, model, T in (("order", "irnn", 10), ("copy", "lstm_fb3", 3)):
        rows = lr.run(lr.Config(model=model, task=task, lengths=(T,), steps=2, seeds=1))
        assert (rows[0]["task"], rows[0]["model"], rows[0]["length"]) == (task, model, T)


def test_run_stops_a_chain_once_the_rate_is_significantly_below_half(lr, monkeypatch):
    outcome = {10: [True] * 16, 20: [True] * 5 + [False] * 11, 40: [True] * 4 + [False] * 12}
    calls = []

    def fake(task, length, model, seed, steps, lr=None):
        calls.append(length)
        return {"solved": outcome[length][seed], "solve_step": steps}

    monkeypatch.setattr(lr, "train_one", fake)
    rows = lr.run(lr.Config(model="gru", task="adding", lengths=(10, 20, 40, 80), steps=5,
                            seeds=16))
    assert sorted(set(calls)) == [10, 20, 40]             # 4/16 at T = 40: no T = 80
    assert len(rows) == 48
    assert lr.go_on(5, 16) and not lr.go_on(4, 16) and lr.go_on(0, 2)


def test_the_grid_trains_every_model_on_every_task_but_the_reset_gate_control(lr):
    from gradflow.sweep import expand_grid
    rates = {m: 0.01 * (i + 1) for i, m in enumerate(L.MODELS)}
    configs = [lr.Config(**c) for g in lr.chain_grid(lr.FULL, rates) for c in expand_grid(g)]
    chains = [c for c in configs if c.first_seed == 0 and c.steps == lr.STEPS]
    assert {c.seeds for c in chains} == {16}
    short = {"gru_eq", "lstm_io_open"}
    assert {c.lengths for c in chains if c.model not in short} == {(50, 100, 200, 400)}
    assert {c.lengths for c in chains if c.model in short} == {(50, 100)}
    assert all(c.lr == rates[c.model] for c in chains)
    trained = [(c.task, c.model) for c in chains if c.trained]
    assert len(set(trained)) == len(trained)
    adding_only = {"gru_open", "gru_eq", "lstm_io_open"}
    assert set(trained) == ({(t, m) for t in L.TASKS for m in L.MODELS if m not in adding_only}
                            | {("adding", m) for m in adding_only})
    # The reset-gate control outside the adding problem is in the grid but runs nothing.
    assert lr.run(lr.Config(model="gru_open", task="order", lengths=(10,), steps=2,
                            seeds=1)) == []


@pytest.mark.parametrize("field, value", [("task", "parity"), ("model", "vanilla")])
def test_config_refuses_an_unknown_task_or_model(lr, field, value):
    options = {"model": "gru", "task": "adding", "lengths": (10,), "steps": 2, "seeds": 1}
    with pytest.raises(gradflow.UsageError, match=rf"{field} must be one of .*{value}"):
        lr.Config(**{**options, field: value})


def test_reset_gate_held_open_stays_open_through_training():
    task = gradflow.tasks.AddingProblem(8)
    net = gradflow.Network("gru", 2, 4)
    params, freeze = L.held_open(net.init(gradflow.training.seed_streams(0).network), "gru",
                                 ("r",), 4)
    run = gradflow.train(net, task, 10, 4, lr=0.1, seed=0, params=params, freeze=freeze)
    rows = slice(0, 4)                                      # r is the first gate block
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0"):
        assert (run.params[name][rows] == 0).all()
    assert (run.params["bias_ih_l0"][rows] == L.RESET_BIAS).all()
    assert not np.array_equal(run.params["weight_hh_l0"][4:], params["weight_hh_l0"][4:])
    # r = sigma(20) on every input: the cell is the GRU with the reset term r * (W_hn h + b_hn)
    # multiplied by 1 - 2e-9.
    assert 1 - 1 / (1 + np.exp(-L.RESET_BIAS)) < 3e-9


def test_lstm_input_and_output_gates_held_open_stay_open_through_training():
    from gradflow.conventions import LSTM_GATES
    from gradflow.engine.gates import gate_slice
    task = gradflow.tasks.AddingProblem(8)
    net = gradflow.Network("lstm", 2, 4)
    start = net.init(gradflow.training.seed_streams(0).network)
    params, freeze = L.held_open(start, "lstm", ("i", "o"), 4)
    run = gradflow.train(net, task, 10, 4, lr=0.1, seed=0, params=params, freeze=freeze)
    for gate in ("i", "o"):
        rows = gate_slice(LSTM_GATES, gate, 4)
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0"):
            assert (run.params[name][rows] == 0).all()
        assert (run.params["bias_ih_l0"][rows] == L.RESET_BIAS).all()
    for gate in ("f", "g"):                                 # the others train
        rows = gate_slice(LSTM_GATES, gate, 4)
        assert not np.array_equal(run.params["weight_hh_l0"][rows], start["weight_hh_l0"][rows])


def test_parameter_counts_are_exact(lr):
    counts = lr.parameter_counts(sizes=(8, 32), input_size=2)
    for _, r in counts.iterrows():
        H, inp = r.hidden, r.input
        assert r.gru == 3 * (H * H + H * inp + 2 * H)
        assert r.lstm == 4 * (H * H + H * inp + 2 * H)
        assert r.ratio == 0.75


def test_success_criteria():
    add = gradflow.tasks.AddingProblem(10)
    y = np.ones((4, 1))
    assert L.solved("adding", add, y + 0.1, y) and not L.solved("adding", add, y + 0.2, y)
    order = gradflow.tasks.TemporalOrder(10)
    logits = np.eye(4)[[0, 1, 2, 3] * 5]
    labels = np.array([0, 1, 2, 3] * 5)
    assert L.solved("order", order, logits, labels)
    labels[0] = 1                                        # 19/20 = 95% right
    assert L.solved("order", order, logits, labels)
    labels[1] = 0
    assert not L.solved("order", order, logits, labels)
    copy = L.make_task("copy", 3)
    x, y = copy.sample(0, 4)
    eye = np.eye(copy.output_size)
    assert L.solved("copy", copy, eye[y], y)
    assert not L.solved("copy", copy, eye[np.zeros_like(y)], y)


def test_first_cue_positions():
    add = gradflow.tasks.AddingProblem(20)
    x, _ = add.sample(0, 8)
    t1 = L.first_cue("adding", add, x)
    assert (x[t1, np.arange(8), 1] == 1).all() and (t1 < 10).all()
    order = gradflow.tasks.TemporalOrder(30)
    x, _ = order.sample(0, 8)
    t1 = L.first_cue("order", order, x)
    assert (x[t1, np.arange(8), 6:].sum(axis=1) == 1).all() and (t1 < 6).all()


def test_half_length_brackets():
    rates = pd.DataFrame({"length": [50, 100, 200], "solved": [16, 8, 0], "n": [16, 16, 16]})
    h = L.half_length(rates)
    assert h["t50"] == pytest.approx(100.0) and h["t50_low"] == 50 and h["t50_high"] == 200
    h = L.half_length(rates.assign(solved=[16, 16, 16]))
    assert np.isnan(h["t50"]) and h["t50_low"] == 200 and np.isnan(h["t50_high"])


# ---- every claim: a frame where it holds and one where it does not -----------------------

def test_gru_sooner_than_lstm(lr):
    v = verdicts(lr, {("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): SLOW})
    assert v["gru_sooner_than_lstm"] == "holds"
    v = verdicts(lr, {("adding", 100, "gru"): SLOW, ("adding", 100, "lstm"): FAST})
    assert v["gru_sooner_than_lstm"] == "fails"
    v = verdicts(lr, {("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): FAST})
    assert v["gru_sooner_than_lstm"] == "inconclusive"


def test_gru_sooner_than_lstm_fb1_per_cell(lr):
    v = verdicts(lr, {("order", 50, "gru"): FAST, ("order", 50, "lstm_fb1"): NEVER})
    assert v["gru_sooner_than_lstm_fb1_order_t50"] == "holds"
    v = verdicts(lr, {("order", 50, "gru"): NEVER, ("order", 50, "lstm_fb1"): NEVER})
    assert v["gru_sooner_than_lstm_fb1_order_t50"] == "inconclusive"


def test_gated_beat_rnn(lr):
    spec = {("adding", 100, m): FAST for m in L.GATED}
    spec.update({("adding", 100, m): NEVER for m in L.RNNS})
    spec[("adding", 200, "gru")] = FAST                 # no RNN at T = 200: no comparison
    assert verdicts(lr, spec)["gated_beat_rnn"] == "holds"
    assert "12 log-rank comparisons" in lr.summarize(frame_of(spec)).claims[
        "gated_beat_rnn"].evidence
    spec[("adding", 100, "irnn")] = FAST
    assert verdicts(lr, spec)["gated_beat_rnn"] == "inconclusive"
    spec[("adding", 100, "lstm")] = NEVER
    claim = lr.summarize(frame_of(spec)).claims["gated_beat_rnn"]
    assert claim.verdict == "fails"
    # The failing comparison is the first example shown, before the undecided ones.
    assert claim.evidence.split("(e.g. ")[1].startswith("LSTM (default bias) solved 0/16, IRNN")


def test_not_trained_lists_the_lengths_a_chain_did_not_reach(lr):
    spec = {("adding", 50, "rnn"): NEVER, ("adding", 50, "gru"): FAST,
            ("adding", 100, "gru"): FAST}
    table = lr.summarize(frame_of(spec)).tables["not_trained"]
    assert table.to_dict("records") == [
        {"task": "adding", "model": "rnn", "last": 50, "rates": "0/16 solved at T = 50",
         "not_trained": "100 200 400"},
        {"task": "adding", "model": "gru", "last": 100, "rates": "16/16 solved at T = 100",
         "not_trained": "200 400"}]


def test_irnn_vs_orthogonal(lr):
    v = verdicts(lr, {("adding", 50, "irnn"): SLOW, ("adding", 50, "rnn_orth"): NEVER})
    assert v["irnn_sooner_than_orthogonal_adding_t50"] == "holds"
    v = verdicts(lr, {("adding", 50, "irnn"): NEVER, ("adding", 50, "rnn_orth"): NEVER})
    assert v["irnn_sooner_than_orthogonal_adding_t50"] == "inconclusive"


def test_forget_bias(lr):
    spec = {("adding", 100, "lstm"): SLOW, ("adding", 100, "lstm_fb1"): SLOW,
            ("adding", 100, "lstm_fb3"): FAST}
    v = verdicts(lr, spec)
    assert v["lstm_fb3_sooner_than_lstm_adding_t100"] == "holds"
    assert v["lstm_fb1_sooner_than_lstm_adding_t100"] == "inconclusive"
    spec[("adding", 100, "lstm")] = [100] * 16
    assert verdicts(lr, spec)["lstm_fb3_sooner_than_lstm_adding_t100"] == "fails"


def test_reset_gate(lr):
    v = verdicts(lr, {("adding", 100, "gru"): FAST, ("adding", 100, "gru_open"): FAST})
    assert v["reset_gate_no_effect"] == "holds" and v["reset_gate_helps"] == "inconclusive"
    v = verdicts(lr, {("adding", 100, "gru"): FAST, ("adding", 100, "gru_open"): SLOW})
    assert v["reset_gate_no_effect"] == "fails" and v["reset_gate_helps"] == "holds"
    v = verdicts(lr, {("adding", 100, "gru"): FAST, ("adding", 100, "gru_open"): NEVER[:15]
                      + [300]})
    assert v["reset_gate_no_effect"] == "inconclusive"


def test_half_length_gru_longer(lr):
    spec = {("adding", T, "gru"): FAST for T in (50, 100, 200)}
    spec.update({("adding", 50, m): SLOW for m in L.RNNS})
    spec.update({("adding", 100, m): NEVER for m in L.RNNS})
    v = verdicts(lr, spec)
    assert v["half_length_gru_longer"] == "holds"
    numbers = lr.summarize(frame_of(spec)).numbers
    assert (numbers["HalfLengthRnn"].low, numbers["HalfLengthRnn"].high) == (50, 100)
    assert "HalfLengthGru" not in numbers             # never below one half: open interval
    spec.update({("adding", T, "gru"): NEVER for T in (50, 100, 200)})
    assert verdicts(lr, spec)["half_length_gru_longer"] == "fails"
    spec.update({("adding", T, "gru"): FAST[:8] + NEVER[:8] for T in (50, 100, 200)})
    assert verdicts(lr, spec)["half_length_gru_longer"] == "inconclusive"


def test_gradient_at_init_predicts_outcome(lr):
    mixed = FAST[:8] + NEVER[:8]
    spec = {("adding", 100, m): mixed for m in ("gru", "lstm")}
    high_first = {k: [-2.0 - 0.1 * i for i in range(16)] for k in spec}
    v = verdicts(lr, spec, high_first)
    assert v["grad_predicts_pooled"] == "holds" and v["grad_predicts_within_cells"] == "holds"
    low_first = {k: [-4.0 + 0.1 * i for i in range(16)] for k in spec}
    v = verdicts(lr, spec, low_first)
    assert v["grad_predicts_pooled"] == "fails" and v["grad_predicts_within_cells"] == "fails"
    noise = {k: list(np.random.default_rng(1).permutation(16) * 0.1) for k in spec}
    v = verdicts(lr, spec, noise)
    assert v["grad_predicts_within_cells"] == "inconclusive"


def test_zero_gradient_at_init_counts_as_smallest(lr):
    spec = {("adding", 100, "rnn"): NEVER[:8] + FAST[:8]}
    grads = {("adding", 100, "rnn"): [-np.inf] * 8 + [-30.0] * 8}
    v = verdicts(lr, spec, grads)
    assert v["grad_predicts_pooled"] == "holds"


def test_summary_tables(lr):
    s = lr.summarize(frame_of({("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): SLOW,
                               ("adding", 50, "gru"): FAST}))
    cells = s.tables["cells"]
    assert cells[["length", "model"]].values.tolist() == [[50, "gru"], [100, "gru"],
                                                          [100, "lstm"]]
    assert (cells.solved == 16).all() and (cells.n == 16).all()
    assert cells.median_step.iloc[1] == 250.0
    km = s.tables["km"]
    assert km.groupby(["length", "model"]).solved.max().eq(1.0).all()
    assert "MedianStepsGru" in s.numbers


def test_bench_times_gru_against_lstm_and_counts_parameters():
    from gradflow.bench import gru_vs_lstm

    (row,) = gru_vs_lstm(length=5, hidden_sizes=(4,), batch=2, steps=2, repeat=1)
    assert row["gru_params"] == 3 * (16 + 8 + 8) and row["lstm_params"] == 4 * (16 + 8 + 8)
    assert row["gru_ms"] > 0 and row["lstm_ms"] > 0 and row["ratio"] > 0


def test_gru_sooner_than_lstm_at_other_lengths(lr):
    spec = {("adding", 200, "gru"): SLOW, ("adding", 200, "lstm"): NEVER,
            ("adding", 100, "gru"): FAST, ("adding", 100, "lstm"): FAST}
    v = verdicts(lr, spec)
    assert v["gru_sooner_than_lstm_adding_t200"] == "holds"
    assert v["gru_sooner_than_lstm"] == "inconclusive"
    assert "gru_sooner_than_lstm_adding_t100" not in v
    spec[("adding", 200, "gru")] = NEVER
    spec[("adding", 200, "lstm")] = SLOW
    assert verdicts(lr, spec)["gru_sooner_than_lstm_adding_t200"] == "fails"


def test_every_models_number_name_is_letters_only():
    # A citable number's name becomes a LaTeX macro: letters only (lstm_fb1 once broke this).
    names = {m: L._camel(m) for m in L.MODELS}
    assert names["lstm_fb1"] == "LstmBiasOne" and names["gru_open"] == "GruOpen"
    assert all(n.isalpha() for n in names.values())


def test_summarize_cites_half_lengths_of_every_model_with_a_bracket(lr, tmp_path):
    from gradflow.report.output import Section
    spec = {("adding", T, m): FAST for T in (50, 100) for m in L.MODELS}
    spec.update({("adding", 200, m): NEVER for m in L.MODELS})
    summary = lr.summarize(frame_of(spec))
    assert {f"HalfLength{L._camel(m)}" for m in L.MODELS} <= set(summary.numbers)
    Section("long_range", tmp_path).summary(summary)     # the names are valid macros


def test_half_length_is_tabled_per_task_and_cited_where_bracketed(lr):
    spec = {("order", 50, "gru"): FAST, ("order", 100, "gru"): FAST[:8] + NEVER[:8],
            ("order", 200, "gru"): NEVER, ("copy", 50, "gru"): NEVER}
    summary = lr.summarize(frame_of(spec))
    half = summary.tables["half_length"].set_index(["task", "model"])
    assert half.loc[("order", "gru"), "t50_low"] == 50
    assert half.loc[("order", "gru"), "t50_high"] == 200
    assert half.loc[("copy", "gru"), "t50_high"] == 50
    assert "HalfLengthOrderGru" in summary.numbers and "HalfLengthCopyGru" not in summary.numbers
    # The GRU-vs-RNN half-length claim is about the adding problem only.
    assert summary.claims["half_length_gru_longer"].verdict == "inconclusive"


def bare(claim) -> str:
    """A claim's evidence without the protocol suffix the claims table adds."""
    return claim.evidence.split("; protocol: ")[0]


def test_each_group_of_claims_reads_as_its_own_paragraph(lr, tmp_path):
    from gradflow.report.output import Section
    spec = {("adding", 100, "gru"): FAST, ("adding", 100, "gru_open"): SLOW,
            ("adding", 100, "lstm"): SLOW, ("adding", 100, "lstm_fb1"): SLOW}
    summary = lr.summarize(frame_of(spec))
    c = summary.claims
    section = Section("long_range", tmp_path)
    section.summary(summary)
    assert len(section.blocks) == 6          # GRU vs LSTM, gated, reset, half, pooled, within
    assert section.blocks[0] == ("The GRU solves sooner than the LSTM with the default forget "
                                 "bias on the adding problem at T = 100 (log-rank: "
                                 + c["gru_sooner_than_lstm"].evidence.split("; 0 of 32 runs "
                                                                           "censored")[0]
                                 + ").")
    # The claims table's evidence adds the censored runs and the protocol.
    assert "; 0 of 32 runs censored at B = 2000: none" in c["gru_sooner_than_lstm"].evidence
    # The reset gate's two claims share one sentence: the test, then the equivalence.
    assert section.blocks[2] == (
        "With its reset gate learned the GRU solves sooner than with it held open ("
        + bare(c["reset_gate_helps"]) + "); the difference in steps to solve exceeds the "
        "stated margin (" + bare(c["reset_gate_no_effect"]) + ").")
    assert section.blocks[4].endswith("so it says nothing about a given model: the "
                                      "within-cell test below is the one about seeds.)")
    # The per-cell comparisons are in the claims table only.
    assert c["gru_sooner_than_lstm_fb1_adding_t100"].sentence == ""
    assert c["gru_sooner_than_lstm_fb1_adding_t100"].group == ""
