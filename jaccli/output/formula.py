"""--symbolic and --format latex: the derivative as a formula (SymPy), beside or instead of numbers."""

from __future__ import annotations

import json

import numpy as np

from ..compute import commands, complexes, symbolic
from ..compute.prepare import Request, bind, plan, read_expression
from ..errors import JaccliError
from ..inputs.points import PointSpec
from .formats import number_text
from .labels import entry_namer
from .tables import table_number
from .write import emit

COMMANDS = tuple(name for name, c in commands.COMMANDS.items() if c.symbolic_order is not None and not c.vector)


def write_formula(request: Request, fmt: str | None, output: str | None, env) -> None:
    """Print the symbolic derivative: LaTeX, JSON, or labelled lines (with numbers when --at is given)."""
    from ..inputs.sources import is_batch

    if request.command not in COMMANDS:
        raise JaccliError(f"`{request.command}` has no symbolic form here",
                          hint=f"--symbolic and -f latex go with {', '.join(COMMANDS)}")
    if is_batch(request):
        raise JaccliError("--symbolic and -f latex take one point (or none)",
                          hint="for many points, write numbers: -f csv or -f json")
    result = None
    if request.at:
        from ..compute.run import run

        result = run(request)
        setup = result.plan.setup
    else:  # no point: every variable a scalar, and no JAX
        expression = read_expression(request.expr)
        setup = bind(request, PointSpec({n: np.zeros(()) for n in request.vars or expression.variables}, []),
                     expression)
    count = request.order or 1 if request.command == "derivative" else setup.command.symbolic_order
    if not request.holomorphic and complexes.may_be_complex(setup.expression, setup.z, setup.c) and count:
        raise JaccliError("the formula of a complex expression's derivative is its complex derivative",
                          hint="add --holomorphic for d/dz (SymPy's I and conjugate), or leave out --symbolic "
                               "for the numbers of the real Jacobian")
    value = symbolic.simplify(symbolic.within(
        20, symbolic.symbolic_derivative, setup.expression, setup.layout, count, partial=request.partial,
        complex_=request.holomorphic or setup.dtype.kind == "c"))
    if fmt == "latex":
        emit(symbolic.to_latex(value) + "\n", output, env)
        return
    texts = symbolic.formulas(value)
    if fmt == "json":
        from .formats import json_array

        shape = [int(d) for d in getattr(value, "shape", ())]
        document = {"command": request.command, "expr": setup.expression.text, "variables": list(setup.layout.names),
                    "shape": shape, "symbolic": np.array(texts, dtype=object).reshape(shape).tolist(),
                    "latex": symbolic.to_latex(value)}
        if result is not None:
            document["point"] = {k: json_array(v)[0] for k, v in result.point.items()}
            document["value"] = json_array(result.value)[0]
        emit(json.dumps(document) + "\n", output, env)
        return
    the_plan = result.plan if result else plan(setup, _out_shape(value, count, setup.layout, request.partial))
    name = entry_namer(the_plan)
    names = [name(k) for k in range(len(texts))]
    numbers = result.value.reshape(-1) if result is not None else None
    people = env.stdout_isatty and not output  # a terminal: aligned, numbers at the table's precision
    number = table_number(None) if people else number_text
    left = max(map(len, names), default=0)
    middle = max(map(len, texts), default=0) if numbers is not None else 0
    lines = []
    for k, text in enumerate(texts):
        line = f"{names[k]:<{left}} = {text}"
        if numbers is not None:
            line = f"{line:<{left + 3 + middle}}  = {number(numbers[k])}"
        lines.append(line)
    emit("\n".join(lines) + "\n", output, env)


def _out_shape(value, count: int, layout, partial) -> tuple:
    """The output's shape: the formula's shape without its input axes."""
    shape = tuple(int(d) for d in getattr(value, "shape", ()))
    input_axes = 0 if partial else count * len(layout.in_shape)
    return shape[: len(shape) - input_axes]
