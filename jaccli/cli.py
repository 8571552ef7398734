"""The `jaccli` command: options → one Request → one call → rendered output.

This is the one place that maps errors to exit codes (`main`). Nothing heavy is
imported at module level: `jaccli --help` never loads JAX or SymPy.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from .errors import ExitCode, JaccliError
from .options import (  # noqa: F401
    At, ChunkSize, DType, Device, DeviceOpt, Dtype, Expr, Fmt, Format, Full, HessMode, JacMode, JacobianMode, MaxMemory, NoCache, Of, Order, Output, Partial, Precision, SecondOrderMode, SkipBad, Symbolic, U, V, Vars, WithValue, Wrt,
)

app = typer.Typer(
    name="jaccli",
    help="Exact Jacobians, Hessians and Hessian-vector products of math expressions, "
    "by JAX automatic differentiation.\n\n"
    'Example: jaccli jacobian "[x**2*y, sin(z)]" --at 1,2,pi/2',
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # expressions are full of [brackets]: no markup in help texts
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _compute(command: str, expr: str, at, *, v=None, u=None, vars=None, wrt=None, mode=None,
             fmt=None, output=None, dtype=DType.float64, precision=None, device=None, max_memory=None,
             full=False, chunk_size=None, skip_bad=False, no_cache=False, order=None, partial=None,
             with_value=False, symbolic=False) -> None:
    from .batch import is_batch
    from .budget import parse_size
    from .evaluate import Request, run
    from .output import write_batch, write_result

    request = Request(
        command=command, expr=expr, at=tuple(at or ()), v=tuple(v or ()), u=tuple(u or ()),
        vars=_names(vars), wrt=_names(wrt), mode=mode.value if mode else None, dtype=dtype.value,
        device=device.value if device else None, max_memory=parse_size(max_memory) if max_memory else None,
        no_cache=no_cache, chunk_size=chunk_size, order=order, partial=_names(partial), with_value=with_value,
    )
    fmt = fmt.value if fmt else None
    if symbolic or fmt == "latex":
        from .formula import write_formula

        write_formula(request, fmt, output)
    elif is_batch(request):
        write_batch(request, fmt, output, precision=precision, full=full, chunk_size=chunk_size,
                    skip_bad=skip_bad)
    else:
        write_result(run(request), fmt, output, precision=precision, full=full)


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


@app.command("eval")
def eval_(expr: Expr, at: At = None, vars: Vars = None, with_value: WithValue = False, fmt: Fmt = None,
          output: Output = None,
          dtype: Dtype = DType.float64, precision: Precision = None, device: DeviceOpt = None,
          max_memory: MaxMemory = None, full: Full = False, chunk_size: ChunkSize = None,
        skip_bad: SkipBad = False, no_cache: NoCache = False) -> None:
    """The value f(x).  Example: jaccli eval "[x**2*y, sin(z)]" --at 1,2,pi/2"""
    _compute("grad" if with_value else "eval", expr, at, vars=vars, with_value=with_value,
             symbolic=fmt is not None and fmt.value == "latex", fmt=fmt, output=output, dtype=dtype, precision=precision,
             device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def grad(expr: Expr, at: At = None, vars: Vars = None, wrt: Wrt = None, with_value: WithValue = False,
         symbolic: Symbolic = False, fmt: Fmt = None,
         output: Output = None, dtype: Dtype = DType.float64, precision: Precision = None,
         device: DeviceOpt = None, max_memory: MaxMemory = None, full: Full = False, chunk_size: ChunkSize = None,
        skip_bad: SkipBad = False, no_cache: NoCache = False) -> None:
    """The gradient ∇f of a scalar expression.  Example: jaccli grad "x**2*y + y**3" --at 1,2"""
    _compute("grad", expr, at, vars=vars, wrt=wrt, with_value=with_value, symbolic=symbolic, fmt=fmt, output=output, dtype=dtype,
             precision=precision, device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def jacobian(expr: Expr, at: At = None, vars: Vars = None, wrt: Wrt = None, mode: JacMode = JacobianMode.auto,
             symbolic: Symbolic = False,
             fmt: Fmt = None, output: Output = None, dtype: Dtype = DType.float64,
             precision: Precision = None, device: DeviceOpt = None, max_memory: MaxMemory = None,
             full: Full = False, chunk_size: ChunkSize = None, skip_bad: SkipBad = False,
             no_cache: NoCache = False) -> None:
    """The Jacobian ∂f/∂x, shape out_shape + in_shape.  Example: jaccli jacobian "[x**2*y, sin(z)]" --at 1,2,pi/2"""
    _compute("jacobian", expr, at, vars=vars, wrt=wrt, mode=mode, symbolic=symbolic, fmt=fmt, output=output, dtype=dtype,
             precision=precision, device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def hessian(expr: Expr, at: At = None, vars: Vars = None, wrt: Wrt = None,
            mode: HessMode = SecondOrderMode.fwd_rev, symbolic: Symbolic = False, fmt: Fmt = None, output: Output = None,
            dtype: Dtype = DType.float64, precision: Precision = None, device: DeviceOpt = None,
            max_memory: MaxMemory = None, full: Full = False, chunk_size: ChunkSize = None,
        skip_bad: SkipBad = False, no_cache: NoCache = False) -> None:
    """The Hessian ∂²f/∂x², shape out_shape + in_shape + in_shape.  Example: jaccli hessian "x**2*y + y**3" --at 1,2"""
    _compute("hessian", expr, at, vars=vars, wrt=wrt, mode=mode, symbolic=symbolic, fmt=fmt, output=output, dtype=dtype,
             precision=precision, device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def jvp(expr: Expr, at: At = None, v: V = None, vars: Vars = None, wrt: Wrt = None, fmt: Fmt = None,
        output: Output = None, dtype: Dtype = DType.float64, precision: Precision = None,
        device: DeviceOpt = None, max_memory: MaxMemory = None, full: Full = False, chunk_size: ChunkSize = None,
        skip_bad: SkipBad = False, no_cache: NoCache = False) -> None:
    """The Jacobian-vector product J·v (forward mode).  Example: jaccli jvp "[x**2*y, sin(z)]" --at 1,2,pi/2 --v 1,0,0"""
    _compute("jvp", expr, at, v=v, vars=vars, wrt=wrt, fmt=fmt, output=output, dtype=dtype,
             precision=precision, device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def vjp(expr: Expr, at: At = None, u: U = None, vars: Vars = None, wrt: Wrt = None, fmt: Fmt = None,
        output: Output = None, dtype: Dtype = DType.float64, precision: Precision = None,
        device: DeviceOpt = None, max_memory: MaxMemory = None, full: Full = False, chunk_size: ChunkSize = None,
        skip_bad: SkipBad = False, no_cache: NoCache = False) -> None:
    """The vector-Jacobian product uᵀ·J (reverse mode).  Example: jaccli vjp "[x**2*y, sin(z)]" --at 1,2,pi/2 --u 1,1"""
    _compute("vjp", expr, at, u=u, vars=vars, wrt=wrt, fmt=fmt, output=output, dtype=dtype,
             precision=precision, device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def hvp(expr: Expr, at: At = None, v: V = None, vars: Vars = None, wrt: Wrt = None,
        mode: HessMode = SecondOrderMode.fwd_rev, fmt: Fmt = None, output: Output = None,
        dtype: Dtype = DType.float64, precision: Precision = None, device: DeviceOpt = None,
        max_memory: MaxMemory = None, full: Full = False, chunk_size: ChunkSize = None,
        skip_bad: SkipBad = False, no_cache: NoCache = False) -> None:
    """The Hessian-vector product H·v, without forming H.  Example: jaccli hvp "x**2*y + y**3" --at 1,2 --v 1,0"""
    _compute("hvp", expr, at, v=v, vars=vars, wrt=wrt, mode=mode, fmt=fmt, output=output, dtype=dtype,
             precision=precision, device=device, max_memory=max_memory, full=full,
             chunk_size=chunk_size, skip_bad=skip_bad, no_cache=no_cache)


@app.command()
def derivative(expr: Expr, at: At = None, order: Order = None, partial: Partial = None, vars: Vars = None,
               symbolic: Symbolic = False,
               fmt: Fmt = None, output: Output = None, dtype: Dtype = DType.float64, precision: Precision = None,
               device: DeviceOpt = None, max_memory: MaxMemory = None, full: Full = False,
               no_cache: NoCache = False) -> None:
    """The K-th derivative tensor (out_shape + in_shape × K), or one mixed partial with --wrt x,x,y.

    Example: jaccli derivative "x**3 + 2*x**2 - 3*x + 1" --at 2 --order 3
    """
    if partial and order and order != len(_names(partial)):
        raise typer.BadParameter(f"--wrt names {len(_names(partial))} variables but --order is {order}",
                                 param_hint="--order")
    _compute("derivative", expr, at, vars=vars, order=order, partial=partial, symbolic=symbolic, fmt=fmt,
             output=output,
             dtype=dtype, precision=precision, device=device, max_memory=max_memory, full=full,
             no_cache=no_cache)


@app.command()
def check(expr: Expr, at: At = None,
          of: Annotated[Of, typer.Option("--of", help="The derivative to check.")] = Of.jacobian,
          expect: Annotated[Optional[str], typer.Option(
              "--expect", metavar="FILE|-|LITERAL",
              help="What it should be: .npy, .json, .csv/.txt, '-' (stdin) or a literal like '[[4,1],[0,2]]'. "
                   "Without it: AD against finite differences and SymPy.", show_default=False)] = None,
          rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")] = 1e-5,
          atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-8,
          order: Annotated[Optional[int], typer.Option(
              "--order", "-k", metavar="K", min=1, max=3,
              help="Check the derivatives of orders 1…K (like jax.test_util.check_grads).",
              show_default=False)] = None,
          v: V = None, u: U = None, vars: Vars = None, wrt: Wrt = None, fmt: Fmt = None,
          dtype: Dtype = DType.float64, device: DeviceOpt = None, max_memory: MaxMemory = None,
          no_cache: NoCache = False) -> None:
    """Check a derivative: exit 0 when it agrees, 1 with the entries that differ.

    Example: jaccli check "[x**2*y, sin(z)]" --at 1,2,pi/2 --of jacobian --expect jacobian.csv
    """
    from .budget import parse_size
    from .checking import check as run_check, check_points
    from .evaluate import Request
    from .output import write_check

    command = "derivative" if order and of in (Of.grad, Of.jacobian, Of.derivative) else of.value
    base = Request(command=command, expr=expr, at=tuple(at or ()), v=tuple(v or ()), u=tuple(u or ()),
                   vars=_names(vars), wrt=_names(wrt) if command != "derivative" else None,
                   partial=_names(wrt) if command == "derivative" and wrt else None,
                   order=order if command == "derivative" else None, dtype=dtype.value,
                   device=device.value if device else None,
                   max_memory=parse_size(max_memory) if max_memory else None, no_cache=no_cache)
    reports = []
    for request in check_points(base):
        reports.extend(run_check(request, expect=expect, rtol=rtol, atol=atol))
    if not write_check(reports, fmt.value if fmt else None):
        raise typer.Exit(int(ExitCode.DISAGREE))


@app.command()
def inspect(expr: Expr, at: At = None, vars: Vars = None, wrt: Wrt = None, fmt: Fmt = None) -> None:
    """The parsed expression, its variables and shapes, the output shape and derivative strategies.

    Example: jaccli inspect "sum(100*(x[1:]-x[:-1]**2)**2)" --at "x=zeros(5)"
    """
    from .describe import describe
    from .output import write_description

    write_description(describe(expr, tuple(at or ()), _names(vars), _names(wrt)), fmt.value if fmt else None)


cache_app = typer.Typer(help="The compilation cache.  Example: jaccli cache clear", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached executable.  Example: jaccli cache clear"""
    from .cache import cache_dir, clear

    freed = clear()
    sys.stdout.write(f"cleared {cache_dir()} ({freed:,} bytes)\n")


@cache_app.command("info")
def cache_info(fmt: Fmt = None) -> None:
    """Where the cache is and what it holds.  Example: jaccli cache info"""
    from .cache import describe
    from .output import write_description

    write_description(describe(), fmt.value if fmt else None)


@app.command()
def info(fmt: Fmt = None) -> None:
    """Versions, backend and devices, default dtype.  Example: jaccli info"""
    from .describe import system_info
    from .output import write_description

    write_description(system_info(), fmt.value if fmt else None)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; map every error to one `error:` line and an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("JACCLI_DEBUG"))
    argv = [a for a in argv if a != "--debug"]
    argv = _protect_expression(argv)
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="jaccli", standalone_mode=False)
        return int(code or 0) if isinstance(code, int) else 0
    except JaccliError as error:
        if debug:
            _print_traceback()
        _print_error(error.lines(), error.hint)
        return int(error.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130
    except typer.Abort:
        return 130
    except Exception as error:  # noqa: BLE001 - the one place errors become exit codes
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `jaccli`: the help, and success
            sys.stdout.write(error.format_message() + "\n")
            return 0
        usage = _usage_error(error)
        if usage is not None:
            _print_error([usage[0]], usage[1])
            return int(ExitCode.USAGE)
        if debug:
            _print_traceback()
        _print_error([f"internal error: {type(error).__name__}: {error}"],
                     "this is a bug in jaccli; run again with --debug to see the traceback")
        return int(ExitCode.RUNTIME)


def _protect_expression(argv: list[str]) -> list[str]:
    """Let EXPR start with '-' ("-x**2") when it is not one of the command's options."""
    if len(argv) >= 2 and argv[0] in app_commands() and argv[1].startswith("-") and len(argv[1]) > 1:
        name = argv[1].split("=", 1)[0]
        command = typer.main.get_command(app).commands[argv[0]]
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        if name not in options | {"--help", "-h"}:
            argv[1] = " " + argv[1]
    return argv


def app_commands() -> set[str]:
    return {c.name or c.callback.__name__ for c in app.registered_commands}


def _usage_error(error: Exception) -> tuple[str, str] | None:
    """Click's usage errors (a vendored copy inside typer) as (message, hint)."""
    if hasattr(error, "format_message") and hasattr(error, "exit_code") and getattr(error, "exit_code", 0) == 2:
        ctx = getattr(error, "ctx", None)
        where = ctx.command_path if ctx is not None else "jaccli"
        return error.format_message(), f"see `{where} --help`"
    return None


def _print_error(lines: list[str], hint: str | None) -> None:
    stream = sys.stderr
    stream.write(f"error: {lines[0]}\n")
    for line in lines[1:]:
        stream.write(line + "\n")
    if hint:
        stream.write(f"hint: {hint}\n")
    stream.flush()


def _print_traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)


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
