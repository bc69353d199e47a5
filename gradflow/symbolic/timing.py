"""How long the derivations take: ``python -m gradflow.symbolic.timing [--hidden-size 4]``.

Derives (structured form and explicit Jacobian) and lambdifies (every NumPy
function) each cell variant and both connections at one size, from a cold
cache: gradflow's derivation caches and SymPy's own caches are cleared
first, so the numbers do not depend on what this process derived before.
(Modules already imported stay imported: run it in a fresh process for
first-use numbers.) Prints the wall time of each and the total. Timings are
reported, never asserted in tests.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from sympy.core.cache import clear_cache

from gradflow.conventions import SKIP_CONNECTIONS, VARIANTS
from gradflow.symbolic.connections import _derive_connection, derive_connection
from gradflow.symbolic.derivation import _derive, derive

__all__ = ["VARIANTS", "clear_caches", "main", "measure"]

def clear_caches() -> None:
    """Forget every cached derivation (gradflow's) and SymPy's memoized results."""
    _derive.cache_clear()
    _derive_connection.cache_clear()
    clear_cache()


def measure(hidden_size: int = 4) -> list[tuple[str, float, float]]:
    """``(name, derive seconds, lambdify seconds)`` for each variant and connection.

    Starts with :func:`clear_caches`. "derive" is the structured form and the
    explicit Jacobian; "lambdify" every NumPy function of the derivation.
    """
    clear_caches()
    rows = []
    for cell, options in VARIANTS:
        start = time.perf_counter()
        d = derive(cell, hidden_size=hidden_size, input_size=hidden_size, **options)
        d.jacobian  # noqa: B018 (derived lazily: derive it now)
        middle = time.perf_counter()
        d.lambdify_all()
        rows.append((repr(d), middle - start, time.perf_counter() - middle))
    for kind in SKIP_CONNECTIONS:
        start = time.perf_counter()
        c = derive_connection(kind, hidden_size)
        c.jacobian  # noqa: B018
        middle = time.perf_counter()
        c._fn  # noqa: B018 (lambdify now)
        rows.append((repr(c), middle - start, time.perf_counter() - middle))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradflow.symbolic.timing")
    parser.add_argument("--hidden-size", type=int, default=4)
    args = parser.parse_args(argv)
    rows = measure(args.hidden_size)
    width = max(len(r[0]) for r in rows)
    print(f"{'derivation':<{width}}  derive (s)  lambdify (s)")
    for name, t_derive, t_lambdify in rows:
        print(f"{name:<{width}}  {t_derive:10.3f}  {t_lambdify:12.3f}")
    total_d, total_l = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'total':<{width}}  {total_d:10.3f}  {total_l:12.3f}   "
          f"(all: {total_d + total_l:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
