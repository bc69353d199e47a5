"""``gradflow derive``: print a cell's equations, structured Jacobian and bounds.

    gradflow derive {rnn,lstm,gru} [--nonlinearity ...] [--reset-before]
                    [--hidden-size n] [--input-size m] [--format text|latex] [--explicit]

``gradflow.cli`` calls :func:`register` and then ``args.func(args)``.
"""

from __future__ import annotations

import argparse
from typing import Any

# Only the closed sets here: SymPy loads when the command runs, not for `gradflow --help`.
from gradflow._validate import UsageError
from gradflow.conventions import CELLS, NONLINEARITIES

__all__ = ["EXPLICIT_MAX_HIDDEN_SIZE", "register", "run"]

#: ``--explicit`` prints S**2 entries whose length grows with n: beyond this
#: size the output is unreadable and the derivation slow (minutes at n = 64).
EXPLICIT_MAX_HIDDEN_SIZE = 8


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``derive`` subcommand to an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "derive",
        help="derive a cell's one-step state Jacobian with SymPy",
        description="Print a recurrence's equations, its one-step state Jacobian in "
                    "structured form and its norm bounds, derived with SymPy.",
    )
    parser.add_argument("cell", choices=CELLS, help="the recurrent cell")
    parser.add_argument("--nonlinearity", choices=NONLINEARITIES, default=None,
                        help="RNN only: the activation (default tanh)")
    parser.add_argument("--reset-before", action="store_true",
                        help="GRU only: the Cho 2014 / CS224n form, reset gate applied to h "
                             "before the matmul (default: PyTorch's, after)")
    parser.add_argument("--hidden-size", type=int, default=2, metavar="N",
                        help="hidden size n of the explicit derivation (default 2)")
    parser.add_argument("--input-size", type=int, default=None, metavar="M",
                        help="input size m (default: the hidden size)")
    parser.add_argument("--format", choices=("text", "latex"), default="text",
                        help="plain text (default) or LaTeX, one display per line")
    parser.add_argument("--explicit", action="store_true",
                        help="also print every entry of the explicit S x S Jacobian "
                             f"(needs --hidden-size <= {EXPLICIT_MAX_HIDDEN_SIZE})")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Derive and print to stdout; returns 0. Raises ValueError on inconsistent options."""
    from gradflow.symbolic import printing
    from gradflow.symbolic.derivation import derive

    if args.nonlinearity is not None and args.cell != "rnn":
        raise UsageError(f"--nonlinearity applies to cell 'rnn' only; got cell {args.cell!r}")
    if args.reset_before and args.cell != "gru":
        raise UsageError(f"--reset-before applies to cell 'gru' only; got cell {args.cell!r}")
    if args.explicit and args.hidden_size > EXPLICIT_MAX_HIDDEN_SIZE:
        raise UsageError(
            f"--hidden-size must be <= {EXPLICIT_MAX_HIDDEN_SIZE} with --explicit (the explicit "
            f"Jacobian has S x S entries, each longer with n); got --hidden-size "
            f"{args.hidden_size}. Drop --explicit for the structured form at any size")
    derivation = derive(args.cell, hidden_size=args.hidden_size, input_size=args.input_size,
                        nonlinearity=args.nonlinearity or "tanh",
                        reset_after=not args.reset_before)
    latex = args.format == "latex"
    out = derivation.latex() if latex else derivation.text()
    if args.explicit:
        size = derivation.state_size
        out += ("% explicit Jacobian entries J_{i,j} = d s'_i / d s_j\n" if latex else
                "explicit Jacobian entries J[i, j] = d s'_i / d s_j\n")
        for i in range(size):
            for j in range(size):
                entry = derivation.jacobian[i, j]
                out += (rf"\[ J_{{{i},{j}}} = {printing.latex(entry)} \]" + "\n" if latex
                        else f"  J[{i}, {j}] = {entry}\n")
    print(out, end="")
    return 0
