"""Assembly of ``reports/``: what ``make reports`` runs.

- ``analyses.py``: discovery of analysis files (``TITLE``, ``QUESTION``,
  ``GRID``, ``run``, ``render``) and the picklable call that runs one config;
- ``output.py``: ``Section``, through which ``render`` writes figures (PDF,
  PNG and CSV data, a LaTeX float), tables (CSV, Markdown, booktabs float)
  and citable numbers (``results.tex`` macros);
- ``latex.py``: LaTeX escaping, number formatting and table floats;
- ``derivations.py``: the SymPy derivations as numbered ``align`` equations;
- ``paper.py``: ``preamble.tex``, ``paper.tex`` and compiling it (``make paper``);
- ``stats.py``: means and rates over seeds with their intervals;
- ``style.py``: the figure style, once, figures at printed width, deterministic saving;

- ``build.py``: ``gradflow report``, which runs it all and writes
  ``REPORT.md`` and ``manifest.json``.
"""

from __future__ import annotations

from gradflow.report.build import build_report, register
from gradflow.report.output import Section
from gradflow.report.stats import mean_ci, rate_ci, summarize

__all__ = ["Section", "build_report", "mean_ci", "rate_ci", "register", "summarize"]
