"""The matrix-free Lyapunov spectrum against a hand-written torch ``J Q`` loop.

An LSTM with H units (S = 2H), batch 1, standard normal inputs over T steps:
both sides start from the same forward trace (gate values, ``tanh c``, ``c``)
and compute the top ``k`` exponents by the QR method, one step at a time:

- gradflow: ``lyapunov_spectrum(net.jacobian_operator(params, trace), k=k)``;
- torch: the same tangent step written out in torch (``dz = W_hh Q_h``, then
  the gates' elementwise terms), ``torch.linalg.qr`` every step, in the
  trace's dtype; the 30-line loop a user would write.

Both run on one thread, alternately, ``repeat`` rounds; the ratio is the
median of the per-round ratios (gradflow / torch: below 1 is faster). Timings
are reported by ``make bench``, never asserted in tests.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["lyapunov_lines", "lyapunov_vs_torch", "torch_lyapunov"]


def torch_lyapunov(torch: Any, w_hh: np.ndarray, trace: Any, k: int, warmup: int,
                   seed: int = 0) -> np.ndarray:
    """The top ``k`` exponents (k,) of an LSTM layer's trace by a hand-written torch loop."""
    gates = torch.from_numpy(trace.gates[:, 0])                       # (T, 4H)
    tanh_c = torch.from_numpy(trace.tanh_c[:, 0])                     # (T, H)
    c = torch.from_numpy(trace.c[:-1, 0])                             # (T, H): c_{t-1}
    W = torch.from_numpy(w_hh)                                        # (4H, H)
    T, H = tanh_c.shape
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    # The step's coefficients, all steps at once (T, H) each: the loop is then a GEMM,
    # a few multiply-adds and a QR.
    a_f, a_i, a_g = c * f * (1 - f), g * i * (1 - i), i * (1 - g * g)
    a_o, a_c = tanh_c * o * (1 - o), o * (1 - tanh_c * tanh_c)
    frame = np.random.default_rng(seed).standard_normal((k, 2 * H)).T
    Q = torch.linalg.qr(torch.from_numpy(frame).to(W.dtype))[0]        # (2H, k)
    total = torch.zeros(k, dtype=torch.float64)
    for t in range(T):
        dz = W @ Q[:H]                                                # (4H, k)
        dc = (f[t, :, None] * Q[H:] + a_f[t, :, None] * dz[H:2 * H] + a_i[t, :, None] * dz[:H]
              + a_g[t, :, None] * dz[2 * H:3 * H])
        dh = a_o[t, :, None] * dz[3 * H:] + a_c[t, :, None] * dc
        Q, R = torch.linalg.qr(torch.cat([dh, dc]))
        if t >= warmup:
            total += torch.log(torch.abs(torch.diagonal(R))).double()
    return (total / (T - warmup)).numpy()


def lyapunov_vs_torch(hidden_size: int = 1024, steps: int = 1000, exponents: int = 10,
                      dtypes: tuple[str, ...] = ("float32", "float64"),
                      repeat: int = 3) -> list[dict[str, Any]]:
    """Per dtype: gradflow's and torch's seconds (median), their ratio (median of rounds),
    and the largest difference of the exponents (a check that both compute the same)."""
    import torch
    from threadpoolctl import threadpool_limits

    import gradflow
    from gradflow.diagnostics import lyapunov_spectrum

    rows = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            for dtype in dtypes:
                net = gradflow.Network("lstm", 32, hidden_size, dtype=dtype)
                params = net.init(seed=0)
                x = np.random.default_rng(1).standard_normal((steps, 1, 32))
                trace = net.forward(params, x.astype(dtype))
                op = net.jacobian_operator(params, trace)
                cell = trace.layers[0].cells[0]
                times: dict[str, list[float]] = {"gradflow": [], "torch": []}
                for _ in range(repeat):
                    start = time.perf_counter()
                    ours = lyapunov_spectrum(op, k=exponents, warmup=steps // 10,
                                             sort=False)[0]
                    middle = time.perf_counter()
                    theirs = torch_lyapunov(torch, params["weight_hh_l0"], cell, exponents,
                                            steps // 10)
                    times["gradflow"].append(middle - start)
                    times["torch"].append(time.perf_counter() - middle)
                ratios = np.array(times["gradflow"]) / np.array(times["torch"])
                rows.append({"dtype": dtype, "gradflow_s": float(np.median(times["gradflow"])),
                             "torch_s": float(np.median(times["torch"])),
                             "ratio": float(np.median(ratios)), "ratio_low": float(ratios.min()),
                             "ratio_high": float(ratios.max()),
                             "max_difference": float(np.max(np.abs(ours - theirs)))})
    finally:
        torch.set_num_threads(threads)
    return rows


def lyapunov_lines(hidden_size: int = 1024, steps: int = 1000, exponents: int = 10,
                   repeat: int = 3) -> list[str]:
    """The bench's Markdown paragraph and table (a line saying so without torch)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return ["", "**Matrix-free Lyapunov spectrum against a hand-written torch J Q loop**: "
                "skipped, torch is not installed."]
    rows = lyapunov_vs_torch(hidden_size, steps, exponents, repeat=repeat)
    lines = ["", f"**Matrix-free Lyapunov spectrum against a hand-written torch J Q loop**: the "
             f"top {exponents} exponents of an LSTM with H = {hidden_size} over T = {steps} "
             f"steps, batch 1, one thread, from the same forward trace; {repeat} alternating "
             f"rounds; ratio = gradflow / torch (median of per-round ratios, range in "
             f"brackets; below 1: gradflow faster).", "",
             "| dtype | gradflow s | torch loop s | ratio | max exponent difference |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['dtype']} | {r['gradflow_s']:.2f} | {r['torch_s']:.2f} | "
              f"{r['ratio']:.2f} [{r['ratio_low']:.2f}, {r['ratio_high']:.2f}] | "
              f"{r['max_difference']:.1e} |" for r in rows]
    return lines
