"""When unclipped SGD overflows once a tanh RNN's state has saturated.

Derivation. After an exploding step has thrown ``W_hh`` far out, every unit
saturates: ``h = +-1`` with ``tanh' ~ 0``, so the recurrent parameters' gradient
vanishes and SGD moves only the linear readout ``y_hat = w . h_T + b``. With the
features ``phi = [h_T; 1]`` fixed, the batch loss ``L = mean_b (w . phi_b - y_b)^2``
is quadratic in ``theta = (w, b)`` with Hessian

    A = (2 / B) sum_b phi_b phi_b^T,    curvature lambda = lambda_max(A)
      = 2 sigma_max(Phi)^2 / B          (Phi: B x (H+1), rows phi_b^T).

SGD maps the error ``theta - theta*`` to ``(I - lr A)(theta - theta*)``; along
the top eigenvector it is multiplied by ``1 - lr lambda`` per step. When
``lr lambda > 2`` that factor exceeds 1 in size: the readout error grows by
``rho = |1 - lr lambda|`` per step and the loss by ``rho^2``, so from a loss
``L_0`` at step ``s_0`` (dominated by that direction) the loss passes the
largest float ``L_max`` at

    s = s_0 + ln(L_max / L_0) / (2 ln rho).

For a saturated state that no longer depends on the input, ``Phi``'s rows are
all alike, ``sigma_max(Phi)^2 = B (H + 1)`` and ``lambda = 2 (H + 1)``: at
``H = 32`` SGD is unstable for ``lr > 1/33``. The loss is the first thing to
overflow: it squares a residual near ``1e154``, while gradient norms are
computed without overflow (:func:`gradflow.optim.global_norm`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradflow._validate import UsageError, check_array, check_int, check_real

__all__ = ["FLOAT_MAX", "growth_factor", "overflow_step", "readout_curvature",
           "simulate_readout_sgd"]

#: The largest float64: a loss above it is ``inf``.
FLOAT_MAX = float(np.finfo(np.float64).max)


def readout_curvature(features: Any, *, bias: bool = True) -> float:
    """``lambda_max`` of the MSE Hessian of a linear readout on fixed ``features``.

    Parameters
    ----------
    features : (B, H) array of the readout's inputs (e.g. the saturated ``h_T``)
    bias : whether the readout has a bias (a constant feature 1)

    Returns
    -------
    float
        ``2 sigma_max([features, 1])^2 / B``.
    """
    phi = check_array("features", features)
    if phi.ndim != 2 or phi.shape[0] < 1:
        raise UsageError(f"features must be a (B, H) array; got shape {phi.shape}")
    if bias:
        phi = np.hstack([phi, np.ones((phi.shape[0], 1))])
    sigma = float(np.linalg.norm(phi, 2))
    return 2.0 * sigma * sigma / phi.shape[0]


def growth_factor(lr: float, curvature: float) -> float:
    """``|1 - lr lambda|``: the readout error's factor per SGD step along the top direction."""
    lr = check_real("lr", lr, minimum=0.0)
    curvature = check_real("curvature", curvature, minimum=0.0)
    return abs(1.0 - lr * curvature)


def overflow_step(loss: float, lr: float, curvature: float, *, start: float = 0.0,
                  max_loss: float = FLOAT_MAX) -> float:
    """The step at which the loss passes ``max_loss``, growing by ``rho^2`` per step.

    Parameters
    ----------
    loss : the loss ``L_0 > 0`` at step ``start``
    lr : SGD learning rate
    curvature : ``lambda`` (:func:`readout_curvature`)
    start : the step ``s_0`` of ``loss``
    max_loss : the overflow level (float64's largest)

    Returns
    -------
    float
        ``start + ln(max_loss / loss) / (2 ln rho)``; ``inf`` when ``rho <= 1``
        (SGD is stable: no overflow).
    """
    loss = check_real("loss", loss, minimum=0.0, strict_min=True)
    start = check_real("start", start)
    max_loss = check_real("max_loss", max_loss, minimum=0.0, strict_min=True)
    rho = growth_factor(lr, curvature)
    if rho <= 1.0:
        return math.inf
    # log(max_loss) - log(loss), not log(max_loss / loss): the ratio overflows for loss < 1.
    return start + max(0.0, math.log(max_loss) - math.log(loss)) / (2.0 * math.log(rho))


def simulate_readout_sgd(features: Any, targets: Any, lr: float, weights: Any,
                         bias: float = 0.0, *, max_steps: int = 10_000) -> int:
    """Plain SGD on ``mean((features @ w + b - targets)^2)``; the first step whose loss is
    not finite (``max_steps`` if none), as :func:`gradflow.train` would record it."""
    phi = check_array("features", features)
    y = check_array("targets", targets)
    w = np.array(check_array("weights", weights), dtype=np.float64)
    b = float(bias)
    lr = check_real("lr", lr, minimum=0.0)
    B = phi.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(check_int("max_steps", max_steps, minimum=1)):
            r = phi @ w + b - y
            loss = float(np.mean(r * r))
            if not math.isfinite(loss):
                return step
            w = w - lr * (2.0 / B) * (phi.T @ r)
            b = b - lr * (2.0 / B) * float(r.sum())
    return max_steps
