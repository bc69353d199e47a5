"""Gates keep the gradient alive: the LSTM's forget gate and the GRU's update gate.

At PyTorch's initialization (random inputs, a loss reading the last step),
how far back does ||dL/ds_t|| reach in a tanh RNN, a GRU and an LSTM whose
keep-gate bias is PyTorch's default or set? The naive prediction reads the
timescale off the bias alone, -1/ln sigma(b_f): the cell path's decay if
f = sigma(b_f) exactly. The measured timescale is that of the full state
s = [h; c], whose Jacobian products also loop through h and the gates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from _lyapgates import gated_network, keep_gate, ratio_interval, worst_matches

from gradflow.diagnostics import (
    adjoint_norms,
    adjoint_profile,
    fit_decay,
    forget_gate_timescale,
    lyapunov_spectrum,
)
from gradflow.diagnostics.theory_gated import gru_mean_field, lstm_mean_field
from gradflow.report.claims import Claim, Says, Summary, differ, exceeds, fmt
from gradflow.report.layout import Group
from gradflow.report.stats import mean_ci
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Gates keep the gradient alive: LSTM and GRU vs the vanilla RNN"
QUESTION = (
    "The lecture's LSTM erases and writes its cell with gates; its cell path has the one-step "
    "Jacobian dc_t/dc_{t-1} = diag(f) (the 'constant error carousel'), and the GRU's update "
    "gate gives dh_t/dh_{t-1} a diag(z) term. At initialization, how much further back does "
    "the gradient dL/ds_t reach through these gated paths than through the vanilla RNN's "
    "diag(1 - h^2) W_hh, and is its timescale the -1/ln sigma(b_f) steps that the forget-gate "
    "bias alone predicts?")
ORDER = 20

#: Models compared: (cell, keep-gate bias): the LSTM's b_f or the GRU's b_z (None:
#: PyTorch's default, bias_ih + bias_hh each U(-1/sqrt(H), 1/sqrt(H)), mean 0 per unit).
VARIANTS = {"rnn": ("rnn", None), "gru": ("gru", None), "gru_z2": ("gru", 2.0),
            "lstm": ("lstm", None), "lstm_b0": ("lstm", 0.0), "lstm_b1": ("lstm", 1.0),
            "lstm_b2": ("lstm", 2.0), "lstm_b3": ("lstm", 3.0)}
LABELS = {"rnn": "RNN (tanh)", "gru": "GRU", "gru_z2": "GRU, b_z = 2",
          "lstm": "LSTM, default b_f", "lstm_b0": "LSTM, b_f = 0", "lstm_b1": "LSTM, b_f = 1",
          "lstm_b2": "LSTM, b_f = 2", "lstm_b3": "LSTM, b_f = 3"}



@dataclass(frozen=True)
class Config:
    """One run: a model (a key of VARIANTS) at one seed, hidden size and length."""

    variant: str
    seed: int
    hidden: int
    length: int


#: Every verdict is checked on a round-off replicate (the NumPy reference backend): a
#: cheap section, so the check costs little (README, "Verdicts checked against round-off").
REPLICATE = True
GRID = {"variant": list(VARIANTS), "seed": list(range(8)), "hidden": [64], "length": [400]}
QUICK_GRID = {"variant": ["rnn", "lstm_b1", "lstm_b3"], "seed": [0, 1, 2], "hidden": [8],
              "length": [80]}

BATCH = 32
WARMUP = 200          # steps run before the measured window: the state (esp. c) is stationary
FIT_FROM = 50         # distances fitted: d >= 50, past the readout's transient into the cell
MIN_R2 = 0.5          # a fit straighter than this is informative; below it, it is reported so
#: The comparisons' equivalence margin (nats/step) for "the same rate".
SAME_RATE = 0.05
#: Margin (nats/step) of the gradient's fitted rate against -lambda_max of the same runs:
#: the same Jacobian product read backward and forward, so a test of the code
#: (tests/analyses/test_gates.py), not a claim of the report.
LYAPUNOV_MARGIN = 0.02
#: Margin (nats/step) of the measured decay rate against the gated mean field's
#: -lambda_max (gradflow.diagnostics.theory_gated), as in the Lyapunov section.
GATED_MF_MARGIN = 0.03


def run(config: Config) -> list[dict]:
    """One model at one seed: the full-state gradient's profile back in time and its rate."""
    H, T, seed, variant = config.hidden, config.length, config.seed, config.variant
    if T <= FIT_FROM + 2:
        raise ValueError(f"length must exceed {FIT_FROM + 2}; got {T}")
    cell, bias = VARIANTS[variant]
    net, params = gated_network(cell, H, bias, seed)
    rng = np.random.default_rng([seed, 1])
    x = rng.standard_normal((WARMUP + T, BATCH, net.input_size))
    warm = net.forward(params, x[:WARMUP])
    trace = net.forward(params, x[WARMUP:], state=warm.final_state)
    d_out = np.zeros_like(trace.outputs)
    d_out[-1] = rng.standard_normal((BATCH, H)) / np.sqrt(H)   # a random readout of h_T
    adj = net.backward(params, trace, d_out).state_adjoints[(0, 0)]   # (T, B, S)
    distance, profile = adjoint_profile(adjoint_norms(adj))           # (T,), (T, B)
    fit = fit_decay(profile[FIT_FROM:], distance[FIT_FROM:], pool=True)
    # The same trajectories forward: the top exponent of the full-state Jacobian product.
    lam = lyapunov_spectrum(net.jacobian_operator(params, trace), k=1, warmup=FIT_FROM,
                            seed=np.random.default_rng([seed, 3]))[:, 0]          # (B,)
    with np.errstate(divide="ignore"):
        log10 = np.log10(profile)
    log10 = np.where(np.isfinite(log10), log10, np.nan)
    rows = [{"kind": "profile", "distance": int(d), "log10_ratio": float(np.nanmean(log10[d]))}
            for d in distance]
    row = {"kind": "summary", "rate": float(fit.rate), "rate_low": float(fit.rate_low),
           "rate_high": float(fit.rate_high), "r_squared": float(fit.r_squared),
           "bias": math.nan if bias is None else float(bias),
           "lambda_max": float(np.mean(lam))}
    if cell != "rnn":
        gate = keep_gate(cell, trace)                                 # (T, B, H)
        theory = (lstm_mean_field if cell == "lstm" else gru_mean_field)(H, bias)
        row |= {"ln_mean_gate": float(np.log(gate.mean())),
                "slowest_unit": float(np.log(gate).mean(axis=(0, 1)).max()),
                "mf_rate": theory.decay_rate}
    return [*rows, row]


# ---- summarize ---------------------------------------------------------------------

def naive_timescale(bias: float) -> float:
    """``-1 / ln sigma(b)``: the cell path's timescale if the gate sat at sigma(b)."""
    return float(forget_gate_timescale(bias))


def timescale_claim(name: str, label: str, rates: np.ndarray, r2: np.ndarray,
                    naive: float) -> tuple[Claim, tuple[float, float, float]]:
    """The measured timescale exceeds the naive one: an ``exceeds`` claim on the ratio
    (1 / rate) / naive, with the interval from the rates' t-interval over seeds.

    Inconclusive, saying why, when the fits are not straight (mean R^2 < MIN_R2) or the
    rate's interval reaches 0 (the timescale is unbounded): such a fit is not citable.
    """
    statement = (f"{label}: the full-state gradient's timescale is longer than the naive "
                 f"-1/ln sigma(b) = {naive:.3g} steps.")
    m, lo, hi = mean_ci(rates)
    r2m = float(np.mean(r2)) if len(r2) else math.nan
    base = f"rate {fmt(m)} [{fmt(lo)}, {fmt(hi)}] nats/step, mean R^2 {fmt(r2m, 2)}"
    if not r2m >= MIN_R2:
        return Claim(name, statement, "inconclusive",
                     base + f": the log-profile is not a line (R^2 < {MIN_R2}), the fit is "
                            "uninformative"), (math.nan,) * 3
    ratio = ratio_interval(rates, naive)
    if not (math.isfinite(lo) and lo > 0):
        return Claim(name, statement, "inconclusive",
                     base + ": the rate's interval reaches 0, the timescale is unbounded "
                            "(no decay measurable over the window)"), (math.nan,) * 3
    claim = exceeds(name, statement, *ratio, 1.0, what="timescale / naive")
    return Claim(name, statement, claim.verdict, claim.evidence + "; " + base), ratio


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables, citable numbers and claims of the gates section (pure)."""
    s = Summary()
    order = [v for v in VARIANTS if v in set(frame.variant)]
    summary = frame[frame.kind == "summary"]
    profiles = frame[frame.kind == "profile"]
    s.tables["profiles"] = profiles.groupby(["variant", "distance"], as_index=False)[
        "log10_ratio"].mean()

    s.tables["rates"] = pd.DataFrame([_rate_row(v, summary[summary.variant == v], s)
                                      for v in order])


    def rates(v: str) -> np.ndarray:
        return summary[summary.variant == v].rate.to_numpy()

    for v, statement in (("lstm", "At PyTorch's default init the LSTM's gradient decays more "
                                  "slowly than the tanh RNN's (default gate biases, b_f ~ 0)."),
                         ("gru", "At PyTorch's default init the GRU's gradient decays more "
                                 "slowly than the tanh RNN's.")):
        if {"rnn", v} <= set(order):
            claim = differ(f"default_{v}_vs_rnn", statement, rates("rnn"), rates(v),
                           margin=SAME_RATE, labels=("RNN rate", f"{v.upper()} rate"))
            s.claim(claim.reads(_default_says(v.upper(), claim), group="defaults"))
    fixed = [v for v in ("lstm_b0", "lstm_b1", "lstm_b2", "lstm_b3") if v in order]
    for a, b in zip(fixed, fixed[1:], strict=False):
        s.claim(differ(
            f"bias_slows_decay_{a}_{b}",
            f"Raising the forget bias from {LABELS[a].split('= ')[1]} to "
            f"{LABELS[b].split('= ')[1]} slows the gradient's decay.", rates(a), rates(b),
            labels=(LABELS[a], LABELS[b]), group="bias"))
    for cell in ("lstm", "gru"):
        _mean_field_claim(s, summary, cell, [v for v in order if VARIANTS[v][0] == cell])
    for group in GROUPS:
        s.group(group)
    return s


def _mean_field_claim(s: Summary, summary: pd.DataFrame, cell: str,
                      variants: list[str]) -> None:
    """The measured decay rates of one gated cell against the gated mean field's."""
    if not variants or "mf_rate" not in summary:
        return
    pts = [(LABELS[v], summary[summary.variant == v].rate.to_numpy()) for v in variants]
    pred = [float(summary[summary.variant == v].mf_rate.iloc[0]) for v in variants]
    name = cell.upper()
    # The bias alone: the rate -ln sigma(b) = 1 / naive_timescale(b), where b is set.
    biases = {v: b for v in variants if (b := VARIANTS[v][1]) is not None}
    misses = [abs(float(summary[summary.variant == v].rate.mean()) - 1.0 / naive_timescale(b))
              for v, b in biases.items()]
    naive = (f", where the bias alone (-ln sigma(b)) misses by up to {fmt(max(misses), 2)} "
             "nats/step" if misses else "")
    claim = worst_matches(
        f"{cell}_rate_matches_gated_mean_field",
        f"The {name}'s measured gradient decay rate matches the gated mean field's "
        f"-lambda_max (frozen gates, circular law) within {GATED_MF_MARGIN} nats/step for "
        "every bias, default included.", pts, pred, GATED_MF_MARGIN, what="rate")
    s.claim(claim.reads(Says(
        holds=f"The gated mean field predicts the {name}'s decay rate within "
              f"{GATED_MF_MARGIN} nats/step at every bias (stars in the rates figure)"
              + naive + ".",
        fails=f"The gated mean field misses the {name}'s decay rate by more than "
              f"{GATED_MF_MARGIN} nats/step ({claim.evidence}).",
        inconclusive=f"Whether the gated mean field predicts the {name}'s decay rate within "
                     f"{GATED_MF_MARGIN} nats/step is not resolved by the seeds."),
        group="mean_field"))


def _rate_row(v: str, g: pd.DataFrame, s: Summary) -> dict[str, Any]:
    """One model's row of the rates table (its runs ``g``); adds its claim and numbers."""
    cell, bias = VARIANTS[v]
    m, lo, hi = mean_ci(g.rate)
    row: dict[str, Any] = {"variant": v, "model": LABELS[v], "rate": m, "rate_ci_low": lo,
                           "rate_ci_high": hi, "r_squared": float(g.r_squared.mean()),
                           "seeds": len(g), "bias": math.nan if bias is None else bias}
    with np.errstate(divide="ignore"):
        informative = row["r_squared"] >= MIN_R2 and math.isfinite(lo) and lo > 0
        row |= {"timescale": 1.0 / m if informative else math.nan,
                "timescale_ci_low": 1.0 / hi if informative else math.nan,
                "timescale_ci_high": 1.0 / lo if informative else math.nan,
                "informative": bool(informative)}
    if cell != "rnn":
        mf = float(g.mf_rate.iloc[0]) if "mf_rate" in g else math.nan
        row |= {"slowest_unit_timescale": float(-1.0 / g.slowest_unit.mean()),
                "mean_gate_timescale": float(-1.0 / g.ln_mean_gate.mean()),
                "mf_rate": mf, "mf_timescale": 1.0 / mf if mf > 0 else math.nan}
    if bias is not None:
        row["naive_timescale"] = naive_timescale(bias)
        claim, ratio = timescale_claim(f"timescale_exceeds_naive_{v}", LABELS[v],
                                       g.rate.to_numpy(), g.r_squared.to_numpy(),
                                       row["naive_timescale"])
        s.claim(claim.reads(group="timescales", label=LABELS[v]))
        row |= {"ratio": ratio[0], "ratio_ci_low": ratio[1], "ratio_ci_high": ratio[2]}
        if math.isfinite(ratio[0]) and math.isfinite(ratio[2]):
            s.number(f"TimescaleRatio{_camel(v)}", ratio[0],
                     f"full-state timescale / -1/ln sigma(b), {LABELS[v]}",
                     low=ratio[1], high=ratio[2])
    if row["informative"]:
        s.number(f"Timescale{_camel(v)}", row["timescale"],
                 f"full-state gradient timescale, {LABELS[v]}",
                 low=row["timescale_ci_low"], high=row["timescale_ci_high"], unit="steps")
    return row


def _default_says(what: str, claim: Claim) -> Says:
    return Says(
        holds=f"At PyTorch's default init the {what}'s gradient already decays more slowly "
              "than the RNN's.",
        fails=(f"At PyTorch's default init the {what}'s gradient decays no more slowly than "
               "the RNN's" + (" (equal within the margin)." if "equal" in claim.evidence
                              else ".")),
        inconclusive=f"At PyTorch's default init the seeds do not tell whether the {what}'s "
                     "gradient decays more slowly than the RNN's.")


#: How the section's claims read, in this order (one paragraph).
GROUPS = [
    Group("defaults"),
    Group("mean_field"),
    Group("bias", tally="Of the {n} one-step increases of the forget bias, {holds} slow the "
                        "decay significantly (rank test), {fails} speed it up and "
                        "{inconclusive} are not resolved by the seeds."),
    Group("timescales",
          holds="The full-state gradient outlives the naive timescale -1/ln sigma(b) for "
                "{labels} (ratios with their intervals in the table and the claims): the "
                "bias alone understates how far the gradient reaches. The Lyapunov section "
                "tests why: the gates' spread across units, the gated mean field and a "
                "Jacobian surgery of the loop through h.",
          fails="It does not for {labels}.",
          inconclusive="For {labels} the timescale is not resolved (the claims say why); it "
                       "is not cited."),
]


def _camel(variant: str) -> str:
    words = {"rnn": "Rnn", "gru": "Gru", "lstm": "Lstm", "b0": "BiasZero", "b1": "BiasOne",
             "b2": "BiasTwo", "b3": "BiasThree", "z2": "UpdateBiasTwo"}
    return "".join(words[p] for p in variant.split("_"))


# ---- render ------------------------------------------------------------------------

def _math(label: str) -> str:
    """A model's label for a plot: its gate biases as math (``$b_f = 2$``)."""
    return re.sub(r"b_([fz])( = -?[\d.]+)?", lambda m: f"$b_{m[1]}{m[2] or ''}$", label)


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: two figures, the rates table, then the claims (their prose)."""
    summary = summarize(frame)
    profiles_figure(summary, out)
    rates_figure(summary, out)
    timescales_figure(summary, out)
    rates_table(summary, out)
    out.summary(summary)


def _colors(order: list[str]) -> dict[str, Any]:
    """A colour per model: shades of blue for the fixed forget biases."""
    fixed = [v for v in order if v.startswith("lstm_")]
    blues = sns.color_palette("Blues", n_colors=len(fixed) + 1)[1:]
    shades: dict[str, Any] = dict(zip(fixed, [tuple(c) for c in blues], strict=True))
    shades |= {"lstm": "#9467bd", "gru_z2": "#98df8a"}
    return {v: shades.get(v, CELL_COLORS.get(v, "k")) for v in order}


def profiles_figure(summary: Summary, out) -> None:
    """Profiles, with the naive decay sigma(b)^k drawn from distance FIT_FROM."""
    rates, profiles = summary.tables["rates"], summary.tables["profiles"]
    order = list(rates.variant)
    color = _colors(order).__getitem__
    fig, ax = new_figure("column", 3.0)
    naive_rows = []
    for v in order:
        g = profiles[profiles.variant == v]
        ax.plot(g.distance, g.log10_ratio, color=color(v), label=_math(LABELS[v]),
                ls="--" if v in ("lstm", "gru_z2") else "-")
        r = rates[rates.variant == v].iloc[0]
        if math.isfinite(r.get("naive_timescale", math.nan)) and v in ("lstm_b1", "lstm_b2"):
            d0 = min(FIT_FROM, int(g.distance.max()))
            start = g[g.distance == d0].log10_ratio.iloc[0]
            d = g.distance[g.distance >= d0]
            line = start - (d - d0) / r.naive_timescale / math.log(10)
            keep = line >= g.log10_ratio.min() - 1
            ax.plot(d[keep], line[keep], color=color(v), ls=":", lw=1.4)
            naive_rows.append(pd.DataFrame({"variant": v, "distance": d[keep],
                                            "naive_log10": line[keep]}))
    ax.set_xlabel(r"distance $k = T-1-t$ (steps back from the loss)")
    ax.set_ylabel(r"$\log_{10} \|\partial L/\partial s_t\| \,/\, \|\partial L/\partial s_T\|$")
    ax.set_ylim(max(-20, float(profiles.log10_ratio.min()) - 0.5), 0.5)
    fig.legend(loc="outside lower center", ncol=3, fontsize=7)
    data = profiles if not naive_rows else profiles.merge(
        pd.concat(naive_rows), on=["variant", "distance"], how="left")
    out.figure("profiles", fig, data,
               caption=r"Gradient norm back in time at initialization, per model; dotted: "
                       r"the naive decay $\sigma(b_f)^k$ from distance "
                       f"{FIT_FROM} (b_f = 1, 2).",
               description="Mean over seeds (and 32 input sequences) of log10 ||dL/ds_t|| "
                       "relative to the last step, PyTorch initialization, random inputs, a "
                       "loss on the last step, after a warm-up; the LSTM's state is [h; c]. "
                       "Dotted, in the colour of its model: the decay sigma(b_f)^k that the "
                       f"forget bias alone predicts, started on the measured curve at distance "
                       f"{FIT_FROM}")



def timescales_figure(summary: Summary, out) -> None:
    """Timescale vs bias: measured, naive, slowest unit (the fixed-bias LSTMs)."""
    rates = summary.tables["rates"]
    fixed = [v for v in rates.variant if v.startswith("lstm_")]
    lstm = rates[rates.variant.isin(fixed)].sort_values("bias")
    if len(lstm):
        fig, ax = new_figure("column", 2.8)
        bb = np.linspace(0.0, 3.2, 60)
        ax.plot(bb, [naive_timescale(b) for b in bb], "k:", label=r"naive $-1/\ln\sigma(b_f)$")
        ax.plot(lstm.bias, lstm.slowest_unit_timescale, "^--", color="grey", mfc="none",
                lw=0.8, label=r"slowest unit's $-1/\langle\ln f_i\rangle$")
        if "mf_timescale" in lstm:
            ax.plot(lstm.bias, lstm.mf_timescale, "*-", color=CELL_COLORS["lstm"], alpha=0.6,
                    lw=0.8, ms=7, label=r"gated mean field $1/\mathrm{rate}$")
        ok = lstm[lstm.informative]
        ax.errorbar(ok.bias, ok.timescale, yerr=[ok.timescale - ok.timescale_ci_low,
                                                 ok.timescale_ci_high - ok.timescale],
                    marker="o", ls="none", capsize=3, color=CELL_COLORS["lstm"],
                    label="measured, full state (95% CI)")
        top = float(np.nanmax([lstm.slowest_unit_timescale.max(), ok.timescale_ci_high.max()
                               if len(ok) else 1.0, naive_timescale(3.2)])) * 2
        for r in lstm[~lstm.informative].itertuples():
            ax.annotate("no decay\nmeasured", (r.bias, top / 1.6), ha="center", fontsize=7,
                        color=CELL_COLORS["lstm"])
        ax.set_yscale("log")
        ax.set_ylim(1, top * 1.5)
        ax.set_xlabel("forget-gate bias $b_f$")
        ax.set_ylabel(r"timescale $\xi$ (steps)")
        ax.legend(loc="upper left", fontsize=7)
        out.figure("timescales", fig, lstm,
                   caption=r"The LSTM's gradient timescale vs forget bias: measured on the full "
                           r"state against the naive $-1/\ln\sigma(b_f)$.",
                   description="Inverse of the fitted decay rate of ||dL/ds_t|| (fit_decay, "
                           f"random-walk errors, distances {FIT_FROM}..T-1, pooled over the "
                           "sequences of a seed), mean and 95% CI over seeds, against the "
                           "naive timescale -1/ln sigma(b_f) (dotted) and the slowest unit's "
                           "gate product -1/max_i mean_t ln f_i,t (triangles) and the gated mean "
                           "field's 1/rate (stars; none where it predicts no decay). A bias "
                           "whose fit is "
                           "uninformative (R^2 < 0.5 or a rate interval reaching 0) is marked, "
                           "not plotted")


def rates_figure(summary: Summary, out) -> None:
    """Measured decay rate per model against the gated mean field's prediction."""
    rates = summary.tables["rates"]
    if "mf_rate" not in rates:
        return
    fig, ax = new_figure("column", 2.8)
    color = _colors(list(rates.variant))
    y = np.arange(len(rates))[::-1]
    for yy, r in zip(y, rates.itertuples(), strict=True):
        ax.errorbar([r.rate], [yy], xerr=[[r.rate - r.rate_ci_low], [r.rate_ci_high - r.rate]],
                    marker="o", capsize=2, color=color[r.variant], ls="none")
        if math.isfinite(r.mf_rate):
            ax.plot([r.mf_rate], [yy], marker="*", ms=9, color="k", mfc="none", ls="none")
    ax.plot([], [], "ko", label="measured (95% CI)")
    ax.plot([], [], "k*", mfc="none", ms=9, label="gated mean field")
    ax.set_yticks(y, [_math(m) for m in rates.model], fontsize=7)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(r"decay rate of $\|\partial L/\partial s_t\|$ (nats/step)")
    ax.legend(loc="lower right", fontsize=7)
    out.figure("rates", fig, rates[["variant", "model", "rate", "rate_ci_low", "rate_ci_high",
                                    "mf_rate"]],
               caption="Decay rate of the full-state gradient per model: measured against "
                       "the gated mean field.",
               description="Fitted decay rate of ||dL/ds_t|| (nats/step), mean and 95% CI "
                       "over seeds (points), and the gated mean field's -lambda_max (stars: "
                       "frozen gates, circular law, gradflow.diagnostics.theory_gated, at "
                       "the same width, init and input); none for the tanh RNN")


def rates_table(summary: Summary, out) -> None:
    """Decay rate and timescale per model, with the naive timescale and the ratio."""
    rates = summary.tables["rates"]
    out.table("rates", rates[["model", "rate", "rate_ci_low", "rate_ci_high", "mf_rate",
                              "r_squared", "timescale", "timescale_ci_low", "timescale_ci_high",
                              "naive_timescale", "ratio", "ratio_ci_low", "ratio_ci_high",
                              "seeds"] if "naive_timescale" in rates else
                             ["model", "rate", "rate_ci_low", "rate_ci_high", "r_squared",
                              "seeds"]],
              caption="Decay rate and timescale of the full-state gradient at "
                      "initialization, 95% CI over seeds, against the naive timescale.",
              columns={"model": "model", "rate": "rate (nats/step)", "r_squared": "$R^2$",
                       "mf_rate": "mean field",
                       "timescale": "timescale (steps)", "naive_timescale": "naive",
                       "ratio": "ratio"},
              description="Decay rate of ||dL/ds_t|| (nats/step), the gated mean field's "
                          "-lambda_max (blank for the tanh RNN) and the measured rate's "
                          "inverse, the "
                          "timescale (steps; blank where the fit is uninformative: mean R^2 "
                          f"< {MIN_R2} or a rate interval reaching 0), the naive -1/ln "
                          "sigma(b) and their ratio, 95% CI over seeds")
