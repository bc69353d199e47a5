"""Checks at public boundaries, with one message template.

Every bad parameter is reported the same way: which parameter, what arrived,
what is allowed (as in scikit-learn's ``_param_validation``). These helpers
raise :class:`UsageError` (a ``ValueError``) or :class:`UsageTypeError` (a
``UsageError`` that is also a ``TypeError``); the CLI turns exactly these into
one line on stderr and exit code 2, and shows a traceback for anything else
(a bug keeps its traceback).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal, overload

import numpy as np

from gradflow.errors import NonFiniteError, NonFiniteInputError, UsageError, UsageTypeError

__all__ = [
    "NonFiniteError",
    "NonFiniteInputError",
    "UsageError",
    "UsageTypeError",
    "as_generator",
    "available_memory",
    "check_allocation",
    "check_array",
    "check_choice",
    "check_finite",
    "check_int",
    "check_memory",
    "check_real",
    "describe",
]


def describe(value: Any) -> str:
    """A short, readable account of ``value`` for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise UsageError."""
    allowed = tuple(allowed)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise UsageError(f"{name} must be one of {options}; got {describe(value)}")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer within the bounds."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UsageTypeError(f"{name} must be an integer; got {describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise UsageError(f"{name} must be an integer <= {maximum}; got {value}")
    return value


@overload
def check_real(name: str, value: Any, *, minimum: float | None = None,
               maximum: float | None = None, strict_min: bool = False,
               allow_none: Literal[False] = False) -> float: ...


@overload
def check_real(name: str, value: Any, *, minimum: float | None = None,
               maximum: float | None = None, strict_min: bool = False,
               allow_none: bool) -> float | None: ...


def check_real(name: str, value: Any, *, minimum: float | None = None,
               maximum: float | None = None, strict_min: bool = False,
               allow_none: bool = False) -> float | None:
    """Return ``value`` as a finite float within the bounds.

    ``strict_min=True`` makes the lower bound exclusive (``value > minimum``).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise UsageTypeError(f"{name} must be a real number; got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise UsageError(f"{name} must be finite; got {value}")
    if minimum is not None:
        if strict_min and not value > minimum:
            raise UsageError(f"{name} must be > {minimum}; got {value}")
        if not strict_min and value < minimum:
            raise UsageError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise UsageError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_finite(name: str, array: np.ndarray) -> np.ndarray:
    """Raise :class:`NonFiniteInputError` naming ``name`` if ``array`` has NaN/inf."""
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise NonFiniteInputError(
            f"{name} must be finite; got {np.count_nonzero(~np.isfinite(array))} "
            f"non-finite value(s), the first at index {tuple(int(i) for i in bad)}"
        )
    return array


def check_array(name: str, value: Any, *, ndim: int | None = None,
                shape: tuple[int | None, ...] | None = None,
                dtype: Any = np.float64, finite: bool = True, layout: str | None = None,
                copy: bool = False) -> np.ndarray:
    """Convert ``value`` to an array of ``dtype`` and check kind, rank, shape, finiteness.

    Only real numbers are accepted (float or integer arrays): complex, bool,
    object and string arrays raise ``TypeError`` rather than being cast
    silently. With ``finite`` (the default), finiteness is checked before the
    cast and a cast to float32 that would overflow raises ``ValueError``;
    without it such values become ``inf``, for callers that study divergence.
    ``shape`` entries of ``None`` match any size; ``layout`` (e.g.
    ``"(T, B, I)"``) names the axes in messages. Without ``copy`` the input
    is returned as is when its dtype already matches. ``dtype=None`` keeps a float
    input's dtype (integers become float64).
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise UsageTypeError(f"{name} must be a numeric array; got {describe(value)}") from exc
    if raw.dtype.kind not in "fiu":
        raise UsageTypeError(f"{name} must be a numeric array of real numbers (float or int); "
                             f"got {describe(value)}")
    if finite and raw.dtype.kind == "f":
        check_finite(name, raw)
    target = (raw.dtype if raw.dtype.kind == "f" else np.dtype(np.float64)) if dtype is None \
        else np.dtype(dtype)
    if (finite and raw.dtype.kind == "f" and target.kind == "f"
            and raw.dtype.itemsize > target.itemsize
            and raw.size and np.nanmax(np.abs(np.where(np.isfinite(raw), raw, 0)))
            > np.finfo(target).max):
        raise UsageError(f"{name} has values beyond the range of {target.name} "
                         f"(|value| <= {np.finfo(target).max:.3g}); got max |value| = "
                         f"{np.max(np.abs(raw[np.isfinite(raw)])):.3g}")
    array = raw.astype(target, copy=copy)
    if ndim is None and shape is not None:
        ndim = len(shape)
    if ndim is not None and array.ndim != ndim:
        axes = f" {layout}" if layout else ""
        raise UsageError(f"{name} must have {ndim} dimensions{axes}; got shape {array.shape}")
    if shape is not None:
        for got, want in zip(array.shape, shape, strict=True):
            if want is not None and got != want:
                raise UsageError(
                    f"{name} must have shape {_fmt_shape(shape)}; got shape {array.shape}"
                )
    return array


def check_memory(name: str, value: Any, n_bytes: int, what: str) -> None:
    """Raise UsageError naming ``name=value`` if ``n_bytes`` exceed this machine's memory.

    For sizes that would otherwise reach NumPy's MemoryError (or swap) only after
    a long allocation; ``what`` (read after ``name=value``, before the bytes) says
    what they are for.
    """
    have = _physical_memory()
    if n_bytes > have:
        raise UsageError(
            f"{name}={value} {what} {_fmt_bytes(n_bytes)}, more than this machine's "
            f"memory ({_fmt_bytes(have)}); choose a smaller {name}")


#: Sizes that ``check_allocation`` lets through without asking the system (64 MiB).
_ALWAYS_FITS = 2 ** 26


def check_allocation(what: str, shape: tuple[int, ...], dtype: Any, alternative: str,
                     *, factor: float = 1.0) -> None:
    """Raise UsageError before allocating a result that does not fit in the memory available.

    The size is estimated from ``shape`` and ``dtype`` (times ``factor`` for
    intermediates of the same size) and compared with the memory available now
    (:func:`available_memory`), so a call that would take the machine down (or
    have the kernel kill the process) is refused at once. Below 64 MiB it always
    passes, without asking the system.

    Parameters
    ----------
    what : the result, as the message reads it ("the step Jacobians J of ...")
    shape, dtype : the result's
    alternative : what to do instead (the matrix-free way, a smaller input)
    factor : the peak memory of the call in units of the result
    """
    n_bytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    need = int(n_bytes * factor)
    if need <= _ALWAYS_FITS:   # not worth reading /proc/meminfo for
        return
    have = available_memory()
    if need > have:
        peak = "" if factor == 1 else f" ({_fmt_bytes(need)} at its peak)"
        raise UsageError(
            f"{what} would take {_fmt_bytes(n_bytes)}{peak}: shape {_fmt_shape(shape)} of "
            f"{np.dtype(dtype).name}, more than the memory available now "
            f"({_fmt_bytes(have)}); {alternative}")


def available_memory() -> int:
    """Bytes that can be allocated now without swapping.

    Linux's ``MemAvailable`` (``/proc/meminfo``, which counts reclaimable caches),
    capped by a cgroup's memory limit where one is set; elsewhere the physical
    memory (``sysconf``), or 2**40 where the platform does not say.
    """
    have = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    have = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        have = None
    if have is None:
        return _physical_memory()
    return min(have, _cgroup_headroom())


def _cgroup_headroom() -> int:
    """What this process's memory cgroup still allows (v2, else v1), or 2**62 without a limit."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            path = next((line.strip()[3:] for line in f if line.startswith("0::")), None)
    except OSError:
        path = None
    for limit_file, usage_file in (
            (f"/sys/fs/cgroup{path}/memory.max", f"/sys/fs/cgroup{path}/memory.current"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
             "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            with open(usage_file, encoding="ascii") as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 2 ** 60:
            return 2 ** 62
        return max(int(limit) - usage, 0)
    return 2 ** 62


def _physical_memory() -> int:
    """Bytes of physical memory (2**40 where the platform does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 2 ** 40


def _fmt_bytes(n: int) -> str:
    for unit, size in (("EiB", 2 ** 60), ("PiB", 2 ** 50), ("TiB", 2 ** 40), ("GiB", 2 ** 30),
                       ("MiB", 2 ** 20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _fmt_shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def as_generator(seed: Any) -> np.random.Generator:
    """The one RNG entry point: an int seed, a SeedSequence or a Generator.

    There is no global random state anywhere in gradflow.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UsageTypeError(
            f"seed must be a non-negative integer, a numpy SeedSequence or Generator; "
            f"got {describe(seed)}"
        )
    if seed < 0:
        raise UsageError(f"seed must be a non-negative integer; got {seed}")
    return np.random.default_rng(int(seed))
