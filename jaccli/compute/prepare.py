"""Request → Plan: the one preparation step behind every door.

The one-point run, many points, `check`, `inspect`, `--symbolic` and the Python
API all go through `bind` (text in once: the expression parsed, the point read and
bound to the variables) and `plan` (output shape, scalar check, mode, result
shape, size guard, the vector option). What they do next differs; how they got
there does not.

    >>> plan = prepare(Request("hessian", "x**2*y + y**3", at=("1,2",)))
    >>> plan.shape, plan.mode
    ((2, 2), 'fwd-rev')
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParseError, PointError, ShapeError, warn
from ..inputs import points
from ..inputs.layout import Layout
from ..inputs.points import PointSpec
from ..language.lexer import one_newline
from ..language.parse import Expression, parse_expression
from . import commands, complexes
from .budget import block_size, default_max_memory, guard_operations, guard_size
from .commands import Command


@dataclass(frozen=True)
class Request:
    """What was asked: the CLI's options, the API's arguments or a served request, before anything is read.

    `at`, `v` and `u` are the option texts (`("x=1", "y=2")`) or an already read PointSpec.
    """

    command: str
    expr: str
    at: tuple[str, ...] | PointSpec = ()
    v: tuple[str, ...] | PointSpec = ()
    u: tuple[str, ...] | PointSpec = ()
    vars: tuple[str, ...] | None = None  # the order of the variables
    wrt: tuple[str, ...] | None = None  # differentiate these, hold the others
    mode: str | None = None
    dtype: str | None = None  # None: float64, or complex128 when the point (or --holomorphic) is complex
    holomorphic: bool = False  # the complex derivative, as jax.grad(f, holomorphic=True)
    device: str | None = None
    max_memory: int | None = None
    no_cache: bool = False
    chunk_size: int | None = None  # one point: basis directions a block (jacobian, hessian)
    order: int | None = None  # derivative: the order of the tensor
    partial: tuple[str, ...] | None = None  # derivative: ∂ᵏf/∂x∂x∂y as ('x', 'x', 'y')
    with_value: bool = False  # f(x) too, in the same pass as ∇f
    devices: int | None = None  # --devices: how many local devices to split over (None: all)
    cluster: object | None = None  # --distributed: a cluster.Cluster, joined before JAX starts
    sparse: str = "auto"  # jacobian, hessian: 'on' (--sparse), 'off' (--no-sparse), 'auto' (when it pays)


@dataclass(frozen=True)
class Setup:
    """The request read and bound: expression, variables with shapes, the point (when one is known)."""

    request: Request
    command: Command
    expression: Expression
    layout: Layout
    point: dict[str, np.ndarray]  # name → value, in variable order
    z: np.ndarray  # the differentiated variables, flat, in the run's dtype
    c: np.ndarray  # the held ones
    dtype: np.dtype
    budget: int

    @functools.cached_property
    def function(self):
        """f(z, c) in jax.numpy, traced only when asked for."""
        from .translate import build_function

        return build_function(self.expression, self.layout, self.dtype, complex_out=self.request.holomorphic)


@dataclass(frozen=True)
class Plan:
    """Everything a run needs: the setup, the output and result shapes, the mode, the vector."""

    setup: Setup
    out_shape: tuple[int, ...]
    axes: tuple[str, ...]  # 'out'/'in' axes of the result
    shape: tuple[int, ...]  # one result's shape
    mode: str
    block: int | None  # basis directions a block (one point's jacobian/hessian), None: all at once
    vector: np.ndarray | None  # the --v or --u, flat; None when records carry it
    order: int | tuple[str, ...] | None = None  # derivative: the tensor's order, or the mixed partial's names
    complex_out: bool = False  # f's value is complex
    parts: complexes.Parts | None = None  # complex sides seen as [Re, Im] (jacobian, hessian, derivative)

    request = property(lambda self: self.setup.request)
    command = property(lambda self: self.setup.command)
    expression = property(lambda self: self.setup.expression)
    layout = property(lambda self: self.setup.layout)
    point = property(lambda self: self.setup.point)
    dtype = property(lambda self: self.setup.dtype)
    budget = property(lambda self: self.setup.budget)

    def checked_operator(self):
        """(z, c, w) ↦ (the operator's value, whether f itself is finite at z): one compiled pass."""
        import jax.numpy as jnp

        operator, f = self.operator(), self.setup.function
        return lambda z, c, w: (operator(z, c, w), jnp.all(jnp.isfinite(f(z, c))))

    @property
    def value_dtype(self) -> np.dtype:
        """The dtype of the result's numbers: real for the real map; complex for f's complex values (eval,
        jvp), for the input space of a complex point (grad, vjp, hvp), and for --holomorphic derivatives."""
        real = np.finfo(self.dtype).dtype
        complex_ = np.result_type(real, np.complex64)
        if self.parts:
            return real
        if self.request.holomorphic:
            return complex_
        if self.axes == ("out",):
            return complex_ if self.complex_out else real
        if self.axes == ("in",) or self.command.scalar_only:
            return self.dtype
        return real

    @property
    def vector_dtype(self) -> np.dtype:
        return vector_dtype(self.setup, self.complex_out)

    @property
    def dtype_name(self) -> str:
        """The computation's number type, as reported: complex when the point or f is."""
        real = np.finfo(self.dtype).dtype
        return np.result_type(real, np.complex64).name if self.dtype.kind == "c" or self.complex_out else real.name

    @property
    def result_shapes(self) -> tuple[tuple, tuple]:
        """(out, in) shapes the result is made of: the real map's when complex sides stand as [Re, Im]."""
        shapes = (self.out_shape, self.layout.in_shape)
        return self.parts.shape(*shapes) if self.parts else shapes

    def out_labels(self, labels):
        """Labels of the output's entries as the result names them (Re f₀ … Im f₀ … for the real map)."""
        return self.parts.labels(labels, self.parts.outputs) if self.parts else labels

    def in_labels(self, labels=None):
        """Labels of the inputs' entries as the result names them (Re z … Im z … for the real map)."""
        labels = self.layout.in_labels() if labels is None else labels
        return self.parts.labels(labels, self.parts.inputs) if self.parts else labels

    def operator(self):
        """g(z, c, w) for this plan: the command's operator, blockwise or all at once (of the real map
        when complex sides stand as [Re, Im]: g then splits a complex z into its parts first)."""
        f, parts = self.setup.function, self.parts
        if parts is None:
            return self._operator(f, self.out_shape, self.layout.z_size, self.dtype)
        real_dtype = np.finfo(self.dtype).dtype
        out_shape, in_shape = self.result_shapes
        g = self._operator(complexes.real_map(f, parts, self.layout.z_size), out_shape, math.prod(in_shape),
                           real_dtype)
        if not parts.inputs:
            return g
        return lambda z, c, w: g(complexes.real_point(z), c, w)

    def _operator(self, f, out_shape, n: int, dtype):
        from . import derivatives

        request, holomorphic = self.request, self.request.holomorphic
        if self.command.name == "derivative":
            if request.partial:
                return derivatives.mixed_partial(f, partial_directions(request.partial, self.layout))
            return derivatives.nth_derivative(f, request.order or 1, holomorphic)
        if request.with_value:
            return derivatives.value_and_grad(f)
        if self.block is None:
            return self.command.build(f, self.mode, holomorphic)
        return derivatives.BLOCKED[self.command.name](f, self.mode, self.block, out_shape, n, dtype, holomorphic)


def read_expression(text: str) -> Expression:
    """Parse EXPR, or the file it names with @file."""
    if text.startswith("@") and len(text) > 1:
        from ..inputs.files import EXPRESSION_BYTES, read_text

        path = text[1:]
        raw = one_newline(read_text(path, cap=EXPRESSION_BYTES, what="the expression file"))
        body = raw.strip()
        if not body:
            raise ShapeError(f"the expression file {path!r} is empty")
        try:
            return parse_expression(body)
        except ParseError as error:  # as compilers say it: model.txt:3:5: and the line
            where = raw.index(body) + error.position
            line, column = raw.count("\n", 0, where) + 1, where - (raw.rfind("\n", 0, where) + 1) + 1
            error.message = f"{path}:{line}:{column}: {error.message}"
            raise
    if not text.strip():
        raise ShapeError("the expression is empty", hint='e.g. jaccli grad "x**2*y" --at 1,2')
    return parse_expression(text)


def differentiated(request: Request) -> tuple[str, ...] | None:
    """The variables to differentiate: --wrt, or those of a mixed partial (x,x,y → x, y)."""
    return tuple(dict.fromkeys(request.partial)) if request.partial else request.wrt


def bind(request: Request, spec: PointSpec | None = None, expression: Expression | None = None, *,
         guard: bool = True) -> Setup:
    """Read the expression and the point (`spec`, else request.at) and bind them: variables, shapes, z and c.
    guard=False: nothing of the command will be compiled (inspect), so the compile budget does not apply."""
    command = commands.get("grad" if request.with_value else request.command)  # --with-value: f and ∇f
    budget = default_max_memory() if request.max_memory is None else request.max_memory
    expression = expression or read_expression(request.expr)
    if guard:
        guard_operations(command, expression.size, len(request.partial) if request.partial else request.order or 1)
    if spec is None:
        spec = request.at if isinstance(request.at, PointSpec) else points.read_spec(request.at, max_bytes=budget)
    point = points.bind_point(expression, spec, variable_order=request.vars, wrt=differentiated(request),
                              wrt_option="--partial" if request.partial else "--wrt")
    if command.name != "eval" and point.layout.z_size == 0:
        empty = ", ".join(f"{s.name} has shape {s.shape}" for s in point.layout.wrt)
        what = f"the variables hold no entries ({empty})" if empty else \
            "--wrt names no variables" if request.wrt is not None else "the expression has no variables"
        raise ShapeError(f"`{command.name}` has nothing to differentiate: {what}",
                         hint="give them values with entries (or run `eval`)" if empty else
                         "name the variables to differentiate: --wrt x,y (or run `eval`)")
    dtype = run_dtype(request, point.z, point.c)
    z, c = (_in_dtype(part, dtype) for part in (point.z, point.c))
    values = {name: value.astype(dtype) for name, value in point.values.items()} if dtype.kind == "c" else \
        point.values  # a complex point is complex throughout (its JSON says so)
    if request.holomorphic:
        complexes.check_holomorphic(command.name, expression)
    return Setup(request, command, expression, point.layout, values, z, c, dtype, budget)


def run_dtype(request: Request, *parts: np.ndarray) -> np.dtype:
    """--dtype, else complex128 when a value of the point is complex or --holomorphic is given, else float64."""
    complex_point = any(part.dtype.kind == "c" for part in parts)
    if request.dtype is None:
        return np.dtype(np.complex128 if complex_point or request.holomorphic else np.float64)
    dtype = np.dtype(request.dtype)
    if dtype.kind != "c" and (complex_point or request.holomorphic):
        raise PointError(f"--dtype {dtype.name} is real, but " + (
            "the point holds complex values" if complex_point else "--holomorphic needs a complex point"),
            hint=f"use --dtype {'complex64' if dtype == np.float32 else 'complex128'}, or leave --dtype out")
    return dtype


def _in_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The point in the run's dtype, with a warning (not NumPy's) for a number that overflows it."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.asarray(values, dtype)
    lost = np.isfinite(values) & ~np.isfinite(cast)
    if lost.any():
        wider = "complex128" if dtype.kind == "c" else "float64"
        warn(f"{values[lost][0]:g} overflows {dtype.name} (it becomes inf); use --dtype {wider}")
    return cast


def plan(setup: Setup, out_shape: tuple[int, ...] | None = None, *, blocks: bool = True,
         vector: bool = True, complex_out: bool | None = None, guard: bool = True) -> Plan:
    """The run's plan; `out_shape` (and whether f is complex) when known (a cached executable), else traced.

    blocks=False: all basis directions at once (many points: the chunk of points bounds
    memory). vector=False: records carry --v/--u, so none is read here. guard=False: no dense result
    is built (a sparse one: compute/sparse guards its own size).
    """
    request, command, layout = setup.request, setup.command, setup.layout
    if out_shape is None or (complex_out is None and complexes.may_be_complex(setup.expression, setup.z, setup.c)):
        out_shape, complex_out = output_spec(setup.function, setup.z, setup.c)
    if (command.scalar_only or request.with_value) and out_shape != ():
        raise not_scalar(command.name if command.scalar_only else None, out_shape)
    parts = complexes.parts(command.name, request.holomorphic, setup.dtype.kind == "c", bool(complex_out))
    if parts and request.partial:
        raise ShapeError("--partial takes the complex derivative only", hint="add --holomorphic, or use --order")
    out_real, in_real = parts.shape(out_shape, layout.in_shape) if parts else (out_shape, layout.in_shape)
    n, m = math.prod(in_real), math.prod(out_real)
    order = None
    if command.name == "derivative":
        order = tuple(request.partial) if request.partial else (request.order or 1)
        axes = ("out",) if request.partial else ("out",) + ("in",) * order
        mode = derivative_mode(len(order) if request.partial else order, mixed=bool(request.partial))
        if request.partial:
            partial_directions(request.partial, layout)
    else:
        axes = command.axes
        mode = "rev" if request.with_value else command.mode(request.mode, n, m)
    shape = command.result_shape(out_real, in_real, axes)
    itemsize = setup.dtype.itemsize // 2 if parts else setup.dtype.itemsize  # the real map's numbers are real
    if guard:
        guard_size(command.name, shape, itemsize, setup.budget, command.too_large)
    block = None
    if blocks and command.blockwise and not request.with_value:
        block = block_size(command.name, mode, request.chunk_size, n, out_real, itemsize, setup.budget)
    w = read_vector(setup, out_shape, vector_dtype(setup, bool(complex_out))) if vector else None
    return Plan(setup, out_shape, axes, shape, mode, block, w, order, bool(complex_out), parts)


def vector_dtype(setup: Setup, complex_out: bool) -> np.dtype:
    """--v lives where z does (its dtype); --u where f's value does: complex when f is (a real u for a
    complex f is taken as complex), else real."""
    if setup.command.vector != "u":
        return setup.dtype
    real = np.finfo(setup.dtype).dtype
    return np.result_type(real, np.complex64) if complex_out else real


def prepare(request: Request, spec: PointSpec | None = None) -> Plan:
    """bind, then plan: text in once, a typed plan out."""
    return plan(bind(request, spec))


def read_vector(setup: Setup, out_shape: tuple, dtype: np.dtype | None = None) -> np.ndarray:
    """The command's --v (shape in_shape) or --u (shape out_shape), flat in the run's dtype; refuse the other."""
    request, command, layout = setup.request, setup.command, setup.layout
    for name in ("v", "u"):
        given = getattr(request, name)
        if given and command.vector != name:
            raise PointError(f"`{command.name}` takes no --{name}", hint="--v goes with jvp and hvp, --u with vjp")
    if command.vector is None:
        return np.zeros(0, setup.dtype)
    shape = layout.in_shape if command.vector == "v" else out_shape
    value = points.read_vector(getattr(request, command.vector), layout, shape, option=f"--{command.vector}",
                               max_bytes=setup.budget)
    dtype = setup.dtype if dtype is None else dtype
    if value.dtype.kind == "c" and dtype.kind != "c":
        raise PointError(f"--{command.vector} holds complex values, but " + (
            "the point is real" if command.vector == "v" else "f is real"),
            hint="give the point a complex value (z=1+0j), or --dtype complex128" if command.vector == "v"
            else "a real f has a real cotangent")
    return value.astype(dtype, copy=False)


def output_shape(f, z, c) -> tuple[int, ...]:
    """The shape of f's value, found by tracing (no computation)."""
    return output_spec(f, z, c)[0]


def output_spec(f, z, c) -> tuple[tuple[int, ...], bool]:
    """The shape of f's value and whether it is complex, found by tracing (no computation)."""
    from .backend import load_jax

    jax, _ = load_jax()
    spec = jax.eval_shape(f, jax.ShapeDtypeStruct(z.shape, z.dtype), jax.ShapeDtypeStruct(c.shape, c.dtype))
    return tuple(spec.shape), spec.dtype.kind == "c"


def not_scalar(name: str | None, out_shape: tuple) -> ShapeError:
    """grad, hvp and --with-value need a scalar expression."""
    what = f"`{name}`" if name else "--with-value"
    return ShapeError(
        f"{what} needs a scalar expression, but got {math.prod(out_shape)} outputs (shape {out_shape})",
        hint="use `jacobian`" + (" of the gradient, or `jvp`" if name == "hvp" else " or `vjp`")
        + ", or sum the outputs",
    )


def derivative_mode(order: int, mixed: bool) -> str:
    """How `derivative` composes: fwd-fwd-rev for a 3rd-order tensor, fwd-fwd-fwd for a mixed partial."""
    return "-".join(["fwd"] * order) if mixed else "-".join(["fwd"] * (order - 1) + ["rev"])


def partial_directions(names: tuple[str, ...], layout: Layout) -> tuple[int, ...]:
    """Where each variable of a mixed partial sits in z; each must be a scalar."""
    slots = {s.name: s for s in layout.wrt}
    for name in names:
        if slots[name].shape != ():
            raise ShapeError(f"a mixed partial names scalar variables, but {name!r} has shape {slots[name].shape}",
                             hint="use --order K for the whole derivative tensor of an array variable")
    return tuple(slots[name].offset for name in names)
