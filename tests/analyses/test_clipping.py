"""analyses/clipping.py: summarize's claims on synthetic frames, and run() on a tiny config."""

import numpy as np
import pandas as pd

ARMS = ["sgd 0.01", "sgd 0.1", "clip 0.5x lr 0.1", "clip 10x lr 0.1"]


def _frame(clip, *, clip_loss=0.2, sgd_loss=0.8, diverge=True, fraction_small=0.99,
           fraction_large=0.9, overflow_factor=1.0, profile_slope=-0.3, cliff_jump=100.0,
           seeds=16):
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        for arm in ARMS:
            lr, multiple = clip.parse_arm(arm)
            clipped = multiple > 0
            loss = (clip_loss if clipped else sgd_loss) * np.exp(0.1 * rng.standard_normal())
            div = diverge and arm == "sgd 0.1"
            row = {"kind": "summary", "gain": 3.0, "length": 10, "arm": arm, "seed": seed,
                   "lr": lr, "multiple": multiple, "clip": clipped,
                   "threshold": multiple * 10.0, "init_norm": 10.0,
                   "final_loss": np.inf if div else loss / 6, "baseline": 1 / 6,
                   "n_skipped": 50 if div else 0,
                   "clipped_fraction": (fraction_small if multiple == 0.5 else fraction_large)
                   if clipped else 0.0,
                   "first_nonfinite": 250 if div else -1, "first_explode": 0}
            row["n_clipped"] = int(row["clipped_fraction"] * 300)
            if div:
                row.update({"overflow_start": 50.0, "overflow_loss0": 1e10,
                            "overflow_curvature": 66.0, "overflow_predicted": 250.0,
                            "overflow_measured": 50 + 200 * overflow_factor
                            * np.exp(0.01 * rng.standard_normal())})
            rows.append(row)
        if seed < 4:
            key = {"gain": 3.0, "length": 10, "arm": "sgd 0.1", "seed": seed}
            for t in range(10):
                rows.append({**key, "kind": "profile", "t": t,
                             "adjoint_norm": 10 ** (profile_slope * t
                                                    + 0.05 * rng.standard_normal())})
            for s in (-0.5, 0.0, 0.5, 1.0, 1.5):
                jump = cliff_jump * np.exp(0.1 * rng.standard_normal())
                rows.append({**key, "kind": "cliff", "s": s,
                             "cliff_loss": 1.0 if s <= 0 else jump})
    return pd.DataFrame(rows)


def test_clip_beats_sgd(analysis):
    clip = analysis("clipping")
    assert clip.summarize(_frame(clip)).verdicts()["clip_beats_sgd_g3_t10"] == "holds"
    worse = clip.summarize(_frame(clip, clip_loss=2.0)).verdicts()
    assert worse["clip_beats_sgd_g3_t10"] == "fails"
    same = clip.summarize(_frame(clip, clip_loss=0.8)).verdicts()
    assert same["clip_beats_sgd_g3_t10"] in ("fails", "inconclusive")


def test_best_sgd_is_not_a_diverged_run(analysis):
    clip = analysis("clipping")
    best = clip.summarize(_frame(clip)).tables["best"]
    assert best.best_sgd.tolist() == ["sgd 0.01"]


def test_sgd_diverges(analysis):
    clip = analysis("clipping")
    assert clip.summarize(_frame(clip)).verdicts()["sgd_diverges_g3"] == "holds"
    assert clip.summarize(_frame(clip, diverge=False)).verdicts()["sgd_diverges_g3"] == "fails"


def test_normalised_sgd(analysis):
    clip = analysis("clipping")
    v = clip.summarize(_frame(clip)).verdicts()
    assert v["normalised_sgd_g3_lr0p1_m0p5"] == "holds"
    assert v["normalised_sgd_g3_lr0p1_m10"] == "fails"
    v = clip.summarize(_frame(clip, fraction_small=0.5, fraction_large=0.99)).verdicts()
    assert v["normalised_sgd_g3_lr0p1_m0p5"] == "fails"
    assert v["normalised_sgd_g3_lr0p1_m10"] == "holds"


def test_diverged_runs_rank_last(analysis):
    """A finite but huge final loss still ranks before a run that went non-finite."""
    clip = analysis("clipping")
    frame = _frame(clip, clip_loss=1e40, sgd_loss=1e40)
    best = clip.summarize(frame).tables["best"]
    assert best.best_sgd.tolist() == ["sgd 0.01"]
    arms = clip.summarize(frame).tables["arms"].set_index("arm")
    assert np.isinf(arms.loc["sgd 0.1", "median_rel_loss"])


def test_overflow_prediction(analysis):
    clip = analysis("clipping")
    assert clip.summarize(_frame(clip)).verdicts()["overflow_predicted"] == "holds"
    bad = clip.summarize(_frame(clip, overflow_factor=1.5)).verdicts()
    assert bad["overflow_predicted"] == "fails"


def test_profile_and_cliff(analysis):
    clip = analysis("clipping")
    v = clip.summarize(_frame(clip)).verdicts()
    assert v["profile_grows_back_t10"] == "holds" and v["sgd_step_hits_cliff"] == "holds"
    v = clip.summarize(_frame(clip, profile_slope=0.3, cliff_jump=0.5)).verdicts()
    assert v["profile_grows_back_t10"] == "fails" and v["sgd_step_hits_cliff"] == "fails"


def test_run_tiny(analysis, monkeypatch):
    clip = analysis("clipping")
    monkeypatch.setattr(clip, "STEPS", 30)
    monkeypatch.setattr(clip, "EVAL_N", 50)
    rows = clip.run({"gain": 5.0, "length": 10, "arm": "sgd 0.1", "seed": 0})
    frame = pd.DataFrame(rows)
    assert {"summary", "curve"} <= set(frame.kind)
    s = frame[frame.kind == "summary"].iloc[0]
    assert {"final_loss", "clipped_fraction", "init_norm", "first_explode"} <= set(s.index)
    rows = clip.run({"gain": 5.0, "length": 10, "arm": "clip 0.5x lr 0.1", "seed": 0})
    s = pd.DataFrame(rows).query("kind == 'summary'").iloc[0]
    assert s.clipped_fraction > 0.5 and s.threshold == 0.5 * s.init_norm


def test_probe_reproduces_the_training_step(analysis):
    """The probe's params and batch at step k are those of the training run's step k."""
    import _clipping as helper

    import gradflow
    from gradflow.tasks import AddingProblem

    analysis("clipping")  # puts analyses/ on sys.path
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
