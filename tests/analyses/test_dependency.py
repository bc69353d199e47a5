"""analyses/dependency.py: the task without its dependency, the identity of the reach at
initialisation, the claims of summarize() on synthetic frames, and its quick report."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import gradflow
from gradflow.report import build_report
from gradflow.tasks._base import Task

ANALYSES = Path(__file__).resolve().parents[2] / "analyses"


@pytest.fixture
def dep(analysis):
    return analysis("dependency")


def true_sums(x: np.ndarray) -> np.ndarray:
    """(B,) the sum of the two marked values of each sequence of ``x`` (T, B, 2)."""
    return (x[:, :, 0] * (x[:, :, 1] == 1.0)).sum(axis=0)


def test_the_task_without_dependency_keeps_the_inputs_and_breaks_the_link(dep):
    task = gradflow.tasks.AddingProblem(50)
    free = dep.NoDependency(task)
    assert isinstance(free, Task)
    assert (free.input_size, free.output_size, free.head, free.loss, free.seq_len) == \
        (2, 1, "final", "mse", 50)
    assert free.baseline() == task.baseline()
    x_dep, y_dep = task.sample(np.random.default_rng(3), 20000)
    x, y = free.sample(np.random.default_rng(3), 20000)
    np.testing.assert_array_equal(x, x_dep)                  # the same inputs
    np.testing.assert_allclose(y_dep[:, 0], true_sums(x))    # (the helper reads the task)
    r = np.corrcoef(y[:, 0], true_sums(x))[0, 1]
    assert abs(r) < 0.03                                     # 4 standard errors of r = 0
    assert np.corrcoef(y_dep[:, 0], true_sums(x))[0, 1] > 0.99
    # The same marginal: the sum of two U[0, 1] (mean 1, variance 1/6), by a KS test.
    assert stats.ks_2samp(y[:, 0], y_dep[:, 0]).pvalue > 0.01
    assert y.mean() == pytest.approx(1.0, abs=0.01) and y.var() == pytest.approx(1 / 6, abs=0.01)


def test_the_task_without_dependency_is_reproducible_from_its_seed(dep):
    free = dep.NoDependency(gradflow.tasks.AddingProblem(20))
    a, b = free.sample(np.random.default_rng(7), 16), free.sample(np.random.default_rng(7), 16)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    x, y = free.sample(7, 16)                                # an int seed: one generator
    np.testing.assert_array_equal(x, a[0])
    assert not np.allclose(y[:, 0], true_sums(x))


def test_train_accepts_the_task_without_dependency(dep):
    task = dep.make_task("none", 12)
    hist = gradflow.train(dep.network("lstm"), task, 5, 4, optimizer="adam", lr=0.01,
                          clip=1.0, seed=0, progress=False)
    assert len(hist.frame) > 0 and np.isfinite(hist.frame.loss).all()
    with pytest.raises(gradflow.UsageError, match="condition"):
        dep.make_task("weak", 12)


@pytest.mark.parametrize("model", ["lstm", "rnn_orth"])
def test_the_reach_is_the_same_sequence_by_sequence_whatever_the_target(dep, model):
    """An identity: the loss reads one output, so dL/dx_t = residual * v_t(params, x) per
    sequence and the ratio ||dL/dx_t1|| / ||dL/dx_T|| does not depend on the target."""
    net = dep.network(model)
    task = gradflow.tasks.AddingProblem(30)
    for seed in (0, 1):
        params = gradflow.initial_params(net, task, seed, dep.MODELS[model][1])
        x, y = task.sample(np.random.default_rng([seed, 1]), 32)
        _, other = dep.NoDependency(task).sample(np.random.default_rng([seed, 2]), 32)
        a = dep.measure(net, params, task, x, y)
        b = dep.measure(net, params, dep.NoDependency(task), x, other)
        assert a["reach"].shape == (32,) and np.isfinite(a["reach"]).all()
        for key in ("reach", "first", "last"):       # the output's sensitivities too
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-9)
        np.testing.assert_allclose(a["reach"], a["first"] - a["last"], atol=1e-12)
        np.testing.assert_array_equal(dep.reach(net, params, task, x, y), a["reach"])
        assert not np.allclose(y, other)


def test_the_sensitivity_is_the_output_s_gradient_by_finite_differences(dep):
    """``first``: log10 ||d yhat / dx_t1|| of each sequence, checked by central differences
    on the float64 network."""
    net = dep.network("lstm")
    task = gradflow.tasks.AddingProblem(12)
    params = {k: np.asarray(v, np.float64) for k, v in
              gradflow.initial_params(net, task, 2).items()}
    x, y = task.sample(np.random.default_rng(5), 3)
    got = dep.measure(net, params, task, x, y)["first"]
    net64 = dataclasses.replace(net, dtype="float64")
    t1 = np.argmax(x[:, :, 1] == 1.0, axis=0)
    for b in range(3):
        grad = np.zeros(2)
        for i in range(2):
            xp, xm = x.copy(), x.copy()
            xp[t1[b], b, i] += 1e-6
            xm[t1[b], b, i] -= 1e-6
            diff = gradflow.predict(net64, params, task, xp) - gradflow.predict(net64, params,
                                                                                 task, xm)
            grad[i] = diff[b, 0] / 2e-6
        assert got[b] == pytest.approx(np.log10(np.linalg.norm(grad)), abs=1e-5)


def test_a_seed_s_two_conditions_start_with_the_same_reach(dep):
    rows = [dep.run(dep.Config("rnn_orth", c, 4, 12, 3))[0] for c in dep.CONDITIONS]
    assert rows[0]["reach_init"] == pytest.approx(rows[1]["reach_init"], abs=1e-9)
    assert {"reach_init", "reach_trained", "mse_init", "mse_trained", "solved_trained",
            "clipped", "lr", "baseline"} <= set(rows[0])


def world(dep, reach: dict, *, seeds: int = 8, noise: float = 0.2, seed: int = 0,
          steps: int = 1000) -> pd.DataFrame:
    """Synthetic run() output: trained reach ``reach[(model, condition)]`` plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for (model, condition), value in reach.items():
        for s in range(seeds):
            rows.append({"model": model, "condition": condition, "seed": s, "length": 50,
                         "steps": steps, "lr": dep.MODELS[model][2], "baseline": 1 / 6,
                         "clipped": 0.1, "n_skipped": 0, "reach_init": -1.0 - s / 10,
                         "mse_init": 0.2, "solved_init": False,
                         "first_init": -3.0, "last_init": -2.0,
                         "first_trained": value - 1.0, "last_trained": -1.0,
                         "reach_trained": value + noise * rng.standard_normal(),
                         "mse_trained": 0.01 if model == "lstm" else 0.17,
                         "solved_trained": model == "lstm" and condition == "dependency"})
    return pd.DataFrame(rows)


def test_claims_hold_and_fail_as_the_synthetic_world_says(dep):
    frame = world(dep, {("lstm", "dependency"): -1.0, ("lstm", "none"): -3.0,
                        ("rnn_orth", "dependency"): -5.0, ("rnn_orth", "none"): -2.0})
    s = dep.summarize(frame)
    assert s.verdicts() == {"lstm_reach_longer_with_dependency": "holds",
                            "rnn_orth_reach_longer_with_dependency": "fails",
                            "lstm_reach_exceeds_rnn_with_dependency": "holds"}
    for claim in s.claims.values():
        assert "protocol: Adam" in claim.evidence and "1000 updates" in claim.evidence
        assert claim.sentence and claim.group in {"data", "parameters"}
    cells = s.tables["cells"].set_index(["model", "condition"])
    assert cells.loc[("lstm", "dependency"), "solved"] == 8
    assert cells.loc[("rnn_orth", "none"), "solved"] == 0
    assert cells.loc[("lstm", "none"), "reach_trained"] == pytest.approx(-3.0, abs=0.3)
    lo, hi = cells.loc[("lstm", "none"), ["reach_trained_ci_low", "reach_trained_ci_high"]]
    assert lo < cells.loc[("lstm", "none"), "reach_trained"] < hi


def test_each_claim_states_its_verdict_at_twice_the_budget(dep):
    at_b = {("lstm", "dependency"): -1.0, ("lstm", "none"): -3.0,
            ("rnn_orth", "dependency"): -5.0, ("rnn_orth", "none"): -2.0}
    at_2b = at_b | {("lstm", "none"): -1.0}           # the LSTM's gap closes at 2 B
    frame = pd.concat([world(dep, at_b), world(dep, at_2b, steps=2000, seed=1)],
                      ignore_index=True)
    s = dep.summarize(frame)
    assert s.verdicts()["lstm_reach_longer_with_dependency"] == "holds"   # decided at B
    budget = s.tables["budget"].set_index("claim")
    assert budget.loc["lstm_reach_longer_with_dependency", "verdict_2b"] == "inconclusive"
    assert not budget.loc["lstm_reach_longer_with_dependency", "same"]
    assert budget.loc["rnn_orth_reach_longer_with_dependency", "same"]
    for claim in s.claims.values():
        assert "2 B = 2000 updates" in claim.evidence and "1000 updates" in claim.evidence
    assert set(s.tables["cells"].steps) == {1000, 2000}
    assert set(s.tables["runs"].seed) == set(range(8)) and len(s.tables["runs"]) == 32


def test_claims_are_inconclusive_when_the_conditions_do_not_differ(dep):
    frame = world(dep, {key: -2.0 for key in [("lstm", "dependency"), ("lstm", "none"),
                                              ("rnn_orth", "dependency"),
                                              ("rnn_orth", "none")]}, seed=3)
    assert set(dep.summarize(frame).verdicts().values()) == {"inconclusive"}


def test_the_median_interval_takes_the_order_statistics(dep):
    v = np.arange(16.0)[::-1]
    m, lo, hi = dep.median_interval(v)     # n = 16: x_(4) and x_(13), coverage 97.9%
    assert (m, lo, hi) == (7.5, 3.0, 12.0)
    assert np.isnan(dep.median_interval([1.0, 2.0, 3.0])[1])


def test_the_quick_report_runs(tmp_path):
    folder = tmp_path / "analyses"
    folder.mkdir()
    for name in ("dependency.py", "_gradients.py", "_long_range.py"):
        (folder / name).write_bytes((ANALYSES / name).read_bytes())
    written = build_report(tmp_path / "out", analyses=folder, quick=True, cache=None,
                           stream=None, jobs=1)
    assert any(p.name == "dependency-reach-column.png" for p in written)
    assert any(p.name == "dependency-budget.csv" for p in written)
    claims = pd.read_csv(tmp_path / "out" / "tables" / "claims.csv")
    mine = claims[claims.analysis == "dependency"]
    assert len(mine) == 3 and set(mine.verdict) <= {"holds", "fails", "inconclusive"}
    assert mine.evidence.str.contains("protocol: Adam").all()
