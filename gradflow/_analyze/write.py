"""One model's analysis written out: REPORT.md, figures (data beside them) and tables.

``numbers.csv`` holds every number with its 95% interval across sequences and
the count of sequences it is over; ``sequences.csv`` each sequence's own
values (one row per sequence, layer, direction and quantity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MEANINGS", "TIMESCALES", "agreement", "describe", "write_one"]

#: What each reported quantity is (``{g}``: a gate letter).
MEANINGS = {
    "sigma_max_{g}": "largest singular value of W_h{g} (weights: exact)",
    "rho_{g}": "spectral radius of W_h{g} (weights: exact)",
    "decay_rate": "decay rate of ||dL/ds_t|| per step over the fit window (nats; < 0 grows)",
    "lambda_max": "largest Lyapunov exponent (nats/step)",
    "gate_mean_{g}": "mean {g} gate after the warm-up",
    "timescale_{g}": "median per-unit timescale -1/ln(mean {g}) (steps)",
    "loss": "next-token cross-entropy per step after the warm-up (nats)",
}

TIMESCALES = """\
Three timescales, and why they differ:

- **gate timescale** `-1/ln f` (LSTM forget gate; `-1/ln z` for the GRU update
  gate), the median over units: how long one unit's cell would keep its content
  with its gate held at its mean, ignoring `W_hh` and the other units. Most units
  forget fast, so the median is short; the few units with a gate near 1 that carry
  long memory hardly move it.
- **gradient timescale** `1 / decay_rate`: the e-folding distance of `||dL/ds_t||`,
  the gradient of the loss actually read, pushed back through the full step
  Jacobians (gates, `W_hh`, every unit), fitted over the window that leaves out the
  start-up transient (the warm-up) and the stretch next to the loss (the skip).
- **Lyapunov timescale** `-1/lambda_max`: the slowest exponential rate of the
  product of step Jacobians in any direction, after the warm-up.

Far from both transients the gradient aligns with the slowest direction, so
`decay_rate` tends to `-lambda_max`; they differ when the window is short, when a
transient is still inside it, or when the loss hardly excites the slowest direction
(then the gradient decays faster than `-lambda_max`). The gate timescale is a
property of single units and is not expected to equal either.
"""


def describe(quantity: str) -> str:
    """The meaning of a quantity key."""
    for pattern, text in MEANINGS.items():
        stem = pattern.split("{g}")[0]
        if "{g}" in pattern and quantity.startswith(stem) and len(quantity) == len(stem) + 1:
            return text.format(g=quantity[-1])
        if quantity == pattern:
            return text
    return quantity


def agreement(numbers: pd.DataFrame) -> pd.DataFrame:
    """Per layer and direction: ``decay_rate`` and ``-lambda_max`` with their intervals,
    and ``agree`` False when the intervals do not overlap."""
    rows = []
    for (layer, direction), g in numbers.groupby(["layer", "direction"], sort=False):
        by = g.set_index("quantity")
        if "decay_rate" not in by.index or "lambda_max" not in by.index:
            continue
        rate, lam = by.loc["decay_rate"], by.loc["lambda_max"]
        low, high = -lam.high, -lam.low
        agree = bool(rate.low <= high and low <= rate.high) if np.isfinite(
            [rate.low, rate.high, low, high]).all() else True
        rows.append((layer, direction, rate.value, rate.low, rate.high, -lam.value, low,
                     high, agree))
    return pd.DataFrame(rows, columns=["layer", "direction", "decay_rate", "decay_low",
                                       "decay_high", "minus_lambda_max", "lambda_low",
                                       "lambda_high", "agree"])


def _fmt(v: float) -> str:
    return f"{v:.4g}" if v == v else ""


def numbers_table(numbers: pd.DataFrame) -> pd.DataFrame:
    """The numbers as shown in REPORT.md: meaning, value, interval, n."""
    return pd.DataFrame({
        "layer": numbers.layer, "direction": numbers.direction,
        "meaning": numbers.quantity.map(describe), "value": numbers.value.map(_fmt),
        "95% interval": ["exact" if n == 0 else f"[{_fmt(lo)}, {_fmt(hi)}]" if lo == lo
                         else "" for lo, hi, n in zip(numbers.low, numbers.high, numbers.n,
                                                      strict=True)],
        "n": numbers.n})


def _header(m: Any) -> list[str]:
    net = m.ckpt.network
    lines = [
        f"Model: `{m.model.name}`: {net.cell.upper()}, input size {net.input_size}, hidden "
        f"size {net.hidden_size}, {net.num_layers} layer(s), "
        f"{'bidirectional' if net.bidirectional else 'unidirectional'}"
        + (f", nonlinearity {net.nonlinearity} (as given)" if net.cell == "rnn" else "")
        + (f", {'PyTorch' if net.reset_after else 'Cho'} form" if net.cell == "gru" else "")
        + f"; computed in {net.dtype}.", "",
        f"Inputs: {m.feed.note}.", ""]
    if m.feed.kind == "synthetic":
        lines += ["**These are not the model's data**: the dynamics on noise differ from "
                  "those on what the model was trained on; give `--tokens` (token ids) or "
                  "`--inputs` (float inputs).", ""]
    lines += [f"Loss: {m.loss}. The gradient profile and its decay rate follow "
              f"`||dL/ds_t||` of each direction, in every layer, back from there.", "",
              f"Window: the first {m.warmup} steps from "
              + ("the given initial state (`--initial-state`)" if m.feed.initial is not None
                 else "the zero initial state")
              + f" are a warm-up, left out of every number; the decay rate is fitted over "
              f"distances "
              f"{m.skip}..{m.feed.steps - 1 - m.warmup} from the loss. Every statistic is "
              f"the mean over the {m.feed.sequences} sequence(s) with a 95% Student-t "
              f"interval across them (`numbers.csv`; each sequence's own values in "
              f"`sequences.csv`).", ""]
    if m.ckpt.prefix:
        other = m.ckpt.other
        lines += [f"The recurrent module is `{m.ckpt.prefix}*`; {len(other)} other name(s) of "
                  f"the file were not analysed"
                  + (f" ({', '.join(other[:8])}{' ...' if len(other) > 8 else ''})"
                     if other else "") + ".", ""]
    return lines


def _gap(a: float, b: float) -> float:
    """``|a - b|`` relative to the larger magnitude."""
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def _agreement_lines(numbers: pd.DataFrame) -> list[str]:
    from gradflow.report.output import markdown_table

    table = agreement(numbers)
    if not len(table):
        return []
    lines = ["## Gradient decay and the top Lyapunov exponent", ""]
    for row in table.itertuples():
        if not row.agree:
            lines += [f"**Flag**: layer {row.layer}, {row.direction}: the decay rate "
                      f"{row.decay_rate:.4g} [{row.decay_low:.4g}, {row.decay_high:.4g}] and "
                      f"-lambda_max {row.minus_lambda_max:.4g} [{row.lambda_low:.4g}, "
                      f"{row.lambda_high:.4g}] disagree beyond their intervals (they are "
                      f"{_gap(row.decay_rate, row.minus_lambda_max):.1%} apart).", ""]
    shown = table.copy()
    for column in shown.columns[2:-1]:
        shown[column] = shown[column].map(_fmt)
    return lines + [markdown_table(shown), "", TIMESCALES]


def _precision_lines(m: Any) -> list[str]:
    from gradflow._analyze.precision import SEPARATED, SEQUENCES, STEPS, TOLERANCE
    from gradflow.report.output import markdown_table

    check = m.precision
    if check is None:
        return []
    verdict = ("**float32 is not trustworthy here** (flag): the float32 run separates from "
               f"float64's (outputs more than {SEPARATED:g} apart, relative: a different "
               f"trajectory, as on a chaotic model) or its lambda_1 differs by more than "
               f"{TOLERANCE:.0%}; rerun with `--dtype float64`."
               if check.flag.any() else
               f"float32 follows float64's trajectory and its lambda_1 is within "
               f"{TOLERANCE:.0%} of float64's.")
    shown = check.copy()
    for column in ("lambda_1_float32", "lambda_1_float64", "output_separation"):
        shown[column] = shown[column].map(_fmt)
    return ["## float32 against float64", "",
            f"The numbers above are computed in float32. A check: lambda_1 over the first "
            f"{STEPS} steps of the first {SEQUENCES} sequences, in float32 and in float64 "
            f"(the same weights and inputs). {verdict}", "", markdown_table(shown), ""]


def write_one(out: Path, m: Any) -> list[Path]:
    """Figures, CSVs and REPORT.md of one measured model into ``out``."""
    from gradflow._analyze.figures import draw_all
    from gradflow.report.output import markdown_table

    written: list[Path] = []
    blocks = draw_all(out, m, written)
    for name in ("numbers", "sequences"):
        m.frames[name].to_csv(out / f"{name}.csv", index=False, float_format="%.10g",
                              lineterminator="\n")
        written.append(out / f"{name}.csv")
    lines = ["# gradflow analyze", "", *_header(m), "## Numbers", "",
             markdown_table(numbers_table(m.frames["numbers"])), "",
             *_agreement_lines(m.frames["numbers"]), *_precision_lines(m),
             "## Figures", "", *[b + "\n" for b in blocks],
             f"(computed in {m.seconds:.2f} s)"]
    (out / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(out / "REPORT.md")
    return written
