"""The cached, resumable sweep: same rows serial, parallel and cached; only what changed
is recomputed."""

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from gradflow.sweep import RunError, config_key, expand_grid, run_grid


def square(config):
    """A pure run: rows depend only on the config (and log the call for the test)."""
    log = config.get("log")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{config['x']}\n")
    rng = np.random.default_rng(config["x"])
    return [{"t": t, "y": config["x"] ** 2 + float(rng.standard_normal())} for t in range(3)]


def test_expand_grid_order_and_errors():
    assert expand_grid({"a": [1, 2], "b": ["u", "v"]}) == [
        {"a": 1, "b": "u"}, {"a": 1, "b": "v"}, {"a": 2, "b": "u"}, {"a": 2, "b": "v"}]
    with pytest.raises(ValueError, match=r"grid\['a'\] must not be empty"):
        expand_grid({"a": []})
    with pytest.raises(TypeError, match=r"grid\['a'\] must be a list of values; got 'abc'"):
        expand_grid({"a": "abc"})


def test_config_key_is_canonical_and_salted():
    assert config_key({"a": 1, "b": 2.0}) == config_key({"b": 2.0, "a": np.int64(1)})
    assert config_key({"a": 1}) != config_key({"a": 1}, salt="other code")
    with pytest.raises(TypeError, match=r"configuration values must be JSON-like"):
        config_key({"a": object()})


def test_serial_parallel_and_cached_runs_give_the_same_frame(tmp_path):
    configs = expand_grid({"x": [3, 1, 2]})
    serial = run_grid(square, configs, jobs=1)
    parallel = run_grid(square, configs, jobs=2)
    cached = run_grid(square, configs, cache=tmp_path, jobs=2)
    again = run_grid(square, configs, cache=tmp_path, jobs=1)
    for frame in (parallel, cached, again):
        pd.testing.assert_frame_equal(frame, serial)
    assert list(serial.columns) == ["x", "t", "y"]
    assert serial.x.tolist() == [3, 3, 3, 1, 1, 1, 2, 2, 2]   # the order of configs


def test_a_rerun_computes_only_what_changed(tmp_path):
    log = tmp_path / "calls.txt"
    cache = tmp_path / "cache"
    run_grid(square, expand_grid({"x": [1, 2], "log": [str(log)]}), cache=cache, jobs=1)
    assert log.read_text().split() == ["1", "2"]
    run_grid(square, expand_grid({"x": [1, 2, 3], "log": [str(log)]}), cache=cache, jobs=1)
    assert log.read_text().split() == ["1", "2", "3"]            # only the new config ran
    run_grid(square, expand_grid({"x": [1], "log": [str(log)]}), cache=cache, jobs=1,
             salt="the code changed")
    assert log.read_text().split() == ["1", "2", "3", "1"]       # a new salt recomputes
    assert not list(cache.glob("*.tmp*"))                        # nothing half-written


def _edit(entry):
    entry["rows"][0]["y"] += 1.0   # an edited value: the checksum no longer matches


def _foreign(entry):
    entry["key"] = "0" * 32        # an entry copied from another configuration


def _stale(entry):
    entry["versions"]["numpy"] = "0.0.1"


@pytest.mark.parametrize("damage,why", [
    (lambda path: path.write_text("{ truncated", encoding="utf-8"), "not valid JSON"),
    (lambda path: path.write_text("null", encoding="utf-8"), "not a gradflow cache entry"),
    (lambda path: path.write_text('{"rows": null}', encoding="utf-8"),
     "not a gradflow cache entry"),
    (_edit, "corrupt \\(checksum mismatch"),
    (_foreign, "foreign"),
    (_stale, "stale \\(computed with other versions: numpy 0.0.1 -> "),
])
def test_a_damaged_cache_entry_is_recomputed_with_a_note(tmp_path, damage, why):
    configs = [{"x": 4}]
    fresh = run_grid(square, configs, cache=tmp_path, jobs=1)
    (path,) = tmp_path.glob("*.json")
    if damage in (_edit, _foreign, _stale):
        entry = json.loads(path.read_text())
        damage(entry)
        path.write_text(json.dumps(entry), encoding="utf-8")
    else:
        damage(path)
    notes = []
    frame = run_grid(square, configs, cache=tmp_path, jobs=1, note=notes.append, desc="demo")
    pd.testing.assert_frame_equal(frame, fresh)
    assert len(notes) == 1 and re.match(rf"demo: cache entry .*{path.name} is {why}", notes[0])
    notes.clear()
    run_grid(square, configs, cache=tmp_path, jobs=1, note=notes.append)
    assert notes == [] and json.loads(path.read_text())["config"] == {"x": 4}   # repaired


def failing_at_three(config):
    if config["x"] == 3:
        raise ValueError("three is not allowed")
    return square(config)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_run_names_its_config_and_keeps_finished_runs(tmp_path, jobs):
    log = tmp_path / "calls.txt"
    configs = expand_grid({"x": [1, 2, 3], "log": [str(log)]})
    with pytest.raises(RunError, match=r"run\(config=\{\"x\": 3, .*\}\) raised ValueError: "
                                       r"three is not allowed") as info:
        run_grid(failing_at_three, configs, cache=tmp_path / "cache", jobs=jobs)
    assert isinstance(info.value.__cause__, ValueError) and info.value.finished == 2
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2   # the finished runs are kept
    log.write_text("")
    run_grid(square, configs[:2], cache=tmp_path / "cache", jobs=1)
    assert log.read_text() == ""                                   # and reused


def bad_rows(config):
    return "not rows"


def overriding(config):
    return [{"x": config["x"] + 1}]


def test_bad_runs_are_named():
    with pytest.raises(RunError, match=r"run\(config=\{\"x\": 1\}\) raised TypeError: "
                                       r"run\(config\) must return a list of row dicts; "
                                       r"for \{'x': 1\} it returned 'not rows'") as info:
        run_grid(bad_rows, [{"x": 1}], jobs=1)
    assert isinstance(info.value.cause, TypeError) and info.value.config == {"x": 1}
    with pytest.raises(ValueError, match=r"overrides its configuration columns \['x'\]"):
        run_grid(overriding, [{"x": 1}], jobs=1)
    with pytest.raises(ValueError, match=r"jobs must be an integer >= 1; got 0"):
        run_grid(square, [{"x": 1}], jobs=0)


def test_nan_survives_the_cache_round_trip(tmp_path):
    def with_nan(config):
        return [{"v": float("nan")}]
    frame = run_grid(with_nan, [{"x": 1}], cache=tmp_path, jobs=1)
    assert np.isnan(frame.v[0]) and os.listdir(tmp_path)


def test_a_dask_cluster_gives_the_same_frame():
    """`--scheduler ADDRESS` runs the grid on a Dask cluster's executor: same rows."""
    distributed = pytest.importorskip("distributed")
    configs = expand_grid({"x": [2, 5]})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        frame = run_grid(square, configs, executor=client.get_executor())
    pd.testing.assert_frame_equal(frame, run_grid(square, configs, jobs=1))


def unordered(config):
    return [{"zeta": 1.0, "alpha": 2.0, "mid": config["x"]}]


def test_cached_rows_keep_their_column_order(tmp_path):
    fresh = run_grid(unordered, [{"x": 1}], cache=tmp_path, jobs=1)
    cached = run_grid(unordered, [{"x": 1}], cache=tmp_path, jobs=1)
    assert list(fresh.columns) == list(cached.columns) == ["x", "zeta", "alpha", "mid"]


def test_a_list_of_grids_is_their_union_in_order():
    from gradflow.sweep import expand_grid

    design = [{"arm": ["sgd"], "lr": [0.1, 0.2], "seed": [0, 1]},
              {"arm": ["clip"], "lr": [0.1], "multiple": [2.0], "seed": [0]}]
    configs = expand_grid(design)
    assert configs == expand_grid(design[0]) + expand_grid(design[1])
    assert configs[-1] == {"arm": "clip", "lr": 0.1, "multiple": 2.0, "seed": 0}
    assert len(configs) == 5
    with pytest.raises(ValueError, match="a list of grids must not be empty"):
        expand_grid([])
