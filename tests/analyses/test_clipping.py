"""analyses/clipping.py: summarize's claims on synthetic frames, and run() on a tiny config."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ARMS = [(0.05, 0.0), (0.2, 0.0), (0.2, 0.5), (0.2, 10.0)]   # (lr, threshold multiple)
BUDGET = 3000


def _times(rng, solve_at, share, seeds):
    """Per seed: solved (a ``share`` of the seeds) around ``solve_at``, else censored."""
    solved = np.arange(seeds) < round(share * seeds)
    steps = np.where(solved, np.minimum(BUDGET - 50, 50 * np.round(
        solve_at * np.exp(0.1 * rng.standard_normal(seeds)) / 50)), BUDGET)
    return solved, steps.astype(int)


def _frame(clip, *, clip_solve=(800, 1.0), sgd_solve=(2500, 0.3), best_sgd_solve=None,
           diverge=True, fraction_small=0.99, fraction_large=0.9, overflow_factor=1.0,
           stable_misses=0, profile_slope=-0.3, cliff_jump=100.0, seeds=16,
           clip_loss=0.5, sgd_loss=0.5, length=10, arm_loss=None):
    """Unclipped "sgd 0.05" solves as ``sgd_solve`` (or ``best_sgd_solve``), "sgd 0.2"
    diverges; both clipped arms solve as ``clip_solve`` (at, share of seeds). Runs that
    do not solve end at a final loss / baseline around ``clip_loss`` or ``sgd_loss``."""
    rng = np.random.default_rng(0)
    best_sgd_solve = best_sgd_solve or sgd_solve
    outcomes = {"sgd 0.05": _times(rng, *best_sgd_solve, seeds),
                "sgd 0.2": _times(rng, 1, 0.0, seeds) if diverge else
                _times(rng, *sgd_solve, seeds),
                "clip 0.5x lr 0.2": _times(rng, *clip_solve, seeds),
                "clip 10x lr 0.2": _times(rng, *clip_solve, seeds)}
    rows = []
    for seed in range(seeds):
        for lr, multiple in ARMS:
            arm = clip.arm_label(lr, multiple)
            clipped = multiple > 0
            div = diverge and arm == "sgd 0.2"
            solved, step = outcomes[arm][0][seed], outcomes[arm][1][seed]
            fraction = (fraction_small if multiple == 0.5 else fraction_large) \
                if clipped else 0.0
            end = (arm_loss or {}).get(arm, clip_loss if clipped else sgd_loss) \
                * np.exp(0.1 * rng.standard_normal())
            row = {"kind": "summary", "part": "learn", "gain": 1.5, "length": length,
                   "arm": arm, "seed": seed, "lr": lr, "multiple": multiple, "clip": clipped,
                   "threshold": multiple * 10.0, "init_norm": 10.0, "baseline": 1 / 6,
                   "budget": BUDGET, "solved": bool(solved), "solve_step": int(step),
                   "steps_run": 250 if div else int(step), "gave_up": div,
                   "final_rel_loss": np.inf if div else 0.09 if solved else end,
                   "n_skipped": 50 if div else 0, "n_clipped": int(fraction * step),
                   "clipped_fraction": fraction, "first_nonfinite": 200 if div else -1,
                   "first_explode": 0}
            if div:
                miss = seed < stable_misses
                row.update({"overflow_start": 50.0, "overflow_loss0": 1e10,
                            "overflow_curvature": 66.0,
                            "overflow_predicted": np.inf if miss else 250.0,
                            "overflow_measured": 50 + 200 * overflow_factor
                            * np.exp(0.01 * rng.standard_normal())})
            rows.append(row)
        if seed < 4:
            key = {"part": "anatomy", "gain": 3.0, "length": 30, "arm": "sgd 0.1",
                   "seed": seed}
            for t in range(10):
                rows.append({**key, "kind": "profile", "t": t,
                             "adjoint_norm": 10 ** (profile_slope * t
                                                    + 0.05 * rng.standard_normal())})
            for s in (-0.5, 0.0, 0.5, 1.0, 1.5):
                jump = cliff_jump * np.exp(0.1 * rng.standard_normal())
                rows.append({**key, "kind": "cliff", "s": s,
                             "cliff_loss": 1.0 if s <= 0 else jump})
    return pd.DataFrame(rows)


def _verdicts(clip, **kw):
    return clip.summarize(_frame(clip, **kw)).verdicts()


def test_clip_beats_sgd(analysis):
    clip = analysis("clipping")
    assert _verdicts(clip)["clip_beats_sgd_g1p5_t10"] == "holds"
    v = _verdicts(clip, clip_solve=(2500, 0.2), sgd_solve=(600, 1.0))
    assert v["clip_beats_sgd_g1p5_t10"] == "fails"
    v = _verdicts(clip, clip_solve=(1500, 0.5), sgd_solve=(1500, 0.5))
    assert v["clip_beats_sgd_g1p5_t10"] == "inconclusive"


def test_clip_must_beat_every_unclipped_rate(analysis):
    """Beating a diverging learning rate is not enough: the best one decides."""
    clip = analysis("clipping")
    v = _verdicts(clip, clip_solve=(800, 1.0), best_sgd_solve=(800, 1.0))
    assert v["clip_beats_sgd_g1p5_t10"] == "inconclusive"
    best = clip.summarize(_frame(clip, best_sgd_solve=(800, 1.0))).tables["best"]
    assert best.plain.tolist() == ["sgd 0.05"]


def test_clip_rescues_a_diverging_rate(analysis):
    """At lr 0.2, unclipped diverges; clipped solves (holds) or not (inconclusive)."""
    clip = analysis("clipping")
    assert _verdicts(clip)["clip_rescues_g1p5_t10_lr0p2"] == "holds"
    v = _verdicts(clip, clip_solve=(1, 0.0), diverge=False, sgd_solve=(600, 1.0))
    assert v["clip_rescues_g1p5_t10_lr0p2"] == "fails"


def test_no_run_solved_is_inconclusive(analysis):
    clip = analysis("clipping")
    v = _verdicts(clip, clip_solve=(1, 0.0), sgd_solve=(1, 0.0))
    assert v["clip_beats_sgd_g1p5_t10"] == "inconclusive"


def test_clip_lower_loss(analysis):
    """The secondary outcome decides where no run solves: final loss / baseline."""
    clip = analysis("clipping")
    none = {"clip_solve": (1, 0.0), "sgd_solve": (1, 0.0), "length": 30}
    v = _verdicts(clip, clip_loss=0.5, sgd_loss=1.2, **none)
    assert v["clip_lower_loss_g1p5_t30"] == "holds"
    assert v["clip_beats_sgd_g1p5_t30"] == "inconclusive"      # no run solved
    c = clip.summarize(_frame(clip, clip_loss=0.5, sgd_loss=1.2, **none)).claims[
        "clip_beats_sgd_g1p5_t30"]
    assert c.evidence.startswith("no arm solved: 0/16 in every arm")
    v = _verdicts(clip, clip_loss=1.5, sgd_loss=0.5, **none)
    assert v["clip_lower_loss_g1p5_t30"] == "fails"
    v = _verdicts(clip, clip_loss=1.0, sgd_loss=1.0, **none)
    assert v["clip_lower_loss_g1p5_t30"] == "inconclusive"
    best = clip.summarize(_frame(clip, clip_loss=0.5, sgd_loss=1.2, **none)
                          ).tables["best_loss"]
    assert best.plain.tolist() == ["sgd 0.05"] and best.clipped_below.tolist() == [16]


def test_closest_arm_is_not_one_that_loses(analysis):
    """Inconclusive: the clipped arm shown is the one closest to winning, not one whose
    comparison is significant the wrong way (small p, but it loses)."""
    clip = analysis("clipping")
    s = clip.summarize(_frame(clip, clip_solve=(1, 0.0), sgd_solve=(1, 0.0), sgd_loss=1.0,
                              arm_loss={"clip 0.5x lr 0.2": 3.0, "clip 10x lr 0.2": 1.0}))
    assert s.verdicts()["clip_lower_loss_g1p5_t10"] == "inconclusive"
    assert s.tables["best_loss"].clipped.tolist() == ["clip 10x lr 0.2"]


def test_clip_lower_loss_overflow_ranks_worst(analysis):
    """An overflowed run (inf) counts as the worst loss, not as a dropped value: a
    clipped arm that ends lower than the one non-diverging rate beats every rate."""
    clip = analysis("clipping")
    v = _verdicts(clip, clip_solve=(1, 0.0), sgd_solve=(1, 0.0), clip_loss=0.5,
                  sgd_loss=1.2)
    assert v["clip_lower_loss_g1p5_t10"] == "holds"
    arms = clip.summarize(_frame(clip)).tables["arms"].set_index("arm")
    assert arms.loc["sgd 0.2", "below_baseline"] == 0


def test_outcome_table(analysis):
    clip = analysis("clipping")
    arms = clip.summarize(_frame(clip)).tables["arms"].set_index("arm")
    assert arms.loc["clip 0.5x lr 0.2", "solved"] == 16
    assert arms.loc["sgd 0.2", "solved"] == 0 and arms.loc["sgd 0.2", "diverged"] == 16
    assert np.isnan(arms.loc["sgd 0.2", "km_median_step"])
    assert 600 <= arms.loc["clip 0.5x lr 0.2", "km_median_step"] <= 1000


def test_sgd_diverges(analysis):
    clip = analysis("clipping")
    assert _verdicts(clip)["sgd_diverges_g1p5_t10"] == "holds"
    assert _verdicts(clip, diverge=False)["sgd_diverges_g1p5_t10"] == "fails"
    assert _verdicts(clip, length=30)["sgd_diverges_g1p5_t30"] == "holds"


def test_normalised_sgd(analysis):
    clip = analysis("clipping")
    v = _verdicts(clip)
    assert v["normalised_sgd_g1p5_t10_lr0p2_m0p5"] == "holds"
    assert v["normalised_sgd_g1p5_t10_lr0p2_m10"] == "fails"
    v = _verdicts(clip, fraction_small=0.5, fraction_large=0.99)
    assert v["normalised_sgd_g1p5_t10_lr0p2_m0p5"] == "fails"
    assert v["normalised_sgd_g1p5_t10_lr0p2_m10"] == "holds"


def test_overflow_prediction(analysis):
    clip = analysis("clipping")
    assert _verdicts(clip)["overflow_predicted"] == "holds"
    assert _verdicts(clip, overflow_factor=1.5)["overflow_predicted"] == "fails"


def test_overflow_predicted_stable_is_a_miss(analysis):
    """A run predicted stable (step inf) that overflowed counts, with ratio 0."""
    clip = analysis("clipping")
    s = clip.summarize(_frame(clip, stable_misses=3))
    assert s.verdicts()["overflow_predicted"] != "holds"
    assert (s.tables["overflow"].overflow_ratio == 0).sum() == 3


def test_profile_and_cliff(analysis):
    clip = analysis("clipping")
    v = _verdicts(clip)
    assert v["profile_grows_back_t30"] == "holds" and v["sgd_step_hits_cliff"] == "holds"
    v = _verdicts(clip, profile_slope=0.3, cliff_jump=0.5)
    assert v["profile_grows_back_t30"] == "fails" and v["sgd_step_hits_cliff"] == "fails"


def test_arm_label(analysis):
    clip = analysis("clipping")
    assert clip.arm_label(0.1, 0.0) == "sgd 0.1"
    assert clip.arm_label(0.2, 2.0) == "clip 2x lr 0.2"
    assert clip.Cell("learn", 1.5, 10, 0.2, 0.5).arm == "clip 0.5x lr 0.2"


def test_grid_configs_are_typed(analysis):
    """Every cell of the grids becomes a Config with a typed Cell, as the report makes it
    (a dict of the grid's values); the grid is the design, in its order."""
    from gradflow.report.analyses import make_config
    from gradflow.sweep import expand_grid

    clip = analysis("clipping")
    for grid in (clip.GRID, clip.QUICK_GRID):
        for config in expand_grid(grid):
            c = make_config(clip.Config, config, Path("clipping.py"))
            assert isinstance(c.cell, clip.Cell) and isinstance(c.seed, int)
            if c.cell.part == "learn":
                assert (c.cell.lr, c.cell.multiple) in clip.ARMS
            else:
                assert (c.cell.lr, c.cell.multiple) == (clip.ANATOMY_LR, 0.0)
    cells = [clip.Cell(**c) for c in clip.GRID["cell"]]
    assert len(cells) == len(clip.LEARN) * len(clip.ARMS) + len(clip.ANATOMY_LENGTHS)
    assert cells[0] == clip.Cell("learn", 1.0, 10, 0.025)
    assert cells[len(clip.ARMS) - 1] == clip.Cell("learn", 1.0, 10, 0.2, 10.0)
    assert cells[-1] == clip.Cell("anatomy", 5.0, 100, 0.1)
    assert len(clip.GRID["seed"]) >= 16


def test_cell_refuses_bad_values(analysis):
    clip = analysis("clipping")
    with pytest.raises(ValueError, match=r"Cell.part must be one of \('learn', 'anatomy'\)"):
        clip.Cell("train", 1.0, 10, 0.1)
    with pytest.raises(ValueError, match="0 for an anatomy run"):
        clip.Cell("anatomy", 5.0, 10, 0.1, 2.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        clip.Cell("learn", 1.0, 10, 0.1, -1.0)


def test_run_tiny(analysis, monkeypatch):
    clip = analysis("clipping")
    monkeypatch.setattr(clip, "STEPS", 60)
    monkeypatch.setattr(clip, "ANATOMY_STEPS", 40)
    rows = clip.run(clip.Config(clip.Cell("learn", 1.0, 10, 0.05), 0))
    s = pd.DataFrame(rows).query("kind == 'summary'").iloc[0]
    assert {"solved", "solve_step", "steps_run", "gave_up", "final_rel_loss",
            "clipped_fraction", "init_norm", "first_explode", "peak_step"} <= set(s.index)
    assert not s.solved and s.solve_step == 60 and s.steps_run == 60
    rows = clip.run(clip.Config({"part": "learn", "gain": 5.0, "length": 10, "lr": 0.1,
                                 "multiple": 0.5}, 0))      # as the grid holds it
    s = pd.DataFrame(rows).query("kind == 'summary'").iloc[0]
    assert s.clipped_fraction > 0.5 and s.threshold == 0.5 * s.init_norm
    rows = clip.run(clip.Config(clip.Cell("learn", 2.0, 30, 0.2, 0.5), 0))
    s = pd.DataFrame(rows).query("kind == 'summary'").iloc[0]
    assert s.length == 30 and s.steps_run == 60 and np.isfinite(s.final_rel_loss)
    frame = pd.DataFrame(clip.run(clip.Config(clip.Cell("anatomy", 5.0, 10, 0.1), 0)))
    assert {"summary", "profile", "cliff", "probe"} <= set(frame.kind)


def test_outcome_of_an_overflowed_run(analysis):
    """A run stopped because its held-out loss overflowed is censored, not solved."""
    analysis("clipping")
    import _clipping as helper

    import gradflow
    from gradflow.tasks import AddingProblem

    task = AddingProblem(10)
    net = gradflow.Network("rnn", task.input_size, 32, nonlinearity="tanh")
    base = task.baseline()
    hist = gradflow.train(net, task, 400, 32, optimizer="sgd", lr=0.3, seed=0,
                          nonfinite="skip", init={"scheme": "gaussian", "gain": 3.0},
                          progress=False, stop_every=50, stop_size=64,
                          stop_when=helper.adding_check(base, 0.1))
    out = helper.outcome(hist, 400, base, 0.1)
    assert hist.stopped_at is not None and hist.stopped_at < 400
    assert not out["solved"] and out["gave_up"] and out["solve_step"] == 400


def test_probe_reproduces_the_training_step(analysis):
    """The probe's params and batch at step k are those of the training run's step k."""
    analysis("clipping")  # puts analyses/ on sys.path
    import _clipping as helper

    import gradflow
    from gradflow.tasks import AddingProblem

    task = AddingProblem(10)
    net = gradflow.Network("rnn", task.input_size, 32, nonlinearity="tanh")
    p0 = helper.initial_params(net, task, 0, 5.0)
    hist = gradflow.train(net, task, 6, 32, optimizer="sgd", lr=0.1, seed=0,
                          nonfinite="skip", init={"scheme": "gaussian", "gain": 5.0},
                          progress=False)
    rows = helper.explode_probe(net, task, p0, 5, 0, 0.1, 32, 5.0, np.array([0.0]))
    probe = next(r for r in rows if r["kind"] == "probe")
    assert probe["probe_loss"] == hist.frame.loss.iloc[5]
    assert probe["probe_grad_norm"] == hist.frame.grad_norm.iloc[5]


def test_prose_groups(analysis):
    """The claims' prose: a question over a bulleted list per comparison (one paragraph
    each), the divergence claims in paragraphs of their own, in the claims' order."""
    from gradflow.report.layout import paragraphs

    clip = analysis("clipping")
    s = clip.summarize(_frame(clip))
    text = paragraphs(s.claims.values(), s.groups)
    beats = next(p for p in text if p.startswith("Does clipping learn sooner"))
    assert "16 seeds per arm, censored at 3000 steps" in beats
    c = s.claims["clip_beats_sgd_g1p5_t10"]
    assert beats.endswith(f":\n\n- g = 1.5, T = 10: clipping learns sooner: "
                          f"{s.tables['best'].clipped.iloc[0]} solves sooner than every "
                          f"unclipped learning rate ({c.evidence}).")
    rescue = next(p for p in text if p.startswith("At a fixed learning rate"))
    assert rescue.splitlines()[2:] == [
        f"- g = 1.5, T = 10, lr 0.2: yes ({s.claims['clip_rescues_g1p5_t10_lr0p2'].evidence})."]
    regime = next(p for p in text if p.startswith("Which clipped arms"))
    assert [line.split(" (")[0] for line in regime.splitlines()[2:]] == [
        "- g = 1.5, T = 10, lr 0.2, threshold 0.5x: normalised SGD",
        "- g = 1.5, T = 10, lr 0.2, threshold 10x: clips a minority or part of the steps"]
    diverges = s.claims["sgd_diverges_g1p5_t10"]
    assert f"Established: {diverges.statement} ({diverges.evidence})." in text
    starts = [p.split(":")[0].split(" (")[0] for p in text]
    assert starts == ["Does clipping learn sooner than the best unclipped learning rate? "
                      "Time to solve, 16 seeds per arm, censored at 3000 steps; no best arm "
                      "is chosen on the data before the test", "A secondary outcome, fixed "
                      "before the full runs and the same for every gain and length, decides "
                      "something where no run solves", "At a fixed learning rate, does "
                      "clipping", "Established", "Which clipped arms are normalised SGD",
                      "The overflow of unclipped SGD is predicted by the saturated readout's "
                      "curvature", "Established", "The full SGD step at the exploding step "
                      "lands on Pascanu's cliff"]


def test_prose_braces_are_kept(analysis):
    """A listed group's text is a format template: braces in evidence survive it."""
    clip = analysis("clipping")
    from gradflow.report.claims import Claim, Says
    from gradflow.report.layout import paragraphs

    c = Claim("x", "x", "holds", "{odd}", Says("a {odd}.", "b", "c"), group="k")
    assert paragraphs([c], [clip._listed("k", "Intro {n}:", [c])]) == [
        "Intro {n}:\n\n- a {odd}."]
