"""The learning-rate protocol shared by the learning analyses (bidirectional, long_range).

A cell's Adam rate is chosen from a small grid on tuning seeds that are never reported,
by a rule fixed before the runs (:func:`choose_rate`): the rate that solved the most
tuning seeds within the budget; ties by the fewest mean steps to solve (an unsolved run
counted at the budget); then, where the analysis names one, by the lower mean final
training loss (``final_loss``) or by the rate closest to a preferred one (``prefer``, in
log10 distance); last by the smaller rate. Pure pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    table = pd.DataFrame(rows, columns=[*by, "lr", "solved", "n", "mean_steps",
                                        *(["final_loss"] if has_loss else [])])
    if prefer is not None:
        table["distance"] = np.abs(np.log10(table.lr.to_numpy(float) / prefer))
    table["chosen"] = False
    for _, g in table.groupby(list(by)):
        table.loc[rank(g).index[0], "chosen"] = True
    return table


def rank(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (one row per rate) in the rule's order, best first: most solved, fewest
    mean steps, then the tie-breaks it has (lower ``final_loss``, smaller ``distance``),
    then the smaller rate."""
    tie = [c for c in ("final_loss", "distance") if c in table]
    return table.sort_values(["solved", "mean_steps", *tie, "lr"],
                             ascending=[False, True, *[True] * len(tie), True])


# ---- the staged protocol (long_range): extend at an edge, confirm the two finalists ------

#: Rates a grid may extend to, a factor ~3 apart.
LADDER = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class Stages:
    """A staged learning-rate protocol, fixed before the runs.

    Stage 1: every rate of ``rates`` on the ``seeds``. Extension: while a cell's choice
    (``choose_rate``) sits at the top (bottom) of the rates it has tried, the next rate
    of ``ladder`` above (below) is tried on the same seeds. Confirmation: the two best
    rates of stage 1 by the rule (the finalists) run again on the ``confirm`` seeds, and
    the rule on all the finalists' seeds (the stage-1 seeds that made them finalists
    included) chooses the rate used; where that choice sits at an edge of the rates tried,
    the grid extends again (on the stage-1 seeds) and the finalists are taken anew."""

    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    confirm: tuple[int, ...]
    prefer: float
    ladder: tuple[float, ...] = LADDER

    def __post_init__(self) -> None:
        for name, seeds in (("seeds", self.seeds), ("confirm", self.confirm)):
            if not seeds or list(seeds) != list(range(seeds[0], seeds[0] + len(seeds))):
                raise ValueError(f"Stages.{name} must be consecutive seeds (a run config "
                                 f"names its first seed and a count); got {seeds}")
        if set(self.seeds) & set(self.confirm):
            raise ValueError(f"Stages.seeds and Stages.confirm must not share a seed; got "
                             f"{self.seeds} and {self.confirm}")


def staged_table(tuning: pd.DataFrame, budget: int, stages: Stages,
                 by: tuple[str, ...] = ("model", "length")) -> pd.DataFrame:
    """The protocol's state on the tuning runs ``tuning`` (one row per run: the ``by``
    columns, ``seed``, ``lr``, ``solved_at``; NaN: never solved).

    One row per (cell, rate tried): ``solved``, ``n``, ``mean_steps`` and ``distance`` on
    the stage-1 seeds (``choose_rate``); ``first`` (the rule's choice on them);
    ``finalist`` (one of its two best); ``solved_all``, ``n_all``, ``mean_steps_all`` on
    the stage-1 and confirmation seeds (finalists only, else NaN); ``chosen`` (the rule on
    the finalists' runs, once every finalist has its confirmation runs; else False)."""
    by = tuple(by)
    first = choose_rate(tuning[tuning.seed.isin(stages.seeds)], budget, by=by,
                        prefer=stages.prefer).rename(columns={"chosen": "first"})
    first["finalist"] = False
    for _, g in first.groupby(list(by)):
        first.loc[rank(g).index[:2], "finalist"] = True
    seeds = (*stages.seeds, *stages.confirm)
    keys = [*by, "lr"]
    finalists = first.loc[first.finalist, keys]
    runs = tuning[tuning.seed.isin(seeds)].merge(finalists, on=keys)
    both = choose_rate(runs, budget, by=by, prefer=stages.prefer) if len(runs) else None
    table = first.copy()
    for column in ("solved_all", "n_all", "mean_steps_all"):
        table[column] = np.nan
    table["chosen"] = False
    if both is None:
        return table
    both = both.rename(columns={"solved": "solved_all", "n": "n_all",
                                "mean_steps": "mean_steps_all", "chosen": "final"})
    table = table.drop(columns=["solved_all", "n_all", "mean_steps_all", "chosen"]).merge(
        both[[*keys, "solved_all", "n_all", "mean_steps_all", "final"]], on=keys, how="left")
    complete = table.groupby(list(by)).n_all.transform(
        lambda n: bool(n.notna().sum() and (n.dropna() == len(seeds)).all()))
    table["chosen"] = table.final.fillna(False).astype(bool) & complete.astype(bool)
    return table.drop(columns="final")


def pending(table: pd.DataFrame, stages: Stages,
            by: tuple[str, ...] = ("model", "length")) -> list[tuple[tuple, float, tuple]]:
    """The runs the protocol still needs after ``staged_table``: (cell key, rate, seeds).
    An extension where a cell's stage-1 choice sits at an edge of the rates it tried and
    the ladder goes further; else the confirmation runs its finalists lack."""
    todo = []
    for key, g in table.groupby(list(by)):
        tried = sorted(g.lr)
        extend = _extension(tried, float(g[g["first"]].lr.iloc[0]), stages.ladder)
        if extend is None and g.chosen.any():       # confirmed: extend again at an edge
            extend = _extension(tried, float(g[g.chosen].lr.iloc[0]), stages.ladder)
        if extend is not None:
            todo.append((key, extend, stages.seeds))
        else:
            todo += [(key, float(r.lr), stages.confirm) for r in g[g.finalist].itertuples()
                     if not r.n_all == len(stages.seeds) + len(stages.confirm)]
    return todo


def _extension(tried: list[float], choice: float, ladder: tuple[float, ...]) -> float | None:
    """The ladder's next rate beyond ``choice`` when it sits at an edge of ``tried`` (of
    more than one rate) and the ladder goes further; else None."""
    up = [r for r in ladder if r > tried[-1] * 1.001]
    down = [r for r in ladder if r < tried[0] * 0.999]
    if len(tried) > 1 and choice == tried[-1] and up:
        return up[0]
    if len(tried) > 1 and choice == tried[0] and down:
        return down[-1]
    return None
