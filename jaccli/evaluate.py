"""Request → Result: parse, bind the point, build f(z, c), check sizes, compile once, run.

This is the one place that imports JAX for a computation; `cli` imports this
module only inside commands, so `jaccli --help` stays light.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import derivatives, points
from .errors import ComputeError, JaccliError, PointError, ShapeError, TooLargeError
from .layout import Layout
from .parse import Expression, parse_expression

COMMANDS = ("eval", "grad", "jacobian", "hessian", "jvp", "vjp", "hvp")
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

    use_cache = cache.enabled(request.no_cache)
    jax, jnp = _jax(use_cache)
    budget = request.max_memory or default_max_memory()
    expression = read_expression(request.expr)
    spec = points.read_spec(request.at, max_bytes=budget)
    point = points.bind_point(expression, spec, order=request.vars, wrt=request.wrt)
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
            layout=[(s.name, s.shape, s.wrt) for s in layout.slots],
            device=(device.platform, device.device_kind, device.id))
        entry = cache.load_executable(key, device)
    if entry is not None:
        compiled, metadata = entry
        out_shape = tuple(metadata["out_shape"])
    else:
        from .translate import build_function

        out_shape = output_shape(build_function(expression, layout, dtype), z, c)
    if command in SCALAR_ONLY and out_shape != ():
        raise ShapeError(
            f"{SCALAR_ONLY[command]} needs a scalar expression, but got {math.prod(out_shape)} outputs "
            f"(shape {out_shape})",
            hint="use `jacobian`" + (" or `vjp`" if command == "grad" else " of the gradient, or `jvp`")
            + ", or sum the outputs",
        )
    mode = derivatives.choose_mode(command, request.mode, layout.z_size, math.prod(out_shape))
    shape = derivatives.result_shape(command, out_shape, layout.in_shape)
    guard_size(command, shape, dtype.itemsize, budget)
    w = _vector(request, layout, out_shape, budget).astype(dtype)
    block = block_size(command, mode, request.chunk_size, layout.z_size, out_shape, dtype.itemsize, budget)
    if entry is not None and metadata.get("block") != block:
        entry = None

    def compile_fresh():
        from .translate import build_function

        function = build_function(expression, layout, dtype)
        if block is None:
            operator = derivatives.OPERATORS[command](function, mode)
        else:
            blocked = derivatives.blocked_jacobian if command == "jacobian" else derivatives.blocked_hessian
            operator = blocked(function, mode, block, out_shape, layout.z_size, dtype)
        # not from JAX's own persistent cache: an executable loaded from it does not re-serialize
        with _no_xla_cache(jax):
            fresh = jax.jit(operator).lower(z, c, w).compile()
        if key is not None:
            cache.store_executable(key, fresh, {"out_shape": list(out_shape), "block": block})
        return fresh

    try:
        with jax.default_device(device):
            if entry is None:
                compiled = compile_fresh()
                value = np.asarray(compiled(z, c, w))
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
    state = "off" if key is None else "hit" if entry is not None else "miss"
    extra = {"cache": state} if block is None else {"cache": state, "block": block}
    return Result(request, expression, layout, point.values, value.reshape(shape), out_shape, mode,
                  f"{device.platform}:{device.id}", extra=extra)


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
    jax, _ = _jax()
    spec = jax.eval_shape(f, jax.ShapeDtypeStruct(z.shape, z.dtype), jax.ShapeDtypeStruct(c.shape, c.dtype))
    return tuple(spec.shape)


def _vector(request: Request, layout: Layout, out_shape, budget: int) -> np.ndarray:
    if request.command in ("jvp", "hvp"):
        return points.read_vector(request.v, layout, layout.in_shape, option="--v", max_bytes=budget)
    if request.command == "vjp":
        return points.read_vector(request.u, layout, out_shape, option="--u", max_bytes=budget)
    for option, given in (("--v", request.v), ("--u", request.u)):
        if given:
            raise PointError(f"`{request.command}` takes no {option}",
                             hint="--v goes with jvp and hvp, --u with vjp")
    return np.zeros(0)


def guard_size(command: str, shape: tuple[int, ...], itemsize: int, budget: int) -> None:
    """Refuse, before any work, a result that would not fit in the memory budget."""
    size = math.prod(shape) * itemsize
    if size <= budget:
        return
    alternative = {
        "hessian": "use `hvp` (H·v without forming H)",
        "jacobian": "use `jvp` or `vjp` (J·v, uᵀ·J without forming J)",
    }.get(command, "use a smaller problem")
    raise TooLargeError(
        f"the {command} result would take {points.format_bytes(size)} (shape {shape}), "
        f"more than the memory budget of {points.format_bytes(budget)}",
        hint=f"{alternative}, or raise --max-memory",
    )


def block_size(command: str, mode: str, requested: int | None, n: int, out_shape: tuple, itemsize: int,
               budget: int) -> int | None:
    """Basis directions a block for a jacobian or hessian; None: all at once (JAX's own jacfwd…).

    A block of K directions costs about K × (one column + the function's work on n
    inputs); the default keeps that within an eighth of the memory budget.
    """
    if command not in ("jacobian", "hessian"):
        return None
    count = math.prod(out_shape) if command == "jacobian" and mode == "rev" else n
    if requested:
        return min(requested, count) if min(requested, count) < count else None
    column = (math.prod(out_shape) * (n if command == "hessian" else 1)) * itemsize
    per_direction = max(column, 16 * n * itemsize)
    fits = max(1, (budget // 8) // per_direction)
    return None if fits >= count else int(fits)


def default_max_memory() -> int:
    """A quarter of the machine's RAM."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3


_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]i?b?|b|bytes?)?\s*\Z", re.I)
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9,
          "gb": 1e9, "t": 1e12, "tb": 1e12, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20,
          "gi": 2**30, "gib": 2**30, "ti": 2**40, "tib": 2**40}


def parse_size(text: str) -> int:
    """'4GB' → 4e9, '512MiB' → 536870912, '1000' → 1000."""
    match = _SIZE.match(text)
    if not match:
        raise PointError(f"cannot read the size {text!r}", hint="e.g. 4GB, 512MiB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def select_device(name: str | None):
    jax, _ = _jax()
    if name is None:
        return jax.devices()[0]
    try:
        return jax.devices(name)[0]
    except RuntimeError:
        found = ", ".join(sorted({d.platform for d in jax.devices()}))
        raise JaccliError(
            f"no {name} device: jaxlib found only {found}",
            hint="for NVIDIA GPUs: pip install 'jaccli[cuda12]'; `jaccli info` lists the devices",
        ) from None


def _jax(use_cache: bool = False):
    import jax
    import jax.numpy as jnp

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)  # float64 unless --dtype float32
    if use_cache and not jax.config.jax_compilation_cache_dir:
        from . import cache

        cache.enable_xla_cache(jax)
    return jax, jnp
