"""Names of a result's entries, from its plan's axes: f0, Jv_f0, df/dx, df0/dx, d2f/dxdy, Hv_x[0], d3f/dxdxdy.

A result is made of 'out' axes (labels f, f0, f[0,1]) and 'in' axes (x, y, x[0],
X[1,2]); a product (eval, jvp, vjp, hvp) names its one axis with the command's
prefix, a derivative names the output and each input it is taken along.
"""

from __future__ import annotations

import math

from ..inputs.layout import output_labels


def entry_namer(plan):
    """flat index of one result ↦ its ASCII name."""
    outs = plan.out_labels(output_labels(plan.out_shape))  # Re f0 … Im f0 … when complex sides stand as parts
    ins = plan.in_labels()
    n = len(ins)
    axes, prefix = plan.axes, plan.command.prefix
    if isinstance(plan.order, tuple):  # one mixed partial: d3f/dxdxdy
        along = "".join(f"d{v}" for v in plan.order)
        return lambda k: f"d{len(plan.order)}{outs[k]}/{along}"
    if axes == ("out",):
        return lambda k: prefix + outs[k]
    if axes == ("in",):
        return lambda k: prefix + ins[k]
    order = len(axes) - 1  # ('out', 'in', …)

    def name(k: int) -> str:
        o, rest = divmod(k, n**order)
        along = [rest // n ** (order - 1 - a) % n for a in range(order)]
        return _head(order, outs[o]) + "".join(f"d{ins[j]}" for j in along)

    return name


def _head(order: int, out: str) -> str:
    """A derivative's name up to its inputs: df0/, d2f/."""
    return f"d{order if order > 1 else ''}{out}/"


def entry_names(plan) -> list[str]:
    """Every entry's name, in C order: for a derivative, from each output's and input's label made once (a
    Hessian of 2,000 variables has 4·10⁶ names)."""
    out_shape, in_shape = plan.result_shapes
    count = plan.command.count(math.prod(out_shape), math.prod(in_shape), plan.axes)
    axes = plan.axes
    if isinstance(plan.order, tuple) or axes in (("out",), ("in",)) or len(axes) < 2:
        name = entry_namer(plan)
        return [name(k) for k in range(count)]
    order = len(axes) - 1
    outs = list(plan.out_labels(output_labels(plan.out_shape)))
    ins = [f"d{label}" for label in plan.in_labels()]
    alongs = ins
    for _ in range(order - 1):
        alongs = [a + b for a in alongs for b in ins]
    heads = [_head(order, o) for o in outs]
    return [head + along for head in heads for along in alongs]
