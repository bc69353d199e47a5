"""`gradflow analyze --tokens`: a torch char-LM on its own tokens and loss, every
per-sequence number checked against a hand-written torch autograd computation."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gradflow.diagnostics import fit_decay
from tests.test_analyze import _cli

torch = pytest.importorskip("torch")

V, E, H, T, N = 7, 3, 6, 30, 5
WARMUP = SKIP = T // 5


def _char_lm(cell, seed=0):
    torch.manual_seed(seed)

    class CharLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Embedding(V, E)
            self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](E, H)
            self.decoder = torch.nn.Linear(H, V)

    return CharLM().double()


def _step(cell, rnn, x, state):
    """One step by hand from the module's weights: (state_t, h_t)."""
    w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    if cell == "lstm":
        h, c = state[:, :H], state[:, H:]
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return torch.cat([h, c], dim=-1), h
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    hr, hz, hn = (state @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    h = (1 - z) * torch.tanh(xn + r * hn) + z * state
    return h, h


def _torch_reference(cell, model, tokens, b, state0=None, warmup=WARMUP):
    """Loss, decay rate and lambda_1 of sequence b, by torch autograd, from the initial
    state ``state0`` (S,) (zeros if None) with a warm-up of ``warmup`` steps."""
    S = 2 * H if cell == "lstm" else H
    ids = torch.from_numpy(tokens[:, b])
    x = model.encoder(ids[:-1]).detach()                               # (T, E)
    start = torch.zeros(1, S, dtype=torch.float64) if state0 is None else \
        torch.from_numpy(state0).reshape(1, S)
    state = start
    states, outputs = [], []
    for t in range(T):
        state = _step(cell, model.rnn, x[t:t + 1], state)[0]
        state.retain_grad()
        states.append(state)
        outputs.append(state[:, :H])                                   # h_t, read from s_t
    logits = torch.cat([model.decoder(h) for h in outputs])             # (T, V)
    ce = torch.nn.functional.cross_entropy(logits, ids[1:], reduction="none")
    loss = ce[warmup:].mean().item()
    ce[-1].backward()                                                  # the last step's loss
    norms = np.array([s.grad.norm().item() for s in states])          # (T,)
    profile = norms[::-1] / norms[-1]
    window = slice(SKIP, T - warmup)
    rate = fit_decay(profile[window], np.arange(T)[window]).rate.item()
    # lambda_1: a power iteration on torch's dense step Jacobians, from the frame's
    # first column (the first S draws of the seed-0 generator).
    q = np.random.default_rng(0).standard_normal(S)
    q = torch.from_numpy(q / np.linalg.norm(q))
    state, total = start, 0.0
    for t in range(T):
        J = torch.autograd.functional.jacobian(
            lambda s, t=t: _step(cell, model.rnn, x[t:t + 1], s)[0], state)[0, :, 0]
        state = _step(cell, model.rnn, x[t:t + 1], state)[0].detach()
        q = J @ q
        norm = q.norm()
        q = q / norm
        if t >= warmup:
            total += np.log(norm.item())
    return loss, rate, total / (T - warmup)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_char_lm_on_its_tokens_and_loss_equals_torch_autograd(tmp_path, cell):
    model = _char_lm(cell)
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    tokens = np.random.default_rng(1).integers(0, V, size=(T + 1, N))
    np.save(tmp_path / "tokens.npy", tokens)
    result = _cli("lm.pt", "--out", "out", "--tokens", "tokens.npy", "--batch-size", 2,
                  "--exponents", 3, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "the next-token cross-entropy through the model's own decoder `decoder`" in report
    assert "tokens through the model's embedding `encoder`" in report
    seqs = pd.read_csv(tmp_path / "out" / "sequences.csv")
    expected = np.array([_torch_reference(cell, model, tokens, b) for b in range(N)])
    for column, quantity in enumerate(("loss", "decay_rate", "lambda_1")):
        got = seqs[seqs.quantity == quantity].sort_values("sequence").value.to_numpy()
        np.testing.assert_allclose(got, expected[:, column], rtol=1e-7, atol=1e-10,
                                   err_msg=quantity)
    numbers = pd.read_csv(tmp_path / "out" / "numbers.csv").set_index("quantity")
    for column, quantity in enumerate(("loss", "decay_rate", "lambda_max")):
        row = numbers.loc[quantity]
        values = expected[:, column]
        half = stats.t.ppf(0.975, N - 1) * values.std(ddof=1) / np.sqrt(N)
        assert row.value == pytest.approx(values.mean(), rel=1e-7)
        assert (row.low, row.high) == pytest.approx((values.mean() - half,
                                                     values.mean() + half), rel=1e-6)
        assert row.n == N


def test_batching_and_layout_do_not_change_the_numbers(tmp_path):
    model = _char_lm("lstm", seed=3)
    torch.save({"model_state_dict": model.state_dict(), "epoch": 4}, tmp_path / "lm.pt")
    tokens = np.random.default_rng(2).integers(0, V, size=(T + 1, N))
    np.save(tmp_path / "tm.npy", tokens)
    np.save(tmp_path / "bf.npy", tokens.T.copy())
    np.save(tmp_path / "stream.npy", tokens.T.ravel())
    runs = {"a": ["--tokens", "tm.npy", "--batch-size", 1],
            "b": ["--tokens", "tm.npy", "--batch-size", 32],
            "c": ["--tokens", "bf.npy", "--batch-first"],
            "d": ["--tokens", "stream.npy", "--steps", T]}
    for name, args in runs.items():
        result = _cli("lm.pt", "--out", name, *args, "--exponents", 2, cwd=tmp_path)
        assert result.returncode == 0, (name, result.stderr)
    reference = pd.read_csv(tmp_path / "a" / "sequences.csv")
    gates = pd.read_csv(tmp_path / "a" / "figures" / "gates.csv")
    for name in "bcd":
        got = pd.read_csv(tmp_path / name / "sequences.csv")
        pd.testing.assert_frame_equal(got, reference, rtol=1e-12, atol=1e-14)
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name / "figures" / "gates.csv"),
                                      gates, rtol=1e-12, atol=1e-14)
    # The per-unit forget-gate means over all sequences and the steps after the warm-up,
    # by hand in torch.
    with torch.no_grad():
        x = model.encoder(torch.from_numpy(tokens[:-1]))                 # (T, N, E)
        state, forget = torch.zeros(N, 2 * H, dtype=torch.float64), []
        rnn = model.rnn
        for t in range(T):
            z = x[t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + state[:, :H] @ rnn.weight_hh_l0.T \
                + rnn.bias_hh_l0
            forget.append(torch.sigmoid(z[:, H:2 * H]))
            state = _step("lstm", rnn, x[t], state)[0]
    expected = torch.stack(forget[WARMUP:]).mean(dim=(0, 1)).numpy()     # (H,)
    got = gates[gates.gate == "f"].sort_values("unit")["mean"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)        # the CSV keeps 10 digits


def test_noise_into_a_model_that_reads_tokens_warns(tmp_path):
    from gradflow.analyze import analyze

    torch.save(_char_lm("gru").state_dict(), tmp_path / "lm.pt")
    with pytest.warns(UserWarning, match=r"fed N\(0, 1\) noise: its dynamics on noise are "
                                         r"not those on its data; give its tokens"):
        analyze(tmp_path / "lm.pt", tmp_path / "out", steps=20, batch=2, exponents=1)
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "**These are not the model's data**" in report
    assert "(the model's decoder needs --tokens for its targets)" in report


@pytest.mark.parametrize("make,message", [
    (lambda t: t.astype(np.float32), r"--tokens must hold integer token ids; got dtype float32"),
    (lambda t: t + V, rf"--tokens must be ids in 0..{V - 1} \(the embedding 'encoder' has {V} "
                      rf"rows\); got ids in {V}..\d+"),
    (lambda t: t[:2], r"--tokens must give sequences of at least 3 tokens"),
    (lambda t: t.ravel(), r"--tokens holds one stream of \d+ ids; give --steps T"),
])
def test_bad_tokens_are_one_line_and_exit_2(tmp_path, make, message):
    torch.save(_char_lm("lstm").state_dict(), tmp_path / "lm.pt")
    np.save(tmp_path / "bad.npy", make(np.random.default_rng(0).integers(0, V, (T + 1, N))))
    result = _cli("lm.pt", "--out", "o", "--tokens", "bad.npy", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert pytest.importorskip("re").search(message, result.stderr), result.stderr


def test_a_given_initial_state_replaces_the_warm_up(tmp_path):
    model = _char_lm("lstm", seed=2)
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    tokens = np.random.default_rng(5).integers(0, V, size=(T + 1, N))
    np.save(tmp_path / "tokens.npy", tokens)
    h0c0 = np.random.default_rng(6).uniform(-0.5, 0.5, size=(2, 1, N, H))  # (h0, c0)
    np.save(tmp_path / "state.npy", h0c0)
    result = _cli("lm.pt", "--out", "out", "--tokens", "tokens.npy", "--initial-state",
                  "state.npy", "--exponents", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the first 0 steps from the given initial state" in \
        (tmp_path / "out" / "REPORT.md").read_text()
    seqs = pd.read_csv(tmp_path / "out" / "sequences.csv")
    expected = np.array([_torch_reference("lstm", model, tokens, b, warmup=0,
                                          state0=np.concatenate([h0c0[0, 0, b], h0c0[1, 0, b]]))
                         for b in range(N)])
    for column, quantity in enumerate(("loss", "decay_rate", "lambda_1")):
        got = seqs[seqs.quantity == quantity].sort_values("sequence").value.to_numpy()
        np.testing.assert_allclose(got, expected[:, column], rtol=1e-7, atol=1e-10,
                                   err_msg=quantity)
    np.save(tmp_path / "bad.npy", h0c0[0])
    result = _cli("lm.pt", "--out", "o2", "--tokens", "tokens.npy", "--initial-state",
                  "bad.npy", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert rf"must be PyTorch's (h0, c0) stacked, (2, L*D, N, H) = (2, 1, {N}, {H}) for this " \
           rf"LSTM and {N} sequences; got shape (1, {N}, {H})" in result.stderr, result.stderr


def test_flags_that_tokens_would_ignore_are_refused(tmp_path):
    torch.save(_char_lm("gru").state_dict(), tmp_path / "lm.pt")
    np.save(tmp_path / "tokens.npy", np.random.default_rng(0).integers(0, V, (T + 1, N)))
    for args, message in [
            (["--steps", "10"], r"--steps applies to a 1-d stream of --tokens; this file holds "
                                r"sequences of shape \(31, 5\)"),
            (["--batch", "4"], r"--batch sets the synthetic inputs' size and would be ignored "
                               r"with --tokens"),
            (["--inputs", "tokens.npy"], r"give --inputs \(float inputs\) or --tokens")]:
        result = _cli("lm.pt", "--out", "o", "--tokens", "tokens.npy", *args, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert pytest.importorskip("re").search(message, result.stderr), result.stderr
