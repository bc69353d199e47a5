"""Several checkpoints side by side: ``gradflow analyze A.pt B.pt ... --out DIR``.

Every model is fed the same sequences (the same file, or the same synthetic
seed), so each sequence gives a paired difference: the table of differences
reports, for each number of each model against the first, the mean over
sequences of ``value_model - value_first`` with a 95% Student-t interval of
those paired differences (exact for numbers read off the weights). DIR holds
the overlaid figures, ``values.csv`` (every model's numbers), ``differences.csv``
and REPORT.md; each model's own
analysis is in ``DIR/<label>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gradflow._analyze.summary import interval

__all__ = ["differences", "labels", "write_comparison"]

_KEY = ["layer", "direction", "quantity"]


def labels(models: list[Path]) -> list[str]:
    """A short distinct label per model: its file stem, numbered if stems repeat."""
    stems = [Path(m).stem for m in models]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{i + 1}-{stem}" for i, stem in enumerate(stems)]


def differences(reference: Any, other: Any, label: str) -> pd.DataFrame:
    """Per number, ``other - reference``: mean of the paired per-sequence differences and
    its 95% interval (rows: layer, direction, quantity, model, difference, low, high, n)."""
    rows = []
    ref_seq = reference.frames["sequences"].set_index([*_KEY, "sequence"]).value
    oth_seq = other.frames["sequences"].set_index([*_KEY, "sequence"]).value
    paired = (oth_seq - ref_seq).dropna()                      # the sequences both have
    for key, diff in paired.groupby(level=[0, 1, 2], sort=False):
        if key[2].startswith("lambda_") and key[2] != "lambda_1":
            continue
        mean, low, high, n = interval(diff.to_numpy())
        quantity = "lambda_max" if key[2] == "lambda_1" else key[2]
        rows.append((*key[:2], quantity, label, mean, low, high, n))
    exact = pd.merge(reference.frames["numbers"].query("n == 0"),
                     other.frames["numbers"].query("n == 0"), on=_KEY)
    for row in exact.itertuples():
        d = row.value_y - row.value_x
        rows.append((row.layer, row.direction, row.quantity, label, d, d, d, 0))
    return pd.DataFrame(rows, columns=[*_KEY, "model", "difference", "low", "high", "n"])


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    from gradflow._analyze.write import describe

    def fmt(v: float) -> str:
        return f"{v:.4g}" if v == v else ""

    return pd.DataFrame({
        "model": frame.model, "layer": frame.layer, "direction": frame.direction,
        "meaning": frame.quantity.map(describe), "difference": frame.difference.map(fmt),
        "95% interval": ["exact" if n == 0 else f"[{fmt(lo)}, {fmt(hi)}]" if lo == lo else ""
                         for lo, hi, n in zip(frame.low, frame.high, frame["n"], strict=True)],
        "excludes 0": ["" if n == 0 or lo != lo else "yes" if lo > 0 or hi < 0 else "no"
                       for lo, hi, n in zip(frame.low, frame.high, frame["n"], strict=True)]})


def _values_table(values: pd.DataFrame) -> pd.DataFrame:
    """One row per statistic, one column per model: ``value [low, high]``."""
    from gradflow._analyze.write import describe

    def cell(row: Any) -> str:
        return f"{row.value:.4g} [{row.low:.4g}, {row.high:.4g}]" if row.low == row.low \
            else f"{row.value:.4g}"

    stats = values[values.n > 0].assign(shown=lambda f: [cell(r) for r in f.itertuples()])
    table = stats.pivot_table(index=["layer", "direction", "quantity"], columns="model",
                              values="shown", aggfunc="first", sort=False)
    table = table[[m for m in dict.fromkeys(values.model) if m in table.columns]]
    table.insert(0, "meaning", [describe(q) for q in table.index.get_level_values(2)])
    return table.reset_index().drop(columns="quantity")


def write_comparison(out: Path, measured: list[Any], names: list[str]) -> list[Path]:
    """The comparison's figures, differences.csv and REPORT.md into ``out``; each model's
    own analysis into ``out / label``."""
    from gradflow._analyze.figures import draw_models
    from gradflow._analyze.write import write_one
    from gradflow.report.output import markdown_table

    written: list[Path] = []
    for m, name in zip(measured, names, strict=True):
        written += write_one(out / name, m)
    bidirectional = any(m.ckpt.network.bidirectional for m in measured)
    first = measured[0]          # the same sequences, T, warm-up and skip for every model
    blocks = draw_models(out, [(n, m.frames) for n, m in zip(names, measured, strict=True)],
                         bidirectional, written, (first.skip, first.feed.steps - 1 - first.warmup))
    diffs = pd.concat([differences(measured[0], m, n)
                       for m, n in zip(measured[1:], names[1:], strict=True)],
                      ignore_index=True)
    diffs = diffs.sort_values(["model", "layer", "direction"], kind="stable")
    values = pd.concat([m.frames["numbers"].assign(model=n)
                        for m, n in zip(measured, names, strict=True)], ignore_index=True)
    for name, frame in (("differences", diffs), ("values", values)):
        frame.to_csv(out / f"{name}.csv", index=False, float_format="%.10g",
                     lineterminator="\n")
        written.append(out / f"{name}.csv")
    lines = ["# gradflow analyze: comparison", "",
             "Models: " + "; ".join(
                 f"`{n}` ({m.model.name}: {m.ckpt.network.cell.upper()}, hidden "
                 f"{m.ckpt.network.hidden_size}, {m.ckpt.network.num_layers} layer(s))"
                 for n, m in zip(names, measured, strict=True)) + ".", "",
             f"Inputs (the same for every model): {first.feed.note}.", "",
             f"Each model's own report, with its loss and window, is in its folder "
             f"(`{names[0]}/REPORT.md`, ...). Below, each number of a model minus the same "
             f"number of `{names[0]}`: the mean over the {first.feed.sequences} sequences of "
             f"the paired differences, with a 95% Student-t interval "
             f"(`differences.csv`).", "",
             "## Values", "", "Each model's statistics (mean over sequences, 95% interval; "
             "every number in `values.csv`):", "", markdown_table(_values_table(values)), "",
             "## Differences", "", markdown_table(_table(diffs)), "",
             "## Figures (overlaid)", "", *[b + "\n" for b in blocks]]
    (out / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(out / "REPORT.md")
    return written
