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

Successive steps are not independent, though. A gated cell's diagonal linear
path (the LSTM's ``c_{t-1} = f c_t``-style carry of ``dL/dc``, the GRU's
``z h``) passes each step's adjoint on in the same direction, scaled by the
gate's mean, so the adjoint a layer sends down is correlated across time, and
the next layer's carry path sums such a sequence coherently. The module
therefore tracks each adjoint's power spectrum over frequency ``omega``: a gate
``x = m + x~`` splits into its mean ``m``, which filters coherently by
``1 / |1 - m e^{i omega}|^2``, and its fluctuation, which adds a flat (white)
spectrum; a random weight matrix multiplies a spectrum by ``sigma_w^2`` and
keeps its shape. ``coherent=False`` drops the means (the white-noise sums
above). A plain tanh RNN has no diagonal path: both versions agree for it.

The gradient of the first layer's input weights is ``sum_t da_t x_t^T`` with
the inputs independent over time, so its squared norm is proportional to the
total power of layer 0's pre-activation adjoints; the ratio of
``||dL/dW_ih^0||`` at ``L`` layers to one layer is the square root of that
power, driven by the spectrum reaching layer 0, over the same with a single
impulse at the last step (a flat spectrum: the one-layer readout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from gradflow._validate import check_choice, check_int, check_real
from gradflow.conventions import CELLS, CONNECTIONS

__all__ = ["CELLS", "CONNECTIONS", "LayerMoments", "StackPrediction", "layer_moments",
           "stack_prediction"]

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


_OMEGA = 2.0 * np.pi * np.arange(256) / 256


def _dtanh(a: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(a) ** 2


def _filter(mean: float) -> np.ndarray:
    """``|1 - m e^{i omega}|^2``: the denominator of a coherent path ``x_t = m x_{t+1} + ...``."""
    return np.abs(1.0 - mean * np.exp(1j * _OMEGA)) ** 2


def _layer_spectrum(cell: str, v: float, hidden_size: int, s_e: np.ndarray,
                    coherent: bool) -> tuple[np.ndarray, float]:
    """One layer driven by an output adjoint of power spectrum ``s_e`` (mean = total):
    the spectrum passed to each input block of width H, and the total power of the
    pre-activation adjoints (what the layer's input-weight gradient is made of).

    Gate values are split into mean and fluctuation: the mean of a diagonal linear
    path (the LSTM's f on the cell state, the GRU's z on h) filters the adjoint
    coherently, ``1 / |1 - m e^{i omega}|^2``; fluctuations and every path through a
    random weight matrix add incoherently (a flat spectrum, or the same shape times
    ``sigma_w^2``). ``coherent=False`` drops the means: successive steps' adjoints
    then add as if independent, the white-noise version of the module docstring.
    """
    m = layer_moments(cell, v, hidden_size)
    H = hidden_size
    bv, s2 = 1.0 / (3.0 * H), SIGMA_W2
    q, h2 = m.q, m.h2
    k = 1.0 if coherent else 0.0
    sig1, sig2, ds2 = _e(special.expit, q), _e(_sig2, q), _e(_dsig2, q)
    s_h = s_e.copy()
    if cell == "rnn":
        d1, d2 = k * _e(_dtanh, q), _e(_dtanh2, q)
        for _ in range(2000):
            p_h = float(s_h.mean())
            s_da = d1 * d1 * s_h + (d2 - d1 * d1) * p_h
            new = s_e + s2 * s_da
            if np.max(np.abs(new - s_h)) < 1e-14 * max(1.0, float(new.max())):
                break
            s_h = new
    elif cell == "lstm":
        c2 = sig2 * _e(_tanh2, q) / (1.0 - sig2)
        f1 = k * sig1
        a1, a2 = k * sig1 * _e(_dtanh, c2), sig2 * _e(_dtanh2, c2)
        b1, b2 = k * sig1 * _e(_dtanh, q), sig2 * _e(_dtanh2, q)
        phi = _filter(f1)
        v_f = sig2 - f1 * f1
        for _ in range(2000):
            p_h = float(s_h.mean())
            x = a1 * a1 * s_h + (a2 - a1 * a1) * p_h
            p_c = float(np.mean(x / phi)) / (1.0 - v_f * float(np.mean(1.0 / phi)))
            s_c = (x + v_f * p_c) / phi
            s_da = (b1 * b1 * s_c + (b2 - b1 * b1) * p_c
                    + (_e(_tanh2, q) + c2) * ds2 * p_c + _e(_tanh2, c2) * ds2 * p_h)
            new = s_e + s2 * s_da
            if np.max(np.abs(new - s_h)) < 1e-14 * max(1.0, float(new.max())):
                break
            s_h = new
    else:
        M = s2 * h2 + bv
        qn = s2 * v + bv + sig2 * M
        z1 = k * sig1
        one_z1, one_z2 = 1.0 - sig1, 1.0 - 2.0 * sig1 + sig2
        n1 = k * one_z1 * _e(_dtanh, qn)
        n2 = one_z2 * _e(_dtanh2, qn)
        r1 = k * sig1
        phi = _filter(z1)
        v_z = sig2 - z1 * z1
        for _ in range(2000):
            p_h = float(s_h.mean())
            s_an = n1 * n1 * s_h + (n2 - n1 * n1) * p_h
            p_an = float(s_an.mean())
            s_az = (h2 + _e(_tanh2, qn)) * ds2 * p_h
            s_ar = M * ds2 * p_an
            s_rn = r1 * r1 * s_an + (sig2 - r1 * r1) * p_an
            new = (s_e + s2 * (s_az + s_ar + s_rn) + v_z * p_h) / phi
            if np.max(np.abs(new - s_h)) < 1e-14 * max(1.0, float(new.max())):
                break
            s_h = new
        p_h = float(s_h.mean())
        s_an = n1 * n1 * s_h + (n2 - n1 * n1) * p_h
        s_da = s_an + (h2 + _e(_tanh2, qn)) * ds2 * p_h + M * ds2 * float(s_an.mean())
    return s2 * s_da, float(s_da.mean())


@dataclass(frozen=True)
class StackPrediction:
    """Mean-field prediction for a stack (:func:`stack_prediction`).

    Attributes
    ----------
    ratio : ``||dL/dW_ih^0||`` at ``layers`` over that at one layer
    per_layer : ``ratio ** (1 / (layers - 1))`` (1.0 for one layer)
    adjoint : total power of the adjoint reaching each layer's output, top = 1
    carry : mean highway carry ``E[1 - T]`` over layers >= 1 (nan otherwise)
    """

    ratio: float
    per_layer: float
    adjoint: tuple[float, ...]
    carry: float


def stack_prediction(cell: str, connection: str, layers: int, *, hidden_size: int = 32,
                     input_variance: float = 1.0, carry_bias: float = -2.0,
                     coherent: bool = True) -> StackPrediction:
    """Predicted gradient at the bottom of a ``layers``-deep stack relative to one layer.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    connection : "none", "residual", "dense" or "highway" (from layer 1 up)
    layers : L >= 1
    hidden_size : H (input width H too)
    input_variance : per-unit variance of the input x
    carry_bias : the highway gate's bias b_T
    coherent : keep the gates' mean paths coherent across time (see
        ``_layer_spectrum``); False: successive steps add as if independent
    """
    check_choice("connection", connection, CONNECTIONS)
    L = check_int("layers", layers, minimum=1)
    b_t = check_real("carry_bias", carry_bias)
    vx = check_real("input_variance", input_variance, minimum=0.0)
    H = check_int("hidden_size", hidden_size, minimum=1)
    k = 1.0 if coherent else 0.0
    inputs: list[float] = []              # V_u of each layer
    outputs: list[float] = []             # variance of y^l
    gates: list[tuple[float, float, float]] = []   # E[T], E[T^2], E[s'(a_T)^2]
    for layer in range(L):
        vu = vx if layer == 0 else (vx + sum(outputs) if connection == "dense"
                                    else outputs[-1])
        h2 = layer_moments(cell, vu, H).h2
        inputs.append(vu)
        if layer > 0 and connection == "highway":
            qt = SIGMA_W2 * vu
            t1 = _e(lambda a: special.expit(a + b_t), qt)
            t2 = _e(lambda a: special.expit(a + b_t) ** 2, qt)
            gates.append((t1, t2, _e(lambda a: _dsig2(a + b_t), qt)))
            outputs.append(t2 * h2 + (1.0 - 2.0 * t1 + t2) * vu)
        else:
            gates.append((np.nan, np.nan, np.nan))
            outputs.append(h2 + vu if layer > 0 and connection == "residual" else h2)
    flat = np.ones_like(_OMEGA)
    spectra = [np.zeros_like(_OMEGA) for _ in range(L)]
    spectra[L - 1] = flat.copy()
    for layer in range(L - 1, 0, -1):
        s_e, vu = spectra[layer], inputs[layer]
        if connection == "highway":
            t1, t2, ds2 = gates[layer]
            p_e = float(s_e.mean())
            tm, cm = k * t1, k * (1.0 - t1)
            s_in = tm * tm * s_e + (t2 - tm * tm) * p_e
            s_u, _ = _layer_spectrum(cell, vu, H, s_in, coherent)
            h2 = layer_moments(cell, vu, H).h2
            carry = cm * cm * s_e + ((1.0 - 2.0 * t1 + t2) - cm * cm) * p_e
            spectra[layer - 1] += carry + s_u + SIGMA_W2 * (h2 + vu) * ds2 * p_e
            continue
        s_u, _ = _layer_spectrum(cell, vu, H, s_e, coherent)
        if connection == "dense":
            for j in range(layer):
                spectra[j] += s_u
        elif connection == "residual":
            spectra[layer - 1] += s_e + s_u
        else:
            spectra[layer - 1] += s_u
    _, bottom = _layer_spectrum(cell, inputs[0], H, spectra[0], coherent)
    _, single = _layer_spectrum(cell, inputs[0], H, flat, coherent)
    ratio = float(np.sqrt(bottom / single))
    carry_mean = (float(np.mean([1.0 - g[0] for g in gates[1:]]))
                  if connection == "highway" and L > 1 else float("nan"))
    return StackPrediction(ratio, ratio ** (1.0 / (L - 1)) if L > 1 else 1.0,
                           tuple(float(sp.mean()) for sp in spectra), carry_mean)
