"""Keep freed memory in the process, so fresh trace arrays cost no page faults.

Every forward allocates its trace (``(T, B, G*H)`` gates and the states) and
every backward its gradients: tens of MB per call at the larger benchmark
shapes. With glibc's defaults, blocks that large are mmap-ed and unmapped, or
trimmed off the heap, on every call, so each call first-touches fresh pages:
measured on this machine, an LSTM forward+backward (I32 H128 B32 T100,
float32, 2 threads) took 29-35 ms with the defaults and 11-17 ms with the
settings below; torch avoids the same cost with its caching allocator.

An opt-in, never done by gradflow on its own (it is a setting of the whole
process, which belongs to its user): ``gradflow.engine.keep_freed_memory()``,
on Linux with glibc, raises ``M_MMAP_THRESHOLD`` to 256 MiB (blocks below it
come from the heap and are reused) and ``M_TRIM_THRESHOLD`` to 512 MiB (at
most that much freed memory stays mapped), for every allocation of the
process from then on. Not done when the user set glibc's own
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or ``GLIBC_TUNABLES``.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's malloc thresholds for this whole process (see the module doc).

    An explicit opt-in for a process that runs many large engine calls; a
    no-op (returning False) off Linux/glibc or when the user set glibc's own
    malloc variables. Returns True when the thresholds are (or were) set.
    """
    global _done
    if _done is None:
        _done = _set_thresholds()
    return _done


def _set_thresholds() -> bool:
    if not sys.platform.startswith("linux") or any(
            name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                            "GLIBC_TUNABLES")):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 256 << 20)) & bool(mallopt(_M_TRIM_THRESHOLD, 512 << 20))
