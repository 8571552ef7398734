"""Complex numbers (SPEC §8): when derivatives are complex, and ℂ seen as ℝ² when they are not.

`--holomorphic` asks for the complex derivative, as `jax.grad(f, holomorphic=True)`.
Without it, jacobian, hessian and derivative differentiate the identified real map:
z ∈ ℂⁿ is [Re z, Im z] ∈ ℝ²ⁿ and a complex output w ∈ ℂᵐ is [Re w, Im w] ∈ ℝ²ᵐ (real
parts of every entry first, then the imaginary parts), so the Jacobian of f: ℂⁿ → ℂᵐ is
the real 2m × 2n matrix. grad, hvp, jvp and vjp give exactly what JAX gives: `grad` of a
real f of complex z is ∂f/∂x − i·∂f/∂y (`grad(|z|²)(3+4j) = 6−8j`), `hvp` the tangent of
that gradient, and jvp/vjp the Autodiff Cookbook's conventions.

    >>> Parts(inputs=True, outputs=True).shape((), 3)  # f: ℂ³ → ℂ as ℝ⁶ → ℝ²
    ((2,), (6,))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import PointError, ShapeError, warn
from ..language import nodes
from ..language.functions import NOT_HOLOMORPHIC

HOLOMORPHIC = ("grad", "jacobian", "hessian", "derivative")  # and check --of any of them
IDENTIFIED = ("jacobian", "hessian", "derivative")  # without --holomorphic: of the real map ℝ²ⁿ → ℝ²ᵐ
REAL_OUTPUT = ("grad", "hvp")  # JAX differentiates only a real f of complex z without holomorphic=True


@dataclass(frozen=True)
class Parts:
    """Which sides of a result are complex and stand as [real parts, imaginary parts]."""

    inputs: bool
    outputs: bool

    def shape(self, out_shape: tuple, in_shape: tuple) -> tuple[tuple, tuple]:
        """The (out, in) shapes of the real map: a complex side becomes one flat axis of twice its size."""
        return ((2 * math.prod(out_shape),) if self.outputs else out_shape,
                (2 * math.prod(in_shape),) if self.inputs else in_shape)

    def labels(self, labels, complex_side: bool):
        """Re f₀ … Re fₘ₋₁, Im f₀ … on a complex side; the labels themselves on a real one."""
        if not complex_side:
            return labels
        from ..inputs.layout import Labels

        count = len(labels)
        return Labels(2 * count, lambda i: ("Re " if i < count else "Im ") + labels[i % count])


def check_holomorphic(command: str, expression) -> None:
    """--holomorphic goes with grad, jacobian, hessian and derivative; warn when f is visibly not holomorphic."""
    if command not in HOLOMORPHIC:
        raise ShapeError(f"`{command}` takes no --holomorphic",
                         hint="jvp and vjp are complex already (as jax.jvp and jax.vjp); --holomorphic goes with "
                              "grad, jacobian, hessian and derivative")
    roots = [d.value for d in expression.definitions] + [expression.root]
    used = sorted({n.name for root in roots for n in nodes.walk(root)
                   if isinstance(n, nodes.Call) and n.name in NOT_HOLOMORPHIC})
    if used:
        warn(f"--holomorphic: the expression uses {', '.join(used)}, which is not holomorphic: "
             "the answer is what JAX computes (it depends on --mode), not a derivative of f")


def may_be_complex(expression, z, c) -> bool:
    """Whether f can have a complex value: a complex point, or an imaginary literal in the expression."""
    if z.dtype.kind == "c" or c.dtype.kind == "c":
        return True
    roots = [d.value for d in expression.definitions] + [expression.root]
    return any(isinstance(n, nodes.Imag) for root in roots for n in nodes.walk(root))


def parts(command: str, holomorphic: bool, complex_in: bool, complex_out: bool) -> Parts | None:
    """The identification a run differentiates through, or None (JAX's own complex rules, or all real)."""
    if holomorphic or not (complex_in or complex_out):
        return None
    if command in REAL_OUTPUT and complex_out:
        raise ShapeError(
            f"`{command}` needs a real-valued expression, but this one is complex"
            + (" (the point is complex)" if complex_in else ""),
            hint="--holomorphic gives the complex derivative of a holomorphic f; `jvp`/`vjp` take complex "
                 "tangents; `jacobian` gives the real Jacobian of Re f and Im f"
            if command == "grad" else "take the Hessian of a real function, e.g. abs(f)**2 or real(f)")
    if command in IDENTIFIED:
        return Parts(complex_in, complex_out)
    return None


def real_map(f, parts: Parts, n: int):
    """F(r, c) = f(r[:n] + i·r[n:], c) with a complex value as [Re, Im], flat: the map ℝ²ⁿ → ℝ²ᵐ."""
    import jax.numpy as jnp

    def real_f(r, c):
        value = f(r[:n] + 1j * r[n:] if parts.inputs else r, c)
        return jnp.concatenate([jnp.real(value).ravel(), jnp.imag(value).ravel()]) if parts.outputs else value

    return real_f


def real_point(z):
    """[Re z, Im z]: a complex point as the real map's argument."""
    import jax.numpy as jnp

    return jnp.concatenate([jnp.real(z), jnp.imag(z)])


def refuse_complex_record(plan, parts: dict) -> None:
    """One record of a real run (its first point was real) that holds a complex value: a bad record."""
    import numpy as np

    if plan.dtype.kind != "c" and any(np.iscomplexobj(v) and np.any(np.imag(v) != 0) for v in parts.values()):
        raise PointError("the record holds complex values, but the points before it were real",
                         hint="give --dtype complex128 (or complex64) for complex points")


def real_runs(plan, indices, parts: dict, lines):
    """Rows of records (option → rows) for a real run: the runs of real rows as (indices, parts), and each row
    with a complex value (nonzero imaginary part) as a bad record, in order."""
    import numpy as np

    from ..inputs.records import BadRecord

    if plan.dtype.kind == "c" or not any(np.iscomplexobj(v) for v in parts.values()):
        yield indices, parts
        return
    bad = np.zeros(len(indices), bool)
    for rows in parts.values():
        bad |= np.any(np.imag(rows).reshape(len(indices), -1) != 0, axis=1)
    start = 0
    for row in [*np.flatnonzero(bad), len(indices)]:
        if row > start:
            yield indices[start:row], {o: np.real(v[start:row]) for o, v in parts.items()}
        if row < len(indices):
            yield BadRecord(int(lines[row]), "the record holds complex values, but the points before it were real"
                            " (give --dtype complex128 for complex points)", int(indices[row]))
        start = row + 1
