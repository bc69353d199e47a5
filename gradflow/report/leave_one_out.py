"""The leave-one-out rule: a verdict that one run decides is not reported as decided.

A trained network's outcome is a per-seed draw of a chaotic process: a last-bit
difference (another BLAS kernel, another summation order) gives another run. A verdict
that leaving out a single run would change is therefore decided by round-off, and
:func:`steady` reports it as inconclusive, naming the run. The round-off replicate
(``REPLICATE = True``, :mod:`gradflow.report.build`) checks the same thing by computing
it; this rule checks it for free on the runs at hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from gradflow.report.claims import Claim

__all__ = ["FRAGILE", "steady"]

FRAGILE = "fragile: leaving out one run ({which}) gives '{verdict}'; "


def steady(make: Callable[..., Claim], *samples: Any, labels: tuple[str, ...] = ()) -> Claim:
    """``make(*samples)``, kept only if it survives leaving out any one run.

    A trained network's outcome is a per-seed draw of a chaotic process (a last-bit
    difference gives another run), so a verdict that one run decides is decided by
    round-off. Each sample is left one value short in turn (each distinct value once);
    if any such verdict differs from the full one, the claim is inconclusive, and its
    evidence says which run moved it and that more seeds would be the remedy.

    Parameters
    ----------
    make : samples -> Claim (the claim constructor call, on arrays)
    samples : 1-d arrays of per-run values
    labels : a name per sample for the evidence
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    full = make(*arrays)
    if full.verdict == "inconclusive":
        return full
    for i, a in enumerate(arrays):
        _, first = np.unique(a, return_index=True)
        for j in sorted(first):
            reduced = [*arrays[:i], np.delete(a, j), *arrays[i + 1:]]
            moved = make(*reduced)
            if moved.verdict != full.verdict:
                binary = bool(np.isin(a, (0.0, 1.0)).all())
                value = ("a 'yes'" if a[j] else "a 'no'") if binary else f"{a[j]:.3g}"
                which = (f"{labels[i]}, " if i < len(labels) else "") + value
                note = FRAGILE.format(which=which, verdict=moved.verdict)
                return replace(full, verdict="inconclusive",
                               evidence=f"{full.evidence}; {note}more seeds would be "
                                        f"the remedy")
    return full
