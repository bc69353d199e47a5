"""gradflow's exceptions, in a module that imports nothing (``import gradflow`` stays light).

:class:`UsageError` is a caller's mistake; the command line prints it as one
line with exit code 2. Every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["NonFiniteError", "NonFiniteInputError", "UsageError", "UsageTypeError"]


class UsageError(ValueError):
    """A caller's mistake: a parameter, file or folder that is not allowed.

    The message names the parameter, what arrived and what is allowed. The
    command line prints it as one line (exit code 2); every other exception is
    a bug and keeps its traceback.
    """


class UsageTypeError(UsageError, TypeError):
    """A usage mistake of the wrong type (also a ``TypeError`` for callers that expect one)."""


class NonFiniteError(FloatingPointError, ValueError):
    """A value that must be finite is NaN or infinite.

    Subclasses both ``FloatingPointError`` (it is a numerical event) and
    ``ValueError``. Raised on a caller's input it is a :class:`NonFiniteInputError`.
    """


class NonFiniteInputError(NonFiniteError, UsageError):
    """A caller's input holds NaN or infinite values (a usage mistake)."""
