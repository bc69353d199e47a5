"""gradflow.torch.DynamicsRecorder: the frame of train(..., diagnostics=["dynamics"]) from a
PyTorch loop, equal on equal weights, and its numbers checked against torch autograd."""

import copy

import numpy as np
import pandas as pd
import pytest

import gradflow
from gradflow.diagnostics import fit_decay
from tests.test_analyze_tokens import _step

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_recorder_equals_train_on_equal_weights(cell):
    from gradflow.torch import DynamicsRecorder

    task = gradflow.tasks.AddingProblem(length=12)
    net = gradflow.Network(cell, task.input_size, 5, num_layers=2)
    trained = gradflow.train(net, task, steps=5, batch_size=8, lr=1e-2, seed=3).params
    history = gradflow.train(net, task, steps=1, batch_size=8, seed=7, params=trained,
                             diagnostics=["dynamics"], probe_size=4)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](task.input_size, 5,
                                                              num_layers=2)
    module.double().load_state_dict({k: torch.from_numpy(v) for k, v in trained.items()
                                     if not k.startswith("head.")})
    recorder = DynamicsRecorder(module, history.probe, every=10, seed=7)
    assert recorder.step(0) and not recorder.step(3)
    expected = history.diagnostics["dynamics"]
    pd.testing.assert_frame_equal(recorder.frame, expected, check_exact=False, rtol=1e-12,
                                  atol=1e-14)


def test_recorded_numbers_equal_torch_autograd_in_a_torch_loop():
    from gradflow.torch import DynamicsRecorder

    torch.manual_seed(0)
    H, T, B = 6, 20, 3

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(2, H, batch_first=True)
            self.head = torch.nn.Linear(H, 1)

    model = Model().double()
    probe = torch.randn(B, T, 2, dtype=torch.float64)               # batch-first, as used
    recorder = DynamicsRecorder(model, probe, every=2, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    snapshots = {}
    for step in range(5):
        x = torch.randn(8, T, 2, dtype=torch.float64)
        loss = ((model.head(model.rnn(x)[0][:, -1]) - x[:, :, 0].sum(1, keepdim=True)) ** 2
                ).mean()
        optimizer.zero_grad()
        loss.backward()
        if recorder.step(step):
            snapshots[step] = copy.deepcopy(model.rnn)
        optimizer.step()
    frame = recorder.frame
    assert sorted(frame.step.unique()) == [0, 2, 4] == sorted(snapshots)
    x = probe.transpose(0, 1)                                        # (T, B, 2)
    for step, rnn in snapshots.items():
        rows = frame[frame.step == step].set_index("quantity").value
        # The decay rate: a readout r ~ N(0, I/H) of h_T from (seed, 1), adjoints by autograd.
        r = np.random.default_rng(np.random.SeedSequence([0, 1])).standard_normal((B, H))
        state = torch.zeros(B, 2 * H, dtype=torch.float64)
        states = []
        for t in range(T):
            state = _step("lstm", rnn, x[t], state)[0]
            state.retain_grad()
            states.append(state)
        (state[:, :H] * torch.from_numpy(r / np.sqrt(H))).sum().backward()
        norms = np.array([s.grad.norm(dim=1).numpy() for s in states])   # (T, B)
        profile = norms[::-1] / norms[-1]
        fit = fit_decay(profile, np.arange(T), pool=True)
        assert rows["decay_rate"] == pytest.approx(float(fit.rate), rel=1e-8)
        # lambda_max: power iteration on torch's dense step Jacobians, warm-up T // 10.
        q0 = np.random.default_rng(0).standard_normal(2 * H)
        lams = []
        for b in range(B):
            q = torch.from_numpy(q0 / np.linalg.norm(q0))
            s, total = torch.zeros(1, 2 * H, dtype=torch.float64), 0.0
            for t in range(T):
                J = torch.autograd.functional.jacobian(
                    lambda s_, t=t, b=b, rnn=rnn: _step("lstm", rnn, x[t, b:b + 1], s_)[0],
                    s)[0, :, 0]
                s = _step("lstm", rnn, x[t, b:b + 1], s)[0].detach()
                q = J @ q
                total += np.log(q.norm().item()) if t >= T // 10 else 0.0
                q = q / q.norm()
            lams.append(total / (T - T // 10))
        assert rows["lambda_max"] == pytest.approx(np.mean(lams), rel=1e-8)
        w = rnn.weight_hh_l0.detach().numpy()[H:2 * H]
        assert rows["sigma_max_f"] == pytest.approx(np.linalg.norm(w, 2), rel=1e-10)


def test_the_recorder_refuses_what_it_cannot_record():
    from gradflow.torch import DynamicsRecorder

    two = torch.nn.Sequential(torch.nn.LSTM(2, 3), torch.nn.GRU(3, 3))
    with pytest.raises(gradflow.UsageError, match=r"exactly one nn.RNN, nn.LSTM or nn.GRU; "
                                                  r"it holds 2 \('0', '1'\)"):
        DynamicsRecorder(two, np.zeros((5, 1, 2)))
    with pytest.raises(gradflow.UsageError, match=r"proj_size = 2"):
        DynamicsRecorder(torch.nn.LSTM(2, 4, proj_size=2), np.zeros((5, 1, 2)))
    with pytest.raises(gradflow.UsageError, match=r"probe must have T >= 2 steps of input "
                                                  r"size 2"):
        DynamicsRecorder(torch.nn.GRU(2, 3), np.zeros((5, 1, 4)))
    with pytest.raises(TypeError, match=r"module must be a torch.nn.Module"):
        DynamicsRecorder("lstm", np.zeros((5, 1, 2)))
