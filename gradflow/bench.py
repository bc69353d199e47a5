"""``gradflow bench``: engine timings against PyTorch (CPU), the GEMM floor, and subnormals.

Timings are measured here and reported; they are never asserted in tests.

How it measures (issue 15): gradflow and torch run alternately in one
process, forward + full backward, on the same threads (``threadpoolctl`` for
NumPy's and SciPy's BLAS, ``torch.set_num_threads``); each round times every
contender once, and a ratio is the median over rounds of the per-round
ratios, which a shared, noisy machine disturbs far less than separate medians.
The load average is printed with the results.

With more than one thread, each contender first runs untimed for ``SETTLE``
seconds before its timed run. Both libraries keep their worker threads
spinning for a while after a call (OpenBLAS about 0.1 s, torch's OpenMP
pool likewise), and a contender timed right after the other competes with
those spinning threads for the cores: measured on this 2-core machine, torch's
float32 LSTM at I32 H128 B32 T100 took 14.1 ms right after gradflow and 6.6 ms
settled, gradflow's 13.4 ms either way, so strict alternation reported
gradflow / torch = 0.93 where the settled ratio is 2.07. The settled time is
the one a user of either library sees.

- Shapes: the issue's three (``SHAPES``), or one given with ``-T``, ``-B``,
  ``--hidden-size``.
- The GEMM floor is the time of the matrix products alone (input
  projections, the sequential recurrent products forward and backward,
  weight gradients): no implementation of the recurrence on this BLAS goes
  below it.
- Vanishing vs non-vanishing: the backward alone with the loss on the last
  step (the float32 adjoint dies out back in time, through the subnormal
  range) against the same backward with a loss on every step.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradflow._validate import UsageError
from gradflow.conventions import cell_spec

__all__ = ["SHAPES", "Shape", "benchmark", "gru_vs_lstm", "register", "vanishing"]

CELLS = (("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh"))
DTYPES = ("float32", "float64")


class Shape(NamedTuple):
    """One benchmark problem: sizes, threads, and where the loss reads the outputs."""

    name: str
    I: int  # noqa: E741 - the engine's name for the input size
    H: int
    B: int
    T: int
    threads: int
    loss: str   # "every" step or the "last" step only
    goal_f32: float
    goal_f64: float

    def label(self) -> str:
        return (f"I{self.I} H{self.H} B{self.B} T{self.T}, {self.threads} thread(s), "
                f"loss on {'every step' if self.loss == 'every' else 'the last step'}")


#: The shapes of issue 15, with its goals (gradflow / torch, float32 and float64).
SHAPES = (
    Shape("medium", 32, 128, 32, 100, 2, "every", 1.1, 0.7),
    Shape("large", 64, 256, 64, 200, 2, "every", 1.1, 0.7),
    Shape("report", 2, 32, 32, 400, 1, "last", 0.3, 0.3),
)
#: Goal for the vanishing / non-vanishing backward time.
VANISHING_GOAL = 1.15
#: Seconds each contender runs untimed before its timed run, with more than one thread.
SETTLE = 0.25


def _engine(name: str):
    """Run the block on engine backend ``name`` (a ``gradflow.engine.Backend`` key)."""
    from gradflow.engine.backends import use_backend

    return use_backend(name)


def _alternate(fns: dict[str, Callable[[], object]], repeat: int,
               settle: float = 0.0) -> dict[str, np.ndarray]:
    """Per-round wall times of each function, run in turn, after one warm-up round.

    ``settle`` > 0: before each timed run the function runs untimed until that many
    seconds have passed since its turn began (at least once), so that the threads the
    previous one left spinning have gone to sleep (see the module doc).
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if settle > 0:
                turn = time.perf_counter()
                fn()
                while time.perf_counter() - turn < settle:
                    fn()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: np.array(v) for k, v in times.items()}


def _gemm_floor(G: int, T: int, B: int, I: int, H: int, dtype, repeat: int,
                settle: float = 0.0) -> float:
    """Median time of the GEMMs a forward+backward needs, without anything else."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T * B, I)).astype(dtype)
    w_ih = rng.standard_normal((G * H, I)).astype(dtype)
    w_hh = rng.standard_normal((G * H, H)).astype(dtype)
    h = rng.standard_normal((B, H)).astype(dtype)
    dz = rng.standard_normal((B, G * H)).astype(dtype)
    dz_all = rng.standard_normal((T * B, G * H)).astype(dtype)
    rec, dh = np.empty((B, G * H), dtype), np.empty((B, H), dtype)

    def run():
        x @ w_ih.T                      # input projections
        for _ in range(T):
            np.matmul(h, w_hh.T, out=rec)   # forward recurrence
            np.matmul(dz, w_hh, out=dh)     # backward recurrence
        dz_all.T @ x                    # dW_ih
        dz_all.T @ dz_all[:, :H]        # dW_hh
        dz_all @ w_ih                   # dx
    return float(np.median(_alternate({"floor": run}, repeat, settle)["floor"]))


def _problem(cell: str, nonlinearity: str, shape: Shape, dtype: str):
    import gradflow

    net = gradflow.Network(cell, shape.I, shape.H, nonlinearity=nonlinearity, dtype=dtype)
    params = net.init(0)
    x = np.random.default_rng(1).standard_normal((shape.T, shape.B, shape.I)).astype(dtype)
    d_out = np.zeros((shape.T, shape.B, shape.H), dtype=dtype)
    if shape.loss == "every":
        d_out[:] = 1.0 / shape.T
    else:
        d_out[-1] = 1.0
    return net, params, x, d_out


def _torch_step(torch, cell: str, params: dict, x: np.ndarray, d_out: np.ndarray,
                onednn: bool = True) -> tuple[Callable[[], None], str]:
    """torch's forward + backward on the same problem, and the path it took.

    The path is read from the autograd graph: ``"oneDNN"`` when torch ran its fused
    oneDNN RNN kernel (``MkldnnRnnLayerBackward0``; on CPU, the LSTM in float32),
    ``"ATen"`` for its generic per-step path. ``onednn=False`` runs with oneDNN
    switched off (``torch.backends.mkldnn.flags``): the generic path, the same
    algorithm as gradflow's, for a like-for-like comparison.
    """
    import warnings

    kind = getattr(torch.nn, cell_spec(cell).torch_class)
    I, H = x.shape[-1], d_out.shape[-1]
    module = kind(I, H, dtype=getattr(torch, str(x.dtype)))
    module.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    xt = torch.tensor(x, requires_grad=True)
    dt = torch.tensor(d_out)

    @contextmanager
    def path():
        if onednn:
            yield
            return
        with warnings.catch_warnings():   # torch warns about TF32 on Intel GPUs here
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                yield

    def theirs():
        with path():
            y, _ = module(xt)
            y.backward(dt)

    with path():
        y, _ = module(xt)
    seen, todo, names = set(), [y.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        todo += [g for g, _ in fn.next_functions]
    return theirs, "oneDNN" if any("Mkldnn" in n for n in names) else "ATen"


def benchmark(shapes: tuple[Shape, ...] = SHAPES, dtypes: tuple[str, ...] = DTYPES,
              repeat: int = 7) -> list[dict]:
    """Forward+backward timings of each cell on each shape; one dict per (shape, cell, dtype).

    Keys: shape, cell, dtype, threads, engine (the path ``gradflow`` ran),
    torch_path (``"oneDNN"``, ``"ATen"``, or ``"-"`` without torch), gradflow_ms,
    numpy_ms (the NumPy reference path), torch_ms (NaN without torch),
    gemm_floor_ms (medians), vs_torch, vs_torch_generic (against torch with oneDNN
    off; equal to vs_torch where torch took its generic path anyway) and
    numpy_vs_torch (medians of per-round ratios), vs_torch_low and vs_torch_high (the
    smallest and largest per-round ratio), vs_gemm_floor, goal, goal_ms (the goal as a
    time: goal x torch_ms, which no implementation meets if it is below the floor).
    """
    from threadpoolctl import threadpool_limits

    import gradflow.engine._fused._blas  # binds gradflow.engine (not imported by gradflow)

    engine = gradflow.engine.backend()
    if engine == "numba":  # load numba (and any BLAS it needs) before the thread limits
        gradflow.engine._fused.kernels("rnn")
        gradflow.engine._fused._blas.addresses()
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]  # timings of gradflow alone
    rows = []
    for shape in shapes:
        with threadpool_limits(limits=shape.threads):
            if torch is not None:
                torch.set_num_threads(shape.threads)
            for dtype in dtypes:
                for cell, nonlinearity in CELLS:
                    rows.append(_measure(shape, cell, nonlinearity, dtype, engine, torch,
                                         repeat))
    return rows


def native_kernels(shapes: tuple[Shape, ...] = SHAPES, repeat: int = 7) -> dict | None:
    """``benchmark(shapes)`` again in a child process whose environment lacks
    ``OPENBLAS_CORETYPE``, so that OpenBLAS picks its kernels for the CPU itself; None
    when this process's environment does not name them (the rows above are that already).

    Returns ``{"blas": describe(), "coretype": the child's OPENBLAS_CORETYPE (None),
    "rows": benchmark's rows}``.
    """
    if "OPENBLAS_CORETYPE" not in os.environ:
        return None
    import json
    import subprocess
    import sys
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        code = ("import json, os, sys\n"
                "from math import inf, nan\n"
                "from gradflow.bench import Shape, benchmark\n"
                "from gradflow._blas_info import describe\n"
                f"shapes = tuple(Shape(*s) for s in {[tuple(s) for s in shapes]!r})\n"
                f"rows = benchmark(shapes, repeat={repeat})\n"
                "with open(sys.argv[1], 'w') as f:\n"
                "    json.dump({'blas': describe(), 'rows': rows,"
                " 'coretype': os.environ.get('OPENBLAS_CORETYPE')}, f)\n")
        subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True)
        return json.loads(out.read_text(encoding="utf-8"))


def _measure(shape: Shape, cell: str, nonlinearity: str, dtype: str, engine: str, torch,
             repeat: int) -> dict:
    net, params, x, d_out = _problem(cell, nonlinearity, shape, dtype)

    def on(path):
        def run():
            with _engine(path):
                net.backward(params, net.forward(params, x), d_out)
        return run
    fns = {"gradflow": on(engine)}
    if engine != "numpy":
        fns["numpy"] = on("numpy")
    path = "-"
    if torch is not None:
        fns["torch"], path = _torch_step(torch, cell, params, x, d_out)
        if path != "ATen":   # also time torch's generic path, the same algorithm as ours
            fns["torch_generic"], _ = _torch_step(torch, cell, params, x, d_out,
                                                  onednn=False)
    settle = SETTLE if shape.threads > 1 else 0.0
    t = _alternate(fns, repeat, settle)
    G = cell_spec(cell).num_blocks
    floor = _gemm_floor(G, shape.T, shape.B, shape.I, shape.H, dtype, repeat, settle)
    nan = float("nan")
    ours, ref, theirs = t["gradflow"], t.get("numpy", t["gradflow"]), t.get("torch")
    generic = t.get("torch_generic", theirs)
    goal = shape.goal_f32 if dtype == "float32" else shape.goal_f64
    torch_ms = nan if theirs is None else 1e3 * float(np.median(theirs))
    return {
        "shape": shape.name, "label": shape.label(), "cell": cell, "dtype": dtype,
        "threads": shape.threads, "engine": engine, "torch_path": path,
        "gradflow_ms": 1e3 * float(np.median(ours)), "numpy_ms": 1e3 * float(np.median(ref)),
        "torch_ms": torch_ms,
        "gemm_floor_ms": 1e3 * floor,
        # The goal as a time: below the floor, no implementation on this BLAS meets it.
        "goal_ms": goal * torch_ms,
        "vs_torch": nan if theirs is None else float(np.median(ours / theirs)),
        # The extremes of the per-round ratios: with 7 rounds they hold the median ratio
        # with probability 1 - 2 / 2^7 = 98% whatever the noise's distribution.
        "vs_torch_low": nan if theirs is None else float(np.min(ours / theirs)),
        "vs_torch_high": nan if theirs is None else float(np.max(ours / theirs)),
        "vs_torch_generic": nan if generic is None else float(np.median(ours / generic)),
        "numpy_vs_torch": nan if theirs is None else float(np.median(ref / theirs)),
        "vs_gemm_floor": float(np.median(ours)) / floor,
        "goal": goal,
    }


def vanishing(shape: Shape = SHAPES[2], dtypes: tuple[str, ...] = DTYPES,
              repeat: int = 9) -> list[dict]:
    """Backward time with the loss on the last step over the same with a loss on every step.

    On the report's shape, per cell and dtype, for the active path and the NumPy
    reference. ``subnormal_fraction``: the share of the adjoint's entries that are
    subnormal on the reference path (the regime where IEEE arithmetic slows down).
    """
    from threadpoolctl import threadpool_limits

    import gradflow.engine._fused._blas  # binds gradflow.engine (not imported by gradflow)

    engine = gradflow.engine.backend()
    if engine == "numba":
        gradflow.engine._fused.kernels("rnn")
        gradflow.engine._fused._blas.addresses()
    paths = [engine] if engine == "numpy" else [engine, "numpy"]
    rows = []
    with threadpool_limits(limits=shape.threads):
        for dtype in dtypes:
            for cell, nonlinearity in CELLS:
                net, params, x, last = _problem(cell, nonlinearity, shape._replace(loss="last"),
                                                dtype)
                every = np.full_like(last, 1.0 / shape.T)
                row: dict[str, Any] = {"cell": cell, "dtype": dtype, "engine": engine}
                for path in paths:
                    with _engine(path):
                        trace = net.forward(params, x)
                        if path == "numpy":
                            adj = np.abs(next(iter(net.backward(params, trace, last)
                                                   .state_adjoints.values())))
                            tiny = np.finfo(dtype).tiny
                            row["subnormal_fraction"] = float(np.mean((adj > 0) & (adj < tiny)))

                    def back(d, path=path, trace=trace, net=net, params=params):
                        def run():
                            with _engine(path):
                                net.backward(params, trace, d)
                        return run
                    t = _alternate({"last": back(last), "every": back(every)}, repeat)
                    key = "gradflow" if path == engine else "numpy"
                    row[f"{key}_ratio"] = float(np.median(t["last"] / t["every"]))
                    row[f"{key}_every_ms"] = 1e3 * float(np.median(t["every"]))
                rows.append(row)
    return rows


def training_overhead(length: int = 400, hidden_size: int = 32, batch: int = 32,
                      steps: int = 60, repeat: int = 7) -> list[dict]:
    """Issue 15: what the training step around the engine costs.

    For each cell and dtype on the report's shape (adding problem, one thread):
    the median time of one ``train`` step (batch, forward, backward, head and
    loss, global norm, optimizer) against one forward + backward of the same
    network with a loss on the last step. The goal is an overhead of at most 10%.
    """
    from threadpoolctl import threadpool_limits

    import gradflow

    task = gradflow.tasks.AddingProblem(length=length)
    rows = []
    with threadpool_limits(limits=1):
        for cell in ("rnn", "lstm", "gru"):
            for dtype in DTYPES:
                net = gradflow.Network(cell, task.input_size, hidden_size, dtype=dtype)
                step, core, ratios = _overhead_case(net, task, batch, steps, repeat)
                rows.append({"cell": cell, "dtype": dtype, "train_ms": step * 1e3,
                             "engine_ms": core * 1e3, "overhead": float(np.median(ratios)) - 1,
                             "overhead_low": float(ratios.min()) - 1,
                             "overhead_high": float(ratios.max()) - 1})
    return rows


def _overhead_case(net: Any, task: Any, batch: int, steps: int, repeat: int
                   ) -> tuple[float, float, np.ndarray]:
    """Median seconds of one ``train`` step and of one forward + backward of ``net``, and
    their per-round ratios (train step / forward + backward). Each round times ``steps``
    of each, so both are averages over as many calls."""
    import gradflow
    from gradflow.engine.heads import split_params

    history = gradflow.train(net, task, steps=2, batch_size=batch, seed=0)
    params, _ = split_params(history.params)
    x = task.sample(np.random.default_rng(0), batch, "train")[0].astype(net.dtype)

    def engine() -> None:
        for _ in range(steps):
            trace = net.forward(params, x)
            d_out = np.zeros_like(trace.outputs)
            d_out[-1] = 1.0
            net.backward(params, trace, d_out)

    def one_run() -> None:
        gradflow.train(net, task, steps=steps, batch_size=batch, seed=0)

    times = _alternate({"engine": engine, "train": one_run}, repeat)
    return (float(np.median(times["train"])) / steps, float(np.median(times["engine"])) / steps,
            times["train"] / times["engine"])


def per_call_cost(length: int = 400, hidden_size: int = 32, batch: int = 32,
                  repeat: int = 15) -> list[dict]:
    """What batched replicas could save: the cost of a forward + backward call that is not
    per step.

    Running R independent parameter sets in one call (issue 15's "batched
    replicas") would share a call's fixed cost (Python, argument checks, the
    output arrays) among R runs; it cannot share the per-step work, since every
    replica has its own weights and so its own GEMMs and activations. On the
    report's shape (one thread), for each cell and dtype: the time of a call of
    one step (the fixed cost plus one step: an upper bound on the fixed cost)
    against a call of ``length`` steps, alternately. The ratio bounds what
    replicas could gain on the engine.
    """
    from threadpoolctl import threadpool_limits

    def call(cell: str, nonlinearity: str, dtype: str, T: int) -> Callable[[], object]:
        net, params, x, d_out = _problem(cell, nonlinearity, Shape(
            "calls", 2, hidden_size, batch, T, 1, "last", np.nan, np.nan), dtype)
        return lambda: net.backward(params, net.forward(params, x), d_out)

    rows = []
    with threadpool_limits(limits=1):
        for cell, nonlinearity in CELLS:
            for dtype in DTYPES:
                t = _alternate({"one": call(cell, nonlinearity, dtype, 1),
                                "full": call(cell, nonlinearity, dtype, length)}, repeat)
                one, full = float(np.median(t["one"])), float(np.median(t["full"]))
                rows.append({"cell": cell, "dtype": dtype, "T": length, "one_step_us": 1e6 * one,
                             "full_ms": 1e3 * full, "share": one / full})
    return rows


def gru_vs_lstm(length: int = 100, hidden_sizes: tuple[int, ...] = (32, 128), batch: int = 32,
                steps: int = 40, repeat: int = 5) -> list[dict]:
    """The lecture's "GRU is quicker to compute": one ``train`` step of each, alternately.

    Adding problem of length ``length``, float32, one thread, Adam; for each hidden
    size the median time of a training step (batch, forward, backward, head, norm,
    update) of the GRU and of the LSTM, their ratio (median of per-round ratios) and
    their exact parameter counts. The long-range analysis reports the steps to solve;
    the time per step, being machine-dependent, is measured here.
    """
    from threadpoolctl import threadpool_limits

    import gradflow

    task = gradflow.tasks.AddingProblem(length=length)
    rows = []
    with threadpool_limits(limits=1):
        for H in hidden_sizes:
            nets = {cell: gradflow.Network(cell, task.input_size, H, dtype="float32")
                    for cell in ("gru", "lstm")}

            def one_run(net: Any) -> Callable[[], object]:
                return lambda: gradflow.train(net, task, steps=steps, batch_size=batch,
                                              seed=0, progress=False)
            times = _alternate({cell: one_run(net) for cell, net in nets.items()}, repeat)
            count = {cell: sum(int(np.prod(shape)) for shape in net.param_shapes().values())
                     for cell, net in nets.items()}
            rows.append({"hidden": H, "T": length, "batch": batch,
                         "gru_ms": 1e3 * float(np.median(times["gru"])) / steps,
                         "lstm_ms": 1e3 * float(np.median(times["lstm"])) / steps,
                         "ratio": float(np.median(times["gru"] / times["lstm"])),
                         "gru_params": count["gru"], "lstm_params": count["lstm"]})
    return rows


def time_to_solve(cells: list[dict], table: Path) -> list[dict]:
    """Steps to solve (the report's long-range table) times the measured time per step.

    ``cells``: rows of :func:`gru_vs_lstm`; ``table``: the report's
    ``long_range-cells.csv``. One row per cell whose Kaplan-Meier median steps to
    solve the adding problem at the same T and hidden size 32 is finite there;
    empty when the table is missing.
    """
    if not table.is_file():
        return []
    import pandas as pd

    report = pd.read_csv(table)
    rows = []
    for r in cells:
        if r["hidden"] != 32:          # the long-range analysis trains H = 32
            continue
        for cell in ("gru", "lstm"):
            hit = report[(report.task == "adding") & (report.length == r["T"])
                         & (report.model == cell)]
            if len(hit) and np.isfinite(hit.median_step.iloc[0]):
                steps = float(hit.median_step.iloc[0])
                ms = r[f"{cell}_ms"]
                rows.append({"cell": cell, "T": r["T"], "hidden": r["hidden"], "steps": steps,
                             "ms": ms, "seconds": steps * ms / 1e3})
    return rows


def real_size_lyapunov(hidden_size: int = 1024, steps: int = 1000, exponents: int = 10,
                       threads: int = 1, repeat: int = 3) -> dict[str, float]:
    """Issue 16's goal: the top Lyapunov exponents of a real-size LSTM, matrix-free.

    An LSTM with ``hidden_size`` units (S = 2H), batch 1, float32, standard
    normal inputs over ``steps`` steps: the forward trace, then
    ``lyapunov_spectrum(net.jacobian_operator(...), k=exponents)``. Returns the
    median seconds of each part and the peak memory the spectrum allocated
    (tracemalloc, which NumPy reports to), against the dense ``(T, B, S, S)``
    Jacobians it avoids. One BLAS thread by default: at batch 1 each step is a
    matrix-vector-like product that a second thread does not speed up, and on a
    busy machine a threaded BLAS was measured 20x slower.
    """
    import tracemalloc

    from threadpoolctl import threadpool_limits

    import gradflow
    from gradflow.diagnostics import lyapunov_spectrum

    net = gradflow.Network("lstm", 32, hidden_size, dtype="float32")
    params = net.init(seed=0)
    x = np.random.default_rng(1).standard_normal((steps, 1, 32)).astype(np.float32)
    forward, spectrum, peak = [], [], 0
    with threadpool_limits(limits=threads):
        for _ in range(repeat):
            start = time.perf_counter()
            trace = net.forward(params, x)
            middle = time.perf_counter()
            tracemalloc.start()
            lyapunov_spectrum(net.jacobian_operator(params, trace), k=exponents,
                              warmup=steps // 10)
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            spectrum.append(time.perf_counter() - middle)
            forward.append(middle - start)
    S = 2 * hidden_size
    return {"hidden_size": hidden_size, "steps": steps, "exponents": exponents,
            "threads": threads, "forward_s": float(np.median(forward)),
            "spectrum_s": float(np.median(spectrum)), "peak_mib": peak / 2**20,
            "trace_mib": (trace.layers[0].cells[0].gates.nbytes * 2) / 2**20,
            "dense_gib": steps * S * S * 4 / 2**30}


def _cpu() -> str:
    """`` (CPU znver5, numba tuned for haswell)``: the host CPU as LLVM names it, and
    the target numba compiles gradflow's kernels for (not the BLAS's kernels, which
    ``_blas_info.describe`` names); empty without numba."""
    try:
        import numba
        from llvmlite import binding
    except ImportError:
        return ""
    host = binding.get_host_cpu_name()
    return f" (CPU {host}, numba tuned for {numba.config.CPU_NAME or host})"


def _goal_cell(r: dict) -> str:
    """The goal and its verdict, judged on every round, not the median alone.

    ``met``: every round's ratio is within the goal; ``not met``: none is, with
    why (the goal as a time, below this BLAS's GEMM floor or above it, and then how
    much it leaves beyond the floor against what gradflow spends there); ``within
    the noise``: the rounds straddle it (their extremes hold the median ratio with
    98% probability over 7 rounds, see ``_measure``).
    """
    if not np.isfinite(r["goal"]):
        return "-"
    if not np.isfinite(r["vs_torch"]):
        return f"{r['goal']:.2f}"
    verdict = _judge(r.get("vs_torch_low", r["vs_torch"]),
                     r.get("vs_torch_high", r["vs_torch"]), r["goal"])
    if verdict != "not met":
        return f"{r['goal']:.2f} {verdict}"
    if r["goal_ms"] < r["gemm_floor_ms"]:
        where = "below the GEMM floor: out of reach on this BLAS"
    else:
        where = (f"above the GEMM floor: it leaves {r['goal_ms'] - r['gemm_floor_ms']:.1f} ms "
                 f"for all but the GEMMs, which take "
                 f"{r['gradflow_ms'] - r['gemm_floor_ms']:.1f} ms in gradflow")
    return f"{r['goal']:.2f} not met ({r['goal_ms']:.2f} ms, {where})"


def _judge(low: float, high: float, goal: float) -> str:
    """``met`` if every round (``low`` .. ``high``) is within ``goal``, ``not met`` if none
    is, ``within the noise`` if they straddle it."""
    if high <= goal:
        return "met"
    return "within the noise" if low <= goal else "not met"


def _verdict(r: dict, goal: float) -> str:
    """A training-overhead goal judged on every round, as ``_goal_cell`` judges ratios."""
    return _judge(r["overhead_low"], r["overhead_high"], goal)


def _ratio_cell(r: dict) -> str:
    """``0.71 (0.66-0.75)``: the median per-round ratio and the rounds' extremes."""
    if "vs_torch_low" not in r or not np.isfinite(r["vs_torch"]):
        return f"{r['vs_torch']:.2f}"
    return f"{r['vs_torch']:.2f} ({r['vs_torch_low']:.2f}-{r['vs_torch_high']:.2f})"


def _markdown(rows: list[dict], vrows: list[dict]) -> list[str]:
    lines = []
    for shape in dict.fromkeys(r["label"] for r in rows):
        lines += [f"**{shape}**", "",
                  "| cell | dtype | gradflow ms | torch ms | torch path "
                  "| gradflow / torch (rounds' range) "
                  "| goal | gradflow / torch's generic path | NumPy path / torch "
                  "| GEMM floor ms | gradflow / floor |",
                  "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows:
            if r["label"] != shape:
                continue
            goal = _goal_cell(r)
            lines.append(
                f"| {r['cell']} | {r['dtype']} | {r['gradflow_ms']:.2f} | {r['torch_ms']:.2f} "
                f"| {r['torch_path']} | {_ratio_cell(r)} | {goal} "
                f"| {r['vs_torch_generic']:.2f} | {r['numpy_vs_torch']:.2f} "
                f"| {r['gemm_floor_ms']:.2f} | {r['vs_gemm_floor']:.2f} |")
        lines.append("")
    if vrows:
        lines += ["**Vanishing vs non-vanishing backward** (report's shape; backward alone, "
                  "loss on the last step / loss on every step; median of per-round ratios; "
                  f"goal <= {VANISHING_GOAL})", "",
                  "| cell | dtype | subnormal share of the adjoint (NumPy path) "
                  "| gradflow ratio | NumPy path ratio |",
                  "| --- | --- | ---: | ---: | ---: |"]
        for r in vrows:
            lines.append(f"| {r['cell']} | {r['dtype']} | {r.get('subnormal_fraction', 0):.1%} "
                         f"| {r['gradflow_ratio']:.2f} "
                         f"| {r.get('numpy_ratio', float('nan')):.2f} |")
        lines.append("")
    return lines


def _check_args(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` for a given size or count below 1."""
    for name in ("T", "B", "hidden_size", "input_size", "repeat", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "-" + name if len(name) == 1 else "--" + name.replace("_", "-")
            raise UsageError(f"{flag} must be >= 1; got {value}")


def _is_custom(args: argparse.Namespace) -> bool:
    """Whether the command line gives a shape of its own (then only that shape is timed)."""
    return any(getattr(args, n) is not None for n in ("T", "B", "hidden_size", "input_size",
                                                     "threads"))


def _shapes(args: argparse.Namespace, custom: bool) -> tuple[Shape, ...]:
    """Issue 15's shapes, or the one custom shape the command line gives."""
    shapes: tuple[Shape, ...] = SHAPES
    if custom:
        H = args.hidden_size or 128
        shapes = (Shape("custom", args.input_size or H, H, args.B or 32, args.T or 100,
                        args.threads or 1, "every", float("nan"), float("nan")),)
    return shapes


def _libraries() -> str:
    """The BLAS with its kernels, then the other thread pools, comma-separated."""
    from threadpoolctl import threadpool_info

    from gradflow._blas_info import describe as describe_blas
    return ", ".join(describe_blas() + sorted(  # the BLAS with its kernels, then the rest
        {f"{i['internal_api']} {i.get('version')}" for i in threadpool_info()
         if i.get("user_api") != "blas"}))


def _torch_version() -> str:
    """torch's version string, or ``"not installed"``."""
    try:
        import torch
        return str(torch.__version__)
    except ImportError:
        return "not installed"


def _overhead_lines(overhead: list[dict]) -> list[str]:
    """The training-step overhead table (issue 15)."""
    lines = ["", "**The training step around the engine** (issue 15: at most 10% of "
             "forward + backward): one `train` step (batch, forward, backward, head and "
             "loss, global norm, Adam) against one forward + backward, adding problem "
             "T = 400, H = 32, B = 32, 1 thread; 7 rounds of 60 of each, judged on "
             "every round as the goals above", "",
             "| cell | dtype | train step ms | forward + backward ms "
             "| overhead (rounds' range) | goal |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['cell']} | {r['dtype']} | {r['train_ms']:.2f} | {r['engine_ms']:.2f} | "
              f"{100 * r['overhead']:.0f}% ({100 * r['overhead_low']:.0f}% to "
              f"{100 * r['overhead_high']:.0f}%) | {_verdict(r, 0.10)} |" for r in overhead]
    return lines


def _calls_lines(calls: list[dict]) -> list[str]:
    """The per-call fixed cost table: what batched replicas could save (issue 15)."""
    lines = ["", "**What batched replicas could save** (issue 15): R parameter sets in one "
             "call would share a call's fixed cost, not its per-step work (each replica has "
             "its own weights, so its own GEMMs and activations). A call of one step (its "
             "fixed cost plus one step) against a call of "
             f"T = {calls[0]['T']} steps, report's shape (H = 32, B = 32), 1 thread:", "",
             "| cell | dtype | one-step call us | full call ms | at most |",
             "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r['cell']} | {r['dtype']} | {r['one_step_us']:.0f} | {r['full_ms']:.2f} "
              f"| {100 * r['share']:.1f}% |" for r in calls]
    lines += ["", "So on the engine batched replicas could gain at most the last column, "
              "and on a training step at most that plus the step's overhead above; the "
              "sweep already runs one configuration per core. They are not built (issue "
              "15's closing note)."]
    return lines


def _cells_lines(cells: list[dict]) -> list[str]:
    """The GRU vs LSTM step-time table and, where the report has it, the time to solve."""
    lines = ["", "**GRU vs LSTM, time per training step** (the lecture: \"GRU is quicker "
             "to compute with fewer parameters\"): one `train` step (Adam) on the adding "
             f"problem, T = {cells[0]['T']}, batch {cells[0]['batch']}, float32, 1 thread, "
             "the two cells timed alternately", "",
             "| H | GRU ms | LSTM ms | GRU / LSTM | GRU parameters | LSTM parameters |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['hidden']} | {r['gru_ms']:.2f} | {r['lstm_ms']:.2f} | "
              f"{r['ratio']:.2f} | {r['gru_params']} | {r['lstm_params']} |" for r in cells]
    solve = time_to_solve(cells, Path("reports/tables/long_range-cells.csv"))
    if solve:
        lines += ["", "Time to solve, this machine: " + "; ".join(
            f"the {r['cell'].upper()} solves the adding problem at T = {r['T']} (H = "
            f"{r['hidden']}) in a Kaplan-Meier median of {r['steps']:.0f} steps "
            f"(`reports/tables/long_range-cells.csv`) x {r['ms']:.2f} ms = "
            f"{r['seconds']:.1f} s" for r in solve) + " (training steps only, the "
            "held-out checks every 50 steps not counted)."]
    return lines


def _native_lines(native: dict) -> list[str]:
    """The same comparison under OpenBLAS's own choice of kernels."""
    lines = ["", f"**With OpenBLAS's own choice of kernels**: this machine's environment "
             f"sets OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} (the rows above); "
             "the same comparison in a child process without it, where OpenBLAS took "
             f"{', '.join(native['blas'])}. gradflow's GEMMs (and the floor) run on these "
             "kernels; torch's are its own and do not change. The report is computed "
             "with the environment's kernels, as above.", ""]
    return lines + _markdown(native["rows"], [])


def _real_lines(real: dict) -> list[str]:
    """The real-size matrix-free Lyapunov spectrum's time and memory (issue 16)."""
    total = real["forward_s"] + real["spectrum_s"]
    lines = ["", f"**Matrix-free Lyapunov spectrum of a real-size model** (issue 16: "
             f"goal under 15 s and 1 GiB): the top {real['exponents']} exponents of an "
             f"LSTM with H = {real['hidden_size']} (S = {2 * real['hidden_size']}) over "
             f"T = {real['steps']} steps, batch 1, float32, {real['threads']} threads: "
             f"forward {real['forward_s']:.2f} s + spectrum {real['spectrum_s']:.2f} s "
             f"= {total:.2f} s ({'met' if total < 15 else 'not met'}); the spectrum "
             f"allocated at most {real['peak_mib']:.0f} MiB beyond the trace "
             f"(~{real['trace_mib']:.0f} MiB), where the dense Jacobians would take "
             f"{real['dense_gib']:.0f} GiB "
             f"({'met' if real['peak_mib'] < 1024 else 'not met'})."]
    from gradflow.bench_lyapunov import lyapunov_lines
    return lines + lyapunov_lines()


def _page(head: str, lines: list[str]) -> list[str]:
    """The lines of ``docs``' engine-speed page: its preamble, the machine, then ``lines``."""
    import platform
    return ["# Engine speed", "",
            "Generated by `make bench` (`gradflow bench`). Timings depend on the machine "
            "and its load; they are measured, never asserted in tests, and are not part "
            "of the byte-reproducible report. gradflow and torch run alternately in one "
            "process on the same threads; a ratio is the median of per-round ratios. With "
            f"more than one thread each contender first runs untimed for {SETTLE} s: both "
            "libraries leave their worker threads spinning for a while after a call, and "
            "a contender timed right after the other competes with them for the cores "
            "(torch's float32 LSTM at H = 128 was measured 2x slower right after gradflow: "
            "strict alternation favoured gradflow). "
            "The settled time is the one a user of either library sees.", "",
            f"Machine: {platform.machine()}{_cpu()}, {platform.python_implementation()} "
            f"{platform.python_version()}; {head}.", "",
            "The GEMM floor is the time of the matrix products alone (input projections, "
            "the sequential recurrent products forward and backward, weight gradients): "
            "no implementation of the recurrence can go below it on this BLAS. Goals "
            "(issue 15): gradflow / torch at most 0.3 on the report's shape, 1.1 "
            "(float32) and 0.7 (float64) on the larger ones. A goal is met when every "
            "round's ratio is within it, not met when none is, and within the noise when "
            "the rounds straddle it (the smallest and largest of 7 per-round ratios hold "
            "the median ratio with 98% probability, whatever the noise). A goal not met "
            "is also given as a time (goal x torch's time): where that is below the GEMM "
            "floor, no implementation that calls this BLAS for its matrix products can "
            "meet it; where it is above, the cell says how much time the goal leaves "
            "beyond the floor (for the elementwise work, the bias sums, memory traffic) "
            "and how much gradflow spends there.", "",
            "The torch path is read from torch's autograd graph: on CPU torch runs the "
            "LSTM in float32 through oneDNN's fused RNN kernel (\"oneDNN\") and every "
            "other cell and dtype through its generic per-step path (\"ATen\"), the "
            "same algorithm as gradflow's. Where torch took oneDNN, the column \"gradflow "
            "/ torch's generic path\" times torch again with oneDNN switched off: the "
            "like-for-like comparison; the goal is judged against the faster of the two "
            "(the torch column).", "",
            *lines]


def _run(args: argparse.Namespace) -> int:
    _check_args(args)
    custom = _is_custom(args)
    shapes = _shapes(args, custom)
    import gradflow.engine

    # The bench opts in to glibc keeping freed memory (as torch's caching allocator does);
    # gradflow never does so on its own.
    malloc = "glibc keeps freed memory" if gradflow.engine.keep_freed_memory() else \
        "allocator as left"
    load_before = os.getloadavg()
    rows = benchmark(shapes, repeat=args.repeat)
    vrows = [] if custom else vanishing(repeat=max(args.repeat, 9))
    real = None if custom else real_size_lyapunov()
    overhead = [] if custom else training_overhead()
    calls = [] if custom else per_call_cost()
    native = None if custom else native_kernels(repeat=args.repeat)
    cells = [] if custom else gru_vs_lstm()
    load_after = os.getloadavg()
    blas = _libraries()
    head = (f"engine path: {gradflow.engine.current_backend().key}; forward + full backward; "
            f"median of {args.repeat} alternating rounds; {blas}; {malloc}; "
            f"torch {_torch_version()}; "
            f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before and "
            f"{load_after[0]:.1f} after")
    lines = _markdown(rows, vrows)
    if overhead:
        lines += _overhead_lines(overhead)
    if calls:
        lines += _calls_lines(calls)
    if cells:
        lines += _cells_lines(cells)
    if native is not None:
        lines += _native_lines(native)
    if real is not None:
        lines += _real_lines(real)
    print(head)
    print("\n".join(lines))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(_page(head, lines)), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        "bench", help="time the engine against PyTorch and the GEMM floor (make bench)",
        description="Forward+backward timings of each cell against PyTorch, on issue 15's "
                    "shapes (or one given with -T/-B/--hidden-size); never asserted in tests.")
    parser.add_argument("-T", type=int, default=None, help="sequence length (one custom shape)")
    parser.add_argument("-B", type=int, default=None, help="batch size (one custom shape)")
    parser.add_argument("--hidden-size", type=int, default=None,
                        help="hidden size (one custom shape; default 128 there)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="input size (one custom shape; default: the hidden size)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and torch threads of the custom shape (default 1)")
    parser.add_argument("--repeat", type=int, default=7,
                        help="alternating timed rounds, median taken (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the tables as Markdown to this file")
    parser.set_defaults(func=_run)
