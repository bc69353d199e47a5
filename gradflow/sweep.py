"""Run a grid of configurations, cached on disk and resumable.

``run_grid(fn, configs, cache=...)`` calls a pure function ``fn(config) ->
list of row dicts`` for every configuration, on any
``concurrent.futures.Executor`` (local processes by default, a Dask cluster's
executor when asked), and returns one tidy ``pandas.DataFrame``: the rows of
every run, each with its configuration's keys as columns.

The cache is content-addressed: a run's key hashes its configuration and a
``salt`` (the caller passes the source of what computes it, e.g. the
analysis file and the gradflow package), so a rerun computes only what
changed, and an interrupted sweep resumes where it stopped: every finished
run is written at once, atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from gradflow._validate import check_int, describe

__all__ = ["config_key", "expand_grid", "package_fingerprint", "run_grid"]

Config = dict[str, Any]
Row = dict[str, Any]


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[Config]:
    """All combinations of a grid, in a fixed order (the last key varies fastest).

    Parameters
    ----------
    grid : mapping name -> sequence of values

    Returns
    -------
    list of dicts, ``prod(len(values))`` of them
    """
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a mapping of name -> list of values; got {describe(grid)}")
    configs: list[Config] = [{}]
    for name, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise TypeError(f"grid[{name!r}] must be a list of values; got {describe(values)}")
        values = list(values)
        if not values:
            raise ValueError(f"grid[{name!r}] must not be empty")
        configs = [{**c, name: v} for c in configs for v in values]
    return configs


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"configuration values must be JSON-like (numbers, strings, lists); "
                    f"got {describe(value)}")


def config_key(config: Mapping[str, Any], salt: str = "") -> str:
    """The cache key of one run: sha256 of the salt and the canonical JSON config."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()[:32]


def package_fingerprint() -> str:
    """sha256 of gradflow's own source files: a change to the code invalidates caches."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _load(path: Path) -> list[Row] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["rows"]
    except (OSError, ValueError, KeyError):
        return None  # absent or torn: recompute


def _store(path: Path, config: Config, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    payload = {"config": _jsonable(config), "rows": rows}
    # Keys in the rows' own order: a cached run must give the same columns as a fresh one.
    tmp.write_text(json.dumps(payload, allow_nan=True), encoding="utf-8")
    os.replace(tmp, path)  # atomic: an interrupted sweep never leaves a half-written run


def _check_rows(rows: Any, config: Config) -> list[Row]:
    if isinstance(rows, Mapping):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise TypeError(f"run(config) must return a list of row dicts; for {config} it "
                        f"returned {describe(rows)}")
    return [dict(r) for r in rows]


class _OneBlasThread:
    """``fn`` with BLAS held to one thread: the sweep's parallelism is across runs, and
    a run gives the same bits whether it ran alone, in a pool or on a cluster."""

    def __init__(self, fn: Callable[[Config], list[Row]]) -> None:
        self.fn = fn

    def __call__(self, config: Config) -> list[Row]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self.fn(config)


def run_grid(fn: Callable[[Config], list[Row]], configs: Sequence[Mapping[str, Any]], *,
             cache: str | Path | None = None, salt: str = "", executor: Executor | None = None,
             jobs: int | None = None, progress: bool | None = None,
             desc: str = "sweep") -> pd.DataFrame:
    """Run ``fn`` on every configuration and gather the rows into one DataFrame.

    Parameters
    ----------
    fn : picklable function ``config -> list of row dicts``; pure and seeded by the
        config, so the same config always gives the same rows. It runs with BLAS
        limited to one thread (parallelism is across runs)
    configs : the configurations (dicts of JSON-like values)
    cache : folder for finished runs (one JSON file each), or None for no cache
    salt : mixed into every key: pass the source of what ``fn`` computes with
    executor : where to run; None builds a local process pool of ``jobs`` workers
    jobs : workers of the local pool (default: the machine's cores); 1 runs in
        this process, in order
    progress : a tqdm bar; None shows it only when stderr is a terminal
    desc : the bar's label

    Returns
    -------
    pandas.DataFrame: every row of every run, with the configuration's keys as
    leading columns, in the order of ``configs`` (whatever order runs finished in)
    """
    configs = [dict(c) for c in configs]
    keys = [config_key(c, salt) for c in configs]
    fn = _OneBlasThread(fn)
    cache_dir = Path(cache) if cache is not None else None
    results: dict[int, list[Row]] = {}
    todo = []
    for i, key in enumerate(keys):
        cached = _load(cache_dir / f"{key}.json") if cache_dir is not None else None
        if cached is None:
            todo.append(i)
        else:
            results[i] = cached
    jobs = (os.cpu_count() or 1) if jobs is None else check_int("jobs", jobs, minimum=1)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(configs), initial=len(configs) - len(todo), desc=desc,
               disable=not show, leave=False, dynamic_ncols=True)

    def finish(i: int, rows: Any) -> None:
        # Through JSON either way, so a fresh run and a cached one give the same values.
        rows = json.loads(json.dumps(_jsonable(_check_rows(rows, configs[i]))))
        if cache_dir is not None:
            _store(cache_dir / f"{keys[i]}.json", configs[i], rows)
        results[i] = rows
        bar.update()

    try:
        if todo and executor is None and (jobs == 1 or len(todo) == 1):
            for i in todo:
                finish(i, fn(configs[i]))
        elif todo:
            own = executor is None
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo))) if own else executor
            try:
                futures: dict[Future, int] = {pool.submit(fn, configs[i]): i for i in todo}
                for future in as_completed(futures):
                    finish(futures[future], future.result())
            finally:
                if own:
                    pool.shutdown(cancel_futures=True)
    finally:
        bar.close()
    return _frame(configs, results)


def _frame(configs: list[Config], results: dict[int, list[Row]]) -> pd.DataFrame:
    """One tidy table: config columns first, then each run's own columns."""
    records = []
    for i, config in enumerate(configs):
        flat = {k: (json.dumps(v) if isinstance(v, list | dict) else v)
                for k, v in _jsonable(config).items()}
        for row in results[i]:
            overlap = set(flat) & set(row)
            if any(row[k] != flat[k] for k in overlap):
                raise ValueError(f"a row of config {config} overrides its configuration "
                                 f"columns {sorted(overlap)}")
            records.append({**flat, **row})
    return pd.DataFrame.from_records(records)
