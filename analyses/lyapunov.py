"""Lyapunov exponents of the driven tanh RNN and of LSTM and GRU, against theory.

The largest Lyapunov exponent lambda_max (QR method on the engine's step
Jacobians) is the per-step growth rate of ||J_t ... J_1||; a gradient sent
back through the same trajectory grows (or, lambda_max < 0, vanishes) at the
same rate. Measured here: lambda_max of h_t = tanh(W h_{t-1} + s x_t),
W_ij ~ N(0, g^2/N), against the mean-field value 1/2 ln(g^2 E[phi'(h)^2]) at
the driven stationary variance, as N grows from 32 to 512 and with inputs of
variance s^2 = 0..1; the gradient's log-norm rate measured backward (BPTT) on
the same trajectories; and the full (h, c) spectra of PyTorch-initialized
LSTMs and GRUs against their keep-gate bias, the systems of the gates section,
against the gated mean field (gradflow.diagnostics.theory_gated: frozen gates,
circular law), with the LSTM's Jacobian surgery (its write path W_hi, W_hg or
its forget slope c f' W_hf removed from dc_t/dh_{t-1}, on the same trajectory).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import seaborn as sns
from _lyapgates import (
    SURGERIES,
    forward_and_backward,
    gated_network,
    keep_gate,
    lstm_surgery_exponent,
    rnn_network,
    trajectory,
    worst_matches,
)

from gradflow.diagnostics import critical_gain, driven_mean_field, forget_gate_timescale
from gradflow.diagnostics.theory_gated import gru_mean_field, lstm_mean_field
from gradflow.report.claims import Says, Summary, exceeds, matches
from gradflow.report.layout import Group
from gradflow.report.stats import mean_ci
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Lyapunov exponents: how fast products of Jacobians grow or shrink"
QUESTION = (
    "The lecture reads vanishing and exploding gradients off products of Jacobians "
    "dh_t/dh_{t-1}. Their growth rate is the largest Lyapunov exponent lambda_max. For the "
    "tanh RNN h_t = tanh(W h_{t-1} + s x_t) with W entries N(0, g^2/N), mean-field theory "
    "predicts lambda_max = 1/2 ln(g^2 E[phi'(h)^2]) as N -> inf: how far is a network of N "
    "units from it, does input suppress chaos as predicted, and is the gradient's growth "
    "rate measured backward the same number? For LSTM and GRU, does the keep-gate bias "
    "predict the full (h, c) spectrum's top exponent as ln sigma(b), does a gated mean field "
    "predict it, and which path of the LSTM's Jacobian carries what the bias misses?")
ORDER = 60

#: Finite-N sweep: every N at each (gain, input variance).
SIZES = [32, 64, 128, 256, 512]
N_GAINS = [1.5, 2.0, 3.0]
N_INPUTS = [0.0, 0.25, 1.0]
#: Gain sweep at one N: the phase diagram against the mean-field curves.
SWEEP_N = 256
SWEEP_GAINS = [0.5, 0.8, 1.2, 1.5, 2.0, 2.5, 3.0]
SWEEP_INPUTS = [0.0, 0.04, 0.25, 1.0]
#: Gated cells at the gates section's size: (cell, keep-gate bias; None = PyTorch's).
GATED_H = 64
GATED: list[tuple[Literal["lstm", "gru"], float | None]] = [
    ("lstm", None), ("lstm", 0.0), ("lstm", 1.0), ("lstm", 2.0), ("lstm", 3.0),
    ("gru", None), ("gru", 0.0), ("gru", 2.0)]


CELLS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class Case:
    """One network of the design: the driven tanh RNN of N units at a gain and input
    variance, or a gated cell (LSTM or GRU) of H units at a keep-gate bias (None:
    PyTorch's default)."""

    cell: Literal["rnn", "lstm", "gru"]
    hidden: int
    gain: float | None = None            # rnn: W entries N(0, gain^2 / N)
    input_variance: float | None = None  # rnn: s^2, the input's variance per unit
    bias: float | None = None            # lstm: b_f, gru: b_z; None: PyTorch's init

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"Case.cell must be one of {CELLS}; got {self.cell!r}")
        rnn = self.cell == "rnn"
        driven = (self.gain is not None, self.input_variance is not None)
        if driven != (rnn, rnn) or (rnn and self.bias is not None):
            raise ValueError(f"a {self.cell} case takes "
                             + ("gain and input_variance, no bias" if rnn else
                                "a bias (or None), no gain or input_variance")
                             + f"; got {self!r}")


@dataclass(frozen=True)
class Config:
    """One run: a case of the design at one seed and window length. The grid holds each
    case as a dict of its fields (grid values are JSON-like; the grid is a product, the
    design is not)."""

    case: Case
    seed: int
    steps: int

    def __post_init__(self) -> None:
        if isinstance(self.case, Mapping):
            object.__setattr__(self, "case", Case(**self.case))


def _cases() -> list[dict[str, Any]]:
    rnn = {(n, g, s) for n in SIZES for g in N_GAINS for s in N_INPUTS}
    rnn |= {(SWEEP_N, g, s) for g in SWEEP_GAINS for s in SWEEP_INPUTS}
    return [asdict(c) for c in [Case("rnn", n, g, s) for n, g, s in sorted(rnn)]
            + [Case(cell, GATED_H, bias=b) for cell, b in GATED]]


#: Every verdict is checked on a round-off replicate (the NumPy reference backend): a
#: cheap section, so the check costs little (README, "Verdicts checked against round-off").
REPLICATE = True
GRID: dict[str, list[Any]] = {"case": _cases(), "seed": list(range(8)), "steps": [1000]}
QUICK_GRID: dict[str, list[Any]] = {
    "case": [asdict(c) for c in [Case("rnn", n, 2.0, s) for n in (16, 24, 32)
                                 for s in (0.0, 1.0)]
             + [Case("lstm", 6, bias=1.0), Case("gru", 6, bias=2.0)]],
    "seed": [0, 1], "steps": [200]}

WARMUP = 200          # steps run before the window: onto the attractor
CHUNK = 50            # steps per forward chunk; the backward gradient is renormalized per chunk
ALIGN_CHUNKS = 2      # chunks that only align the QR frame (before the window) and the
ALIGN = ALIGN_CHUNKS * CHUNK  # gradient (after it): both rates average over the same steps
#: Margins of the matches claims (nats/step).
TWO_WAYS_MARGIN = 0.005   # gradient rate vs lambda_max: the same number, up to O(1/T)
#                           (held in the tests: an identity is not a finding)
MF_MARGIN = 0.01          # lambda_max extrapolated to N -> inf vs the mean field
SWEEP_MARGIN = 0.02       # lambda_max at N = SWEEP_N vs the mean field
GATE_MARGIN = 0.02        # lambda_max vs ln mean(gate) of the keep gate
#: lambda_max vs the gated mean field (gradflow.diagnostics.theory_gated), set a priori
#: against the 0.25 nats/step by which ln sigma(b_f) misses at default init.
GATED_MF_MARGIN = 0.03
#: Jacobian surgery (LSTM): the write path removed vs the slowest unit's <ln f_i>, and
#: the forget slope c_prev f' removed vs the intact product (paired, same trajectory).
SURGERY_MARGIN = 0.01
Q_MARGIN = 0.05           # relative: measured stationary variance vs the mean field's q*


def run(config: Config) -> list[dict]:
    """One network and one trajectory: lambda_max (QR) and the gradient's rate (BPTT)."""
    case, seed, steps = config.case, config.seed, config.steps
    if steps % CHUNK or steps < 2 * CHUNK:
        raise ValueError(f"steps must be a multiple of {CHUNK}, at least {2 * CHUNK}; "
                         f"got {steps}")
    total = WARMUP + steps + 2 * ALIGN                  # window plus alignment on both sides
    cell, N = case.cell, case.hidden
    rng = np.random.default_rng([seed, 2])
    if case.gain is not None and case.input_variance is not None:
        gain, s2 = case.gain, case.input_variance
        net, params = rnn_network(N, gain, s2, seed)
        x = rng.standard_normal((total, 1, N))
        h0 = rng.standard_normal((1, 1, N))
        k, row = 1, {"cell": "rnn", "hidden": N, "gain": float(gain), "input_variance": float(s2)}
    else:
        bias = case.bias
        net, params = gated_network(cell, N, bias, seed)
        x = rng.standard_normal((total, 1, net.input_size))
        h0 = None
        k, row = 2 * N if cell == "lstm" else N, {"cell": cell, "hidden": N,
                                                   "bias": np.nan if bias is None else bias}
    warm = net.forward(params, x[:WARMUP], state=h0)
    traces = trajectory(net, params, x[WARMUP:], warm.final_state, CHUNK)
    spectrum, growth = forward_and_backward(net, params, traces, k=k,
                                            align_chunks=ALIGN_CHUNKS, rng=rng)
    row |= {"kind": "summary", "lambda_max": float(spectrum[0]),
            "grad_rate": float(growth.mean() / CHUNK)}
    rows = []
    window = traces[ALIGN_CHUNKS:len(traces) - ALIGN_CHUNKS]
    if cell == "rnn":
        W = params["weight_hh_l0"]
        h_prev = np.concatenate([tr.layers[0].cells[0].h[:-1, 0] for tr in window])  # (T, N)
        u = np.concatenate([tr.layers[0].inputs[:, 0] for tr in window]) * math.sqrt(s2)
        pre = h_prev @ W.T + u                                                     # (T, N)
        mf = driven_mean_field(gain, s2)
        row |= {"mean_field": 0.5 * math.log(mf.chi), "q_mean_field": mf.q,
                "q_measured": float(np.mean(pre * pre))}
    else:
        gate = np.concatenate([keep_gate(cell, tr)[:, 0] for tr in window])   # (T, H)
        log_gate = np.log(gate)
        theory = (lstm_mean_field if cell == "lstm" else gru_mean_field)(N, bias)
        row |= {"ln_sigma_bias": (math.nan if bias is None
                                  else -1.0 / float(forget_gate_timescale(bias))),
                "ln_mean_gate": float(np.log(gate.mean())),
                "slowest_unit": float(log_gate.mean(axis=0).max()),
                "gated_mf": theory.lambda_max, "annealed_mf": theory.annealed}
        if cell == "lstm":   # Jacobian surgery on the same forward trajectory
            for name, keep in SURGERIES.items():
                row[f"surgery_{name}"] = lstm_surgery_exponent(
                    params, traces[:len(traces) - ALIGN_CHUNKS], keep, warmup=ALIGN,
                    rng=np.random.default_rng([seed, 4]))
        rows += [{"kind": "spectrum", "cell": cell, "hidden": N, "bias": row["bias"],
                  "index": i + 1, "exponent": float(e)} for i, e in enumerate(spectrum)]
    return [row, *rows]


# ---- summarize: every table, number and claim ---------------------------------------

def _tag(value: float) -> str:
    """``0.25`` -> ``0p25`` for claim names."""
    return re.sub(r"[^0-9a-z]", "p", f"{value:g}")


def _word(value: float) -> str:
    """A number as letters for a macro name: ``0.25`` -> ``ZeroPointTwoFive``."""
    digits = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"]
    return "".join("Point" if ch == "." else "Minus" if ch == "-" else digits[int(ch)]
                   for ch in f"{value:g}")


def _bias_label(cell: str, bias: float) -> str:
    gate = "b_f" if cell == "lstm" else "b_z"
    return f"{cell.upper()}, {gate} = " + ("default" if not np.isfinite(bias) else f"{bias:g}")


def _extrapolate(group: pd.DataFrame) -> dict:
    """Least squares lambda(N) = lambda_inf + a / N over every run (independent W), with the
    t-interval of lambda_inf."""
    x = 1.0 / group.hidden.to_numpy(float)
    y = group.lambda_max.to_numpy(float)
    n = x.size
    if n < 3 or np.unique(x).size < 2:
        return {"lambda_inf": math.nan, "lambda_inf_low": math.nan,
                "lambda_inf_high": math.nan, "slope": math.nan}
    X = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = float(resid @ resid) / (n - 2)
    cov = s2 * np.linalg.inv(X.T @ X)
    from scipy import stats
    half = float(stats.t.ppf(0.975, n - 2) * math.sqrt(cov[0, 0]))
    return {"lambda_inf": float(coef[0]), "lambda_inf_low": float(coef[0] - half),
            "lambda_inf_high": float(coef[0] + half), "slope": float(coef[1])}


def _ci_table(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    rows = []
    for key, g in frame.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        for col in columns:
            m, lo, hi = mean_ci(g[col])
            row |= {col: m, f"{col}_ci_low": lo, f"{col}_ci_high": hi}
        row["seeds"] = len(g)
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables, citable numbers and claims of the Lyapunov section (pure)."""
    s = Summary()
    runs = frame[frame.kind == "summary"].copy()
    rnn = runs[runs.cell == "rnn"].copy()
    gated = runs[runs.cell != "rnn"].copy()
    runs["two_ways_diff"] = runs.grad_rate - runs.lambda_max
    _two_ways(s, runs)
    if len(rnn):
        _summarize_rnn(s, rnn)
    if len(gated):
        _summarize_gated(s, gated, frame[frame.kind == "spectrum"])
    for group in GROUPS:
        s.group(group)
    return s


def _two_ways(s: Summary, runs: pd.DataFrame) -> None:
    """The gradient's rate measured backward beside lambda_max of the same trajectory: a
    table and the largest difference. The same Jacobian product read twice, so their
    agreement is a test of the code (tests/analyses/test_lyapunov.py), not a claim."""
    diff = runs.two_ways_diff.to_numpy()
    worst = float(np.max(np.abs(diff))) if diff.size else math.nan
    s.tables["two_ways"] = runs[["cell", "hidden", "seed", "lambda_max", "grad_rate",
                                 "two_ways_diff"]
                                + [c for c in ("gain", "input_variance", "bias") if c in runs]]
    if diff.size and math.isfinite(worst):
        s.number("MaxAbsTwoWays", worst, "largest |gradient rate - lambda_max| over all runs",
                 unit="nats/step", digits=2)


def _summarize_rnn(s: Summary, rnn: pd.DataFrame) -> None:
    """The driven tanh RNN: finite N, the stationary variance, input, the gain sweep."""
    rnn["deviation"] = rnn.lambda_max - rnn.mean_field
    by = ["gain", "input_variance", "hidden"]
    table = _ci_table(rnn, by, ["lambda_max", "grad_rate", "deviation", "q_measured"])
    theory = rnn.groupby(by, as_index=False)[["mean_field", "q_mean_field"]].first()
    s.tables["by_size"] = table.merge(theory, on=by)
    _finite_n(s, rnn)
    top = int(rnn.hidden.max())
    at = rnn[rnn.hidden == top]
    _stationary_variance(s, at, top)
    _input_claims(s, at, top)
    _sweep(s, rnn)
    gg = np.round(np.linspace(0.3, max(3.2, float(rnn.gain.max()) + 0.2), 59), 4)
    curves = [{"gain": float(g), "input_variance": float(v),
               "mean_field": 0.5 * math.log(driven_mean_field(float(g), float(v)).chi)}
              for v in sorted(set(rnn.input_variance)) for g in gg]
    s.tables["theory"] = pd.DataFrame(curves)
    s.tables["critical"] = pd.DataFrame(
        [{"input_variance": float(v), "critical_gain": critical_gain(float(v))}
         for v in sorted(set(rnn.input_variance))])
    for gain in (2.0,):
        for s2 in sorted(set(at.input_variance)):
            v = at[(at.gain == gain) & (at.input_variance == s2)].lambda_max
            m, lo, hi = mean_ci(v)
            if len(v) >= 2 and math.isfinite(lo):
                s.number(f"LambdaMaxGainTwoInput{_word(s2)}", m,
                         f"lambda_max at g = 2, s^2 = {s2:g}, N = {top}", low=lo, high=hi,
                         unit="nats/step")


def _finite_n(s: Summary, rnn: pd.DataFrame) -> None:
    """lambda(N) = lambda_inf + a / N at each (gain, input) with several sizes: the mean
    field at the largest N (group ``mean_field``, a tally) and the gap closing with N."""
    sizes = rnn.groupby(["gain", "input_variance"]).hidden.nunique()
    swept = sizes[sizes >= 3].index
    rows = []
    for gain, s2 in swept:
        g = rnn[(rnn.gain == gain) & (rnn.input_variance == s2)]
        rows.append({"gain": gain, "input_variance": s2, **_extrapolate(g),
                     "mean_field": float(g.mean_field.iloc[0]),
                     "smallest_n": int(g.hidden.min()), "largest_n": int(g.hidden.max())})
    limit = pd.DataFrame(rows)
    s.tables["limit"] = limit
    for r in limit.itertuples():
        g = rnn[(rnn.gain == r.gain) & (rnn.input_variance == r.input_variance)
                & (rnn.hidden == r.largest_n)]
        m, lo, hi = mean_ci(g.lambda_max)
        s.claim(matches(
            f"mean_field_g{_tag(r.gain)}_s{_tag(r.input_variance)}",
            f"At g = {r.gain:g}, s^2 = {r.input_variance:g} and N = {r.largest_n}, "
            f"lambda_max matches the driven mean field within {MF_MARGIN} nats/step.",
            m, lo, hi, r.mean_field, MF_MARGIN, what=f"lambda_max over {len(g)} seeds",
            group="mean_field", label=f"g = {r.gain:g}, s^2 = {r.input_variance:g}"))
    if not len(limit):
        return
    # Paired by seed and (gain, input): |deviation| at the smallest N minus the largest.
    diffs = []
    for gain, s2 in swept:
        g = rnn[(rnn.gain == gain) & (rnn.input_variance == s2)]
        small = g[g.hidden == g.hidden.min()].set_index("seed").deviation.abs()
        large = g[g.hidden == g.hidden.max()].set_index("seed").deviation.abs()
        diffs += list((small - large).dropna())
    m, lo, hi = mean_ci(diffs)
    n_lo, n_hi = int(limit.smallest_n.min()), int(limit.largest_n.max())
    s.claim(exceeds(
        "deviation_shrinks_with_n",
        f"The deviation of lambda_max from the mean field shrinks with N: |lambda_max - "
        f"lambda_MF| is larger at N = {n_lo} than at N = {n_hi}.",
        m, lo, hi, 0.0, what=f"paired |dev(N={n_lo})| - |dev(N={n_hi})| over "
        f"{len(diffs)} (gain, input, seed)", group="deviation", says=Says(
            holds="At finite N the network sits below or above the mean field, and the gap "
                  "closes as N grows (first figure).",
            fails="The gap to the mean field does not close as N grows.",
            inconclusive="Whether the gap to the mean field closes with N is not resolved by "
                         "these seeds.")))


def _stationary_variance(s: Summary, at: pd.DataFrame, top: int) -> None:
    """The premise of the theory: the measured stationary variance is the driven q*."""
    driven = at[at.q_mean_field > 0]
    pts = [(f"g={gg:g}, s^2={ss:g}", (grp.q_measured / grp.q_mean_field - 1.0).to_numpy())
           for (gg, ss), grp in driven.groupby(["gain", "input_variance"])]
    if not pts:
        return
    claim = worst_matches(
        "stationary_variance_matches",
        f"At N = {top} the measured pre-activation variance is the driven mean field's "
        f"stationary q* within {Q_MARGIN:.0%} at every gain and input (q* > 0).",
        pts, [0.0] * len(pts), Q_MARGIN, what="q / q* - 1")
    s.claim(claim.reads(Says(
        holds="The theory's premise holds: the measured stationary variance of the "
              "pre-activations is the driven mean field's q* within the margin.",
        fails="The measured stationary variance departs from the driven mean field's q* ("
              + claim.evidence + "), so its exponent is evaluated at the wrong variance "
              "there.",
        inconclusive="Whether the measured stationary variance is the mean field's q* is "
                     "not resolved by the seeds."), group="stationary"))


def _input_claims(s: Summary, at: pd.DataFrame, top: int) -> None:
    """Input suppresses chaos: the same W (same seed) with and without input; by the mean
    field's amount; and below the driven critical gain it quenches chaos."""
    inputs = sorted(set(at.input_variance))
    gains = sorted(set(at.gain))
    chaos_gain = 2.0 if 2.0 in gains else (gains[-1] if gains else math.nan)
    if len(inputs) < 2 or not math.isfinite(chaos_gain):
        return
    g = at[at.gain == chaos_gain]
    free = g[g.input_variance == inputs[0]].set_index("seed").lambda_max
    driven = g[g.input_variance == inputs[-1]].set_index("seed").lambda_max
    drop = (free - driven).dropna()
    m, lo, hi = mean_ci(drop)
    mf_drop = float(g[g.input_variance == inputs[0]].mean_field.iloc[0]
                    - g[g.input_variance == inputs[-1]].mean_field.iloc[0])
    by_amount = matches(
        "input_drop_matches_mean_field",
        f"The drop of lambda_max from s^2 = {inputs[0]:g} to {inputs[-1]:g} at "
        f"g = {chaos_gain:g}, N = {top} matches the mean field's drop within "
        f"{MF_MARGIN} nats/step.", m, lo, hi, mf_drop, MF_MARGIN, what="paired drop",
        group="input")
    s.claim(exceeds(
        "input_suppresses_chaos",
        f"Input suppresses chaos: at g = {chaos_gain:g}, N = {top}, driving every unit "
        f"with variance s^2 = {inputs[-1]:g} lowers lambda_max below its value at "
        f"s^2 = {inputs[0]:g} (same W).",
        m, lo, hi, 0.0, what=f"paired drop of lambda_max over {len(drop)} seeds",
        group="input", says=Says(
            holds="Input suppresses chaos: driving the same W lowers lambda_max.",
            fails="Driving the network did not lower lambda_max.",
            inconclusive="Whether input lowers lambda_max is not resolved.")))
    s.claim(by_amount.reads(Says(
        holds=f"The drop is the mean field's within {MF_MARGIN} nats/step.",
        fails=f"The drop is not the mean field's ({by_amount.evidence}).",
        inconclusive=f"Whether the drop is the mean field's within {MF_MARGIN} nats/step is "
                     "not resolved by the seeds."), group="input"))
    if math.isfinite(m):
        s.number("InputDrop", m, f"drop of lambda_max from s^2 = {inputs[0]:g} to "
                 f"{inputs[-1]:g} at g = {chaos_gain:g}, N = {top}", low=lo, high=hi,
                 unit="nats/step")
    # Quenched: below the driven critical gain, lambda_max < 0 although g > 1.
    quench = [gg for gg in gains if 1.0 < gg < critical_gain(inputs[-1])]
    if quench:
        gq = quench[-1]
        m, lo, hi = mean_ci(at[(at.gain == gq) & (at.input_variance == inputs[-1])].lambda_max)
        s.claim(exceeds(
            "input_quenches_chaos",
            f"Input quenches chaos below the driven critical gain: at g = {gq:g} "
            f"(g* = {critical_gain(inputs[-1]):.3g} for s^2 = {inputs[-1]:g}), N = {top}, "
            f"lambda_max < 0.", -m, -hi, -lo, 0.0, what="-lambda_max", group="quench",
            says=Says(
                holds="Below the driven critical gain g*(s^2) the input quenches chaos "
                      "entirely although g > 1: lambda_max < 0, as the mean field's g* "
                      "predicts.",
                fails="Below the driven critical gain lambda_max stays positive: the input "
                      "does not quench chaos there, against the mean field's g*.",
                inconclusive="Whether the input quenches chaos below g* is not resolved.")))


def _sweep(s: Summary, rnn: pd.DataFrame) -> None:
    """Gain sweep at one N: the phase diagram against the mean-field curves."""
    sweep = rnn[rnn.hidden == SWEEP_N]
    if sweep.gain.nunique() < 3:
        return
    table = _ci_table(sweep, ["gain", "input_variance"], ["lambda_max", "grad_rate"])
    table = table.merge(sweep.groupby(["gain", "input_variance"], as_index=False)
                        .mean_field.first(), on=["gain", "input_variance"])
    s.tables["sweep"] = table
    # Without input and g <= 1 the state is the zero fixed point, lambda_max = ln rho(W)
    # of the one sampled W: a theorem (tested), not a mean-field comparison.
    keep = sweep[~((sweep.input_variance == 0) & (sweep.gain <= 1))]
    pts = [(f"g={gg:g}, s^2={ss:g}", grp.lambda_max.to_numpy())
           for (gg, ss), grp in keep.groupby(["gain", "input_variance"])]
    pred = [float(grp.mean_field.iloc[0])
            for _, grp in keep.groupby(["gain", "input_variance"])]
    claim = worst_matches(
        "sweep_matches_mean_field",
        f"At N = {SWEEP_N}, lambda_max lies within {SWEEP_MARGIN} nats/step of the "
        f"driven mean field at every gain and input variance of the sweep (except the "
        f"zero fixed point: no input and g <= 1).", pts, pred, SWEEP_MARGIN,
        what="lambda_max")
    s.claim(claim.reads(Says(
        holds=f"Across the gain sweep at N = {SWEEP_N} the mean-field curves pass "
              "through the measurements within the margin (second figure).",
        fails=f"Across the gain sweep at N = {SWEEP_N} some measurements lie off the "
              "mean-field curve by more than the margin: " + claim.evidence + ".",
        inconclusive=f"Across the gain sweep at N = {SWEEP_N} the seeds do not resolve "
                     "agreement with the mean field at every point."), group="sweep"))


def _summarize_gated(s: Summary, gated: pd.DataFrame, spectra: pd.DataFrame) -> None:
    """LSTM and GRU: the full-state spectra against the keep gate, per bias."""
    cols = ["lambda_max", "grad_rate", "ln_mean_gate", "slowest_unit"]
    cols += [c for c in gated if c.startswith("surgery_")]
    table = _ci_table(gated, ["cell", "bias"], cols)
    theory = gated.groupby(["cell", "bias"], as_index=False, dropna=False)[
        ["ln_sigma_bias", "gated_mf", "annealed_mf"]].first()
    table = table.merge(theory, on=["cell", "bias"], how="left")
    table["model"] = [_bias_label(c, b) for c, b in zip(table.cell, table.bias, strict=True)]
    with np.errstate(divide="ignore"):
        # -1/lambda_max only where lambda_max's interval lies below 0: else it is unbounded.
        table["timescale"] = np.where(table.lambda_max_ci_high < 0, -1.0 / table.lambda_max,
                                      np.nan)
        table["naive_timescale"] = -1.0 / table.ln_sigma_bias
    s.tables["gated"] = table
    if len(spectra):
        s.tables["gated_spectra"] = (spectra.groupby(["cell", "bias", "index"], as_index=False,
                                                     dropna=False).exponent.mean())
    for cell, gate in (("lstm", "f"), ("gru", "z")):
        if len(gated[(gated.cell == cell) & np.isfinite(gated.bias)]):
            _gate_claims(s, gated, cell, gate)
    for r in table.itertuples():
        if np.isfinite(r.bias) and np.isfinite(r.lambda_max_ci_low):
            s.number(f"LambdaMax{r.cell.capitalize()}Bias{_word(r.bias)}", r.lambda_max,
                     f"full-state lambda_max, {r.model}", low=r.lambda_max_ci_low,
                     high=r.lambda_max_ci_high, unit="nats/step")


def _bias_points(every: pd.DataFrame, column: str, reference: str | None
                 ) -> tuple[list[tuple[str, np.ndarray]], list[float]]:
    """Per bias (default included): the per-seed values of ``column`` (minus the per-seed
    ``reference`` column if given) and the prediction ``gated_mf`` (0 with a reference)."""
    pts, pred = [], []
    for b, grp in every.groupby("bias", dropna=False):
        values = grp[column] - (grp[reference] if reference else 0.0)
        pts.append((f"b = {b:g}" if np.isfinite(b) else "default b", values.to_numpy()))
        pred.append(0.0 if reference else float(grp.gated_mf.iloc[0]))
    return pts, pred


def _gated_mean_field_claim(s: Summary, every: pd.DataFrame, cell: str) -> None:
    """lambda_max against the gated mean field (frozen gates, circular law) at every bias."""
    name = cell.upper()
    pts, pred = _bias_points(every, "lambda_max", None)
    claim = worst_matches(
        f"{cell}_matches_gated_mean_field",
        f"The {name}'s full-state lambda_max matches the gated mean field (frozen gates, "
        f"circular law; gradflow.diagnostics.theory_gated) within {GATED_MF_MARGIN} "
        "nats/step at every bias, default included.", pts, pred, GATED_MF_MARGIN,
        what="lambda_max")
    s.claim(claim.reads(Says(
        holds=f"The gated mean field predicts the {name}'s lambda_max within "
              f"{GATED_MF_MARGIN} nats/step at every bias (stars in the figure): the decay "
              "is that of the time-averaged Jacobian, diagonal gates times random W.",
        fails=f"The gated mean field misses the {name}'s lambda_max by more than "
              f"{GATED_MF_MARGIN} nats/step ({claim.evidence}).",
        inconclusive=f"Whether the gated mean field predicts the {name}'s lambda_max within "
                     f"{GATED_MF_MARGIN} nats/step is not resolved by the seeds."),
        group="gated"))


def _surgery_claims(s: Summary, every: pd.DataFrame) -> None:
    """The LSTM's Jacobian surgery: without the write path lambda_max falls to the slowest
    unit's gate product; without the forget slope it hardly moves."""
    if "surgery_no_write" not in every or not every.surgery_no_write.notna().any():
        return
    pts, zero = _bias_points(every, "surgery_no_write", "slowest_unit")
    write = worst_matches(
        "lstm_write_path_carries_excess",
        "Removing the LSTM's write path (diag(g i') W_hi + diag(i g') W_hg of dc_t/dh_{t-1}) "
        "from its step Jacobians brings lambda_max down to the slowest unit's "
        f"max_i <ln f_i> within {SURGERY_MARGIN} nats/step at every bias (same trajectory).",
        pts, zero, SURGERY_MARGIN, what="lambda_max(no write) - max_i <ln f_i>")
    s.claim(write.reads(Says(
        holds="Jacobian surgery locates the excess: without the write path W_hi, W_hg the "
              "LSTM's lambda_max is its slowest unit's gate product.",
        fails="Without the write path the LSTM's lambda_max is not its slowest unit's gate "
              f"product ({write.evidence}).",
        inconclusive="Whether the write path carries the LSTM's excess over its slowest "
                     "gate is not resolved by the seeds."), group="gated"))
    pts, zero = _bias_points(every, "surgery_no_forget_slope", "surgery_full")
    slope = worst_matches(
        "lstm_forget_slope_negligible",
        "Removing the forget slope diag(c_{t-1} f') W_hf from the LSTM's step Jacobians "
        f"changes lambda_max by less than {SURGERY_MARGIN} nats/step at every bias (paired, "
        "same trajectory).", pts, zero, SURGERY_MARGIN,
        what="lambda_max(no c f') - lambda_max")
    s.claim(slope.reads(Says(
        holds="The c f' term hardly matters: removing it leaves lambda_max within the margin.",
        fails=f"The c f' term matters ({slope.evidence}).",
        inconclusive="Whether the c f' term matters is not resolved by the seeds."),
        group="gated"))


def _gate_claims(s: Summary, gated: pd.DataFrame, cell: str, gate: str) -> None:
    """One gated cell: its mean keep gate predicts lambda_max, the gated mean field does,
    the loop through h slows the decay beyond its slowest gate, and (LSTM) the Jacobian
    surgery that says which path (group ``gated``)."""
    every = gated[gated.cell == cell]
    name, word = cell.upper(), {"f": "forget", "z": "update"}[gate]
    _gated_mean_field_claim(s, every, cell)
    if cell == "lstm":
        _surgery_claims(s, every)
    pts = [(f"b = {b:g}" if np.isfinite(b) else "default b",
            (grp.lambda_max - grp.ln_mean_gate).to_numpy())
           for b, grp in every.groupby("bias", dropna=False)]
    pred = worst_matches(
        f"{cell}_gate_predicts_lambda",
        f"The {name}'s mean keep gate predicts its full-state lambda_max as "
        f"ln mean({gate}) (the cell path's exponent if every {gate} sat at its mean) within "
        f"{GATE_MARGIN} nats/step, at every bias.", pts, [0.0] * len(pts), GATE_MARGIN,
        what=f"lambda_max - ln mean({gate})")
    s.claim(pred.reads(Says(
        holds=f"The {name}'s mean {word} gate predicts its top exponent: "
              f"lambda_max = ln mean(gate) within the margin at every bias.",
        fails=f"The {name}'s mean {word} gate does not predict its top exponent: "
              f"ln mean(gate) (about ln sigma(b), dotted in the figure) misses lambda_max "
              f"({pred.evidence}).",
        inconclusive=f"Whether the {name}'s mean {word} gate predicts its "
                     "lambda_max is not resolved by the seeds."), group="gated"))
    # The h-c (or h-z) loop: lambda_max above the slowest unit's own gate product.
    worst = None
    for b, grp in every[np.isfinite(every.bias)].groupby("bias"):
        m, lo, hi = mean_ci(grp.lambda_max - grp.slowest_unit)
        if worst is None or not (lo >= worst[2]):
            worst = (b, m, lo, hi)
    if worst is None:
        return
    b, m, lo, hi = worst
    s.claim(exceeds(
        f"{cell}_loop_slows_decay",
        f"The recurrent loop through h slows the {name}'s decay beyond its "
        f"slowest gate: at every bias lambda_max exceeds max_i mean_t ln {gate}_i,t (the "
        f"top exponent of the gate product alone).",
        m, lo, hi, 0.0, what=f"lambda_max - max_i mean_t ln {gate}_i at the least "
        f"separated bias b = {b:g}", group="gated", says=Says(
            holds=f"Even the {name}'s slowest unit's own gate product decays "
                  "faster than the full state: the loop through h keeps the gradient alive "
                  "longer than any gate path alone" + (
                      " (which path of the loop carries it: the surgery claims above)"
                      if cell == "lstm" else "") + "; so the gate bias understates the "
                  "timescale.",
            fails=f"The {name}'s full state decays no slower than its slowest "
                  "unit's gate product.",
            inconclusive=f"Whether the {name}'s full state outlives its slowest "
                         "unit's gate product is not resolved by the seeds.")))


#: How the section's claims read, in this order (one paragraph).
GROUPS = [
    Group("mean_field", tally=f"At the largest N, lambda_max matches the driven mean field "
                              f"within {MF_MARGIN} nats/step in {{holds}} of {{n}} (gain, "
                              "input) settings; it is off by more in {fails}, and "
                              "{inconclusive} are not resolved by the seeds (claims below)."),
    Group("stationary"),
    Group("deviation"),
    Group("input"),
    Group("quench"),
    Group("sweep"),
    Group("gated"),
]


# ---- render: figures and tables; the prose is the claims' ---------------------------

def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: finite N, the gain sweep, the two ways, the gated cells, then
    the claims (their prose)."""
    summary = summarize(frame)
    t = summary.tables
    if "by_size" in t:
        _figure_finite_n(out, t["by_size"], t.get("limit"))
    if "sweep" in t:
        _figure_sweep(out, t["sweep"], t["theory"], t["critical"])
    _figure_two_ways(out, t["two_ways"])
    if "gated" in t:
        _figure_gated(out, t["gated"])
        if t.get("gated_spectra") is not None and len(t["gated_spectra"]):
            _figure_gated_spectra(out, t["gated_spectra"])
        _table_gated(out, t["gated"])
    out.summary(summary)


def _figure_finite_n(out, by_size: pd.DataFrame, limit: pd.DataFrame | None) -> None:
    if limit is None or not len(limit):
        return
    gains = sorted(set(limit.gain))
    inputs = sorted(set(limit.input_variance))
    fig, axes = new_figure("page", 2.6, ncols=len(gains), sharey=True, squeeze=False)
    palette = dict(zip(inputs, sns.color_palette("mako_r", n_colors=len(inputs) + 1)[1:],
                       strict=True))
    # The means set the scale: a few-seed interval at small N may reach far beyond them.
    means = by_size.deviation[np.isfinite(by_size.deviation)]
    ylim = (min(-0.05, float(means.min()) - 0.03), max(0.03, float(means.max()) + 0.03))
    data = []
    for ax, gain in zip(axes[0], gains, strict=True):
        for i, r in enumerate(limit[limit.gain == gain].itertuples()):
            s2, color = r.input_variance, palette[r.input_variance]
            g = by_size[(by_size.gain == gain) & (by_size.input_variance == s2)].sort_values(
                "hidden")
            shift = 2.0 ** (0.06 * (i - 1))          # dodge the inputs apart on the log axis
            ax.errorbar(g.hidden * shift, g.deviation,
                        yerr=[g.deviation - g.deviation_ci_low,
                              g.deviation_ci_high - g.deviation],
                        marker="o", ms=3, ls="none", capsize=2, color=color,
                        label=f"$s^2 = {s2:g}$")
            n = np.geomspace(g.hidden.min(), g.hidden.max(), 30)
            ax.plot(n, r.lambda_inf + r.slope / n - r.mean_field, color=color, lw=0.8,
                    ls="--")
            data.append(g.assign(fit_lambda_inf=r.lambda_inf, fit_slope=r.slope))
        ax.axhline(0, color="k", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_ylim(*ylim)
        ax.set_title(f"$g = {gain:g}$")
        ax.set_xlabel("network size $N$")
    axes[0][0].set_ylabel(r"$\lambda_{\max} - \lambda_{\mathrm{MF}}$ (nats/step)")
    axes[0][-1].legend(loc="lower right", fontsize=7)
    out.figure("finite_n", fig, pd.concat(data),
               caption=r"Finite-$N$ deviation of $\lambda_{\max}$ from the mean field (0 for "
                       r"$N \to \infty$) per gain and input variance; dashed: the fit "
                       r"$\lambda_\infty + a/N$.",
               description="lambda_max (QR, one trajectory per W) minus the driven mean-field "
                       "exponent 1/2 ln(g^2 E[sech^4]) at the stationary variance q*, mean and "
                       "95% CI over seeds, against N; dashed: least squares lambda_inf + a/N "
                       "over every run, minus the mean field. The black line at 0 is the "
                       "N -> inf prediction; the axis is scaled to the means (a few-seed "
                       "interval at small N may extend beyond it)")
    out.table("limit", limit,
              caption=r"$\lambda_{\max}$ extrapolated to $N \to \infty$ against the mean field.",
              columns={"gain": "$g$", "input_variance": "$s^2$",
                       "lambda_inf": r"$\lambda_\infty$", "slope": "$a$",
                       "mean_field": r"$\lambda_{\mathrm{MF}}$"},
              description="Fit lambda_max = lambda_inf + a/N over all sizes and seeds; "
                          "lambda_inf with its 95% t-interval; mean_field: the driven "
                          "mean-field exponent")


def _figure_sweep(out, sweep: pd.DataFrame, theory: pd.DataFrame,
                  critical: pd.DataFrame) -> None:
    fig, ax = new_figure("column", 3.0)
    inputs = sorted(set(sweep.input_variance))
    palette = sns.color_palette("mako_r", n_colors=len(inputs) + 1)[1:]
    for color, s2 in zip(palette, inputs, strict=True):
        th = theory[theory.input_variance == s2]
        ax.plot(th.gain, th.mean_field, color=color, lw=1)
        g = sweep[sweep.input_variance == s2]
        ax.errorbar(g.gain, g.lambda_max, yerr=[g.lambda_max - g.lambda_max_ci_low,
                                                g.lambda_max_ci_high - g.lambda_max],
                    marker="o", ms=3, ls="none", capsize=2, color=color,
                    label=f"$s^2 = {s2:g}$")
        gc = float(critical[critical.input_variance == s2].critical_gain.iloc[0])
        ax.plot([gc], [0], marker="|", ms=10, color=color)
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_ylim(max(-1.5, sweep.lambda_max_ci_low.min() - 0.1), None)
    ax.set_xlabel(r"gain $g$ ($W$ entries $\mathcal{N}(0, g^2/N)$)")
    ax.set_ylabel(r"$\lambda_{\max}$ (nats/step)")
    ax.legend(title=f"input ($N = {SWEEP_N}$)", loc="lower right")
    out.figure("lambda_vs_gain", fig, sweep.merge(critical, on="input_variance"),
               caption=r"$\lambda_{\max}$ vs gain per input variance $s^2$: measured "
                       r"(points) and the driven mean field (lines); ticks: $g^*(s^2)$.",
               description=f"lambda_max of the driven tanh RNN at N = {SWEEP_N}, mean and 95% "
                       "CI over seeds (points), and the mean-field exponent 1/2 ln(g^2 "
                       "E[sech^4(sqrt(q*) z)]) with the driven stationary variance q* "
                       "(lines, same colour); vertical ticks on the zero line: the critical "
                       "gain g*(s^2) where the mean field crosses 0. Without input and g < 1 "
                       "the state is the zero fixed point and lambda_max = ln rho(W) of the "
                       "sampled W, a theorem (unit-tested), not a finding")


def _figure_two_ways(out, two: pd.DataFrame) -> None:
    fig, ax = new_figure("column", 2.8)
    lo = float(min(two.lambda_max.min(), two.grad_rate.min())) - 0.05
    hi = float(max(two.lambda_max.max(), two.grad_rate.max())) + 0.05
    ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="$y = x$")
    for cell in ("rnn", "lstm", "gru"):
        g = two[two.cell == cell]
        if len(g):
            ax.plot(g.lambda_max, g.grad_rate, "o", ms=2.5, mfc="none",
                    color=CELL_COLORS[cell], label=cell.upper())
    ax.set_xlabel(r"$\lambda_{\max}$, forward QR (nats/step)")
    ax.set_ylabel(r"gradient's log-norm rate, BPTT (nats/step)")
    ax.legend()
    out.figure("two_ways", fig, two,
               caption=r"The gradient's growth rate measured backward (BPTT) against "
                       r"$\lambda_{\max}$ measured forward, per trajectory.",
               description="Per network and seed: lambda_max from the QR method forward and "
                       "the gradient's log-norm growth per step measured by the engine's "
                       f"backward pass from a random dL/ds_T, renormalized every {CHUNK} "
                       f"steps, on the same trajectory, each after {ALIGN_CHUNKS * CHUNK} "
                       "steps of alignment")


#: Where the default-bias (PyTorch's random) models sit on the gated figure's bias axis.
DEFAULT_X = -0.6


def _figure_gated(out, gated: pd.DataFrame) -> None:
    """Full-state lambda_max of LSTM and GRU against the keep-gate bias."""
    fig, ax = new_figure("column", 3.0)
    bb = np.linspace(-0.25, 3.2, 60)
    ax.plot(bb, -1.0 / forget_gate_timescale(bb), "k:", lw=1.2, label=r"$\ln\sigma(b)$ (gate bias)")
    for cell, marker in (("lstm", "o"), ("gru", "s")):
        g = gated[gated.cell == cell].assign(
            x=lambda d: np.where(np.isfinite(d.bias), d.bias, DEFAULT_X)).sort_values("x")
        if not len(g):
            continue
        color = CELL_COLORS[cell]
        ax.errorbar(g.x, g.lambda_max, yerr=[g.lambda_max - g.lambda_max_ci_low,
                                             g.lambda_max_ci_high - g.lambda_max],
                    marker=marker, ls="none", capsize=2, color=color,
                    label=rf"{cell.upper()} $\lambda_{{\max}}$")
        ax.plot(g.x, g.gated_mf, marker="*", ms=7, ls="-", lw=0.8, color=color, alpha=0.6,
                label=f"{cell.upper()} gated mean field")
        if "surgery_no_write" in g and g.surgery_no_write.notna().any():
            ax.plot(g.x, g.surgery_no_write, marker="v", ls="none", ms=4, color="grey",
                    label=f"{cell.upper()} without the write path")
        g = g[np.isfinite(g.bias)]
        ax.plot(g.bias, g.ln_mean_gate, marker="x", ls="none", color=color, ms=4,
                label=rf"{cell.upper()} $\ln\langle k\rangle$ (mean gate)")
        ax.plot(g.bias, g.slowest_unit, marker=marker, mfc="none", ls="--", lw=0.8,
                color=color, label=rf"{cell.upper()} slowest unit's $\langle\ln k_i\rangle$")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks([DEFAULT_X, 0, 1, 2, 3], ["default", "0", "1", "2", "3"])
    ax.set_xlabel(r"keep-gate bias $b$ ($b_f$ for LSTM, $b_z$ for GRU)")
    ax.set_ylabel("exponent (nats/step)")
    fig.legend(loc="outside lower center", ncol=2, fontsize=7)
    out.figure("gated", fig, gated,
               caption=r"Full-state $\lambda_{\max}$ of LSTM and GRU vs the keep-gate bias, "
                       r"against the gated mean field (stars), $\ln\sigma(b)$ and the "
                       r"slowest unit's gate product.",
               description="Top Lyapunov exponent of the full state ([h; c] for the LSTM) at "
                       f"PyTorch's initialization, H = {GATED_H}, x_t ~ N(0, 1), mean and 95% "
                       "CI over seeds, with the forget (LSTM) or update (GRU) gate bias set "
                       "(left: PyTorch's default, random per unit); stars: the gated mean "
                       "field's lambda_max (frozen gates, circular law, "
                       "gradflow.diagnostics.theory_gated); grey triangles: the LSTM's "
                       "lambda_max with the write path removed from its Jacobians; "
                       "dotted: ln sigma(b), the cell path's exponent if f = sigma(b); dashed: "
                       "max_i of the time-averaged ln f_i,t (ln z_i,t), the top exponent of the "
                       "gate product diag(f) alone on the same trajectory")


def _figure_gated_spectra(out, spectra: pd.DataFrame) -> None:
    """Every Lyapunov exponent of the LSTM and GRU per keep-gate bias."""
    fig, axes = new_figure("page", 2.6, ncols=2)
    for ax, cell in zip(axes, ("lstm", "gru"), strict=True):
        g = spectra[spectra.cell == cell]
        biases = sorted(set(g.bias[np.isfinite(g.bias)]))
        palette = sns.color_palette("Blues" if cell == "lstm" else "Greens",
                                    n_colors=len(biases) + 1)[1:]
        for color, b in zip(palette, biases, strict=True):
            sb = g[g.bias == b]
            ax.plot(sb["index"], sb.exponent, color=color, label=f"$b = {b:g}$")
        d = g[~np.isfinite(g.bias)]
        if len(d):
            ax.plot(d["index"], d.exponent, color="#9467bd", ls="--", label="default")
        ax.set_title(cell.upper())
        ax.set_xlabel("index $i$")
        ax.set_ylim(max(-3.0, float(g.exponent.min())), None)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(r"$\lambda_i$ (nats/step)")
    out.figure("gated_spectra", fig, spectra,
               caption="Full Lyapunov spectra of the LSTM ([h; c]) and the GRU (h) per "
                       "keep-gate bias.",
               description="Every Lyapunov exponent of the full state (QR every step), "
                       "mean over seeds, clipped below at -3 nats/step")


def _table_gated(out, gated: pd.DataFrame) -> None:
    """Gated cells: full-state lambda_max against the keep gate."""
    cols = ["model", "lambda_max", "lambda_max_ci_low", "lambda_max_ci_high", "gated_mf",
            "annealed_mf", "grad_rate", "ln_sigma_bias", "ln_mean_gate", "slowest_unit"]
    cols += [c for c in ("surgery_no_write", "surgery_no_forget_slope") if c in gated]
    out.table("gated", gated[[*cols, "timescale", "naive_timescale", "seeds"]],
              caption=r"Gated cells: full-state $\lambda_{\max}$ against the keep gate.",
              columns={"model": "model", "lambda_max": r"$\lambda_{\max}$",
                       "grad_rate": "gradient rate", "ln_sigma_bias": r"$\ln\sigma(b)$",
                       "gated_mf": "mean field", "annealed_mf": "annealed",
                       "surgery_no_write": "no write path",
                       "surgery_no_forget_slope": "no $c f'$",
                       "ln_mean_gate": r"$\ln\langle k\rangle$",
                       "slowest_unit": r"$\max_i\langle\ln k_i\rangle$"},
              description="lambda_max (QR) with its 95% CI over seeds; the gated mean "
                          "field's prediction (frozen gates, circular law) and the annealed "
                          "second-moment map's (gradflow.diagnostics.theory_gated); the "
                          "gradient's "
                          "backward rate on the same trajectories (mean); ln sigma(b); ln of "
                          "the mean keep gate (f or z); the slowest unit's mean ln gate; "
                          "LSTM: lambda_max with the write path (W_hi, W_hg) or the forget "
                          "slope (c f' W_hf) removed from the step Jacobians (mean); "
                          "timescale -1/lambda_max and the naive -1/ln sigma(b) in steps "
                          "(inf: no decay)")

