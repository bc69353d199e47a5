"""The step GEMMs of the kernels, through NumPy's own BLAS.

numba's ``np.dot`` calls SciPy's BLAS, a second OpenBLAS beside NumPy's. With
more than one thread each keeps its own pool of workers, which spin for a
while after every call: alternating the two (NumPy's for the input
projections and weight gradients, SciPy's for every step) made a 2-thread
forward+backward several times slower on this 2-core machine. So the kernels
call NumPy's BLAS directly: its ``cblas_?gemm`` is looked up once (by
address, through ctypes) and called from compiled code by ``gemm``. One pool,
one thread setting (``threadpoolctl`` limits on NumPy's BLAS apply), the
same library as the reference path.

If NumPy's BLAS does not export a known ILP64 ``cblas_?gemm`` (another NumPy
build), the kernels fall back to ``np.dot`` (SciPy's BLAS), with its thread
count set to NumPy's when it is loaded (``_load_scipy_blas``).
"""

from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["addresses", "blas_address", "gemm"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# (symbol prefix, suffix): NumPy >= 2 wheels (scipy-openblas64), then the plain ILP64 names.
_NAMES = (("scipy_cblas_", "64_"), ("cblas_", "64_"))

_addresses: tuple[int, int] | None = None


def addresses() -> tuple[int, int]:
    """``(sgemm, dgemm)`` addresses of NumPy's ILP64 ``cblas_?gemm``, or ``(0, 0)``."""
    global _addresses
    if _addresses is None:
        _addresses = _find()
        if _addresses == (0, 0):
            _load_scipy_blas()
    return _addresses


def blas_address(dtype: np.dtype) -> int:
    """The ``gemm`` address for arrays of ``dtype`` (float32 or float64), 0 for ``np.dot``."""
    return addresses()[0 if np.dtype(dtype) == np.float32 else 1]


def _find() -> tuple[int, int]:
    from threadpoolctl import ThreadpoolController

    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api != "blas" or "numpy" not in lib.filepath:
            continue
        try:
            dll = ctypes.CDLL(lib.filepath)
        except OSError:
            continue
        for prefix, suffix in _NAMES:
            try:
                s = getattr(dll, f"{prefix}sgemm{suffix}")
                d = getattr(dll, f"{prefix}dgemm{suffix}")
            except AttributeError:
                continue
            return (ctypes.cast(s, ctypes.c_void_p).value or 0,
                    ctypes.cast(d, ctypes.c_void_p).value or 0)
    return (0, 0)


def _load_scipy_blas() -> None:
    """Load SciPy's BLAS (what ``np.dot`` calls) with NumPy's BLAS thread count.

    Loaded lazily inside a ``threadpool_limits`` block (as the sweep runs every
    configuration), it would escape the limit and run on all cores.
    """
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import ThreadpoolController

    libs = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    numpy_threads = [lib.num_threads for lib in libs if "numpy" in lib.filepath]
    if numpy_threads:
        for lib in libs:
            if "numpy" not in lib.filepath and lib.num_threads != min(numpy_threads):
                lib.set_num_threads(min(numpy_threads))


@intrinsic
def _cblas_gemm(typingctx, address, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc):
    """Call ``cblas_?gemm(RowMajor, NoTrans, trans_b, m, n, k, alpha, a, lda, b, ldb, 0, c,
    ldc)`` at ``address``; ``a``, ``b``, ``c`` are data addresses, the ints int64 (ILP64)."""
    if alpha not in (types.float32, types.float64):
        return None
    sig = types.void(types.intp, types.intp, types.intp, types.intp, types.intp, alpha,
                     types.intp, types.intp, types.intp, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        (address, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc) = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fty = alpha.type
        ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, fty, ptr, i64,
                                               ptr, i64, fty, ptr, i64])
        fn = builder.inttoptr(address, fnty.as_pointer())
        builder.call(fn, [
            ir.Constant(i32, _ROW_MAJOR), ir.Constant(i32, _NO_TRANS), builder.trunc(trans_b, i32),
            m, n, k, alpha, builder.inttoptr(a, ptr), lda, builder.inttoptr(b, ptr), ldb,
            ir.Constant(fty, 0.0), builder.inttoptr(c, ptr), ldc])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, nogil=True)
def gemm(address, a, b, c, trans_b):  # pragma: no cover - compiled
    """``c = a @ b.T`` (``trans_b``) or ``c = a @ b``, C-contiguous 2-D arrays.

    a (M, K); b (N, K) if ``trans_b`` else (K, N); c (M, N). ``address``: the
    ``cblas_?gemm`` of the dtype from ``addresses()``, or 0 for ``np.dot``.
    """
    M, K = a.shape
    N = c.shape[1]
    if not (a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous):
        raise ValueError("gemm needs C-contiguous arrays (it passes raw row strides to BLAS)")
    if address == 0:
        if trans_b:
            np.dot(a, b.T, c)
        else:
            np.dot(a, b, c)
        return
    _cblas_gemm(address, _TRANS if trans_b else _NO_TRANS, M, N, K, a.dtype.type(1.0),
                a.ctypes.data, K, b.ctypes.data, b.shape[1], c.ctypes.data, N)
