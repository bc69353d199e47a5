"""The ``gradflow report`` subcommand: its options, and what a failed run tells the user.

Light on purpose: ``gradflow --help`` imports this module, so the report's
heavy dependencies (pandas, matplotlib, seaborn, SymPy, SciPy) load only when
the command runs.

Exit codes: 0 done; 1 an analysis's own code failed (its traceback is shown,
with the file, function and configuration); 2 a usage mistake (one line);
130 / 143 interrupted by SIGINT / SIGTERM. Whatever the failure, ``--out`` is
left exactly as it was, and the message says so.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from gradflow._validate import UsageError

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from gradflow.report.analyses import AnalysisError, discover
    from gradflow.report.build import build_report, default_out

    if args.list:
        for a in discover(args.analyses):
            n, q = len(a.configs()), len(a.configs(quick=True))
            staged = " + stages" if a.staged else ""
            print(f"{a.name:24} {n:4} runs ({q} quick){staged}  {a.title}")
        return 0
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1; got {args.jobs}")
    out = args.out if args.out is not None else default_out(args.quick, args.analyses)
    cache = None if args.no_cache else args.cache
    untouched = f"{out}/ is exactly as it was"
    kept = f"; finished runs are kept in {cache}/" if cache is not None else ""
    try:
        build_report(out, analyses=args.analyses, quick=args.quick, jobs=args.jobs,
                     scheduler=args.scheduler, cache=cache, replace=args.replace)
    except AnalysisError as exc:
        sys.stdout.flush()
        print(_traceback(exc.cause), file=sys.stderr)
        print(f"gradflow report: error: {exc}", file=sys.stderr)
        print(f"gradflow report: nothing was written: {untouched}{kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        signal_name = getattr(exc, "signal_name", "SIGINT")
        print(f"gradflow report: interrupted ({signal_name}): {untouched}{kept}",
              file=sys.stderr)
        return 143 if signal_name == "SIGTERM" else 130
    except UsageError as exc:   # a usage mistake: one line, exit 2
        raise UsageError(f"{exc} ({untouched})") from None
    except OSError as exc:
        print(f"gradflow report: error: {exc}; {untouched}{kept}", file=sys.stderr)
        return 1
    return 0


def _traceback(cause: BaseException) -> str:
    """The analysis's own traceback: the worker's when the run failed in a worker process."""
    remote = cause.__cause__
    if remote is not None and type(remote).__name__ == "_RemoteTraceback":
        return str(remote).strip().strip('"').strip()
    return "".join(traceback.format_exception(cause, chain=False)).rstrip()


def _folder(flag: str):
    """An argparse type: a folder path, refusing an empty string (an unset variable)."""
    def parse(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError("empty (an unset shell variable?); give a folder")
        return Path(text)
    parse.__name__ = "folder"   # argparse names the type in its message
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report", help="run the analyses and regenerate reports/ (what `make reports` runs)",
        description="Run every analysis in --analyses (grid -> cached sweep -> render) and "
                    "write REPORT.md, figures (PDF, PNG, CSV), tables, results.tex and "
                    "manifest.json into --out. The report is built beside --out and swapped "
                    "in only when the whole run succeeded: a failed or interrupted run leaves "
                    "--out exactly as it was.")
    parser.add_argument("--out", default=None, type=_folder("--out"),
                        help="folder to write the report into (default: reports, or "
                             "reports-quick with --quick; for another --analyses folder "
                             "NAME, reports-NAME or reports-NAME-quick). It must be new, "
                             "empty, or hold a report of the same analyses and mode")
    parser.add_argument("--replace", action="store_true",
                        help="replace the report in --out even if it came from other "
                             "analyses or the other mode (files edited by hand and your own "
                             "files are never overwritten)")
    parser.add_argument("--analyses", default=Path("analyses"), type=_folder("--analyses"),
                        help="folder of analysis files (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="small grids (each analysis's QUICK_GRID): a preview, not "
                             "results, marked as such in every file; written to "
                             "reports-quick/ unless --out says otherwise")
    parser.add_argument("--jobs", type=int, default=None,
                        help="local worker processes (default: all cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run on a Dask cluster at ADDRESS (tcp://host:8786) instead")
    parser.add_argument("--cache", default=Path(".gradflow-cache"), type=_folder("--cache"),
                        help="folder of cached runs (default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true", help="recompute every run")
    parser.add_argument("--list", action="store_true",
                        help="list the analyses and their grid sizes, run nothing")
    parser.set_defaults(func=_run)
