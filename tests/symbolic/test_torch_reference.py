"""The lambdified Jacobians against PyTorch autograd of each recurrence written by hand.

A third, independent derivation (after SymPy's and finite differences): the
recurrences are typed again in torch from the equations (PyTorch's
``nn.*Cell`` has no sigmoid or linear RNN and no reset-before GRU), and
autograd differentiates them. All seven variants, batched with ``torch.func``.
"""

import numpy as np
import pytest

from ._common import VARIANT_IDS, VARIANTS, derivation, random_params, random_point

torch = pytest.importorskip("torch")


def _split(a, k, n):
    return a[..., k * n:(k + 1) * n]


def _rnn(phi):
    def step(p, x, s):
        return phi(p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ s + p["bias_hh"])
    return step


def _lstm(p, x, s):
    n = s.shape[-1] // 2
    h, c = s[:n], s[n:]
    pre = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, f, g, o = (_split(pre, k, n) for k in range(4))  # gate order i, f, g, o
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.cat([torch.sigmoid(o) * torch.tanh(c_new), c_new])


def _gru(reset_after):
    def step(p, x, h):
        n = h.shape[-1]
        w_h, b_h = p["weight_hh"], p["bias_hh"]
        gi = p["weight_ih"] @ x + p["bias_ih"]
        r = torch.sigmoid(_split(gi, 0, n) + w_h[:n] @ h + b_h[:n])  # gate order r, z, n
        z = torch.sigmoid(_split(gi, 1, n) + w_h[n:2 * n] @ h + b_h[n:2 * n])
        if reset_after:
            cand = torch.tanh(_split(gi, 2, n) + r * (w_h[2 * n:] @ h + b_h[2 * n:]))
        else:
            cand = torch.tanh(_split(gi, 2, n) + w_h[2 * n:] @ (r * h) + b_h[2 * n:])
        return (1 - z) * cand + z * h
    return step


def _by_hand(cell, options):
    if cell == "rnn":
        return _rnn({"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
                     "linear": lambda a: a}[options["nonlinearity"]])
    if cell == "lstm":
        return _lstm
    return _gru(options["reset_after"])


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_numeric_and_step_equal_torch_autograd_of_the_recurrence(cell, options, rng):
    n, m, B = 3, 2, 8
    d = derivation(cell, options, n=n, m=m)
    params = random_params(cell, n, m, rng, scale=1.0)
    x, state = random_point(d, rng, batch=(B,))
    step = _by_hand(cell, options)
    p = {k: torch.tensor(v) for k, v in params.items()}
    xt, st = torch.tensor(x), torch.tensor(state)
    expected = torch.func.vmap(torch.func.jacrev(lambda s, x_: step(p, x_, s)))(st, xt)
    np.testing.assert_allclose(d.numeric(params, x, state), expected.numpy(), rtol=0, atol=1e-12)
    new = torch.func.vmap(lambda s, x_: step(p, x_, s))(st, xt)
    np.testing.assert_allclose(d.step(params, x, state), new.numpy(), rtol=0, atol=1e-12)
    if cell == "rnn" and options["nonlinearity"] == "relu":  # both sides of the kink seen
        a = d.intermediates(params, x, state)["a"]
        assert (a > 0).any() and (a < 0).any()


def test_the_two_gru_forms_are_different_functions(rng):
    params = random_params("gru", 3, 2, rng, scale=1.0)
    x, state = random_point(derivation("gru", {"reset_after": True}), rng)
    after, before = (derivation("gru", {"reset_after": r}).numeric(params, x, state)
                     for r in (True, False))
    assert np.abs(after - before).max() > 1e-3
