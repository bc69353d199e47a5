"""analyses/clipping.py: summarize's claims on synthetic frames, the fixed rules, run()."""

import numpy as np
import pandas as pd
import pytest

from gradflow.optim import clip_by_global_norm, global_norm

CELL = (2.0, 30)


def _learn_rows(clip, *, plain_loss, clip_loss, plain_diverges=(), clip_diverges=(),
                seeds=None, optimizer="sgd", thresholds=(0.0, 1.0)):
    """Learning rows at one (gain, T): ``plain_loss`` / ``clip_loss`` map lr -> the final
    loss / baseline of every seed (x a small spread); lrs in ``*_diverges`` diverge."""
    rng = np.random.default_rng(0)
    seeds = seeds if seeds is not None else list(clip.REPORTED_SEEDS) + list(clip.TUNING_SEEDS)
    rows = []
    for seed in seeds:
        for lr in clip.LRS[optimizer]:
            for c in thresholds:
                diverged = lr in (plain_diverges if c == 0 else clip_diverges)
                rel = np.inf if diverged else \
                    (plain_loss if c == 0 else clip_loss)[lr] * np.exp(0.02 * rng.standard_normal())
                rows.append({"part": "learn", "gain": CELL[0], "length": CELL[1], "seed": seed,
                             "optimizer": optimizer, "lr": lr, "threshold": c,
                             "arm": clip.arm_label(optimizer, c), "rel_loss": rel,
                             "log_loss": float(clip.helper.log_loss(np.array([rel]))[0]),
                             "outcome": clip.helper.outcome(rel, diverged, clip.LEARNED_BELOW,
                                                            clip.USABLE_UP_TO),
                             "steps_run": 25 if diverged else clip.STEPS, "n_skipped": 0,
                             "clipped_fraction": 0.5 if c else 0.0, "init_grad_norm": 100.0,
                             "median_grad_norm": 1.0})
    return rows


def _summary(clip, rows):
    return clip.summarize(pd.DataFrame(rows))


def _sgd(clip, **kw):
    lrs = clip.LRS["sgd"]
    base = {lr: 1.0 for lr in lrs}
    return {**base, **kw.get("over", {})}


def test_clip_lower_at_each_best_lr(analysis):
    clip = analysis("clipping")
    lrs = clip.LRS["sgd"]
    rows = _learn_rows(clip, plain_loss={lr: 1.0 for lr in lrs},
                       clip_loss={**{lr: 1.0 for lr in lrs}, lrs[2]: 0.5},
                       plain_diverges=lrs[2:])
    s = _summary(clip, rows)
    name = "clip_vs_plain_sgd_g2_t30"
    assert s.verdicts()[name] == "holds"
    best = s.tables["best"].iloc[0]
    assert best.plain_lr == lrs[0] and best.clip_lr == lrs[2] and best.clip_threshold == 1.0
    assert s.verdicts()["usable_only_clipped_sgd_g2_t30"] == "holds"
    assert "lr 0.1" in s.claims["usable_only_clipped_sgd_g2_t30"].evidence


def test_plain_lower_fails_and_nothing_only_clipped(analysis):
    clip = analysis("clipping")
    lrs = clip.LRS["sgd"]
    rows = _learn_rows(clip, plain_loss={**{lr: 1.0 for lr in lrs}, lrs[1]: 0.5},
                       clip_loss={lr: 1.0 for lr in lrs})
    s = _summary(clip, rows)
    assert s.verdicts()["clip_vs_plain_sgd_g2_t30"] == "fails"
    assert s.verdicts()["usable_only_clipped_sgd_g2_t30"] == "fails"   # all usable unclipped


def test_diverging_everywhere_is_not_usable_only_with_clipping(analysis):
    clip = analysis("clipping")
    lrs = clip.LRS["sgd"]
    rows = _learn_rows(clip, plain_loss={lr: 1.0 for lr in lrs},
                       clip_loss={lr: 1.0 for lr in lrs}, plain_diverges=lrs[2:],
                       clip_diverges=lrs[2:])
    s = _summary(clip, rows)
    assert s.verdicts()["usable_only_clipped_sgd_g2_t30"] == "fails"
    arms = s.tables["arms"]
    assert set(arms.diverged[arms.lr.isin(lrs[2:])]) == {len(clip.REPORTED_SEEDS)}
    assert (arms.diverged_ci_low >= 0).all() and (arms.diverged_ci_high <= 1).all()
    assert (arms.clipped_ci_low >= 0).all() and (arms.clipped_ci_high <= 1).all()


def test_best_lr_is_chosen_on_tuning_seeds_only(analysis):
    clip = analysis("clipping")
    lrs = clip.LRS["sgd"]
    tuning = _learn_rows(clip, plain_loss={**{lr: 1.0 for lr in lrs}, lrs[3]: 0.5},
                         clip_loss={lr: 1.0 for lr in lrs}, seeds=list(clip.TUNING_SEEDS))
    reported = _learn_rows(clip, plain_loss={**{lr: 1.0 for lr in lrs}, lrs[1]: 0.3},
                           clip_loss={lr: 1.0 for lr in lrs}, seeds=list(clip.REPORTED_SEEDS))
    s = _summary(clip, tuning + reported)
    assert s.tables["best"].iloc[0].plain_lr == lrs[3]


def test_best_lr_rule_ties_to_the_smaller_rate(analysis):
    clip = analysis("clipping")
    t = pd.DataFrame({"lr": [0.1, 0.1, 0.01, 0.01, 0.3], "log_loss": [0.0, 0.0, 0.0, 0.0, 1.0]})
    assert clip.helper.best_lr(t) == 0.01


def test_outcomes_and_log_cap(analysis):
    clip = analysis("clipping")
    h = clip.helper
    assert h.outcome(0.5, False, 0.9, 1.5) == "learned"
    assert h.outcome(1.0, False, 0.9, 1.5) == "nothing learned"
    assert h.outcome(3.0, False, 0.9, 1.5) == "worse"
    assert h.outcome(1.0, True, 0.9, 1.5) == "diverged"
    assert h.outcome(np.inf, False, 0.9, 1.5) == "diverged"
    np.testing.assert_array_equal(h.log_loss(np.array([1.0, np.inf, np.nan, 1e40])),
                                  [0.0, h.LOG_CAP, h.LOG_CAP, h.LOG_CAP])


def test_no_claim_holds_by_construction(analysis):
    """Clipped fractions and budgets are columns, not claims (issue 27)."""
    clip = analysis("clipping")
    lrs = clip.LRS["sgd"]
    s = _summary(clip, _learn_rows(clip, plain_loss={lr: 1.0 for lr in lrs},
                                   clip_loss={lr: 1.0 for lr in lrs}))
    assert not [n for n in s.claims if n.startswith(("normalised", "sgd_diverges"))]
    assert {"clipped_fraction", "budget_steps"} <= set(s.tables["arms"].columns)


def test_normalised_sgd_step_has_the_threshold_length():
    """Algorithm 1's identity (was a claim): a clipped gradient's norm is the threshold,
    so a clipped SGD step has length lr x threshold whatever the gradient."""
    rng = np.random.default_rng(0)
    g = {"a": rng.standard_normal((4, 4)) * 1e6, "b": rng.standard_normal(3)}
    clipped = clip_by_global_norm(g, 2.0)
    clipped = clipped[0] if isinstance(clipped, tuple) else clipped
    assert global_norm(clipped) == pytest.approx(2.0)


def test_growth_claim(analysis):
    clip = analysis("clipping")
    from gradflow.diagnostics import driven_mean_field
    s2 = 0.03
    rows = []
    for T in (30, 100):
        pred = -driven_mean_field(2.0, s2).rate * (T - 1) / np.log(10)
        for seed in range(16):
            rows.append({"part": "growth", "gain": 2.0, "length": T, "seed": seed,
                         "log10_growth": pred + 0.05 * np.sin(seed), "input_variance": s2})
        rows.append({"part": "growth", "gain": 3.0, "length": T, "seed": 0,
                     "log10_growth": 0.0, "input_variance": s2})
    rows += [{"part": "growth", "gain": 3.0, "length": T, "seed": k,
              "log10_growth": 0.01 * k, "input_variance": s2} for T in (30, 100)
             for k in range(1, 16)]
    s = clip.summarize(pd.DataFrame(rows))
    v = s.verdicts()
    assert v["growth_matches_mf_g2_t30"] == v["growth_matches_mf_g2_t100"] == "holds"
    assert v["growth_matches_mf_g3_t30"] == v["growth_matches_mf_g3_t100"] == "fails"


def test_cliff_claim(analysis):
    clip = analysis("clipping")
    rows = []
    for seed in range(12):
        safe = seed < 11
        rows.append({"part": "cliff", "gain": 2.0, "length": 30, "seed": seed, "kind": "onset",
                     "onset_step": 3, "loss_before": 1.0, "rel_before": 6.0,
                     "before_over_init": 0.5, "grad_norm": 50.0, "s_clip": 0.02,
                     "loss_unclipped": 5.0, "loss_clipped": 0.9 if safe else 3.0})
    rows.append({"part": "cliff", "gain": 2.0, "length": 100, "seed": 0, "kind": "onset",
                 "onset_step": -1})
    s = clip.summarize(pd.DataFrame(rows))
    assert s.verdicts()["clipped_step_off_cliff_g2"] == "holds"
    t = s.tables["cliff"].iloc[0]
    assert (t.runs, t.onsets, t.clipped_safe) == (13, 12, 11)


def test_grid_configs_are_typed(analysis):
    clip = analysis("clipping")
    for grid in (clip.GRID, clip.QUICK_GRID):
        for cell in grid["cell"]:
            c = clip.Config(cell, 0).cell
            assert isinstance(c, clip.Cell)
    learn = [c for c in clip.GRID["cell"] if c["part"] == "learn"]
    assert len(learn) == (len(clip.GAINS) * len(clip.LENGTHS) * len(clip.THRESHOLDS)
                          * sum(len(v) for v in clip.LRS.values()))
    assert not set(clip.TUNING_SEEDS) & set(clip.REPORTED_SEEDS)
    assert len(clip.REPORTED_SEEDS) >= 16


def test_cell_refuses_bad_values(analysis):
    clip = analysis("clipping")
    with pytest.raises(ValueError):
        clip.Cell("nope", 2.0, 30)
    with pytest.raises(ValueError):
        clip.Cell("learn", 2.0, 30, "sgd", 0.0)
    with pytest.raises(ValueError):
        clip.Cell("learn", 2.0, 30, "rmsprop", 0.1)


def test_run_tiny(analysis, monkeypatch):
    clip = analysis("clipping")
    monkeypatch.setattr(clip, "STEPS", 6)
    monkeypatch.setattr(clip, "CHECK_EVERY", 3)
    monkeypatch.setattr(clip, "HIDDEN", 8)
    monkeypatch.setattr(clip, "CLIFF_STEPS", 5)
    rows = clip.run(clip.Config(clip.Cell("learn", 2.0, 10, "sgd", 0.3, 1.0), 0))
    assert len(rows) == 1 and rows[0]["outcome"] in clip.OUTCOMES
    assert rows[0]["clipped_fraction"] > 0
    again = clip.run(clip.Config(clip.Cell("learn", 2.0, 10, "sgd", 0.3, 1.0), 0))
    assert again == rows
    (g,) = clip.run(clip.Config(clip.Cell("growth", 2.0, 10), 0))
    assert np.isfinite(g["log10_growth"]) and g["input_variance"] > 0
    assert clip.run(clip.Config(clip.Cell("growth", 2.0, 10), clip.GROWTH_SEEDS)) == []
    cliff = clip.run(clip.Config(clip.Cell("cliff", 3.0, 10, "sgd", clip.CLIFF_LR), 0))
    assert cliff[0]["kind"] == "onset"
    frame = pd.DataFrame(rows + [g] + cliff)
    clip.summarize(frame)


def test_cliff_profile_lands_where_the_step_does(analysis):
    """s = 1 of the profile is the recurrent part of the SGD step the onset found."""
    clip = analysis("clipping")
    from gradflow.tasks import AddingProblem
    task = AddingProblem(10)
    net = clip._net(task)
    params0 = clip.helper.initial_params(net, task, 0, 3.0)
    found = clip.helper.cliff_onset(net, task, params0, 0, 1.0, 8, 20, 1.0)
    assert found is not None
    step, params, xy, grads, loss, first = found
    prof = clip.helper.cliff_profile(net, task, params, xy, grads, 1.0, np.array([0.0, 1.0]))
    assert prof[0] == pytest.approx(loss, rel=1e-5)
    assert not prof[1] <= loss            # the onset: the step raises the loss
