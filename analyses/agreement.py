"""Syntactic vs sequential recency: subject-verb agreement with attractors.

After Linzen, Dupoux & Goldberg (2016), in synthetic form (gradflow.tasks.Agreement):
``the N_subj (P the N_attr)^k V``, k = 0..4 attractors, label = the subject's number,
read from the final state at the verb. Training looks like natural text: an attractor
mismatches the subject's number only rarely (rate 0.02; the sequential-recency heuristic
"agree with the most recent noun" is right on 98.4% of training sentences). Testing counts
mismatching attractors: every attractor takes the other number (k = n_mismatch), as in
Linzen et al.'s "all attractors mismatch" curves, with a control where every attractor
matches (same lengths, no conflict). Two more training regimes frame the main one:
attractors that always match (the data never tell subject from last noun) and the same
natural-text rate trained 3x longer. Networks are float32 (training speed).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

import gradflow
from gradflow.report import mean_ci, rate_ci
from gradflow.report.style import CELL_COLORS, new_figure
from gradflow.tasks import Agreement

TITLE = "Syntactic vs sequential recency: agreement with attractors"
QUESTION = (
    "\"The writer of the books is\": the lecture says that, because of vanishing gradients, "
    "RNN language models are better at learning from sequential recency than from syntactic "
    "recency (Linzen, Dupoux & Goldberg 2016). Trained on text like natural language, where "
    "attractors (nouns between subject and verb) rarely take the other number, does a model "
    "agree the verb with its subject or with the most recent noun, and how do its errors "
    "grow with the number of mismatching attractors for the tanh RNN, the GRU and the LSTM?")
ORDER = 80

# regime -> (training mismatch rate, training steps)
REGIMES = {"natural": (0.02, 300), "matching": (0.0, 300), "natural_long": (0.02, 900)}
MAIN = "natural"
GRID = {"cell": ["rnn", "gru", "lstm"], "regime": list(REGIMES), "seed": list(range(10))}
QUICK_GRID = {"cell": ["rnn", "lstm"], "regime": ["quick"], "seed": [0]}

MAX_ATTRACTORS, HIDDEN, BATCH, LR, CLIP = 4, 32, 32, 3e-3, 5.0
N_TEST = 2000          # per test set; ~400 sentences per attractor count
ROBUST = 0.1           # a seed "agrees with the subject" at 4 mismatches if its error < this
CELL_NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM"}


def _regime(name: str) -> tuple[float, int]:
    return (0.02, 20) if name == "quick" else REGIMES[name]


def _majority_error(task: Agreement, tokens: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per sentence, the expected error of 'agree with the majority of the nouns' (ties: 1/2).

    tokens (T, B) as in ``sample_with_info``; nouns are ids 2 .. 2 + 2 n_nouns - 1, their
    number the parity of (id - 2).
    """
    is_noun = (tokens >= 2) & (tokens < 2 + 2 * task.n_nouns)       # (T, B)
    plural = ((tokens - 2) % 2 == 1) & is_noun
    n_plural, n_nouns = plural.sum(axis=0), is_noun.sum(axis=0)     # (B,)
    vote = np.sign(2 * n_plural - n_nouns)                         # +1 plural, -1 singular
    truth = 2 * y - 1
    return np.where(vote == 0, 0.5, (vote != truth).astype(float))


def run(config: dict) -> list[dict]:
    """Train one cell on natural-like text; errors by attractor count on three test sets."""
    cell, seed = config["cell"], config["seed"]
    rate, steps = _regime(config["regime"])
    task = Agreement(n_attractors=(0, MAX_ATTRACTORS), mismatch_rate=rate,
                     test_mismatch_rate=1.0)
    # which attractors take the other number at test: all, none (control), each with p = 1/2
    tests = {"mismatch": task,
             "match": dataclasses.replace(task, test_mismatch_rate=0.0),
             "mixed": dataclasses.replace(task, test_mismatch_rate=0.5)}
    n_test = 200 if config["regime"] == "quick" else N_TEST
    net = gradflow.Network(cell, task.input_size, HIDDEN, dtype="float32")
    history = gradflow.train(net, task, steps, BATCH, lr=LR, clip=CLIP, seed=seed,
                             record_every=max(1, steps // 10), progress=False)
    rows = [{"kind": "train", "step": int(r.step), "loss": float(r.loss)}
            for r in history.frame.itertuples()]
    for i, (test, t) in enumerate(tests.items()):
        x, y, info = t.sample_with_info(np.random.default_rng([seed, 7, i]), n_test, "test")
        wrong = gradflow.predict(net, history.params, t, x).argmax(axis=-1) != y
        recency = t.recency_predict(x) != y
        majority = _majority_error(t, info["tokens"], y)
        if test == "mixed":   # n_mismatch out of 4 attractors, split by the last noun
            keys = {"n_mismatch": info["n_mismatch"], "last_mismatch": info["last_mismatch"]}
            sel = info["n_attractors"] == MAX_ATTRACTORS
        else:
            keys = {"n_mismatch": info["n_mismatch"], "last_mismatch": info["last_mismatch"],
                    "n_attractors": info["n_attractors"]}
            sel = np.ones(len(y), bool)
        frame = pd.DataFrame({**{k: v[sel] for k, v in keys.items()}, "wrong": wrong[sel],
                              "recency": recency[sel], "majority": majority[sel]})
        for key, g in frame.groupby(list(keys)):
            row = dict(zip(keys, (int(v) for v in key), strict=True))
            rows.append({"kind": "test", "test": test, **row, "n": len(g),
                         "errors": int(g.wrong.sum()), "error": float(g.wrong.mean()),
                         "recency_error": float(g.recency.mean()),
                         "majority_error": float(g.majority.mean())})
    return rows


def _rate_ci(values) -> tuple[float, float, float]:
    """Mean error rate over seeds with its 95% t-interval, clipped to [0, 1]."""
    mean, low, high = mean_ci(values)
    return mean, float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1))


def _seed_means(tests: pd.DataFrame, by: list[str], value: str = "error") -> pd.DataFrame:
    """Per group of ``by``: mean of ``value`` over seeds, its clipped 95% t-interval, seeds."""
    out = []
    for key, g in tests.groupby(by, sort=True):
        mean, low, high = _rate_ci(g[value])
        out.append({**dict(zip(by, key, strict=True)), "mean": mean, "ci_low": low,
                    "ci_high": high, "seeds": len(g)})
    return pd.DataFrame(out)


def _plot_cells(ax, tests: pd.DataFrame, regime: str, cells: list[str], faint: bool) -> None:
    mism = tests[(tests.test == "mismatch") & (tests.regime == regime)]
    match = tests[(tests.test == "match") & (tests.regime == regime)]
    for cell in cells:
        color = CELL_COLORS[cell]
        m = _seed_means(mism[mism.cell == cell], ["n_mismatch"])
        ax.plot(m.n_mismatch, m["mean"], "o-", color=color, label=CELL_NAMES[cell])
        ax.fill_between(m.n_mismatch, m.ci_low, m.ci_high, color=color, alpha=0.15, lw=0)
        if faint:
            for _, s in mism[mism.cell == cell].groupby("seed"):
                ax.plot(s.n_mismatch, s.error, color=color, alpha=0.25, lw=0.8)
        c = match[match.cell == cell].groupby("n_attractors", as_index=False).error.mean()
        ax.plot(c.n_attractors, c.error, ":", color=color, lw=1)
    rec = mism.groupby("n_mismatch", as_index=False)[["recency_error", "majority_error"]].mean()
    ax.plot(rec.n_mismatch, rec.recency_error, "k--", lw=1.2, label="most recent noun")
    ax.plot(rec.n_mismatch, rec.majority_error, color="grey", ls="-.", lw=1.2,
            label="majority of nouns")
    ax.set_xticks(range(int(mism.n_mismatch.max()) + 1))
    ax.set_ylim(-0.03, 1.03)


def _mismatching_seen(regime: str) -> float:
    """Expected training sentences with at least one mismatching attractor."""
    rate, steps = _regime(regime)
    p_some = np.mean([1 - (1 - rate) ** k for k in range(MAX_ATTRACTORS + 1)])
    return float(steps * BATCH * p_some)


def render(frame: pd.DataFrame, out) -> None:
    tests = frame[frame.kind == "test"].copy()
    train = frame[frame.kind == "train"]
    cells = [c for c in ("rnn", "gru", "lstm") if c in set(tests.cell)]
    regimes = [r for r in (*REGIMES, "quick") if r in set(tests.regime)]
    main = MAIN if MAIN in regimes else regimes[0]
    rate, steps = _regime(main)
    mism = tests[tests.test == "mismatch"]
    kmax = int(mism.n_mismatch.max())
    n_seeds = tests.seed.nunique()

    # Figure 1: the main regime, error vs number of mismatching attractors.
    fig, ax = new_figure("column", 3.0)
    _plot_cells(ax, tests, main, cells, faint=True)
    ax.set_xlabel("mismatching attractors $k$ between subject and verb")
    ax.set_ylabel("agreement error rate (test)")
    fig.legend(loc="outside lower center", ncol=2)   # below the axes: the curves fill them

    data = _seed_means(mism, ["regime", "cell", "n_mismatch"])
    heur = mism.groupby(["regime", "n_mismatch"], as_index=False)[
        ["recency_error", "majority_error"]].mean()
    control = _seed_means(tests[tests.test == "match"], ["regime", "cell", "n_attractors"])
    control = control.rename(columns={"n_attractors": "n_mismatch", "mean": "match_mean",
                                      "ci_low": "match_ci_low", "ci_high": "match_ci_high"})
    data = data.merge(heur, on=["regime", "n_mismatch"]).merge(
        control.drop(columns="seeds"), on=["regime", "cell", "n_mismatch"], how="left")
    data = data.rename(columns={"n_mismatch": "attractors"})
    seeds_data = mism[mism.regime == main][["cell", "seed", "n_mismatch", "n", "error"]]
    out.figure("errors_by_attractors", fig, seeds_data.merge(
        data[data.regime == main].drop(columns="regime").rename(
            columns={"attractors": "n_mismatch"}), on=["cell", "n_mismatch"]),
               caption=f"Agreement error vs the number $k$ of mismatching attractors, trained on "
                       f"natural-like text (mismatch rate {rate:g}, {steps} steps).",
               description=f"Agreement error on test sentences whose k attractors all take the "
                       f"other number than the subject (k = 0..{kmax}; k = 1 is \"the writer "
                       f"of the books is\"), for networks trained on text where an attractor "
                       f"mismatches with probability {rate:g} ({steps} Adam steps of {BATCH} "
                       f"sentences, H = {HIDDEN}, float32). Solid: mean over {n_seeds} seeds "
                       f"with its 95% t-interval (band, clipped to [0, 1]); faint: each seed; "
                       f"dotted (at 0): the control where all k attractors match (same "
                       f"lengths, no conflict). Dashed: the sequential-recency heuristic "
                       f"(agree with the most recent noun); dash-dotted: agree with the "
                       f"majority of the nouns (ties count 1/2)")

    # Figure 2: the training regimes side by side.
    if len(regimes) > 1:
        fig, axes = new_figure("page", 2.6, ncols=len(regimes), sharey=True)
        for ax, regime in zip(axes, regimes, strict=True):
            _plot_cells(ax, tests, regime, cells, faint=False)
            r, s = _regime(regime)
            ax.set_title(f"{regime}: rate {r:g}, {s} steps")
            ax.set_xlabel("mismatching attractors $k$")
        axes[0].set_ylabel("agreement error rate (test)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
        out.figure("regimes", fig, data,
                   caption="Agreement error vs mismatching attractors for three training "
                           "regimes.",
                   description="The same curves for three training regimes: natural-like text "
                           "(rare mismatches; the main regime), attractors that always match "
                           "in training (the data never tell the subject from the last noun), "
                           "and natural-like text trained three times longer. Mean over seeds "
                           "with 95% t-interval; dotted: matching-attractor control")

    # Table: per cell and regime.
    rows = []
    for (regime, cell), g in mism.groupby(["regime", "cell"], sort=False):
        e0 = _rate_ci(g[g.n_mismatch == 0].error)
        e1 = _rate_ci(g[g.n_mismatch == 1].error)
        per_seed = g[g.n_mismatch == kmax].error
        ek = _rate_ci(per_seed)
        robust = rate_ci(int((per_seed < ROBUST).sum()), len(per_seed))
        ctl = tests[(tests.test == "match") & (tests.regime == regime) & (tests.cell == cell)
                    & (tests.n_attractors == kmax)].error
        fl = train[(train.regime == regime) & (train.cell == cell)]
        r, s = _regime(regime)
        rows.append({"regime": regime, "cell": cell, "train_rate": r, "steps": s,
                     "mismatching_seen": _mismatching_seen(regime),
                     "final_train_loss": float(fl[fl.step == fl.step.max()].loss.mean()),
                     "error_0": e0[0], "error_1": e1[0], "error_1_ci_low": e1[1],
                     "error_1_ci_high": e1[2],
                     "error_2": float(g[g.n_mismatch == min(2, kmax)].error.mean()),
                     f"error_{kmax}": ek[0],
                     f"error_{kmax}_ci_low": ek[1], f"error_{kmax}_ci_high": ek[2],
                     f"error_{kmax}_seed_min": float(per_seed.min()),
                     f"error_{kmax}_seed_max": float(per_seed.max()),
                     f"error_{kmax}_matching": float(ctl.mean()),
                     "robust_seeds": robust[0], "robust_ci_low": robust[1],
                     "robust_ci_high": robust[2], "seeds": len(per_seed)})
    table = pd.DataFrame(rows)
    table["regime"] = pd.Categorical(table.regime, regimes)
    table["cell"] = pd.Categorical(table.cell, cells)
    table = table.sort_values(["regime", "cell"]).reset_index(drop=True)
    out.table("errors", table,
              caption=f"Agreement error with 0, 1 and {kmax} mismatching attractors, the "
                      f"matching control, and seeds robust at {kmax} (95% CI).",
              columns={"regime": "regime", "cell": "cell", "error_0": "$k = 0$",
                       "error_1": "$k = 1$", f"error_{kmax}": f"$k = {kmax}$",
                       f"error_{kmax}_matching": "control",
                       "robust_seeds": "robust seeds"},
              description=f"Agreement error with 0, 1 and {kmax} mismatching "
              f"attractors (mean over seeds, 95% t-interval clipped to [0, 1]; min and max "
              f"over seeds), error with {kmax} matching attractors (control), expected "
              f"training sentences with a mismatching attractor (mismatching_seen), and the "
              f"fraction of seeds whose error at {kmax} mismatches is below {ROBUST:g} "
              f"(robust_seeds, Wilson 95% interval)")

    # Table: does the error follow the last noun or the count? (mixed test, k = kmax)
    mixed = tests[(tests.test == "mixed") & (tests.regime == main)]
    split = _seed_means(mixed, ["cell", "n_mismatch", "last_mismatch"])
    rec = mixed.groupby(["n_mismatch", "last_mismatch"], as_index=False)[
        ["recency_error", "majority_error"]].mean()
    split = split.merge(rec, on=["n_mismatch", "last_mismatch"])
    split = split[split.n_mismatch.between(1, kmax - 1)].copy()
    split["cell"] = pd.Categorical(split.cell, cells)
    split = split.sort_values(["cell", "n_mismatch", "last_mismatch"]).reset_index(drop=True)
    out.table("last_noun", split.rename(columns={"mean": "error"}),
              caption=f"Error with {kmax} attractors, by how many mismatch and whether the "
                      f"last noun does, against the recency and majority heuristics.",
              columns={"cell": "cell", "n_mismatch": "mismatching",
                       "last_mismatch": "last noun", "error": "error",
                       "recency_error": "recency", "majority_error": "majority"},
              description=f"Main regime, test sentences with {kmax} attractors, each mismatching "

                      f"with probability 1/2: error given how many mismatch (n_mismatch) and "
                      f"whether the noun nearest the verb is one of them (last_mismatch; mean "
                      f"over seeds, 95% t-interval clipped to [0, 1]). The most-recent-noun "
                      f"heuristic errs exactly when last_mismatch = 1; the majority-of-nouns "
                      f"heuristic when n_mismatch > {kmax // 2}")

    # Citable numbers: main regime, per cell.
    tag = {"rnn": "Rnn", "gru": "Gru", "lstm": "Lstm"}
    t = table[table.regime == main].set_index("cell")
    for cell in cells:
        name = CELL_NAMES[cell]
        for k, label in ((0, "NoAttractor"), (1, "OneMismatch"), (kmax, "MaxMismatch")):
            e = t.loc[cell, f"error_{k}"], *(_rate_ci(mism[(mism.regime == main)
                                                           & (mism.cell == cell)
                                                           & (mism.n_mismatch == k)].error)[1:])
            what = "no attractor" if k == 0 else f"{k} attractor{'s' * (k > 1)}, all mismatching"
            out.number(f"Error{label}{tag[cell]}", e[0], f"{name}: agreement error with {what} "
                       "(main regime, mean over seeds)", low=e[1], high=e[2])
        out.number(f"RobustSeeds{tag[cell]}", t.loc[cell, "robust_seeds"], f"{name}: "
                   f"fraction of seeds with error < {ROBUST:g} at {kmax} mismatching "
                   "attractors (main regime; Wilson interval)",
                   low=t.loc[cell, "robust_ci_low"], high=t.loc[cell, "robust_ci_high"])
        last = split[(split.cell == cell) & (split.n_mismatch == 1) & (split.last_mismatch == 1)]
        if len(last):
            out.number(f"ErrorLastNounOnly{tag[cell]}", last["mean"].iloc[0], f"{name}: error "
                       f"when exactly one of {kmax} attractors mismatches and it is the noun "
                       "nearest the verb (main regime; the most-recent-noun heuristic errs "
                       "on all of them)", low=last.ci_low.iloc[0], high=last.ci_high.iloc[0])
    out.number("RecencyErrorMismatch", float(mism[mism.n_mismatch >= 1].recency_error.mean()),
               "error of the most-recent-noun heuristic when the attractors mismatch")
    out.number("RecencyErrorTrain", _recency_train(main), "expected error of the "
               "most-recent-noun heuristic on the main regime's training sentences")
    _text(out, table, split, main, kmax, cells, regimes)


def _ranking(t: pd.DataFrame, cells: list[str], kmax: int) -> str:
    """Which cells are separable at kmax mismatches (non-overlapping t-intervals)."""
    gated = [c for c in ("gru", "lstm") if c in cells]
    if "rnn" not in cells or not gated:
        return ""
    worse = all(t.loc["rnn", f"error_{kmax}_ci_low"] > t.loc[c, f"error_{kmax}_ci_high"]
                for c in gated)
    text = (" The tanh RNN errs most; its interval lies above the gated cells'." if worse else
            " The tanh RNN's interval overlaps the gated cells'.")
    if len(gated) == 2:
        a, b = (t.loc[c] for c in gated)
        apart = (a[f"error_{kmax}_ci_low"] > b[f"error_{kmax}_ci_high"]
                 or b[f"error_{kmax}_ci_low"] > a[f"error_{kmax}_ci_high"])
        text += (" GRU and LSTM are separable." if apart else
                 " GRU and LSTM are not separable (overlapping intervals): the LSTM is not "
                 "measurably the most robust here.")
    return text


def _recency_train(regime: str) -> float:
    rate, _ = _regime(regime)
    return Agreement(n_attractors=(0, MAX_ATTRACTORS), mismatch_rate=rate).recency_error_rate()


def _fmt(row: pd.Series, k: int | str) -> str:
    return f"{row[f'error_{k}']:.2f} [{row[f'error_{k}_ci_low']:.2f}, " \
           f"{row[f'error_{k}_ci_high']:.2f}]"


def _text(out, table: pd.DataFrame, split: pd.DataFrame, main: str, kmax: int,
          cells: list[str], regimes: list[str]) -> None:
    """The paragraphs: what the numbers show, worded from the numbers themselves."""
    t = table[table.regime == main].set_index("cell")
    names = CELL_NAMES
    one = "; ".join(f"{names[c]} {_fmt(t.loc[c], 1)}" for c in cells)
    top = "; ".join(f"{names[c]} {_fmt(t.loc[c], kmax)} (seeds from "
                    f"{t.loc[c, f'error_{kmax}_seed_min']:.2f} to "
                    f"{t.loc[c, f'error_{kmax}_seed_max']:.2f})" for c in cells)
    grows = all(t.loc[c, f"error_{kmax}"] > t.loc[c, "error_1"] + 0.05 for c in cells)
    out.text(
        f"**Main regime** (attractors mismatch with probability {_regime(main)[0]:g}, so the "
        f"most-recent-noun heuristic is right on {1 - _recency_train(main):.1%} of training "
        f"sentences; about {_mismatching_seen(main):.0f} sentences with a mismatching "
        f"attractor seen in training). With no attractor every cell agrees correctly (error "
        f"at most {t.error_0.max():.3f}), and with {kmax} *matching* attractors too (at most "
        f"{t[f'error_{kmax}_matching'].max():.3f})"
        + (": length alone costs nothing. " if t[f"error_{kmax}_matching"].max() < 0.02
           else ". ")
        + "With one "
        f"mismatching attractor, the lecture's \"the writer of the books is\", the error is "
        f"{one} (mean over seeds, 95% t-interval), where agreeing with the most recent noun "
        f"errs on every sentence. "
        + (f"Errors {'grow' if grows else 'do not clearly grow'} with the number of "
           f"mismatching attractors; with {kmax}: {top}. ")
        + f"Seeds below {ROBUST:g} error at {kmax} mismatches: "
        + ", ".join(f"{names[c]} {t.loc[c, 'robust_seeds']:.0%} [{t.loc[c, 'robust_ci_low']:.0%}"
                    f", {t.loc[c, 'robust_ci_high']:.0%}]" for c in cells) + " (Wilson)."
        + _ranking(t, cells, kmax))
    if len(split):
        s = split.set_index(["cell", "n_mismatch", "last_mismatch"])["mean"]
        ci = split.set_index(["cell", "n_mismatch", "last_mismatch"])[["ci_low", "ci_high"]]
        last_only = max(s.get((c, 1, 1), np.nan) for c in cells)
        hi = kmax - 1
        below = float(s[s.index.get_level_values("n_mismatch") < hi].max())
        primacy = all(s.get((c, hi, 0), 0) > s.get((c, hi, 1), 1) for c in cells)
        # established only where the two intervals do not overlap
        primacy_apart = primacy and all(
            ci.loc[(c, hi, 0), "ci_low"] > ci.loc[(c, hi, 1), "ci_high"] for c in cells)

        def _ci(c: str, last: int) -> str:
            return (f"{s.get((c, hi, last), np.nan):.2f} [{ci.loc[(c, hi, last), 'ci_low']:.2f}, "
                    f"{ci.loc[(c, hi, last), 'ci_high']:.2f}]")
        out.text(
            f"**Subject or most recent noun?** On sentences with {kmax} attractors of random "
            f"number, the networks {'do not follow' if last_only < 0.1 else 'partly follow'} "
            f"the most recent noun: when exactly one attractor mismatches and it is the noun "
            f"next to the verb, the largest error over cells is {last_only:.3f} (the "
            f"heuristic: 1). With up to {hi - 1} mismatching, no cell's mean error exceeds "
            f"{below:.2f}, whether or not the last noun mismatches; with {hi} of {kmax} they are "
            + ", ".join(f"{names[c]} {_ci(c, 1)} when the last noun mismatches / "
                        f"{_ci(c, 0)} when it matches" for c in cells)
            + " (mean over seeds, 95% t-interval)"
            + (". In this synthetic language the attraction looks cumulative (the nouns' "
               "numbers add up in the state until they outvote the subject), not sequential "
               "recency" if last_only < 0.1 else "")
            + (f". With {hi} of {kmax} mismatching, every cell errs more when the noun next to "
               f"the verb is the one that matches the subject, and the intervals are apart: "
               f"the earlier nouns weigh more." if primacy_apart else
               f". With {hi} of {kmax} mismatching, every cell's mean error is higher when the "
               f"noun next to the verb is the one that matches the subject, but for each cell "
               f"the two intervals overlap, so whether the earlier nouns weigh more is not "
               f"established." if primacy else "."))
    if len(regimes) > 1:
        parts = []
        for regime in regimes:
            if regime == main:
                continue
            r = table[table.regime == regime].set_index("cell")
            parts.append(f"*{regime}* (mismatch rate {_regime(regime)[0]:g}, "
                         f"{_regime(regime)[1]} steps): error at one mismatch "
                         + ", ".join(f"{names[c]} {r.loc[c, 'error_1']:.2f}" for c in cells)
                         + "; at two " + ", ".join(f"{names[c]} {r.loc[c, 'error_2']:.2f}"
                                                   for c in cells)
                         + f"; at {kmax} " + ", ".join(f"{names[c]} {_fmt(r.loc[c], kmax)}"
                                                       for c in cells)
                         + "; robust seeds " + ", ".join(
                             f"{names[c]} {r.loc[c, 'robust_seeds']:.0%}" for c in cells))
        notes = []
        m = table[table.regime == "matching"].set_index("cell")
        if "rnn" in m.index and m.loc["rnn", "error_2"] > 0.8 and m.loc["rnn", "error_1"] < 0.2:
            gated = [c for c in cells if c != "rnn" and m.loc[c, "error_2"] < 0.5]
            notes.append("when training never shows a mismatching attractor, the tanh RNN "
                         "follows the majority of the nouns rather than the most recent one "
                         "(the dash-dotted line: wrong from two mismatches on; at one mismatch "
                         "the subject and the attractor tie and the line, counting a tie as "
                         f"1/2, sits at 0.5, while the RNN's error there is "
                         f"{m.loc['rnn', 'error_1']:.2f}: it breaks the tie for the subject)"
                         + (", while " + " and ".join(names[c] for c in gated)
                            + " stay well below that line" if gated else ""))
        long_ = table[table.regime == "natural_long"].set_index("cell")
        if len(long_):
            better = [c for c in cells
                      if long_.loc[c, "robust_seeds"] > t.loc[c, "robust_seeds"]]
            apart = [c for c in better
                     if long_.loc[c, "robust_ci_low"] > t.loc[c, "robust_ci_high"]]

            def _shift(c: str) -> str:
                return (f"{names[c]} {t.loc[c, 'robust_seeds']:.0%} "
                        f"[{t.loc[c, 'robust_ci_low']:.0%}, {t.loc[c, 'robust_ci_high']:.0%}]"
                        f" to {long_.loc[c, 'robust_seeds']:.0%} "
                        f"[{long_.loc[c, 'robust_ci_low']:.0%}, "
                        f"{long_.loc[c, 'robust_ci_high']:.0%}]")
            if better:
                unsure = [c for c in better if c not in apart]
                notes.append("training three times longer on natural-like text (about "
                             f"{_mismatching_seen('natural_long'):.0f} mismatching sentences "
                             "seen instead of about "
                             f"{_mismatching_seen(main):.0f}) moves the share of robust seeds "
                             "from " + ", ".join(_shift(c) for c in better) + " (Wilson)"
                             + (f": an increase for {', '.join(names[c] for c in apart)}"
                                if apart else "")
                             + ((", and " if apart else ": ") + "for "
                                + ", ".join(names[c] for c in unsure) + " the intervals "
                                "overlap, so the increase is suggestive, not established"
                                if unsure else "")
                             + ". Some seeds still fail. Training length and the number of "
                             "mismatching examples seen change together here (the mismatch "
                             "rate is the same), so these runs cannot say which of the two "
                             "matters")
        out.text("**Other training regimes.** " + ". ".join(parts) + "."
                 + (" In short: " + "; ".join(notes) + "." if notes else ""))
    if len(split) and last_only < 0.1:
        out.text("**What this says about the lecture's claim.** The attractor effect of "
                 "Linzen et al. is reproduced in its graded form (no errors without attractors "
                 "or with matching ones, errors growing with the number of mismatching ones, "
                 "the tanh RNN worst; every cell varies widely across seeds), but not its "
                 "sequential-recency reading: no cell agrees with the most recent noun. This "
                 "synthetic task is easier on memory than a language model's: sentences are "
                 f"at most {Agreement(n_attractors=(0, MAX_ATTRACTORS)).seq_len} tokens, the "
                 "subject is always the first noun, and a classifier is trained on the verb's "
                 f"number directly, so the gradient from the verb reaches the subject through "
                 f"at most {Agreement(n_attractors=(0, MAX_ATTRACTORS)).seq_len - 2} steps. The "
                 "errors measured here look like nouns accumulating in the state "
                 "(majority-like), not like the forgetting of a distant subject that the "
                 "vanishing-gradient argument predicts.")
