"""The dynamics analysis: every claim holds on a synthetic frame made to support it and
does not on one made to contradict it; run() gives the columns summarize reads."""

import numpy as np
import pandas as pd
import pytest

LENGTH = 20
BLOCKS = {"rnn": "h", "lstm": "ifgo", "gru": "rzn"}
KEEP = {"rnn": None, "lstm": "f", "gru": "z"}


def fake_run(cell, clip, seed, *, success, rho=(0.6, 1.5), peak=None, lam=(-0.5, -0.05),
             decay=(0.5, 0.1), tau=(1.4, 1.4), unit_max=(1.7, 30.0), mean_field=-0.47):
    """The rows run() returns for one run, with the tracked quantities going from their
    first to their last value over three recorded steps (``peak``: rho in the middle)."""
    jitter = 0.01 * seed                      # seeds differ a little: finite intervals
    config = {"cell": cell, "clip": clip, "length": LENGTH, "steps": 100, "seed": seed}
    rows = []
    for step, w in ((0, 0.0), (50, 0.5), (100, 1.0)):
        def at(pair, w=w):
            return pair[0] + w * (pair[1] - pair[0]) + jitter

        r = peak + jitter if (peak is not None and step == 50) else at(rho)
        values = {}
        for i, g in enumerate(BLOCKS[cell]):
            values[f"sigma_max_{g}"] = r * 1.2 - 0.1 * i
            values[f"rho_{g}"] = r - 0.1 * i
        values["decay_rate"] = at(decay)
        values["lambda_max"] = at(lam)
        gate = KEEP[cell]
        if gate is not None:
            values[f"gate_mean_{gate}"] = float(np.exp(-1 / at(tau)))
            values[f"timescale_{gate}"] = at(tau)
        for q, v in values.items():
            rows.append({**config, "kind": "trajectory", "step": step, "quantity": q,
                         "value": v, "low": v - 0.01 if q == "decay_rate" else np.nan,
                         "high": v + 0.01 if q == "decay_rate" else np.nan})
    if KEEP[cell] is not None:
        for when, longest in zip(("init", "final"), unit_max, strict=True):
            rows += [{**config, "kind": "unit", "when": when, "unit": u,
                      "timescale": longest + jitter if u == 0 else 1.2}
                     for u in range(4)]
    rows.append({**config, "kind": "summary", "test_loss": 0.001 if success else 0.17,
                 "baseline": 1 / 6, "success": success, "n_clipped": 10 if clip else 0,
                 "n_skipped": 0, "mean_field_lambda": mean_field if cell == "rnn" else np.nan})
    return rows


def frame_of(runs):
    return pd.DataFrame([row for run in runs for row in run])


def supporting_frame():
    runs = []
    for seed in range(8):
        for clip in (0.0, 1.0):
            peak = 1.2 if clip else 3.0                      # clipping lowers the peak
            # tanh RNN: solved runs approach 0 from below and end with rho > 1; the
            # unsolved ones drift away from 0.
            runs.append(fake_run("rnn", clip, seed, success=seed < 4, peak=peak,
                                 lam=(-0.5, -0.05) if seed < 4 else (-0.5, -0.9),
                                 decay=(0.5, 0.1) if seed < 4 else (0.5, 0.9)))
            runs.append(fake_run("gru", clip, seed, success=True, peak=peak,
                                 tau=(1.4, 12.0)))
            runs.append(fake_run("lstm", clip, seed, success=True, peak=peak,
                                 tau=(1.4, 15.0), unit_max=(1.7, 30.0)))
    return frame_of(runs)


def contradicting_frame():
    runs = []
    for seed in range(8):
        for clip in (0.0, 1.0):
            peak = 3.0 if clip else 1.2                      # clipping raises the peak
            # Solved RNN runs move away from 0, across it to the chaotic side, with
            # rho < 1; unsolved ones end near 0.
            runs.append(fake_run("rnn", clip, seed, success=seed < 4, peak=peak,
                                 rho=(0.6, 0.7) if seed < 4 else (0.6, 1.5),
                                 lam=(-0.05, 0.8) if seed < 4 else (-0.5, -0.1),
                                 decay=(0.1, 0.5), mean_field=-0.9))
            runs.append(fake_run("gru", clip, seed, success=True, peak=peak, lam=(-0.5, -0.3),
                                 unit_max=(1.7, 3.0), decay=(0.1, 0.5)))
            runs.append(fake_run("lstm", clip, seed, success=True, peak=peak, lam=(-0.5, 0.4),
                                 tau=(1.4, 1.0), unit_max=(1.7, 3.0), decay=(0.1, 0.5)))
    return frame_of(runs)


CLAIMS = ["rnn_init_mean_field", "rnn_approaches_critical", "rnn_most_approach",
          "rnn_solved_nearer_critical", "rnn_radius_above_one", "rnn_stays_ordered",
          "lstm_unit_reaches_horizon", "lstm_median_reaches_horizon",
          "gru_unit_reaches_horizon", "gru_median_reaches_horizon",
          "near_critical_rnn", "near_critical_gru", "near_critical_lstm",
          "clip_bounds_rho_rnn", "clip_bounds_rho_gru", "clip_bounds_rho_lstm",
          "decay_slows_rnn", "decay_slows_gru", "decay_slows_lstm"]


@pytest.fixture
def dynamics(analysis):
    return analysis("dynamics")


def test_every_claim_holds_on_a_supporting_frame(dynamics):
    verdicts = dynamics.summarize(supporting_frame()).verdicts()
    assert sorted(verdicts) == sorted(CLAIMS)
    assert verdicts == dict.fromkeys(CLAIMS, "holds")


def test_every_claim_fails_on_a_contradicting_frame(dynamics):
    verdicts = dynamics.summarize(contradicting_frame()).verdicts()
    assert verdicts == dict.fromkeys(CLAIMS, "fails")


def test_claims_without_runs_are_inconclusive(dynamics):
    """No solved run at all: nothing about solved runs can be concluded."""
    frame = frame_of(fake_run(cell, clip, seed, success=False)
                     for cell in ("rnn", "lstm") for clip in (0.0, 1.0) for seed in range(2))
    verdicts = dynamics.summarize(frame).verdicts()
    for name in ("rnn_approaches_critical", "rnn_most_approach", "rnn_solved_nearer_critical",
                 "lstm_unit_reaches_horizon", "lstm_median_reaches_horizon",
                 "near_critical_lstm", "decay_slows_rnn"):
        assert verdicts[name] == "inconclusive", name


def test_clipping_no_difference_needs_the_margin(dynamics):
    """Equal peak radii (within the margin) make the clipping claim fail by TOST."""
    runs = [fake_run("rnn", clip, seed, success=True, peak=1.5)
            for clip in (0.0, 1.0) for seed in range(8)]
    claim = dynamics.summarize(frame_of(runs)).claims["clip_bounds_rho_rnn"]
    assert claim.verdict == "fails" and "TOST" in claim.evidence


def test_summary_tables_and_numbers(dynamics):
    summary = dynamics.summarize(supporting_frame())
    runs = summary.tables["runs"]
    assert len(runs) == 48 and runs.success.sum() == 40
    rnn = runs[(runs.cell == "rnn") & (runs.seed == 0) & (runs["clip"] == 0)].iloc[0]
    assert rnn.rho_peak == pytest.approx(3.0) and rnn.rho_final == pytest.approx(1.5)
    assert rnn.lambda_toward_zero == pytest.approx(0.05 - 0.5)
    groups = summary.tables["groups"]
    assert groups.cell.tolist() == ["rnn", "rnn", "gru", "gru", "lstm", "lstm"]
    assert groups["clip"].tolist() == ["none", "1"] * 3
    assert set(summary.numbers) >= {"SolvedRnn", "SolvedLstm", "RnnDetectableShift",
                                    "LstmLongestTimescale", "LengthT"}
    assert summary.numbers["LstmLongestTimescale"].value == pytest.approx(30.035)


def test_detectable_shift_shrinks_with_more_runs(analysis):
    analysis("dynamics")                      # puts analyses/ on the path for its helper
    from _dynamics import detectable_shift

    assert detectable_shift(8, 8) == pytest.approx(1.54, abs=0.02)
    assert detectable_shift(16, 16) < detectable_shift(8, 8)
    assert np.isnan(detectable_shift(1, 8))


def test_render_writes_its_section(dynamics, tmp_path):
    from gradflow.report.output import Section

    section = Section("dynamics", tmp_path)
    dynamics.render(supporting_frame(), section)
    text = section.markdown()
    assert "towards the critical line" in text and "**holds**" in text
    assert (tmp_path / "figures" / "dynamics-trajectories-page.png").exists()
    assert (tmp_path / "figures" / "dynamics-phase-column.png").exists()


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_run_gives_the_columns_summarize_reads(dynamics, cell):
    config = {"cell": cell, "clip": 1.0, "length": 5, "steps": 3, "seed": 0}
    rows = dynamics.run(dynamics.Config(**config))
    frame = pd.DataFrame([{**config, **r} for r in rows])
    assert set(frame.kind) == ({"trajectory", "summary"} if cell == "rnn"
                               else {"trajectory", "unit", "summary"})
    traj = frame[frame.kind == "trajectory"]
    assert sorted(traj.step.unique()) == [0, 2, 3]      # recorded, and the final parameters
    assert {"lambda_max", "decay_rate", "rho_" + BLOCKS[cell][0]} <= set(traj.quantity)
    assert {"test_loss", "baseline", "success", "n_clipped", "n_skipped",
            "mean_field_lambda"} <= set(frame.columns)
    theory = frame[frame.kind == "summary"].mean_field_lambda
    assert bool(np.isfinite(theory).all()) == (cell == "rnn")
    runs = dynamics.runs_table(frame)
    assert len(runs) == 1 and np.isfinite(runs.lambda_max_final).all()
    if cell == "lstm":      # the recorded median timescale is the median of the unit ones
        units = frame[(frame.kind == "unit") & (frame.when == "final")].timescale
        last = traj[(traj.step == 3) & (traj.quantity == "timescale_f")].value
        assert float(last.iloc[0]) == pytest.approx(float(np.median(units)), rel=1e-6)


def test_claims_read_one_paragraph_per_group(dynamics):
    """Each group is its own paragraph; a claim's sentence follows its verdict and quotes
    its evidence; the per-cell lists read as one sentence; one claim is in the table only."""
    from gradflow.report.layout import paragraphs

    for frame, verdict in ((supporting_frame(), "holds"), (contradicting_frame(), "fails")):
        summary = dynamics.summarize(frame)
        text = paragraphs(summary.claims.values(), summary.groups)
        assert [p.split(".")[0].split(":")[0] for p in text] == [
            "Where the tanh RNN starts", "Where training takes it", "How close is close",
            "The LSTM's forget gate against the horizon T = 20",
            "The GRU's update gate against the horizon T = 20",
            "Clipping, under Adam (whose steps are normalized per parameter)",
            "Gradient decay back in time, at the end of solved runs compared with their start"]
        for claim in summary.claims.values():
            assert claim.verdict == verdict
            if claim.name == "rnn_most_approach":
                assert claim.sentence == "" and claim.group == ""
            else:
                assert f"({claim.evidence}" in claim.sentence
                assert claim.sentence in " ".join(text)
        near = "within it" if verdict == "holds" else "outside it"
        assert f"tanh RNN {near} (" in text[2] and f"); GRU {near} (" in text[2]
        assert text[2].endswith(").") and text[5].endswith("by TOST.")
        assert "), and lambda_max " in text[1]
        lowers = "clipping lowers" if verdict == "holds" else "clipping does not lower"
        assert text[5].count(lowers) == 3
