"""Which engine path runs: an explicit choice, held in a context variable.

The engine has two paths that compute the same functions:

- ``"numba"``: the fused kernels of ``gradflow/engine/_fused/`` (the default
  when numba is importable; it is a dependency);
- ``"numpy"``: the plain NumPy code of ``rnn.py``, ``lstm.py`` and ``gru.py``,
  the reference the kernels are tested against (the default only where numba
  is missing, with a one-line notice on stderr the first time).

A :class:`Backend` names one path and, for the kernels, whether they flush
subnormal numbers to zero (``flush_subnormals=True``, off by default; see
``_fused/_ftz.py``). Choose one for a block of code::

    with gradflow.engine.use_backend("numpy"):
        trace = net.forward(params, x)
    with gradflow.engine.use_backend("numba", flush_subnormals=True):
        ...

The choice lives in a :class:`contextvars.ContextVar`: it holds in the block
(and in the threads and tasks started with a copy of its context), nowhere
else; a new thread starts on the default. Nothing here reads or writes an
environment variable. The paths agree to round-off, not to the bit, and
flushing changes results that pass through the subnormal range, so anything
that caches results puts :attr:`Backend.key` in its key (``gradflow.sweep``
does, and passes the backend to its workers).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gradflow._validate import UsageError, UsageTypeError, check_choice, describe
from gradflow.conventions import ENGINES, EngineName, check_bool

__all__ = ["Backend", "as_backend", "backend", "current_backend", "default_backend",
           "numba_importable", "use_backend"]

_FTZ_SUFFIX = "+ftz"


@dataclass(frozen=True)
class Backend:
    """One engine path, and how it treats subnormal numbers.

    Parameters
    ----------
    name : "numba" (fused kernels) or "numpy" (the reference)
    flush_subnormals : numba only: the kernels set the processor's flush-to-zero
        and denormals-are-zero modes around each cell call (x86-64; restored
        afterwards), so every value below the smallest normal number (float32
        1.2e-38, float64 2.2e-308) is exactly 0. Off (IEEE subnormals, as on
        the NumPy path) by default.
    """

    name: EngineName = "numba"
    flush_subnormals: bool = False

    def __post_init__(self) -> None:
        check_choice("backend", self.name, ENGINES)
        check_bool("flush_subnormals", self.flush_subnormals)
        if self.flush_subnormals and self.name != "numba":
            raise UsageError(f"flush_subnormals=True needs backend 'numba' (the NumPy path "
                             f"keeps IEEE subnormals); got backend {self.name!r}")
        if self.name == "numba" and not numba_importable():
            raise UsageError("backend 'numba' needs numba, which is not importable here; "
                             "install it (pip install numba) or use backend 'numpy'")

    @property
    def key(self) -> str:
        """``"numba"``, ``"numba+ftz"`` or ``"numpy"``: for cache keys and manifests."""
        return self.name + (_FTZ_SUFFIX if self.flush_subnormals else "")

    @classmethod
    def from_key(cls, key: Any) -> Backend:
        """The backend of a :attr:`key` (``"numba"``, ``"numba+ftz"`` or ``"numpy"``)."""
        if not isinstance(key, str):
            raise UsageTypeError(f"backend must be a Backend or one of 'numba', 'numba+ftz', "
                                 f"'numpy'; got {describe(key)}")
        ftz = key.endswith(_FTZ_SUFFIX)
        name: EngineName = check_choice("backend", key[:-len(_FTZ_SUFFIX)] if ftz else key,
                                        ENGINES)
        return cls(name, flush_subnormals=ftz)


_numba_found: bool | None = None
_default: Backend | None = None
_current: ContextVar[Backend | None] = ContextVar("gradflow_engine_backend", default=None)


def numba_importable() -> bool:
    """Whether numba can be imported (looked up once, without importing it)."""
    global _numba_found
    if _numba_found is None:
        _numba_found = importlib.util.find_spec("numba") is not None
    return _numba_found


def default_backend() -> Backend:
    """The backend outside any :func:`use_backend` block: numba when importable, else NumPy.

    Where numba is missing, the first call prints a one-line notice on stderr (a
    notice, not a warning: test suites turn warnings into errors).
    """
    global _default
    if _default is None:
        if numba_importable():
            _default = Backend("numba")
        else:
            print("gradflow: numba is not importable, so the engine runs its plain NumPy "
                  "path (slower, same results to round-off); pip install numba, or run "
                  "within gradflow.engine.use_backend('numpy') to silence this notice",
                  file=sys.stderr)
            _default = Backend("numpy")
    return _default


def current_backend() -> Backend:
    """The backend the engine runs on here: the innermost :func:`use_backend`, or the default."""
    chosen = _current.get()
    return chosen if chosen is not None else default_backend()


def as_backend(value: Backend | str | None) -> Backend:
    """A :class:`Backend` from itself, its name or key (``"numba+ftz"``), or None (the current)."""
    if value is None:
        return current_backend()
    return value if isinstance(value, Backend) else Backend.from_key(value)


def backend() -> EngineName:
    """The name of the path the engine runs on here: ``"numba"`` or ``"numpy"``."""
    return current_backend().name


@contextmanager
def use_backend(backend: Backend | str, *, flush_subnormals: bool = False
                ) -> Iterator[Backend]:
    """Run the engine on ``backend`` within the block (in this thread or task only).

    Parameters
    ----------
    backend : a :class:`Backend`, or its name (``"numba"``, ``"numpy"``) or key
        (``"numba+ftz"``)
    flush_subnormals : with a name: flush subnormals to zero in the kernels
        (see :class:`Backend`)

    Yields
    ------
    the Backend in force
    """
    if isinstance(backend, Backend):
        if flush_subnormals:
            raise UsageError("give flush_subnormals in the Backend itself, not beside it; "
                             f"got use_backend({backend!r}, flush_subnormals=True)")
        chosen = backend
    else:
        chosen = Backend.from_key(backend)
        if flush_subnormals:
            chosen = Backend(chosen.name, flush_subnormals=check_bool("flush_subnormals",
                                                                     flush_subnormals))
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)
