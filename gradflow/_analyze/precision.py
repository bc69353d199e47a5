"""Can float32 exponents be trusted? A float64 check of ``lambda_1`` on a short window.

On a chaotic model (``lambda_1 > 0``) nearby trajectories separate, and the
float32 rounding of every step is such a perturbation: the float32 run follows
a different trajectory, and its exponents can differ from float64's by more
than their interval. :func:`float64_check` recomputes ``lambda_1`` of the
first sequences over the first steps in float32 and in float64 (the same
weights and inputs, cast) and returns both, with the largest relative
difference of the two runs' outputs. It is flagged when the runs separate
(outputs more than :data:`SEPARATED` apart: float32 is then a different
trajectory, and its numbers are not float64's to round-off) or when the
exponents differ beyond :data:`TOLERANCE` of the float64 value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from gradflow.diagnostics import lyapunov_spectrum

__all__ = ["TOLERANCE", "float64_check"]

#: Relative difference of float32's lambda_1 from float64's that is flagged (and an
#: absolute floor, for exponents near 0).
TOLERANCE, FLOOR = 0.05, 1e-3
#: Relative difference of the float32 and float64 outputs at which the runs have separated.
SEPARATED = 1e-2
#: The short window: at most this many sequences and steps.
SEQUENCES, STEPS = 4, 200


def float64_check(net: Any, params: dict, x: np.ndarray, warmup: int) -> pd.DataFrame:
    """``lambda_1`` (mean over the sequences) in float32 and float64 per layer and
    direction, the largest relative difference of the two runs' outputs, and ``flag``.

    Parameters
    ----------
    net : the float32 Network; params : its parameters
    x : (T, B, I) inputs; the first ``STEPS`` steps and ``SEQUENCES`` sequences are used
    warmup : steps left out (capped to a fifth of the window)
    """
    x = np.asarray(x[:STEPS, :SEQUENCES])
    warmup = min(warmup, x.shape[0] // 5)
    net64 = dataclasses.replace(net, dtype="float64")
    params64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    lams, outputs = {}, {}
    for name, n, p, xs in (("float32", net, params, x.astype(np.float32)),
                           ("float64", net64, params64, x.astype(np.float32).astype(np.float64))):
        trace = n.forward(p, xs, check_finite=False)
        outputs[name] = trace.outputs.astype(np.float64)                # (T, B, D H)
        lams[name] = {(layer, d): float(np.nanmean(lyapunov_spectrum(
            n.jacobian_operator(trace.params, trace, layer, d).in_processing_order(), k=1,
            warmup=warmup, reorth_every=10)[:, 0]))
            for layer in range(n.num_layers) for d in range(n.num_directions)}
    gap = np.linalg.norm(outputs["float32"] - outputs["float64"], axis=-1)    # (T, B)
    scale = np.linalg.norm(outputs["float64"], axis=-1) + 1e-12
    separation = float(np.max(gap / scale))
    rows = []
    for (layer, d), lam64 in lams["float64"].items():
        lam32 = lams["float32"][(layer, d)]
        flag = separation > SEPARATED or \
            abs(lam32 - lam64) > max(TOLERANCE * abs(lam64), FLOOR)
        rows.append((layer, "reverse" if d else "forward", lam32, lam64, separation, flag))
    return pd.DataFrame(rows, columns=["layer", "direction", "lambda_1_float32",
                                       "lambda_1_float64", "output_separation", "flag"])
