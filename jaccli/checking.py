"""`check`: jaccli's AD derivative against what the user expects, or against finite differences and SymPy.

Finite differences differentiate the next-lower AD derivative once (f for a
Jacobian, the AD Jacobian for a Hessian, ∇f along v for an HVP), by central
differences with one Richardson step: error O(h⁴) with h = 10⁻³·max(1, |xⱼ|).
All the shifted points go through one `jit(vmap(…))`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import derivatives, points
from .errors import PointError, ShapeError
from .evaluate import Request, Result, run

STEP = 1e-3
RTOL, ATOL = 1e-5, 1e-8


@dataclass
class Comparison:
    reference: str  # 'expected', 'finite differences', 'SymPy'
    expected: np.ndarray
    note: str = ""


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


def check(request: Request, *, expect: str | None, rtol: float = RTOL, atol: float = ATOL,
          stdin_text=None) -> list[Report]:
    """One Report per derivative checked: `request.command`, or orders 1…K of `derivative`."""
    orders = [request.order] if request.command != "derivative" or request.partial else \
        list(range(1, (request.order or 1) + 1))
    reports = []
    for order in orders:
        sub = Request(**{**request.__dict__, "order": order}) if request.command == "derivative" else request
        result = run(sub)
        comparisons, skipped = [], []
        if expect is not None:
            comparisons.append(Comparison("expected", read_expected(expect, result.value.shape, stdin_text)))
        else:
            reference = finite_differences(sub, result)
            if reference is not None:
                comparisons.append(Comparison("finite differences", reference))
            else:
                skipped.append("finite differences: nothing to difference for eval")
            try:
                comparisons.append(Comparison("SymPy", sympy_reference(sub, result)))
            except ShapeError as error:
                skipped.append(f"SymPy: {error.message}")
        reports.append(Report(result, comparisons, rtol, atol, skipped))
    return reports


def read_expected(text: str, shape: tuple, stdin_text=None) -> np.ndarray:
    """--expect: a file (.npy, .json with a "value" or an array, .csv/.txt numbers), '-', or a literal."""
    if text == "-":
        import sys

        raw = stdin_text if stdin_text is not None else sys.stdin.read()
        values = _parse_expected_text(raw)
    elif text.startswith("@") or Path(text).suffix.lower() in (".npy", ".json", ".csv", ".txt") and Path(text).exists():
        path = Path(text.removeprefix("@"))
        try:
            values = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else \
                _parse_expected_text(path.read_text())
        except (OSError, ValueError) as error:
            raise PointError(f"cannot read --expect {str(path)!r}: {error}") from None
    else:
        values = points.read_value(text, max_bytes=2**31, option="--expect")
    values = np.asarray(values, dtype=np.float64)
    if values.size != math.prod(shape):
        raise ShapeError(f"--expect has {values.size} numbers, but the result has {math.prod(shape)} (shape {shape})",
                         hint="give the entries in C order (row by row)")
    return values.reshape(shape)


def _parse_expected_text(raw: str) -> np.ndarray:
    stripped = raw.strip()
    if stripped.startswith(("[", "{")):
        document = json.loads(stripped.splitlines()[0] if stripped.startswith("{") else stripped)
        return np.asarray(document["value"] if isinstance(document, dict) else document, dtype=np.float64)
    numbers = []
    for line in stripped.splitlines():
        if line.lstrip().startswith("#"):
            continue
        fields = [f for f in line.replace(",", " ").split() if f]
        try:
            numbers.extend(float(f) for f in fields)
        except ValueError:
            if numbers:  # a header is only allowed first
                raise ValueError(f"not a number in {line[:40]!r}") from None
    return np.asarray(numbers, dtype=np.float64)


def finite_differences(request: Request, result: Result) -> np.ndarray | None:
    """The derivative by central differences (Richardson) of the next-lower AD derivative."""
    import jax
    import jax.numpy as jnp

    from .translate import build_function

    command = request.command
    if command == "eval":
        return None
    layout = result.layout
    dtype = jnp.float64
    f = build_function(result.expression, layout, dtype)
    point, held = layout.flatten(result.point)
    n = layout.z_size
    identity = np.eye(n)
    vector = np.asarray(result.vector, dtype=np.float64)  # the --v or --u that run() read
    if command in ("grad", "jacobian", "vjp"):
        base, directions = derivatives.evaluate(f), identity
    elif command == "hessian":
        base, directions = derivatives.jacobian(f, "rev"), identity
    elif command == "jvp":
        base, directions = derivatives.evaluate(f), vector[None, :]
    elif command == "hvp":
        base, directions = derivatives.grad(f), vector[None, :]
    elif request.partial:
        names = request.partial
        slots = {s.name: s for s in layout.wrt}
        lower = derivatives.mixed_partial(f, tuple(slots[x].offset for x in names[:-1])) if len(names) > 1 \
            else derivatives.evaluate(f)
        base, directions = lower, identity[[slots[names[-1]].offset]]
    else:
        order = request.order or 1
        base = derivatives.evaluate(f) if order == 1 else derivatives.nth_derivative(f, order - 1)
        directions = identity
    scale = np.maximum(1.0, np.abs(directions @ point) if n else 1.0) / np.maximum(
        np.abs(directions).max(axis=1), 1e-300)
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
    if command == "vjp":
        u = vector.reshape(result.out_shape)
        return np.tensordot(derivative, u, axes=u.ndim).reshape(result.value.shape)
    if k == 1 and command in ("jvp", "hvp", "derivative"):
        return derivative[0].reshape(result.value.shape)
    return np.moveaxis(derivative, 0, -1).reshape(result.value.shape)


def sympy_reference(request: Request, result: Result) -> np.ndarray:
    """The derivative from SymPy's symbolic one, evaluated at 30 digits."""
    from . import symbolic

    layout = result.layout
    command = request.command
    try:
        base = {"jvp": "jacobian", "vjp": "jacobian", "hvp": "hessian"}.get(command, command)
        value = symbolic.within(10, symbolic.symbolic_derivative, result.expression, layout, base,
                                order=request.order, partial=request.partial)
        _, symbols = symbolic.to_sympy(result.expression, layout.names)
        numbers = symbolic.within(10, symbolic.evaluate, value, symbols,
                                  [float(result.point[name]) for name in layout.names])
    except symbolic.SymbolicError as error:
        raise ShapeError(error.message) from None
    vector = np.asarray(result.vector, dtype=np.float64)  # the --v or --u that run() read
    if command == "jvp":
        return (numbers.reshape(-1, layout.z_size) @ vector).reshape(result.value.shape)
    if command == "vjp":
        return (vector @ numbers.reshape(vector.size, -1)).reshape(result.value.shape)
    if command == "hvp":
        return (numbers.reshape(layout.z_size, layout.z_size) @ vector).reshape(result.value.shape)
    return numbers.reshape(result.value.shape)


def summarize(report: Report) -> dict:
    """A report as plain data (for JSON, and for the table)."""
    result = report.result
    from .render import entry_namer, request_order

    name = entry_namer(result.command, result.out_shape, result.layout, request_order(result.request))
    got = result.value.reshape(-1)
    references = []
    for comparison in report.comparisons:
        want = comparison.expected.reshape(-1)
        error = np.abs(got - want)
        relative = error / np.maximum(np.abs(want), np.finfo(float).tiny)
        bad = report.mismatches(comparison)
        references.append({
            "reference": comparison.reference,
            "entries": int(got.size),
            "agree": int(got.size - len(bad)),
            "max_abs_error": float(np.nanmax(error)) if got.size else 0.0,
            "max_rel_error": float(np.nanmax(np.where(want != 0, relative, 0))) if got.size else 0.0,
            "mismatches": [{
                "index": [int(i) for i in np.unravel_index(k, result.value.shape)] if result.value.shape else [],
                "label": name(int(k)), "expected": float(want[k]), "got": float(got[k]),
                "abs_error": float(error[k]), "rel_error": float(relative[k]),
            } for k in bad[:1000]],
        })
    what = result.command if result.command != "derivative" else (
        f"derivative of order {result.request.order}" if not result.request.partial else
        "∂/" + "∂".join(result.request.partial))
    return {"command": "check", "of": what, "expr": result.expression.text, "variables": list(result.layout.names),
            "point": {k: np.asarray(v).tolist() for k, v in result.point.items()}, "shape": list(result.value.shape),
            "mode": result.mode, "dtype": result.dtype, "ok": report.ok, "rtol": report.rtol, "atol": report.atol,
            "references": references, "skipped": report.skipped}


def summary_line(data: dict) -> str:
    parts = [f"{r['agree']} of {r['entries']} agree with {r['reference']} (max error {r['max_abs_error']:.2g})"
             for r in data["references"]]
    verdict = "ok" if data["ok"] else "FAIL"
    text = f"{verdict}: {data['of']} of {data['expr']}: " + "; ".join(parts or ["no reference to compare with"])
    return text + f" [rtol {data['rtol']:g}, atol {data['atol']:g}]"


def check_points(request):
    """One request per point: --at @points.csv (or .npy, .jsonl) checks every row."""
    from dataclasses import replace

    from .batch import record_source
    from .records import BadRecord, RecordReader

    source = record_source(request.at, "--at")
    if source is None:
        yield request
        return
    for block in RecordReader(source).blocks():
        if isinstance(block, BadRecord):
            raise PointError(f"line {block.line}: {block.message}")
        rows = block.matrix if block.matrix is not None else block.rows
        for row in rows:
            if isinstance(row, dict):
                at = tuple(f"{k}={json.dumps(v)}" for k, v in row.items())
            else:
                at = (",".join(repr(float(x)) for x in row),)
            yield replace(request, at=at)
