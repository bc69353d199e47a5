"""Training moves the dynamics: spectral radius, gradient decay, Lyapunov exponent, gates.

Each run trains one model (hidden 16, batch 32, Adam lr 1e-2, float32) on the adding
problem of length T, with or without norm clipping at 1, and records every
``EVERY`` steps (``gradflow.train``'s ``"dynamics"`` recording, on a fixed probe
batch of ``PROBE`` task sequences) the spectral picture of ``gradflow.dynamics``: the
spectral radius and largest singular value of each gate block of W_hh, the fitted
decay rate of ||dL/ds_t||, the largest Lyapunov exponent and, for the gated cells, the
median timescale -1/ln(mean gate) of the forget (LSTM) or update (GRU) gate. On the
same steps it measures lambda_max on a long probe (a warm-up of 10 T steps, then 10 T
steps averaged: the task-length probe's warm-up of T // 10 steps biases it) and the
loss on a fixed held-out batch, so that the step at which a run first solves can be
set against the step at which it reaches the critical line (issue 25: the claim about
the critical line, in time order). The per-unit timescales at initialization and at
the end come from ``measure_dynamics`` on the initial and final parameters (the same
function the recording calls), which also adds the final parameters' numbers to the
trajectory (the recording's last row is before the last update). A run solves the task
when its test loss at the end is below a tenth of the 1/6 baseline, as in the
long-range analysis; it first solves at the first held-out check below that threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from _dynamics import (
    KEEP_GATE,
    LONG_BATCH,
    LONG_FACTOR,
    RUN_KEYS,
    TRACKED,
    detectable_shift,
    per_run,
    time_order,
    tracked,
    train_recorded,
)
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

import gradflow
from gradflow.engine.heads import split_params
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
from gradflow.report.leave_one_out import steady
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
#: Every verdict recomputed on the round-off replicate (the NumPy reference backend):
#: a trained run is a per-seed draw of a chaotic process, so this section is where
#: round-off can move a verdict (issue 30).
REPLICATE = True

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


# The tanh RNN solves the task in about one run in five: 40 seeds per clipping setting
# give it about 16 solved runs to state its claims over (issue 30: 6 solved runs let the
# BLAS kernels decide "solved tanh RNNs stay ordered"), and runs that never solve as the
# control of the time-order claim. The gated cells solve every run with 16.
RNN_SEEDS, GATED_SEEDS = 40, 16
GRID = [{"cell": ["rnn"], "clip": [0.0, 1.0], "length": [25], "steps": [2000],
         "seed": list(range(RNN_SEEDS))},
        {"cell": ["gru", "lstm"], "clip": [0.0, 1.0], "length": [25], "steps": [2000],
         "seed": list(range(GATED_SEEDS))}]
QUICK_GRID = {"cell": list(CELLS), "clip": [0.0, 1.0], "length": [10], "steps": [60],
              "seed": [0]}

HIDDEN, BATCH, LR = 16, 32, 1e-2
EVERY, PROBE, HELD = 50, 32, 500
SUCCESS = 0.1        # solved: test loss < SUCCESS * baseline
N_TEST = 1000
RHO_MARGIN = 0.25    # "clipping makes no difference" only if the peak radii agree within this
MF_MARGIN = 0.1      # nats/step: agreement of lambda_max at init with the mean field
QUANTITY_LABELS = {"rho": r"$\rho(W_{hh})$", "lambda_max": r"$\lambda_{\max}$ (nats/step)",
                   "decay_rate": "decay of $\\|dL/ds_t\\|$\n(nats/step)",
                   "timescale": "gate timescale (steps)"}
CRITICAL = {"rho": 1.0, "lambda_max": 0.0, "decay_rate": 0.0}
BAND = ("lambda_max", "decay_rate")     # drawn with the band |value| < 1/T


def run(config: Config) -> list[dict]:
    """Train one model with the dynamics recorded; its trajectory, checks, gates, outcome.

    The training is ``gradflow.train``'s (the same seed streams, batches and updates:
    :func:`_dynamics.train_recorded`), with two more recorders: lambda_max on a long probe
    and the loss on a fixed held-out batch every ``EVERY`` updates.
    """
    from gradflow.dynamics import measure_dynamics

    cell, clip, T, steps, seed = (config.cell, config.clip, config.length, config.steps,
                                  config.seed)
    task = gradflow.tasks.AddingProblem(T)
    net = gradflow.Network(cell, task.input_size, HIDDEN, dtype="float32")
    rec = train_recorded(net, task, steps=steps, batch=BATCH, lr=LR, clip=clip or None,
                         seed=seed, every=EVERY, probe_size=PROBE, held_size=HELD)
    final = split_params(rec.final)[0]
    test = gradflow.evaluate(net, rec.final, task, n=N_TEST, seed=10_000 + seed)
    # The recording's last row is at step steps - 1, before the last update: measure the
    # final parameters (those the test loss scores) with the same function and seed, as
    # step `steps`.
    measured = {}
    for when, params in (("init", split_params(rec.initial)[0]), ("final", final)):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            measured[when] = measure_dynamics(net, params, rec.probe, seed=seed)
    rows: list[dict] = [{"kind": "trajectory", "step": int(r[0]), "quantity": r[3],
                         "value": float(r[4]), "low": float(r[5]), "high": float(r[6])}
                        for r in rec.dynamics]
    rows += [{"kind": "trajectory", "step": steps, "quantity": r.quantity,
              "value": float(r.value), "low": float(r.low), "high": float(r.high)}
             for r in measured["final"].numbers.itertuples(index=False)]
    rows += [{"kind": "trajectory", "step": int(k), "quantity": "lambda_long",
              "value": float(v), "low": np.nan, "high": np.nan} for k, v in rec.long]
    rows += [{"kind": "check", "step": int(k), "held_loss": float(v)} for k, v in rec.checks]
    gate = KEEP_GATE[cell]
    for when in ("init", "final") if gate is not None else ():
        gates = measured[when].gates
        means = gates[gates.gate == gate]["mean"].to_numpy(np.float64)
        with np.errstate(divide="ignore"):
            tau = -1.0 / np.log(np.clip(means, 0.0, 1.0))
        rows += [{"kind": "unit", "when": when, "unit": u, "timescale": float(v)}
                 for u, v in enumerate(tau)]
    rows.append({"kind": "summary", "test_loss": float(test["loss"]),
                 "mean_field_lambda": _mean_field_lambda(net, rec.initial, rec.probe),
                 "baseline": float(task.baseline()),
                 "success": bool(test["loss"] < SUCCESS * task.baseline()),
                 "n_clipped": rec.n_clipped, "n_skipped": rec.n_skipped})
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
    return runs.sort_values(RUN_KEYS, kind="stable").reset_index(drop=True)


def order_table(frame: pd.DataFrame, runs: pd.DataFrame, length: int) -> pd.DataFrame:
    """Per run, the time order (:func:`_dynamics.time_order`, band 1/T) and its outcome."""
    checks = frame[frame.kind == "check"][[*RUN_KEYS, "step", "held_loss"]]
    threshold = runs.set_index(RUN_KEYS).baseline * SUCCESS
    order = time_order(tracked(frame[frame.kind == "trajectory"]), checks, threshold,
                       1.0 / length)
    return order.merge(runs[[*RUN_KEYS, "success"]], on=RUN_KEYS, how="left")


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


def order_summary(order: pd.DataFrame) -> pd.DataFrame:
    """Per cell: runs that solve (at a held-out check) and when; how many of them were at
    the critical line (lambda_max, decay rate) by then; how many of those that never
    solve reached it within the budget. Rates with 95% Wilson intervals."""
    rows = []
    for cell in [c for c in CELLS if c in set(order.cell)]:
        g = order[order.cell == cell]
        solves, never = g[g.solves], g[~g.solves]
        row = {"cell": cell, "runs": len(g), "solve": len(solves),
               "solve_step_median": float(solves.solve_step.median()),
               "lambda_step_median": float(g.lambda_step.median())}
        for name, sub, column in (("lambda_first", solves, "lambda_first"),
                                  ("decay_first", solves, "decay_first"),
                                  ("lambda_never", never, "lambda_ever")):
            k = int(sub[column].sum())
            rate, low, high = rate_ci(k, len(sub))
            row.update({f"{name}_k": k, f"{name}_n": len(sub), f"{name}_rate": rate,
                        f"{name}_ci_low": low, f"{name}_ci_high": high})
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


def _mean_below(name: str, statement: str, what: str, threshold: float):
    """A :func:`below` claim on the mean of one sample (for :func:`steady`)."""
    return lambda v: below(name, statement, *_interval(v), threshold,
                           what=f"{what} over {len(v)} runs")


def _mean_above(name: str, statement: str, what: str, threshold: float):
    """An :func:`exceeds` claim on the mean of one sample (for :func:`steady`)."""
    return lambda v: exceeds(name, statement, *_interval(v), threshold,
                             what=f"{what} over {len(v)} runs")


def _most(name: str, statement: str, threshold: float = 0.5):
    """A :func:`proportion` claim on a sample of 0/1 outcomes (for :func:`steady`)."""
    return lambda v: proportion(name, statement, int(np.sum(v)), len(v), threshold)


def claim_rnn_start(summary: Summary, runs: pd.DataFrame) -> None:
    """The tanh RNN at initialization: lambda_max (long probe) against the mean field."""
    # One value per seed: the clipped and unclipped runs of a seed start from the same
    # parameters (counting both would count one measurement twice).
    rnn = runs[runs.cell == "rnn"].groupby("seed")[["lambda_max_init",
                                                     "mean_field_lambda"]].first()
    predicted = float(rnn.mean_field_lambda.mean())
    summary.claim(_worded(steady(lambda v: matches(
        "rnn_init_mean_field",
        f"At initialization the tanh RNN's lambda_max matches the driven mean-field exponent "
        f"1/2 ln chi within {MF_MARGIN:g} nats/step.",
        *_interval(v), predicted, MF_MARGIN,
        what=f"mean lambda_max (long probe) at init over {len(v)} seeds"),
        rnn.lambda_max_init),
        "rnn_start", before="Where the tanh RNN starts. ",
        holds="At initialization its lambda_max agrees with the driven mean-field exponent "
              "1/2 ln chi of its own weights and inputs",
        fails="At initialization its lambda_max disagrees with the driven mean-field exponent "
              "1/2 ln chi of its own weights and inputs",
        inconclusive="Whether its lambda_max at initialization agrees with the driven "
                     "mean-field exponent 1/2 ln chi is not settled",
        after=" ({evidence}; gain^2 = H mean(W_hh^2), input variance mean((U x + b)^2) on "
              "the probe; a mean-field value is the N -> infinity limit, here "
              f"H = {HIDDEN})."))


def claim_rnn_trained(summary: Summary, runs: pd.DataFrame) -> None:
    """Solved tanh RNNs against unsolved ones, W_hh's radius and the side they end on."""
    rnn = runs[runs.cell == "rnn"]
    solved, failed = rnn[rnn.success], rnn[~rnn.success]
    summary.claim(_worded(steady(lambda a, b: differ(
        "rnn_solved_nearer_critical",
        "Tanh RNN runs that solve the task end nearer the critical line (smaller "
        "|lambda_max|) than runs that do not.", a, b, alternative="less",
        labels=("solved", "unsolved")), solved.lambda_max_final.abs(),
        failed.lambda_max_final.abs(), labels=("solved", "unsolved")), "rnn_training",
        before="Where training takes it. ",
        holds="Tanh RNN runs that solve the task end nearer the critical line than runs "
              "that do not",
        fails="Tanh RNN runs that do not solve the task end nearer the critical line than "
              "runs that do",
        inconclusive="Whether tanh RNN runs that solve the task end nearer the critical "
                     "line than runs that do not is not settled",
        after=" ({evidence}; the power table gives the shift this comparison could detect)."))
    summary.claim(_worded(steady(_mean_above(
        "rnn_radius_above_one", "Solved tanh RNNs end with a spectral radius of W_hh above 1.",
        "mean rho of solved runs", 1.0), solved.rho_final), "rnn_training",
        holds="Their W_hh ends with a spectral radius above 1 ",
        fails="Their W_hh ends with a spectral radius at or below 1 ",
        inconclusive="Whether their W_hh ends with a spectral radius above 1 is not settled ",
        after="({evidence}),"))
    summary.claim(_worded(steady(_mean_below(
        "rnn_stays_ordered",
        "Solved tanh RNNs stay on the ordered side (lambda_max < 0) on the task's inputs.",
        "mean final lambda_max (long probe, nats/step) of solved runs", 0.0),
        solved.lambda_max_final), "rnn_training",
        holds="and lambda_max stays below 0: the linearization of W_hh at the zero state "
              "would be unstable, yet on the trajectories that the task's inputs drive, the "
              "dynamics stay ordered",
        fails="and lambda_max ends above 0: the trained dynamics are chaotic on the "
              "task's inputs",
        inconclusive="and on which side of 0 lambda_max ends is not settled",
        after=" ({evidence})."))


def claim_time_order(summary: Summary, order: pd.DataFrame, length: int) -> None:
    """Per cell: at the critical line (lambda_max, then the gradient's own decay rate)
    by the time a run first solves; for the tanh RNN, against runs that never solve."""
    cells = [c for c in CELLS if (order.cell == c).any()]
    for what, lead in (("lambda", TIME_LEAD.format(eps=1 / length)),
                       ("decay", DECAY_LEAD.format(eps=1 / length))):
        for i, cell in enumerate(cells):
            g = order[(order.cell == cell) & order.solves]
            before, after = _listed(i, len(cells), lead)
            quantity = ("lambda_max (long probe)" if what == "lambda"
                        else "the decay rate of ||dL/ds_t|| (task-length probe)")
            summary.claim(_worded(steady(_most(
                f"{what}_first_{cell}",
                f"In most {LABELS[cell]} runs that solve, |{quantity}| is below 1/T = "
                f"{1 / length:.3g} nats/step by the held-out check at which the run first "
                f"solves."), g[f"{what}_first"]), f"{what}_order",
                f"{LABELS[cell]} yes", f"{LABELS[cell]} no", f"{LABELS[cell]} not settled",
                before=before, after=after))
    rnn = order[order.cell == "rnn"]
    solves, never = rnn[rnn.solves], rnn[~rnn.solves]
    summary.claim(_worded(steady(lambda a, b: _counted(differ(
        "lambda_marks_solving_rnn",
        "Reaching the critical line marks the tanh RNN runs that learn: runs that solve "
        "are at it by the time they first solve more often than runs that never solve "
        "reach it within the whole budget.", a, b, alternative="greater",
        labels=("solving", "never solving")), a, b),
        solves.lambda_first, never.lambda_ever, labels=("solving", "never-solving")),
        "lambda_order",
        holds="The control: tanh RNN runs that never solve reach the line less often, "
              "within the whole budget, than runs that solve do before solving, so being "
              "at the line marks the runs that learn",
        fails="The control: tanh RNN runs that never solve reach the line more often, "
              "within the whole budget, than runs that solve do before solving, so being "
              "at the line does not mark the runs that learn",
        inconclusive="The control: whether tanh RNN runs that never solve reach the line "
                     "less often than runs that solve is not settled",
        after=" ({evidence}; per-run 0/1 outcomes, the rates with their Wilson "
              "intervals in the time-order table)."))


def _counted(claim: Claim, first: np.ndarray, ever: np.ndarray) -> Claim:
    """``claim`` with the two counts it compares at the head of its evidence."""
    head = (f"at the line by solving {int(np.sum(first))}/{len(first)} runs that solve, "
            f"within the budget {int(np.sum(ever))}/{len(ever)} runs that never solve; ")
    return replace(claim, evidence=head + claim.evidence)


def claim_gates(summary: Summary, runs: pd.DataFrame, length: int) -> None:
    """The forget (LSTM) or update (GRU) gate of solved runs against the horizon T: the
    longest-lived unit, and the median unit."""
    for cell, gate in (("lstm", "forget"), ("gru", "update")):
        solved = runs[(runs.cell == cell) & runs.success]
        summary.claim(_worded(steady(_most(
            f"{cell}_unit_reaches_horizon",
            f"In most solved {LABELS[cell]} runs, some unit's {gate} gate keeps its content "
            f"for at least half the horizon (timescale >= T/2 = {length / 2:g} steps)."),
            solved.unit_timescale_max_final >= length / 2), f"{cell}_gate",
            before=f"The {LABELS[cell]}'s {gate} gate against the horizon T = {length}. ",
            holds=f"In most solved runs at least one unit's {gate} gate opens to half the "
                  f"horizon or more",
            fails=f"In most solved runs no unit's {gate} gate opens to half the horizon",
            inconclusive=f"Whether a unit's {gate} gate opens to half the horizon is not "
                         f"settled", after=" ({evidence});"))
        summary.claim(_worded(steady(_mean_above(
            f"{cell}_median_reaches_horizon",
            f"The {gate} gate of the median {LABELS[cell]} unit opens to half the horizon: "
            f"its timescale ends above T/2 = {length / 2:g} steps in solved runs.",
            "mean final median-unit timescale (steps) of solved runs", length / 2),
            solved.timescale_final), f"{cell}_gate",
            holds="so does the median unit's",
            fails="the median unit's does not: the long memory sits in a few units, not in "
                  "the gate as a whole",
            inconclusive="whether the median unit's does is not settled",
            after=" ({evidence})."))


def claim_near_critical(summary: Summary, runs: pd.DataFrame, length: int) -> None:
    """Per cell: solved runs end at the critical line on the task's scale, |lambda| <= 1/T
    (a gradient crossing the whole horizon changes by at most a factor e)."""
    cells = [c for c in CELLS if (runs.cell == c).any()]
    for i, cell in enumerate(cells):
        solved = runs[(runs.cell == cell) & runs.success]
        before, after = _listed(i, len(cells), NEAR_CRITICAL_LEAD)
        summary.claim(_worded(steady(lambda v, cell=cell: matches(
            f"near_critical_{cell}",
            f"Solved {LABELS[cell]} runs end at the critical line on the horizon's scale: "
            f"|lambda_max| <= 1/T = {1 / length:.3g} nats/step.",
            *_interval(v), 0.0, 1.0 / length,
            what=f"mean final lambda_max (long probe) over {len(v)} solved runs"),
            solved.lambda_max_final), "near_critical",
            f"{LABELS[cell]} within it", f"{LABELS[cell]} outside it",
            f"{LABELS[cell]} not settled", before=before, after=after))


def claim_clip(summary: Summary, runs: pd.DataFrame) -> None:
    """Per cell: clipping lowers the peak spectral radius of W_hh over training."""
    cells = [cell for cell in CELLS if (runs.cell == cell).any()]
    for i, cell in enumerate(cells):
        r = runs[runs.cell == cell]
        before, after = _listed(i, len(cells), CLIP_LEAD, CLIP_END)
        summary.claim(_worded(steady(lambda a, b, cell=cell: differ(
            f"clip_bounds_rho_{cell}",
            f"Clipping keeps the {LABELS[cell]}'s spectral radius lower: its peak over "
            f"training is smaller with clipping than without.",
            a, b, alternative="less", margin=RHO_MARGIN, labels=("clipped", "unclipped")),
            r[r["clip"] > 0].rho_peak, r[r["clip"] == 0].rho_peak,
            labels=("clipped", "unclipped")), "clipping",
            f"clipping lowers the {LABELS[cell]}'s peak radius",
            f"clipping does not lower the {LABELS[cell]}'s peak radius",
            f"for the {LABELS[cell]} the effect of clipping on the peak radius is not settled",
            before=before, after=after))


NEAR_CRITICAL_LEAD = ("How close is close: solved runs within 1/T of lambda_max = 0 at the "
                      "end (a gradient crossing the whole horizon then changes by at most a "
                      "factor e): ")
TIME_LEAD = ("In time order. A run is at the critical line once |lambda_max| on the long "
             "probe falls below 1/T = {eps:.3g} nats/step, and it solves at the first "
             "held-out check whose loss is below the threshold. Is lambda_max at the line "
             "by the time the run first solves, in most runs that solve? ")
DECAY_LEAD = ("With the gradient's own decay rate in place of lambda_max, the rate at "
              "which ||dL/ds_t|| falls over the task's horizon on the task-length probe "
              "(lambda_max is its limit over many steps), below {eps:.3g} nats/step by the "
              "time the run first solves: ")
CLIP_LEAD = "Clipping, under Adam (whose steps are normalized per parameter): "
CLIP_END = (f". No difference is concluded only when the peak radii agree within "
            f"+-{RHO_MARGIN:g} by TOST.")

#: How the section's claims read, in this order: one paragraph per group.
GROUPS = [Group(key, new_paragraph=True) for key in (
    "rnn_start", "rnn_training", "lambda_order", "decay_order", "near_critical",
    "lstm_gate", "gru_gate", "clipping")]


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables (runs, groups, time order, trajectories), citable numbers and every claim."""
    summary = Summary()
    length = int(frame.length.iloc[0])
    runs = runs_table(frame)
    order = order_table(frame, runs, length)
    summary.tables["runs"] = runs
    summary.tables["groups"] = groups_table(runs)
    summary.tables["order"] = order
    summary.tables["time_order"] = order_summary(order)
    track = tracked(frame[frame.kind == "trajectory"])
    summary.tables["trajectory"] = track.merge(
        order[[*RUN_KEYS, "success", "solve_step"]], on=RUN_KEYS)

    theory = runs[runs.cell == "rnn"].mean_field_lambda
    summary.tables["theory"] = pd.DataFrame(
        [{"cell": "rnn", "quantity": "lambda_max", "step": 0,
          "mean_field": float(theory.mean())}] if len(theory) else [],
        columns=["cell", "quantity", "step", "mean_field"])
    claim_rnn_start(summary, runs)
    claim_rnn_trained(summary, runs)
    claim_time_order(summary, order, length)
    claim_near_critical(summary, runs, length)
    claim_gates(summary, runs, length)
    claim_clip(summary, runs)
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
                colour = CELL_COLORS[cell] if solved else "0.55"
                g = g[["step", q, "solve_step"]].dropna(subset=[q])
                ax.plot(g.step, g[q], lw=0.7, alpha=0.7 if solved else 0.45, color=colour,
                        ls="--" if clip > 0 else "-")
                at = g[g.step == g.solve_step]           # where the run first solves
                if q in BAND and len(at):
                    ax.plot(at.step, at[q], "o", ms=2.5, color=colour, zorder=4)
            if q in BAND:
                ax.axhspan(-1.0 / length, 1.0 / length, color="0.88", lw=0, zorder=0)
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
    axes[0][0].plot([], [], "o", ms=2.5, color="0.2", label="first solves")
    axes[0][0].legend(loc="upper left", fontsize=6)
    out.figure("trajectories", fig, track,
               caption=f"Trajectories over training ($T = {length}$): solved runs in "
                       f"colour, others grey; dotted: the critical line, shaded: within "
                       f"$1/T$ of it; dots: where a run first solves.",
               description=f"Every run's recorded trajectory (every {EVERY} steps): rows "
                           f"are the largest spectral radius over the gate blocks of W_hh, "
                           f"the largest Lyapunov exponent on the long probe ({LONG_BATCH} "
                           f"rows of {2 * LONG_FACTOR} task sequences back to back, the first "
                           f"{LONG_FACTOR} T steps a warm-up), the fitted decay rate of "
                           f"||dL/ds_t|| on the task-length probe of {PROBE} sequences, and "
                           f"the median forget (LSTM) or update (GRU) gate timescale; solid "
                           f"lines unclipped, dashed clipped at 1. Dotted lines: rho = 1, "
                           f"lambda_max = 0, decay 0 and the horizon T = {length} steps; "
                           f"shaded: |value| < 1/T; dots: the first held-out check below the "
                           f"threshold; diamond: the driven mean-field exponent of the tanh "
                           f"RNN at initialization.")


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
               description="Each run's largest Lyapunov exponent on the long probe against "
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
                       "lambda_short_final": r"$\lambda_{\max}$ end, $T$-probe",
                       "decay_rate_final": "decay end", "timescale_final": "timescale end",
                       "unit_timescale_max_final": "longest unit"},
              description="Medians over seeds; solved with its 95% Wilson interval; "
                          "lambda_max on the long probe, and on the task-length probe "
                          "(warm-up T // 10 steps) for comparison; "
                          "rho: largest spectral radius over the gate blocks of W_hh "
                          "(its peak over training is in the CSV); timescale: the median unit's "
                          "forget (LSTM) or update (GRU) gate timescale, longest unit: the "
                          "largest per-unit timescale at the end (steps).")


def time_order_table_out(summary: Summary, length: int, out) -> None:
    """Per cell: when runs first solve, and who was at the critical line by then."""
    table = summary.tables["time_order"]
    if not len(table):
        return
    out.table("time_order", table,
              caption=f"Time order on the adding problem ($T = {length}$): runs at the "
                      f"critical line ($|\\lambda_{{\\max}}| < 1/T$) by the check at which "
                      f"they first solve, and runs that never solve that reach it.",
              labels=LABELS,
              columns={"cell": "cell", "runs": "runs", "solve": "solve",
                       "solve_step_median": "median solve step",
                       "lambda_first_rate": r"at the line by solving",
                       "decay_first_rate": r"decay $< 1/T$ by solving",
                       "lambda_never_n": "never solve",
                       "lambda_never_rate": "never solve, at the line"},
              description=f"A run solves at the first held-out check ({HELD} fixed "
                          f"sequences, every {EVERY} steps) with loss below {SUCCESS:g} x "
                          f"the baseline; it is at the critical line from the first recorded "
                          f"step with |lambda_max| (long probe) below 1/T = "
                          f"{1 / length:.3g} nats/step (the decay column: the decay rate of "
                          f"||dL/ds_t|| on the task-length probe instead). Rates are of the "
                          f"runs that solve (the last of those that never solve, within the "
                          f"whole budget), with 95% Wilson intervals; counts in the CSV.")


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
    runs = summary.tables["runs"]
    seeds = ", ".join(f"{runs[runs.cell == c].seed.nunique()} ({LABELS[c]})"
                      for c in CELLS if (runs.cell == c).any())
    return (f"Setup: the adding problem at T = {length}, {steps} Adam steps (lr {LR:g}, "
            f"batch {BATCH}, hidden {HIDDEN}, float32), "
            f"{seeds} seeds per cell and clipping setting (none, or the joint norm "
            f"clipped at 1). Every {EVERY} steps the run records the spectral picture on "
            f"a fixed probe batch of {PROBE} task sequences (`train`'s \"dynamics\" "
            f"recording), lambda_max on a long probe ({LONG_BATCH} rows of "
            f"{2 * LONG_FACTOR} task sequences back to back: a warm-up of "
            f"{LONG_FACTOR} T = {LONG_FACTOR * length} steps, then {LONG_FACTOR * length} "
            f"steps averaged), and the loss on {HELD} fixed held-out sequences. A run is "
            f"solved when its test loss at the end is below {SUCCESS:g} x the 1/6 "
            f"baseline; it first solves at the first held-out check below that threshold. "
            f"Only the tanh RNN has runs that never solve, the control of the time-order "
            f"claim. A trained network is a per-seed draw of a chaotic process (a last-bit "
            f"difference gives another run), so every claim here obeys one rule: a verdict "
            f"that leaving out any one run would change is reported as inconclusive, "
            f"\"fragile\" in its evidence.")


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: setup, two figures, three tables, then the claims (their prose)."""
    summary = summarize(frame)
    length = int(frame.length.iloc[0])
    out.text(setup_text(frame, summary))
    _trajectory_figure(summary.tables["trajectory"], summary.tables["theory"], length, out)
    _phase_figure(summary.tables["runs"], out)
    groups_table_out(summary, length, out)
    time_order_table_out(summary, length, out)
    power_table_out(summary, out)
    out.summary(summary)
