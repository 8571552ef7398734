"""`check`'s reports as plain data (the JSON objects, the table's rows) and one summary line each."""

from __future__ import annotations

import numpy as np

from .labels import entry_namer


def summarize(report) -> dict:
    """A check.Report as plain data (for JSON, and for the table)."""
    result = report.result
    name = entry_namer(result.plan)
    got = result.value.reshape(-1)
    references = []
    for comparison in report.comparisons:
        want = comparison.expected.reshape(-1)
        error = np.abs(got - want)
        relative = error / np.maximum(np.abs(want), np.finfo(float).tiny)
        bad = report.mismatches(comparison)
        unsettled = comparison.inconclusive if comparison.inconclusive is not None else np.zeros(0, int)
        missing = int(comparison.missing.sum()) if comparison.missing is not None else 0
        references.append({
            "reference": comparison.reference,
            "entries": int(got.size),
            "agree": int(got.size - len(bad) - len(unsettled) - missing),
            "inconclusive": int(len(unsettled)),
            "no_reference": missing,
            "max_abs_error": float(np.nanmax(error)) if got.size else 0.0,
            "max_rel_error": float(np.nanmax(np.where(want != 0, relative, 0))) if got.size else 0.0,
            "mismatches": [{
                "index": [int(i) for i in np.unravel_index(k, result.value.shape)] if result.value.shape else [],
                "label": name(int(k)), "expected": _number(want[k]), "got": _number(got[k]),
                "abs_error": float(error[k]), "rel_error": float(relative[k]),
            } for k in bad[:1000]],
        })
    order = result.plan.order
    what = result.command.name if order is None else (
        f"derivative of order {order}" if isinstance(order, int) else "∂/" + "".join(f"∂{v}" for v in order))
    source = result.plan.request.expr
    return {"command": "check", "of": what, "expr": result.expression.text,
            **({"file": source[1:]} if source.startswith("@") else {}), "variables": list(result.layout.names),
            "point": {k: _point(v) for k, v in result.point.items()}, "shape": list(result.value.shape),
            "mode": result.mode, "dtype": result.dtype, "ok": report.ok, "rtol": report.rtol, "atol": report.atol,
            "references": references, "skipped": report.skipped}


def _point(value):
    value = np.asarray(value)
    return {"real": value.real.tolist(), "imag": value.imag.tolist()} if value.dtype.kind == "c" else value.tolist()


def _number(x):
    """A number for the report: a float, or {"real": …, "imag": …} (the JSON of complex values)."""
    if np.iscomplexobj(x):
        return {"real": float(np.real(x)), "imag": float(np.imag(x))}
    return float(x)


def summary_line(data: dict) -> str:
    parts = []
    for r in data["references"]:
        part = f"{r['agree']} of {r['entries']} agree with {r['reference']} (max error {r['max_abs_error']:.2g})"
        if r.get("no_reference"):
            part += f", {r['no_reference']} without a reference value"
        if r.get("inconclusive"):
            part += (f", {r['inconclusive']} inconclusive (the differences did not converge, "
                     "or SymPy's exact value agrees with AD)")
        parts.append(part)
    verdict = "ok" if data["ok"] else "FAIL"
    shown = f"@{data['file']}" if "file" in data else data["expr"]
    text = f"{verdict}: {data['of']} of {shown}: " + "; ".join(parts or ["no reference to compare with"])
    return text + f" [rtol {data['rtol']:g}, atol {data['atol']:g}]"
