"""`inspect` and `info`: what jaccli would do with an expression, and what it runs on."""

from __future__ import annotations

import math
import platform

from ..errors import ShapeError
from ..inputs.builders import format_bytes
from ..inputs.layout import Layout
from . import cache, complexes
from .budget import OPERATIONS, default_max_memory, operations
from .commands import COMMANDS
from .prepare import Request, bind, output_spec, read_expression

_HOW = {"eval": "f itself", "grad": "jax.grad", "jvp": "jax.jvp", "vjp": "jax.vjp",
        "hvp": "jax.jvp of jax.grad, H is never formed", "hessian": "jax.jacfwd(jax.jacrev(f))"}


def describe(request: Request, sparse: bool = False) -> dict:
    """The parsed expression, variables with shapes, output shape, and the strategy of each command
    (`sparse`: and the sparsity patterns of the Jacobian and Hessian, coloured, with a spy plot)."""
    expression = read_expression(request.expr)
    uses = expression.uses
    setup = None
    if request.at:
        setup = bind(request, expression=expression, guard=False)  # strategies say what the budget refuses
        layout = setup.layout
        shapes = {s.name: s.shape for s in layout.slots}
    else:
        names = list(request.vars) if request.vars else list(expression.variables)
        shapes = {n: () if uses[n].rank == 0 else (uses[n].min_size,) if uses[n].size_known else None
                  for n in names}
        layout = Layout.build(names, shapes, request.wrt) if None not in shapes.values() else None

    variables = {}
    for name, shape in shapes.items():
        if shape is None:
            variables[name] = f"array of rank {uses[name].rank or '?'}, size not known (give it in --at)"
        else:
            variables[name] = "scalar" if shape == () else f"array of shape {shape}"
        if layout is not None and name not in [s.name for s in layout.wrt]:
            variables[name] += " (held)"
    description = {"expression": str(expression), "variables": variables}
    if expression.definitions:
        description["definitions"] = {d.name: "shape not known until the sizes of the arrays are given (--at)"
                                      for d in expression.definitions}
    if layout is None:
        description["output shape"] = "not known until the sizes of the arrays are given (--at)"
        return description

    import numpy as np

    from .translate import build_function, definition_shapes

    f = setup.function if setup else build_function(expression, layout, np.float64)
    dtype = setup.dtype if setup else np.dtype(np.float64)
    try:
        out, complex_out = output_spec(f, np.zeros(layout.z_size, dtype), np.zeros(layout.c_size, dtype))
    except ShapeError:
        if setup:
            raise
        description["output shape"] = "not known until the shapes of the variables are given (--at)"
        description["variables"] = {name: "scalar or array: give its value in --at" if text == "scalar" else text
                                    for name, text in variables.items()}  # unsubscripted names were taken as scalars, and the model needs arrays
    if expression.definitions:
        description["definitions"] = {name: "scalar" if shape == () else f"array of shape {shape}"
                                      for name, shape in definition_shapes(expression, layout).items()}
    description["input shape"] = str(layout.in_shape)
    description["output shape"] = str(out)
    if dtype.kind == "c" or complex_out:
        description["dtype"] = ("complex128: the point is complex" if dtype.kind == "c" else
                                "float64 inputs, a complex value")
    description["strategies"] = strategies(layout, out, dtype.kind == "c", complex_out, expression.size)
    if sparse and dtype.kind != "c" and not complex_out:
        from .sparse.scheme import describe_patterns

        description.update(describe_patterns(f, layout, out))
    return description


def strategies(layout: Layout, out: tuple, complex_in: bool = False, complex_out: bool = False,
               size: int = 0) -> dict:
    """How each command would compute, and its result's shape, from the registry (for a complex point or f:
    without --holomorphic, the real map's shapes); `size`: the expression's nodes, for the compile budget."""
    found = {}
    for name, command in COMMANDS.items():
        if name in ("eval", "derivative"):
            continue
        if command.scalar_only and out != ():
            found[name] = "not applicable: the expression is not scalar"
            continue
        estimate = operations(command, size)
        if estimate > OPERATIONS:
            found[name] = (f"refused: about {estimate:,} operations to compile, more than {OPERATIONS:,} "
                           "(write it with arrays and reductions)")
            continue
        try:
            parts = complexes.parts(name, False, complex_in, complex_out)
        except ShapeError:
            found[name] = "not applicable: the expression is complex" + (
                " (--holomorphic gives the complex derivative)" if name in complexes.HOLOMORPHIC else
                " (take the Hessian of a real function: abs(f)**2, real(f))")
            continue
        out_real, in_real = parts.shape(out, layout.in_shape) if parts else (out, layout.in_shape)
        n_in, n_out = math.prod(in_real), math.prod(out_real)
        mode = command.mode(None, n_in, n_out)
        if name == "jacobian":
            how = (f"jax.jac{mode}: {n_in} input{'s' * (n_in != 1)} {'≤' if mode == 'fwd' else '>'} "
                   f"{n_out} output{'s' * (n_out != 1)}")
        else:
            how = _HOW[name]
        found[name] = f"{mode} ({how}), shape {command.result_shape(out_real, in_real)}" + (
            " (of the real map: Re and Im parts)" if parts else "")
    return found


def system_info() -> dict:
    from importlib import metadata

    from .backend import load_jax, select_device

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    from .devices import describe_mesh, local_devices, point_mesh

    jax, _ = load_jax()
    device = select_device(None)  # a backend that won't start is an error here, not a traceback
    local = local_devices(device)
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
        "processes": jax.process_count(),
        "process index": jax.process_index(),
        "local devices": len(local),
        "global devices": jax.device_count(device.platform),
        "mesh (--devices all)": describe_mesh(point_mesh(local)),
        "default dtype": "float64",
        "memory budget": format_bytes(default_max_memory()) + " (--max-memory)",
        "cache": cache.describe(),
    }
