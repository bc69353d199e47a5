"""`gradflow analyze --tokens` on stacked and bidirectional models: every layer's and
direction's decay rate against a hand-written torch autograd computation."""

import numpy as np
import pandas as pd
import pytest

from gradflow.diagnostics import fit_decay
from tests.test_analyze import _cli

torch = pytest.importorskip("torch")

V, E, H, T, N = 7, 3, 5, 25, 4
WARMUP = SKIP = T // 5


def _step(cell, w, x, state):
    """One step from weights ``w = (w_ih, w_hh, b_ih, b_hh)``: the new state (B, S)."""
    w_ih, w_hh, b_ih, b_hh = w
    if cell == "lstm":
        h, c = state[:, :H], state[:, H:]
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.cat([torch.sigmoid(o) * torch.tanh(c), c], dim=-1)
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    hr, hz, hn = (state @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    return (1 - z) * torch.tanh(xn + r * hn) + z * state


def _run(cell, rnn, x):
    """Outputs (T, B, D H) and each (layer, direction)'s states in processing order."""
    S = 2 * H if cell == "lstm" else H
    D = 2 if rnn.bidirectional else 1
    states, u = {}, x
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [getattr(rnn, f"{n}{sfx}") for n in ("weight_ih", "weight_hh", "bias_ih",
                                                     "bias_hh")]
            s, kept, hs = torch.zeros(x.shape[1], S, dtype=torch.float64), [], [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                s = _step(cell, w, u[t], s)
                s.retain_grad()
                kept.append(s)
                hs[t] = s[:, :H]
            states[(layer, d)] = kept
            outs.append(torch.stack(hs))
        u = torch.cat(outs, dim=-1)                                    # (T, B, D H)
    return u, states


@pytest.mark.parametrize("cell,layers,bi", [("gru", 2, False), ("lstm", 1, True)],
                         ids=["gru-2-layers", "lstm-bidirectional"])
def test_every_layer_and_direction_equals_torch_autograd(tmp_path, cell, layers, bi):
    torch.manual_seed(4)
    D = 2 if bi else 1

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(V, E)
            self.rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](
                E, H, num_layers=layers, bidirectional=bi)
            self.fc = torch.nn.Linear(D * H, V)

    model = LM().double()
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    tokens = np.random.default_rng(3).integers(0, V, size=(T + 1, N))
    np.save(tmp_path / "tokens.npy", tokens)
    result = _cli("lm.pt", "--out", "out", "--tokens", "tokens.npy", "--exponents", 1,
                  cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seqs = pd.read_csv(tmp_path / "out" / "sequences.csv")
    ids = torch.from_numpy(tokens)
    for d in range(D):
        x = model.embedding(ids[:-1]).detach()                          # (T, N, E)
        out, states = _run(cell, model.rnn, x)
        t = T - 1 if d == 0 else 0                                      # the step read
        blocks = [out[t, :, k * H:(k + 1) * H] if k == d else
                  out[t, :, k * H:(k + 1) * H].detach() for k in range(D)]
        loss = torch.nn.functional.cross_entropy(model.fc(torch.cat(blocks, dim=-1)),
                                                 ids[t + 1], reduction="sum")
        loss.backward()
        for layer in range(layers):
            norms = np.array([s.grad.norm(dim=1).numpy() for s in states[(layer, d)]])
            profile = norms[::-1] / norms[-1]                           # (T, N) by distance
            window = slice(SKIP, T - WARMUP)
            expected = fit_decay(profile[window], np.arange(T)[window]).rate
            got = seqs[(seqs.layer == layer) & (seqs.quantity == "decay_rate")
                       & (seqs.direction == ("reverse" if d else "forward"))]
            np.testing.assert_allclose(got.sort_values("sequence").value, expected,
                                       rtol=1e-7, err_msg=f"layer {layer}, direction {d}")
