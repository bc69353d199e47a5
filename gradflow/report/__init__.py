"""Assembly of ``reports/``: what ``make reports`` runs.

This first version regenerates what exists (the symbolic derivations, once
``gradflow.symbolic`` is there) and says plainly what is not built yet.
"""

from __future__ import annotations

from gradflow.report.build import build_report, register

__all__ = ["build_report", "register"]
