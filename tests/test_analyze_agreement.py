"""The flag on decay_rate against -lambda_max: holding, failing, and without intervals."""

import numpy as np
import pandas as pd
import pytest

from gradflow._analyze.write import agreement


def _numbers(rate, rate_interval, lam, lam_interval):
    rows = [(0, "forward", "decay_rate", rate, *rate_interval, 8),
            (0, "forward", "lambda_max", lam, *lam_interval, 8),
            (0, "forward", "rho_h", 0.9, 0.9, 0.9, 0)]
    return pd.DataFrame(rows, columns=["layer", "direction", "quantity", "value", "low",
                                       "high", "n"])


@pytest.mark.parametrize("rate,rate_interval,lam,lam_interval,agree", [
    (0.10, (0.08, 0.12), -0.11, (-0.13, -0.09), True),      # overlapping
    (0.05, (0.04, 0.06), -0.11, (-0.12, -0.10), False),     # gradient decays slower
    (0.20, (0.19, 0.21), -0.11, (-0.12, -0.10), False),     # gradient decays faster
    (0.10, (0.09, 0.10), -0.11, (-0.11, -0.10), True),      # touching
    (0.05, (np.nan, np.nan), -0.11, (-0.12, -0.10), True),  # one sequence: no verdict
])
def test_the_flag_is_disjoint_intervals(rate, rate_interval, lam, lam_interval, agree):
    table = agreement(_numbers(rate, rate_interval, lam, lam_interval))
    assert len(table) == 1
    row = table.iloc[0]
    assert row.agree == agree
    assert (row.minus_lambda_max, row.lambda_low, row.lambda_high) == pytest.approx(
        (-lam, -lam_interval[1], -lam_interval[0]), nan_ok=True)
