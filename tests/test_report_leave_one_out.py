"""gradflow.report.leave_one_out: a verdict one run decides is reported inconclusive."""

import numpy as np

from gradflow.report.claims import below, proportion
from gradflow.report.leave_one_out import steady


def test_a_verdict_one_run_decides_is_fragile():
    """Dropping one run would change the verdict: inconclusive, the run named."""

    def make(v):
        m = float(np.mean(v))
        return below("x", "the mean is below 0", m, m - 0.1, m + 0.1, 0.0)

    assert steady(make, np.array([-3.0, -2.0, -1.0])).verdict == "holds"
    fragile = steady(make, np.array([-3.0, 0.5, 0.5]), labels=("runs",))
    assert make(np.array([-3.0, 0.5, 0.5])).verdict == "holds"
    assert fragile.verdict == "inconclusive"
    assert "fragile: leaving out one run (runs, -3) gives 'fails'" in fragile.evidence
    most = steady(lambda v: proportion("y", "most", int(v.sum()), len(v), 0.5),
                  np.ones(4))
    assert most.verdict == "inconclusive" and "(a 'yes') gives 'inconclusive'" in \
        most.evidence
    assert steady(make, np.array([-0.05, 0.0])).verdict == "inconclusive"   # already


def test_two_samples_each_left_one_short():
    from gradflow.report.claims import differ

    low, high = np.arange(8.0), np.arange(8.0) + 20.0
    make = lambda x, y: differ("d", "the first exceeds the second", x, y)  # noqa: E731
    assert steady(make, high, low).verdict == "holds"
    # n = 4 against 4 with no overlap: the exact rank test's smallest p (0.029) is
    # significant; with one run left out (3 against 4, p = 0.057) it is not.
    assert make(high[:4], low[:4]).verdict == "holds"
    fragile = steady(make, high[:4], low[:4], labels=("high", "low"))
    assert fragile.verdict == "inconclusive" and "leaving out one run (high," in fragile.evidence
