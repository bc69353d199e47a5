"""The ``gradflow`` command (also ``python -m gradflow``).

Subcommands register themselves from their own sub-packages; this module
only parses, dispatches, and turns a user's mistake (ValueError, TypeError)
into one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2


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
    from gradflow import bench, report
    from gradflow.symbolic import cli as symbolic_cli

    yield report.register
    yield symbolic_cli.register
    yield bench.register


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError) as exc:
        print(f"gradflow {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradflow: interrupted", file=sys.stderr)
        return 130
