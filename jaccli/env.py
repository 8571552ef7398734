"""The program's surroundings, made once in `cli.main` and handed down: streams, terminals, colour.

Nothing below the CLI touches `sys.stdout` or `sys.stderr`; it writes to the
streams of an Environment. Tests make one with `Environment.capture()` and read
what was written.

    >>> env = Environment.capture()
    >>> env.warn("the result has non-finite numbers")
    >>> env.err_text()
    'warning: the result has non-finite numbers\\n'
"""

from __future__ import annotations

import contextvars
import io
import os
import sys
from dataclasses import dataclass, field

NO_FILES = contextvars.ContextVar("jaccli_no_files", default=False)  # `jaccli --no-files …`: no @file is read


VARIABLES = ("NO_COLOR", "TERM", "COLUMNS")  # the environment variables an Environment keeps

_ANSI = {"error": "\x1b[1;31m", "warning": "\x1b[33m", "hint": "\x1b[2m"}


class Interrupted(BaseException):
    """Ctrl-C: what SIGINT raises once `cli.main` has set its handler (typer would turn a KeyboardInterrupt
    into a silent exit 130). Its one argument, when it has one, is the line to print: how far the run got.

    `pending` stays set: Python swallows an exception raised in a gc callback (JAX has one) or a
    `__del__`, so a loop checks it too (`Interrupted.check()`).
    """

    pending = False

    @classmethod
    def check(cls) -> None:
        if cls.pending:
            raise cls()


def _closed_pipe() -> None:
    from .errors import ClosedPipe

    raise ClosedPipe()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Environment:
    stdin: object  # text stream with .buffer (binary)
    stdout: object
    stderr: object
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    variables: dict = field(default_factory=dict)  # the environment variables that matter (NO_COLOR, TERM)
    interrupted: object = None  # set by a run of many points: () ↦ Ctrl-C's line, how far it got

    @classmethod
    def system(cls) -> Environment:
        """The process's own streams and terminal."""
        return cls(sys.stdin, sys.stdout, sys.stderr, _isatty(sys.stdin), _isatty(sys.stdout), _isatty(sys.stderr),
                   {k: os.environ[k] for k in VARIABLES if k in os.environ})

    @classmethod
    def capture(cls, stdin: str | bytes = b"", *, tty: bool = False, variables: dict | None = None) -> Environment:
        """Streams in memory (for tests): `stdin` to read, stdout and stderr to inspect afterwards."""
        data = stdin.encode() if isinstance(stdin, str) else stdin

        def stream(initial: bytes = b""):
            return io.TextIOWrapper(io.BytesIO(initial), encoding="utf-8", write_through=True)

        return cls(stream(data), stream(), stream(), tty, tty, tty, dict(variables or {}))

    # -- reading back what a captured environment was given ------------------------------
    def out_bytes(self) -> bytes:
        return self.stdout.buffer.getvalue()

    def out_text(self) -> str:
        return self.out_bytes().decode()

    def err_text(self) -> str:
        return self.stderr.buffer.getvalue().decode()

    # -- writing ------------------------------------------------------------------------
    @property
    def colour(self) -> bool:
        """Colour and styles on stdout: a terminal, unless NO_COLOR is set or TERM is dumb."""
        return self.stdout_isatty and self._styled

    @property
    def _styled(self) -> bool:
        return "NO_COLOR" not in self.variables and self.variables.get("TERM") != "dumb"

    def _paint(self, text: str, style: str) -> str:
        """`text` in an ANSI style when stderr is a terminal that takes colour."""
        if not (self.stderr_isatty and self._styled):
            return text
        return f"{_ANSI[style]}{text}\x1b[0m"

    def warn(self, message: str) -> None:
        self.stderr.write(f"{self._paint('warning:', 'warning')} {message}\n")
        self.stderr.flush()

    def error(self, lines: list[str], hint: str | None) -> None:
        """The `error:` line, what follows it (the expression and a caret), and a `hint:` line."""
        self.stderr.write(f"{self._paint('error:', 'error')} {lines[0]}\n")
        for line in lines[1:]:
            self.stderr.write((self._paint(line, "error") if line.strip() == "^" else line) + "\n")
        if hint:
            self.stderr.write(self._paint(f"hint: {hint}", "hint") + "\n")
        self.stderr.flush()

    def write(self, data: str | bytes) -> None:
        """Text or bytes to stdout, flushed at once (a co-process waits for it); a closed pipe is ClosedPipe."""
        from .errors import ClosedPipe

        try:
            if isinstance(data, bytes):
                self.stdout.flush()
                self.stdout.buffer.write(data)
                self.stdout.buffer.flush()
            else:
                self.stdout.write(data)
                self.stdout.flush()
        except BrokenPipeError:
            raise ClosedPipe() from None

    def console(self, *, stderr: bool = False, file=None):
        """A rich Console for stdout (or stderr, or a file): natural width to a pipe, never squashed."""
        from rich.console import Console

        if file is not None:
            return Console(file=file, width=200, color_system=None, highlight=False)
        terminal = self.stderr_isatty if stderr else self.stdout_isatty
        plain = not terminal or not self._styled
        width = None if terminal else 10_000
        if terminal and self.variables.get("COLUMNS", "").isdigit():
            width = int(self.variables["COLUMNS"])
        console = Console(file=self.stderr if stderr else self.stdout, highlight=False, force_terminal=terminal,
                          no_color=plain or None, color_system=None if plain else "auto", width=width)
        console.jaccli_ascii = self.variables.get("TERM") == "dumb"  # tables: ASCII boxes
        console.on_broken_pipe = _closed_pipe  # rich's own would exit 1
        return console
