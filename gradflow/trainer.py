"""Training as a state and a step, and a short loop that takes recorders.

A training run is three things kept apart:

- :class:`TrainState`: everything that changes from step to step (the
  parameters, the optimizer's state, the number of updates attempted and how
  many were skipped or clipped). Immutable: a step returns a new one.
- :class:`TrainStep`: the fixed rules of a step (network, task, optimizer,
  clipping, non-finite policy, frozen entries). ``step(state, batch)`` is pure:
  it returns ``(new_state, metrics)`` and changes nothing else. The metrics
  carry the loss, the gradient norms before and after clipping, and the
  gradients themselves (before clipping), so a recorder can read them.
- :func:`fit`: the loop. Batches come from :func:`batches` (the seed's data
  stream, the same one ``gradflow.train`` draws); every recorder sees each
  step (``observe``: the state *before* the update, the batch, the metrics)
  and may end the run (``stop``: checked before each step and after the last).

``gradflow.train`` is these pieces with the usual recorders; a caller who
needs something ``train`` does not record (the batch of step k, the state at
some step) passes a recorder to :func:`fit` instead of replaying a random
stream. :mod:`gradflow.recorders` has the recorders ``train`` uses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple, Protocol, get_args

import numpy as np
from tqdm import tqdm

from gradflow._validate import NonFiniteError, as_generator, check_choice, check_int, check_real
from gradflow.conventions import Split
from gradflow.engine.heads import Readout, loss_backward, loss_forward, split_params
from gradflow.optim import clip_by_global_norm, clip_by_value, global_norm

__all__ = ["CLIP_MODES", "NONFINITE_POLICIES", "Recorder", "StepMetrics", "TrainState",
           "TrainStep", "batches", "fit", "loss_and_gradients"]

Batch = tuple[np.ndarray, Any]
#: How ``clip`` is applied: Algorithm 1 (joint norm) or elementwise.
ClipMode = Literal["norm", "value"]
CLIP_MODES: tuple[str, ...] = get_args(ClipMode)
#: What to do with a non-finite loss or gradient norm.
NonFinitePolicy = Literal["raise", "skip"]
NONFINITE_POLICIES: tuple[str, ...] = get_args(NonFinitePolicy)


@dataclass(frozen=True)
class TrainState:
    """What changes during training.

    Attributes
    ----------
    params : dict of ndarray, the network's (PyTorch names) and the head's (``head.*``)
    opt_state : the optimizer's state (``optimizer.init(params)`` at the start)
    step : updates attempted so far (skipped ones included): the index of the next step
    n_skipped : updates skipped as non-finite
    n_clipped : updates whose gradient clipping changed
    """

    params: dict[str, np.ndarray]
    opt_state: Any
    step: int = 0
    n_skipped: int = 0
    n_clipped: int = 0


class StepMetrics(NamedTuple):
    """What one step measured (before its update).

    Attributes
    ----------
    step : the step's index (``state.step`` before it)
    loss : the batch loss before the update
    grad_norm : the joint gradient norm (network and head) before clipping
    grad_norm_clipped : the joint norm of the gradient applied
    clipped : clipping changed the gradient
    skipped : the update was skipped as non-finite
    grads : dict of ndarray, dL/dparam before clipping (frozen entries zeroed)
    network : the network's ``Grads`` (``.state_adjoints``, ``.inputs``, ...)
    """

    step: int
    loss: float
    grad_norm: float
    grad_norm_clipped: float
    clipped: bool
    skipped: bool
    grads: dict[str, np.ndarray]
    network: Any


def loss_and_gradients(net: Any, head: Readout, task: Any, params: Mapping[str, np.ndarray],
                       x: np.ndarray, y: Any, check_finite: bool
                       ) -> tuple[float, dict[str, np.ndarray], Any]:
    """Loss, gradients of every parameter, and the network's ``Grads`` for one batch.

    ``x`` is (T, B, I); ``y`` the task's targets. With ``check_finite=False``
    overflow comes back as inf/NaN values instead of an error.
    """
    net_params, head_params = split_params(params)
    trace = net.forward(net_params, x, check_finite=check_finite)
    htrace = head.forward(head_params, trace.outputs)
    loss = loss_forward(task.loss, htrace.predictions, y)
    d_outputs, head_grads = head.backward(head_params, htrace,
                                          loss_backward(task.loss, htrace.predictions, y))
    g = net.backward(net_params, trace, d_outputs, check_finite=check_finite)
    grads = {**g.params, **head_grads}
    return loss, {k: grads[k] for k in params}, g


@dataclass(frozen=True, eq=False)
class TrainStep:
    """The rules of one training step; ``step(state, batch) -> (state, metrics)`` is pure.

    Attributes
    ----------
    net : gradflow.Network
    task : the task (its loss and head)
    optimizer : an optimizer of :mod:`gradflow.optim`
    clip : threshold (> 0) or None
    clip_mode : ``"norm"`` (Algorithm 1, the joint norm) or ``"value"`` (elementwise)
    nonfinite : ``"raise"`` (NonFiniteError naming the step) or ``"skip"`` (the update
        is not applied; parameters and optimizer state stay as they were)
    frozen : parameter name -> boolean mask of entries held at their values
    """

    net: Any
    task: Any
    optimizer: Any
    clip: float | None = None
    clip_mode: ClipMode = "norm"
    nonfinite: NonFinitePolicy = "raise"
    frozen: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("clip_mode", self.clip_mode, CLIP_MODES)
        check_choice("nonfinite", self.nonfinite, NONFINITE_POLICIES)
        if self.clip is not None:
            check_real("clip", self.clip, minimum=0.0, strict_min=True)

    @property
    def head(self) -> Readout:
        return Readout.for_task(self.net, self.task)

    def __call__(self, state: TrainState, batch: Batch) -> tuple[TrainState, StepMetrics]:
        x, y = batch
        step, current = state.step, state.params
        # Overflow is detected below, by value; let NumPy compute inf/NaN silently.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            loss, grads, g = loss_and_gradients(self.net, self.head, self.task, current, x, y,
                                                check_finite=False)
            for name, mask in self.frozen.items():
                grads[name] = np.where(mask, 0, grads[name]).astype(grads[name].dtype)
            norm = global_norm(grads)
        finite = bool(np.isfinite(loss) and np.isfinite(norm))
        if not finite and self.nonfinite == "raise":
            what = "loss" if not np.isfinite(loss) else "gradient norm"
            raise NonFiniteError(
                f"non-finite {what} at step {step} (loss={loss}, grad_norm={norm}): "
                f"training diverged; lower lr, clip the gradient (clip=...), or pass "
                f"nonfinite='skip' to skip such updates")
        clipped, after, params, opt_state = False, norm, current, state.opt_state
        if finite:
            applied, clipped, after = self._clip(grads, norm)
            with np.errstate(over="ignore", invalid="ignore"):
                new_params, new_opt = self.optimizer.update(applied, state.opt_state, current)
                for name, mask in self.frozen.items():
                    new_params[name] = np.where(mask, current[name], new_params[name])
            if all(np.isfinite(v).all() for v in new_params.values()):
                params, opt_state = new_params, new_opt
            elif self.nonfinite == "raise":
                raise NonFiniteError(
                    f"the update at step {step} made parameters non-finite (grad_norm={norm}): "
                    f"lower lr, clip the gradient (clip=...), or pass nonfinite='skip' to "
                    f"skip such updates")
            else:
                finite = False
        if not finite:
            clipped = False
        metrics = StepMetrics(step, loss, norm, after, bool(clipped), not finite, grads, g)
        return replace(state, params=params, opt_state=opt_state, step=step + 1,
                       n_skipped=state.n_skipped + (not finite),
                       n_clipped=state.n_clipped + bool(clipped)), metrics

    def _clip(self, grads: dict[str, np.ndarray], norm: float
              ) -> tuple[dict[str, np.ndarray], bool, float]:
        """The gradient to apply, whether clipping changed it, and its norm."""
        if self.clip is None:
            return grads, False, norm
        if self.clip_mode == "norm":
            applied, _ = clip_by_global_norm(grads, self.clip)
            return applied, bool(norm >= self.clip), global_norm(applied)
        clipped = any(bool(np.any(np.abs(v) > self.clip)) for v in grads.values())
        applied = clip_by_value(grads, self.clip)
        return applied, clipped, global_norm(applied)


def batches(task: Any, stream: Any, batch_size: int, split: Split = "train"
            ) -> Iterator[Batch]:
    """The batches of a run, in order: ``task.sample(rng, batch_size, split)`` forever,
    from ``stream`` (a seed, SeedSequence or Generator; ``train`` uses the seed's data
    stream, :func:`gradflow.training.seed_streams`). Each batch is ``(x, y)`` with
    ``x`` of shape (T, B, I)."""
    rng = as_generator(stream)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    while True:
        yield task.sample(rng, batch_size, split)


class Recorder(Protocol):
    """What :func:`fit` calls. Both methods are optional in spirit: return False /
    do nothing when there is nothing to do."""

    def stop(self, state: TrainState) -> bool:
        """Before each step (``state.step`` updates done) and after the last: end now?"""
        ...

    def observe(self, before: TrainState, batch: Batch, metrics: StepMetrics) -> None:
        """After each step: the state before its update, its batch, what it measured."""
        ...


def fit(step: TrainStep, state: TrainState, data: Iterator[Batch], steps: int,
        recorders: Sequence[Recorder] = (), *, progress: bool | None = None,
        desc: str = "train") -> tuple[TrainState, int | None]:
    """Run ``step`` for up to ``steps`` steps on ``data``; returns the final state and
    the number of updates at which a recorder stopped the run (None: it ran out).

    A recorder's ``stop`` is asked before each step after the first, and once after
    the last step (so a check every k steps also covers the end).
    """
    steps = check_int("steps", steps, minimum=1)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(range(steps), disable=not show, desc=desc, leave=False, dynamic_ncols=True)
    stopped: int | None = None
    try:
        for _ in bar:
            if state.step > 0 and _any_stop(recorders, state):
                stopped = state.step
                break
            batch = next(data)
            new, metrics = step(state, batch)
            for recorder in recorders:
                recorder.observe(state, batch, metrics)
            bar.set_postfix(loss=f"{metrics.loss:.4g}", refresh=False)
            state = new
        else:
            if _any_stop(recorders, state):
                stopped = state.step
    finally:
        bar.close()
    return state, stopped


def _any_stop(recorders: Sequence[Recorder], state: TrainState) -> bool:
    # Every recorder is asked (each may record its check), not only up to the first yes.
    answers = [recorder.stop(state) for recorder in recorders]
    return any(answers)
