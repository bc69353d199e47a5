"""Training moves the dynamics: spectral radius, gradient decay, Lyapunov exponent, gates.

Each run trains one model (hidden 16, batch 32, Adam lr 1e-2, float32) on the adding
problem of length T, with or without norm clipping at 1, and records every
``EVERY`` steps (``gradflow.train(..., diagnostics=["dynamics"])``, on a fixed probe
batch of ``PROBE`` sequences) the spectral picture of ``gradflow.dynamics``: the
spectral radius and largest singular value of each gate block of W_hh, the fitted
decay rate of ||dL/ds_t||, the largest Lyapunov exponent lambda_max and, for the
gated cells, the median timescale -1/ln(mean gate) of the forget (LSTM) or update
(GRU) gate. The per-unit timescales at initialization and at the end come from
``measure_dynamics`` on the initial and final parameters (the same function the
recording calls), which also adds the final parameters' numbers to the trajectory (the
recording's last row is before the last update). A run solves the task when its test
loss is below a tenth of the 1/6 baseline, as in the long-range analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from _dynamics import KEEP_GATE, RUN_KEYS, TRACKED, detectable_shift, per_run, tracked
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

import gradflow
from gradflow.report import mean_ci, rate_ci
from gradflow.report.claims import (
    Claim,
    Says,
    Summary,
    below,
    differ,
    exceeds,
    matches,
    proportion,
)
from gradflow.report.layout import Group
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Training moves the dynamics: towards the critical line?"
QUESTION = (
    "Gradients vanish where the dynamics are ordered (lambda_max < 0, chi < 1) and explode "
    "where they are chaotic; the critical line between them (chi = 1, lambda_max = 0) is "
    "where a gradient can cross many steps. Initialization sets where a network starts; "
    "how does training move it? Does a tanh RNN that learns the adding problem move towards "
    "the critical line, does the LSTM's forget gate open up to the task's horizon, and does "
    "clipping keep the spectral radius of W_hh bounded?")
ORDER = 35          # after the long-range analysis (30), on the same task

CELLS = ("rnn", "gru", "lstm")
LABELS = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM"}


@dataclass(frozen=True)
class Config:
    """One run: a cell trained on the adding problem of ``length`` for ``steps`` steps,
    its joint gradient norm clipped at ``clip`` (0: not clipped), at one seed."""

    cell: str
    clip: float
    length: int
    steps: int
    seed: int


GRID = {"cell": list(CELLS), "clip": [0.0, 1.0], "length": [25], "steps": [2000],
        "seed": list(range(16))}
QUICK_GRID = {"cell": list(CELLS), "clip": [0.0, 1.0], "length": [10], "steps": [60],
              "seed": [0]}

HIDDEN, BATCH, LR = 16, 32, 1e-2
EVERY, PROBE = 50, 32
SUCCESS = 0.1        # solved: test loss < SUCCESS * baseline
N_TEST = 1000
RHO_MARGIN = 0.25    # "clipping makes no difference" only if the peak radii agree within this
MF_MARGIN = 0.1      # nats/step: agreement of lambda_max at init with the mean field
QUANTITY_LABELS = {"rho": r"$\rho(W_{hh})$", "lambda_max": r"$\lambda_{\max}$ (nats/step)",
                   "decay_rate": "decay of $\\|dL/ds_t\\|$ (nats/step)",
                   "timescale": "gate timescale (steps)"}
CRITICAL = {"rho": 1.0, "lambda_max": 0.0, "decay_rate": 0.0}


def run(config: Config) -> list[dict]:
    """Train one model with the dynamics recorded; its trajectory, gates and outcome."""
    from gradflow.dynamics import measure_dynamics
    from gradflow.engine.heads import split_params

    cell, clip, T, steps, seed = (config.cell, config.clip, config.length, config.steps,
                                  config.seed)
    task = gradflow.tasks.AddingProblem(T)
    net = gradflow.Network(cell, task.input_size, HIDDEN, dtype="float32")
    hist = gradflow.train(net, task, steps, BATCH, optimizer="adam", lr=LR,
                          clip=clip or None, seed=seed, record_every=steps,
                          diagnostics=("dynamics",), dynamics_every=EVERY,
                          probe_size=PROBE, nonfinite="skip", progress=False)
    test = gradflow.evaluate(net, hist.params, task, n=N_TEST, seed=10_000 + seed)
    # The recording's last row is at step steps - 1, before the last update: measure the
    # final parameters (those the test loss scores) with the same function and seed, as
    # step `steps`.
    measured = {}
    for when, params in (("init", hist.initial_params), ("final", hist.params)):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            measured[when] = measure_dynamics(net, split_params(params)[0], hist.probe,
                                              seed=seed)
    dyn = pd.concat([hist.diagnostics["dynamics"],
                     measured["final"].numbers.assign(step=steps)], ignore_index=True)
    rows: list[dict] = [{"kind": "trajectory", "step": int(r.step), "quantity": r.quantity,
                         "value": float(r.value), "low": float(r.low), "high": float(r.high)}
                        for r in dyn.itertuples(index=False)]
    gate = KEEP_GATE[cell]
    for when in ("init", "final") if gate is not None else ():
        gates = measured[when].gates
        means = gates[gates.gate == gate]["mean"].to_numpy(np.float64)
        with np.errstate(divide="ignore"):
            tau = -1.0 / np.log(np.clip(means, 0.0, 1.0))
        rows += [{"kind": "unit", "when": when, "unit": u, "timescale": float(v)}
                 for u, v in enumerate(tau)]
    rows.append({"kind": "summary", "test_loss": float(test["loss"]),
                 "mean_field_lambda": _mean_field_lambda(net, hist.initial_params, hist.probe),
                 "baseline": float(task.baseline()),
                 "success": bool(test["loss"] < SUCCESS * task.baseline()),
                 "n_clipped": int(hist.n_clipped), "n_skipped": int(hist.n_skipped)})
    return rows


def _mean_field_lambda(net, params: dict, probe: np.ndarray) -> float:
    """The driven mean-field exponent 1/2 ln chi of a tanh RNN's initial parameters (NaN for
    a gated cell): gain^2 = H mean(W_hh^2), input variance mean((U x + b)^2) on the probe."""
    if net.cell != "rnn":
        return float("nan")
    from gradflow.diagnostics.theory import driven_mean_field

    H = net.hidden_size
    w_hh = params["weight_hh_l0"].astype(np.float64)
    drive = (probe.astype(np.float64) @ params["weight_ih_l0"].T.astype(np.float64)
             + params["bias_ih_l0"] + params["bias_hh_l0"])            # (T, B, H)
    theory = driven_mean_field(float(np.sqrt(H * np.mean(w_hh ** 2))),
                               float(np.mean(drive ** 2)))
    return -theory.rate


# ----------------------------------------------------------------------------- summarize

def runs_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run: outcome, tracked quantities at init / end / peak, longest unit."""
    summary = frame[frame.kind == "summary"]
    cols = [*RUN_KEYS, "length", "test_loss", "baseline", "success", "n_clipped", "n_skipped",
            "mean_field_lambda"]
    runs = summary[cols].copy()
    runs["success"] = runs.success.astype(bool)
    runs = runs.merge(per_run(tracked(frame[frame.kind == "trajectory"])), on=RUN_KEYS,
                      how="left")
    units = frame[frame.kind == "unit"]
    if len(units):
        longest = units.pivot_table(index=RUN_KEYS, columns="when", values="timescale",
                                    aggfunc="max")
        longest.columns = [f"unit_timescale_max_{c}" for c in longest.columns]
        runs = runs.merge(longest.reset_index(), on=RUN_KEYS, how="left")
    for c in ("unit_timescale_max_init", "unit_timescale_max_final"):
        if c not in runs:
            runs[c] = np.nan
    with np.errstate(invalid="ignore"):
        runs["lambda_toward_zero"] = (runs.lambda_max_final.abs()
                                      - runs.lambda_max_init.abs())
    return runs.sort_values(RUN_KEYS, kind="stable").reset_index(drop=True)


def groups_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell and clipping: runs, solved (Wilson CI), medians at init and at the end."""
    rows = []
    order = {c: i for i, c in enumerate(CELLS)}
    runs = runs.sort_values(["cell", "clip"], key=lambda s: s.map(order) if s.name == "cell"
                            else s, kind="stable")
    for (cell, clip), g in runs.groupby(["cell", "clip"], sort=False):
        rate, low, high = rate_ci(int(g.success.sum()), len(g))
        row = {"cell": cell, "clip": "none" if clip == 0 else f"{clip:g}", "runs": len(g),
               "solved": int(g.success.sum()), "solved_rate": rate, "solved_ci_low": low,
               "solved_ci_high": high}
        for q in TRACKED:
            row[f"{q}_init"] = float(g[f"{q}_init"].median())
            row[f"{q}_final"] = float(g[f"{q}_final"].median())
        row["rho_peak"] = float(g.rho_peak.median())
        row["unit_timescale_max_final"] = float(g.unit_timescale_max_final.median())
        row["steps_clipped"] = float(g.n_clipped.median())
        rows.append(row)
    return pd.DataFrame(rows)


def _interval(values) -> tuple[float, float, float]:
    return mean_ci(np.asarray(values, dtype=np.float64))


def _worded(claim: Claim, group: str, holds: str, fails: str, inconclusive: str, *,
            before: str = "", after: str = "") -> Claim:
    """``claim`` with its reader's sentence per verdict, ``before + words + after``, in
    ``group``; ``{evidence}`` in ``after`` is the claim's evidence."""
    tail = after.replace("{evidence}", claim.evidence)
    return claim.reads(Says(holds=before + holds + tail, fails=before + fails + tail,
                            inconclusive=before + inconclusive + tail), group=group)


def _listed(i: int, n: int, lead: str, end: str = ".") -> tuple[str, str]:
    """The ``before`` and ``after`` of item ``i`` of ``n`` in a sentence that lists one
    claim per item, "LEAD a (evidence); b (evidence); c (evidence)END"."""
    return (lead if i == 0 else ""), " ({evidence})" + (end if i == n - 1 else ";")


def claim_rnn_critical(summary: Summary, runs: pd.DataFrame) -> None:
    """The tanh RNN: solved runs approach lambda_max = 0, nearer than unsolved ones; their
    W_hh ends with a spectral radius above 1 while the driven dynamics stay ordered."""
    rnn = runs[runs.cell == "rnn"]
    solved, failed = rnn[rnn.success], rnn[~rnn.success]
    mean, low, high = _interval(rnn.lambda_max_init)
    summary.claim(_worded(matches(
        "rnn_init_mean_field",
        f"At initialization the tanh RNN's lambda_max matches the driven mean-field exponent "
        f"1/2 ln chi within {MF_MARGIN:g} nats/step.",
        mean, low, high, float(rnn.mean_field_lambda.mean()), MF_MARGIN,
        what=f"mean lambda_max at init over {len(rnn)} runs"), "rnn_start",
        before="Where the tanh RNN starts. ",
        holds="At initialization its lambda_max agrees with the driven mean-field exponent "
              "1/2 ln chi of its own weights and inputs",
        fails="At initialization its lambda_max disagrees with the driven mean-field exponent "
              "1/2 ln chi of its own weights and inputs",
        inconclusive="Whether its lambda_max at initialization agrees with the driven "
                     "mean-field exponent 1/2 ln chi is not settled",
        after=" ({evidence}; gain^2 = H mean(W_hh^2), input variance mean((U x + b)^2) on "
              "the probe; a mean-field value is the N -> infinity limit, here "
              f"H = {HIDDEN})."))
    summary.claim(_worded(below(
        "rnn_approaches_critical",
        "Training moves a tanh RNN that solves the task towards the critical line: "
        "|lambda_max| falls from initialization to the end.",
        *_interval(solved.lambda_toward_zero), 0.0,
        what=f"mean change of |lambda_max| over {len(solved)} solved runs (nats/step)"),
        "rnn_training", before="Where training takes it. ",
        holds="Tanh RNN runs that solve the task move towards the critical line: "
              "|lambda_max| falls during training",
        fails="Tanh RNN runs that solve the task move away from the critical line: "
              "|lambda_max| grows during training",
        inconclusive="Whether tanh RNN runs that solve the task move towards the critical "
                     "line is not settled by these runs", after=" ({evidence})."))
    summary.claim(proportion(
        "rnn_most_approach", "In most solved tanh RNN runs, lambda_max ends nearer 0 than "
        "it started.", int((solved.lambda_toward_zero < 0).sum()), len(solved), 0.5))
    summary.claim(_worded(differ(
        "rnn_solved_nearer_critical",
        "Tanh RNN runs that solve the task end nearer the critical line (smaller "
        "|lambda_max|) than runs that do not.",
        solved.lambda_max_final.abs(), failed.lambda_max_final.abs(), alternative="less",
        labels=("solved", "unsolved")), "rnn_training",
        holds="Solved runs also end nearer it than unsolved ones",
        fails="Unsolved runs end nearer it than solved ones",
        inconclusive="Whether solved runs end nearer it than unsolved ones is not settled",
        after=" ({evidence}; the power table gives the shift this comparison could detect)."))
    claim_rnn_trained(summary, solved)


def claim_rnn_trained(summary: Summary, solved: pd.DataFrame) -> None:
    """Solved tanh RNNs: W_hh's spectral radius ends above 1, the dynamics stay ordered."""
    summary.claim(_worded(exceeds(
        "rnn_radius_above_one",
        "Solved tanh RNNs end with a spectral radius of W_hh above 1.",
        *_interval(solved.rho_final), 1.0, what=f"mean rho over {len(solved)} solved runs"),
        "rnn_training",
        holds="Their W_hh ends with a spectral radius above 1 ",
        fails="Their W_hh ends with a spectral radius at or below 1 ",
        inconclusive="Whether their W_hh ends with a spectral radius above 1 is not settled ",
        after="({evidence}),"))
    summary.claim(_worded(below(
        "rnn_stays_ordered",
        "Solved tanh RNNs stay on the ordered side (lambda_max < 0) on the task's inputs.",
        *_interval(solved.lambda_max_final), 0.0,
        what=f"mean final lambda_max over {len(solved)} solved runs (nats/step)"),
        "rnn_training",
        holds="and lambda_max stays below 0: the linearization of W_hh at the zero state "
              "would be unstable, yet on the trajectories that the task's inputs drive, the "
              "dynamics stay ordered",
        fails="and lambda_max ends above 0: the trained dynamics are chaotic on the "
              "task's inputs",
        inconclusive="and lambda_max ends too close to 0 to tell its side",
        after=" ({evidence})."))


def claim_gates(summary: Summary, runs: pd.DataFrame, length: int) -> None:
    """The forget (LSTM) or update (GRU) gate of solved runs against the horizon T: the
    longest-lived unit, and the median unit."""
    for cell, gate in (("lstm", "forget"), ("gru", "update")):
        solved = runs[(runs.cell == cell) & runs.success]
        reach = solved.unit_timescale_max_final >= length / 2
        summary.claim(_worded(proportion(
            f"{cell}_unit_reaches_horizon",
            f"In most solved {LABELS[cell]} runs, some unit's {gate} gate keeps its content "
            f"for at least half the horizon (timescale >= T/2 = {length / 2:g} steps).",
            int(reach.sum()), len(solved), 0.5), f"{cell}_gate",
            before=f"The {LABELS[cell]}'s {gate} gate against the horizon T = {length}. ",
            holds=f"In most solved runs at least one unit's {gate} gate opens to half the "
                  f"horizon or more",
            fails=f"In most solved runs no unit's {gate} gate opens to half the horizon",
            inconclusive=f"Whether a unit's {gate} gate opens to half the horizon is not "
                         f"settled", after=" ({evidence});"))
        summary.claim(_worded(exceeds(
            f"{cell}_median_reaches_horizon",
            f"The {gate} gate of the median {LABELS[cell]} unit opens to half the horizon: "
            f"its timescale ends above T/2 = {length / 2:g} steps in solved runs.",
            *_interval(solved.timescale_final), length / 2,
            what=f"mean final median-unit timescale over {len(solved)} solved runs (steps)"),
            f"{cell}_gate",
            holds="so does the median unit's",
            fails="the median unit's does not: the long memory sits in a few units, not in "
                  "the gate as a whole",
            inconclusive="whether the median unit's does is not settled",
            after=" ({evidence})."))


def claim_near_critical(summary: Summary, runs: pd.DataFrame, length: int) -> None:
    """Per cell: solved runs end at the critical line on the task's scale, |lambda| <= 1/T
    (a gradient crossing the whole horizon changes by at most a factor e)."""
    for i, cell in enumerate(CELLS):
        solved = runs[(runs.cell == cell) & runs.success]
        before, after = _listed(i, len(CELLS), NEAR_CRITICAL_LEAD)
        summary.claim(_worded(matches(
            f"near_critical_{cell}",
            f"Solved {LABELS[cell]} runs end at the critical line on the horizon's scale: "
            f"|lambda_max| <= 1/T = {1 / length:.3g} nats/step.",
            *_interval(solved.lambda_max_final), 0.0, 1.0 / length,
            what=f"mean final lambda_max over {len(solved)} solved runs"), "near_critical",
            f"{LABELS[cell]} within it", f"{LABELS[cell]} outside it",
            f"{LABELS[cell]} not settled", before=before, after=after))


def claim_clip_and_decay(summary: Summary, runs: pd.DataFrame) -> None:
    """Per cell: clipping lowers the peak spectral radius; training slows the decay."""
    cells = [cell for cell in CELLS if (runs.cell == cell).any()]
    for i, cell in enumerate(cells):
        r = runs[runs.cell == cell]
        clipped, free = r[r["clip"] > 0], r[r["clip"] == 0]
        before, after = _listed(i, len(cells), CLIP_LEAD, CLIP_END)
        summary.claim(_worded(differ(
            f"clip_bounds_rho_{cell}",
            f"Clipping keeps the {LABELS[cell]}'s spectral radius lower: its peak over "
            f"training is smaller with clipping than without.",
            clipped.rho_peak, free.rho_peak, alternative="less", margin=RHO_MARGIN,
            labels=("clipped", "unclipped")), "clipping",
            f"clipping lowers the {LABELS[cell]}'s peak radius",
            f"clipping does not lower the {LABELS[cell]}'s peak radius",
            f"for the {LABELS[cell]} the effect of clipping on the peak radius is not settled",
            before=before, after=after))
        solved = r[r.success]
        with np.errstate(invalid="ignore"):
            change = solved.decay_rate_final - solved.decay_rate_init
        before, after = _listed(i, len(cells), DECAY_LEAD)
        summary.claim(_worded(below(
            f"decay_slows_{cell}",
            f"Training slows the decay of the gradient back in time in a {LABELS[cell]} "
            f"that solves the task.",
            *_interval(change), 0.0,
            what=f"mean change of the decay rate over {len(solved)} solved runs (nats/step)"),
            "decay", f"{LABELS[cell]}: slower", f"{LABELS[cell]}: not slower",
            f"{LABELS[cell]}: not settled", before=before, after=after))


NEAR_CRITICAL_LEAD = ("How close is close: solved runs within 1/T of lambda_max = 0 (a "
                      "gradient crossing the whole horizon then changes by at most a "
                      "factor e): ")
CLIP_LEAD = "Clipping, under Adam (whose steps are normalized per parameter): "
CLIP_END = (f". No difference is concluded only when the peak radii agree within "
            f"+-{RHO_MARGIN:g} by TOST.")
DECAY_LEAD = "Gradient decay back in time, at the end of solved runs compared with their start: "

#: How the section's claims read, in this order: one paragraph per group.
GROUPS = [Group(key, new_paragraph=True) for key in (
    "rnn_start", "rnn_training", "near_critical", "lstm_gate", "gru_gate", "clipping",
    "decay")]


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables (runs, groups, trajectories), citable numbers and every claim."""
    summary = Summary()
    length = int(frame.length.iloc[0])
    runs = runs_table(frame)
    summary.tables["runs"] = runs
    summary.tables["groups"] = groups_table(runs)
    track = tracked(frame[frame.kind == "trajectory"])
    summary.tables["trajectory"] = track.merge(runs[[*RUN_KEYS, "success"]], on=RUN_KEYS)

    theory = runs[runs.cell == "rnn"].mean_field_lambda
    summary.tables["theory"] = pd.DataFrame(
        [{"cell": "rnn", "quantity": "lambda_max", "step": 0,
          "mean_field": float(theory.mean())}] if len(theory) else [],
        columns=["cell", "quantity", "step", "mean_field"])
    claim_rnn_critical(summary, runs)
    claim_gates(summary, runs, length)
    claim_near_critical(summary, runs, length)
    claim_clip_and_decay(summary, runs)
    summary.tables["power"] = power_table(summary, runs)
    cite_numbers(summary, runs, length)
    for group in GROUPS:
        summary.group(group)
    return summary


def power_table(summary: Summary, runs: pd.DataFrame) -> pd.DataFrame:
    """The shift each rank test detects with 80% power; cites the tanh RNN's."""
    rnn = runs[runs.cell == "rnn"]
    n_solved, n_failed = int(rnn.success.sum()), int((~rnn.success).sum())
    shift = detectable_shift(n_solved, n_failed)
    power = pd.DataFrame([{"comparison": "tanh RNN solved vs unsolved", "n_a": n_solved,
                           "n_b": n_failed, "detectable_shift_sd": shift}])
    for cell in CELLS:
        r = runs[runs.cell == cell]
        power.loc[len(power)] = {"comparison": f"{LABELS[cell]} clipped vs unclipped",
                                 "n_a": int((r["clip"] > 0).sum()),
                                 "n_b": int((r["clip"] == 0).sum()),
                                 "detectable_shift_sd": detectable_shift(
                                     int((r["clip"] > 0).sum()), int((r["clip"] == 0).sum()))}
    if np.isfinite(shift):
        summary.number("RnnDetectableShift", shift,
                       "shift (in standard deviations) the rank test between solved and "
                       "unsolved tanh RNN runs detects with 80% power", unit="SD")
    return power


def cite_numbers(summary: Summary, runs: pd.DataFrame, length: int) -> None:
    """Solved fractions per cell, the LSTM's longest forget-gate timescale, T."""
    for cell in CELLS:
        r = runs[runs.cell == cell]
        if len(r):
            rate, low, high = rate_ci(int(r.success.sum()), len(r))
            summary.number(f"Solved{LABELS[cell].split()[-1].capitalize()}", rate,
                           f"fraction of {LABELS[cell]} runs that solve the adding problem "
                           f"(T = {length}), clipped and unclipped together", low=low, high=high)
    lstm = runs[(runs.cell == "lstm") & runs.success].unit_timescale_max_final
    if len(lstm) and np.isfinite(np.median(lstm)):
        summary.number("LstmLongestTimescale", float(np.median(lstm)),
                       f"median over solved LSTM runs of the longest forget-gate timescale "
                       f"among units (T = {length})", unit="steps")
    summary.number("LengthT", length, "sequence length of the adding problem", digits=4)


# -------------------------------------------------------------------------------- render

def _trajectory_figure(track: pd.DataFrame, theory: pd.DataFrame, length: int,
                       out) -> None:
    quantities = ["rho", "lambda_max", "decay_rate", "timescale"]
    cells = [c for c in CELLS if c in set(track.cell)]
    fig, axes = new_figure("page", 6.4, nrows=len(quantities), ncols=len(cells),
                           sharex=True, sharey="row", squeeze=False)
    for j, cell in enumerate(cells):
        t = track[track.cell == cell]
        for i, q in enumerate(quantities):
            ax = axes[i][j]
            for (clip, _seed), g in t.groupby(["clip", "seed"]):
                solved = bool(g.success.iloc[0])
                ax.plot(g.step, g[q], lw=0.7, alpha=0.7 if solved else 0.45,
                        color=CELL_COLORS[cell] if solved else "0.55",
                        ls="--" if clip > 0 else "-")
            if q in CRITICAL:
                ax.axhline(CRITICAL[q], color="k", lw=0.9, ls=":")
            elif KEEP_GATE[cell] is not None:
                ax.axhline(length, color="k", lw=0.9, ls=":")
            for th in theory[(theory.cell == cell) & (theory.quantity == q)].itertuples():
                ax.plot([th.step], [th.mean_field], marker="D", ms=4, color="k", ls="none",
                        label="mean field, init", zorder=5)
                ax.legend(loc="lower right", fontsize=6)
            if q == "timescale":
                ax.set_yscale("log")
                ax.yaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 50, 100]))
                ax.yaxis.set_major_formatter(ScalarFormatter())
                ax.yaxis.set_minor_formatter(NullFormatter())
                if KEEP_GATE[cell] is None:
                    ax.text(0.5, 0.5, "no gate", ha="center", va="center",
                            transform=ax.transAxes, color="0.4")
            if j == 0:
                ax.set_ylabel(QUANTITY_LABELS[q])
            if i == 0:
                ax.set_title(LABELS[cell], color=CELL_COLORS[cell])
            if i == len(quantities) - 1:
                ax.set_xlabel("training step")
    axes[0][0].plot([], [], color="0.2", lw=0.8, label="no clipping")
    axes[0][0].plot([], [], color="0.2", lw=0.8, ls="--", label="clip 1")
    axes[0][0].plot([], [], color="0.55", lw=0.8, label="not solved")
    axes[0][0].legend(loc="upper left", fontsize=6)
    out.figure("trajectories", fig, track,
               caption=f"Trajectories over training on the adding problem ($T = {length}$): "
                       f"each run in its cell's colour if it solved the task, grey if not; "
                       f"dotted: the critical line.",
               description=f"Every run's recorded trajectory (every {EVERY} steps, probe "
                           f"batch of {PROBE}): rows are the largest spectral radius over "
                           f"the gate blocks of W_hh, the largest Lyapunov exponent, the "
                           f"fitted decay rate of ||dL/ds_t|| and the median forget (LSTM) "
                           f"or update (GRU) gate timescale; solid lines unclipped, dashed "
                           f"clipped at 1. Dotted lines: rho = 1, lambda_max = 0, decay 0 "
                           f"and the horizon T = {length} steps; diamond: the driven "
                           f"mean-field exponent of the tanh RNN at initialization.")


def _phase_figure(runs: pd.DataFrame, out) -> None:
    fig, ax = new_figure("column", 3.0)
    markers = {"rnn": "o", "gru": "s", "lstm": "^"}
    for cell in [c for c in CELLS if c in set(runs.cell)]:
        r = runs[runs.cell == cell]
        ax.scatter(r.rho_init, r.lambda_max_init, s=8, marker=markers[cell], color="0.7",
                   lw=0)
        for solved, face in ((True, CELL_COLORS[cell]), (False, "none")):
            s = r[r.success == solved]
            if s.empty:
                continue
            ax.scatter(s.rho_final, s.lambda_max_final, s=16, marker=markers[cell],
                       facecolors=face, edgecolors=CELL_COLORS[cell], lw=0.8,
                       label=f"{LABELS[cell]}, {'solved' if solved else 'not solved'}")
    ax.axhline(0.0, color="k", lw=0.9, ls=":")
    ax.axvline(1.0, color="k", lw=0.9, ls=":")
    ax.set_xlabel(r"$\rho(W_{hh})$ (largest over gate blocks)")
    ax.set_ylabel(r"$\lambda_{\max}$ (nats/step)")
    fig.legend(loc="outside lower center", ncols=2)
    data = runs[[*RUN_KEYS, "success", "rho_init", "lambda_max_init", "rho_final",
                 "lambda_max_final"]]
    out.figure("phase", fig, data,
               caption=r"Where training ends: $\lambda_{\max}$ against $\rho(W_{hh})$ per run "
                       r"(filled: solved, open: not; grey: at initialization); dotted: "
                       r"$\lambda_{\max} = 0$ and $\rho = 1$.",
               description="Each run's largest Lyapunov exponent on the probe batch against "
                           "the largest spectral radius over the gate blocks of W_hh, at "
                           "initialization (small grey) and after training (coloured).")


def groups_table_out(summary: Summary, length: int, out) -> None:
    """Solved runs and the medians at initialization and at the end, per cell and clip."""
    out.table("groups", summary.tables["groups"],
              caption=f"Adding problem, $T = {length}$: solved runs and the median of each "
                      f"tracked quantity at initialization and at the end, per cell and "
                      f"clipping.", labels=LABELS,
              columns={"cell": "cell", "clip": "clip", "solved_rate": "solved",
                       "rho_init": r"$\rho$ init", "rho_final": r"$\rho$ end",
                       "lambda_max_init": r"$\lambda_{\max}$ init",
                       "lambda_max_final": r"$\lambda_{\max}$ end",
                       "decay_rate_final": "decay end", "timescale_final": "timescale end",
                       "unit_timescale_max_final": "longest unit"},
              description="Medians over seeds; solved with its 95% Wilson interval; "
                          "rho: largest spectral radius over the gate blocks of W_hh "
                          "(its peak over training is in the CSV); timescale: the median unit's "
                          "forget (LSTM) or update (GRU) gate timescale, longest unit: the "
                          "largest per-unit timescale at the end (steps).")


def power_table_out(summary: Summary, out) -> None:
    """The shift each rank test detects with 80% power."""
    out.table("power", summary.tables["power"],
              caption="Power of the rank tests: the shift (in standard deviations) each "
                      "comparison detects with 80% probability.",
              columns={"comparison": "comparison", "n_a": "runs (a)", "n_b": "runs (b)",
                       "detectable_shift_sd": "shift (SD)"})


def setup_text(frame: pd.DataFrame, summary: Summary) -> str:
    """The setup paragraph (states no result)."""
    length, steps = int(frame.length.iloc[0]), int(frame.steps.iloc[0])
    return (f"Setup: the adding problem at T = {length}, {steps} Adam steps (lr {LR:g}, "
            f"batch {BATCH}, hidden {HIDDEN}, float32), "
            f"{summary.tables['runs'].seed.nunique()} seeds per cell "
            f"and clipping setting (none, or the joint norm clipped at 1). Every {EVERY} "
            f"steps `train` records the spectral picture on a fixed probe batch of {PROBE} "
            f"sequences; a run is solved when its test loss is below {SUCCESS:g} x the 1/6 "
            f"baseline.")


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: setup, two figures, two tables, then the claims (their prose)."""
    summary = summarize(frame)
    length = int(frame.length.iloc[0])
    out.text(setup_text(frame, summary))
    _trajectory_figure(summary.tables["trajectory"], summary.tables["theory"], length, out)
    _phase_figure(summary.tables["runs"], out)
    groups_table_out(summary, length, out)
    power_table_out(summary, out)
    out.summary(summary)
