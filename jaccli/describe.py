"""`inspect` and `info`: what jaccli would do with an expression, and what it runs on."""

from __future__ import annotations

import math
import platform

from . import cache, derivatives, points
from .budget import default_max_memory
from .builders import format_bytes
from .evaluate import output_shape, read_expression, select_device, load_jax
from .layout import Layout


def describe(expr: str, at: tuple[str, ...], order, wrt) -> dict:
    """The parsed expression, variables with shapes, output shape, and the strategy of each command."""
    expression = read_expression(expr)
    uses = expression.uses
    shapes: dict[str, tuple[int, ...] | None]
    if at:
        spec = points.read_spec(at, max_bytes=default_max_memory())
        point = points.bind_point(expression, spec, order=order, wrt=wrt)
        layout = point.layout
        shapes = {s.name: s.shape for s in layout.slots}
    else:
        names = list(order) if order else list(expression.variables)
        shapes = {n: () if uses[n].rank == 0 else (uses[n].min_size,) if uses[n].size_known else None
                  for n in names}
        layout = Layout.build(names, shapes, wrt) if None not in shapes.values() else None

    variables = {}
    for name, shape in shapes.items():
        if shape is None:
            variables[name] = f"array of rank {uses[name].rank or '?'}, size not known (give it in --at)"
        else:
            variables[name] = "scalar" if shape == () else f"array of shape {shape}"
        if layout is not None and name not in [s.name for s in layout.wrt]:
            variables[name] += " (held)"
    description = {"expression": str(expression), "variables": variables}
    if layout is None:
        description["output shape"] = "not known until the sizes of the arrays are given (--at)"
        return description

    _, jnp = load_jax()
    from .translate import build_function

    f = build_function(expression, layout, jnp.float64)
    out = output_shape(f, jnp.zeros(layout.z_size), jnp.zeros(layout.c_size))
    n_in, n_out = layout.z_size, math.prod(out)
    description["input shape"] = str(layout.in_shape)
    description["output shape"] = str(out)
    jac_mode = derivatives.choose_mode("jacobian", "auto", n_in, n_out)
    strategies = {
        "jacobian": f"{jac_mode} (jax.jac{jac_mode}: {n_in} input{'s' * (n_in != 1)} "
                    f"{'≤' if jac_mode == 'fwd' else '>'} {n_out} output{'s' * (n_out != 1)}), "
                    f"shape {derivatives.result_shape('jacobian', out, layout.in_shape)}",
        "hessian": f"fwd-rev (jax.jacfwd(jax.jacrev(f))), "
                   f"shape {derivatives.result_shape('hessian', out, layout.in_shape)}",
    }
    if out == ():
        strategies["grad"] = "rev (jax.grad)"
        strategies["hvp"] = "fwd-rev (jax.jvp of jax.grad), H is never formed"
    else:
        strategies["grad, hvp"] = "not applicable: the expression is not scalar"
    strategies["jvp"] = "fwd (jax.jvp)"
    strategies["vjp"] = "rev (jax.vjp)"
    description["strategies"] = strategies
    return description


def system_info() -> dict:
    from importlib import metadata

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    jax, _ = load_jax()
    device = select_device(None)  # a backend that won't start is an error here, not a traceback
    return {
        "jaccli": version("jaccli"),
        "python": platform.python_version(),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "sympy": version("sympy"),
        "numpy": version("numpy"),
        "backend": jax.default_backend(),
        "devices": [f"{d.platform}:{d.id} {d.device_kind}" for d in jax.devices()],
        "default device": f"{device.platform}:{device.id}",
        "default dtype": "float64",
        "memory budget": format_bytes(default_max_memory()) + " (--max-memory)",
        "cache": cache.describe(),
    }
