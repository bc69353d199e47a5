"""Which BLAS computed the numbers: library, version and kernels.

OpenBLAS picks its kernels for the CPU when it loads, unless the environment
variable ``OPENBLAS_CORETYPE`` names them; the choice changes the last bits
of every matrix product (another order of summation) and, on this project's
AMD EPYC (Zen 5), their speed by 1.4-2.1x: this machine's environment sets
``OPENBLAS_CORETYPE=Haswell`` (AVX2 kernels), where OpenBLAS would pick its
SkylakeX (AVX-512) kernels itself. ``gradflow bench`` and the report's
``manifest.json`` record it, so that a number can be traced to its kernels.
"""

from __future__ import annotations

__all__ = ["describe"]


def describe() -> list[str]:
    """Each loaded BLAS as ``"openblas 0.3.31.188.0 (Haswell)"`` (version and kernels),
    sorted; threadpoolctl's view of this process."""
    from threadpoolctl import threadpool_info

    return sorted({f"{i['internal_api']} {i.get('version')}"
                   + (f" ({i['architecture']})" if i.get("architecture") else "")
                   for i in threadpool_info() if i.get("user_api") == "blas"})
