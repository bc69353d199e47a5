"""Figure style and deterministic saving: the same figure gives the same bytes.

Plot styling lives here once; analyses never set rcParams themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: reports are files

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["CELL_COLORS", "figure_style", "save_figure"]

#: One color per cell kind, the same in every figure.
CELL_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}

_RC = {
    "svg.hashsalt": "gradflow",       # fixed ids in SVG
    "pdf.fonttype": 42,               # embed TrueType: editable text in papers
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "figure.figsize": (6.0, 3.8),
    "axes.titlesize": "medium",
    "legend.frameon": False,
}
# No dates, no software versions: they would change the bytes from run to run.
_METADATA = {
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
}


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """The house style (seaborn's paper context, white grid) for the block's figures."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1), \
            matplotlib.rc_context(_RC):
        yield


def save_figure(fig: matplotlib.figure.Figure, stem: Path,
                formats: tuple[str, ...] = (".pdf", ".png")) -> list[Path]:
    """Save ``fig`` as ``stem`` + each format with fixed metadata, then close it."""
    paths = []
    with matplotlib.rc_context(_RC):
        for suffix in formats:
            path = stem.with_suffix(suffix)
            fig.savefig(path, metadata=_METADATA[suffix])
            paths.append(path)
    plt.close(fig)
    return paths
