"""`jaccli` itself: make the Environment, run the typer app, and map every error to an exit code.

This is the one place errors become `error:` lines and exit codes, and warnings
(`errors.warn`, NumPy's, anything's) become `warning:` lines on stderr.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import signal
import sys

import typer

from ..env import NO_FILES, Environment, Interrupted
from ..errors import ClosedPipe, ExitCode, JaccliError
from .app import app
from .shared import sparse_values


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run the command line; map every error to one `error:` line and an exit code, warnings to `warning:`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # XLA's C++ log lines (E1201 …) stay off stderr
    previous = _catch_interrupts()
    try:
        return _main(argv, env)
    except (Interrupted, KeyboardInterrupt):  # before the command ran (its own are caught in _run)
        (env.stderr if env else sys.stderr).write("interrupted\n")
        return 130
    finally:
        _restore_interrupts(previous)


def _main(argv: list[str] | None, env: Environment | None) -> int:
    import warnings

    env = env or Environment.system()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("JACCLI_DEBUG"))
    no_files = "--no-files" in argv  # anywhere on the line, like --debug: untrusted input names no files
    argv = [a for a in argv if a not in ("--debug", "--no-files")]
    argv = _protect_expression(argv)
    argv = sparse_values(argv)
    command = click_command(argv[0] if argv and argv[0] in app_commands() else None)
    token = NO_FILES.set(no_files or NO_FILES.get())
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # the interpreter's own housekeeping, not the user's
        warnings.showwarning = lambda message, *rest: env.warn(str(message))
        try:
            return _run(command, argv, env, debug)
        finally:
            NO_FILES.reset(token)


_typer_metavar = typer.core.TyperArgument.make_metavar


def _plain_usage(self, ctx, *, usage: bool = False) -> str:
    """A required argument in the usage line as `EXPR`, as users type it (typer writes `{EXPR}`)."""
    var = _typer_metavar(self, ctx, usage=usage)
    if usage and self.required and var.startswith("{") and "}" in var:
        head, _, tail = var[1:].partition("}")
        return head + tail
    return var


typer.core.TyperArgument.make_metavar = _plain_usage  # typer's own method for this, see typer/core.py


def _run(command, argv: list[str], env: Environment, debug: bool) -> int:
    try:
        code = command.main(args=argv, prog_name="jaccli", standalone_mode=False, obj=env)
        Interrupted.check()  # a Ctrl-C that Python swallowed (raised in a gc callback) still ends as one
        return int(code or 0) if isinstance(code, int) else 0
    except JaccliError as error:
        if debug:
            _print_traceback(env)
        env.error(error.lines(), error.hint)
        return int(error.exit_code)
    except (BrokenPipeError, ClosedPipe):  # `| head`: the reader has what it wanted
        _silence_stdout()
        return 0
    except typer.Abort:
        return 130
    except Exception as error:  # noqa: BLE001 - the one place errors become exit codes
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `jaccli`: the help, and success
            env.write(error.format_message() + "\n")
            return 0
        if type(error).__name__ == "Exit":
            return int(getattr(error, "exit_code", 0))
        usage = _usage_error(error)
        if usage is not None:
            env.error([usage[0]], usage[1])
            return int(ExitCode.USAGE)
        if debug:
            _print_traceback(env)
        env.error([f"internal error: {type(error).__name__}: {error}"],
                  "this is a bug in jaccli; run again with --debug to see the traceback")
        return int(ExitCode.RUNTIME)
    except (Interrupted, KeyboardInterrupt) as interrupt:  # Ctrl-C: one line, how far the run got
        if debug:
            _print_traceback(env)
        line = interrupt.args[0] if interrupt.args else env.interrupted() if env.interrupted else "interrupted"
        env.stderr.write(f"{line}\n")
        env.stderr.flush()
        return 130


def _catch_interrupts():
    """SIGINT raises Interrupted, and Python's note on one it had to swallow is not printed; the old handlers."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    Interrupted.pending = False

    def interrupt(signum, frame):
        Interrupted.pending = True
        raise Interrupted()

    def unraisable(info, hook=sys.unraisablehook):
        if not isinstance(info.exc_value, Interrupted):
            hook(info)

    previous = signal.signal(signal.SIGINT, interrupt), sys.unraisablehook
    sys.unraisablehook = unraisable
    return previous


def _restore_interrupts(previous) -> None:
    if previous is not None:
        if previous[0] is not None:
            signal.signal(signal.SIGINT, previous[0])
        sys.unraisablehook = previous[1]


def _protect_expression(argv: list[str]) -> list[str]:
    """Let EXPR start with '-' ("-x**2") when it is not one of the command's options."""
    if len(argv) >= 2 and argv[0] in app_commands() and argv[1].startswith("-") and len(argv[1]) > 1:
        name = argv[1].split("=", 1)[0]
        command = click_command(argv[0]).commands[argv[0]]
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        if name not in options | {"--help", "-h"}:
            argv[1] = " " + argv[1]
    return argv


@functools.cache
def click_command(name: str | None = None):
    """The click command typer builds from the app: once a process (a daemon answers many calls; building
    it takes longer than parsing a line). With `name`, the app with that one command (and its groups such as
    `cache`): building all of them takes 26 ms here, one 4 ms; a line that names no command gets them all."""
    if name is None:
        return typer.main.get_command(app)
    one = copy.copy(app)
    one.registered_commands = [c for c in app.registered_commands if (c.name or c.callback.__name__) == name]
    return typer.main.get_command(one)


def app_commands() -> set[str]:
    return {c.name or c.callback.__name__ for c in app.registered_commands}


_NOT_ONE_OF = re.compile(r"Invalid value for (.+?): (?:Value error, )?'(.*)' is not one of (.+?)\.?$", re.S)


def _usage_error(error: Exception) -> tuple[str, str] | None:
    """Click's usage errors (a vendored copy inside typer) as (message, hint), in jaccli's words."""
    if hasattr(error, "format_message") and hasattr(error, "exit_code") and getattr(error, "exit_code", 0) == 2:
        ctx = getattr(error, "ctx", None)
        where = ctx.command_path if ctx is not None else "jaccli"
        message = error.format_message()
        choice = _NOT_ONE_OF.match(message)
        if choice:
            option, value, choices = choice.groups()
            names = ", ".join(c.strip(" '") for c in choices.split(","))
            return f"{option} takes one of {names}, not {value!r}", f"see `{where} --help`"
        return message, f"see `{where} --help`"
    return None


def _print_traceback(env: Environment) -> None:
    import traceback

    traceback.print_exc(file=env.stderr)


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def entry() -> None:
    """The console script: run, flush, and leave without tearing JAX down (saves ~0.2 s a call)."""
    code = main()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _silence_stdout()
    try:
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()
