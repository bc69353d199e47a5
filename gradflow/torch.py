"""gradflow inside a PyTorch training loop: :class:`DynamicsRecorder`.

torch is an optional extra: it is imported here only, when a recorder is made,
never by ``import gradflow``.

::

    recorder = DynamicsRecorder(model, probe, every=100)
    for step in range(steps):
        ...                                   # the user's own forward, backward, update
        recorder.step(step)
    recorder.record(steps - 1)                # the last step, as train() records it
    recorder.frame                            # step, layer, direction, quantity, value, ...

Each record reads the recurrent module's current weights (as float64 NumPy
arrays; the module is not touched) and calls
:func:`gradflow.dynamics.measure_dynamics` on the fixed ``probe``, the function
``gradflow.train(..., diagnostics=["dynamics"])`` calls, so the frame has the
same columns and, on equal weights, probe and seed, the same numbers.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from gradflow._validate import UsageError, UsageTypeError, check_int, describe
from gradflow.conventions import CellKind

__all__ = ["DynamicsRecorder"]

_COLUMNS = ("step", "layer", "direction", "quantity", "value", "low", "high")


def _recurrent(module: Any) -> tuple[str, Any]:
    """The one ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` in ``module``: (prefix, submodule)."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise UsageTypeError(f"module must be a torch.nn.Module; got {describe(module)}")
    found = [(name, m) for name, m in module.named_modules()
             if isinstance(m, torch.nn.RNN | torch.nn.LSTM | torch.nn.GRU)]
    if len(found) != 1:
        names = ", ".join(repr(n or "(the module itself)") for n, _ in found) or "none"
        raise UsageError(f"module must hold exactly one nn.RNN, nn.LSTM or nn.GRU; it holds "
                         f"{len(found)} ({names})")
    name, rnn = found[0]
    if getattr(rnn, "proj_size", 0):
        raise UsageError(f"module {name!r} is an LSTM with proj_size = {rnn.proj_size}: "
                         f"gradflow's engine has no projected LSTM")
    if not rnn.bias:
        raise UsageError(f"module {name!r} has bias=False: gradflow's cells always have "
                         f"biases")
    return (name + "." if name else ""), rnn


class DynamicsRecorder:
    """Record gradflow's dynamics frame from inside any PyTorch training loop.

    Parameters
    ----------
    module : a ``torch.nn.Module`` holding exactly one ``nn.RNN`` / ``nn.LSTM`` /
        ``nn.GRU`` (itself, or a submodule); its nonlinearity and layout are read
        off the module
    probe : (T, B, I) array or tensor of inputs to the recurrent module (``(B, T, I)``
        if it is ``batch_first``), ``T >= 2``; fixed for the whole run
    every : record at steps that are multiples of ``every``
    seed : of the random readouts and the Lyapunov frame (``train``'s ``seed``)
    exponents : Lyapunov exponents per layer and direction

    Notes
    -----
    A record costs one forward and one backward pass of the probe per direction,
    an SVD per gate block and the matrix-free Lyapunov exponents, in float64 on
    the CPU, plus copying the weights out of torch: ``measure_dynamics``'s cost.
    """

    def __init__(self, module: Any, probe: Any, *, every: int = 50, seed: int = 0,
                 exponents: int = 1) -> None:
        from gradflow.engine import Network

        self._prefix, self._rnn = _recurrent(module)
        self.every = check_int("every", every, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.exponents = check_int("exponents", exponents, minimum=1)
        rnn = self._rnn
        x = probe.detach().cpu().double().numpy() if hasattr(probe, "detach") else \
            np.asarray(probe, dtype=np.float64)
        if x.ndim != 3:
            raise UsageError(f"probe must have shape (T, B, I) (or (B, T, I) for a "
                             f"batch_first module); got {describe(x)}")
        x = np.ascontiguousarray(x.transpose(1, 0, 2)) if rnn.batch_first else x
        if x.shape[2] != rnn.input_size or x.shape[0] < 2:
            raise UsageError(f"probe must have T >= 2 steps of input size {rnn.input_size}; "
                             f"got {describe(x)} (time-major)")
        kind = cast(CellKind, type(rnn).__name__.lower())
        options = {"nonlinearity": rnn.nonlinearity} if kind == "rnn" else {}
        self.network = Network(kind, rnn.input_size, rnn.hidden_size,
                               num_layers=rnn.num_layers, bidirectional=rnn.bidirectional,
                               **options)
        self.probe = x
        self._rows: list[tuple] = []

    def params(self) -> dict[str, np.ndarray]:
        """The recurrent module's current weights under gradflow's names, float64."""
        from gradflow._analyze.data import tensor_to_numpy

        return {name: tensor_to_numpy(value).astype(np.float64)
                for name, value in self._rnn.state_dict().items()}

    def step(self, step: int) -> bool:
        """Record if ``step`` is a multiple of ``every``; returns whether it recorded."""
        step = check_int("step", step, minimum=0)
        if step % self.every:
            return False
        self.record(step)
        return True

    def record(self, step: int) -> None:
        """Record now, as step ``step`` (a repeated step is recorded once)."""
        from gradflow.dynamics import measure_dynamics

        step = check_int("step", step, minimum=0)
        if self._rows and self._rows[-1][0] == step:
            return
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            dynamics = measure_dynamics(self.network, self.params(), self.probe,
                                        exponents=self.exponents, seed=self.seed)
        self._rows.extend((step, *row) for row in dynamics.records("numbers"))

    @property
    def frame(self) -> pd.DataFrame:
        """``step, layer, direction, quantity, value, low, high``: one row per recorded step
        and number, as ``train(..., diagnostics=["dynamics"])`` gives it."""
        return pd.DataFrame(self._rows, columns=list(_COLUMNS))
