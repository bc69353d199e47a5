"""`gradflow analyze A.pt B.pt`: paired differences on the same sequences, checked against
torch autograd."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.test_analyze import _cli
from tests.test_analyze_tokens import N, T, V, _char_lm, _torch_reference

torch = pytest.importorskip("torch")


def test_two_char_lms_compared_equal_torch_paired_differences(tmp_path):
    untrained, other = _char_lm("gru", seed=0), _char_lm("gru", seed=5)
    torch.save(untrained.state_dict(), tmp_path / "untrained.pt")
    torch.save(other.state_dict(), tmp_path / "trained.pt")
    tokens = np.random.default_rng(4).integers(0, V, size=(T + 1, N))
    np.save(tmp_path / "tokens.npy", tokens)
    result = _cli("untrained.pt", "trained.pt", "--out", "cmp", "--tokens", "tokens.npy",
                  "--exponents", 2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "cmp"
    for name in ("untrained", "trained"):
        assert (out / name / "REPORT.md").exists()
    lyap = pd.read_csv(out / "figures" / "lyapunov.csv")
    assert set(lyap.model) == {"untrained", "trained"}
    diffs = pd.read_csv(out / "differences.csv").set_index("quantity")
    assert set(diffs.model) == {"trained"}
    ref = np.array([_torch_reference("gru", untrained, tokens, b) for b in range(N)])
    new = np.array([_torch_reference("gru", other, tokens, b) for b in range(N)])
    for column, quantity in enumerate(("loss", "decay_rate", "lambda_max")):
        paired = new[:, column] - ref[:, column]
        half = stats.t.ppf(0.975, N - 1) * paired.std(ddof=1) / np.sqrt(N)
        row = diffs.loc[quantity]
        assert row.difference == pytest.approx(paired.mean(), rel=1e-6, abs=1e-10)
        assert (row.low, row.high) == pytest.approx((paired.mean() - half,
                                                     paired.mean() + half), rel=1e-5)
        assert row.n == N
    # Numbers of the weights differ exactly.
    w0 = untrained.rnn.weight_hh_l0.detach().numpy()[:6]
    w1 = other.rnn.weight_hh_l0.detach().numpy()[:6]
    row = diffs.loc["sigma_max_r"]
    assert row.difference == pytest.approx(np.linalg.norm(w1, 2) - np.linalg.norm(w0, 2),
                                           rel=1e-9)
    assert row.n == 0
    values = pd.read_csv(out / "values.csv")
    for model, per_seq in (("untrained", ref), ("trained", new)):
        row = values[(values.model == model) & (values.quantity == "loss")]
        assert row.value.item() == pytest.approx(per_seq[:, 0].mean(), rel=1e-7)
    report = (out / "REPORT.md").read_text()
    assert "# gradflow analyze: comparison" in report and "| trained |" in report
    assert "| layer | direction | meaning | untrained | trained |" in report
