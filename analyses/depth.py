"""Across depth: how much gradient reaches the bottom of a stacked RNN at initialization.

Stacks of 1 to 8 recurrent layers (tanh RNN, LSTM, GRU; PyTorch's default
initialization), joined by no connection, residual (GNMT: y = h + u), dense
(layer l reads [x; y^0; ...; y^{l-1}]) or highway (y = T*h + (1-T)*u, carry
bias b_T = -2) connections. A random readout of the top layer's last output
is the loss; we measure the gradient reaching the input x and the first
layer's input weights W_ih^0, and the singular values of each layer's depth
Jacobian dy^l/du^l (the path across depth, as the step Jacobian is the path
across time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import gradflow
from gradflow.diagnostics import singular_values
from gradflow.norms import vector_norm
from gradflow.report import mean_ci, summarize
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Across depth: residual, dense and highway connections"
QUESTION = (
    "The lecture's remedy for vanishing gradients in deep networks is to add more direct "
    "connections: residual (ResNet) skip connections whose identity path preserves "
    "information by default, dense (DenseNet) and highway (HighwayNet) connections; and it "
    "notes that multi-layer RNNs are not as deep as CNNs. At initialization, how much "
    "gradient reaches the first layer of a stacked RNN as the stack grows from 1 to 8 "
    "layers, with and without direct connections between the layers?")
ORDER = 40

CONNECTIONS = ["none", "residual", "dense", "highway"]
GRID = {"cell": ["rnn", "lstm", "gru"], "connection": CONNECTIONS, "layers": [1, 2, 4, 8],
        "seed": [0, 1, 2, 3, 4]}
QUICK_GRID = {"cell": ["rnn", "gru"], "connection": ["none", "residual"], "layers": [1, 4],
              "seed": [0, 1]}

INPUT_SIZE, HIDDEN, LENGTH, BATCH, CARRY_BIAS = 32, 32, 20, 16, -2.0
CONNECTION_STYLE = {"none": ("o", "-"), "residual": ("s", "--"), "dense": ("^", "-."),
                    "highway": ("D", ":")}


def _norm(a: np.ndarray) -> float:
    return float(vector_norm(a, axis=None))


def run(config: dict) -> list[dict]:
    """One stack at initialization: gradient norms at the bottom, per-layer adjoints and
    the depth Jacobians' singular values.

    A single layer has nothing to connect (the library requires >= 2 layers for a
    connection), so at ``layers == 1`` every connection runs the same plain layer: all
    curves start from one shared point. Layer 0's parameters, the input and the readout
    are drawn first from the seed, so they are the same at every depth (paired ratios).
    """
    cell, connection, L, seed = (config["cell"], config["connection"], config["layers"],
                                 config["seed"])
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
             "input_grad_last": _norm(grads.inputs[-1]),
             "first_layer_grad": _norm(grads.params["weight_ih_l0"]),
             "top_adjoint": _norm(grads.state_adjoints[(L - 1, 0)][-1, :, :HIDDEN]),
             "carry": float(np.mean([np.mean(1 - g) for g in gates])) if gates else np.nan,
             "saturation": float(np.mean(np.abs(hidden) > 0.99))}]
    # dL/dh^l at the last step: the gradient profile down the stack (h block for the LSTM).
    for layer in range(L):
        rows.append({"kind": "layer", "layer": layer,
                     "adjoint": _norm(grads.state_adjoints[(layer, 0)][-1, :, :HIDDEN])})
    # Depth Jacobians dy^l/du^l of the layers a connection joins (l >= 1).
    for layer in range(1, L):
        sv = singular_values(net.depth_jacobians(params, trace, layer))  # (T, B, min(H, K))
        rows.append({"kind": "depth_jacobian", "layer": layer,
                     "sv_max": float(np.mean(sv[..., 0])),
                     "sv_median": float(np.mean(np.median(sv, axis=-1))),
                     "sv_min": float(np.mean(sv[..., -1])),
                     "sv_log_mean": float(np.mean(np.log(sv)))})
    return rows


def _geo(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Geometric mean over seeds with its 95% CI (a t-interval on the log10 scale)."""
    s = summarize(frame.assign(log10=np.log10(frame[value])), by, "log10")
    for col in ("mean", "ci_low", "ci_high"):
        s[col] = 10.0 ** s[col]
    return s


def render(frame: pd.DataFrame, out) -> None:
    summary = frame[frame.kind == "summary"].copy()
    cells = [c for c in ("rnn", "lstm", "gru") if c in set(summary.cell)]
    connections = [c for c in CONNECTIONS if c in set(summary.connection)]
    depths = sorted(summary.layers.unique())
    deepest, shallowest = max(depths), min(depths)

    # Figure 1: gradient at the bottom vs depth, per connection, faceted by cell.
    curves = []
    for value, label in (("first_layer_grad", "||dL/dW_ih^0||"),
                         ("input_grad", "||dL/dx||")):
        g = _geo(summary, ["cell", "connection", "layers"], value)
        curves.append(g.assign(measure=value, label=label))
    curves = pd.concat(curves, ignore_index=True)
    fig, axes = new_figure("page", 3.6, nrows=2, ncols=len(cells), sharex=True,
                           sharey="row", squeeze=False)
    for row, (value, label) in enumerate((
            ("first_layer_grad", r"$\|\partial L/\partial W_{ih}^{0}\|$"),
            ("input_grad", r"$\|\partial L/\partial x\|$"))):
        for col, cell in enumerate(cells):
            ax = axes[row, col]
            for conn in connections:
                g = curves[(curves.measure == value) & (curves.cell == cell)
                           & (curves.connection == conn)]
                marker, ls = CONNECTION_STYLE[conn]
                ax.errorbar(g.layers, g["mean"], yerr=[g["mean"] - g.ci_low,
                                                       g.ci_high - g["mean"]],
                            marker=marker, ls=ls, capsize=2, color=CELL_COLORS[cell],
                            label=conn, markersize=4)
            ax.set_yscale("log")
            ax.set_xscale("log", base=2)
            ax.set_xticks(depths, [str(d) for d in depths])
            if row == 0:
                ax.set_title(cell)
            if row == 1:
                ax.set_xlabel("layers $L$")
            if col == 0:
                ax.set_ylabel(label)
    axes[0, 0].legend(title="connection")
    out.figure("gradient_vs_depth", fig, curves.rename(columns={"mean": "geo_mean"}),
               caption="Gradient reaching the bottom of the stack at initialization vs the "
                       "number of layers, per cell and connection.",
               description=f"Gradient reaching the bottom of the stack at initialization vs the "
                       f"number of layers (T = {LENGTH}, H = {HIDDEN}; loss: a random readout "
                       f"of the top layer's last output). Top: the first layer's input "
                       f"weights; bottom: the input sequence. Geometric mean over seeds with "
                       f"95% CI; at one layer all connections are the same plain layer")

    # Figure 2: the profile down the deepest stack, and the carry factor it should follow.
    layers = frame[(frame.kind == "layer") & (frame.layers == deepest)].copy()
    top = layers[layers.layer == deepest - 1][["cell", "connection", "seed", "adjoint"]]
    layers = layers.merge(top.rename(columns={"adjoint": "top"}),
                          on=["cell", "connection", "seed"])
    layers["log10_rel"] = np.log10(layers.adjoint / layers.top)
    # Layer 0 has no gate: its dL/dh is dL/dy, while above it dL/dh = T * dL/dy; drop it
    # for highway so the profile compares like with like.
    layers = layers[~((layers.connection == "highway") & (layers.layer == 0))]
    profile = summarize(layers, ["cell", "connection", "layer"], "log10_rel")
    carry = summary[(summary.layers == deepest) & (summary.connection == "highway")]
    carry_by_cell = carry.groupby("cell")["carry"].mean()
    fig, axes = new_figure("page", 2.4, ncols=len(cells), sharey=True, squeeze=False)
    for col, cell in enumerate(cells):
        ax = axes[0, col]
        for conn in connections:
            g = profile[(profile.cell == cell) & (profile.connection == conn)]
            marker, ls = CONNECTION_STYLE[conn]
            ax.errorbar(g.layer, g["mean"], yerr=[g["mean"] - g.ci_low, g.ci_high - g["mean"]],
                        marker=marker, ls=ls, capsize=2, color=CELL_COLORS[cell], label=conn,
                        markersize=4)
        if cell in carry_by_cell.index:
            k = np.arange(deepest)
            ax.plot(k, (deepest - 1 - k) * np.log10(carry_by_cell[cell]), color="grey",
                    lw=1, label="carry factor $(1-T)^k$")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(cell)
        ax.set_xlabel("layer $l$ (0 = bottom)")
        if col == 0:
            ax.set_ylabel(r"$\log_{10} \|\partial L/\partial h^l_T\| \,/\,"
                          r" \|\partial L/\partial h^{\mathrm{top}}_T\|$")
    axes[0, 0].legend()
    out.figure("layer_profile", fig, profile.assign(
        carry_line=lambda f: (deepest - 1 - f.layer) * np.log10(f.cell.map(carry_by_cell))),
        caption=f"Gradient down a {deepest}-layer stack at the last step, relative to the top "
                f"layer, with the highway carry factor (grey).",
        description=f"Gradient down a {deepest}-layer stack at the last step: log10 of "
                f"||dL/dh^l_T|| relative to the top layer (mean over seeds, 95% CI). Grey: "
                f"the highway carry factor (1-T) per layer, T the mean gate at carry bias "
                f"{CARRY_BIAS:g}. Highway layer 0 is omitted: it has no gate, so its dL/dh is "
                f"not scaled by T as the layers above are")

    # Depth Jacobians: singular values per connection (deepest stack, layers >= 1).
    dj = frame[(frame.kind == "depth_jacobian") & (frame.layers == deepest)]
    per_run = dj.groupby(["cell", "connection", "seed"], as_index=False)[
        ["sv_max", "sv_median", "sv_min", "sv_log_mean"]].mean()
    jac = per_run.groupby(["cell", "connection"], as_index=False)[
        ["sv_max", "sv_median", "sv_min", "sv_log_mean"]].mean()
    jac["sv_geo_mean"] = np.exp(jac.pop("sv_log_mean"))
    fig, ax = new_figure("column", 2.4)
    width = 0.8 / len(cells)
    for i, cell in enumerate(cells):
        g = jac[jac.cell == cell].set_index("connection").reindex(connections)
        pos = np.arange(len(connections)) + (i - (len(cells) - 1) / 2) * width
        ax.vlines(pos, g.sv_min, g.sv_max, color=CELL_COLORS[cell], lw=2, label=cell)
        ax.plot(pos, g.sv_median, "o", color=CELL_COLORS[cell], markersize=5)
    ax.axhline(1.0, color="black", lw=0.7, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(connections)), connections)
    ax.set_ylabel(r"singular values of $\partial y^l/\partial u^l$")
    # outside the axes: inside, it covered the low end of the LSTM "none" bar
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    out.figure("depth_jacobians", fig, jac,
               caption=rf"Singular values of the depth Jacobians $\partial y^l/\partial u^l$ "
                       rf"of the {deepest}-layer stacks, per connection.",
               description=f"Singular values of the per-layer depth Jacobians dy^l/du^l of the "
                       f"{deepest}-layer stacks (layers 1..{deepest - 1}, every step and "
                       f"sequence): bar from the mean smallest to the mean largest, dot at "
                       f"the mean median. The residual identity path puts them around 1; "
                       f"for dense the Jacobian is of the whole concatenated input")

    # Table and numbers: the 8-vs-1-layer ratio, paired by seed.
    pivot = summary.pivot_table(index=["cell", "connection", "seed"], columns="layers",
                                values=["first_layer_grad", "input_grad"]).reset_index()
    pivot.columns = [a if not b else f"{a}_{b}" for a, b in pivot.columns]
    ratios = pivot[["cell", "connection", "seed"]].copy()
    for value in ("first_layer_grad", "input_grad"):
        ratios[value] = (pivot[f"{value}_{deepest}"] / pivot[f"{value}_{shallowest}"])
    table = []
    for (cell, conn), g in ratios.groupby(["cell", "connection"], sort=False):
        row = {"cell": cell, "connection": conn}
        for value, short in (("first_layer_grad", "w_ih0"), ("input_grad", "input")):
            m, lo, hi = mean_ci(np.log10(g[value]))
            row.update({f"ratio_{short}": 10 ** m, f"ratio_{short}_ci_low": 10 ** lo,
                        f"ratio_{short}_ci_high": 10 ** hi})
        row["per_layer_factor_w_ih0"] = row["ratio_w_ih0"] ** (1 / (deepest - shallowest))
        table.append(row)
    table = pd.DataFrame(table)
    table["cell"] = pd.Categorical(table.cell, cells)
    table["connection"] = pd.Categorical(table.connection, connections)
    table = table.sort_values(["cell", "connection"]).merge(
        jac, on=["cell", "connection"], how="left")
    sat = summary[summary.layers == deepest].groupby(["cell", "connection"], observed=True,
                                                     as_index=False)[["carry", "saturation"]]
    table = table.merge(sat.mean(), on=["cell", "connection"], how="left")
    table["cell"] = table.cell.astype(str)
    table["connection"] = table.connection.astype(str)
    out.table("depth_ratios", table,
              caption=f"Gradient at the bottom of a {deepest}-layer stack relative to one "
                      f"layer, geometric mean over seeds, 95% CI.",
              columns={"cell": "cell", "connection": "connection",
                       "ratio_w_ih0": r"ratio, $W_{ih}^{0}$", "ratio_input": "ratio, input",
                       "per_layer_factor_w_ih0": "per layer",
                       "sv_median": r"median $\sigma$"},
              description=f"Gradient at the bottom of a {deepest}-layer stack relative to one "

                      f"layer (geometric mean over seeds, 95% CI, paired by seed), its "
                      f"per-layer factor, the depth Jacobians' singular values (mean "
                      f"largest, median, smallest, geometric mean), the highway carry "
                      f"1-T and the fraction of saturated units |h| > 0.99")

    def ratio_of(cell: str, conn: str) -> pd.Series:
        return table[(table.cell == cell) & (table.connection == conn)].iloc[0]

    for cell in cells:
        for conn in connections:
            if not ((table.cell == cell) & (table.connection == conn)).any():
                continue
            r = ratio_of(cell, conn)
            out.number(f"Ratio{cell.capitalize()}{conn.capitalize()}", r.ratio_w_ih0,
                       f"{cell}, {conn}: ||dL/dW_ih^0|| at {deepest} layers / at "
                       f"{shallowest} (geometric mean over seeds)",
                       low=r.ratio_w_ih0_ci_low, high=r.ratio_w_ih0_ci_high)
    hw = table[table.connection == "highway"]
    if len(hw):
        out.number("HighwayCarry", float(hw.carry.mean()),
                   "mean highway carry 1-T at carry bias -2 (over cells)")
        out.number("HighwayPerLayer", float(hw.per_layer_factor_w_ih0.mean()),
                   "highway: per-layer factor of ||dL/dW_ih^0||, (ratio)^(1/(L-1)), mean "
                   "over cells")
    res = jac[jac.connection == "residual"]
    if len(res):
        out.number("ResidualSvMedian", float(res.sv_median.mean()),
                   "residual: median singular value of the depth Jacobian (mean over cells)")

    # Text: what the numbers say (computed from the table, never hard-coded).
    def fmt(cell: str, conn: str) -> str:
        if not ((table.cell == cell) & (table.connection == conn)).any():
            return "n/a"
        r = ratio_of(cell, conn)
        return (f"{r.ratio_w_ih0:.3g} [{r.ratio_w_ih0_ci_low:.3g}, "
                f"{r.ratio_w_ih0_ci_high:.3g}]")

    lines = [f"- **{cell}**: none {fmt(cell, 'none')}; residual {fmt(cell, 'residual')}; "
             f"dense {fmt(cell, 'dense')}; highway {fmt(cell, 'highway')}" for cell in cells]
    out.text(
        f"Ratio of the first layer's gradient ||dL/dW_ih^0|| at {deepest} layers to that at "
        f"{shallowest} (geometric mean over {summary.seed.nunique()} seeds, 95% CI; PyTorch "
        f"default initialization, random inputs, T = {LENGTH}):\n\n" + "\n".join(lines))
    none = table[table.connection == "none"]
    falls = bool((none.ratio_w_ih0 < 0.1).all()) if len(none) else False
    verdict = ("falls by more than an order of magnitude for every cell" if falls else
               "does NOT fall by an order of magnitude for every cell")

    def span(conn: str, column: str) -> str:
        v = table[table.connection == conn][column]
        return f"{v.min():.3g} to {v.max():.3g}" if len(v) else "n/a"

    out.text(
        f"Without connections the gradient reaching the bottom layer {verdict} (ratios "
        f"{span('none', 'ratio_w_ih0')}): each plain layer multiplies it by its input "
        f"Jacobian, whose singular values at PyTorch's U(-1/sqrt(H), 1/sqrt(H)) "
        f"initialization are mostly well below 1 (median {span('none', 'sv_median')}; the "
        f"LSTM loses most, its half-open gates scaling the input path by about i*o). A "
        f"residual connection adds the identity to every depth Jacobian: median singular "
        f"value {span('residual', 'sv_median')}, and the first layer's gradient is kept or "
        f"grows (ratios {span('residual', 'ratio_w_ih0')}), the identity and the layer's "
        f"own path adding up. Dense connections wire the input and every lower layer "
        f"straight to every higher one: the gradient reaching the input x is kept (ratios "
        f"{span('dense', 'ratio_input')}, x feeding every layer), and the first layer "
        f"keeps far more than without connections ({span('dense', 'ratio_w_ih0')}), though "
        f"it still loses some (each hop passes through a cell's input Jacobian). Highway "
        f"layers at carry bias {CARRY_BIAS:g} start close to carrying their input through "
        f"(carry 1-T = {span('highway', 'carry')}): the gradient shrinks by a factor "
        f"{span('highway', 'per_layer_factor_w_ih0')} per layer, the carry factor itself. "
        f"These are statements about initialization only; whether the kept gradient helps "
        f"training is not tested here.")
