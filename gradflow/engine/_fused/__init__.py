"""The fused engine path: numba kernels for every cell's forward and backward.

The plain NumPy code in ``rnn.py``, ``lstm.py`` and ``gru.py`` is the
reference; these kernels compute the same trace and gradients (to round-off:
their ``tanh`` is a vectorized polynomial, not libm's, see ``_math.py``).
A cell's ``forward`` / ``backward`` calls them first thing when ``backend()``
is ``"numba"``.

Which path runs:

- ``GRADFLOW_ENGINE=numba``: the kernels (an error if numba is not importable);
- ``GRADFLOW_ENGINE=numpy``: the NumPy reference;
- unset or empty: numba when it is importable, else NumPy, with a one-line
  notice on stderr the first time (a notice, not a warning: the test suite
  turns warnings into errors).

The variable is read at every call, so a test (or a user) can switch paths
within one process. Importing numba and loading the compiled kernels happens
at the first fused call, not at ``import gradflow``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Literal

from gradflow._validate import UsageError

__all__ = ["BACKENDS", "ENV_VAR", "backend", "kernels", "use_fused"]

#: The engine paths, in the order tried by default.
BACKENDS: tuple[str, ...] = ("numba", "numpy")
#: The environment variable that chooses the path.
ENV_VAR = "GRADFLOW_ENGINE"

_numba_found: bool | None = None
_noticed = False


def _avoid_avx512() -> None:
    """Have numba tune its code for ``haswell`` on AVX-512 hosts, unless told otherwise.

    Measured on an earlier machine of this project (AMD EPYC, AVX-512): kernels
    compiled for the host CPU's name ran their float64 elementwise work fine
    alone, but a step that alternates it with a BLAS GEMM (every step of every
    cell) took 2-3x longer than the two parts alone; with the CPU name
    ``haswell`` the step cost the sum of its parts (float64 LSTM at the
    report's shape: 10-13 ms -> 4.7 ms forward). This sets the name only: numba
    still passes the host's features to LLVM, so the kernels keep their 512-bit
    vectors (checked in the assembly); what changes is LLVM's tuning. Measured
    on 2026-12-02 on an AMD EPYC of the Zen 5 generation (LLVM's ``znver5``),
    the host's name was between 10% faster and 4% slower than ``haswell`` (no
    2-3x effect there; report's shape, every cell and dtype) and a true AVX2
    build (the avx512 features switched off) mostly 3-13% slower; all three
    gave the same bits. ``haswell`` is kept: its worst case measured is
    a few percent, the host name's was 2-3x. numba reads its target from the
    environment when it is first imported, so this applies only if numba is
    not imported yet and neither ``NUMBA_CPU_NAME`` nor ``NUMBA_CPU_FEATURES``
    is set; it then holds for every numba function of the process.
    """
    if "numba" in sys.modules or "NUMBA_CPU_NAME" in os.environ or \
            "NUMBA_CPU_FEATURES" in os.environ:
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
            else:
                return
    except OSError:
        return
    if {"avx512f", "avx2", "fma"} <= flags:
        os.environ["NUMBA_CPU_NAME"] = "haswell"


_avoid_avx512()


def _numba_importable() -> bool:
    global _numba_found
    if _numba_found is None:
        _numba_found = importlib.util.find_spec("numba") is not None
    return _numba_found


def backend() -> Literal["numba", "numpy"]:
    """Which engine path runs now: ``"numba"`` (fused kernels) or ``"numpy"`` (reference).

    Chosen by the environment variable ``GRADFLOW_ENGINE`` (``numba`` or
    ``numpy``); unset or empty means numba when it is importable. The two
    paths agree to round-off, not to the bit, so anything that caches
    results (the sweep) should put this in its key.

    Raises
    ------
    ValueError
        if ``GRADFLOW_ENGINE`` holds anything else, or asks for numba where it
        is not installed.
    """
    global _noticed
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice == "numpy":
        return "numpy"
    if choice == "numba":
        if not _numba_importable():
            raise UsageError(f"{ENV_VAR}=numba, but numba is not importable here; install it "
                             f"(pip install numba) or set {ENV_VAR}=numpy")
        return "numba"
    if choice:
        raise UsageError(f"{ENV_VAR} must be one of {', '.join(BACKENDS)} (or unset for "
                         f"numba when available); got {os.environ[ENV_VAR]!r}")
    if _numba_importable():
        return "numba"
    if not _noticed:
        _noticed = True
        print(f"gradflow: numba is not importable, so the engine runs its plain NumPy path "
              f"(slower, same results to round-off); pip install numba, or set "
              f"{ENV_VAR}=numpy to silence this notice", file=sys.stderr)
    return "numpy"


def use_fused() -> bool:
    """True when the cells should call the fused kernels (``backend() == "numba"``)."""
    return backend() == "numba"


def kernels(cell: Literal["rnn", "lstm", "gru"]):
    """The module of fused ``forward`` / ``backward`` for ``cell`` (imports numba on first use)."""
    from gradflow.engine._fused._malloc import keep_freed_memory

    keep_freed_memory()
    return importlib.import_module(f"gradflow.engine._fused.{cell}")
