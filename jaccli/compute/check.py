"""`check`: jaccli's AD derivative against what the user expects, or against finite differences and SymPy.

Each command's `Reference` (in the registry) says how: finite differences
differentiate a lower AD operator once (f for a Jacobian, the AD Jacobian for a
Hessian, ∇f along v for an HVP). Like numdifftools, they try several steps
(h = 10⁻²…10⁻⁵ · max(1, |xⱼ|)), each a Richardson-extrapolated central difference
(error O(h⁴)), and keep per entry the step whose estimate changes least from the
next one, with that change as its error estimate. Near a domain edge (f is nan
on one side) the difference is one-sided. All shifted points go through one
`jit(vmap(…))`. SymPy's symbolic derivative of the command's order, at 30 digits,
is contracted with v or u the same way; an entry SymPy gives no number for
(nan where AD is finite) has no symbolic reference.

An entry that differs from finite differences is *inconclusive*, not a failure,
when the differences did not converge (their error estimate is as large as the
discrepancy) or when SymPy's exact value agrees with AD.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import JaccliError, PointError, ShapeError
from ..inputs.expected import read_expected
from ..inputs.points import PointSpec
from .prepare import Request
from .run import Result, run

STEPS = (1e-2, 1e-3, 1e-4, 1e-5)  # relative steps tried, largest first
RTOL, ATOL = 1e-5, 1e-8


@dataclass
class Comparison:
    reference: str  # 'expected', 'finite differences', 'SymPy'
    expected: np.ndarray
    uncertainty: np.ndarray | None = None  # finite differences: the error estimate of each entry
    missing: np.ndarray | None = None  # entries this reference has no number for (SymPy's nan)
    inconclusive: np.ndarray | None = None  # flat indices that differ but cannot be called wrong


@dataclass
class Report:
    result: Result
    comparisons: list[Comparison]
    rtol: float
    atol: float
    skipped: list[str] = field(default_factory=list)  # references that could not be made, and why

    def differ(self, comparison: Comparison) -> np.ndarray:
        """Flat indices of the entries that are not within the tolerances of this reference."""
        got, want = self.result.value.reshape(-1), comparison.expected.reshape(-1)
        close = np.isclose(got, want, rtol=self.rtol, atol=self.atol, equal_nan=True)
        if comparison.missing is not None:
            close |= comparison.missing.reshape(-1)
        return np.flatnonzero(~close)

    def mismatches(self, comparison: Comparison) -> np.ndarray:
        """Flat indices of the entries that differ and are not inconclusive: failures."""
        differ = self.differ(comparison)
        if comparison.inconclusive is None:
            return differ
        return np.setdiff1d(differ, comparison.inconclusive)

    @property
    def ok(self) -> bool:
        return all(len(self.mismatches(c)) == 0 for c in self.comparisons)


def check(request: Request, *, expect: str | None = None, rtol: float = RTOL, atol: float = ATOL,
          spec: PointSpec | None = None, stdin=None) -> list[Report]:
    """One Report per derivative checked: `request.command`, or orders 1…K of `derivative`."""
    if request.command == "eval" and expect is None:
        raise JaccliError("`check --of eval` compares with --expect only",
                          hint="give --expect FILE|-|LITERAL, or check a derivative: --of grad, jacobian …")
    orders = [request.order] if request.command != "derivative" or request.partial or expect is not None else \
        list(range(1, (request.order or 1) + 1))  # one --expect is one tensor: of order K
    reports = []
    for order in orders:
        sub = replace(request, order=order) if request.command == "derivative" else request
        result = run(sub, spec)
        comparisons, skipped = [], []
        if expect is not None:
            comparisons.append(Comparison("expected", _expected(expect, result.value.shape, stdin)))
        else:
            estimate, uncertainty = finite_differences(result)
            comparisons.append(Comparison("finite differences", estimate, uncertainty))
            try:
                exact = sympy_reference(result)
                missing = np.isnan(exact) & ~np.isnan(result.value)
                comparisons.append(Comparison("SymPy", exact, missing=missing))
                if missing.any():
                    skipped.append(f"SymPy: no number for {int(missing.sum())} entries (nan where AD is finite)")
            except ShapeError as error:
                skipped.append(f"SymPy: {error.message}")
        report = Report(result, comparisons, rtol, atol, skipped)
        if expect is None:
            _mark_inconclusive(report)
        reports.append(report)
    return reports


def _mark_inconclusive(report: Report) -> None:
    """FD disagreements that FD cannot settle: not converged, or SymPy's exact value agrees with AD."""
    fd = report.comparisons[0]
    differ = report.differ(fd)
    got, want = report.result.value.reshape(-1), fd.expected.reshape(-1)
    spread = np.abs(fd.uncertainty.reshape(-1)[differ])
    unsettled = spread * 2 >= np.abs(got[differ] - want[differ])  # as large as the discrepancy
    unsettled |= spread >= 1e-3 * np.abs(want[differ])  # not converged (an infinite derivative, a kink)
    unsettled |= ~np.isfinite(want[differ])
    if len(report.comparisons) > 1:
        exact = report.comparisons[1]
        agrees = np.ones(got.size, bool)
        agrees[report.differ(exact)] = False
        if exact.missing is not None:
            agrees &= ~exact.missing.reshape(-1)
        unsettled |= agrees[differ]
    fd.inconclusive = differ[unsettled]


def _expected(expect, shape: tuple, stdin) -> np.ndarray:
    """--expect's text (a file, '-' or a literal), or an array given from Python."""
    if isinstance(expect, str):
        return read_expected(expect, shape, stdin)
    values = np.asarray(expect)
    values = values.astype(np.complex128 if values.dtype.kind == "c" else np.float64)
    if values.size != int(np.prod(shape)):
        raise ShapeError(f"expect has {values.size} numbers, but the result has {int(np.prod(shape))} (shape {shape})")
    return values.reshape(shape)


def _lower_operator(result: Result, point: np.ndarray):
    """(the AD operator that finite differences differentiate, the directions, whether k = 1 is the answer, the
    point to difference at). Complex sides standing as [Re, Im]: of the real map, at [Re z, Im z]."""
    from . import complexes, derivatives

    plan, reference = result.plan, result.command.reference
    f, layout, holomorphic = plan.setup.function, plan.layout, plan.request.holomorphic
    if plan.parts is not None:
        f = complexes.real_map(f, plan.parts, layout.z_size)
        point = np.concatenate([point.real, point.imag]) if plan.parts.inputs else point
    identity = np.eye(point.size)
    if reference.lower == "derivative":
        if isinstance(plan.order, tuple):  # a mixed partial: the partial of all but the last, along the last
            slots = {s.name: s for s in layout.wrt}
            names = plan.order
            lower = derivatives.mixed_partial(f, tuple(slots[x].offset for x in names[:-1])) if len(names) > 1 \
                else derivatives.value(f)
            return lower, identity[[slots[names[-1]].offset]], True, point
        lower = derivatives.value(f) if plan.order == 1 else \
            derivatives.nth_derivative(f, plan.order - 1, holomorphic)
        return lower, identity, False, point
    lower = derivatives.OPERATORS[reference.lower](f, "rev", holomorphic)  # eval and grad ignore the mode
    if reference.along == "v":
        return lower, np.asarray(plan.vector)[None, :], True, point
    return lower, identity, False, point


def finite_differences(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """(the derivative by differences of the next-lower AD derivative, the error estimate of each entry)."""
    plan = result.plan
    point, held = (part.astype(plan.dtype) for part in plan.layout.flatten(result.point))
    if plan.dtype.kind == "c" and plan.parts is None and not plan.request.holomorphic \
            and result.command.name in ("grad", "vjp"):
        return _through_real_jacobian(result, point, held)
    base, directions, single, point = _lower_operator(result, point)
    estimate, uncertainty = _differences(base, point, held, directions)
    return _arrange(result, estimate, single), _arrange(result, uncertainty, single, absolute=True)


def _through_real_jacobian(result: Result, point: np.ndarray, held: np.ndarray):
    """grad and vjp at a complex point, in JAX's conventions, from the real Jacobian J of [Re f, Im f] in
    [Re z, Im z] by differences: grad = J[:n] − i·J[n:], vjp(u) = w[:n] − i·w[n:] with w = Jᵀ·[Re u, −Im u]."""
    from . import complexes, derivatives

    plan, n = result.plan, result.plan.layout.z_size
    real_f = complexes.real_map(plan.setup.function, complexes.Parts(True, plan.complex_out), n)
    r = np.concatenate([point.real, point.imag])
    jacobian, error = (a.reshape(2 * n, -1).T for a in _differences(derivatives.value(real_f), r, held, np.eye(2 * n)))
    if result.command.name == "grad":
        weights = np.ones(1)
    else:
        u = np.asarray(plan.vector).reshape(-1)
        weights = np.concatenate([u.real, -u.imag]) if plan.complex_out else u.real
    w, spread = weights @ jacobian, np.abs(weights) @ error
    return ((w[:n] - 1j * w[n:]).reshape(result.value.shape),
            np.hypot(spread[:n], spread[n:]).reshape(result.value.shape))


def _differences(base, point: np.ndarray, held: np.ndarray, directions: np.ndarray):
    """Richardson-extrapolated differences of `base` at `point` along each direction, the most stable step per
    entry: (estimates, error estimates), each of shape (directions, *base's shape)."""
    import jax

    n = point.size
    scale = np.maximum(1.0, np.abs(directions @ point) if n else 1.0) / np.maximum(
        np.abs(directions).max(axis=1, initial=0), 1e-300)
    k = len(directions)
    # for each relative step and direction: x+h, x-h, x+h/2, x-h/2; and x itself, last
    shifts = [(sign * step * part) for step in STEPS for part in (1, 0.5) for sign in (1, -1)]
    steps = np.array(shifts)[:, None] * scale[None, :]  # (len(shifts), k)
    shifted = np.concatenate([point + steps[i][:, None] * directions for i in range(len(shifts))] + [point[None, :]])
    values = np.asarray(jax.jit(jax.vmap(base, in_axes=(0, None, None)))(shifted, held, np.zeros(0)))
    centre = values[-1]
    values = values[:-1].reshape((len(STEPS), 4, k) + values.shape[1:])  # step, (+h, -h, +h/2, -h/2), direction
    h = (np.array(STEPS)[:, None] * scale[None, :]).reshape((len(STEPS), k) + (1,) * (values.ndim - 3))
    plus, minus, plus_half, minus_half = (values[:, i] for i in range(4))
    with np.errstate(all="ignore"):
        central = (4 * (plus_half - minus_half) / h - (plus - minus) / (2 * h)) / 3  # Richardson: O(h⁴)
        forward = (4 * (plus_half - centre) / (h / 2) - (plus - centre) / h) / 3  # one-sided: O(h²)
        backward = (4 * (centre - minus_half) / (h / 2) - (centre - minus) / h) / 3
    estimates = np.where(np.isfinite(central), central, np.where(np.isfinite(forward), forward, backward))
    change = np.abs(np.diff(estimates, axis=0))  # between consecutive steps
    change = np.where(np.isfinite(change), change, np.inf)
    best = np.argmin(change, axis=0)  # per entry: the step whose estimate is most stable
    estimate = np.take_along_axis(estimates, best[None], axis=0)[0]
    uncertainty = np.take_along_axis(change, best[None], axis=0)[0]
    return estimate, uncertainty


def _arrange(result: Result, derivative: np.ndarray, single: bool, absolute: bool = False) -> np.ndarray:
    """(k directions, *lower shape) → the result's shape: one direction, uᵀ·J, or the new axis last."""
    plan = result.plan
    if single:
        return derivative[0].reshape(result.value.shape)
    if result.command.reference.contract == "u":
        u = np.asarray(plan.vector).reshape(plan.out_shape)
        return np.tensordot(derivative, np.abs(u) if absolute else u, axes=u.ndim).reshape(result.value.shape)
    return np.moveaxis(derivative, 0, -1).reshape(result.value.shape)


def sympy_reference(result: Result) -> np.ndarray:
    """The derivative from SymPy's symbolic one, evaluated at 30 digits (ShapeError: no symbolic form)."""
    from . import symbolic

    plan = result.plan
    layout, command = plan.layout, plan.command
    complex_ = plan.dtype.kind == "c" or plan.complex_out
    if complex_ and not plan.request.holomorphic:
        raise ShapeError("no symbolic reference for a derivative of a complex function without --holomorphic")
    order = plan.order if isinstance(plan.order, int) else command.symbolic_order
    try:
        value = symbolic.within(10, symbolic.symbolic_derivative, plan.expression, layout, order,
                                partial=plan.order if isinstance(plan.order, tuple) else None, complex_=complex_)
        _, symbols = symbolic.to_sympy(plan.expression, layout.names, complex_)
        numbers = symbolic.within(10, symbolic.at_point, value, symbols,
                                  [complex(result.point[name]) if complex_ else float(result.point[name])
                                   for name in layout.names])
    except symbolic.SymbolicError as error:
        raise ShapeError(error.message) from None
    vector = np.asarray(plan.vector)  # the --v or --u that run() read
    contract = command.reference.contract
    if contract == "v":
        return (numbers.reshape(-1, layout.z_size) @ vector).reshape(result.value.shape)
    if contract == "u":
        return (vector @ numbers.reshape(vector.size, -1)).reshape(result.value.shape)
    return numbers.reshape(result.value.shape)


def point_specs(request: Request, stdin=None, *, bad: bool = False):
    """The points to check: request.at itself (None), or each record of --at @points.csv (.npy, .jsonl) or '-'.
    A bad record stops with a PointError; with `bad`, it is given as its BadRecord (its index set), and a good
    one as (its spec, its line, its index)."""
    from ..inputs.records import BadRecord, RecordReader
    from ..inputs.sources import record_source, record_spec

    source = record_source(request.at, "--at")
    if source is None:
        yield None
        return
    index = 0
    for block in RecordReader(source, stdin=stdin).blocks():
        if isinstance(block, BadRecord):
            if not bad:
                raise PointError(f"line {block.line}: {block.message}")
            block.index = index
            index += 1
            yield block
            continue
        rows = block.matrix if block.matrix is not None else block.rows
        for row, line in zip(rows, block.lines.tolist()):
            index += 1
            if not bad:
                yield record_spec(row)
                continue
            try:
                yield record_spec(row), line, index - 1
            except PointError as error:  # a value that is not a number
                yield BadRecord(line, error.message, index - 1)
