"""The `jaccli` commands: options → one Request → one call → rendered output.

Each command parses its options and calls `compute` (or its own few lines). The
Environment (streams, terminal) comes from typer's context, where `main` put it.
Nothing heavy is imported at module level: `jaccli --help` never loads JAX, SymPy
or NumPy.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..env import Environment
from ..errors import ExitCode
from .options import (
    U, V, At, Dtype, DeviceOpt, Expr, HessMode, Holomorphic, JacMode, JacobianMode, MaxMemory, NoCache, Of, Order, Partial,
    ReportFmt, SecondOrderMode, Symbolic, Vars, WithValue, Wrt,
)
from .options import GTol, Lanczos, Output, Plot, PlotKindOpt, PlotSize, Precision, Probes, Seed, Tol, Trace
from .options import NoSparse, Sparse
from .shared import Shared, names, sparse_choice, with_shared

app = typer.Typer(
    name="jaccli",
    help="Exact Jacobians, Hessians and Hessian-vector products of math expressions, "
    "by JAX automatic differentiation.\n\n"
    'Example: jaccli jacobian "[x**2*y, sin(z)]" --at 1,2,pi/2\n\n'
    "Anywhere on the line: --debug shows tracebacks; --no-files (or JACCLI_NO_FILES=1) refuses every "
    "@file, for strings from untrusted sources.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # expressions are full of [brackets]: no markup in help texts
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("jaccli")
        except PackageNotFoundError:
            number = "unknown"
        typer.echo(f"jaccli {number}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print jaccli's version and exit.")] = False) -> None:
    """Exact Jacobians, Hessians and Hessian-vector products of math expressions, by JAX automatic differentiation.

    Example: jaccli jacobian "[x**2*y, sin(z)]" --at 1,2,pi/2
    """


def compute(ctx: typer.Context, command: str, expr: str, shared: Shared, *, v=None, u=None, mode=None,
            order=None, partial=None, with_value=False, symbolic=False, plot=None, plot_kind=None,
            plot_size=None, holomorphic=False) -> None:
    """Build the Request, run it at one point or many, and write the result (and --plot's picture)."""
    from ..inputs.sources import is_batch
    from ..compute.prepare import Request

    env: Environment = ctx.obj
    request = Request(
        command=command, expr=expr, at=shared.at, v=tuple(v or ()), u=tuple(u or ()), vars=shared.vars,
        wrt=shared.wrt, mode=mode.value if mode else None, dtype=shared.dtype, device=shared.device,
        max_memory=shared.max_memory, no_cache=shared.no_cache, chunk_size=shared.chunk_size, order=order,
        partial=names(partial), with_value=with_value, devices=shared.devices, cluster=shared.cluster,
        holomorphic=holomorphic, sparse=_sparse_for(shared, env, plot),
    )
    if shared.gather and (request.cluster is None or not shared.output or not is_batch(request)):
        raise typer.BadParameter("joins the parts that --distributed processes write of many points into -o FILE",
                                 param_hint="--gather")
    if request.cluster is not None:  # --distributed: joined before JAX starts; which part is ours follows
        from ..compute.cluster import join, part_name, process, refuse_stdin

        refuse_stdin(request)
        join(request.cluster)
    drawing = None
    if plot is not None and holomorphic:
        raise typer.BadParameter("draws real matrices: leave out --holomorphic to draw the real Jacobian or Hessian",
                                 param_hint="--plot")
    if plot is not None:
        from ..output.plot import plot_target

        if request.sparse == "on":
            from ..errors import JaccliError

            raise JaccliError("--plot draws dense matrices, and --sparse gives a sparse one",
                              hint="`jaccli inspect EXPR --at … --sparse` draws its pattern; or use --no-sparse")
        drawing = plot_target(plot, plot_kind.value if plot_kind else None, plot_size, many=is_batch(request),
                              symbolic=symbolic or shared.fmt == "latex")
    if symbolic or shared.fmt == "latex":
        from ..output.formula import write_formula

        write_formula(request, shared.fmt, shared.output, env)
    elif is_batch(request) and request.sparse == "on" and command in ("jacobian", "hessian"):
        from ..output.many_sparse import write_sparse_batch

        if shared.fields:
            from ..errors import JaccliError

            raise JaccliError("--fields chooses among the fields of dense results, and these are sparse: each is "
                              "written whole (index, row, col, data …)", hint="drop --fields, or use --no-sparse")

        write_sparse_batch(request, shared.fmt, shared.output, env, precision=shared.precision,
                           skip_bad=shared.skip_bad)
    elif is_batch(request):
        from ..output.write import write_batch

        write_batch(request, shared.fmt, part_name(shared.output) if request.cluster else shared.output, env,
                    precision=shared.precision, full=shared.full,
                    chunk_size=shared.chunk_size, skip_bad=shared.skip_bad, fields=shared.fields)
        if shared.gather:
            from ..compute.cluster import gather
            from ..output.write import choose_format

            gather(shared.output, choose_format(shared.fmt, shared.output, env))
    else:
        from ..compute.run import run
        from ..output.write import write_result

        result = run(request)
        if request.cluster is not None and process()[0] != 0:
            return  # one point across processes: process 0 writes it
        write_result(result, shared.fmt, shared.output, env, precision=shared.precision, full=shared.full)
        if drawing is not None:
            drawing.draw(result, env)


def _sparse_for(shared: Shared, env: Environment, plot) -> str:
    """--sparse auto, given the output: .npz and .mtx ask for sparse; .npy and --plot hold dense arrays."""
    if shared.sparse != "auto":
        return shared.sparse
    from ..output.write import choose_format

    fmt = choose_format(shared.fmt, shared.output, env)
    return "on" if fmt in ("npz", "mtx") else "off" if fmt == "npy" or plot is not None else "auto"


@app.command("eval")
@with_shared
def eval_(ctx: typer.Context, expr: Expr, with_value: WithValue = False, *, shared: Shared) -> None:
    """The value f(x).

    Example: jaccli eval "[x**2*y, sin(z)]" --at 1,2,pi/2
    """
    compute(ctx, "eval", expr, shared, with_value=with_value)


@app.command()
@with_shared
def grad(ctx: typer.Context, expr: Expr, with_value: WithValue = False, symbolic: Symbolic = False,
         holomorphic: Holomorphic = False, *, shared: Shared) -> None:
    """The gradient ∇f of a scalar expression.

    Example: jaccli grad "x**2*y + y**3" --at 1,2
    """
    compute(ctx, "grad", expr, shared, with_value=with_value, symbolic=symbolic, holomorphic=holomorphic)


@app.command()
@with_shared
def jacobian(ctx: typer.Context, expr: Expr, mode: JacMode = JacobianMode.auto, symbolic: Symbolic = False,
             holomorphic: Holomorphic = False, plot: Plot = None, plot_kind: PlotKindOpt = None,
             plot_size: PlotSize = None, *, shared: Shared) -> None:
    """The Jacobian ∂f/∂x, shape out_shape + in_shape.

    Example: jaccli jacobian "[x**2*y, sin(z)]" --at 1,2,pi/2
    """
    compute(ctx, "jacobian", expr, shared, mode=mode, symbolic=symbolic, plot=plot, plot_kind=plot_kind,
            plot_size=plot_size, holomorphic=holomorphic)


@app.command()
@with_shared
def hessian(ctx: typer.Context, expr: Expr, mode: HessMode = SecondOrderMode.fwd_rev, symbolic: Symbolic = False,
            holomorphic: Holomorphic = False, plot: Plot = None, plot_kind: PlotKindOpt = None,
            plot_size: PlotSize = None, *, shared: Shared) -> None:
    """The Hessian ∂²f/∂x², shape out_shape + in_shape + in_shape.

    Example: jaccli hessian "x**2*y + y**3" --at 1,2
    """
    compute(ctx, "hessian", expr, shared, mode=mode, symbolic=symbolic, plot=plot, plot_kind=plot_kind,
            plot_size=plot_size, holomorphic=holomorphic)


@app.command()
@with_shared
def jvp(ctx: typer.Context, expr: Expr, v: V = None, *, shared: Shared) -> None:
    """The Jacobian-vector product J·v (forward mode).

    Example: jaccli jvp "[x**2*y, sin(z)]" --at 1,2,pi/2 --v 1,0,0
    """
    compute(ctx, "jvp", expr, shared, v=v)


@app.command()
@with_shared
def vjp(ctx: typer.Context, expr: Expr, u: U = None, *, shared: Shared) -> None:
    """The vector-Jacobian product uᵀ·J (reverse mode).

    Example: jaccli vjp "[x**2*y, sin(z)]" --at 1,2,pi/2 --u 1,1
    """
    compute(ctx, "vjp", expr, shared, u=u)


@app.command()
@with_shared
def hvp(ctx: typer.Context, expr: Expr, v: V = None, mode: HessMode = SecondOrderMode.fwd_rev, *,
        shared: Shared) -> None:
    """The Hessian-vector product H·v, without forming H.

    Example: jaccli hvp "x**2*y + y**3" --at 1,2 --v 1,0
    """
    compute(ctx, "hvp", expr, shared, v=v, mode=mode)


@app.command()
@with_shared
def derivative(ctx: typer.Context, expr: Expr, order: Order = None, partial: Partial = None,
               symbolic: Symbolic = False, holomorphic: Holomorphic = False, *, shared: Shared) -> None:
    """The K-th derivative tensor (out_shape + in_shape × K), or one mixed partial with --partial x,x,y.

    Example: jaccli derivative "x**3 + 2*x**2 - 3*x + 1" --at 2 --order 3
    """
    if partial and order and order != len(names(partial)):
        raise typer.BadParameter(f"--partial names {len(names(partial))} variables but --order is {order}",
                                 param_hint="--order")
    compute(ctx, "derivative", expr, shared, order=order, partial=partial, symbolic=symbolic,
            holomorphic=holomorphic)


@app.command()
def check(ctx: typer.Context, expr: Expr, at: At = None,
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
          partial: Partial = None, v: V = None, u: U = None, vars: Vars = None, wrt: Wrt = None,
          fmt: ReportFmt = None, dtype: Dtype = None, holomorphic: Holomorphic = False, device: DeviceOpt = None,
          max_memory: MaxMemory = None, no_cache: NoCache = False, sparse: Sparse = None,
          no_sparse: NoSparse = False) -> None:
    """Check a derivative: exit 0 when it agrees, 1 with the entries that differ.

    Example: jaccli check "[x**2*y, sin(z)]" --at 1,2,pi/2 --of jacobian --expect jacobian.csv
    """
    from ..compute.budget import parse_size
    from ..compute.check import check as run_check, point_specs
    from ..compute.prepare import Request
    from ..output.write import choose_format, write_check

    env: Environment = ctx.obj
    command = "derivative" if (order or partial) and of in (Of.grad, Of.jacobian, Of.derivative) else of.value
    request = Request(command=command, expr=expr, at=tuple(at or ()), v=tuple(v or ()), u=tuple(u or ()),
                      vars=names(vars), wrt=names(wrt), partial=names(partial),
                      order=order if command == "derivative" else None, dtype=dtype.value if dtype else None,
                      holomorphic=holomorphic,
                      device=device.value if device else None,
                      max_memory=parse_size(max_memory) if max_memory else None, no_cache=no_cache,
                      sparse=sparse_choice(sparse.value if sparse else None, no_sparse))
    stdin = env.stdin.buffer
    reports = []
    for spec in point_specs(request, stdin):
        reports.extend(run_check(request, expect=expect, rtol=rtol, atol=atol, spec=spec, stdin=stdin))
    if not write_check(reports, choose_format(fmt.value if fmt else None, None, env), env):
        raise typer.Exit(int(ExitCode.DISAGREE))


@app.command()
def inspect(ctx: typer.Context, expr: Expr, at: At = None, vars: Vars = None, wrt: Wrt = None,
            fmt: ReportFmt = None, sparse: Annotated[bool, typer.Option(
                "--sparse", help="The sparsity pattern of the Jacobian (and the Hessian, of a scalar): nonzeros, "
                                 "density, colours and a spy plot.")] = False) -> None:
    """The parsed expression, its variables and shapes, the output shape and derivative strategies.

    Example: jaccli inspect "sum(100*(x[1:]-x[:-1]**2)**2)" --at "x=zeros(5)" --sparse
    """
    from ..compute.describe import describe
    from ..compute.prepare import Request
    from ..output.write import write_description

    request = Request("eval", expr, at=tuple(at or ()), vars=names(vars), wrt=names(wrt))
    write_description(describe(request, sparse=sparse), fmt.value if fmt else None, ctx.obj)


@app.command()
def analyze(ctx: typer.Context, expr: Expr, at: At = None, vars: Vars = None, wrt: Wrt = None, lanczos: Lanczos = False,
            trace: Trace = False, probes: Probes = 100, seed: Seed = 0, tol: Tol = None, gtol: GTol = None,
            fmt: ReportFmt = None, output: Output = None, precision: Precision = None, dtype: Dtype = None,
            device: DeviceOpt = None, max_memory: MaxMemory = None, no_cache: NoCache = False) -> None:
    """What kind of point this is: f, ∇f, the Hessian's eigenvalues and the verdict (minimum, maximum, saddle,
    degenerate); for a vector f the Jacobian's singular values, rank and condition number.

    Example: jaccli analyze "100*(y - x**2)**2 + (1 - x)**2" --at 1,1
    """
    from ..compute.analyze import Options, analyze_points
    from ..compute.budget import parse_size
    from ..compute.prepare import Request
    from ..inputs.sources import is_batch
    from ..output.write import write_analysis

    request = Request("analyze", expr, at=tuple(at or ()), vars=names(vars), wrt=names(wrt),
                      dtype=dtype.value if dtype else None,
                      device=device.value if device else None, no_cache=no_cache,
                      max_memory=parse_size(max_memory) if max_memory else None)
    options = Options(lanczos=lanczos, trace=trace, probes=probes, seed=seed, tol=tol, gtol=gtol)
    analyses = analyze_points(request, options, ctx.obj.stdin.buffer)
    write_analysis(analyses, request, fmt.value if fmt else None, output, ctx.obj, many=is_batch(request),
                   precision=precision)


from .daemon import daemon_app  # noqa: E402

app.add_typer(daemon_app, name="daemon")

cache_app = typer.Typer(help="The compilation cache.  Example: jaccli cache clear", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear(ctx: typer.Context) -> None:
    """Remove every cached executable.

    Example: jaccli cache clear
    """
    from ..compute.cache import cache_dir, clear

    freed = clear()
    ctx.obj.write(f"cleared {cache_dir()} ({freed:,} bytes)\n")


@cache_app.command("info")
def cache_info(ctx: typer.Context, fmt: ReportFmt = None) -> None:
    """Where the cache is and what it holds.

    Example: jaccli cache info
    """
    from ..compute.cache import describe
    from ..output.write import write_description

    write_description(describe(), fmt.value if fmt else None, ctx.obj)


@app.command()
def info(ctx: typer.Context, fmt: ReportFmt = None) -> None:
    """Versions, backend and devices, default dtype.

    Example: jaccli info
    """
    from ..compute.describe import system_info
    from ..output.write import write_description

    write_description(system_info(), fmt.value if fmt else None, ctx.obj)


import enum  # noqa: E402 - `serve`'s imports, beside the one command that uses them

from ..serve.policy import EAGER_CHOICES  # noqa: E402

Eager = enum.Enum("Eager", {name: name for name in EAGER_CHOICES}, type=str)


@app.command()
def serve(ctx: typer.Context,
          cache_size: Annotated[int, typer.Option(
              "--cache-size", metavar="N", min=0,
              help="Compiled functions kept in memory, the least recently used out first; 0: none.")] = 128,
          eager: Annotated[Eager, typer.Option(
              "--eager",
              help="When a new expression of scalars is answered op by op instead of compiled (it is compiled "
                   "when it comes again): auto, once that is faster for its kind of request; always; never.")]
          = Eager.auto) -> None:
    """Answer JSON requests on standard input, one a line: one JSON response a line, in order (README:
    "Serving other programs"; docs/serve.schema.json).

    Example: echo '{"id": 1, "command": "grad", "expr": "x**2*y", "at": [1, 2]}' | jaccli serve
    """
    import os

    from ..serve import serve as answer_requests

    answer_requests(ctx.obj, cache_size=cache_size, eager=eager.value, debug=bool(os.environ.get("JACCLI_DEBUG")))
