"""The shared learning-rate rule (analyses/_protocol.py)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analyses"))
from _protocol import choose_rate  # noqa: E402


def runs(cells: dict) -> pd.DataFrame:
    """cells: (model, length, lr) -> solve steps (None: never solved)."""
    rows = [{"model": m, "length": T, "lr": lr, "seed": i,
             "solved_at": np.nan if at is None else float(at), "final_loss": 0.1 * lr}
            for (m, T, lr), steps in cells.items() for i, at in enumerate(steps)]
    return pd.DataFrame(rows)


def chosen(table: pd.DataFrame) -> dict:
    return {(r.model, r.length): r.lr for r in table[table.chosen].itertuples()}


def test_most_solved_then_fewest_mean_steps():
    frame = runs({("a", 5, 0.01): [100, None], ("a", 5, 0.03): [900, 900],
                  ("b", 5, 0.01): [300, 300], ("b", 5, 0.03): [200, 400 + 50]})
    table = choose_rate(frame, 1000)
    assert chosen(table) == {("a", 5): 0.03, ("b", 5): 0.01}
    a = table[(table.model == "a") & (table.lr == 0.01)].iloc[0]
    assert (a.solved, a.n, a.mean_steps) == (1, 2, 550.0)     # unsolved counted at budget


def test_a_run_solved_after_the_budget_counts_as_unsolved():
    frame = runs({("a", 5, 0.01): [100, 1500], ("a", 5, 0.03): [600, 700]})
    table = choose_rate(frame, 1000)
    assert chosen(table) == {("a", 5): 0.03}
    assert table.solved.tolist() == [1, 2]


def test_ties_by_final_loss_or_by_the_preferred_rate():
    cells = {("a", 5, lr): [None, None] for lr in (0.003, 0.01, 0.03)}
    frame = runs(cells)
    assert chosen(choose_rate(frame, 100)) == {("a", 5): 0.003}          # lower final loss
    by_prefer = choose_rate(frame.drop(columns="final_loss"), 100, prefer=0.01)
    assert chosen(by_prefer) == {("a", 5): 0.01}
    assert "final_loss" not in by_prefer and by_prefer.distance.min() == 0.0
    # 0.003 and 0.03 both unsolved, 0.01 worse: 0.03 is nearer 0.01 in log10 distance.
    frame = runs({("a", 5, 0.003): [None], ("a", 5, 0.01): [None], ("a", 5, 0.03): [None]})
    frame.loc[frame.lr == 0.01, "solved_at"] = np.nan
    table = choose_rate(frame.drop(columns="final_loss"), 100, prefer=0.02, by=("model",))
    assert chosen(table.assign(length=5)) == {("a", 5): 0.03}


def test_one_column_per_cell_and_one_choice_per_cell():
    frame = runs({("a", 5, 0.01): [1], ("a", 9, 0.01): [None], ("a", 9, 0.03): [None]})
    table = choose_rate(frame, 10)
    assert list(table.columns) == ["model", "length", "lr", "solved", "n", "mean_steps",
                                   "final_loss", "chosen"]
    assert table.groupby(["model", "length"]).chosen.sum().eq(1).all()
