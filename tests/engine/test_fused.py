"""The fused numba path equals the NumPy reference, and the engine selector works.

The reference is the plain NumPy code of the cells (``use_backend("numpy")``);
the fused path (``"numba"``) must give the same traces and gradients to
round-off: float64 within 1e-12 relative (their ``tanh`` differs in the last
bit or two), float32 within 2e-5 relative (a few float32 ulps, amplified
through the steps). Also: finite differences through the fused path, the
vectorized ``tanh`` against NumPy's, and subnormal flushing (an opt-in).
"""

import numpy as np
import pytest

import gradflow
from gradflow.engine import backends, use_backend

from ._common import ALL_CELLS, CELL_IDS, check_all_gradients, random_problem

numba = pytest.importorskip("numba")
from gradflow.engine._fused._math import tanh_f  # noqa: E402  (needs numba)

RTOL = {"float64": 1e-12, "float32": 2e-5}


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if b.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def run(engine, net, params, x, state, d_out, d_final):
    """Forward and backward of ``net`` on the engine path ``engine``."""
    with use_backend(engine):
        assert gradflow.engine.backend() == engine
        trace = net.forward(params, x, state)
        return trace, net.backward(params, trace, d_out, d_final)


def flat_arrays(trace, grads):
    """Every array of a trace and its gradients, with a name, for comparison."""
    out = []
    for layer, lt in enumerate(trace.layers):
        for d, cell_trace in enumerate(lt.cells):
            out += [(f"layer {layer} dir {d} trace.{f}", v)
                    for f, v in zip(cell_trace._fields, cell_trace, strict=True)
                    if isinstance(v, np.ndarray)]   # not the GRU trace's variant flag
    out += [(f"grads.params[{k}]", v) for k, v in grads.params.items()]
    out += [("grads.inputs", grads.inputs)]
    init = grads.initial_state if isinstance(grads.initial_state, tuple) else \
        (grads.initial_state,)
    out += [(f"grads.initial_state[{i}]", v) for i, v in enumerate(init)]
    out += [(f"grads.state_adjoints[{k}]", v) for k, v in grads.state_adjoints.items()]
    return out


def assert_paths_agree(net, rng, T=6, B=3, rtol=None):
    x, state, d_out, d_final = random_problem(net, rng, T, B)
    if net.dtype == "float32":
        x, d_out = x.astype(np.float32), d_out.astype(np.float32)
    params = net.init(seed=7)
    ref = run("numpy", net, params, x, state, d_out, d_final)
    fused = run("numba", net, params, x, state, d_out, d_final)
    rtol = RTOL[net.dtype] if rtol is None else rtol
    for (name, a), (_, b) in zip(flat_arrays(*fused), flat_arrays(*ref), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert rel_err(a, b) < rtol, f"{name}: relative difference {rel_err(a, b):.2e}"
    for f, r in zip(fused, ref, strict=True):   # Trace and Grads as wholes, same structure
        assert type(f) is type(r)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (3, False),
                                                      (2, True)])
def test_fused_path_equals_the_numpy_reference(rng, cell, options, dtype,
                                               num_layers, bidirectional):
    net = gradflow.Network(cell, input_size=3, hidden_size=5, num_layers=num_layers,
                           bidirectional=bidirectional, dtype=dtype, **options)
    assert_paths_agree(net, rng)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("T,B", [(1, 1), (1, 4), (5, 1)])
def test_fused_path_edge_shapes(rng, cell, options, T, B):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, bidirectional=True, **options)
    assert_paths_agree(net, rng, T=T, B=B)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_fused_path_long_sequence_wide_layer(rng, cell, options):
    """Widths that are no multiple of the SIMD width, and 200 steps of round-off."""
    net = gradflow.Network(cell, input_size=4, hidden_size=37, **options)
    assert_paths_agree(net, rng, T=200, B=9, rtol=1e-10)


@pytest.mark.parametrize("connection", ["residual", "dense", "highway"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_fused_path_with_connections(rng, connection, cell):
    net = gradflow.Network(cell, input_size=2, hidden_size=4, num_layers=3,
                           bidirectional=True, connection=connection)
    assert_paths_agree(net, rng)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_fused_gradients_equal_finite_differences(rng, cell, options):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, num_layers=2,
                           bidirectional=True, **options)
    with use_backend("numba"):
        check_all_gradients(net, net.init(seed=4), rng)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_fused_trace_feeds_the_step_jacobians(rng, cell, options):
    """The fused trace is the reference's, so the Jacobians built from it agree."""
    net = gradflow.Network(cell, input_size=2, hidden_size=4, **options)
    params = net.init(seed=2)
    x = rng.standard_normal((5, 2, 2))
    jac = {}
    for engine in ("numpy", "numba"):
        with use_backend(engine):
            jac[engine] = net.step_jacobians(params, net.forward(params, x))
    assert rel_err(jac["numba"], jac["numpy"]) < 1e-12


# ---- the step GEMM ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_gemm_through_numpys_blas_equals_matmul_and_the_np_dot_fallback(rng, dtype):
    from gradflow.engine._fused._blas import blas_address, gemm

    address = blas_address(dtype)   # 0 where NumPy's BLAS exports no ILP64 cblas_?gemm
    a = rng.standard_normal((6, 5)).astype(dtype)
    w = rng.standard_normal((12, 5)).astype(dtype)       # (G*H, H): rows of gate blocks
    for addr in (address, 0):                           # 0: numba's np.dot (SciPy's BLAS)
        out = np.empty((6, 8), dtype)
        gemm(addr, a, w[4:], out, True)                 # a @ w[4:].T, a row block as in GRU
        np.testing.assert_allclose(out, a @ w[4:].T, rtol=1e-5 if dtype == np.float32 else 1e-14)
        back = np.empty((6, 5), dtype)
        gemm(addr, out, w[4:], back, False)             # out @ w[4:]
        np.testing.assert_allclose(back, out @ w[4:], rtol=1e-5 if dtype == np.float32 else 1e-14)


# ---- the vectorized tanh ----------------------------------------------------------


@numba.njit(cache=False, error_model="numpy")
def _tanh_all(v):
    for k in range(v.size):
        v[k] = tanh_f(v[k])


@pytest.mark.parametrize("dtype,ulps", [(np.float64, 2.5), (np.float32, 2.0)])
def test_vectorized_tanh_is_accurate_to_the_dtype(dtype, ulps):
    grid = np.concatenate([np.linspace(-25, 25, 200_001),
                           np.geomspace(np.finfo(dtype).tiny, 30, 20_001),
                           -np.geomspace(1e-30, 30, 2_001)]).astype(dtype)
    got = grid.copy()
    _tanh_all(got)
    exact = np.tanh(grid.astype(np.float64))
    err = np.abs(got - exact) / np.maximum(np.abs(exact), np.finfo(dtype).tiny)
    assert err.max() < ulps * np.finfo(dtype).eps


def test_vectorized_tanh_special_values():
    v = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1e300])
    _tanh_all(v)
    assert np.isnan(v[0])
    np.testing.assert_array_equal(v[1:], [1.0, -1.0, 0.0, -0.0, 5e-324, 1.0])
    assert np.signbit(v[4])


# ---- subnormals -----------------------------------------------------------------


def _vanishing_adjoint(rng, **backend):
    """|dL/ds_t| of a float32 RNN with a loss on the last step only: it dies out back in time."""
    net = gradflow.Network("rnn", input_size=2, hidden_size=16, dtype="float32")
    params = net.init(seed=0, scheme="gaussian", gain=0.3)
    x = rng.standard_normal((300, 4, 2)).astype(np.float32)
    with use_backend("numba", **backend):
        trace = net.forward(params, x)
        d_out = np.zeros_like(trace.outputs)
        d_out[-1] = 1.0
        return np.abs(net.backward(params, trace, d_out).state_adjoints[(0, 0)])


def test_vanishing_float32_adjoint_is_flushed_when_asked(rng):
    """With ``flush_subnormals=True`` every value below float32's smallest normal number
    is exactly 0 (no subnormals), and the caller's floating-point mode is as it was
    afterwards."""
    adj = _vanishing_adjoint(rng, flush_subnormals=True)
    tiny = np.finfo(np.float32).tiny
    assert (adj[0] == 0).all() and adj[-1].min() > 0           # it did vanish
    assert not ((adj > 0) & (adj < tiny)).any()                 # through zero, not subnormals
    # Outside the engine, subnormal arithmetic is IEEE again.
    assert np.float32(tiny) * np.float32(0.25) > 0


def test_by_default_the_kernels_keep_subnormals_as_the_reference_does(rng):
    """Flushing is an opt-in: by default the fused adjoint passes through the subnormal
    range, as the NumPy path's does, and so reads below the flush floor."""
    adj = _vanishing_adjoint(rng)
    tiny = np.finfo(np.float32).tiny
    assert ((adj > 0) & (adj < tiny)).any()
    flushed = _vanishing_adjoint(np.random.default_rng(20261126), flush_subnormals=True)
    # Far from the subnormal range (the last 50 steps here), flushing changes no bit.
    np.testing.assert_array_equal(adj[-50:], flushed[-50:])
    assert not np.array_equal(adj, flushed)


def test_flush_block_restores_the_mode_after_an_error():
    from gradflow.engine._fused._ftz import flush_subnormals

    with pytest.raises(RuntimeError), flush_subnormals():
        assert np.float64(2.2250738585072014e-308) * 0.5 == 0.0
        raise RuntimeError("inside")
    assert np.float64(2.2250738585072014e-308) * 0.5 > 0


def test_flush_block_disabled_changes_nothing():
    from gradflow.engine._fused._ftz import flush_subnormals

    with flush_subnormals(False):
        assert np.float64(2.2250738585072014e-308) * 0.5 > 0


# ---- the selector -----------------------------------------------------------------


def test_use_backend_holds_in_its_block_only():
    outside = gradflow.engine.current_backend()
    with use_backend("numpy") as chosen:
        assert chosen == gradflow.engine.Backend("numpy")
        assert gradflow.engine.backend() == "numpy"
        with use_backend("numba", flush_subnormals=True):
            assert gradflow.engine.current_backend().key == "numba+ftz"
        assert gradflow.engine.backend() == "numpy"
    assert gradflow.engine.current_backend() == outside


def test_use_backend_holds_in_this_thread_only():
    import threading

    seen = {}
    with use_backend("numpy"):
        thread = threading.Thread(target=lambda: seen.update(b=gradflow.engine.backend()))
        thread.start()
        thread.join()
    assert seen["b"] == gradflow.engine.default_backend().name


@pytest.mark.parametrize("key", ["numba", "numba+ftz", "numpy"])
def test_backend_keys_round_trip(key):
    assert gradflow.engine.Backend.from_key(key).key == key


@pytest.mark.parametrize("bad,match", [
    ("cuda", r"backend must be one of 'numba', 'numpy'; got 'cuda'"),
    ("numpy+ftz", r"flush_subnormals=True needs backend 'numba'.*got backend 'numpy'"),
    (3, r"backend must be a Backend or one of 'numba', 'numba\+ftz', 'numpy'; got 3"),
])
def test_use_backend_rejects_what_is_not_a_backend(bad, match):
    with pytest.raises(gradflow.UsageError, match=match), use_backend(bad):
        pass


def test_a_backend_takes_its_flush_setting_inside_it():
    with pytest.raises(gradflow.UsageError, match="give flush_subnormals in the Backend"), \
            use_backend(gradflow.engine.Backend("numba"), flush_subnormals=True):
        pass
    with pytest.raises(gradflow.UsageError, match="flush_subnormals must be True or False"):
        gradflow.engine.Backend("numba", flush_subnormals="yes")


def test_without_numba_the_numpy_path_runs_and_says_so_once(monkeypatch, capsys, rng):
    monkeypatch.setattr(backends, "_numba_found", False)
    monkeypatch.setattr(backends, "_default", None)
    net = gradflow.Network("gru", input_size=2, hidden_size=3)
    params = net.init(seed=0)
    for _ in range(2):
        assert backends.default_backend().name == "numpy"
        assert gradflow.engine.backend() in ("numpy", "numba")   # the suite's --engine wins
        net.backward(params, net.forward(params, rng.standard_normal((3, 2, 2))))
    err = capsys.readouterr().err
    assert err.count("numba is not importable") == 1
    with pytest.raises(gradflow.UsageError, match="backend 'numba' needs numba, which is not "
                                                  "importable here"):
        gradflow.engine.Backend("numba")


def test_the_suite_runs_on_the_path_it_was_asked_for(request):
    """``pytest --engine numpy`` (or ``numba``, ``numba+ftz``) runs every test on that path."""
    wanted = request.config.getoption("--engine")
    if wanted is None:
        wanted = gradflow.engine.default_backend().key
    assert gradflow.engine.current_backend().key == wanted
