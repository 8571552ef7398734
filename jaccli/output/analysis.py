"""`analyze` results → a table for people, `key value` lines for shells, JSON for programs (SPEC §11's keys).

Pure functions of an Analysis (compute/analyze.py); the caller writes what they return.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .formats import json_array

SHOWN = 6  # entries of a gradient or a spectrum listed in a table; more are summarized


def document(analysis, index: int | None = None) -> tuple[dict, bool]:
    """The JSON object of one analysis, and whether a non-finite number became a string."""
    plan = analysis.plan
    lost = False

    def number(x):  # nan/inf as strings, as every number jaccli writes
        nonlocal lost
        value, replaced = json_array(x)
        lost |= replaced
        return value

    data = {"command": "analyze", "expr": plan.expression.text, "variables": list(plan.layout.names),
            "wrt": [s.name for s in plan.layout.wrt],
            "point": {name: number(np.asarray(a, dtype=np.float64)) for name, a in analysis.point.items()},
            "value": number(analysis.value)}
    if analysis.scalar:
        data.update(gradient=number(analysis.gradient), gradient_norm=number(analysis.gradient_norm))
        if analysis.eigenvalues is not None:
            data["eigenvalues"] = number(analysis.eigenvalues)
        else:
            data["extreme_eigenvalues"] = number(list(analysis.extreme_eigenvalues))
    else:
        data.update(singular_values=number(analysis.singular_values), rank=analysis.rank)
    data["condition_number"] = _condition(analysis.condition_number)  # inf: a singular matrix, not a warning
    if analysis.scalar:
        data.update(definiteness=analysis.definiteness, verdict=analysis.verdict)
    data["tolerance"] = analysis.tolerance
    if analysis.scalar:
        data["gradient_tolerance"] = analysis.gradient_tolerance
        if analysis.trace is not None:
            data.update(trace=number(analysis.trace), trace_stderr=number(analysis.trace_stderr),
                        probes=analysis.probes)
        data["method"] = analysis.method
        if analysis.hvps is not None:
            data["hvps"] = analysis.hvps
        if analysis.hvps is not None or analysis.trace is not None:
            data["seed"] = analysis.seed if analysis.seed is not None else 0
    data.update(dtype=analysis.dtype, device=analysis.device)
    if index is not None:
        data["index"] = index
    return data, lost


def _condition(value: float | None):
    if value is None:
        return None  # not known: Lanczos on an indefinite Hessian
    return value if math.isfinite(value) else "inf"


def to_json(analysis, index: int | None = None) -> tuple[str, bool]:
    data, lost = document(analysis, index)
    return json.dumps(data, allow_nan=False) + "\n", lost


def to_plain(analysis, precision: int | None = None) -> str:
    """One `key value…` line per JSON key (lists space-separated, an unknown condition number left out)."""
    data, _ = document(analysis)
    number = repr if precision is None else (lambda x: f"{x:.{precision}g}")

    def text(value) -> str:
        if isinstance(value, list):
            return " ".join(text(v) for v in np.asarray(value, dtype=object).reshape(-1))
        if isinstance(value, float):
            return number(value)
        return str(value)

    skip = {"command", "expr", "variables", "wrt", "point"}
    return "".join(f"{key} {text(value)}\n" for key, value in data.items() if key not in skip and value is not None)


def to_table(analysis, console, *, precision: int | None = None) -> None:
    """The quantities with their labels, the verdict in bold, and how the tolerances were chosen below."""
    from rich.table import Table
    from rich.text import Text

    from .tables import CAPTION, LABEL, TITLE, _box, _point_text, _short, table_number

    number = table_number(precision)
    plan = analysis.plan
    named = plan.request.expr if plan.request.expr.startswith("@") else str(plan.expression)
    console.print(Text(f"analysis of {_short(named)} at {_point_text(analysis.point)}", style=TITLE))
    table = Table(box=_box(console), show_header=False)
    table.add_column(style=LABEL, no_wrap=True)
    table.add_column()
    for label, value, style in _rows(analysis, number):
        table.add_row(Text(label), Text(value, style=style))
    console.print(table)
    console.print(Text(" · ".join(_caption(analysis)), style=CAPTION))


def _rows(analysis, number):
    """(label, value, style) rows of the table."""
    labels = analysis.plan.layout.in_labels()
    n = len(labels)
    if not analysis.scalar:
        value = np.asarray(analysis.value).reshape(-1)
        yield "f", _listed(value, number), ""
        yield "singular values of J", _listed(analysis.singular_values, number), ""
        yield "rank", f"{analysis.rank} of {min(value.size, n)}", "bold"
        yield "condition number", number(analysis.condition_number), ""
        return
    yield "f", number(analysis.value), ""
    gradient = analysis.gradient.reshape(-1)
    if n <= SHOWN:
        for i in range(n):
            yield f"∂f/∂{labels[i]}", number(gradient[i]), ""
    yield "‖∇f‖", number(analysis.gradient_norm), ""
    if analysis.eigenvalues is not None:
        yield "eigenvalues of H", _listed(analysis.eigenvalues, number), ""
    else:
        yield "smallest eigenvalue", number(analysis.extreme_eigenvalues[0]), ""
        yield "largest eigenvalue", number(analysis.extreme_eigenvalues[1]), ""
    condition = analysis.condition_number
    yield "condition number", "not known (indefinite)" if condition is None else number(condition), ""
    if analysis.trace is not None:
        yield "trace of H", f"{number(analysis.trace)} ± {number(analysis.trace_stderr)}", ""
    yield "definiteness", analysis.definiteness, ""
    yield "verdict", analysis.verdict, "bold"


def _listed(values, number) -> str:
    """The values, comma-separated; more than SHOWN: the first and last three, and how many."""
    values = np.asarray(values).reshape(-1)
    if values.size <= SHOWN:
        return ", ".join(number(x) for x in values)
    ends = [number(x) for x in values[:3]] + ["…"] + [number(x) for x in values[-3:]]
    return ", ".join(ends) + f" ({values.size:,})"


def _caption(analysis) -> list[str]:
    parts = [f"n = {analysis.plan.layout.z_size:,}"]
    if not analysis.scalar:
        m = math.prod(analysis.plan.out_shape)
        parts.append(f"J is {m}×{analysis.plan.layout.z_size}")
        parts.append(f"zero: σ ≤ {analysis.tolerance:.3g} ({analysis.rule})")
    else:
        if analysis.method == "lanczos":
            parts.append(f"extreme eigenvalues by Lanczos ({analysis.hvps:,} H·v products)")
        else:
            parts.append("every eigenvalue (eigvalsh)")
        parts.append(f"zero: |λ| ≤ {analysis.tolerance:.3g} ({analysis.rule})")
        parts.append(f"critical: ‖∇f‖ ≤ {analysis.gradient_tolerance:.3g} ({analysis.gradient_rule})")
        if analysis.trace is not None:
            parts.append(f"trace: Hutchinson, {analysis.probes} probes, seed {analysis.seed}")
    parts += [analysis.dtype, analysis.device]
    return parts
