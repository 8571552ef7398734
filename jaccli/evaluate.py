"""Request → Result: parse, bind the point, build f(z, c), check sizes, compile once, run.

This is the one place that imports JAX for a computation; `cli` imports this
module only inside commands, so `jaccli --help` stays light.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import derivatives, points
from .budget import block_size, default_max_memory, guard_size
from .errors import ComputeError, JaccliError, PointError, ShapeError
from .layout import Layout
from .parse import Expression, parse_expression

SCALAR_ONLY = {"grad": "`grad`", "hvp": "`hvp`"}


@dataclass(frozen=True)
class Request:
    command: str
    expr: str
    at: tuple[str, ...] = ()
    v: tuple[str, ...] = ()
    u: tuple[str, ...] = ()
    vars: tuple[str, ...] | None = None
    wrt: tuple[str, ...] | None = None
    mode: str | None = None
    dtype: str = "float64"
    device: str | None = None
    max_memory: int | None = None
    no_cache: bool = False
    chunk_size: int | None = None  # one point: basis directions a block (jacobian, hessian)
    order: int | None = None  # derivative: the order of the tensor
    partial: tuple[str, ...] | None = None  # derivative: ∂ᵏf/∂x∂x∂y as ('x', 'x', 'y')
    with_value: bool = False  # grad/eval: f(x) too, in the same pass


@dataclass
class Result:
    request: Request
    expression: Expression
    layout: Layout
    point: dict[str, np.ndarray]
    value: np.ndarray
    out_shape: tuple[int, ...]
    mode: str
    device: str
    extra: dict = field(default_factory=dict)
    vector: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the --v or --u used, flat

    @property
    def command(self) -> str:
        return self.request.command

    @property
    def dtype(self) -> str:
        return self.request.dtype


def read_expression(text: str) -> Expression:
    """Parse EXPR, or the file it names with @file."""
    if text.startswith("@") and len(text) > 1:
        try:
            text = Path(text[1:]).read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise PointError(f"cannot read the expression file {text[1:]!r}: {error}") from None
        text = text.strip()
    if not text.strip():
        raise ShapeError("the expression is empty", hint='e.g. jaccli grad "x**2*y" --at 1,2')
    return parse_expression(text)


def run(request: Request) -> Result:
    """Compute the derivative `request.command` asks for, at one point."""
    from . import cache

    use_cache = cache.usable(request.no_cache)
    jax, jnp = load_jax(use_cache)
    budget = default_max_memory() if request.max_memory is None else request.max_memory
    expression = read_expression(request.expr)
    spec = points.read_spec(request.at, max_bytes=budget)
    point = points.bind_point(expression, spec, order=request.vars, wrt=differentiated(request))
    layout = point.layout
    dtype = jnp.dtype(request.dtype)
    device = select_device(request.device)
    z = np.asarray(point.z, dtype)
    c = np.asarray(point.c, dtype)
    command = request.command

    key = entry = None
    if use_cache:
        key = cache.executable_key(
            command=command, mode=request.mode, dtype=request.dtype, expr=str(expression),
            chunk=request.chunk_size, budget=budget if command in ("jacobian", "hessian") else None,
            order=request.order, partial=request.partial, with_value=request.with_value,
            layout=[(s.name, s.shape, s.wrt) for s in layout.slots],
            device=(device.platform, device.device_kind, device.id))
        entry = cache.load_executable(key, device)
    from .translate import build_function

    function = None  # built only when there is something to trace
    if entry is not None:
        compiled, metadata = entry
        out_shape = tuple(metadata["out_shape"])
    else:
        function = build_function(expression, layout, dtype)
        out_shape = output_shape(function, z, c)
    check_scalar(request, out_shape)
    mode, shape, make_operator, block = plan_operation(request, layout, out_shape, dtype, budget)
    guard_size(command, shape, dtype.itemsize, budget)
    w = read_vector_option(request, layout, out_shape, budget).astype(dtype, copy=False)
    if entry is not None and metadata.get("block") != block:
        entry = None

    def compile_fresh():
        operator = make_operator(function or build_function(expression, layout, dtype))
        # not from JAX's own persistent cache: an executable loaded from it does not re-serialize
        with _no_xla_cache(jax):
            fresh = jax.jit(operator).lower(z, c, w).compile()
        if key is not None:
            cache.store_executable(key, fresh, {"out_shape": list(out_shape), "block": block})
        return fresh

    try:
        with jax.default_device(device):
            if entry is None:
                value = np.asarray(compile_fresh()(z, c, w))
            else:
                try:
                    value = np.asarray(compiled(z, c, w))
                except (RuntimeError, ValueError, TypeError):  # a cached executable that won't run: replace it
                    entry = None
                    value = np.asarray(compile_fresh()(z, c, w))
    except JaccliError:
        raise
    except (RuntimeError, MemoryError) as error:  # XLA's runtime errors derive from RuntimeError
        raise ComputeError(f"the computation failed: {str(error).splitlines()[0]}",
                           hint="try --device cpu, a smaller problem, or --dtype float32") from error
    extra = {"cache": "off" if key is None else "hit" if entry is not None else "miss"}
    if block is not None:
        extra["block"] = block
    if request.with_value:
        extra["function_value"] = float(value[0])
        value = value[1:]
    return Result(request, expression, layout, point.values, value.reshape(shape), out_shape, mode,
                  f"{device.platform}:{device.id}", extra=extra, vector=w)


def differentiated(request: Request) -> tuple[str, ...] | None:
    """The variables to differentiate: --wrt, or those of a mixed partial (x,x,y → x, y)."""
    return tuple(dict.fromkeys(request.partial)) if request.partial else request.wrt


def check_scalar(request: Request, out_shape: tuple) -> None:
    """grad, hvp and --with-value need a scalar expression."""
    if (request.command in SCALAR_ONLY or request.with_value) and out_shape != ():
        command = request.command
        raise ShapeError(
            f"{SCALAR_ONLY.get(command, '--with-value')} needs a scalar expression, but got "
            f"{math.prod(out_shape)} outputs (shape {out_shape})",
            hint="use `jacobian`" + (" or `vjp`" if command == "grad" else " of the gradient, or `jvp`")
            + ", or sum the outputs",
        )


def plan_operation(request: Request, layout: Layout, out_shape: tuple, dtype, budget: int, blocks: bool = True):
    """(mode, result shape, f ↦ operator, block size or None) for the request's command.

    `blocks=False`: all basis directions at once (many points: the chunk of points bounds memory).
    """
    command, n = request.command, layout.z_size
    if command == "derivative":
        if request.partial:
            directions = _directions(request.partial, layout)
            mode = derivatives.derivative_mode(len(directions), mixed=True)
            return mode, out_shape, lambda f: derivatives.mixed_partial(f, directions), None
        order = request.order or 1
        shape = out_shape + layout.in_shape * order
        return derivatives.derivative_mode(order, mixed=False), shape, \
            lambda f: derivatives.nth_derivative(f, order), None
    mode = derivatives.choose_mode(command, request.mode, n, math.prod(out_shape))
    shape = derivatives.result_shape(command, out_shape, layout.in_shape)
    if request.with_value:
        return "rev", shape, derivatives.value_and_grad, None
    block = block_size(command, mode, request.chunk_size, n, out_shape, dtype.itemsize, budget) if blocks else None
    if block is None:
        return mode, shape, lambda f: derivatives.OPERATORS[command](f, mode), None
    blocked = derivatives.blocked_jacobian if command == "jacobian" else derivatives.blocked_hessian
    return mode, shape, lambda f: blocked(f, mode, block, out_shape, n, dtype), block


def _directions(names: tuple[str, ...], layout: Layout) -> tuple[int, ...]:
    """Where each variable of a mixed partial sits in z; each must be a scalar."""
    slots = {s.name: s for s in layout.wrt}
    for name in names:
        if slots[name].shape != ():
            raise ShapeError(f"a mixed partial names scalar variables, but {name!r} has shape {slots[name].shape}",
                             hint="use --order K for the whole derivative tensor of an array variable")
    return tuple(slots[name].offset for name in names)


@contextlib.contextmanager
def _no_xla_cache(jax):
    """JAX's persistent compilation cache switched off for the duration."""
    before = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", before)


def output_shape(f, z, c) -> tuple[int, ...]:
    """The shape of f's value, found by tracing (no computation)."""
    jax, _ = load_jax()
    spec = jax.eval_shape(f, jax.ShapeDtypeStruct(z.shape, z.dtype), jax.ShapeDtypeStruct(c.shape, c.dtype))
    return tuple(spec.shape)


def read_vector_option(request: Request, layout: Layout, out_shape, budget: int) -> np.ndarray:
    if request.command in ("jvp", "hvp"):
        return points.read_vector(request.v, layout, layout.in_shape, option="--v", max_bytes=budget)
    if request.command == "vjp":
        return points.read_vector(request.u, layout, out_shape, option="--u", max_bytes=budget)
    for option, given in (("--v", request.v), ("--u", request.u)):
        if given:
            raise PointError(f"`{request.command}` takes no {option}",
                             hint="--v goes with jvp and hvp, --u with vjp")
    return np.zeros(0)


def select_device(name: str | None):
    jax, _ = load_jax()
    try:
        found = jax.devices()
    except RuntimeError as error:  # the backend itself would not start (JAX_PLATFORMS, drivers)
        platforms = os.environ.get("JAX_PLATFORMS")
        raise ComputeError(f"cannot start a JAX backend: {str(error).splitlines()[0]}",
                           hint=f"JAX_PLATFORMS is {platforms!r}: unset it, or install that platform's jaxlib"
                           if platforms else "see `jaccli info`; for NVIDIA GPUs: pip install 'jaccli[cuda12]'") from None
    if name is None:
        return found[0]
    try:
        return jax.devices(name)[0]
    except RuntimeError:
        platforms = ", ".join(sorted({d.platform for d in found}))
        raise JaccliError(
            f"no {name} device: jaxlib found only {platforms}",
            hint="for NVIDIA GPUs: pip install 'jaccli[cuda12]'; `jaccli info` lists the devices",
        ) from None


def load_jax(use_cache: bool = False):
    import jax
    import jax.numpy as jnp

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)  # float64 unless --dtype float32
    if use_cache and not jax.config.jax_compilation_cache_dir:
        from . import cache

        cache.enable_xla_cache(jax)
    return jax, jnp
