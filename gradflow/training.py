"""The training loop: a network, a head, a task, an optimizer, a seed.

``train`` draws everything from one integer seed, split into independent
streams (network init, head init, data: :func:`seed_streams`), so the same
seed gives the same loss curve bit for bit; ``History.initial_params`` keeps
the parameters it started from. Each step samples a batch, runs forward and backward
through network and head, measures the global gradient norm, clips if asked,
and updates. What it records goes into :class:`History`:

- ``frame``: one row per recorded step, columns ``step`` (0-based update
  index), ``loss`` (the batch loss before that update), ``grad_norm`` (the
  joint norm over network and head before clipping), ``grad_norm_clipped``
  (after clipping), ``clipped`` (clipping changed the gradient) and
  ``skipped`` (the update was skipped as non-finite).
- ``diagnostics``: a dict of tidy long DataFrames, one per diagnostic asked
  for, each keyed by ``step``:

  ``"batch_adjoint_norms"``: columns ``step, layer, direction, t, norm``: the
  norm ``||dL/dS_t||`` of the batch loss's adjoint of the whole batch's state
  ``S_t`` (all ``B`` sequences' ``s_t`` together; ``s = h``, ``[h; c]`` for
  the LSTM), from ``grads.state_adjoints`` (``t`` in original time for both
  directions). It is :func:`gradflow.diagnostics.adjoint_norms` of the batch
  seen as one sequence: that function's per-sequence norms
  ``||dL/ds_t^(b)||`` are a different number, hence the different name
  (before, both were called ``"adjoint_norms"``).
  ``"param_norms"``: columns ``step, param, norm, grad_norm``: per
  parameter, its norm and its gradient's norm (before clipping).
  ``"dynamics"``: columns ``step, layer, direction, quantity, value, low,
  high``: the network's spectral picture every ``dynamics_every`` steps (and
  at the last), measured on a fixed probe batch (``History.probe``, drawn
  from its own stream of the seed) by :func:`gradflow.dynamics.measure_dynamics`:
  ``sigma_max_{g}`` and ``rho_{g}`` of each gate's block of ``W_hh``, the
  fitted ``decay_rate`` of ``||dL/ds_t||`` with its 95% interval, the largest
  Lyapunov exponent ``lambda_max``, and for gated cells ``gate_mean_{g}`` and
  the forget / update gate's ``timescale_{g}``. A row at step ``k`` describes
  the parameters after ``k`` updates (before update ``k``), like ``loss``.
  Cost per record: one forward, a backward per direction and ``T``
  matrix-free Jacobian products on the probe (rows are plain tuples, no
  DataFrame). Measured (CPU time of the records against the rest of the
  run; adding problem, batch 32, one BLAS thread, a record every 50 steps,
  on a shared 2-core machine): with H = 16, T = 25 and a probe of 32,
  1.2 / 2.3 / 2.5 ms a record, adding 7.7% / 8.2% / 8.7% for the RNN / GRU /
  LSTM (total run CPU with against without recording: +9.4% / +9.7% /
  +9.9%); with H = 32, T = 100 and a probe of 16, 2.5 / 5.9 / 7.1 ms, adding
  5.0% / 4.1% / 4.5%. Every 100 steps halves it.

Early stopping and frozen parameters
------------------------------------
``stop_when`` (a callable ``(predictions, y) -> bool``) is evaluated every
``stop_every`` updates, and after the last, on one fixed held-out batch of
``stop_size`` sequences (``task.sample(..., "test")`` from the seed's fifth
stream, :attr:`SeedStreams.held_out`), on the parameters after that many
updates. Training ends at the first check it passes: ``History.stopped_at`` is
that number of updates (``None``: it never passed, the run is censored at
``steps``), and ``History.checks`` has one row per check: ``step`` (updates
so far), ``loss`` (the task's loss on the held-out batch) and ``passed``.
A stopped run's ``frame`` holds the recorded steps before ``stopped_at`` (its
last row is the last multiple of ``record_every`` below it, not step
``stopped_at - 1`` unless that is one).

``freeze`` maps parameter names to boolean masks (or ``True`` for the whole
array): masked entries keep their starting values. Their gradient is set to
zero before the norm is measured and clipping applied (so ``grad_norm`` is
the trainable parameters'), and the update writes them back unchanged.

Non-finite gradients
--------------------
A NaN or infinite loss or gradient norm is never applied, and neither is an
update that would make a parameter non-finite. ``nonfinite="raise"`` (the
default) stops with :class:`gradflow.NonFiniteError` naming the step;
``"skip"`` skips that update (parameters and optimizer state stay as they
were), records the row with ``skipped=True`` and counts it in
``History.n_skipped``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from gradflow._validate import (
    UsageError,
    UsageTypeError,
    as_generator,
    check_choice,
    check_int,
    check_real,
    describe,
)
from gradflow.conventions import Split
from gradflow.engine.heads import Readout, accuracy, loss_forward, split_params
from gradflow.engine.network import Network
from gradflow.optim import make_optimizer
from gradflow.recorders import RecordDiagnostics, RecordDynamics, RecordLoss, StopWhen
from gradflow.tasks import Task
from gradflow.trainer import (
    CLIP_MODES,
    NONFINITE_POLICIES,
    Batch,
    ClipMode,
    NonFinitePolicy,
    TrainState,
    TrainStep,
    batches,
    fit,
    loss_and_gradients,
)

__all__ = ["CLIP_MODES", "DIAGNOSTICS", "NONFINITE_POLICIES", "History", "LossGradients",
           "SeedStreams", "evaluate", "initial_params", "loss_gradients", "predict",
           "seed_streams", "train"]

#: Diagnostics ``train`` can record (see the module docstring).
DIAGNOSTICS: tuple[str, ...] = ("batch_adjoint_norms", "param_norms", "dynamics")

_FRAME_COLUMNS = ("step", "loss", "grad_norm", "grad_norm_clipped", "clipped", "skipped")
_DIAG_COLUMNS = {"batch_adjoint_norms": ("step", "layer", "direction", "t", "norm"),
                 "param_norms": ("step", "param", "norm", "grad_norm"),
                 "dynamics": ("step", "layer", "direction", "quantity", "value", "low", "high")}


@dataclass(frozen=True)
class History:
    """What a training run recorded.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per recorded step (see the module docstring for columns).
    params : dict of ndarray
        Final parameters: the network's (PyTorch names) and the head's
        (``head.weight``, ``head.bias``).
    diagnostics : dict of str -> pandas.DataFrame
        Tidy long tables, one per diagnostic asked for.
    n_skipped : int
        Updates skipped as non-finite (all steps, recorded or not).
    n_clipped : int
        Updates whose gradient was clipped (all steps).
    initial_params : dict of ndarray
        The parameters training started from (given, or drawn from the seed's
        network and head streams), named as ``params``.
    probe : ndarray (T, B, I) or None
        The fixed probe batch the ``"dynamics"`` diagnostic was measured on.
    stopped_at : int or None
        Updates applied when ``stop_when`` first passed (training stopped
        there); None when it never passed (or was not given).
    checks : pandas.DataFrame
        The ``stop_when`` checks: columns ``step, loss, passed`` (empty
        without ``stop_when``).
    """

    frame: pd.DataFrame
    params: dict[str, np.ndarray]
    diagnostics: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_skipped: int = 0
    n_clipped: int = 0
    initial_params: dict[str, np.ndarray] = field(default_factory=dict)
    probe: np.ndarray | None = None
    stopped_at: int | None = None
    checks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"step": pd.Series(dtype="int64"), "loss": pd.Series(dtype="float64"),
         "passed": pd.Series(dtype="bool")}))


class SeedStreams(NamedTuple):
    """The independent streams ``train`` draws from one seed."""

    network: np.random.SeedSequence
    head: np.random.SeedSequence
    data: np.random.SeedSequence
    probe: np.random.SeedSequence
    held_out: np.random.SeedSequence


def seed_streams(seed: int) -> SeedStreams:
    """``train``'s split of ``seed``: network init, head init, data, probe and held-out streams.

    ``np.random.default_rng(seed_streams(s).data)`` gives the batches of
    ``train(..., seed=s)`` in order. (The probe stream came fourth: spawning a
    child more leaves the first three, and so every earlier run, unchanged; the
    held-out batch of ``stop_when`` came fifth, for the same reason.)
    """
    seed = check_int("seed", seed, minimum=0)
    network, head, data, probe, held_out = np.random.SeedSequence(seed).spawn(5)
    return SeedStreams(network, head, data, probe, held_out)


def _check_freeze(freeze: Any, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``freeze`` as name -> boolean mask of the parameter's shape (only non-empty masks)."""
    if freeze is None:
        return {}
    if not isinstance(freeze, Mapping):
        raise UsageTypeError(f"freeze must be a dict of parameter name -> boolean mask (or True); "
                             f"got {describe(freeze)}")
    masks = {}
    for name, mask in freeze.items():
        if name not in params:
            raise UsageError(f"freeze names {name!r}, which is not a parameter (parameters: "
                             f"{', '.join(sorted(params))})")
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise UsageTypeError(f"freeze[{name!r}] must be a boolean mask or True/False; got "
                                 f"{describe(mask)}")
        m = np.broadcast_to(m, params[name].shape) if m.ndim == 0 else m
        if m.shape != params[name].shape:
            raise UsageError(f"freeze[{name!r}] must have shape {params[name].shape}; got "
                             f"{m.shape}")
        if m.any():
            masks[name] = np.array(m)
    return masks


def _check_net_and_task(net: Any, task: Any) -> None:
    if not isinstance(net, Network):
        raise UsageTypeError(f"net must be a gradflow.Network; got {describe(net)}")
    if isinstance(task, type) or not isinstance(task, Task):
        raise UsageTypeError(f"task must be a task instance from gradflow.tasks (e.g. "
                             f"AddingProblem(length=50)); got {describe(task)}")


def _check_mapping(name: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageTypeError(f"{name} must be a dict of keyword arguments or None; "
                             f"got {describe(value)}")
    return dict(value)


class LossGradients(NamedTuple):
    """A batch's loss and its gradients through head and network.

    Attributes
    ----------
    loss : float, the batch loss (the task's loss on the head's predictions)
    params : dict, dL/dparam for every parameter (network and ``head.*``)
    network : gradflow.engine.Grads of the network: ``.inputs`` (T, B, I),
        ``.state_adjoints``, ``.initial_state``
    """

    loss: float
    params: dict
    network: Any


def loss_gradients(net: Network, params: Mapping[str, np.ndarray], task: Any,
                   x: np.ndarray, y: np.ndarray, *, check_finite: bool = True
                   ) -> LossGradients:
    """Loss and gradients of one batch, for the head ``task`` asks for on ``net``.

    What a training step computes, for analyses that want the gradients
    themselves (e.g. ``||dL/dx_t||`` at a cue position).

    Parameters
    ----------
    net : gradflow.Network
    params : dict of network and head parameters (as ``History.params``)
    task : a task from ``gradflow.tasks``
    x : (T, B, I) array, inputs from ``task.sample``
    y : the targets from ``task.sample``
    check_finite : raise NonFiniteError on overflow (False: let inf/NaN through)

    Returns
    -------
    LossGradients
    """
    _check_net_and_task(net, task)
    return _loss_gradients(net, params, task, x, y, check_finite)


def _loss_gradients(net: Network, params: Mapping[str, np.ndarray], task: Any, x: np.ndarray,
                    y: np.ndarray, check_finite: bool) -> LossGradients:
    """``loss_gradients`` for a net and task checked once by the caller."""
    loss, grads, g = loss_and_gradients(net, Readout.for_task(net, task), task, params, x, y,
                                        check_finite)
    return LossGradients(loss, grads, g)


def _initial_params(net: Any, head: Readout, params: Mapping[str, np.ndarray] | None,
                    init: Mapping[str, Any] | None, net_seed: np.random.SeedSequence,
                    head_seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Given parameters where there are some, fresh ones from the seeds otherwise."""
    if params is not None and not isinstance(params, Mapping):
        raise UsageTypeError(f"params must be a dict of arrays or None; got {describe(params)}")
    net_given, head_given = split_params(params or {})
    if net_given and init:
        raise UsageError("init options apply only to fresh parameters; got both params and "
                         f"init={dict(init)!r}")
    out = net.check_params(net_given if net_given else net.init(net_seed, **dict(init or {})))
    if head_given:
        for name, shape in head.param_shapes().items():
            if name not in head_given or np.shape(head_given[name]) != shape:
                raise UsageError(f"params[{name!r}] must have shape {shape}; got "
                                 f"{describe(head_given.get(name))}")
        out.update({k: np.array(head_given[k], dtype=net.dtype) for k in head.param_shapes()})
    else:
        out.update(head.init(head_seed, dtype=net.dtype))
    return out


class _Counts(NamedTuple):
    """``train``'s integer arguments, checked."""

    steps: int
    batch_size: int
    seed: int
    record_every: int
    dynamics_every: int
    probe_size: int
    stop_every: int
    stop_size: int


def _check_counts(**counts: Any) -> _Counts:
    """``train``'s integer arguments, checked (the seed >= 0, every other >= 1) in the
    order given."""
    return _Counts(**{name: check_int(name, value, minimum=0 if name == "seed" else 1)
                      for name, value in counts.items()})


def _check_options(stop_when: Any, clip_mode: str, nonfinite: str,
                   clip: float | None, diagnostics: Any, progress: Any, init: Any
                   ) -> tuple[tuple[str, ...], dict]:
    """``train``'s other arguments, checked: the diagnostics as a tuple, init as a dict."""
    if stop_when is not None and not callable(stop_when):
        raise UsageTypeError(f"stop_when must be a callable (predictions, y) -> bool or None; got "
                             f"{describe(stop_when)}")
    check_choice("clip_mode", clip_mode, CLIP_MODES)
    check_choice("nonfinite", nonfinite, NONFINITE_POLICIES)
    if clip is not None:
        check_real("clip", clip, minimum=0.0, strict_min=True)
    if isinstance(diagnostics, str):
        diagnostics = (diagnostics,)
    if diagnostics is None or not isinstance(diagnostics, Iterable):
        raise UsageTypeError(f"diagnostics must be a list of names among "
                             f"{', '.join(map(repr, DIAGNOSTICS))}; got {describe(diagnostics)}")
    diagnostics = tuple(check_choice("diagnostics", d, DIAGNOSTICS) for d in diagnostics)
    if progress is not None and not isinstance(progress, bool):
        raise UsageTypeError(f"progress must be True, False or None (auto); "
                             f"got {describe(progress)}")
    init = _check_mapping("init", init)
    unknown = sorted(set(init) - {"scheme", "gain", "forget_bias", "carry_bias"})
    if unknown:
        raise UsageError(f"init options must be among scheme, gain, forget_bias, carry_bias; "
                         f"got {', '.join(map(str, unknown))}")
    return diagnostics, init


def initial_params(net: Any, task: Any, seed: int = 0,
                   init: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """The parameters ``train(net, task, ..., seed=seed, init=init)`` starts from: the
    network's from the seed's network stream, the head's from its head stream
    (``History.initial_params`` of that run, without running it)."""
    _check_net_and_task(net, task)
    streams = seed_streams(check_int("seed", seed, minimum=0))
    return _initial_params(net, Readout.for_task(net, task), None, _check_mapping("init", init),
                           streams.network, streams.head)


def train(net: Any, task: Any, steps: int, batch_size: int, optimizer: Any = "adam",
          lr: float | None = None, clip: float | None = None, seed: int = 0,
          record_every: int = 1, *, clip_mode: ClipMode = "norm",
          nonfinite: NonFinitePolicy = "raise",
          diagnostics: Iterable[str] = (), params: Mapping[str, np.ndarray] | None = None,
          init: Mapping[str, Any] | None = None,
          optimizer_options: Mapping[str, Any] | None = None,
          progress: bool | None = None, dynamics_every: int = 50,
          probe_size: int = 16,
          stop_when: Callable[[np.ndarray, Any], bool] | None = None, stop_every: int = 50,
          stop_size: int = 256,
          freeze: Mapping[str, Any] | None = None) -> History:
    """Train ``net`` with the head ``task`` asks for on batches from ``task``.

    Parameters
    ----------
    net : gradflow.Network
        Its ``input_size`` must be ``task.input_size``.
    task : a task from ``gradflow.tasks``
    steps : int
        Number of updates (>= 1).
    batch_size : int
        ``B`` >= 1.
    optimizer : {"sgd", "rmsprop", "adam"} or an optimizer instance
    lr : float, optional
        Learning rate for a named optimizer (default 1e-3).
    clip : float, optional
        Clipping threshold (> 0), or None for no clipping.
    seed : int
        Seeds network init, head init and data, as independent streams
        (:func:`seed_streams`).
    record_every : int
        Record steps ``0, k, 2k, ...`` and the last one.
    clip_mode : {"norm", "value"}
        Algorithm 1 on the joint norm, or elementwise clipping.
    nonfinite : {"raise", "skip"}
        Policy for a non-finite loss or gradient norm.
    diagnostics : iterable of {"batch_adjoint_norms", "param_norms", "dynamics"}
    params : dict, optional
        Starting parameters: all of the network's, and optionally the head's
        (``head.weight``, ``head.bias``; drawn from the seed when absent).
    init : dict, optional
        Keyword arguments for ``net.init`` (``scheme``, ``gain``,
        ``forget_bias``, ...).
    optimizer_options : dict, optional
        Other hyperparameters of a named optimizer (``momentum``, ...).
    progress : bool, optional
        Show a tqdm bar; None (default) shows it only when stderr is a terminal.
    dynamics_every : int
        Steps between ``"dynamics"`` records (and the last step).
    probe_size : int
        Sequences in the fixed probe batch of ``"dynamics"``.
    stop_when : callable, optional
        ``stop_when(predictions, y) -> bool`` on the held-out batch (head
        predictions as :func:`predict` gives them, and the batch's targets):
        stop at the first check that passes (see the module docstring).
    stop_every : int
        Updates between ``stop_when`` checks (also checked after the last).
    stop_size : int
        Sequences in the fixed held-out batch of ``stop_when``.
    freeze : dict, optional
        Parameter name -> boolean mask (or ``True``): entries held at their
        starting values.

    Returns
    -------
    History
    """
    _check_net_and_task(net, task)
    n = _check_counts(steps=steps, batch_size=batch_size, seed=seed, record_every=record_every,
                      dynamics_every=dynamics_every, probe_size=probe_size,
                      stop_every=stop_every, stop_size=stop_size)
    diagnostics, init = _check_options(stop_when, clip_mode, nonfinite, clip,
                                       diagnostics, progress, init)
    step, current, streams = _start(net, task, optimizer, lr, optimizer_options, params, init,
                                    freeze, n.seed, clip, clip_mode, nonfinite)
    recorders, probe = _recorders(net, task, streams, n, diagnostics, stop_when)
    return _fit(step, current, batches(task, streams.data, n.batch_size), n.steps, recorders,
                probe, diagnostics, progress)


def _start(net: Any, task: Any, optimizer: Any, lr: float | None,
           optimizer_options: Mapping[str, Any] | None,
           params: Mapping[str, np.ndarray] | None, init: dict, freeze: Mapping[str, Any] | None,
           seed: int, clip: float | None, clip_mode: ClipMode, nonfinite: NonFinitePolicy
           ) -> tuple[TrainStep, dict[str, np.ndarray], SeedStreams]:
    """``train``'s step (optimizer, clipping, frozen entries), its starting parameters
    (given, or drawn from the seed's network and head streams) and the seed's streams."""
    opt = make_optimizer(optimizer, lr, **_check_mapping("optimizer_options",
                                                         optimizer_options))
    streams = seed_streams(seed)
    current = _initial_params(net, Readout.for_task(net, task), params, init, streams.network,
                              streams.head)
    step = TrainStep(net, task, opt, clip, clip_mode, nonfinite, _check_freeze(freeze, current))
    return step, current, streams


def _fit(step: TrainStep, current: dict[str, np.ndarray], data: Iterator[Batch], steps: int,
         recorders: dict[str, Any], probe: np.ndarray | None, diagnostics: tuple[str, ...],
         progress: bool | None) -> History:
    """Run ``step`` from ``current`` (with a fresh optimizer state) on ``data`` for up to
    ``steps`` updates with the recorders; the run's :class:`History`."""
    final, stopped_at = fit(step, TrainState(current, step.optimizer.init(current)),
                            data, steps, list(recorders.values()), progress=progress,
                            desc=f"train {type(step.task).__name__}")
    return _history(final, current, probe, stopped_at, recorders, diagnostics)


def _recorders(net: Any, task: Any, streams: SeedStreams, n: _Counts,
               diagnostics: tuple[str, ...], stop_when: Callable | None
               ) -> tuple[dict[str, Any], np.ndarray | None]:
    """``train``'s recorders by role, and the probe batch of ``"dynamics"`` (or None)."""
    recorders: dict[str, Any] = {}
    if stop_when is not None:   # the held-out batch first, then the probe, as before
        held = task.sample(as_generator(streams.held_out), n.stop_size, "test")
        recorders["stop"] = StopWhen(net, task, held, stop_when, n.stop_every, n.steps)
    probe = (task.sample(as_generator(streams.probe), n.probe_size, "train")[0]
             if "dynamics" in diagnostics else None)
    recorders["loss"] = RecordLoss(n.record_every, n.steps)
    recorders["diagnostics"] = RecordDiagnostics(
        tuple(d for d in diagnostics if d != "dynamics"), n.record_every, n.steps)
    if probe is not None:
        recorders["dynamics"] = RecordDynamics(net, probe, n.dynamics_every, n.steps, n.seed)
    return recorders, probe


def _history(final: TrainState, initial: dict[str, np.ndarray], probe: np.ndarray | None,
             stopped_at: int | None, recorders: dict[str, Any],
             diagnostics: tuple[str, ...]) -> History:
    """The recorders' rows as ``train``'s History."""
    frame = pd.DataFrame(recorders["loss"].rows, columns=list(_FRAME_COLUMNS))
    frame = frame.astype({"step": "int64", "loss": "float64", "grad_norm": "float64",
                          "grad_norm_clipped": "float64", "clipped": "bool", "skipped": "bool"})
    rows = {**recorders["diagnostics"].rows}
    if "dynamics" in recorders:
        rows["dynamics"] = recorders["dynamics"].rows
    diag = {d: pd.DataFrame(rows[d], columns=list(_DIAG_COLUMNS[d])) for d in diagnostics}
    checks = recorders["stop"].checks if "stop" in recorders else []
    checks_frame = pd.DataFrame(checks, columns=["step", "loss", "passed"]).astype(
        {"step": "int64", "loss": "float64", "passed": "bool"})
    return History(frame, final.params, diag, final.n_skipped, int(final.n_clipped),
                   dict(initial), probe, stopped_at, checks_frame)


def evaluate(net: Any, params: Mapping[str, np.ndarray], task: Any, n: int = 1000,
             seed: int = 0, *, batch_size: int = 1000, split: Split = "test") -> dict[str, float]:
    """Loss (and accuracy) of trained ``params`` on ``n`` fresh examples.

    Parameters
    ----------
    net : gradflow.Network
    params : dict
        Network and head parameters, as ``History.params``.
    task : a task from ``gradflow.tasks``
    n : int
        Number of sequences (>= 1), drawn from ``seed`` in chunks of
        ``batch_size`` (the same ``n``, ``seed`` and ``batch_size`` give
        the same sequences).
    seed : int
    batch_size : int
        Sequences per forward pass.
    split : {"train", "test"}
        Which data to draw (only ``Agreement`` tells them apart).

    Returns
    -------
    dict
        ``loss`` (mean over all sequences, as the training loss), ``n``,
        and ``accuracy`` for classification tasks (``"xent"``; over every
        scored position: for the copy task, every step, where always
        predicting the blank already scores ``1 - n_copy / (T + 2 n_copy)``),
        and for the copy task ``recall_accuracy``: over the recall steps
        only (chance ``1 / n_symbols``).
    """
    _check_net_and_task(net, task)
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not isinstance(params, Mapping):
        raise UsageTypeError(f"params must be a dict of arrays; got {describe(params)}")
    Readout.for_task(net, task)  # the network must fit the task before anything is drawn
    rng = as_generator(seed)
    total_loss = total_acc = total_recall = 0.0
    recall = getattr(task, "copy_steps", None)  # the copy task's scored recall steps
    done = 0
    while done < n:
        b = min(batch_size, n - done)
        x, y = task.sample(rng, b, split)
        pred = predict(net, params, task, x)
        total_loss += b * loss_forward(task.loss, pred, y)
        if task.loss == "xent":
            total_acc += b * accuracy(pred, y)
        if recall is not None:
            total_recall += b * accuracy(pred[recall], y[recall])
        done += b
    result = {"loss": total_loss / n, "n": n}
    if task.loss == "xent":
        result["accuracy"] = total_acc / n
    if recall is not None:
        result["recall_accuracy"] = total_recall / n
    return result


def predict(net: Network, params: Mapping[str, np.ndarray], task: Task, x: Any, *,
            check_finite: bool = True) -> np.ndarray:
    """The head's predictions on inputs ``x``, as ``evaluate`` scores them.

    Parameters
    ----------
    net : gradflow.Network
    params : dict
        Network and head parameters, as ``History.params``.
    task : a task from ``gradflow.tasks`` (it says which head)
    x : (T, B, I) array, inputs from ``task.sample``
    check_finite : raise NonFiniteError on overflow (False: let inf/NaN through)

    Returns
    -------
    ndarray: ``(B, O)`` for a ``"final"`` head, ``(T, B, O)`` for ``"every_step"``
    (real values for ``"mse"``, logits for ``"xent"``)
    """
    _check_net_and_task(net, task)
    if not isinstance(params, Mapping):
        raise UsageTypeError(f"params must be a dict of arrays; got {describe(params)}")
    head = Readout.for_task(net, task)
    net_params, head_params = split_params(params)
    trace = net.forward(net_params, x, check_finite=check_finite)
    return head.forward(head_params, trace.outputs).predictions
