"""The bench's hand-written torch J Q loop computes what lyapunov_spectrum computes (its
timings are never asserted)."""

import numpy as np
import pytest

import gradflow
from gradflow.bench_lyapunov import torch_lyapunov
from gradflow.diagnostics import lyapunov_spectrum

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_the_torch_loop_equals_the_matrix_free_spectrum(dtype, rtol):
    net = gradflow.Network("lstm", 3, 8, dtype=dtype)
    params = net.init(seed=2)
    x = np.random.default_rng(0).standard_normal((60, 1, 3)).astype(dtype)
    trace = net.forward(params, x)
    ours = lyapunov_spectrum(net.jacobian_operator(params, trace), k=5, warmup=6,
                             sort=False)[0]
    theirs = torch_lyapunov(torch, params["weight_hh_l0"], trace.layers[0].cells[0], 5, 6)
    np.testing.assert_allclose(theirs, ours, rtol=rtol, atol=1e-6 if dtype == "float32" else 0)
