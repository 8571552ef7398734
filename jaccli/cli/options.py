"""The command line's option types: choices as str Enums, options as Annotated aliases."""

from __future__ import annotations

import enum
from typing import Annotated, Optional

import typer

from ..compute.commands import COMMANDS, FIRST_ORDER, SECOND_ORDER


class Format(str, enum.Enum):
    table = "table"
    plain = "plain"
    json = "json"
    csv = "csv"
    npy = "npy"
    npz = "npz"
    mtx = "mtx"
    latex = "latex"


class ReportFormat(str, enum.Enum):
    """check, inspect and info: for people or for programs."""

    table = "table"
    plain = "plain"
    json = "json"


class DType(str, enum.Enum):
    float64 = "float64"
    float32 = "float32"
    complex128 = "complex128"
    complex64 = "complex64"


class Device(str, enum.Enum):
    cpu = "cpu"
    gpu = "gpu"
    tpu = "tpu"


def _choices(name: str, values) -> type[enum.Enum]:
    """A str Enum of `values` (fwd-rev becomes the member fwd_rev): the registry's lists, not copies of them."""
    return enum.Enum(name, {value.replace("-", "_"): value for value in values}, type=str)


JacobianMode = _choices("JacobianMode", FIRST_ORDER)

SecondOrderMode = _choices("SecondOrderMode", SECOND_ORDER)


Expr = Annotated[str, typer.Argument(metavar="EXPR", help="The expression, e.g. 'x**2*y + y**3', or @file.", show_default=False)]
At = Annotated[Optional[list[str]], typer.Option(
    "--at", "-a", metavar="POINT",
    help="The point: 1,2,pi/2 · x=1,y=2 (repeatable) · 'x=[1,2,3]' · X=@x.npy · 'x=full(100, 0.5)'. "
         "Many points: @points.csv, @points.npy, @points.jsonl, or - (CSV or JSON lines on standard input).",
    show_default=False)]
V = Annotated[Optional[list[str]], typer.Option(
    "--v", metavar="VECTOR", help="The tangent v (shape of the input): 1,0 · x=1,y=0 · @v.npy.", show_default=False)]
U = Annotated[Optional[list[str]], typer.Option(
    "--u", metavar="VECTOR", help="The cotangent u (shape of the output): 1,0 · '[[1,0],[0,1]]' · @u.npy.", show_default=False)]
Vars = Annotated[Optional[str], typer.Option(
    "--vars", metavar="NAMES", help="Order of the variables, comma-separated (default: as named in --at, else natural order).",
    show_default=False)]
Wrt = Annotated[Optional[str], typer.Option(
    "--wrt", metavar="NAMES", help="Differentiate with respect to these variables only; the others are held.", show_default=False)]
Fmt = Annotated[Optional[Format], typer.Option(
    "--format", "-f", help="Output format [default: table on a terminal, else plain; or from --output's suffix].",
    show_default=False)]
Output = Annotated[Optional[str], typer.Option("--output", "-o", metavar="FILE", help="Write to this file instead of stdout.",
                                                show_default=False)]
Dtype = Annotated[Optional[DType], typer.Option(
    "--dtype", help="Number type of the computation [default: float64, or complex128 when the point is complex "
                    "or --holomorphic is given].", show_default=False)]
Holomorphic = Annotated[bool, typer.Option(
    "--holomorphic", help="The complex derivative of a holomorphic f, as jax.grad(f, holomorphic=True) "
                          "(without it a complex input or output is seen as its real and imaginary parts).")]
Precision = Annotated[Optional[int], typer.Option(
    "--precision", metavar="DIGITS", min=1, max=17, help="Significant digits shown (table and plain; display only).",
    show_default=False)]
DeviceOpt = Annotated[Optional[Device], typer.Option(
    "--device", help="Run on this device [default: the first one jaxlib finds].", show_default=False)]
MaxMemory = Annotated[Optional[str], typer.Option(
    "--max-memory", metavar="SIZE", help="Refuse results larger than this: 4GB, 512MiB or bytes [default: a quarter of RAM].",
    show_default=False)]
Full = Annotated[bool, typer.Option("--full", help="Show every entry of large matrices in tables.")]
ChunkSize = Annotated[Optional[int], typer.Option(
    "--chunk-size", metavar="K", min=1,
    help="Many points: points computed together. One point: basis directions a block for jacobian and "
         "hessian (memory: result + O(K·n)) [default: from the memory budget].",
    show_default=False)]
class SparseChoice(str, enum.Enum):
    on = "on"
    auto = "auto"
    off = "off"


Sparse = Annotated[Optional[SparseChoice], typer.Option(
    "--sparse", metavar="[auto]",
    help="jacobian, hessian: find the sparsity pattern, colour it and compute only the nonzeros (a sparse "
         "matrix: -o H.npz, .mtx, JSON COO, CSV triplets). --sparse auto [default]: when the dense result "
         "would be refused, or is large and mostly zeros.", show_default=False)]
NoSparse = Annotated[bool, typer.Option("--no-sparse", help="Never sparse: the dense result, or a refusal.")]
NoCache = Annotated[bool, typer.Option(
    "--no-cache", help="Neither read nor write the compilation cache (also: JACCLI_NO_CACHE=1).")]


def _devices(text: str) -> str:
    """--devices N|all, checked at the edge: a number of devices (1 or more), or all."""
    if text.strip().lower() == "all" or (text.strip().isdigit() and int(text) >= 1):
        return text.strip().lower()
    raise typer.BadParameter(f"takes a number of devices (1 or more) or 'all', not {text!r}")


Devices = Annotated[str, typer.Option(
    "--devices", metavar="N|all", callback=_devices,
    help="Split many points (and vectors of 2²⁰ entries or more: grad, jvp, vjp, hvp) over this many local "
         "devices of the platform, with JAX's sharding; more than there are is an error. A vector is split over "
         "CPU devices only when N is given (they share one memory).")]
Distributed = Annotated[Optional[str], typer.Option(
    "--distributed", metavar="HOST:PORT|auto",
    help="Run across processes (hosts) with jax.distributed: process 0 listens on HOST:PORT (only there); "
         "auto: what JAX detects (Slurm…). Many points: each process computes its share of the file's "
         "records and writes its part (-o out.npy → out.<process>.npy).", show_default=False)]
NumProcesses = Annotated[Optional[int], typer.Option(
    "--num-processes", metavar="P", min=1, help="--distributed: how many processes in all.", show_default=False)]
ProcessId = Annotated[Optional[int], typer.Option(
    "--process-id", metavar="I", min=0, help="--distributed: this process's number, 0 … P-1.", show_default=False)]
Gather = Annotated[bool, typer.Option(
    "--gather", help="--distributed, many points, -o FILE: process 0 joins every process's part into FILE, in "
                     "record order, and removes the parts (they must be visible to it: one host, or a shared "
                     "filesystem).")]
DistributedTimeout = Annotated[int, typer.Option(
    "--distributed-timeout", metavar="SECONDS", min=1,
    help="--distributed: how long to wait for the other processes, and for a silent peer before JAX aborts.")]
Symbolic = Annotated[bool, typer.Option(
    "--symbolic", help="The derivative as a formula (SymPy), with the numbers when --at is given; "
                       "-f latex prints LaTeX.")]
WithValue = Annotated[bool, typer.Option(
    "--with-value", help="f(x) as well, in the same pass (like jax.value_and_grad).")]
Fields = Annotated[Optional[str], typer.Option(
    "--fields", metavar="NAMES",
    help="Many points: the keys of JSON lines (command expr variables wrt shape mode dtype index point "
         "function_value value; line error on error records) or the columns of CSV and plain (index point "
         "value f), in this order, e.g. --fields index,value [default: every key; CSV: the result's columns].",
    show_default=False)]
SkipBad = Annotated[bool, typer.Option(
    "--skip-bad", help="Many points: write an error record for a bad input line and go on (default: stop).")]
JacMode = Annotated[JacobianMode, typer.Option(
    "--mode", help="auto: forward when inputs ≤ outputs, else reverse.")]
HessMode = Annotated[SecondOrderMode, typer.Option(
    "--mode", help="Order of the two differentiations (fwd-rev: forward-over-reverse).")]


Order = Annotated[Optional[int], typer.Option(
    "--order", "-k", metavar="K", min=1, max=8, help="The order of the derivative tensor [default: 1].",
    show_default=False)]
Partial = Annotated[Optional[str], typer.Option(
    "--partial", metavar="NAMES", help="One mixed partial: x,x,y is ∂³f/∂x²∂y (scalar variables).",
    show_default=False)]
ReportFmt = Annotated[Optional[ReportFormat], typer.Option(
    "--format", "-f", help="Output format [default: table on a terminal, else plain].", show_default=False)]


Of = _choices("Of", COMMANDS)  # check --of: every command of the registry


# analyze, and --plot on jacobian and hessian
class PlotKind(str, enum.Enum):
    heatmap = "heatmap"
    spy = "spy"


Lanczos = Annotated[bool, typer.Option(
    "--lanczos", help="The extreme eigenvalues by Lanczos on H·v products, never forming H "
                      "(the default above 2000 variables).")]
Trace = Annotated[bool, typer.Option(
    "--trace", help="Hutchinson's estimate of the Hessian's trace from random H·v products, with its standard error.")]
Probes = Annotated[int, typer.Option("--probes", metavar="N", min=2, help="Rademacher probes for --trace.")]
Seed = Annotated[int, typer.Option(
    "--seed", metavar="S", min=0, max=2**32 - 1, help="Seed of the probes and of Lanczos' start.")]
Tol = Annotated[Optional[float], typer.Option(
    "--tol", metavar="TOL", min=0, help="|λ| ≤ TOL counts as a zero eigenvalue [default: n·ε·max|λ|].",
    show_default=False)]
GTol = Annotated[Optional[float], typer.Option(
    "--gtol", metavar="GTOL", min=0,
    help="‖∇f‖ ≤ GTOL counts as a critical point [default: √ε·max|λ|·max(1, ‖x‖∞)].",
    show_default=False)]
Plot = Annotated[Optional[str], typer.Option(
    "--plot", metavar="FILE|-", help="Draw the matrix: a .png, .svg or .pdf file (matplotlib), or - for a "
                                     "heatmap in the terminal. The numbers still go to stdout.", show_default=False)]
PlotKindOpt = Annotated[Optional[PlotKind], typer.Option(
    "--plot-kind", help="heatmap (colours centred at 0) or spy (where the nonzeros are) [default: spy above "
                        "256 rows or columns].", show_default=False)]
PlotSize = Annotated[Optional[str], typer.Option(
    "--plot-size", metavar="WxH", help="The picture's size in pixels (at 96 per inch) [default: 640x480].",
    show_default=False)]
