"""The learning-rate protocol shared by the learning analyses (bidirectional, long_range).

A cell's Adam rate is chosen from a small grid on tuning seeds that are never reported,
by a rule fixed before the runs (:func:`choose_rate`): the rate that solved the most
tuning seeds within the budget; ties by the fewest mean steps to solve (an unsolved run
counted at the budget); then, where the analysis names one, by the lower mean final
training loss (``final_loss``) or by the rate closest to a preferred one (``prefer``, in
log10 distance); last by the smaller rate. Pure pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def choose_rate(tuning: pd.DataFrame, budget: int, by: tuple[str, ...] = ("model", "length"),
                prefer: float | None = None) -> pd.DataFrame:
    """The protocol's rule on the tuning runs, per cell (the ``by`` columns) and rate.

    ``tuning``: one row per tuning run with the ``by`` columns, ``lr`` and ``solved_at``
    (updates to solve; NaN for a run that never solved) and, optionally, ``final_loss``.
    Returns one row per (cell, rate): the ``by`` columns, ``lr``, ``solved`` (tuning seeds
    solved within ``budget``), ``n``, ``mean_steps`` (steps to solve, an unsolved run
    counted at ``budget``), ``final_loss`` (mean final training loss; only when
    ``tuning`` has it), ``distance`` (|log10(lr / prefer)|; only with ``prefer``) and
    ``chosen`` (the cell's rate by the rule: most solved, then fewest mean steps, then the
    lower final loss or the smaller distance, then the smaller rate).
    """
    by = tuple(by)
    has_loss = "final_loss" in tuning
    rows = []
    for key, g in tuning.groupby([*by, "lr"]):
        at = g.solved_at.to_numpy(dtype=float)
        solved = np.isfinite(at) & (at <= budget)
        row = {c: int(v) if c == "length" else v for c, v in zip(by, key[:-1], strict=True)}
        row |= {"lr": float(key[-1]), "solved": int(solved.sum()), "n": len(g),
                "mean_steps": float(np.mean(np.where(solved, at, budget)))}
        if has_loss:
            row["final_loss"] = float(g.final_loss.mean())
        rows.append(row)
    tie = [c for c, on in (("final_loss", has_loss), ("distance", prefer is not None)) if on]
    table = pd.DataFrame(rows, columns=[*by, "lr", "solved", "n", "mean_steps",
                                        *(["final_loss"] if has_loss else [])])
    if prefer is not None:
        table["distance"] = np.abs(np.log10(table.lr.to_numpy(float) / prefer))
    table["chosen"] = False
    for _, g in table.groupby(list(by)):
        keys = ["solved", "mean_steps", *tie, "lr"]
        best = g.sort_values(keys, ascending=[False, True, *[True] * len(tie), True]).index[0]
        table.loc[best, "chosen"] = True
    return table
