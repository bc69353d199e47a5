"""``gradflow bench``: engine timings against PyTorch (CPU) and the machine's GEMM rate.

Timings are measured here and reported; they are never asserted in tests.
The GEMM-bound rate is the time the same matrix products alone take: the
recurrent GEMMs are sequential in time, so that is the floor for any
implementation of the recurrence on this machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["benchmark", "register"]

CONFIGS = (("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh"))


def _best_of(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in seconds (after one warm-up call).

    The median, not the minimum: on a shared machine a lucky minimum flatters
    whichever side happened to run alone.
    """
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _gemm_floor(G: int, T: int, B: int, I: int, H: int, dtype, repeat: int) -> float:
    """Time of the GEMMs a forward+backward needs, without anything else."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T * B, I)).astype(dtype)
    w_ih = rng.standard_normal((G * H, I)).astype(dtype)
    w_hh = rng.standard_normal((G * H, H)).astype(dtype)
    h = rng.standard_normal((B, H)).astype(dtype)
    dz = rng.standard_normal((B, G * H)).astype(dtype)
    dz_all = rng.standard_normal((T * B, G * H)).astype(dtype)

    def run():
        x @ w_ih.T                      # input projections
        for _ in range(T):
            h @ w_hh.T                  # forward recurrence
            dz @ w_hh                   # backward recurrence
        dz_all.T @ x                    # dW_ih
        dz_all.T @ dz_all[:, :H]        # dW_hh
        dz_all @ w_ih                   # dx
    return _best_of(run, repeat)


def benchmark(T: int = 100, B: int = 32, I: int = 128, H: int = 128,
              dtypes: tuple[str, ...] = ("float32", "float64"), repeat: int = 7,
              threads: int = 1) -> list[dict]:
    """Forward+backward timings of each cell; one dict per (cell, dtype).

    Both NumPy's BLAS and torch run on ``threads`` threads, so the comparison
    is like for like. Keys: cell, dtype, T, B, I, H, threads, gradflow_ms,
    gemm_floor_ms, torch_ms (NaN when torch is not installed), and the ratios.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _benchmark(T, B, I, H, dtypes, repeat, threads)


def _benchmark(T, B, I, H, dtypes, repeat, threads) -> list[dict]:
    import gradflow

    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None  # type: ignore[assignment]  # timings of gradflow alone
    rows = []
    for dtype in dtypes:
        for cell, nonlinearity in CONFIGS:
            net = gradflow.Network(cell, I, H, nonlinearity=nonlinearity, dtype=dtype)
            params = net.init(0)
            x = np.random.default_rng(1).standard_normal((T, B, I)).astype(dtype)
            d_out = np.ones((T, B, H), dtype=dtype)

            def ours(net=net, params=params, x=x, d_out=d_out):
                net.backward(params, net.forward(params, x), d_out)
            ours_s = _best_of(ours, repeat)
            G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
            floor_s = _gemm_floor(G, T, B, I, H, dtype, repeat)
            torch_s = float("nan")
            if torch is not None:
                kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
                tdtype = getattr(torch, dtype)
                module = kind(I, H, dtype=tdtype)
                xt = torch.tensor(x, requires_grad=True)
                dt = torch.tensor(d_out)

                def theirs(module=module, xt=xt, dt=dt):
                    y, _ = module(xt)
                    y.backward(dt)
                torch_s = _best_of(theirs, repeat)
            rows.append({"cell": cell, "dtype": dtype, "T": T, "B": B, "I": I, "H": H,
                         "threads": threads,
                         "gradflow_ms": 1e3 * ours_s, "gemm_floor_ms": 1e3 * floor_s,
                         "torch_ms": 1e3 * torch_s, "vs_torch": ours_s / torch_s,
                         "vs_gemm_floor": ours_s / floor_s})
    return rows


def _run(args: argparse.Namespace) -> int:
    for name in ("T", "B", "hidden_size", "repeat", "threads"):
        if getattr(args, name) < 1:
            flag = "-" + name if len(name) == 1 else "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be >= 1; got {getattr(args, name)}")
    rows = benchmark(T=args.T, B=args.B, I=args.hidden_size, H=args.hidden_size,
                     repeat=args.repeat, threads=args.threads)
    from threadpoolctl import threadpool_info

    blas = ", ".join(sorted({f"{i['internal_api']} {i.get('version')}"
                             for i in threadpool_info()}))
    head = (f"forward+backward, T={args.T} B={args.B} I=H={args.hidden_size}, "
            f"{args.threads} thread(s), median of {args.repeat}; {blas}")
    header = ("| cell | dtype | gradflow ms | GEMM floor ms | torch ms | gradflow / torch "
              "| gradflow / floor |")
    lines = [header, "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['cell']} | {r['dtype']} | {r['gradflow_ms']:.2f} | {r['gemm_floor_ms']:.2f} "
              f"| {r['torch_ms']:.2f} | {r['vs_torch']:.2f} | {r['vs_gemm_floor']:.2f} |"
              for r in rows]
    print(head)
    print("\n".join(lines))
    if args.out is not None:
        import platform

        text = ["# Engine speed", "",
                "Generated by `make bench` (`gradflow bench`). Timings depend on the machine "
                "and its load; they are measured, never asserted in tests, and are not part "
                "of the byte-reproducible report.", "",
                f"Machine: {platform.machine()}, {platform.python_implementation()} "
                f"{platform.python_version()}; {head}.", "",
                "The GEMM floor is the time of the matrix products alone (input projections, "
                "the sequential recurrent products forward and backward, weight gradients): "
                "no implementation of the recurrence can go below it on this BLAS.", "",
                *lines, ""]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(text), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        "bench", help="time the engine against PyTorch and the GEMM floor (make bench)",
        description="Forward+backward timings of each cell; never asserted in tests.")
    parser.add_argument("-T", type=int, default=100, help="sequence length (default: %(default)s)")
    parser.add_argument("-B", type=int, default=32, help="batch size (default: %(default)s)")
    parser.add_argument("--hidden-size", type=int, default=128,
                        help="input and hidden size (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=7,
                        help="timed repetitions, median taken (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and torch threads, the same for both (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the table as Markdown to this file")
    parser.set_defaults(func=_run)
