"""Matrix-free step Jacobians: ``J[t] @ V`` and ``J[t]^T @ U`` from a forward trace.

``Network.step_jacobians`` forms ``J`` as a ``(T, B, S, S)`` array: 16 GiB per
sample for an LSTM with H = 1024 over 1000 steps in float32. A
:class:`JacobianOperator` never forms it: each product is computed from the
trace's gate values and ``W_hh`` by the cell's ``step_matvec`` /
``step_rmatvec`` (written beside its ``step_jacobians``), in O(B S H K) time
and O(B S K) memory per step for ``K`` vectors. The diagnostics
(:func:`gradflow.diagnostics.lyapunov_spectrum`,
:func:`gradflow.diagnostics.product_norms`) take an operator wherever they
take a dense ``J``, and give the same numbers to round-off.

Time indexing is the network's: for a reverse direction ``J[t] = ds_t /
ds_{t+1}`` in original time, as ``step_jacobians`` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradflow._validate import UsageError, describe
from gradflow.engine.cell import CellParams

__all__ = ["JacobianOperator"]


@dataclass(frozen=True, eq=False)
class JacobianOperator:
    """The step Jacobians of one layer and direction, as products only.

    Built by :meth:`gradflow.Network.jacobian_operator`.

    Attributes
    ----------
    cell : the layer's cell (``RNNCell``, ``LSTMCell`` or ``GRUCell``)
    params : the layer's and direction's weights
    trace : the cell's trace from ``forward``
    reverse : True for the reverse direction of a bidirectional layer
    """

    cell: Any
    params: CellParams
    trace: Any
    reverse: bool = False

    @property
    def steps(self) -> int:
        """T, the number of step Jacobians."""
        return int(self.trace.h.shape[0] - 1)

    @property
    def batch(self) -> int:
        """B, the number of samples."""
        return int(self.trace.h.shape[1])

    @property
    def state_size(self) -> int:
        """S: H for the RNN and GRU, 2H for the LSTM (``[h; c]``)."""
        return int(self.cell.state_size)

    @property
    def dtype(self) -> np.dtype:
        """The trace's dtype: products are computed in it."""
        return self.trace.h.dtype

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(T, B, S, S)``: the shape the dense ``J`` would have."""
        return (self.steps, self.batch, self.state_size, self.state_size)

    def __len__(self) -> int:
        return self.steps

    # The two checks below run once per product, T times per Lyapunov spectrum: they
    # test the common case (a Python int, a float ndarray) first.
    def _step(self, t: Any) -> int:
        T = self.trace.h.shape[0] - 1
        if type(t) is not int and (isinstance(t, bool) or not isinstance(t, np.integer)):
            raise UsageError(f"t must be an integer step in 0..{T - 1}; got {describe(t)}")
        if not 0 <= t < T:
            raise UsageError(f"t must be an integer step in 0..{T - 1}; got {describe(t)}")
        return T - 1 - int(t) if self.reverse else int(t)

    def _check(self, name: str, V: Any) -> np.ndarray:
        V = np.asarray(V)
        if V.ndim != 3 or V.shape[:2] != (self.trace.h.shape[1], self.cell.state_size) or \
                V.dtype.kind != "f":
            raise UsageError(f"{name} must be a float array of shape (B, S, K) = ({self.batch}, "
                             f"{self.state_size}, K); got {describe(V)}")
        return V

    def matvec(self, t: int, V: Any) -> np.ndarray:
        """``J[t] @ V``.

        Parameters
        ----------
        t : step, 0 .. T-1 (original time)
        V : (B, S, K) array

        Returns
        -------
        (B, S, K) array
        """
        t_cell = self._step(t)
        return self.cell.step_matvec(self.params, self.trace, t_cell, self._check("V", V))

    def rmatvec(self, t: int, U: Any) -> np.ndarray:
        """``J[t]^T @ U``.

        Parameters
        ----------
        t : step, 0 .. T-1 (original time)
        U : (B, S, K) array

        Returns
        -------
        (B, S, K) array
        """
        t_cell = self._step(t)
        return self.cell.step_rmatvec(self.params, self.trace, t_cell, self._check("U", U))

    def in_processing_order(self) -> JacobianOperator:
        """The same Jacobians indexed in the order the direction runs: for a reverse
        direction, step ``t`` of the result is ``J[T-1-t]`` (so a Lyapunov spectrum follows
        its dynamics forward in its own time); a forward direction is returned as is."""
        return self if not self.reverse else replace(self, reverse=False)

    def dense(self, t: int) -> np.ndarray:
        """``J[t]`` formed from ``S`` products (for checks and small models).

        Returns
        -------
        (B, S, S) array
        """
        eye = np.broadcast_to(np.eye(self.state_size, dtype=self.dtype),
                              (self.batch, self.state_size, self.state_size))
        return self.matvec(t, eye)
