"""Run a grid of configurations, cached on disk and resumable.

``run_grid(fn, configs, cache=...)`` calls a pure function ``fn(config) ->
list of row dicts`` for every configuration, on any
``concurrent.futures.Executor`` (local processes by default, a Dask cluster's
executor when asked), and returns one tidy ``pandas.DataFrame``: the rows of
every run, each with its configuration's keys as columns.

The cache is content-addressed: a run's key hashes its configuration, a
``salt`` (the caller passes the source of what computes it, e.g. the
analysis file and the gradflow package) and the NumPy / SciPy versions, so a
rerun computes only what changed, and an interrupted sweep resumes where it
stopped: every finished run is written at once, atomically. Each entry
carries a checksum of its rows and the versions it was computed with; a
corrupt, foreign or stale entry is recomputed, with a one-line note.

A run that raises becomes a :class:`RunError` naming its configuration (the
original exception, with the worker's traceback, is its ``__cause__``); the
runs that finished before it stay in the cache. An interrupt (Ctrl-C, or
SIGTERM turned into an exception by the caller) stops the local worker
processes at once: nothing is left running.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from gradflow._validate import UsageError, UsageTypeError, check_int, describe

__all__ = ["RunError", "config_key", "environment", "expand_grid", "left_out",
           "package_fingerprint", "run_grid"]

Config = dict[str, Any]
Row = dict[str, Any]


def expand_grid(grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]]
                ) -> list[Config]:
    """All combinations of a grid, in a fixed order (the last key varies fastest).

    A design that is not one product (arms that do not cross, a control run on one
    task only) is a list of grids: their combinations, one grid after the other.

    Parameters
    ----------
    grid : mapping name -> sequence of values, or a list of such mappings

    Returns
    -------
    list of dicts, ``prod(len(values))`` of them (summed over a list of grids)
    """
    if isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        if not grid:
            raise UsageError("a list of grids must not be empty")
        return [config for part in grid for config in expand_grid(part)]
    if not isinstance(grid, Mapping):
        raise UsageTypeError(f"grid must be a mapping of name -> list of values (or a list "
                             f"of such mappings); got {describe(grid)}")
    configs: list[Config] = [{}]
    for name, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise UsageTypeError(f"grid[{name!r}] must be a list of values; got {describe(values)}")
        values = list(values)
        if not values:
            raise UsageError(f"grid[{name!r}] must not be empty")
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
    raise UsageTypeError(f"configuration values must be JSON-like (numbers, strings, lists); "
                         f"got {describe(value)}")


def config_key(config: Mapping[str, Any], salt: str = "") -> str:
    """The cache key of one run: sha256 of the salt and the canonical JSON config."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()[:32]


#: gradflow's files that no analysis's ``run(config)`` executes: the report layer but
#: its run harness ``report/analyses.py`` and ``report/stats.py`` (long_range's chains
#: decide their next length with ``rate_ci``; the rest summarizes and renders rows, it
#: never makes them), the checkpoint analyzer, the benchmarks and the command line.
#: They are left out of :func:`package_fingerprint`, so editing them keeps every cached
#: run; a file not named here counts (a new one included, the safe side).
#: tests/test_run_fingerprint.py traces each analysis's run and fails if one of them
#: executes there.
NOT_IN_RUNS = tuple(f"report/{name}.py" for name in (
    "__init__", "build", "claims", "command", "derivations", "format", "latex", "layout",
    "leave_one_out", "output", "ownership", "paper", "staging", "style")) + (
    "_analyze/", "analyze.py", "bench.py", "bench_lyapunov.py", "cli.py", "__main__.py")


def left_out(relative: str, exclude: tuple[str, ...] = NOT_IN_RUNS) -> bool:
    """Whether the package file at ``relative`` (a POSIX path inside gradflow/) is one of
    ``exclude``: named exactly, or below a folder named with a trailing ``/``."""
    return any(relative == e or (e.endswith("/") and relative.startswith(e)) for e in exclude)


def package_fingerprint(exclude: tuple[str, ...] = NOT_IN_RUNS) -> str:
    """sha256 of gradflow's own source files a run can execute (all but those ``exclude``
    names, paths relative to the package, a trailing ``/`` for a folder): a change to
    that code invalidates caches."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if left_out(relative, exclude):
            continue
        digest.update(relative.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_FORMAT = 2  # of a cache entry: {"format", "key", "config", "versions", "checksum", "rows"}


class RunError(Exception):
    """``fn(config)`` raised (or returned something that is not rows) for one configuration.

    Attributes
    ----------
    config : the configuration of the failed run
    cause : the original exception (also ``__cause__``, with the worker's traceback)
    finished : how many runs of the grid had finished (and were cached) when it stopped
    """

    def __init__(self, config: Config, cause: BaseException, finished: int) -> None:
        self.config, self.cause, self.finished = config, cause, finished
        super().__init__(f"run(config={json.dumps(_jsonable(config))}) raised "
                         f"{type(cause).__name__}: {cause}")


def environment(backend: Any = None) -> dict[str, str]:
    """What a cached run depends on besides the code: the NumPy, SciPy and gradflow
    versions, and the engine's backend (``gradflow.engine.Backend.key``: numba,
    numba+ftz or numpy; they differ in the last bits). ``backend``: a Backend or
    its key; None for the current one."""
    from importlib import metadata

    from gradflow.engine.backends import as_backend

    chosen = as_backend(backend)
    engine = chosen.key
    names = ("numpy", "scipy", "gradflow") + (("numba", "llvmlite") if chosen.name == "numba"
                                              else ())
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["engine"] = engine
    return versions


def _checksum(rows: list[Row]) -> str:
    return hashlib.sha256(json.dumps(rows, allow_nan=True).encode()).hexdigest()


def _load(path: Path, key: str, versions: dict[str, str]) -> tuple[list[Row] | None, str]:
    """The cached rows at ``path``, or None and why not ("" when there is simply no entry)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    try:
        entry = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text (damaged or not written by gradflow)"
    except (ValueError, RecursionError):
        return None, "not valid JSON (torn or edited)"
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
        return None, "not a gradflow cache entry of this version"
    rows = entry.get("rows")
    if entry.get("key") != key:
        return None, "foreign (it belongs to another configuration or code)"
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return None, "malformed (its rows are not a list of objects)"
    if entry.get("checksum") != _checksum(rows):
        return None, "corrupt (checksum mismatch: edited or damaged)"
    if entry.get("versions") != versions:
        was = entry.get("versions") or {}
        changed = ", ".join(f"{k} {was.get(k, '?')} -> {v}" for k, v in versions.items()
                            if was.get(k) != v)
        return None, f"stale (computed with other versions: {changed})"
    return rows, ""


def _store(path: Path, key: str, config: Config, rows: list[Row],
           versions: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    payload = {"format": _FORMAT, "key": key, "config": _jsonable(config), "versions": versions,
               "checksum": _checksum(rows), "rows": rows}
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


def _worker_init(parent: int) -> None:
    """Local workers leave Ctrl-C to the parent (which stops them), die on SIGTERM
    instead of inheriting a handler of the parent's, and end when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_with, args=(parent,), name="gradflow-parent-watch",
                     daemon=True).start()


def _exit_with(parent: int, every: float = 0.5) -> None:
    """End this worker once ``parent`` has died, by any signal (SIGKILL and the OOM killer
    included, which give the parent no chance to stop its workers): a worker whose
    parent is gone is re-parented, so its parent pid changes. A worker blocked in a long
    computation that holds the GIL ends when that computation returns."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate a local pool's processes now (Python 3.11 has no public call for it)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


class _OneBlasThread:
    """``fn`` with BLAS held to one thread: the sweep's parallelism is across runs, and
    a run gives the same bits whether it ran alone, in a pool or on a cluster."""

    def __init__(self, fn: Callable[[Config], list[Row]], engine: str) -> None:
        self.fn = fn
        self.engine = engine   # a Backend's key: every worker (local or on a cluster) runs it

    def __call__(self, config: Config) -> list[Row]:
        from threadpoolctl import threadpool_limits

        from gradflow.engine.backends import use_backend

        with threadpool_limits(limits=1), use_backend(self.engine):
            return self.fn(config)


def run_grid(fn: Callable[[Config], list[Row]], configs: Sequence[Mapping[str, Any]], *,
             cache: str | Path | None = None, salt: str = "", executor: Executor | None = None,
             jobs: int | None = None, progress: bool | None = None,
             desc: str = "sweep", note: Callable[[str], None] | None = None,
             backend: Any = None) -> pd.DataFrame:
    """Run ``fn`` on every configuration and gather the rows into one DataFrame.

    Parameters
    ----------
    fn : picklable function ``config -> list of row dicts``; pure and seeded by the
        config, so the same config always gives the same rows. It runs with BLAS
        limited to one thread (parallelism is across runs)
    configs : the configurations (dicts of JSON-like values)
    cache : folder for finished runs (one JSON file each), or None for no cache
    salt : mixed into every key: pass the source of what ``fn`` computes with
        (the NumPy and SciPy versions are mixed in too)
    executor : where to run; None builds a local process pool of ``jobs`` workers
    jobs : workers of the local pool (default: the machine's cores); 1 runs in
        this process, in order
    progress : a tqdm bar; None shows it only when stderr is a terminal
    desc : the bar's label, and the prefix of notes
    note : called with one line per cache entry that could not be used (corrupt,
        foreign, stale) and is recomputed; default: printed to stderr
    backend : the engine's backend every run uses (``gradflow.engine.Backend`` or its
        key, e.g. ``"numba+ftz"``); None for the caller's current one. Part of
        every key, and passed to the workers explicitly

    Returns
    -------
    pandas.DataFrame: every row of every run, with the configuration's keys as
    leading columns, in the order of ``configs`` (whatever order runs finished in)

    Raises
    ------
    RunError
        when ``fn`` raises or returns something that is not rows, naming the
        configuration. Runs already running elsewhere are awaited and cached
        first, runs not yet started are cancelled.
    KeyboardInterrupt
        passed on after stopping the local workers at once.
    """
    runs: list[Config] = [dict(c) for c in configs]
    versions = environment(backend)
    env_salt = salt + "\n" + json.dumps({k: v for k, v in versions.items() if k != "gradflow"},
                                        sort_keys=True)
    keys = [config_key(c, env_salt) for c in runs]
    fn = _OneBlasThread(fn, versions["engine"])
    cache_dir = Path(cache) if cache is not None else None
    results, todo = _cached(keys, cache_dir, versions, _print_note if note is None else note,
                            desc)
    jobs = (os.cpu_count() or 1) if jobs is None else check_int("jobs", jobs, minimum=1)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc=desc,
               disable=not show, leave=False, dynamic_ncols=True)

    def finish(i: int, rows: Any) -> None:
        # Through JSON either way, so a fresh run and a cached one give the same values.
        rows = json.loads(json.dumps(_jsonable(_check_rows(rows, runs[i]))))
        if cache_dir is not None:
            _store(cache_dir / f"{keys[i]}.json", keys[i], runs[i], rows, versions)
        results[i] = rows
        bar.update()

    failures: list[tuple[int, BaseException]] = []
    try:
        if todo and executor is None and (jobs == 1 or len(todo) == 1):
            _run_here(fn, runs, todo, finish, failures)
        elif todo:
            _run_pool(fn, runs, todo, finish, failures, executor, jobs)
    finally:
        bar.close()
    if failures:
        first, cause = min(failures, key=lambda f: f[0])
        raise RunError(runs[first], cause, len(results)) from cause
    return _frame(runs, results)


def _print_note(line: str) -> None:
    """``run_grid``'s default ``note``: the line on stderr."""
    print(line, file=sys.stderr, flush=True)


def _cached(keys: list[str], cache_dir: Path | None, versions: dict[str, Any],
            note: Callable[[str], None], desc: str) -> tuple[dict[int, list[Row]], list[int]]:
    """The runs found in the cache (index -> rows) and the indices of the others, in
    order; an entry that cannot be used is noted and left to recompute."""
    results: dict[int, list[Row]] = {}
    todo = []
    for i, key in enumerate(keys):
        cached, why = (_load(cache_dir / f"{key}.json", key, versions) if cache_dir is not None
                       else (None, ""))
        if cached is None:
            todo.append(i)
            if why:
                note(f"{desc}: cache entry {cache_dir}/{key}.json is {why}; recomputing")
        else:
            results[i] = cached
    return results, todo


_Finish = Callable[[int, Any], None]


def _run_here(fn: Callable[[Config], list[Row]], runs: list[Config], todo: list[int],
              finish: _Finish, failures: list[tuple[int, BaseException]]) -> None:
    """Run ``todo`` in this process, in order, stopping at the first failure (appended
    to ``failures``)."""
    for i in todo:
        try:
            finish(i, fn(runs[i]))
        except Exception as exc:
            failures.append((i, exc))
            break


def _run_pool(fn: Callable[[Config], list[Row]], runs: list[Config], todo: list[int],
              finish: _Finish, failures: list[tuple[int, BaseException]],
              executor: Executor | None, jobs: int) -> None:
    """Run ``todo`` on ``executor`` (None: a local process pool of ``jobs`` workers),
    finishing runs as they complete. After the first failure (appended to ``failures``)
    runs not yet started are cancelled; on an interrupt a local pool is stopped at once."""
    own = executor is None
    pool: Executor = (executor if executor is not None else ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)), initializer=_worker_init,
        initargs=(os.getpid(),)))
    futures: dict[Future, int] = {}
    try:
        for i in todo:
            futures[pool.submit(fn, runs[i])] = i
        for future in as_completed(futures):
            if future.cancelled():
                continue
            try:
                finish(futures[future], future.result())
            except Exception as exc:
                if not failures:  # stop what has not started; keep what is running
                    for other in futures:
                        other.cancel()
                failures.append((futures[future], exc))
    except BaseException:
        if isinstance(pool, ProcessPoolExecutor) and own:
            _stop_workers(pool)
        else:  # a cluster's executor: withdraw what it has not run
            for other in futures:
                other.cancel()
        raise
    if own:
        pool.shutdown(cancel_futures=True)


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
