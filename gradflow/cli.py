"""The ``gradflow`` command (also ``python -m gradflow``).

Subcommands register themselves from their own sub-packages; this module
only parses, dispatches, and turns a user's mistake (``gradflow.UsageError``,
raised by the validation layer) into one line on stderr and exit code 2; any
other exception is a bug and keeps its traceback. SIGTERM (from
``timeout``, Slurm, ``kill``) is turned into an exception like Ctrl-C, so a
command cleans up (stops its workers, leaves no half-written output) and
exits with 143.

Starting is light: building the parser imports no pandas, matplotlib, SymPy
or SciPy; each subcommand imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

__all__ = ["Terminated", "build_parser", "main"]

EXIT_USAGE = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs as for Ctrl-C."""

    signal_name = "SIGTERM"


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (with where to get help), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    from gradflow import __version__

    parser = _Parser(
        prog="gradflow",
        description="How gradients flow through RNNs, LSTMs and GRUs: symbolic "
                    "derivations and measured diagnostics.",
        epilog="Run 'gradflow COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"gradflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in _registrars():
        register(sub)
    return parser


def _registrars():
    """Each sub-package's ``register(subparsers)``, imported lazily."""
    from gradflow import analyze, bench
    from gradflow.report import command as report_command
    from gradflow.symbolic import cli as symbolic_cli

    yield report_command.register
    yield analyze.register
    yield symbolic_cli.register
    yield bench.register


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    from gradflow.errors import UsageError

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"gradflow {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        print(f"gradflow {args.command}: interrupted ({name})", file=sys.stderr)
        return 143 if name == "SIGTERM" else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
