"""Optimizers and gradient clipping, functional and explicit.

An optimizer is a frozen dataclass of hyperparameters. Its state is explicit
and immutable::

    opt = Adam(lr=1e-3)
    state = opt.init(params)
    params, state = opt.update(grads, state, params)

``params`` and ``grads`` are ``dict[str, ndarray]`` with the same names;
``update`` returns new dicts (each parameter keeps its dtype) and never
writes into its arguments. The update
rules are PyTorch's (``torch.optim.SGD``, ``RMSprop``, ``Adam`` with their
defaults otherwise), so a run can be checked against torch step for step.

Clipping
--------
:func:`clip_by_global_norm` is Algorithm 1 of Pascanu, Mikolov & Bengio
(2013): with ``||g||`` the norm over all parameters jointly, if
``||g|| >= threshold`` then ``g <- threshold * g / ||g||``. It keeps the
direction and caps the norm at exactly ``threshold``. :func:`clip_by_value`
clips each element to ``[-threshold, threshold]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from gradflow._validate import UsageError, UsageTypeError, check_choice, check_real, describe
from gradflow.norms import vector_norm

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamState",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "clip_by_global_norm",
    "clip_by_value",
    "global_norm",
    "make_optimizer",
]

Params = dict[str, np.ndarray]

#: Optimizer names accepted by :func:`make_optimizer` and ``gradflow.train``.
OPTIMIZERS: tuple[str, ...] = ("sgd", "rmsprop", "adam")


def _check_grads(grads: Any, params: Mapping[str, np.ndarray] | None = None) -> None:
    if not isinstance(grads, Mapping):
        raise UsageTypeError(f"grads must be a dict of arrays; got {describe(grads)}")
    if params is not None and set(grads) != set(params):
        missing = sorted(set(params) - set(grads))
        extra = sorted(set(grads) - set(params))
        raise UsageError(f"grads must have the same names as params; missing {missing}, "
                         f"extra {extra}")


def _same_dtype(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    # A float32 network stays float32 whatever the gradients' dtype.
    return new.astype(np.asarray(old).dtype, copy=False)


def _zeros_like(params: Mapping[str, np.ndarray]) -> Params:
    return {k: np.zeros_like(v) for k, v in params.items()}


# ---- clipping ---------------------------------------------------------------------


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """The Euclidean norm over all arrays jointly, ``sqrt(sum_k ||g_k||^2)``.

    Computed as :func:`gradflow.norms.vector_norm` of every entry at once (in
    float64; no overflow for entries near 1e200): the same number, to the bit,
    as the norm of the concatenated gradient vector. NaN if any element is NaN,
    inf if any is infinite (and none is NaN). One concatenation instead of one
    norm per array: a train step's many small arrays cost 23 us, not 116 us.
    """
    _check_grads(grads)
    flat = np.concatenate([np.ravel(g) for g in grads.values()], dtype=np.float64)
    return float(vector_norm(flat, axis=None)) if flat.size else 0.0


def clip_by_global_norm(grads: Mapping[str, np.ndarray], threshold: float
                        ) -> tuple[Params, float]:
    """Rescale ``grads`` so their joint norm is at most ``threshold`` (Algorithm 1).

    Parameters
    ----------
    grads : dict of ndarray
    threshold : float
        Positive, finite.

    Returns
    -------
    clipped : dict of ndarray
        ``threshold * g / ||g||`` if ``||g|| >= threshold``, else ``g`` (the
        same arrays, not copies). Left unchanged when the norm is not finite:
        the caller's non-finite policy decides (see ``gradflow.train``).
    norm : float
        ``||g||`` before clipping.
    """
    threshold = check_real("clip threshold", threshold, minimum=0.0, strict_min=True)
    norm = global_norm(grads)
    if not np.isfinite(norm) or norm < threshold:
        return dict(grads), norm
    scale = threshold / norm
    return {k: np.asarray(g) * np.asarray(scale, dtype=np.asarray(g).dtype)
            for k, g in grads.items()}, norm


def clip_by_value(grads: Mapping[str, np.ndarray], threshold: float) -> Params:
    """Clip every element to ``[-threshold, threshold]`` (threshold positive, finite)."""
    threshold = check_real("clip threshold", threshold, minimum=0.0, strict_min=True)
    _check_grads(grads)
    return {k: np.clip(g, -threshold, threshold) for k, g in grads.items()}


# ---- optimizers -------------------------------------------------------------------


class SGDState(NamedTuple):
    """``step`` count and the momentum buffers (empty without momentum)."""

    step: int
    momentum: Params


class RMSpropState(NamedTuple):
    """``step`` count and the running mean of squared gradients."""

    step: int
    square_avg: Params


class AdamState(NamedTuple):
    """``step`` count and the first and second moment estimates."""

    step: int
    m: Params
    v: Params


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum, as ``torch.optim.SGD``.

    ``b <- momentum * b + g`` (``b = g`` at the first step), ``p <- p - lr * b``;
    with ``momentum=0``, ``p <- p - lr * g``.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    momentum : float
        In ``[0, 1)``.
    """

    lr: float = 1e-2
    momentum: float = 0.0

    def __post_init__(self) -> None:
        check_real("lr", self.lr, minimum=0.0, strict_min=True)
        check_real("momentum", self.momentum, minimum=0.0)
        if not self.momentum < 1.0:
            raise UsageError(f"momentum must be < 1; got {self.momentum}")

    def init(self, params: Mapping[str, np.ndarray]) -> SGDState:
        """Zero state for ``params``."""
        return SGDState(0, _zeros_like(params) if self.momentum else {})

    def update(self, grads: Mapping[str, np.ndarray], state: SGDState,
               params: Mapping[str, np.ndarray]) -> tuple[Params, SGDState]:
        """One step: new parameters and new state (inputs untouched)."""
        _check_grads(grads, params)
        if not self.momentum:
            return {k: _same_dtype(p - self.lr * grads[k], p) for k, p in params.items()}, \
                SGDState(state.step + 1, {})
        first = state.step == 0
        buf = {k: grads[k].copy() if first else self.momentum * state.momentum[k] + grads[k]
               for k in params}
        return {k: _same_dtype(p - self.lr * buf[k], p) for k, p in params.items()}, \
            SGDState(state.step + 1, buf)


@dataclass(frozen=True)
class RMSprop:
    """RMSprop, as ``torch.optim.RMSprop``.

    ``v <- alpha v + (1 - alpha) g^2``, ``p <- p - lr g / (sqrt(v) + eps)``.

    Parameters
    ----------
    lr : float
        > 0.
    alpha : float
        Smoothing constant in ``[0, 1)``.
    eps : float
        > 0, added to the denominator.
    """

    lr: float = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_real("lr", self.lr, minimum=0.0, strict_min=True)
        check_real("alpha", self.alpha, minimum=0.0)
        if not self.alpha < 1.0:
            raise UsageError(f"alpha must be < 1; got {self.alpha}")
        check_real("eps", self.eps, minimum=0.0, strict_min=True)

    def init(self, params: Mapping[str, np.ndarray]) -> RMSpropState:
        """Zero state for ``params``."""
        return RMSpropState(0, _zeros_like(params))

    def update(self, grads: Mapping[str, np.ndarray], state: RMSpropState,
               params: Mapping[str, np.ndarray]) -> tuple[Params, RMSpropState]:
        """One step: new parameters and new state (inputs untouched)."""
        _check_grads(grads, params)
        a = self.alpha
        v = {k: a * state.square_avg[k] + (1.0 - a) * grads[k] * grads[k] for k in params}
        new = {k: _same_dtype(p - self.lr * grads[k] / (np.sqrt(v[k]) + self.eps), p)
               for k, p in params.items()}
        return new, RMSpropState(state.step + 1, v)


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam``.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``p <- p - lr m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^t)``,
    ``v_hat = v / (1 - b2^t)`` at step ``t = 1, 2, ...``.

    Parameters
    ----------
    lr : float
        > 0.
    beta1, beta2 : float
        In ``[0, 1)``.
    eps : float
        > 0.
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_real("lr", self.lr, minimum=0.0, strict_min=True)
        for name in ("beta1", "beta2"):
            value = check_real(name, getattr(self, name), minimum=0.0)
            if not value < 1.0:
                raise UsageError(f"{name} must be < 1; got {value}")
        check_real("eps", self.eps, minimum=0.0, strict_min=True)

    def init(self, params: Mapping[str, np.ndarray]) -> AdamState:
        """Zero state for ``params``."""
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    def update(self, grads: Mapping[str, np.ndarray], state: AdamState,
               params: Mapping[str, np.ndarray]) -> tuple[Params, AdamState]:
        """One step: new parameters and new state (inputs untouched)."""
        _check_grads(grads, params)
        t = state.step + 1
        b1, b2 = self.beta1, self.beta2
        m = {k: b1 * state.m[k] + (1.0 - b1) * grads[k] for k in params}
        v = {k: b2 * state.v[k] + (1.0 - b2) * grads[k] * grads[k] for k in params}
        # PyTorch's arrangement: lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
        step_size = self.lr / (1.0 - b1 ** t)
        root_bc2 = float(np.sqrt(1.0 - b2 ** t))
        new = {k: _same_dtype(p - step_size * m[k] / (np.sqrt(v[k]) / root_bc2 + self.eps), p)
               for k, p in params.items()}
        return new, AdamState(t, m, v)


Optimizer = SGD | RMSprop | Adam


def make_optimizer(optimizer: Any = "adam", lr: float | None = None,
                   **options: Any) -> Optimizer:
    """An optimizer from its name (``"sgd"``, ``"rmsprop"``, ``"adam"``) or as given.

    ``lr`` defaults to 1e-3; ``options`` are the optimizer's other
    hyperparameters (``momentum``, ``alpha``, ``beta1``, ...). An optimizer
    instance is returned unchanged, and then ``lr`` and ``options`` must not
    be given (they would be silently ignored otherwise).
    """
    if isinstance(optimizer, SGD | RMSprop | Adam):
        if lr is not None or options:
            raise UsageError(f"lr and optimizer options go into the optimizer instance; got "
                             f"{type(optimizer).__name__} together with lr={lr!r} and "
                             f"options {sorted(options)}")
        return optimizer
    if not isinstance(optimizer, str):
        raise UsageTypeError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))} or an "
                             f"optimizer instance; got {describe(optimizer)}")
    check_choice("optimizer", optimizer, OPTIMIZERS)
    cls = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}[optimizer]
    allowed = sorted(f.name for f in fields(cls) if f.name != "lr")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UsageError(f"optimizer options for {optimizer!r} must be among "
                         f"{', '.join(allowed)}; got {', '.join(unknown)}")
    return cls(lr=1e-3 if lr is None else lr, **options)
