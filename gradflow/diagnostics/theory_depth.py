"""Mean-field prediction of the gradient reaching the bottom of a stacked RNN at init.

PyTorch's initialization draws every weight and bias from ``U(-1/sqrt(H),
1/sqrt(H))``: a weight variance ``sigma_w^2 = H Var(W_ij) = 1/3`` per input
block of width ``H`` and a bias variance ``1/(3H)`` per bias vector. Treat
every pre-activation as Gaussian and independent of the others and of the
adjoints (the mean-field approximation, exact as ``H -> inf``; Poole et al.
2016, Schoenholz et al. 2017), and track two things per layer:

Forward, the variance of what a layer reads and writes. A pre-activation
from an input ``u`` of total variance ``V_u`` (summed over its blocks of
width ``H``) and a state ``h`` is ``q = sigma_w^2 (V_u + E[h^2]) + 2/(3H)``;
each cell's stationary ``E[h^2]`` solves its own fixed point (below).

Backward, the squared norm of the adjoint, summed over time. A layer whose
output receives adjoints ``e_t = dL/dy_t`` (total squared norm ``E``) sums
them with its own recurrence: with ``chi_rec`` the mean squared gain of one
step back in time, the state adjoint's total is ``E / (1 - chi_rec)``, and the
layer passes ``chi_in E / (1 - chi_rec)`` to its input, ``chi_in`` the mean
squared gain of the input Jacobian. The through-time factor of a layer is

    r = chi_in / (1 - chi_rec)

(for a tanh RNN ``chi_in = chi_rec = sigma_w^2 E[tanh'(a)^2]``; the bare
``sqrt(sigma_w^2 E[phi'^2])`` of :func:`gradflow.diagnostics.theory.depth_factor`
is the factor of a single step, ``r`` without the sum over time).

Gated cells, from their backward passes (``s`` = sigmoid, ``E[.]`` over the
stationary Gaussians):

- LSTM: ``kappa = G B_c / (1 - F) + B_o`` with ``F = E[f^2]``,
  ``G = E[o^2] E[tanh'(c)^2]``, ``B_c = E[g^2] E[s'^2] + E[c^2] E[s'^2] +
  E[i^2] E[tanh'^2]``, ``B_o = E[tanh(c)^2] E[s'^2]``; ``chi_in = chi_rec =
  sigma_w^2 kappa``; stationary ``E[c^2] = E[i^2] E[g^2] / (1 - F)``,
  ``E[h^2] = E[o^2] E[tanh(c)^2]`` (``c`` taken Gaussian).
- GRU (PyTorch's ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
  ``h' = (1-z) n + z h``): with ``A_n = E[(1-z)^2] E[tanh'(a_n)^2]``,
  ``A_z = (E[h^2] + E[n^2]) E[s'^2]``, ``A_r = A_n M E[s'^2]``,
  ``M = sigma_w^2 E[h^2] + 1/(3H)``: ``chi_in = sigma_w^2 (A_n + A_z + A_r)``,
  ``chi_rec = E[z^2] + sigma_w^2 (A_z + A_r + E[r^2] A_n)``.

Connections, layer ``l >= 1`` with output adjoint total ``E_l``:

- none: the input receives ``r_l E_l``;
- residual ``y = h + u``: ``(1 + r_l) E_l`` (identity plus the layer);
- highway ``y = T h + (1-T) u``, ``T = s(W_T u + b_T)``: ``E[(1-T)^2] +
  r_l E[T^2] + sigma_T^2 E[(h-u)^2] E[s'(a_T)^2]`` times ``E_l``;
- dense (layer ``l`` reads ``[x; y^0; ...; y^{l-1}]``): every block of the
  input receives ``r_l E_l``, so ``E_j = sum_{l > j} r_l E_l``.

The gradient of the first layer's input weights is ``sum_t da_t x_t^T`` with
``E||da_t||^2`` proportional to the adjoint reaching layer 0 (whose
statistics do not depend on the depth above it), so the ratio of
``||dL/dW_ih^0||`` at ``L`` layers to one layer is ``sqrt(E_0)`` with the
readout's adjoint normalized to ``E_{L-1} = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from gradflow._validate import check_choice, check_int, check_real

__all__ = ["CELLS", "CONNECTIONS", "LayerMoments", "StackPrediction", "layer_moments",
           "stack_prediction"]

CELLS = ("rnn", "lstm", "gru")
CONNECTIONS = ("none", "residual", "dense", "highway")
SIGMA_W2 = 1.0 / 3.0          # H Var(W_ij) of U(-1/sqrt(H), 1/sqrt(H))

_Z = np.linspace(-12.0, 12.0, 4001)
_W = np.exp(-0.5 * _Z * _Z) * ((_Z[1] - _Z[0]) / np.sqrt(2.0 * np.pi))


def _e(f, q: float) -> float:
    """``E[f(a)]``, ``a ~ N(0, q)`` (trapezoid rule; exact to ~1e-12 for q <= 50)."""
    return float(_W @ f(np.sqrt(max(q, 0.0)) * _Z))


def _sig2(a: np.ndarray) -> np.ndarray:
    return special.expit(a) ** 2


def _dsig2(a: np.ndarray) -> np.ndarray:
    s = special.expit(a)
    return (s * (1.0 - s)) ** 2


def _tanh2(a: np.ndarray) -> np.ndarray:
    return np.tanh(a) ** 2


def _dtanh2(a: np.ndarray) -> np.ndarray:
    return (1.0 - np.tanh(a) ** 2) ** 2


@dataclass(frozen=True)
class LayerMoments:
    """Mean-field statistics of one recurrent layer at its stationary state.

    Attributes
    ----------
    h2 : stationary ``E[h^2]`` per unit
    chi_in : mean squared gain of the input Jacobian per block of width H
    chi_rec : mean squared gain of one step back in time
    through : ``chi_in / (1 - chi_rec)``: adjoint total passed to each input block
    q : the gates' (or the RNN's) pre-activation variance
    """

    h2: float
    chi_in: float
    chi_rec: float
    through: float
    q: float


def layer_moments(cell: str, input_variance: float, hidden_size: int = 32, *,
                  iterations: int = 200) -> LayerMoments:
    """Stationary moments and gradient gains of a layer at PyTorch's initialization.

    Parameters
    ----------
    cell : "rnn" (tanh), "lstm" or "gru"
    input_variance : ``V_u``, the input's variance per unit summed over its blocks
        of width ``H`` (1 for a standard-normal input of width ``H``)
    hidden_size : H (sets the bias variance ``1/(3H)`` per bias vector)
    iterations : fixed-point iterations for ``E[h^2]`` (they contract fast)
    """
    check_choice("cell", cell, CELLS)
    v = check_real("input_variance", input_variance, minimum=0.0)
    H = check_int("hidden_size", hidden_size, minimum=1)
    bv = 1.0 / (3.0 * H)
    s2 = SIGMA_W2
    h2 = 0.0
    for _ in range(check_int("iterations", iterations, minimum=1)):
        q = s2 * (v + h2) + 2.0 * bv
        if cell == "rnn":
            new = _e(_tanh2, q)
        elif cell == "lstm":
            f2, i2, o2, g2 = _e(_sig2, q), _e(_sig2, q), _e(_sig2, q), _e(_tanh2, q)
            c2 = i2 * g2 / (1.0 - f2)
            new = o2 * _e(_tanh2, c2)
        else:
            r2, z2 = _e(_sig2, q), _e(_sig2, q)
            qn = s2 * v + bv + r2 * (s2 * h2 + bv)
            new = (1.0 - 2.0 * _e(special.expit, q) + z2) * _e(_tanh2, qn) / (1.0 - z2)
        if abs(new - h2) < 1e-15:
            h2 = new
            break
        h2 = new
    q = s2 * (v + h2) + 2.0 * bv
    if cell == "rnn":
        chi_in = chi_rec = s2 * _e(_dtanh2, q)
    elif cell == "lstm":
        f2 = i2 = o2 = _e(_sig2, q)
        g2, ds2, dt2 = _e(_tanh2, q), _e(_dsig2, q), _e(_dtanh2, q)
        c2 = i2 * g2 / (1.0 - f2)
        G = o2 * _e(_dtanh2, c2)
        Bc = g2 * ds2 + c2 * ds2 + i2 * dt2
        Bo = _e(_tanh2, c2) * ds2
        chi_in = chi_rec = s2 * (G * Bc / (1.0 - f2) + Bo)
    else:
        r2 = z2 = _e(_sig2, q)
        one_z2 = 1.0 - 2.0 * _e(special.expit, q) + z2          # E[(1-z)^2]
        ds2 = _e(_dsig2, q)
        M = s2 * h2 + bv
        qn = s2 * v + bv + r2 * M
        n2 = _e(_tanh2, qn)
        A_n = one_z2 * _e(_dtanh2, qn)
        A_z = (h2 + n2) * ds2
        A_r = A_n * M * ds2
        chi_in = s2 * (A_n + A_z + A_r)
        chi_rec = z2 + s2 * (A_z + A_r + r2 * A_n)
    return LayerMoments(h2, chi_in, chi_rec, chi_in / (1.0 - chi_rec), q)


@dataclass(frozen=True)
class StackPrediction:
    """Mean-field prediction for a stack (:func:`stack_prediction`).

    Attributes
    ----------
    ratio : ``||dL/dW_ih^0||`` at ``layers`` over that at one layer
    per_layer : ``ratio ** (1 / (layers - 1))`` (1.0 for one layer)
    adjoint : squared adjoint total reaching each layer's output, top = 1
    carry : mean highway carry ``E[1 - T]`` over layers >= 1 (nan otherwise)
    """

    ratio: float
    per_layer: float
    adjoint: tuple[float, ...]
    carry: float


def stack_prediction(cell: str, connection: str, layers: int, *, hidden_size: int = 32,
                     input_variance: float = 1.0, carry_bias: float = -2.0) -> StackPrediction:
    """Predicted gradient at the bottom of a ``layers``-deep stack relative to one layer.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    connection : "none", "residual", "dense" or "highway" (from layer 1 up)
    layers : L >= 1
    hidden_size : H (input width H too)
    input_variance : per-unit variance of the input x
    carry_bias : the highway gate's bias b_T
    """
    check_choice("connection", connection, CONNECTIONS)
    L = check_int("layers", layers, minimum=1)
    b_t = check_real("carry_bias", carry_bias)
    vx = check_real("input_variance", input_variance, minimum=0.0)
    # Forward: each layer's input variance (summed over blocks) and moments.
    outputs: list[float] = []            # variance of y^l
    moments: list[LayerMoments] = []
    gates: list[tuple[float, float, float, float]] = []   # E[T^2], E[(1-T)^2], E[s'^2], V_u
    for layer in range(L):
        if layer == 0:
            vu = vx
        elif connection == "dense":
            vu = vx + sum(outputs)
        else:
            vu = outputs[-1]
        m = layer_moments(cell, vu, hidden_size)
        moments.append(m)
        if layer == 0 or connection in ("none", "dense"):
            vy = m.h2
            gates.append((np.nan, np.nan, np.nan, vu))
        elif connection == "residual":
            vy = m.h2 + vu
            gates.append((np.nan, np.nan, np.nan, vu))
        else:
            qt = SIGMA_W2 * vu

            def shifted(f, a):
                return f(a + b_t)

            t1 = _e(lambda a: special.expit(a + b_t), qt)
            t2 = _e(lambda a: shifted(_sig2, a), qt)
            one_t2 = 1.0 - 2.0 * t1 + t2
            gates.append((t2, one_t2, _e(lambda a: shifted(_dsig2, a), qt), vu))
            vy = t2 * m.h2 + one_t2 * vu
        outputs.append(vy)
    # Backward: the adjoint totals, top = 1.
    adjoint = [0.0] * L
    adjoint[L - 1] = 1.0
    for layer in range(L - 1, 0, -1):
        e, m = adjoint[layer], moments[layer]
        if connection == "dense":
            for j in range(layer):
                adjoint[j] += m.through * e
            continue
        if connection == "none":
            passed = m.through * e
        elif connection == "residual":
            passed = (1.0 + m.through) * e
        else:
            t2, one_t2, ds2, vu = gates[layer]
            passed = e * (one_t2 + m.through * t2 + SIGMA_W2 * (m.h2 + vu) * ds2)
        adjoint[layer - 1] += passed
    ratio = float(np.sqrt(adjoint[0]))
    carry = (float(np.mean([1.0 - _carry_mean(g) for g in gates[1:]]))
             if connection == "highway" and L > 1 else float("nan"))
    return StackPrediction(ratio, ratio ** (1.0 / (L - 1)) if L > 1 else 1.0,
                           tuple(adjoint), carry)


def _carry_mean(g: tuple[float, float, float, float]) -> float:
    """``E[T]`` from ``E[T^2]`` and ``E[(1-T)^2]``: ``1 - 2E[T] + E[T^2] = E[(1-T)^2]``."""
    t2, one_t2 = g[0], g[1]
    return (1.0 + t2 - one_t2) / 2.0
