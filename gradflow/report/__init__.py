"""Assembly of ``reports/``: what ``make reports`` runs.

- ``analyses.py``: discovery of analysis files (``TITLE``, ``QUESTION``,
  ``GRID``, ``run``, ``render``) and the picklable call that runs one config;
- ``output.py``: ``Section``, through which ``render`` writes figures (PDF,
  PNG and CSV data), tables (CSV, Markdown, booktabs LaTeX) and citable
  numbers (``results.tex`` macros);
- ``stats.py``: means and rates over seeds with their intervals;
- ``style.py``: the figure style, once, and deterministic saving;
- ``build.py``: ``gradflow report``, which runs it all and writes
  ``REPORT.md`` and ``manifest.json``.
"""

from __future__ import annotations

from gradflow.report.build import build_report, register
from gradflow.report.output import Section
from gradflow.report.stats import mean_ci, rate_ci, summarize

__all__ = ["Section", "build_report", "mean_ci", "rate_ci", "register", "summarize"]
