"""``gradflow report``: run every analysis and assemble ``reports/``.

For each analysis file: run its grid through the cached sweep, hand the
frame to its ``render``, collect figures, tables and citable numbers; then
write ``REPORT.md``, ``results.tex``, the results table, the SymPy
derivations and ``manifest.json``. Deterministic: the same code and seeds
write the same bytes everywhere but ``manifest.json`` (which records the
wall time).

All of it is written into a staging folder beside ``out`` and swapped in
only when the whole run succeeded (:mod:`gradflow.report.staging`): a
failure, an interrupt or a signal leaves ``out`` exactly as it was. Before
anything is computed, :mod:`gradflow.report.ownership` checks that ``out``
may take this report (a new or empty folder, or a report of the same
analyses folder and mode) and that the cache can be written.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from gradflow._validate import UsageError
from gradflow.report.analyses import Analysis, AnalysisError, RunConfig, discover
from gradflow.report.derivations import DERIVATIONS, write_derivations
from gradflow.report.output import (
    Section,
    check_macros,
    markdown_table,
    results_frame,
    results_tex,
)
from gradflow.report.ownership import check_cache, check_out, source_record
from gradflow.report.paper import write_paper
from gradflow.report.staging import staging_folder, swap_in
from gradflow.report.style import figure_style

__all__ = ["DERIVATIONS", "QUICK_OUT", "AnalysisError", "build_report", "default_out"]

#: Where ``--quick`` writes unless told otherwise: never over the full report.
QUICK_OUT = "reports-quick"
#: Seconds to wait for a Dask scheduler before giving up.
SCHEDULER_TIMEOUT = 10
#: The engine backend every run of the report uses (``gradflow.engine.Backend.key``),
#: chosen here rather than inherited: the fused kernels with subnormals flushed to
#: zero, on which the committed report was built. In every cache key and the manifest.
REPORT_BACKEND = "numba+ftz"

_PACKAGES = ("numpy", "scipy", "sympy", "pandas", "matplotlib", "seaborn", "numba",
             "gradflow")
_PREVIEW = ("> **PREVIEW, not results.** Built by `gradflow report --quick` on each "
            "analysis's small `QUICK_GRID`: too few seeds and sizes to decide anything. "
            "Do not cite these numbers; `make reports` builds the report.")


def _git(folder: Path) -> dict[str, Any]:
    """The commit of the git checkout holding ``folder`` (the analyses), and whether its
    tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "not a git checkout", "git_dirty": None}
    return {"git_commit": commit, "git_dirty": dirty}


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _executor(scheduler: str | None) -> tuple[Any, Any]:
    """``(executor, client)`` for a Dask scheduler address; ``(None, None)`` for local."""
    if scheduler is None:
        return None, None
    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise UsageError(f"--scheduler must be an address like tcp://host:8786; "
                         f"got {scheduler!r}")
    try:  # a plain TCP probe first: fails at once on a refused port, no dask logging
        socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler} "
                         f"({exc.strerror or exc}); is it running?") from None
    try:
        from distributed import Client
    except ImportError as exc:
        raise UsageError("--scheduler needs dask.distributed: pip install 'gradflow[dask]'") \
            from exc
    client = _connect(Client, scheduler)
    return client.get_executor(), client


def _connect(client_class: Any, scheduler: str) -> Any:
    """A Dask client, or a ValueError within SCHEDULER_TIMEOUT (+1 s): Dask's own timeout
    does not bound a handshake that never comes, so the wait is bounded here."""
    import threading

    result: dict[str, Any] = {}

    def connect() -> None:
        try:
            result["client"] = client_class(scheduler, timeout=SCHEDULER_TIMEOUT)
        except BaseException as exc:  # handed to the caller below
            result["error"] = exc

    thread = threading.Thread(target=connect, name="gradflow-dask-connect", daemon=True)
    thread.start()
    thread.join(SCHEDULER_TIMEOUT + 1)
    if thread.is_alive():
        raise UsageError(f"no answer from a Dask scheduler at {scheduler} within "
                         f"{SCHEDULER_TIMEOUT} s; is it running?")
    error = result.get("error")
    if isinstance(error, OSError | TimeoutError):
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler} within "
                         f"{SCHEDULER_TIMEOUT} s ({type(error).__name__})")
    if error is not None:  # something answers there, but it does not speak Dask
        raise UsageError(f"no Dask scheduler answers at {scheduler} (the port is open, but "
                         f"the handshake failed: {type(error).__name__})")
    return result["client"]


def _run_analysis(analysis: Analysis, out: Path, *, quick: bool, jobs: int | None,
                  executor: Any, cache: Path | None, progress: bool | None
                  ) -> tuple[Section, dict[str, Any]]:
    from gradflow.engine.backends import use_backend

    start = time.perf_counter()
    frame, configs = _stages(analysis, quick, REPORT_BACKEND, analysis.name, jobs=jobs,
                             executor=executor, cache=cache, progress=progress)
    section = Section(analysis.name, out, preview=quick,
                      replicate=_replicate(analysis, quick, jobs=jobs, executor=executor,
                                           cache=cache, progress=progress)
                      if analysis.replicate else None)
    try:
        with figure_style(), use_backend(REPORT_BACKEND):  # render may run the engine too
            analysis.module.render(frame, section)
    except Exception as exc:
        raise AnalysisError(analysis.path, "render", exc) from exc
    # The seeds the rows carry (an analysis may run several seeds per configuration).
    seeds = (sorted({getattr(v, "item", lambda v=v: v)() for v in frame["seed"].dropna()})
             if "seed" in frame
             else sorted({c["seed"] for c in configs if "seed" in c}))
    info = {"title": analysis.title, "file": analysis.path.name, "configs": len(configs),
            "rows": len(frame), "seeds": seeds, "quick": quick,
            "wall_time_s": round(time.perf_counter() - start, 3)}
    return section, info


# The round-off replicate: the engine's NumPy reference backend, which computes what the
# fused kernels compute in another order of summation (the differences are round-off).
REPLICATE_BACKEND = "numpy"


def _stages(analysis: Analysis, quick: bool, backend: str, desc: str, *, jobs: int | None,
            executor: Any, cache: Path | None, progress: bool | None
            ) -> tuple[Any, list[dict[str, Any]]]:
    """Every row of ``analysis`` on ``backend``: its grid, then each stage its ``follow``
    asks for after the rows so far, until it asks for none. Returns (frame, every
    configuration run, in order)."""
    from gradflow.sweep import RunError, package_fingerprint, run_grid

    configs, stage, frames = [], analysis.configs(quick), []
    frame = pd.DataFrame()
    done: set[str] = set()
    while stage:
        again = [c for c in stage if json.dumps(c, sort_keys=True, default=str) in done]
        if again:
            raise AnalysisError(analysis.path, "follow", RuntimeError(
                f"follow asked again for {len(again)} run(s) already done (e.g. {again[0]}): "
                f"a protocol's stages must end"))
        done |= {json.dumps(c, sort_keys=True, default=str) for c in stage}
        try:
            frames.append(run_grid(
                RunConfig(analysis.path), stage,
                cache=None if cache is None else cache / analysis.name,
                salt=analysis.source_hash() + package_fingerprint(), executor=executor,
                jobs=jobs, progress=progress, desc=desc,
                note=lambda line: print(f"gradflow report: {line}", file=sys.stderr),
                backend=backend))
        except RunError as exc:
            raise AnalysisError(analysis.path, "run", exc.cause, exc.config) from exc.cause
        configs += stage
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        try:
            stage = analysis.follow(frame, quick)
        except Exception as exc:
            raise AnalysisError(analysis.path, "follow", exc) from exc
    return frame, configs


def _replicate(analysis: Analysis, quick: bool, *, jobs: int | None, executor: Any,
               cache: Path | None, progress: bool | None) -> dict[str, Any]:
    """The claims of ``analysis`` recomputed on the round-off replicate (its grid, and
    the stages its protocol asks for on the replicate's own rows, run on
    :data:`REPLICATE_BACKEND`; cached apart, as the backend is part of every key)."""
    from gradflow.engine.backends import use_backend

    frame, _ = _stages(analysis, quick, REPLICATE_BACKEND, f"{analysis.name} (replicate)",
                       jobs=jobs, executor=executor, cache=cache, progress=progress)
    try:
        with use_backend(REPLICATE_BACKEND):
            return dict(analysis.module.summarize(frame).claims)
    except Exception as exc:
        raise AnalysisError(analysis.path, "render", exc) from exc


def _round_off_lines(sections: list[tuple[Analysis, Section]]) -> list[str]:
    """REPORT.md's account of the round-off replicate: what was checked, what moved."""
    checked = [(a, s) for a, s in sections if s.replicate is not None]
    if not checked:
        return []
    n = sum(sum(1 for c in s.claims if s.round_off(c)) for _, s in checked)
    fragile = [(a, c) for a, s in checked for c in s.claims if c.name in s.fragile]
    unchecked = [a.name for a, s in sections if s.replicate is None]
    text = (f"**Round-off.** The claims of {', '.join(a.name for a, _ in checked)} "
            f"({n} claims) were recomputed on a replicate that differs only in round-off "
            f"(the engine's NumPy reference backend instead of its fused kernels); ")
    if fragile:
        text += (f"{len(fragile)} verdict{'s' if len(fragile) != 1 else ''} moved and "
                 f"{'is' if len(fragile) == 1 else 'are'} reported as inconclusive, \"fragile "
                 f"under round-off\" (column `round_off` of `tables/claims.csv`): "
                 + "; ".join(f"{a.name}: {c.statement.rstrip('.')}" for a, c in fragile) + ".")
    else:
        text += "no verdict moved (column `round_off` of `tables/claims.csv`)."
    only = [f"{a.name}: {name}" for a, s in checked for name in s.replicate_only()]
    if only:
        text += (f" The replicate also made {len(only)} claim{'s' if len(only) != 1 else ''} "
                 f"this run does not (its data crossed a condition this run's did not): "
                 + "; ".join(only) + ".")
    if unchecked:
        text += (f" Not yet checked: {', '.join(unchecked)} (a replicate runs a section "
                 f"twice, and for the training sections that would double the report's time); "
                 f"their verdicts near a threshold can move on other BLAS kernels.")
    return [text, ""]


def default_out(quick: bool, analyses: Path | str = "analyses") -> Path:
    """Where a report goes unless told: ``reports`` (``reports-quick`` for a preview) for
    ``./analyses``; ``reports-NAME`` (``reports-NAME-quick``) for any other analyses
    folder NAME, so a user's own analyses never write over the project's report."""
    if Path(analyses).resolve() == Path("analyses").resolve():
        return Path(QUICK_OUT if quick else "reports")
    name = Path(analyses).resolve().name or "analyses"
    return Path(f"reports-{name}" + ("-quick" if quick else ""))


# The reproducibility contract, in two levels (README, "Reproducible at two levels").
REPRODUCIBLE = {
    "bytes": "the same bytes (but the wall times) from the same code, seeds, versions, engine "
             "backend and BLAS library and kernels ('blas')",
    "verdicts": "other BLAS kernels change numbers in round-off, and a trained RNN or LSTM "
                "amplifies round-off into a different run; a verdict that sits near its "
                "threshold can then change (see each inconclusive claim's more-seeds note)",
}


def _note_other_kernels(previous: Any, staging: Path, say: Any) -> None:
    """Say when the report being replaced was computed on other BLAS libraries or kernels
    than the new one (both as their manifests record them): its numbers may then differ
    from the new report's in the last bits."""
    if previous is None or not previous.blas:
        return
    try:
        now = json.loads((staging / "manifest.json").read_text(encoding="utf-8"))["blas"]
    except (OSError, ValueError, KeyError):
        return
    if sorted(map(str, previous.blas)) != sorted(map(str, now)):
        say(f"gradflow report: note: the report being replaced was computed on other BLAS "
            f"kernels ({'; '.join(map(str, previous.blas))}) than this one "
            f"({'; '.join(map(str, now))}); its numbers may differ in round-off, and a "
            f"verdict near its threshold may differ (README: 'Reproducible at two levels')")


def build_report(out: Path | str | None = None, *, analyses: Path | str = "analyses",
                 quick: bool = False, jobs: int | None = None, scheduler: str | None = None,
                 cache: Path | str | None = ".gradflow-cache", progress: bool | None = None,
                 stream: Any = sys.stdout, replace: bool = False) -> list[Path]:
    """Regenerate the report under ``out``; returns the files written.

    The report is built in a staging folder beside ``out`` and swapped in only
    when every analysis has run and rendered; on any failure (an exception, an
    interrupt) ``out`` is left exactly as it was. Files in ``out`` that gradflow
    did not generate are never touched: a report replaces only a report of the
    same analyses folder and mode (or any report, with ``replace``), deletes
    only files inside ``out`` that the previous manifest lists with a matching
    hash, and stops before overwriting a file edited by hand.

    Parameters
    ----------
    out : folder of the report (default: :func:`default_out`)
    analyses : folder of analysis files (at least one)
    quick : use each analysis's ``QUICK_GRID``: a preview, marked as one in every file
    jobs : local worker processes (default: all cores)
    scheduler : address of a Dask scheduler to run on instead of local processes
    cache : folder of cached runs (None: no cache); finished runs stay there even
        when the report fails
    stream : where progress lines go (None: silent)
    replace : replace the report in ``out`` even if it came from other analyses or
        the other mode (files edited by hand and a user's own files stay protected)

    Raises
    ------
    UsageError : a usage mistake (no analyses, ``out`` holding another report or a
        user's files, an unwritable cache, an unreachable scheduler, ...)
    AnalysisError : an analysis's own code failed (names the file, function and config)
    """
    def say(text: str) -> None:
        if stream is not None:
            print(text, file=stream, flush=True)

    analyses = Path(analyses)
    out = Path(out) if out is not None else default_out(quick, analyses)
    found = discover(analyses)
    previous = check_out(out, analyses=analyses, names=[a.name for a in found], quick=quick,
                         replace=replace)
    cache = None if cache is None else Path(cache)
    check_cache(cache)
    executor, client = _executor(scheduler)
    staging = None
    try:
        staging = staging_folder(out)
        written, n_numbers = _build(staging, found, analyses=analyses, quick=quick, jobs=jobs,
                                    executor=executor, cache=cache, progress=progress, say=say,
                                    source=source_record(analyses, out))
        _note_other_kernels(previous, staging, say)
        written = swap_in(staging, out, note=lambda line: say(f"gradflow report: {line}"))
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if client is not None:
            client.close()
    say(f"gradflow report: wrote {len(written)} files into {out}/ "
        f"({len(found)} analyses, {n_numbers} citable numbers"
        f"{'; a PREVIEW on quick grids' if quick else ''}); see {out / 'REPORT.md'}")
    return written


def _build(out: Path, found: list[Analysis], *, analyses: Path, quick: bool, jobs: int | None,
           executor: Any, cache: Path | None, progress: bool | None,
           say: Any, source: str) -> tuple[list[Path], int]:
    """Every file of the report, written into ``out`` (the staging folder)."""
    sections, runs = [], {}
    start = time.perf_counter()
    for analysis in found:
        staged = ", then its protocol's stages" if analysis.staged else ""
        say(f"gradflow report: {analysis.name} ({len(analysis.configs(quick))} runs{staged})")
        section, info = _run_analysis(analysis, out, quick=quick, jobs=jobs, executor=executor,
                                      cache=cache, progress=progress)
        sections.append((analysis, section))
        runs[analysis.name] = info
    numbers = [n for _, s in sections for n in s.numbers]
    check_macros(numbers)  # two analyses, one macro name: an error before anything is written
    derivation_lines, derivation_files = write_derivations(out)
    written = list(derivation_files)

    lines = ["# gradflow report", ""]
    if quick:
        lines += [_PREVIEW, ""]
    lines += ["Generated by `make reports` (`gradflow report`); do not edit by hand. Every "
              "figure has its data beside it as CSV; every citable number is a macro in "
              "`results.tex` and a row of `tables/results.csv`; `manifest.json` records "
              "versions, the git commit, seeds, grid sizes and a hash of each file. "
              "The engine's speed against PyTorch and the machine's GEMM rate is measured by "
              "`make bench` into `benchmarks.md` (machine-dependent, so kept apart from this "
              "byte-reproducible report).", ""]
    lines += _round_off_lines(sections)
    lines += ["## Contents", ""]
    lines += [f"- [{a.title}](#{a.name.replace('_', '-')})" for a, _ in sections]
    lines += ["- [One-step Jacobians, derived by SymPy](#one-step-jacobians-derived-by-sympy)", ""]
    for analysis, section in sections:
        lines += [f'<a id="{analysis.name.replace("_", "-")}"></a>', "",
                  f"## {analysis.title}", "", f"**Question.** {analysis.question}", "",
                  section.markdown(), ""]
        written += section.files
    lines += derivation_lines
    report = out / "REPORT.md"
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    results = out / "results.tex"
    results.write_text(results_tex(numbers, preview=quick), encoding="utf-8")
    (out / "tables").mkdir(exist_ok=True)
    table = out / "tables" / "results"
    frame = results_frame(numbers)
    frame.to_csv(table.with_suffix(".csv"), index=False, float_format="%.10g",
                 lineterminator="\n")
    table.with_suffix(".md").write_text(
        (markdown_table(frame) if len(frame) else "(no numbers)") + "\n", encoding="utf-8")
    claims = out / "tables" / "claims.csv"
    claim_frames = [s.claims_frame() for _, s in sections]
    pd.concat(claim_frames, ignore_index=True).to_csv(claims, index=False, lineterminator="\n")
    written += [report, results, table.with_suffix(".csv"), table.with_suffix(".md"), claims]
    written += write_paper(out, [(a.name, a.title, a.question, s) for a, s in sections],
                           derivation_files, preview=quick)  # preamble.tex, paper.tex

    from gradflow._blas_info import describe as describe_blas

    manifest = {"generated_by": "gradflow report", **_git(analyses), "engine": REPORT_BACKEND,
                "blas": describe_blas(), "reproducible": REPRODUCIBLE,
                "versions": _versions(), "quick": quick,
                "analyses_folder": source,
                "analyses": runs, "wall_time_s": round(time.perf_counter() - start, 3),
                "outputs": {p.relative_to(out).as_posix():
                            hashlib.sha256(p.read_bytes()).hexdigest()
                            for p in sorted(set(written))}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return written, len(numbers)
