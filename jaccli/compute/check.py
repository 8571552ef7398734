"""`check`: jaccli's AD derivative against what the user expects, or against finite differences and SymPy.

Each command's `Reference` (in the registry) says how: finite differences
differentiate a lower AD operator once (f for a Jacobian, the AD Jacobian for a
Hessian, ∇f along v for an HVP) by central differences with one Richardson step,
error O(h⁴) with h = 10⁻³·max(1, |xⱼ|); all shifted points go through one
`jit(vmap(…))`. SymPy's symbolic derivative of the command's order, at 30 digits,
is contracted with v or u the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import JaccliError, PointError, ShapeError
from ..inputs.expected import read_expected
from ..inputs.points import PointSpec
from .prepare import Request
from .run import Result, run

STEP = 1e-3
RTOL, ATOL = 1e-5, 1e-8


@dataclass
class Comparison:
    reference: str  # 'expected', 'finite differences', 'SymPy'
    expected: np.ndarray


@dataclass
class Report:
    result: Result
    comparisons: list[Comparison]
    rtol: float
    atol: float
    skipped: list[str] = field(default_factory=list)  # references that could not be made, and why

    def mismatches(self, comparison: Comparison) -> np.ndarray:
        """Flat indices of the entries that differ."""
        got, want = self.result.value.reshape(-1), comparison.expected.reshape(-1)
        close = np.isclose(got, want, rtol=self.rtol, atol=self.atol, equal_nan=True)
        return np.flatnonzero(~close)

    @property
    def ok(self) -> bool:
        return all(len(self.mismatches(c)) == 0 for c in self.comparisons)


def check(request: Request, *, expect: str | None = None, rtol: float = RTOL, atol: float = ATOL,
          spec: PointSpec | None = None, stdin=None) -> list[Report]:
    """One Report per derivative checked: `request.command`, or orders 1…K of `derivative`."""
    if request.command == "eval" and expect is None:
        raise JaccliError("`check --of eval` compares with --expect only",
                          hint="give --expect FILE|-|LITERAL, or check a derivative: --of grad, jacobian …")
    orders = [request.order] if request.command != "derivative" or request.partial else \
        list(range(1, (request.order or 1) + 1))
    reports = []
    for order in orders:
        sub = replace(request, order=order) if request.command == "derivative" else request
        result = run(sub, spec)
        comparisons, skipped = [], []
        if expect is not None:
            comparisons.append(Comparison("expected", _expected(expect, result.value.shape, stdin)))
        else:
            comparisons.append(Comparison("finite differences", finite_differences(result)))
            try:
                comparisons.append(Comparison("SymPy", sympy_reference(result)))
            except ShapeError as error:
                skipped.append(f"SymPy: {error.message}")
        reports.append(Report(result, comparisons, rtol, atol, skipped))
    return reports


def _expected(expect, shape: tuple, stdin) -> np.ndarray:
    """--expect's text (a file, '-' or a literal), or an array given from Python."""
    if isinstance(expect, str):
        return read_expected(expect, shape, stdin)
    values = np.asarray(expect, dtype=np.float64)
    if values.size != int(np.prod(shape)):
        raise ShapeError(f"expect has {values.size} numbers, but the result has {int(np.prod(shape))} (shape {shape})")
    return values.reshape(shape)


def _lower_operator(result: Result):
    """(the AD operator that finite differences differentiate, the directions, whether k = 1 is the answer)."""
    from . import derivatives

    plan, reference = result.plan, result.command.reference
    f, layout = plan.setup.function, plan.layout
    identity = np.eye(layout.z_size)
    if reference.lower == "derivative":
        if isinstance(plan.order, tuple):  # a mixed partial: the partial of all but the last, along the last
            slots = {s.name: s for s in layout.wrt}
            names = plan.order
            lower = derivatives.mixed_partial(f, tuple(slots[x].offset for x in names[:-1])) if len(names) > 1 \
                else derivatives.value(f)
            return lower, identity[[slots[names[-1]].offset]], True
        lower = derivatives.value(f) if plan.order == 1 else derivatives.nth_derivative(f, plan.order - 1)
        return lower, identity, False
    lower = {"eval": derivatives.value, "grad": derivatives.grad,
             "jacobian": lambda f: derivatives.jacobian(f, "rev")}[reference.lower](f)
    if reference.along == "v":
        return lower, np.asarray(plan.vector, dtype=np.float64)[None, :], True
    return lower, identity, False


def finite_differences(result: Result) -> np.ndarray:
    """The derivative by central differences (Richardson) of the next-lower AD derivative."""
    import jax

    plan = result.plan
    point, held = plan.layout.flatten(result.point)
    base, directions, single = _lower_operator(result)
    n = plan.layout.z_size
    scale = np.maximum(1.0, np.abs(directions @ point) if n else 1.0) / np.maximum(
        np.abs(directions).max(axis=1, initial=0), 1e-300)
    steps = STEP * scale  # one step per direction
    shifted = np.concatenate([point + s * h * directions for s, h in
                              ((1, steps[:, None]), (-1, steps[:, None]), (1, steps[:, None] / 2),
                               (-1, steps[:, None] / 2))])
    values = np.asarray(jax.jit(jax.vmap(base, in_axes=(0, None, None)))(shifted, held, np.zeros(0)))
    k = len(directions)
    plus, minus, plus_half, minus_half = (values[i * k : (i + 1) * k] for i in range(4))
    shape = (k,) + (1,) * (values.ndim - 1)
    coarse = (plus - minus) / (2 * steps.reshape(shape))
    fine = (plus_half - minus_half) / steps.reshape(shape)
    derivative = (4 * fine - coarse) / 3  # (k, *base shape)
    if single:
        return derivative[0].reshape(result.value.shape)
    if result.command.reference.contract == "u":
        u = np.asarray(plan.vector, dtype=np.float64).reshape(plan.out_shape)
        return np.tensordot(derivative, u, axes=u.ndim).reshape(result.value.shape)
    return np.moveaxis(derivative, 0, -1).reshape(result.value.shape)


def sympy_reference(result: Result) -> np.ndarray:
    """The derivative from SymPy's symbolic one, evaluated at 30 digits (ShapeError: no symbolic form)."""
    from . import symbolic

    plan = result.plan
    layout, command = plan.layout, plan.command
    order = plan.order if isinstance(plan.order, int) else command.symbolic_order
    try:
        value = symbolic.within(10, symbolic.symbolic_derivative, plan.expression, layout, order,
                                partial=plan.order if isinstance(plan.order, tuple) else None)
        _, symbols = symbolic.to_sympy(plan.expression, layout.names)
        numbers = symbolic.within(10, symbolic.at_point, value, symbols,
                                  [float(result.point[name]) for name in layout.names])
    except symbolic.SymbolicError as error:
        raise ShapeError(error.message) from None
    vector = np.asarray(plan.vector, dtype=np.float64)  # the --v or --u that run() read
    contract = command.reference.contract
    if contract == "v":
        return (numbers.reshape(-1, layout.z_size) @ vector).reshape(result.value.shape)
    if contract == "u":
        return (vector @ numbers.reshape(vector.size, -1)).reshape(result.value.shape)
    return numbers.reshape(result.value.shape)


def point_specs(request: Request, stdin=None):
    """The points to check: request.at itself (None), or each record of --at @points.csv (.npy, .jsonl) or '-'."""
    from ..inputs.records import BadRecord, RecordReader
    from .batch import record_source, record_spec

    source = record_source(request.at, "--at")
    if source is None:
        yield None
        return
    for block in RecordReader(source, stdin=stdin).blocks():
        if isinstance(block, BadRecord):
            raise PointError(f"line {block.line}: {block.message}")
        rows = block.matrix if block.matrix is not None else block.rows
        for row in rows:
            yield record_spec(row)
