"""Optimizers against their closed forms (and torch), clipping, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradflow.optim import (
    SGD,
    Adam,
    RMSprop,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
    make_optimizer,
)


def _p(value):
    return {"w": np.array([value], dtype=np.float64)}


def _run(opt, grads_seq, p0=0.0):
    params, state = _p(p0), opt.init(_p(p0))
    out = []
    for g in grads_seq:
        params, state = opt.update(_p(g), state, params)
        out.append(float(params["w"][0]))
    return out, state


# ---- closed forms on hand-checked examples -------------------------------------------


def test_sgd_plain():
    out, state = _run(SGD(lr=0.1), [2.0, -1.0])
    assert out == pytest.approx([-0.2, -0.1])
    assert state.step == 2


def test_sgd_momentum():
    # b1 = g1 = 1; b2 = 0.9*1 + 2 = 2.9: p = -0.5*1 - 0.5*2.9.
    out, _ = _run(SGD(lr=0.5, momentum=0.9), [1.0, 2.0])
    assert out == pytest.approx([-0.5, -0.5 - 1.45])


def test_rmsprop():
    # v1 = 0.1*4 = 0.4; v2 = 0.9*0.4 + 0.1*1 = 0.46.
    out, state = _run(RMSprop(lr=0.1, alpha=0.9, eps=1e-12), [2.0, 1.0])
    assert out[0] == pytest.approx(-0.1 * 2 / np.sqrt(0.4))
    assert out[1] == pytest.approx(out[0] - 0.1 * 1 / np.sqrt(0.46))
    assert state.square_avg["w"][0] == pytest.approx(0.46)


def test_adam():
    # b1 = 1/2, b2 = 3/4; g = 1, 3.  Step 1: m_hat = 1, v_hat = 1: a step of lr.
    # Step 2: m = 1/4 + 3/2 = 7/4, v = 3/16 + 9/4 = 39/16; m_hat = 7/3, v_hat = 39/7.
    out, state = _run(Adam(lr=1.0, beta1=0.5, beta2=0.75, eps=1e-15), [1.0, 3.0])
    assert out[0] == pytest.approx(-1.0, rel=1e-12)
    assert out[1] == pytest.approx(-1.0 - (7 / 3) / np.sqrt(39 / 7), rel=1e-12)
    assert state.step == 2
    assert state.m["w"][0] == pytest.approx(7 / 4)
    assert state.v["w"][0] == pytest.approx(39 / 16)


@pytest.mark.parametrize("opt", [SGD(0.1), SGD(0.1, momentum=0.5), RMSprop(0.1), Adam(0.1)])
def test_update_is_functional(rng, opt):
    params = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    before = {k: v.copy() for k, v in {**params, **{"g" + k: g for k, g in grads.items()}}.items()}
    state = opt.init(params)
    new, new_state = opt.update(grads, state, params)
    again, _ = opt.update(grads, state, params)
    for k in params:
        assert np.array_equal(params[k], before[k])
        assert np.array_equal(grads[k], before["g" + k])
        assert new[k].tobytes() == again[k].tobytes()
    assert state.step == 0 and new_state.step == 1


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_matches_torch(rng, name):
    torch = pytest.importorskip("torch")
    kwargs = {"sgd": {"momentum": 0.9}, "rmsprop": {"alpha": 0.95}, "adam": {}}[name]
    opt = make_optimizer(name, 0.05, **kwargs)
    p0 = rng.standard_normal((3, 2))
    tp = torch.nn.Parameter(torch.tensor(p0))
    topt = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
            "adam": torch.optim.Adam}[name]([tp], lr=0.05, **kwargs)
    params, state = {"p": p0}, opt.init({"p": p0})
    for _ in range(5):
        g = rng.standard_normal((3, 2))
        params, state = opt.update({"p": g}, state, params)
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(params["p"], tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# ---- clipping -------------------------------------------------------------------------


def test_global_norm_is_joint():
    assert global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])}) == 5.0
    assert global_norm({"a": np.full(4, 1e200)}) == pytest.approx(2e200)
    assert np.isnan(global_norm({"a": np.array([np.nan, np.inf])}))
    assert global_norm({"a": np.array([1.0, -np.inf])}) == np.inf


def test_clip_keeps_direction_and_caps_norm_exactly(rng):
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    norm = global_norm(grads)
    clipped, before = clip_by_global_norm(grads, norm / 3)
    assert before == norm
    assert global_norm(clipped) == pytest.approx(norm / 3, rel=1e-14)
    for k in grads:  # the same direction: a positive multiple
        np.testing.assert_allclose(clipped[k], grads[k] / 3, rtol=1e-14)


def test_clip_below_threshold_is_identity(rng):
    grads = {"a": rng.standard_normal(4)}
    clipped, norm = clip_by_global_norm(grads, 2 * global_norm(grads))
    assert clipped["a"] is grads["a"]
    # At the threshold Algorithm 1 (">=") rescales, by exactly 1: a new array, same values;
    # a ">" would hand back the input itself.
    clipped, _ = clip_by_global_norm(grads, norm)
    assert clipped["a"] is not grads["a"]
    np.testing.assert_allclose(clipped["a"], grads["a"], rtol=1e-15)


def test_clip_leaves_non_finite_to_the_caller():
    grads = {"a": np.array([np.inf, 1.0])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == np.inf and clipped["a"] is grads["a"]


def test_clip_by_value():
    out = clip_by_value({"a": np.array([-3.0, 0.5, 2.0])}, 1.0)
    assert out["a"].tolist() == [-1.0, 0.5, 1.0]


@pytest.mark.parametrize("bad", [-1.0, 0.0])
def test_clip_threshold_must_be_positive(bad):
    with pytest.raises(ValueError, match=f"clip threshold must be > 0.0; got {bad}"):
        clip_by_global_norm({"a": np.ones(2)}, bad)
    with pytest.raises(ValueError, match="clip threshold must be > 0.0"):
        clip_by_value({"a": np.ones(2)}, bad)


# ---- bad input --------------------------------------------------------------------------


def test_make_optimizer():
    assert make_optimizer("adam") == Adam(lr=1e-3)
    assert make_optimizer("sgd", 0.5, momentum=0.9) == SGD(0.5, 0.9)
    opt = RMSprop(0.1)
    assert make_optimizer(opt) is opt
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'rmsprop', 'adam'; "
                                         "got 'adagrad'"):
        make_optimizer("adagrad")
    with pytest.raises(TypeError, match="optimizer must be one of"):
        make_optimizer(3)
    with pytest.raises(ValueError, match="lr and optimizer options go into the optimizer"):
        make_optimizer(opt, lr=0.1)
    with pytest.raises(ValueError, match="optimizer options for 'sgd' must be among momentum; "
                                         "got beta1"):
        make_optimizer("sgd", 0.1, beta1=0.9)


def test_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"lr must be > 0.0; got -0.1"):
        Adam(lr=-0.1)
    with pytest.raises(ValueError, match="momentum must be < 1; got 1.0"):
        SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="beta2 must be < 1"):
        Adam(beta2=1.0)
    with pytest.raises(ValueError, match="eps must be > 0.0"):
        RMSprop(eps=0.0)


def test_grads_must_match_params():
    opt = SGD(0.1)
    with pytest.raises(ValueError, match=r"same names as params; missing \['b'\]"):
        opt.update({"a": np.ones(1)}, opt.init({"a": np.ones(1), "b": np.ones(1)}),
                   {"a": np.ones(1), "b": np.ones(1)})


@pytest.mark.parametrize("opt", [SGD(0.1), SGD(0.1, momentum=0.5), RMSprop(0.1), Adam(0.1)])
def test_parameters_keep_their_dtype(opt):
    params = {"a": np.ones(3, dtype=np.float32)}
    new, _ = opt.update({"a": np.ones(3)}, opt.init(params), params)
    assert new["a"].dtype == np.float32


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e6, 1e6)),
       st.floats(1e-3, 1e3))
def test_clipping_property(g, threshold):
    """Never longer than the threshold, never a new direction, identity below it."""
    clipped, norm = clip_by_global_norm({"g": g}, threshold)
    # math.hypot neither underflows nor overflows (np.linalg.norm gives 0 for [1e-274])
    assert norm == pytest.approx(math.hypot(*g.tolist()), rel=1e-12, abs=1e-300)
    if norm < threshold:
        assert clipped["g"] is g
    else:
        assert global_norm(clipped) == pytest.approx(threshold, rel=1e-12)
        np.testing.assert_allclose(clipped["g"] * norm / threshold, g, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("scale", [1e-300, 1e-274, 1.0, 1e150, 1e300])
def test_global_norm_neither_underflows_nor_overflows(scale):
    grads = {"a": np.array([3.0, 0.0]) * scale, "b": np.array([[4.0]]) * scale}
    assert global_norm(grads) == pytest.approx(5.0 * scale, rel=1e-15)
    assert np.isnan(global_norm({"a": np.array([np.nan, 1.0])}))
    assert global_norm({"a": np.array([np.inf, 1.0])}) == np.inf
