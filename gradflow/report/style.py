"""Figure style and deterministic saving: the same figure gives the same bytes.

Plot styling lives here once; analyses never set rcParams themselves. Figures
are drawn at the size they are printed: ``COLUMN`` (3.4 in, one column of a
two-column paper) or ``PAGE`` (7 in, both columns), with 8-9 pt text and a
fixed bounding box (constrained layout, no ``bbox_inches="tight"``), so the PDF
drops into a paper at 100 %. An analysis chooses only the width (and height):
``fig, ax = new_figure("column")``.

A paper's column or page may be narrower than the drawing (a default
``article``: 3.18 in and 6.5 in; on A4 3.06 in and 6.25 in), so the figure is
scaled down by up to 0.89. ``save_figure`` therefore raises any text drawn
smaller than ``MIN_TEXT_PT`` (ticks, legends, annotations, whatever size an
analysis asked for) to it, so that nothing prints under 6.5 pt; ``figure_text``
lists every text of a figure with its size and box, for tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")  # no display: reports are files

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from gradflow._validate import UsageError

__all__ = ["CELL_COLORS", "COLUMN", "MIN_TEXT_PT", "PAGE", "WIDTHS", "FigureText",
           "figure_style", "figure_text", "new_figure", "save_figure", "shared_legend",
           "width_name"]

#: Printed widths in inches: one column of a two-column paper, and the full page.
COLUMN, PAGE = 3.4, 7.0
#: Width name (part of every figure's file name) -> inches.
WIDTHS = {"column": COLUMN, "page": PAGE}

#: Smallest text drawn (pt): 6.5 pt printed at the smallest common scale, 0.89.
MIN_TEXT_PT = 7.3

#: One color per cell kind, the same in every figure.
CELL_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}

_RC: dict[Any, Any] = {
    "svg.hashsalt": "gradflow",       # fixed ids in SVG
    "pdf.fonttype": 42,               # embed TrueType: editable text in papers
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": None,             # the size drawn is the size printed
    "figure.figsize": (COLUMN, 2.4),
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "font.size": 8,                   # 8-9 pt at printed size
    "axes.labelsize": 8,
    "axes.titlesize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.borderaxespad": 0.3,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.linewidth": 0.6,
    "grid.linewidth": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "mathtext.fontset": "dejavusans",
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
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"), \
            matplotlib.rc_context(_RC):
        yield


def new_figure(width: str = "column", height: float = 2.4, **subplots) -> tuple:
    """``plt.subplots`` at a printed width: ``"column"`` (3.4 in) or ``"page"`` (7 in).

    ``height`` is in inches; ``subplots`` go to ``plt.subplots`` (``ncols``,
    ``sharey``, ...). Returns ``(fig, axes)``.
    """
    if width not in WIDTHS:
        raise UsageError(f"width must be one of {sorted(WIDTHS)}; got {width!r}")
    if not 0.5 <= height <= 9.0:
        raise UsageError(f"height must be between 0.5 and 9 inches; got {height!r}")
    return plt.subplots(figsize=(WIDTHS[width], height), layout="constrained", **subplots)


def width_name(fig: matplotlib.figure.Figure) -> str:
    """``"column"`` or ``"page"`` from the figure's width; anything else is an error."""
    inches = fig.get_figwidth()
    for name, value in WIDTHS.items():
        if abs(inches - value) < 0.01:
            return name
    raise UsageError(f"a report figure is drawn at its printed width, {COLUMN} in (column) "
                     f"or {PAGE} in (page); got {inches:.2f} in: use "
                     f"gradflow.report.style.new_figure(\"column\" or \"page\", height)")


class FigureText(NamedTuple):
    """One visible text of a drawn figure: its string, size (pt, as drawn) and box
    (inches from the figure's lower left: x0, y0, x1, y1)."""

    text: str
    size: float
    box: tuple[float, float, float, float]


def figure_text(fig: matplotlib.figure.Figure) -> list[FigureText]:
    """Every text ``fig`` draws (tick labels, labels, titles, legends, annotations),
    with its size and box, laid out as it is saved.

    The texts are the ones the renderer is asked to draw, so tick labels outside
    the view limits (kept by matplotlib, not drawn) are not among them.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    drawn: list[Text] = []
    original = RendererAgg.draw_text

    def record(self: Any, gc: Any, x: float, y: float, s: str, prop: Any, angle: float,
               ismath: Any = False, mtext: Any = None) -> Any:
        if mtext is not None and s.strip():
            drawn.append(mtext)
        return original(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    canvas = FigureCanvasAgg(fig)   # a closed figure (saved) has lost its own
    RendererAgg.draw_text = record  # type: ignore[method-assign]
    try:
        canvas.draw()
    finally:
        RendererAgg.draw_text = original  # type: ignore[method-assign]
    renderer = canvas.get_renderer()
    dpi = fig.dpi
    out = []
    for artist in dict.fromkeys(drawn):   # once each, in drawing order
        box = artist.get_window_extent(renderer)
        out.append(FigureText(artist.get_text(), float(artist.get_fontsize()),
                              (box.x0 / dpi, box.y0 / dpi, box.x1 / dpi, box.y1 / dpi)))
    return out


def _raise_small_text(fig: matplotlib.figure.Figure) -> None:
    """Every text under ``MIN_TEXT_PT`` raised to it (ticks too, as they are redrawn)."""
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for major in (True, False):
                ticks = axis.get_major_ticks() if major else axis.get_minor_ticks()
                if ticks and float(ticks[0].label1.get_fontsize()) < MIN_TEXT_PT:
                    axis.set_tick_params(which="major" if major else "minor",
                                         labelsize=MIN_TEXT_PT)
    for artist in fig.findobj(Text):
        if float(artist.get_fontsize()) < MIN_TEXT_PT:
            artist.set_fontsize(MIN_TEXT_PT)


def save_figure(fig: matplotlib.figure.Figure, stem: Path,
                formats: tuple[str, ...] = (".pdf", ".png")) -> list[Path]:
    """Save ``fig`` as ``stem`` + each format with fixed metadata, then close it.

    Text drawn under ``MIN_TEXT_PT`` is raised to it first."""
    paths = []
    with matplotlib.rc_context(_RC):
        fig.canvas.draw()        # ticks exist once drawn
        _raise_small_text(fig)
        for suffix in formats:
            path = stem.with_suffix(suffix)
            fig.savefig(path, metadata=_METADATA[suffix])
            paths.append(path)
    plt.close(fig)
    return paths


def shared_legend(fig: Any, axes: Any, **kwargs: Any) -> Any:
    """One legend below a figure of panels: every label once, its first handle.

    ``axes`` is any iterable of axes (``axes.flat``); ``kwargs`` go to
    ``fig.legend`` (``ncol=3``, ``fontsize="small"``, ...).
    """
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    return fig.legend(list(handles.values()), list(handles.keys()),
                      loc="outside lower center", frameon=False, **kwargs)
