"""Errors that reach the user, and the exit codes they map to.

Library code raises these (and warns through `warn`) and never prints or exits;
`cli.main` is the one place that turns them into an ``error:`` line, a ``hint:``
line and an exit code.
"""

from __future__ import annotations

import enum
import warnings


class ExitCode(enum.IntEnum):
    OK = 0
    DISAGREE = 1  # `check` found entries that differ
    USAGE = 2  # bad usage or input
    RUNTIME = 3  # the computation failed at run time


class JaccliError(Exception):
    """An error with a message for the user, an optional hint, and an exit code."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None, *, text: str | None = None, position: int = 0):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.text = text  # with `position`: where in the expression, shown with a caret
        self.position = position

    def lines(self) -> list[str]:
        """The lines printed to stderr, without the ``error:``/``hint:`` prefixes."""
        if self.text is None:
            return [self.message]
        return [self.message, *caret_lines(self.text, self.position)]


class ParseError(JaccliError):
    """A syntax error at a position of a text; printed with a caret under it."""

    def __init__(self, message: str, text: str, position: int, hint: str | None = None):
        super().__init__(message, hint, text=text, position=position)


class UnknownNameError(ParseError):
    """An unknown function or variable name."""


class ShapeError(JaccliError):
    """Shapes or counts of values that don't fit the expression."""


class PointError(JaccliError):
    """A point, vector or file that cannot be read."""


class TooLargeError(JaccliError):
    """A result or input that would not fit in the memory budget."""


class ComputeError(JaccliError):
    """The computation failed at run time (device error, out of memory)."""

    exit_code = ExitCode.RUNTIME


class ClosedPipe(Exception):
    """stdout was closed by its reader (`| head`): stop quietly, exit 0. Not an OSError, so nothing turns it into exit 1."""


class JaccliWarning(UserWarning):
    """Something the user should know about a result that is still given (non-finite numbers, a skipped cache)."""


def warn(message: str) -> None:
    """Library code's one way to warn: the CLI prints it as a `warning:` line, Python shows a JaccliWarning."""
    warnings.warn(message, JaccliWarning, stacklevel=2)


def caret_lines(text: str, position: int, width: int = 76) -> list[str]:
    """The line of `text` holding `position`, cut to `width` around it, and a caret under it."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start : end if end >= 0 else len(text)]
    column = position - start
    left = max(0, min(column - width // 2, len(line) - width))
    shown = line[left : left + width]
    prefix = "…" if left > 0 else ""
    suffix = "…" if left + width < len(line) else ""
    return ["  " + prefix + shown + suffix, "  " + " " * (len(prefix) + column - left) + "^"]
