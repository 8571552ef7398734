"""--symbolic and --format latex: the derivative as a formula (SymPy), beside or instead of numbers."""

from __future__ import annotations

import json
import sys

import numpy as np

from . import points, symbolic
from .errors import JaccliError
from .evaluate import Request, read_expression, run
from .layout import Layout

COMMANDS = ("eval", "grad", "jacobian", "hessian", "derivative")


def write_formula(request: Request, fmt: str | None, output: str | None) -> None:
    """Print the symbolic derivative: LaTeX, JSON, or labelled lines (with numbers when --at is given)."""
    if request.command not in COMMANDS:
        raise JaccliError(f"`{request.command}` has no symbolic form here",
                          hint=f"--symbolic and -f latex go with {', '.join(COMMANDS)}")
    expression = read_expression(request.expr)
    result = run(request) if request.at else None
    layout = result.layout if result else _scalar_layout(expression, request)
    value = symbolic.simplify(symbolic.within(
        20, symbolic.symbolic_derivative, expression, layout, request.command, order=request.order,
        partial=request.partial))
    if fmt == "latex":
        _emit(symbolic.to_latex(value) + "\n", output)
        return
    texts = symbolic.formulas(value)
    if fmt == "json":
        shape = [int(d) for d in getattr(value, "shape", ())]
        document = {"command": request.command, "expr": expression.text, "variables": list(layout.names),
                    "shape": shape, "symbolic": np.array(texts, dtype=object).reshape(shape).tolist(),
                    "latex": symbolic.to_latex(value)}
        if result is not None:
            from .render import json_array

            document["point"] = {k: json_array(v)[0] for k, v in result.point.items()}
            document["value"] = json_array(result.value)[0]
        _emit(json.dumps(document) + "\n", output)
        return
    from .render import entry_namer, request_order

    out_shape = result.out_shape if result else _out_shape(value, request, layout)
    name = entry_namer(request.command, out_shape, layout, request_order(request))
    numbers = result.value.reshape(-1) if result is not None else None
    lines = []
    for k, text in enumerate(texts):
        line = f"{name(k)} = {text}"
        if numbers is not None:
            line += f"  = {float(numbers[k])!r}"
        lines.append(line)
    _emit("\n".join(lines) + "\n", output)


def _scalar_layout(expression, request: Request) -> Layout:
    names = list(request.vars) if request.vars else list(expression.variables)
    unknown = [n for n in (request.vars or ()) if n not in expression.variables]
    if unknown:
        raise points.unknown_variable(unknown[0], expression.variables, "--vars")
    wrt = tuple(dict.fromkeys(request.partial)) if request.partial else request.wrt
    return Layout.build(names, {n: () for n in names}, wrt)


def _out_shape(value, request: Request, layout: Layout) -> tuple:
    shape = tuple(getattr(value, "shape", ()))
    axes = {"eval": 0, "grad": 1, "jacobian": 1, "hessian": 2}.get(request.command, request.order or 1)
    if request.partial:
        axes = 0
    if len(layout.wrt) == 1:
        axes = 0  # one scalar variable: no input axes
    return shape[: len(shape) - axes] if axes else shape


def _emit(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
