"""The figures of ``gradflow analyze``, for one model or several overlaid.

Each figure function takes ``models``: a list of ``(label, frames)`` (one entry
for a single model, where the label is empty) and draws every layer and
direction of each; its data (the frames concatenated, with a ``model`` column
when there are several) is written beside it as CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["draw_all", "draw_models"]

Models = list[tuple[str, dict[str, pd.DataFrame]]]


def _label(model: str, layer: int, direction: str, bidirectional: bool) -> str:
    text = f"layer {layer}" + (f", {direction}" if bidirectional else "")
    return f"{model}: {text}" if model else text


def _data(models: Models, name: str) -> pd.DataFrame:
    if len(models) == 1:
        return models[0][1][name]
    return pd.concat([f[name].assign(model=label) for label, f in models], ignore_index=True)


def _singular_values(ax: Any, models: Models, bi: bool) -> None:
    for model, frames in models:
        for (layer, direction, gate), g in frames["spectra"].groupby(
                ["layer", "direction", "gate"]):
            ax.semilogy(g["index"], g.singular_value, lw=1,
                        label=f"{_label(model, layer, direction, bi)}: $W_{{h{gate}}}$")
    ax.axhline(1.0, color="grey", lw=0.6)
    ax.set_xlabel("index $i$")
    ax.set_ylabel(r"singular value $\sigma_i$")


def _profile(ax: Any, models: Models, bi: bool, window: tuple[int, int] | None) -> None:
    for model, frames in models:
        for (layer, direction), g in frames["profiles"].groupby(["layer", "direction"]):
            ax.plot(g.distance, g.log10_ratio, lw=1.2,
                    label=_label(model, layer, direction, bi))
    if window is not None:
        ax.axvspan(*window, color="grey", alpha=0.12, lw=0)
    ax.set_xlabel("distance $k$ (steps back from the loss)")
    ax.set_ylabel(r"$\log_{10} \|\partial L/\partial s_t\| / \|\partial L/\partial s_T\|$")


def _lyapunov(ax: Any, models: Models, bi: bool) -> None:
    for model, frames in models:
        for (layer, direction), g in frames["lyapunov"].groupby(["layer", "direction"]):
            ax.errorbar(g["index"], g.exponent,
                        yerr=[g.exponent - g.low.fillna(g.exponent),
                              g.high.fillna(g.exponent) - g.exponent],
                        fmt="o-", ms=3, lw=1, capsize=2,
                        label=_label(model, layer, direction, bi))
    from matplotlib.ticker import MaxNLocator

    ax.axhline(0.0, color="grey", lw=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("index $i$")
    ax.set_ylabel(r"Lyapunov exponent $\lambda_i$ (nats/step)")


def _gates(ax: Any, models: Models, bi: bool) -> None:
    for model, frames in models:
        for (layer, direction, gate), g in frames["gates"].groupby(
                ["layer", "direction", "gate"]):
            ax.hist(g["mean"], bins=30, range=(0, 1), histtype="step", lw=1,
                    label=f"{_label(model, layer, direction, bi)}: ${gate}$")
    ax.set_xlabel("mean gate value per unit")
    ax.set_ylabel("units")


def draw_models(out: Path, models: Models, bidirectional: bool, written: list[Path],
                window: tuple[int, int] | None = None) -> list[str]:
    """Every figure into ``out / "figures"``; returns the Markdown blocks that show them."""
    from gradflow.report.style import figure_style, new_figure, save_figure

    (out / "figures").mkdir(parents=True, exist_ok=True)
    spec = [("singular_values", "spectra", _singular_values,
             "Singular values of each gate's block of W_hh, per layer and direction "
             "(grey: 1)"),
            ("gradient_profile", "profiles",
             lambda ax, ms, bi: _profile(ax, ms, bi, window),
             "Gradient norm back in time (mean over sequences of log10 relative to the step "
             "the loss reads; shaded: the decay fit's window)"),
            ("lyapunov", "lyapunov", _lyapunov,
             "Top Lyapunov exponents of the state dynamics after the warm-up (mean over "
             "sequences, 95% interval; matrix-free QR method, in the frame's order, so that "
             "lambda_1 does not depend on how many are computed: over a finite window a "
             "later one can exceed an earlier)"),
            ("gates", "gates", _gates, "Per-unit mean gate values after the warm-up")]
    blocks = []
    with figure_style():
        for name, frame, draw, caption in spec:
            data = _data(models, frame)
            if not len(data):
                continue
            fig, ax = new_figure("column", 2.6)
            draw(ax, models, bidirectional)
            ax.legend(fontsize="x-small", ncol=2 if name == "singular_values" else 1)
            stem = out / "figures" / name
            data.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.10g",
                        lineterminator="\n")
            written.extend([*save_figure(fig, stem), stem.with_suffix(".csv")])
            blocks.append(f"![{caption}](figures/{name}.png)\n\n*{caption}* "
                          f"(data: `figures/{name}.csv`)")
    return blocks


def draw_all(out: Path, m: Any, written: list[Path]) -> list[str]:
    """The figures of one measured model."""
    window = (m.skip, m.feed.steps - 1 - m.warmup)
    return draw_models(out, [("", m.frames)], m.ckpt.network.bidirectional, written, window)
