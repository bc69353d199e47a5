"""``gradflow analyze MODEL --out DIR``: the diagnostics on a trained checkpoint.

For each layer and direction of the recurrent module in MODEL (see
:mod:`gradflow.checkpoint`):

- the singular values and spectral radius of each gate's block of ``W_hh``;
- the gradient norm back in time, ``||dL/ds_t||`` relative to the step the
  loss reads, with its fitted decay rate (95% interval) and timescale, for a
  loss on a random readout of the last state (the first, for a reverse
  direction), on the user's inputs (``--inputs FILE.npy``, ``(T, B, I)``) or
  on a stated synthetic default (standard normal inputs);
- the top Lyapunov exponents of the state dynamics, matrix-free
  (``Network.jacobian_operator``), so real-size models fit in memory;
- for LSTM and GRU, the gate statistics: mean input / forget / output gates
  (LSTM), reset / update gates (GRU), and the per-unit timescales the
  forget or update gate implies, ``-1 / ln(mean gate)``.

DIR receives ``REPORT.md``, figures (PNG and PDF, data beside them as CSV)
and ``numbers.csv``; it is built beside DIR and swapped in only when done,
as ``gradflow report`` does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from gradflow._validate import UsageError
from gradflow.conventions import DType

__all__ = ["analyze", "register"]

#: The synthetic default when no --inputs is given.
DEFAULT_STEPS, DEFAULT_BATCH = 200, 8


def _inputs(path: Path | None, net: Any, steps: int, batch: int, seed: int) -> tuple[Any, str]:
    import numpy as np

    if path is None:
        x = np.random.default_rng(seed).standard_normal((steps, batch, net.input_size))
        return x.astype(net.dtype), (f"synthetic: standard normal inputs, T = {steps} steps, "
                                     f"B = {batch} sequences, seed {seed}")
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--inputs {str(path)!r} is not a readable .npy array ({exc})") \
            from None
    if x.ndim != 3 or x.shape[2] != net.input_size or min(x.shape) < 1:
        raise UsageError(f"--inputs must hold an array of shape (T, B, I) with I = "
                         f"{net.input_size} (the model's input size); got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise UsageError(f"--inputs must hold finite numbers; got dtype {x.dtype}"
                         + ("" if not np.issubdtype(x.dtype, np.number) else
                            " with non-finite entries"))
    return x.astype(net.dtype), f"{path.name}: T = {x.shape[0]}, B = {x.shape[1]}"


def analyze(model: Path | str, out: Path | str, *, inputs: Path | str | None = None,
            prefix: str | None = None, nonlinearity: str | None = None,
            reset_after: bool = True, exponents: int = 10, steps: int = DEFAULT_STEPS,
            batch: int = DEFAULT_BATCH, seed: int = 0, dtype: DType = "float64",
            progress: bool | None = None) -> list[Path]:
    """Analyse a checkpoint into ``out``; returns the files written.

    Parameters
    ----------
    model : ``.npz`` of arrays or a ``torch.save``-d state_dict (PyTorch names)
    out : folder of the analysis (replaced only when the analysis is complete)
    inputs : ``.npy`` of shape (T, B, I); default synthetic (``steps``, ``batch``, ``seed``)
    prefix, nonlinearity, reset_after : see :func:`gradflow.checkpoint.infer_network`
    exponents : Lyapunov exponents per layer and direction (at most S)
    dtype : "float64" (default) or "float32" (faster, for large models)
    progress : a tqdm bar over layers and directions; None: only on a terminal
    """
    import sys

    from gradflow._validate import check_int
    from gradflow.checkpoint import infer_network, load_state_dict
    from gradflow.dynamics import describe_quantity, measure_dynamics
    from gradflow.report.staging import staging_folder, swap_in

    exponents = check_int("exponents", exponents, minimum=1)
    steps = check_int("steps", steps, minimum=2)
    batch = check_int("batch", batch, minimum=1)
    start = time.perf_counter()
    ckpt = infer_network(load_state_dict(model), prefix=prefix, nonlinearity=nonlinearity,
                         reset_after=reset_after, dtype=dtype)
    net, params = ckpt.network, ckpt.params
    x, input_note = _inputs(None if inputs is None else Path(inputs), net, steps, batch, seed)
    if x.shape[0] < 2:
        raise UsageError(f"--inputs must have at least 2 steps; got T = {x.shape[0]}")
    show = sys.stderr.isatty() if progress is None else progress
    dynamics = measure_dynamics(net, params, x, exponents=exponents, seed=seed, progress=show)
    frames = dynamics._asdict()
    table = frames.pop("numbers")
    table.insert(3, "meaning", table.quantity.map(describe_quantity))
    out = Path(out)
    staging = staging_folder(out)
    try:
        written = _write(staging, ckpt, model, input_note, frames, table,
                         time.perf_counter() - start)
        return swap_in(staging, out) if written else []
    finally:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def _write(out: Path, ckpt: Any, model: Any, input_note: str, frames: dict, table: Any,
           seconds: float) -> list[Path]:
    """Figures, CSVs and REPORT.md into ``out``."""
    from gradflow.report.output import markdown_table
    from gradflow.report.style import figure_style, new_figure, save_figure

    net = ckpt.network
    (out / "figures").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def figure(name: str, fig: Any, data: Any, caption: str) -> str:
        stem = out / "figures" / name
        data.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.10g",
                    lineterminator="\n")
        written.extend([*save_figure(fig, stem), stem.with_suffix(".csv")])
        return f"![{caption}](figures/{name}.png)\n\n*{caption}* (data: `figures/{name}.csv`)"

    def label(layer: int, direction: str) -> str:
        return f"layer {layer}" + (f", {direction}" if net.bidirectional else "")

    blocks = []
    with figure_style():
        spectra = frames["spectra"]
        fig, ax = new_figure("column", 2.6)
        for (layer, direction, gate), g in spectra.groupby(["layer", "direction", "gate"]):
            ax.semilogy(g["index"], g.singular_value, lw=1,
                        label=f"{label(layer, direction)}: $W_{{h{gate}}}$")
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set_xlabel("index $i$")
        ax.set_ylabel(r"singular value $\sigma_i$")
        ax.legend(fontsize="x-small", ncol=2)
        blocks.append(figure("singular_values", fig, spectra,
                             "Singular values of each gate's block of W_hh, per layer and "
                             "direction (grey: 1)"))
        profiles = frames["profiles"]
        fig, ax = new_figure("column", 2.6)
        for (layer, direction), g in profiles.groupby(["layer", "direction"]):
            ax.plot(g.distance, g.log10_ratio, lw=1.2, label=label(layer, direction))
        ax.set_xlabel("distance $k$ (steps back from the loss)")
        ax.set_ylabel(r"$\log_{10} \|\partial L/\partial s_t\| / \|\partial L/\partial s_T\|$")
        ax.legend(fontsize="x-small")
        blocks.append(figure("gradient_profile", fig, profiles,
                             "Gradient norm back in time (mean over the batch of log10 "
                             "relative to the step the loss reads)"))
        lyap = frames["lyapunov"]
        fig, ax = new_figure("column", 2.6)
        for (layer, direction), g in lyap.groupby(["layer", "direction"]):
            ax.plot(g["index"], g.exponent, "o-", ms=3, lw=1, label=label(layer, direction))
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_xlabel("index $i$")
        ax.set_ylabel(r"Lyapunov exponent $\lambda_i$ (nats/step)")
        ax.legend(fontsize="x-small")
        blocks.append(figure("lyapunov", fig, lyap,
                             "Top Lyapunov exponents of the state dynamics on the inputs "
                             "(mean over the batch; matrix-free QR method)"))
        gates = frames["gates"]
        if len(gates):
            fig, ax = new_figure("column", 2.6)
            for (layer, direction, gate), g in gates.groupby(["layer", "direction", "gate"]):
                ax.hist(g["mean"], bins=30, range=(0, 1), histtype="step", lw=1,
                        label=f"{label(layer, direction)}: ${gate}$")
            ax.set_xlabel("mean gate value per unit")
            ax.set_ylabel("units")
            ax.legend(fontsize="x-small")
            blocks.append(figure("gates", fig, gates,
                                 "Per-unit mean gate values over the inputs"))
    table.to_csv(out / "numbers.csv", index=False, float_format="%.10g", lineterminator="\n")
    written.append(out / "numbers.csv")
    shown = table.drop(columns="quantity").astype({"low": object, "high": object})
    for column in ("low", "high"):   # an interval only where there is one
        shown[column] = [f"{v:.4g}" if v == v else "" for v in table[column]]
    lines = [
        "# gradflow analyze", "",
        f"Model: `{Path(model).name}`: {net.cell.upper()}, input size {net.input_size}, hidden "
        f"size {net.hidden_size}, {net.num_layers} layer(s), "
        f"{'bidirectional' if net.bidirectional else 'unidirectional'}"
        + (f", nonlinearity {net.nonlinearity}" if net.cell == "rnn" else "")
        + (f", {'PyTorch' if net.reset_after else 'Cho'} form" if net.cell == "gru" else "")
        + f"; computed in {net.dtype}.",
        "", f"Inputs: {input_note}.", "",
        "For each direction, a loss reads a random readout of the top layer's last state "
        "(its first, for the reverse direction); the gradient profile and its decay rate "
        "follow `||dL/ds_t||` of that direction, in every layer, back from there. "
        "Lyapunov exponents come from the matrix-free step Jacobians "
        "(`Network.jacobian_operator`). Every number is in `numbers.csv`.", "",
    ]
    if ckpt.prefix:
        lines += [f"The recurrent module is `{ckpt.prefix}*`; "
                  f"{len(ckpt.other)} other name(s) of the file were not analysed"
                  + (f" ({', '.join(ckpt.other[:8])}{' ...' if len(ckpt.other) > 8 else ''})"
                     if ckpt.other else "") + ".", ""]
    lines += ["## Numbers", "", markdown_table(shown), ""]
    lines += ["## Figures", ""] + [b + "\n" for b in blocks]
    lines += [f"(computed in {seconds:.1f} s)"]
    (out / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(out / "REPORT.md")
    return written


def _run(args: argparse.Namespace) -> int:
    written = analyze(args.model, args.out, inputs=args.inputs, prefix=args.prefix,
                      nonlinearity=args.nonlinearity, reset_after=not args.reset_before,
                      exponents=args.exponents, steps=args.steps, batch=args.batch,
                      seed=args.seed, dtype=args.dtype)
    print(f"gradflow analyze: wrote {len(written)} files into {args.out}/; see "
          f"{Path(args.out) / 'REPORT.md'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` subcommand."""
    from gradflow.engine.gates import NONLINEARITIES

    parser = subparsers.add_parser(
        "analyze", help="the gradient-flow diagnostics of a trained checkpoint",
        description="Read a trained RNN/LSTM/GRU (a PyTorch state_dict saved with torch.save, "
                    "or an .npz of arrays with PyTorch names), infer its architecture, and "
                    "write REPORT.md with figures and numbers.csv into --out: singular values "
                    "and spectral radius of W_hh, gradient-norm decay back in time, Lyapunov "
                    "spectrum per layer and direction, gate statistics and timescales.")
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="the checkpoint (.npz, or a torch.save-d state_dict)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--inputs", type=Path, default=None, metavar="FILE.npy",
                        help="inputs of shape (T, B, I) (default: standard normal, "
                             f"T={DEFAULT_STEPS}, B={DEFAULT_BATCH})")
    parser.add_argument("--prefix", default=None,
                        help="the recurrent module's name prefix when the file holds several "
                             "(e.g. 'encoder.rnn.')")
    parser.add_argument("--nonlinearity", choices=NONLINEARITIES, default=None,
                        help="RNN only (names cannot tell): default tanh, PyTorch's default")
    parser.add_argument("--reset-before", action="store_true",
                        help="GRU only: the Cho 2014 form (default: PyTorch's, reset after)")
    parser.add_argument("--exponents", type=int, default=10,
                        help="Lyapunov exponents per layer and direction (default 10)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help="T of the synthetic inputs (default %(default)s)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help="B of the synthetic inputs (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="of the synthetic inputs and readout")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="float32 halves memory and time for large models")
    parser.set_defaults(func=_run)
