"""Results → text for programs: JSON, CSV, plain (like numpy.savetxt) and .npy bytes.

Pure functions of a Result; the caller writes what they return. No JAX here.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .labels import entry_names


def number_text(x) -> str:
    """A number as Python writes it, exactly (shortest round-trip): 1.5, nan, 1.5+2j, -0.5-1e-300j."""
    if isinstance(x, complex) or np.iscomplexobj(x):
        return repr(complex(x)).strip("()")
    return repr(float(x))


def document(result, value, point) -> dict:
    """The JSON object of one result (README "Output": the JSON keys), with `value` and `point` already converted."""
    plan = result.plan
    data = {
        "command": result.request.command, "expr": plan.expression.text, "variables": list(plan.layout.names),
        "wrt": [s.name for s in plan.layout.wrt], "point": point, "shape": list(result.value.shape),
        "value": value, "mode": plan.mode, "dtype": plan.dtype_name, "device": result.device, "cache": result.cache,
    }
    if plan.block is not None:
        data["block"] = plan.block
    if result.function_value is not None:
        data["function_value"] = json_array(result.function_value)[0]  # nan as "nan", as every number
    return data


def to_json(result, head: dict | None = None, fields: tuple[str, ...] | None = None, *,
            compact: bool = False) -> tuple[str, bool]:
    """One JSON object; returns (text, whether a non-finite number was replaced).

    `head`: keys written first (`jaccli serve`'s id); `fields`: only these keys of the document, in this order;
    `compact`: written by orjson (no spaces) whatever the size, when every number is finite (`jaccli serve`).
    """
    point = {name: np.asarray(array) for name, array in result.point.items()}
    finite = np.isfinite(result.value).all() and all(np.isfinite(a).all() for a in point.values())
    if result.function_value is not None:
        finite = finite and math.isfinite(result.function_value)
    complex_ = result.value.dtype.kind == "c" or any(a.dtype.kind == "c" for a in point.values())
    if finite and not complex_ and (compact or result.value.size > 10_000):  # orjson writes the arrays natively, shortest round-trip
        import orjson

        value = np.ascontiguousarray(result.value, dtype=np.float64) if result.value.ndim else float(result.value)
        data = document(result, value, {name: a if a.ndim else float(a) for name, a in point.items()})
        try:
            return orjson.dumps(_selected(data, head, fields), option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n", \
                False
        except TypeError:  # an integer beyond 64 bits in `head`: the standard library writes it
            pass
    data = document(result, json_array(result.value)[0], {k: json_array(a)[0] for k, a in point.items()})
    separators = (",", ":") if compact else None
    return json.dumps(_selected(data, head, fields), allow_nan=False, separators=separators) + "\n", not finite


def _selected(data: dict, head: dict | None, fields: tuple[str, ...] | None) -> dict:
    if fields is not None:
        data = {name: data[name] for name in fields if name in data}
    return {**head, **data} if head else data


def json_array(array):
    """Nested lists of floats, with nan/inf/-inf as strings (RFC 8259 has no such numbers); a complex array
    as {"real": …, "imag": …}, two such nestings of one shape (SPEC §8)."""
    array = np.asarray(array)
    if array.dtype.kind == "c":
        (real, a), (imag, b) = json_array(array.real), json_array(array.imag)
        return {"real": real, "imag": imag}, a or b
    array = array.astype(np.float64, copy=False)
    if np.isfinite(array).all():
        return array.tolist(), False
    return _replace_nonfinite(array.astype(object)).tolist(), True


def _replace_nonfinite(array: np.ndarray) -> np.ndarray:
    for index, x in np.ndenumerate(array):
        if not math.isfinite(x):
            array[index] = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return array


def to_csv(result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with_value = result.function_value is not None
    writer.writerow((["f"] if with_value else []) + entry_names(result.plan))
    flat = result.value.reshape(-1)
    values = [number_text(x) for x in flat] if flat.dtype.kind == "c" else list(map(repr, flat.tolist()))
    writer.writerow(([repr(result.function_value)] if with_value else []) + values)
    return buffer.getvalue()


def to_plain(result, precision: int | None = None) -> str:
    """Like numpy.savetxt: one matrix row a line; more than 2-D, 2-D slices with a blank line between."""
    value = result.value
    number = _repr if precision is None else digits(precision)
    if result.function_value is not None:  # --with-value: f(x) on the first line, then ∇f
        return number(result.function_value) + "\n" + _plain_matrix(value, number)
    if value.ndim <= 2:
        return _plain_matrix(value, number)
    slices = value.reshape(-1, *value.shape[-2:])
    return "\n".join(_plain_matrix(s, number) for s in slices)


def _plain_matrix(value: np.ndarray, number) -> str:
    rows = value.reshape(-1, 1) if value.ndim < 2 else value
    if rows.size > 10_000 and number is _repr and rows.dtype.kind != "c":
        import polars as pl

        frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(rows.shape[1])], orient="row")
        return frame.write_csv(include_header=False, separator=" ")
    return "".join(" ".join(number(x) for x in row) + "\n" for row in rows)


def _repr(x) -> str:
    return number_text(x)


def digits(precision: int):
    """`precision` significant digits: 1.23, or 1.23+4.56j for a complex number."""
    def number(x) -> str:
        if np.iscomplexobj(x):
            return f"{x.real:.{precision}g}{x.imag:+.{precision}g}j"
        return f"{x:.{precision}g}"

    return number


def to_npy(result) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, result.value, allow_pickle=False)
    return buffer.getvalue()
