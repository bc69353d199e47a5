"""Across depth: how much gradient reaches the bottom of a stacked RNN at initialization.

Stacks of 1 to 8 recurrent layers (tanh RNN, LSTM, GRU; PyTorch's default
initialization), joined by no connection, residual (GNMT: y = h + u), dense
(layer l reads [x; y^0; ...; y^{l-1}]) or highway (y = T*h + (1-T)*u, carry
bias b_T = -2) connections. A random readout of the top layer's last output
is the loss; we measure the gradient reaching the input x and the first
layer's input weights W_ih^0, and the singular values of each layer's depth
Jacobian dy^l/du^l (the path across depth, as the step Jacobian is the path
across time). The mean-field prediction of the per-layer factor
(gradflow.diagnostics.theory_depth) is drawn beside every measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import gradflow
from gradflow.diagnostics import singular_values
from gradflow.diagnostics.theory_depth import stack_prediction
from gradflow.norms import vector_norm
from gradflow.report import mean_ci
from gradflow.report import summarize as group_ci
from gradflow.report.claims import Says, Summary, below, fmt, matches
from gradflow.report.layout import Group
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Across depth: residual, dense and highway connections"
QUESTION = (
    "The lecture's remedy for vanishing gradients in deep networks is to add more direct "
    "connections: residual (ResNet) skip connections whose identity path preserves "
    "information by default, dense (DenseNet) and highway (HighwayNet) connections; and it "
    "notes that multi-layer RNNs are not as deep as CNNs. At initialization, how much "
    "gradient reaches the first layer of a stacked RNN as the stack grows from 1 to 8 "
    "layers, with and without direct connections between the layers, and does mean-field "
    "theory predict it?")
ORDER = 40

CELLS = ["rnn", "lstm", "gru"]
CONNECTIONS = ["none", "residual", "dense", "highway"]


@dataclass(frozen=True)
class Config:
    """One stack at initialization: its cell, the connection between layers, its depth
    and the seed."""

    cell: str
    connection: str
    layers: int
    seed: int


#: Every verdict is checked on a round-off replicate (the NumPy reference backend): a
#: cheap section, so the check costs little (README, "Verdicts checked against round-off").
REPLICATE = True
GRID = {"cell": CELLS, "connection": CONNECTIONS, "layers": [1, 2, 4, 6, 8],
        "seed": list(range(12))}
QUICK_GRID = {"cell": ["rnn", "gru"], "connection": ["none", "residual"], "layers": [1, 4],
              "seed": [0, 1]}

INPUT_SIZE, HIDDEN, LENGTH, BATCH, CARRY_BIAS = 32, 32, 20, 16, -2.0
HIGHWAY_CARRY = float(1.0 / (1.0 + np.exp(CARRY_BIAS)))   # 1 - sigma(b_T) = sigma(-b_T)
SV_SEQUENCES = 2          # depth-Jacobian singular values on this many sequences (cost)
MARGIN = 0.10             # a prediction matches when within 10% of the predicted factor
LOSES = 0.1              # "loses an order of magnitude"
#: Connections whose per-layer factor the design sets (the highway's carry 1 - sigma(b_T)
#: at b_T = -2, 0.881): checked by a test, not claimed (tests/analyses/test_depth.py).
DESIGN_SET = ("highway",)
#: Connections whose direction (does the gradient shrink or grow across depth?) is claimed.
DIRECTION = ("residual", "dense")
CONNECTION_STYLE = {"none": ("o", "-"), "residual": ("s", "--"), "dense": ("^", "-."),
                    "highway": ("D", ":")}


def _norm(a: np.ndarray) -> float:
    return float(vector_norm(a, axis=None))


def run(config: Config) -> list[dict]:
    """One stack at initialization: gradient norms at the bottom and the depth Jacobians'
    singular values.

    A single layer has nothing to connect (the library requires >= 2 layers for a
    connection), so at ``layers == 1`` every connection runs the same plain layer: all
    curves start from one shared point. Layer 0's parameters, the input and the readout
    are drawn first from the seed, so they are the same at every depth (paired ratios).
    """
    cell, connection, L, seed = config.cell, config.connection, config.layers, config.seed
    net = gradflow.Network(cell, INPUT_SIZE, HIDDEN, num_layers=L,
                           connection=connection if L > 1 else "none")
    params = net.init(seed, carry_bias=CARRY_BIAS)
    rng = np.random.default_rng([seed, 1])
    x = rng.standard_normal((LENGTH, BATCH, INPUT_SIZE))
    trace = net.forward(params, x)
    d_out = np.zeros_like(trace.outputs)
    d_out[-1] = rng.standard_normal((BATCH, HIDDEN)) / np.sqrt(HIDDEN)  # readout of y_T
    grads = net.backward(params, trace, d_out)

    hidden = np.stack([lt.hidden for lt in trace.layers])             # (L, T, B, H)
    gates = [lt.carry_gate for lt in trace.layers if lt.carry_gate is not None]
    rows = [{"kind": "summary",
             "input_grad": _norm(grads.inputs),
             "first_layer_grad": _norm(grads.params["weight_ih_l0"]),
             "carry": float(np.mean([np.mean(1 - g) for g in gates])) if gates else np.nan,
             "saturation": float(np.mean(np.abs(hidden) > 0.99))}]
    for layer in range(1, L):
        J = net.depth_jacobians(params, trace, layer)[:, :SV_SEQUENCES]
        sv = singular_values(J)                                   # (T, b, min(H, K))
        rows.append({"kind": "depth_jacobian", "layer": layer,
                     "sv_max": float(np.mean(sv[..., 0])),
                     "sv_median": float(np.mean(np.median(sv, axis=-1))),
                     "sv_min": float(np.mean(sv[..., -1]))})
    return rows


def _ordered(frame: pd.DataFrame, column: str, order: list[str]) -> list[str]:
    return [c for c in order if c in set(frame[column])]


# ---- summarize ---------------------------------------------------------------------

def summarize(frame: pd.DataFrame) -> Summary:
    """Tables ``curves``, ``ratios``, ``jacobians``; a ``matches`` claim per cell and
    connection (measured per-layer factor vs mean field; not the highway's, which the
    design sets), the loss without connections and the direction with them."""
    s = Summary()
    runs = frame[frame.kind == "summary"].copy()
    cells, conns = _ordered(runs, "cell", CELLS), _ordered(runs, "connection", CONNECTIONS)
    depths = sorted(int(d) for d in runs.layers.unique())
    shallow, deep = min(depths), max(depths)
    s.tables["curves"] = _curves(runs, shallow)
    ratios = _ratios(runs, cells, conns, shallow, deep)
    dj = frame[(frame.kind == "depth_jacobian") & (frame.layers == deep)]
    jac = (dj.groupby(["cell", "connection"], as_index=False)[["sv_max", "sv_median", "sv_min"]]
           .mean() if len(dj) else pd.DataFrame(columns=["cell", "connection", "sv_max",
                                                          "sv_median", "sv_min"]))
    sat = runs[runs.layers == deep].groupby(["cell", "connection"], as_index=False)[
        ["carry", "saturation"]].mean()
    ratios = ratios.merge(jac, on=["cell", "connection"], how="left").merge(
        sat, on=["cell", "connection"], how="left")
    s.tables["ratios"] = ratios
    s.tables["jacobians"] = jac
    _claims(s, ratios, shallow, deep)
    s.group(Group("mean_field", bullets=True, intro=LISTS["mean_field"]))
    s.group(Group("independent_steps", bullets=True, intro=LISTS["independent_steps"]))
    for cell in cells:
        s.group(Group(f"depth_{cell}", new_paragraph=True))
    return s


def _curves(runs: pd.DataFrame, shallow: int) -> pd.DataFrame:
    """Geometric means over seeds vs depth, with the mean-field curve from the 1-layer point."""
    curves = group_ci(runs.assign(log10=np.log10(runs.first_layer_grad)),
                      ["cell", "connection", "layers"], "log10")
    for col in ("mean", "ci_low", "ci_high"):
        curves[col] = 10.0 ** curves[col]
    base = curves[curves.layers == shallow].set_index(["cell", "connection"])["mean"]
    curves["predicted"] = [
        base.get((r.cell, r.connection), np.nan)
        * stack_prediction(r.cell, r.connection, int(r.layers), hidden_size=HIDDEN,
                           carry_bias=CARRY_BIAS).ratio
        / stack_prediction(r.cell, r.connection, shallow, hidden_size=HIDDEN,
                           carry_bias=CARRY_BIAS).ratio
        for r in curves.itertuples()]
    return curves.rename(columns={"mean": "geo_mean"})


def _ratios(runs: pd.DataFrame, cells: list[str], conns: list[str], shallow: int,
            deep: int) -> pd.DataFrame:
    """Paired deep/shallow ratios per seed -> per-layer factor with its t-interval (log)."""
    rows = []
    pivot = runs.pivot_table(index=["cell", "connection", "seed"], columns="layers",
                             values=["first_layer_grad", "input_grad"])
    for cell in cells:
        for conn in conns:
            if deep == shallow or (cell, conn) not in pivot.index.droplevel("seed"):
                continue
            rows.append(_ratio_row(pivot.loc[(cell, conn)], cell, conn, shallow, deep))
    return pd.DataFrame(rows, columns=[
        "cell", "connection", "seeds", "ratio", "ratio_ci_low", "ratio_ci_high", "ratio_input",
        "ratio_input_ci_low", "ratio_input_ci_high", "per_layer", "per_layer_ci_low",
        "per_layer_ci_high", "predicted_ratio", "predicted_per_layer", "white_per_layer"])


def _ratio_row(g: pd.DataFrame, cell: str, conn: str, shallow: int,
               deep: int) -> dict[str, Any]:
    """One cell and connection's row of the ratios table (``g``: its runs by seed)."""
    log_w = np.log10(g[("first_layer_grad", deep)] / g[("first_layer_grad", shallow)])
    log_x = np.log10(g[("input_grad", deep)] / g[("input_grad", shallow)])
    m, lo, hi = mean_ci(log_w.to_numpy())
    mx, lox, hix = mean_ci(log_x.to_numpy())
    k = deep - shallow
    pred, white = (
        stack_prediction(cell, conn, deep, hidden_size=HIDDEN, carry_bias=CARRY_BIAS,
                         coherent=coherent).ratio
        / stack_prediction(cell, conn, shallow, hidden_size=HIDDEN,
                           carry_bias=CARRY_BIAS, coherent=coherent).ratio
        for coherent in (True, False))
    return {"cell": cell, "connection": conn, "seeds": int(np.isfinite(log_w).sum()),
            "ratio": 10 ** m, "ratio_ci_low": 10 ** lo, "ratio_ci_high": 10 ** hi,
            "ratio_input": 10 ** mx, "ratio_input_ci_low": 10 ** lox,
            "ratio_input_ci_high": 10 ** hix,
            "per_layer": 10 ** (m / k), "per_layer_ci_low": 10 ** (lo / k),
            "per_layer_ci_high": 10 ** (hi / k),
            "predicted_ratio": pred, "predicted_per_layer": pred ** (1 / k),
            "white_per_layer": white ** (1 / k)}


def _says(prefix: str, evidence: str, **text: str) -> Says:
    """A claim's sentences: ``prefix``, the verdict's text, then its evidence."""
    return Says(**{v: f"{prefix}{t} ({evidence})." for v, t in text.items()})


def _claims(s: Summary, ratios: pd.DataFrame, shallow: int, deep: int) -> None:
    """Every cell and connection against mean field but the highway's (whose factor is
    the carry the design sets: a test); then, per cell, the simpler mean field where it
    differs from the full one, the loss without connections, and the direction (shrink or
    grow) with residual and dense connections."""
    for r in ratios.itertuples():
        if r.connection in DESIGN_SET:
            continue
        c = matches(
            f"{r.cell}_{r.connection}_matches_mean_field",
            f"{r.cell}, {r.connection}: the per-layer factor of ||dL/dW_ih^0|| ({shallow} to "
            f"{deep} layers) matches the mean-field prediction within {MARGIN:.0%}",
            r.per_layer, r.per_layer_ci_low, r.per_layer_ci_high, r.predicted_per_layer,
            MARGIN * r.predicted_per_layer, what=f"per layer (n = {r.seeds})")
        s.claim(c.reads(_says(
            f"{r.cell}, {r.connection}: ", c.evidence,
            holds="the mean-field factor predicts the measured one within the margin",
            fails="the mean-field factor misses the measured one by more than the margin",
            inconclusive="too wide an interval, or too close to the margin, to decide"),
            group="mean_field"))
    for r in ratios.itertuples():
        if r.connection == "none":
            _plain_claims(s, r, deep)
        if r.connection in DIRECTION:
            _direction_claim(s, r, shallow, deep)
        if np.isfinite(r.ratio_ci_low) and np.isfinite(r.ratio_ci_high):
            s.number(f"Ratio{r.cell.capitalize()}{r.connection.capitalize()}", r.ratio,
                     f"{r.cell}, {r.connection}: ||dL/dW_ih^0|| at {deep} layers / at "
                     f"{shallow} (geometric mean over seeds)",
                     low=r.ratio_ci_low, high=r.ratio_ci_high)


def _direction_claim(s: Summary, r: Any, shallow: int, deep: int) -> None:
    """Does the first layer's gradient shrink or grow across depth (row ``r``)? Two-sided:
    the per-layer factor's interval below 1 (shrinks) or above it (grows)."""
    c = below(
        f"{r.cell}_{r.connection}_shrinks",
        f"{r.cell} with {r.connection} connections: the first layer's gradient shrinks with "
        f"depth (per-layer factor of ||dL/dW_ih^0||, {shallow} to {deep} layers, below 1)",
        r.per_layer, r.per_layer_ci_low, r.per_layer_ci_high, 1.0,
        what=f"per layer (n = {r.seeds})", digits=4)
    over = f"{fmt(r.ratio)} over {deep - shallow} more layers"
    s.claim(c.reads(_says(
        "", f"{c.evidence}; {over}",
        holds=f"With {r.connection} connections the {r.cell}'s first-layer gradient shrinks "
              f"with depth",
        fails=f"With {r.connection} connections the {r.cell}'s first-layer gradient grows "
              f"with depth",
        inconclusive=f"With {r.connection} connections, whether the {r.cell}'s first-layer "
                     f"gradient shrinks or grows with depth is not decided"),
        group=f"depth_{r.cell}"))


def _plain_claims(s: Summary, r: Any, deep: int) -> None:
    """A plain stack (row ``r`` of the ratios): the independent-steps mean field where it
    is a different prediction (a gated cell's; a tanh RNN's is the same number), and the
    loss of an order of magnitude over the stack."""
    if not np.isclose(r.white_per_layer, r.predicted_per_layer, rtol=1e-9, atol=0.0):
        c = matches(
            f"{r.cell}_none_matches_independent_steps",
            f"{r.cell}, none: the per-layer factor matches, within {MARGIN:.0%}, the "
            f"mean field that adds successive steps' adjoints as if independent",
            r.per_layer, r.per_layer_ci_low, r.per_layer_ci_high, r.white_per_layer,
            MARGIN * r.white_per_layer, what=f"per layer (n = {r.seeds})")
        s.claim(c.reads(_says(
            f"{r.cell}: ", c.evidence,
            holds="adding successive steps as if independent predicts it too",
            fails="adding successive steps as if independent misses it: the "
                  "correlation across time that a gate's mean path carries matters",
            inconclusive="undecided whether adding steps as if independent predicts it"),
            group="independent_steps"))
    c = below(
        f"{r.cell}_plain_loses",
        f"{r.cell} without connections: the first layer's gradient at {deep} layers "
        f"is below {LOSES:g} x that of one layer",
        r.ratio, r.ratio_ci_low, r.ratio_ci_high, LOSES, what="ratio")
    s.claim(c.reads(_says(
        "", c.evidence,
        holds=f"Without connections, the {r.cell}'s first layer keeps less than "
              f"{LOSES:g} of its one-layer gradient at {deep} layers",
        fails=f"Without connections, the {r.cell}'s first layer keeps more than "
              f"{LOSES:g} of its one-layer gradient at {deep} layers",
        inconclusive=f"Whether the {r.cell} without connections loses an order "
                     f"of magnitude over {deep} layers is not decided"),
        group=f"depth_{r.cell}"))


# ---- render ------------------------------------------------------------------------

#: The introductions (which state no result) of the groups written as Markdown lists.
LISTS = {
    "mean_field": "Mean field against measurement, per cell and connection (the prediction "
                  "tracks each adjoint's spectrum over time: a gate's mean carries it "
                  "coherently, fluctuations and random weights add it incoherently):",
    "independent_steps": "Without connections, against the simpler mean field that treats "
                         "successive steps' adjoints as independent:"}


def render(frame: pd.DataFrame, out: Any) -> None:
    """Three figures, the ratios table, then the claims (their prose) and a closing note."""
    summary = summarize(frame)
    gradient_vs_depth_figure(summary, out)
    theory_vs_measured_figure(summary, out)
    depth_jacobians_figure(summary, out)
    ratios_table(summary, out)
    out.summary(summary)
    out.text(f"These are statements about initialization only; whether the kept gradient "
             f"helps training is not tested here. (Margin: {fmt(MARGIN)} of the predicted "
             f"factor, fixed before the comparison.) The highway stacks' per-layer factor is "
             f"the mean carry 1 - sigma(b_T) = {fmt(HIGHWAY_CARRY)} that the design sets "
             f"with b_T = {CARRY_BIAS:g} (drawn, and checked by a test, not claimed); a "
             f"plain tanh RNN's independent-steps mean field is the same number as its mean "
             f"field (it has no gate whose mean carries the adjoint coherently), so it is "
             f"not claimed twice.")


def _axes(summary: Summary) -> tuple[list[str], list[str], list[int]]:
    """The cells, connections and depths measured (in the grid's order)."""
    curves = summary.tables["curves"]
    return (_ordered(curves, "cell", CELLS), _ordered(curves, "connection", CONNECTIONS),
            sorted(int(d) for d in curves.layers.unique()))


def gradient_vs_depth_figure(summary: Summary, out: Any) -> None:
    """The first layer's gradient vs depth with the mean-field curve."""
    curves = summary.tables["curves"]
    cells, conns, depths = _axes(summary)
    fig, axes = new_figure("page", 2.4, ncols=len(cells), sharey=True, squeeze=False)
    for col, cell in enumerate(cells):
        ax = axes[0, col]
        for conn in conns:
            g = curves[(curves.cell == cell) & (curves.connection == conn)]
            marker, ls = CONNECTION_STYLE[conn]
            ax.errorbar(g.layers, g.geo_mean, yerr=[g.geo_mean - g.ci_low,
                                                    g.ci_high - g.geo_mean],
                        marker=marker, ls="none", capsize=2, color=CELL_COLORS[cell],
                        label=conn, markersize=4)
            ax.plot(g.layers, g.predicted, ls=ls, color="grey", lw=1)
        ax.set_yscale("log")
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_title(cell)
        ax.set_xlabel("layers $L$")
    axes[0, 0].set_ylabel(r"$\|\partial L/\partial W_{ih}^{0}\|$")
    axes[0, 0].plot([], [], color="grey", lw=1, label="mean field")
    axes[0, 0].legend(fontsize="small")
    out.figure("gradient_vs_depth", fig, curves,
               caption="Gradient reaching the first layer's input weights vs the number of "
                       "layers (markers) and the mean-field prediction (grey lines).",
               description=f"||dL/dW_ih^0|| at initialization vs the number of layers (T = "
                           f"{LENGTH}, H = {HIDDEN}; loss: a random readout of the top "
                           f"layer's last output), geometric mean over seeds with 95% CI. "
                           f"Grey, line style per connection: the mean-field prediction "
                           f"(gradflow.diagnostics.theory_depth) started from the measured "
                           f"one-layer point; at one layer all connections are the same "
                           f"plain layer")


def theory_vs_measured_figure(summary: Summary, out: Any) -> None:
    """The measured per-layer factor against its prediction, with the margin."""
    ratios = summary.tables["ratios"]
    if not len(ratios):
        return
    _, _, depths = _axes(summary)
    shallow, deep = min(depths), max(depths)
    fig, ax = new_figure("column", 3.6)
    lim = [0.9 * min(ratios.predicted_per_layer.min(), ratios.per_layer_ci_low.min(),
                     ratios.white_per_layer.min()),
           1.1 * max(ratios.predicted_per_layer.max(), ratios.per_layer_ci_high.max())]
    xs = np.linspace(lim[0], lim[1], 50)
    ax.fill_between(xs, xs * (1 - MARGIN), xs * (1 + MARGIN), color="0.9",
                    label=rf"$\pm{MARGIN:.0%}$".replace("%", r"\%"))
    ax.plot(xs, xs, color="black", lw=0.7)
    for r in ratios.itertuples():
        marker, _ = CONNECTION_STYLE[r.connection]
        ax.errorbar([r.predicted_per_layer], [r.per_layer],
                    yerr=[[r.per_layer - r.per_layer_ci_low],
                          [r.per_layer_ci_high - r.per_layer]],
                    marker=marker, color=CELL_COLORS[r.cell], capsize=2, markersize=4,
                    ls="none", label=f"{r.cell.upper()}, {r.connection}")
        if r.connection == "none":
            ax.plot([r.white_per_layer], [r.per_layer], marker=marker, mfc="none",
                    color=CELL_COLORS[r.cell], ls="none", markersize=4)
    ax.plot([], [], "o", mfc="none", color="grey", ls="none",
            label="indep. steps (plain)")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("mean-field per-layer factor")
    ax.set_ylabel("measured per-layer factor")
    # below the plot: beside it, two columns of labels squeeze a column figure
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2)
    out.figure("theory_vs_measured", fig, ratios,
               caption="Per-layer factor of the first layer's gradient: measured (95% CI "
                       "over seeds) against the mean-field prediction, with the margin.",
               description=f"Per-layer factor (ratio {deep}/{shallow} layers)^(1/"
                           f"{deep - shallow}) of ||dL/dW_ih^0||, measured (geometric "
                           f"mean over seeds, 95% t-interval on the log scale) vs the "
                           f"mean-field prediction (filled); open markers, plain "
                           f"stacks: the mean field that adds successive steps as if "
                           f"independent; grey band: the stated margin of {MARGIN:.0%}")


def depth_jacobians_figure(summary: Summary, out: Any) -> None:
    """The depth Jacobians' singular values of the deepest stacks, per connection."""
    jac = summary.tables["jacobians"]
    if not len(jac):
        return
    cells, conns, depths = _axes(summary)
    deep = max(depths)
    fig, ax = new_figure("column", 2.4)
    width = 0.8 / len(cells)
    for i, cell in enumerate(cells):
        g = jac[jac.cell == cell].set_index("connection").reindex(conns)
        pos = np.arange(len(conns)) + (i - (len(cells) - 1) / 2) * width
        ax.vlines(pos, g.sv_min, g.sv_max, color=CELL_COLORS[cell], lw=2, label=cell)
        ax.plot(pos, g.sv_median, "o", color=CELL_COLORS[cell], markersize=5)
    ax.axhline(1.0, color="black", lw=0.7, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(conns)), conns)
    ax.set_ylabel(r"singular values of $\partial y^l/\partial u^l$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    out.figure("depth_jacobians", fig, jac,
               caption=rf"Singular values of the depth Jacobians $\partial y^l/\partial "
                       rf"u^l$ of the {deep}-layer stacks, per connection.",
               description=f"Singular values of the per-layer depth Jacobians dy^l/du^l "
                           f"of the {deep}-layer stacks (layers 1..{deep - 1}, every "
                           f"step, {SV_SEQUENCES} sequences per seed): bar from the mean "
                           f"smallest to the mean largest, dot at the mean median")


def ratios_table(summary: Summary, out: Any) -> None:
    """The deep/shallow ratios, per-layer factors and their mean-field values."""
    ratios = summary.tables["ratios"]
    if not len(ratios):
        return
    _, _, depths = _axes(summary)
    out.table("depth_ratios", ratios,
              caption=f"Gradient at the bottom of a {max(depths)}-layer stack relative to "
                      f"{min(depths)} {'layer' if min(depths) == 1 else 'layers'}, per-layer "
                      f"factor and its mean-field value.",
              columns={"cell": "cell", "connection": "connection",
                       "ratio": r"ratio, $W_{ih}^{0}$", "per_layer": "per layer",
                       "predicted_per_layer": "mean field",
                       "white_per_layer": "indep. steps"},
              description="Geometric mean over seeds with a 95% t-interval on the log "
                          "scale, paired by seed; the mean-field per-layer factor; the "
                          "depth Jacobians' median singular value; the highway carry "
                          "1-T; the fraction of saturated units |h| > 0.99")
