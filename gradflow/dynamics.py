"""The spectral picture of a network at one set of parameters, on a probe batch.

:func:`measure_dynamics` computes, for every layer and direction, what
gradflow's diagnostics say about how gradients flow through it:

- ``sigma_max`` and ``rho`` (largest singular value, spectral radius) of each
  gate's block of ``W_hh`` (``W_hh`` itself for the RNN), and all its
  singular values;
- the gradient norm back in time ``||dL/ds_t||`` for a loss on a random
  readout of the top layer's last state (its first, for a reverse direction),
  and its fitted decay rate with a 95% interval (:func:`fit_decay`);
- the top Lyapunov exponents of the state dynamics on the probe inputs,
  matrix-free (``Network.jacobian_operator``);
- for LSTM and GRU, the mean of each gate and the per-unit timescales
  ``-1 / ln(mean gate)`` that the forget (LSTM) or update (GRU) gate implies.

``gradflow analyze`` reports them for a checkpoint; ``gradflow.train(...,
record=...)`` tracks them through training. Both call this one function, so
a recorded value is the same number as the one computed after the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gradflow._validate import UsageError, as_generator, check_choice, check_int
from gradflow.conventions import cell_spec
from gradflow.diagnostics import (
    adjoint_norms,
    adjoint_profile,
    fit_decay,
    lyapunov_spectrum,
    singular_values,
    spectral_radius,
)

__all__ = ["QUANTITIES", "Dynamics", "describe_quantity", "measure_dynamics"]

#: What :func:`measure_dynamics` reports (``{g}`` is a gate letter), and its meaning.
QUANTITIES = {
    "sigma_max_{g}": "largest singular value of W_h{g}",
    "rho_{g}": "spectral radius of W_h{g}",
    "decay_rate": "decay rate of ||dL/ds_t|| per step (nats; < 0 grows)",
    "lambda_max": "largest Lyapunov exponent (nats/step)",
    "gate_mean_{g}": "mean {g} gate",
    "timescale_{g}": "median per-unit timescale -1/ln(mean {g}) (steps)",
}


_COLUMNS = {"numbers": ("layer", "direction", "quantity", "value", "low", "high"),
            "spectra": ("layer", "direction", "gate", "index", "singular_value"),
            "profiles": ("layer", "direction", "distance", "log10_ratio"),
            "lyapunov": ("layer", "direction", "index", "exponent"),
            "gates": ("layer", "direction", "gate", "unit", "mean")}
_TEXT = frozenset({"direction", "quantity", "gate"})
_INTEGER = frozenset({"layer", "index", "distance", "unit"})


@dataclass(frozen=True, eq=False)
class _Unit:
    """What :func:`measure_dynamics` measured for one layer and direction, as arrays: the
    frames' rows are made from them only when a frame is asked for."""

    layer: int
    direction: str
    blocks: str                           # gate letters of W_hh's row blocks
    singular_values: np.ndarray           # (G, H), descending per block
    distance: np.ndarray                  # (T,)
    profile: np.ndarray                   # (T, B), ||dL/ds_t|| / ||dL/ds_T|| by distance
    exponents: np.ndarray                 # (B, k)
    gate_means: dict[str, np.ndarray]     # gate letter -> (H,) per-unit mean
    numbers: tuple[list[str], list[float], list[float], list[float]]  # quantity, value, low, high


Piece = tuple[int, dict[str, Any]]


def _frame(name: str, pieces: list[Piece]) -> pd.DataFrame:
    """A frame from ``(n, columns)`` pieces, one per layer and direction: each column is a
    scalar (repeated ``n`` times) or ``n`` values. The columns come out as rows of Python
    ints, floats and strings would make them (int64, float64, pandas' string dtype), and
    an empty frame as it would from no rows."""
    columns = _COLUMNS[name]
    if sum(n for n, _ in pieces) == 0:
        return pd.DataFrame([], columns=list(columns))
    data: dict[str, Any] = {}                  # in column order
    for column in columns:
        parts = [(n, piece[column]) for n, piece in pieces]
        if column in _TEXT:                    # pandas infers its dtype, as from rows
            data[column] = [text for n, v in parts
                            for text in ([v] * n if isinstance(v, str) else v)]
        else:
            dtype = np.int64 if column in _INTEGER else np.float64
            data[column] = np.concatenate(
                [np.full(n, v, dtype=dtype) if np.ndim(v) == 0 else np.asarray(v, dtype=dtype)
                 for n, v in parts])
    # Typed numbers and no reindexing: a tenth less than a frame from rows, measured.
    return pd.DataFrame(data, copy=False)


def _pieces(name: str, unit: _Unit) -> list[Piece]:
    """One unit's rows of frame ``name``."""
    where = {"layer": unit.layer, "direction": unit.direction}
    if name == "numbers":
        quantity, value, low, high = unit.numbers
        return [(len(quantity), {**where, "quantity": quantity, "value": value, "low": low,
                                 "high": high})]
    if name == "spectra":
        G, H = unit.singular_values.shape
        return [(G * H, {**where, "gate": [g for g in unit.blocks for _ in range(H)],
                         "index": np.tile(np.arange(1, H + 1), G),
                         "singular_value": unit.singular_values.ravel()})]
    if name == "profiles":
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.where(unit.profile > 0, unit.profile, np.nan))
        counts = np.isfinite(logs).sum(axis=1)                        # (T,)
        with np.errstate(invalid="ignore"):
            mean_log = np.where(counts > 0, np.nansum(logs, axis=1) / counts, np.nan)
        return [(len(unit.distance), {**where, "distance": unit.distance,
                                      "log10_ratio": mean_log})]
    if name == "lyapunov":
        k = unit.exponents.shape[1]
        return [(k, {**where, "index": np.arange(1, k + 1),
                     "exponent": unit.exponents.mean(axis=0)})]
    return [(len(mean), {**where, "gate": gate, "unit": np.arange(len(mean)), "mean": mean})
            for gate, mean in unit.gate_means.items()]


class Dynamics:
    """Tidy frames, one row per (layer, direction, ...).

    Each frame is built on first access, from arrays kept per layer and direction: rows
    and DataFrames cost about as much as the rest of a small network's measurement, and
    ``train`` reads only ``numbers``. ``_asdict()`` and unpacking give all five, in the
    order below.

    Attributes
    ----------
    numbers : columns layer, direction, quantity (a key of :data:`QUANTITIES`),
        value, low, high (the 95% interval of ``decay_rate``; NaN elsewhere)
    spectra : layer, direction, gate, index, singular_value
    profiles : layer, direction, distance, log10_ratio (mean over the batch of
        ``log10 ||dL/ds_t|| / ||dL/ds_T||`` at each distance from the loss)
    lyapunov : layer, direction, index, exponent (mean over the batch)
    gates : layer, direction, gate, unit, mean (LSTM and GRU; empty for the RNN)
    """

    _fields: tuple[str, ...] = tuple(_COLUMNS)

    def __init__(self, units: list[_Unit]) -> None:
        self._units = units
        self._frames: dict[str, pd.DataFrame] = {}

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = _frame(name, [piece for unit in self._units
                                               for piece in _pieces(name, unit)])
        return self._frames[name]

    @property
    def numbers(self) -> pd.DataFrame:
        return self._frame("numbers")

    @property
    def spectra(self) -> pd.DataFrame:
        return self._frame("spectra")

    @property
    def profiles(self) -> pd.DataFrame:
        return self._frame("profiles")

    @property
    def lyapunov(self) -> pd.DataFrame:
        return self._frame("lyapunov")

    @property
    def gates(self) -> pd.DataFrame:
        return self._frame("gates")

    def records(self, name: str = "numbers") -> list[tuple]:
        """The rows of frame ``name`` as tuples of Python numbers and strings, in the
        frame's column order, without building the frame: ``pd.DataFrame(records,
        columns=...)`` is that frame. Between training steps a DataFrame and its
        ``itertuples`` cost about 0.7 ms, a third of a small network's record.
        """
        check_choice("name", name, self._fields)
        rows: list[tuple] = []
        for unit in self._units:
            for n, piece in _pieces(name, unit):
                columns = [[v] * n if isinstance(v, str) or np.ndim(v) == 0 else
                           (v.tolist() if isinstance(v, np.ndarray) else list(v))
                           for v in (piece[column] for column in _COLUMNS[name])]
                rows += zip(*columns, strict=True)
        return rows

    def _asdict(self) -> dict[str, pd.DataFrame]:
        return {name: self._frame(name) for name in self._fields}

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter(self._asdict().values())

    def __repr__(self) -> str:
        rows = {name: sum(n for unit in self._units for n, _ in _pieces(name, unit))
                for name in self._fields}
        return "Dynamics(" + ", ".join(f"{name}: {n} rows" for name, n in rows.items()) + ")"


def measure_dynamics(net: Any, params: dict, x: np.ndarray, *, exponents: int = 1,
                     seed: int = 0, progress: bool = False) -> Dynamics:
    """Every layer's and direction's spectral picture on the probe inputs ``x``.

    Parameters
    ----------
    net : Network
    params : its parameters (extra names, a head's, are ignored)
    x : (T, B, I) array, the probe batch, ``T >= 2``
    exponents : Lyapunov exponents per layer and direction (capped at S)
    seed : int, of the random readouts the losses read and of the Lyapunov frame
    progress : a tqdm bar over layers and directions

    Returns
    -------
    Dynamics

    Notes
    -----
    Cost: one forward, one backward per direction, an SVD of each ``H x H``
    block, and ``T`` matrix-free Jacobian products of ``exponents`` columns
    per layer and direction: O(T B H^2 (1 + exponents)) time, O(T B H) memory.
    """
    from tqdm import tqdm

    exponents = check_int("exponents", exponents, minimum=1)
    trace = net.forward(params, x, strict=False)       # a head's names may ride along
    params = trace.params                              # checked, and known to the trace
    T, B, _ = np.shape(x)
    if T < 2:
        raise UsageError(f"x must have at least 2 steps to measure decay; got T = {T}")
    seed = check_int("seed", seed, minimum=0)
    rng = as_generator(np.random.SeedSequence([seed, 1]))       # the losses' readouts
    grads = _readout_gradients(net, params, trace, rng)
    units = [(layer, d) for layer in range(net.num_layers) for d in range(net.num_directions)]
    # A disabled bar still costs a tenth of a millisecond: skip it when not asked for.
    return Dynamics([_measure_unit(net, params, trace, grads[d], layer, d, exponents,
                                   frame_seed=seed)       # the Lyapunov frame
                     for layer, d in (tqdm(units, desc="dynamics", leave=False)
                                      if progress else units)])


def _readout_gradients(net: Any, params: dict, trace: Any, rng: np.random.Generator
                       ) -> list[Any]:
    """One backward per direction of the top layer, so that each direction's profile
    follows its own path back in time: the gradients of a random readout (B, H) of
    ``s_{T-1}`` (forward) or of ``s_0`` (reverse), drawn from ``rng`` in that order."""
    H, D = net.hidden_size, net.num_directions
    B = trace.outputs.shape[1]
    grads = []
    for d in range(D):
        d_out = np.zeros_like(trace.outputs)                      # (T, B, D H)
        d_out[-1 if d == 0 else 0, :, d * H:(d + 1) * H] = \
            rng.standard_normal((B, H)) / np.sqrt(H)
        grads.append(net.backward(params, trace, d_out))
    return grads


_Numbers = tuple[list[str], list[float], list[float], list[float]]


def _measure_unit(net: Any, params: dict, trace: Any, grad: Any, layer: int, d: int,
                  exponents: int, *, frame_seed: int) -> _Unit:
    """The spectral picture of one layer and direction ``d``: its ``W_hh`` blocks'
    singular values and radii, the decay of its adjoint norms in ``grad`` (the direction's
    own readout), its top ``exponents`` Lyapunov exponents and its gates' means."""
    H = net.hidden_size
    T = trace.outputs.shape[0]
    spec = cell_spec(net.cell)   # the row blocks of W_hh, in order; "h" is the RNN's one
    blocks = spec.blocks
    numbers: _Numbers = ([], [], [], [])

    def number(quantity: str, value: Any, low: Any = np.nan, high: Any = np.nan,
               numbers: tuple = numbers) -> None:
        for column, v in zip(numbers, (quantity, float(value), float(low), float(high)),
                             strict=True):
            column.append(v)

    w_hh = params["weight_hh" + f"_l{layer}" + ("_reverse" if d else "")]
    # All gate blocks in one call each: one LAPACK call per block as before, one
    # validation; the same numbers to the bit.
    stack = np.reshape(w_hh, (len(blocks), H, H))                 # (G, H, H)
    svs, rhos = singular_values(stack), spectral_radius(stack)    # (G, H), (G,)
    for gate, sv, rho in zip(blocks, svs, rhos, strict=True):
        number(f"sigma_max_{gate}", sv[0])
        number(f"rho_{gate}", rho)
    norms = adjoint_norms(grad.state_adjoints[(layer, d)])        # (T, B)
    distance, profile = adjoint_profile(norms if d == 0 else norms[::-1])
    fit = fit_decay(profile, distance, pool=True)
    number("decay_rate", fit.rate, fit.rate_low, fit.rate_high)
    op = net.jacobian_operator(params, trace, layer, d).in_processing_order()
    k = min(exponents, net.state_size)
    # One exponent needs no QR (a normalized power iteration); every 10 steps keeps
    # the column far from overflow (it would take growth of e^70 per step).
    exps = lyapunov_spectrum(op, k=k, warmup=T // 10, seed=frame_seed,
                             reorth_every=10 if k == 1 else 1)
    number("lambda_max", np.mean(exps[:, 0]))
    gate_means = _gate_means(trace, layer, d, spec, H, number) if spec.gates else {}
    return _Unit(layer, "reverse" if d else "forward", blocks, svs, distance,
                 profile, exps, gate_means, numbers)


def _gate_means(trace: Any, layer: int, d: int, spec: Any, H: int,
                number: Callable[..., None]) -> dict[str, np.ndarray]:
    """Each gate's mean activation per unit (H,) over time and batch, keyed by gate; its
    overall mean, and the memory gate's median timescale, go to ``number``."""
    gate_means: dict[str, np.ndarray] = {}
    # One pass over all blocks (the same sums, in the same order, as per block).
    acts = trace.layers[layer].cells[d].gates.mean(axis=(0, 1))   # (G H,) per unit
    for g, gate in enumerate(spec.blocks):
        if gate == spec.candidate:                            # not a gate
            continue
        mean = acts[g * H:(g + 1) * H]                        # (H,)
        gate_means[gate] = mean
        number(f"gate_mean_{gate}", mean.mean())
        if gate == spec.memory_gate:                          # keeps the old state
            with np.errstate(divide="ignore"):
                tau = -1.0 / np.log(np.clip(mean, 0.0, 1.0))
            number(f"timescale_{gate}", np.median(tau))
    return gate_means


def describe_quantity(quantity: str) -> str:
    """The readable meaning of a quantity key (``sigma_max_f`` -> "largest singular value
    of W_hf")."""
    for pattern, text in QUANTITIES.items():
        if "{g}" in pattern:
            stem = pattern.split("{g}")[0]
            if quantity.startswith(stem) and len(quantity) == len(stem) + 1:
                return text.format(g=quantity[-1])
        elif quantity == pattern:
            return text
    return quantity
