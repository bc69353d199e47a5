"""Assembly of ``reports/``: what ``make reports`` runs.

- ``analyses.py``: discovery of analysis files (``TITLE``, ``QUESTION``,
  ``GRID``, ``run``, ``render``) and the picklable call that runs one config;
- ``output.py``: ``Section``, through which ``render`` writes figures (PDF,
  PNG and CSV data, a LaTeX float), tables (CSV, Markdown, booktabs float)
  and citable numbers (``results.tex`` macros);
- ``claims.py``: ``Claim`` (statement, verdict computed from the data, evidence),
  ``Summary`` (what an analysis's pure ``summarize`` returns) and the verdict
  rules (``exceeds``, ``matches``, ``proportion``, ``differ``, ...);
- ``latex.py``: LaTeX escaping, number formatting and table floats;
- ``derivations.py``: the SymPy derivations as numbered ``align`` equations;
- ``paper.py``: ``preamble.tex``, ``paper.tex`` and compiling it (``make paper``);
- ``stats.py``: means and rates over seeds with their intervals;
- ``style.py``: the figure style, once, figures at printed width, deterministic saving;
- ``staging.py``: the staging folder and the swap that make a failed run
  harmless;
- ``build.py``: ``gradflow report``, which runs it all and writes
  ``REPORT.md`` and ``manifest.json``; ``command.py``: its command line.

The names below load on first use, so ``gradflow --help`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["AnalysisError", "Claim", "Section", "Summary", "build_report", "equivalence",
           "logrank", "mean_ci", "rate_ci", "register", "solved_fraction", "summarize"]

_LAZY = {"AnalysisError": "gradflow.report.analyses", "Claim": "gradflow.report.claims",
         "Summary": "gradflow.report.claims", "build_report": "gradflow.report.build",
         "Section": "gradflow.report.output", "mean_ci": "gradflow.report.stats",
         "rate_ci": "gradflow.report.stats", "summarize": "gradflow.report.stats",
         "solved_fraction": "gradflow.report.stats", "logrank": "gradflow.report.stats",
         "equivalence": "gradflow.report.stats",
         "register": "gradflow.report.command"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gradflow.report' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
