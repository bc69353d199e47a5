"""``gradflow report``: run every analysis and assemble ``reports/``.

For each analysis file: run its grid through the cached sweep, hand the
frame to its ``render``, collect figures, tables and citable numbers; then
write ``REPORT.md``, ``results.tex``, the results table, the SymPy
derivations and ``manifest.json``. Deterministic: the same code and seeds
write the same bytes everywhere but ``manifest.json`` (which records the
wall time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from gradflow.report.analyses import Analysis, RunConfig, discover
from gradflow.report.derivations import DERIVATIONS, write_derivations
from gradflow.report.output import (
    Section,
    check_macros,
    markdown_table,
    results_frame,
    results_tex,
)
from gradflow.report.paper import write_paper
from gradflow.report.style import figure_style

__all__ = ["DERIVATIONS", "build_report", "register"]

_PACKAGES = ("numpy", "scipy", "sympy", "pandas", "matplotlib", "seaborn", "gradflow")
_GENERATED = ("figures", "tables", "derivations")


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _executor(scheduler: str | None):
    if scheduler is None:
        return None
    try:
        from distributed import Client
    except ImportError as exc:
        raise ValueError("--scheduler needs dask.distributed: pip install 'gradflow[dask]'") \
            from exc
    return Client(scheduler).get_executor()


def _run_analysis(analysis: Analysis, out: Path, *, quick: bool, jobs: int | None,
                  executor: Any, cache: Path | None, progress: bool | None
                  ) -> tuple[Section, dict[str, Any]]:
    from gradflow.sweep import package_fingerprint, run_grid

    configs = analysis.configs(quick)
    start = time.perf_counter()
    frame = run_grid(RunConfig(analysis.path), configs,
                     cache=None if cache is None else cache / analysis.name,
                     salt=analysis.source_hash() + package_fingerprint(), executor=executor,
                     jobs=jobs, progress=progress, desc=analysis.name)
    section = Section(analysis.name, out, preview=quick)
    with figure_style():
        analysis.module.render(frame, section)
    seeds = sorted({c["seed"] for c in configs if "seed" in c})
    info = {"title": analysis.title, "file": analysis.path.name, "configs": len(configs),
            "rows": len(frame), "seeds": seeds, "quick": quick,
            "wall_time_s": round(time.perf_counter() - start, 3)}
    return section, info


def build_report(out: Path | str = "reports", *, analyses: Path | str = "analyses",
                 quick: bool = False, jobs: int | None = None, scheduler: str | None = None,
                 cache: Path | str | None = ".gradflow-cache", progress: bool | None = None,
                 stream=sys.stdout) -> list[Path]:
    """Regenerate the report under ``out``; returns the files written.

    Parameters
    ----------
    out : folder of the report (its generated subfolders are rebuilt)
    analyses : folder of analysis files
    quick : use each analysis's ``QUICK_GRID`` (for tests and previews)
    jobs : local worker processes (default: all cores)
    scheduler : address of a Dask scheduler to run on instead of local processes
    cache : folder of cached runs (None: no cache)
    stream : where progress lines go (None: silent)
    """
    def say(text: str) -> None:
        if stream is not None:
            print(text, file=stream, flush=True)

    out = Path(out)
    found = discover(analyses) if Path(analyses).is_dir() else []
    out.mkdir(parents=True, exist_ok=True)
    for folder in _GENERATED:
        shutil.rmtree(out / folder, ignore_errors=True)
    executor = _executor(scheduler)
    cache = None if cache is None else Path(cache)
    sections, runs = [], {}
    start = time.perf_counter()
    for analysis in found:
        say(f"gradflow report: {analysis.name} ({len(analysis.configs(quick))} runs)")
        section, info = _run_analysis(analysis, out, quick=quick, jobs=jobs, executor=executor,
                                      cache=cache, progress=progress)
        sections.append((analysis, section))
        runs[analysis.name] = info
    numbers = [n for _, s in sections for n in s.numbers]
    check_macros(numbers)  # two analyses, one macro name: an error before anything is written
    derivation_lines, derivation_files = write_derivations(out)
    written = list(derivation_files)

    lines = ["# gradflow report", "",
             "Generated by `make reports` (`gradflow report`); do not edit by hand. Every "
             "figure has its data beside it as CSV; every citable number is a macro in "
             "`results.tex` and a row of `tables/results.csv`; `manifest.json` records "
             "versions, the git commit, seeds, grid sizes and a hash of each file. "
             "The engine's speed against PyTorch and the machine's GEMM rate is measured by "
             "`make bench` into `benchmarks.md` (machine-dependent, so kept apart from this "
             "byte-reproducible report).", ""]
    if sections:
        lines += ["## Contents", ""]
        lines += [f"- [{a.title}](#{a.name.replace('_', '-')})" for a, _ in sections]
        lines += ["- [One-step Jacobians, derived by SymPy](#one-step-jacobians-derived-by-sympy)",
                  ""]
    else:
        lines += ["No analysis files were found in "
                  f"`{Path(analyses).as_posix()}`: this report holds only the derivations.", ""]
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
    written += [report, results, table.with_suffix(".csv"), table.with_suffix(".md")]
    written += write_paper(out, [(a.name, a.title, a.question, s) for a, s in sections],
                           derivation_files, preview=quick)  # preamble.tex, paper.tex

    manifest = {"generated_by": "gradflow report", "git_commit": _git_commit(),
                "versions": _versions(), "quick": quick,
                "analyses": runs, "wall_time_s": round(time.perf_counter() - start, 3),
                "outputs": {p.relative_to(out).as_posix():
                            hashlib.sha256(p.read_bytes()).hexdigest()
                            for p in sorted(set(written))}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    written.append(out / "manifest.json")
    say(f"gradflow report: wrote {len(written)} files into {out}/ "
        f"({len(sections)} analyses, {len(numbers)} citable numbers); see {report}")
    return written


def _run(args: argparse.Namespace) -> int:
    if args.list:
        for a in discover(args.analyses):
            n, q = len(a.configs()), len(a.configs(quick=True))
            print(f"{a.name:24} {n:4} runs ({q} quick)  {a.title}")
        return 0
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {args.jobs}")
    build_report(args.out, analyses=args.analyses, quick=args.quick, jobs=args.jobs,
                 scheduler=args.scheduler, cache=None if args.no_cache else args.cache)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report", help="run the analyses and regenerate reports/ (what `make reports` runs)",
        description="Run every analysis in --analyses (grid -> cached sweep -> render) and "
                    "write REPORT.md, figures (PDF, PNG, CSV), tables, results.tex and "
                    "manifest.json into --out.")
    parser.add_argument("--out", default="reports", type=Path,
                        help="folder to write the report into (default: %(default)s)")
    parser.add_argument("--analyses", default="analyses", type=Path,
                        help="folder of analysis files (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="small grids (each analysis's QUICK_GRID): a preview, not results")
    parser.add_argument("--jobs", type=int, default=None,
                        help="local worker processes (default: all cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run on a Dask cluster at ADDRESS (tcp://host:8786) instead")
    parser.add_argument("--cache", default=Path(".gradflow-cache"), type=Path,
                        help="folder of cached runs (default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true", help="recompute every run")
    parser.add_argument("--list", action="store_true",
                        help="list the analyses and their grid sizes, run nothing")
    parser.set_defaults(func=_run)
