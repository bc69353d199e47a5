"""Recorders for :func:`gradflow.trainer.fit`: what ``gradflow.train`` records, and more.

Each recorder is a small object with ``stop(state) -> bool`` (asked before
each step and after the last) and ``observe(before, batch, metrics)`` (after
each step, with the state before its update). They are independent: a
caller composes the ones it needs.

- :class:`RecordLoss`: the frame's rows (loss, gradient norms, clipped, skipped)
  every ``every`` steps and at the last;
- :class:`RecordDiagnostics`: ``"batch_adjoint_norms"`` and ``"param_norms"``
  on the same steps;
- :class:`RecordDynamics`: the network's spectral picture on a fixed probe
  (:func:`gradflow.dynamics.measure_dynamics`);
- :class:`StopWhen`: early stopping on a fixed held-out batch;
- :class:`CaptureSteps`: the state, batch and metrics of chosen steps (the
  batch of step k, asked for rather than replayed from a random stream).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradflow.diagnostics.adjoints import adjoint_norms
from gradflow.engine.heads import loss_forward, split_params
from gradflow.norms import vector_norm
from gradflow.trainer import Batch, StepMetrics, TrainState

__all__ = ["CaptureSteps", "Captured", "RecordDiagnostics", "RecordDynamics", "RecordLoss",
           "StopWhen"]


def _on(step: int, every: int, last: int) -> bool:
    return step % every == 0 or step == last - 1


class _Recorder:
    """Defaults: never stops, observes nothing."""

    def stop(self, state: TrainState) -> bool:
        return False

    def observe(self, before: TrainState, batch: Batch, metrics: StepMetrics) -> None:
        return None


@dataclass
class RecordLoss(_Recorder):
    """Rows ``(step, loss, grad_norm, grad_norm_clipped, clipped, skipped)`` of steps
    ``0, every, 2 every, ...`` and ``steps - 1``."""

    every: int
    steps: int
    rows: list[tuple] = field(default_factory=list)

    def observe(self, before: TrainState, batch: Batch, metrics: StepMetrics) -> None:
        if _on(metrics.step, self.every, self.steps):
            self.rows.append((metrics.step, metrics.loss, metrics.grad_norm,
                              metrics.grad_norm_clipped, metrics.clipped, metrics.skipped))


@dataclass
class RecordDiagnostics(_Recorder):
    """``"batch_adjoint_norms"`` rows ``(step, layer, direction, t, norm)`` and
    ``"param_norms"`` rows ``(step, param, norm, grad_norm)`` on RecordLoss's steps,
    from the parameters and gradients before each update."""

    names: tuple[str, ...]
    every: int
    steps: int
    rows: dict[str, list[tuple]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = {name: [] for name in self.names}

    def observe(self, before: TrainState, batch: Batch, metrics: StepMetrics) -> None:
        if not _on(metrics.step, self.every, self.steps):
            return
        with np.errstate(over="ignore", invalid="ignore"):
            if "batch_adjoint_norms" in self.rows:
                for (layer, direction), adj in sorted(metrics.network.state_adjoints.items()):
                    T = adj.shape[0]
                    # The batch as one sequence of state B*S: (T, 1, B*S) -> (T, 1)
                    norms = adjoint_norms(
                        np.asarray(adj, dtype=np.float64).reshape(T, 1, -1))[:, 0]
                    self.rows["batch_adjoint_norms"].extend(
                        (metrics.step, layer, direction, t, float(v))
                        for t, v in enumerate(norms))
            if "param_norms" in self.rows:
                self.rows["param_norms"].extend(
                    (metrics.step, k, float(vector_norm(v, axis=None)),
                     float(vector_norm(metrics.grads[k], axis=None)))
                    for k, v in before.params.items())


@dataclass
class RecordDynamics(_Recorder):
    """The network's spectral picture on ``probe`` (T, B, I) every ``every`` steps and
    at the last: rows ``(step, layer, direction, quantity, value, low, high)``."""

    net: Any
    probe: np.ndarray
    every: int
    steps: int
    seed: int
    rows: list[tuple] = field(default_factory=list)

    def observe(self, before: TrainState, batch: Batch, metrics: StepMetrics) -> None:
        if not _on(metrics.step, self.every, self.steps):
            return
        from gradflow.dynamics import measure_dynamics

        network_params, _ = split_params(before.params)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            dynamics = measure_dynamics(self.net, network_params, self.probe, seed=self.seed)
        # Plain tuples, not the numbers frame: a 4-row DataFrame and its itertuples cost
        # ~0.7 ms, a third of a small network's record.
        self.rows.extend((metrics.step, *row) for row in dynamics.records("numbers"))


@dataclass
class StopWhen(_Recorder):
    """Stop at the first check that passes: ``passed(predictions, y)`` on the fixed
    held-out batch ``held = (x, y)``, every ``every`` updates and after ``last``.
    ``checks`` gets one ``(updates, held-out loss, passed)`` per check."""

    net: Any
    task: Any
    held: Batch
    passed: Callable[[np.ndarray, Any], bool]
    every: int
    last: int
    checks: list[tuple] = field(default_factory=list)

    def stop(self, state: TrainState) -> bool:
        if not (state.step % self.every == 0 or state.step == self.last):
            return False
        from gradflow.training import predict

        x, y = self.held
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            pred = predict(self.net, state.params, self.task, x, check_finite=False)
            held_loss = float(loss_forward(self.task.loss, pred, y))
            passed = bool(np.isfinite(pred).all()) and bool(self.passed(pred, y))
        self.checks.append((state.step, held_loss, passed))
        return passed


@dataclass(frozen=True)
class Captured:
    """One captured step: the state before its update, its batch ``(x, y)`` with ``x``
    of shape (T, B, I), and what it measured."""

    before: TrainState
    batch: Batch
    metrics: StepMetrics


@dataclass
class CaptureSteps(_Recorder):
    """Keep the state, batch and metrics of the steps in ``steps`` (``captured[k]``)."""

    steps: Iterable[int]
    captured: dict[int, Captured] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.steps = frozenset(int(s) for s in self.steps)

    def observe(self, before: TrainState, batch: Batch, metrics: StepMetrics) -> None:
        if metrics.step in self.steps:   # type: ignore[operator]
            self.captured[metrics.step] = Captured(before, batch, metrics)
