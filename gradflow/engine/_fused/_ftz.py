"""Flush subnormals to zero while a fused kernel runs (x86-64's MXCSR FTZ and DAZ bits).

Why: when a loss reads only the last step, the float32 adjoint vanishes back
in time through the subnormal range (below 1.2e-38), where arithmetic on many
CPUs takes a slow microcoded path (issue 15 measured a vanishing backward at
about twice a non-vanishing one; the AMD EPYC of ``reports/benchmarks.md``
shows no penalty, and there the flush changes nothing in speed). With FTZ
(results that would be subnormal become 0) and DAZ (subnormal inputs are read as 0), every value
below the smallest normal number is exactly zero instead: the adjoint that
would have been a subnormal (float32 < 1.2e-38, float64 < 2.2e-308) is 0.

An opt-in (``Backend("numba", flush_subnormals=True)``): by default the
kernels keep IEEE subnormals, as the NumPy path does. When chosen, the bits
are set only around a fused cell call (``flush_subnormals(True)``), in the
calling thread, and restored afterwards: NumPy, SciPy and the caller's own
code outside the engine see IEEE arithmetic as before. BLAS calls made
inside the block in this thread (the step GEMMs) are flushed too; BLAS worker
threads (more than one BLAS thread) keep their own MXCSR, so with several
threads a subnormal may survive inside a large GEMM. On other processors the
block does nothing.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["flush_subnormals"]

_FTZ_DAZ = 0x8040  # bit 15 flush-to-zero, bit 6 denormals-are-zero
_X86 = platform.machine().lower() in ("x86_64", "amd64")


@intrinsic
def _stmxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.stmxcsr")
        builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return builder.zext(builder.load(slot), ir.IntType(64))
    return types.int64(), codegen


@intrinsic
def _ldmxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.ldmxcsr")
        builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return context.get_dummy_value()
    return types.none(types.int64), codegen


@njit(cache=True)
def _set_ftz() -> int:
    old = _stmxcsr()
    _ldmxcsr(old | _FTZ_DAZ)
    return old


@njit(cache=True)
def _restore(old: int) -> None:
    _ldmxcsr(old)


@contextmanager
def flush_subnormals(enabled: bool = True) -> Iterator[None]:
    """Within the block, this thread's float arithmetic flushes subnormals to zero
    (when ``enabled``; else the block runs with the modes as they are)."""
    if not (enabled and _X86):
        yield
        return
    old = _set_ftz()
    try:
        yield
    finally:
        _restore(old)
