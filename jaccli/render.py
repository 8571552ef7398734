"""Results → text for people (rich tables) and programs (plain, JSON, CSV, .npy).

Renderers are pure: they take a Result and return str (or bytes for .npy); the
caller writes it. No JAX here.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .layout import Labels, output_labels

FORMATS = ("table", "plain", "json", "csv", "npy")
_SUBSCRIPT = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")

# What each command's result is made of: the axes of out_shape ('out') and of in_shape ('in').
_AXES = {
    "eval": ("out",), "jvp": ("out",), "derivative": ("out",),
    "grad": ("in",), "vjp": ("in",), "hvp": ("in",),
    "jacobian": ("out", "in"), "hessian": ("out", "in", "in"),
}
_TITLES = {
    "eval": "f", "derivative": "∂ᵏf", "grad": "∇f", "jacobian": "∂f/∂x", "hessian": "∂²f/∂x²",
    "jvp": "J·v", "vjp": "uᵀ·J", "hvp": "H·v",
}


def flat_labels(result) -> list[str]:
    """ASCII names of the result's entries in C order: df0/dx, d2f/dxdy, Hv_x[0] …"""
    return entry_names(result.command, result.out_shape, result.layout, request_order(result.request))


def request_order(request):
    """For `derivative`: the order of the tensor (int), or the mixed partial's names (tuple)."""
    if request.command != "derivative":
        return None
    return tuple(request.partial) if request.partial else (request.order or 1)


def entry_names(command: str, out_shape: tuple, layout, order=None) -> list[str]:
    name = entry_namer(command, out_shape, layout, order)
    n, m = layout.z_size, math.prod(out_shape)
    count = {"eval": m, "jvp": m, "grad": n, "vjp": n, "hvp": n, "jacobian": m * n, "hessian": m * n * n,
             "derivative": m * n ** order if isinstance(order, int) else m}[command]
    return [name(k) for k in range(count)]


def entry_namer(command: str, out_shape: tuple, layout, order=None):
    """flat index of a result ↦ its ASCII name: f0, df/dx, df0/dx, d2f/dxdy, Jv_f0, uJ_x, Hv_x[0]."""
    outs = output_labels(out_shape)
    ins = layout.in_labels()
    n = len(ins)

    def name(k: int) -> str:
        if command == "derivative":
            if not isinstance(order, int):  # one mixed partial: d3f/dxdxdy
                return f"d{len(order)}{outs[k]}/" + "".join(f"d{v}" for v in order)
            o, rest = divmod(k, n**order)
            axes = [rest // n ** (order - 1 - a) % n for a in range(order)]
            return f"d{order}{outs[o]}/" + "".join(f"d{ins[j]}" for j in axes)
        if command in ("eval", "jvp"):
            return outs[k] if command == "eval" else f"Jv_{outs[k]}"
        if command in ("grad", "vjp", "hvp"):
            return {"grad": "df/d", "vjp": "uJ_", "hvp": "Hv_"}[command] + ins[k]
        if command == "jacobian":
            o, i = divmod(k, n)
            return f"d{outs[o]}/d{ins[i]}"
        o, rest = divmod(k, n * n)
        i, j = divmod(rest, n)
        return f"d2{outs[o]}/d{ins[i]}d{ins[j]}"

    return name


# -- programs ---------------------------------------------------------------------
def to_json(result) -> tuple[str, bool]:
    """One JSON object (SPEC §4); returns (text, whether a non-finite number was replaced)."""
    point = {name: np.asarray(array, dtype=np.float64) for name, array in result.point.items()}
    finite = np.isfinite(result.value).all() and all(np.isfinite(a).all() for a in point.values())
    if finite and result.value.size > 10_000:  # large: orjson writes the arrays natively, shortest round-trip
        import orjson

        document = _document(result, np.ascontiguousarray(result.value, dtype=np.float64),
                             {name: a if a.ndim else float(a) for name, a in point.items()})
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n", False
    document = _document(result, json_array(result.value)[0], {k: json_array(a)[0] for k, a in point.items()})
    return json.dumps(document, allow_nan=False) + "\n", not finite


def _document(result, value, point) -> dict:
    return {
        "command": result.command, "expr": result.expression.text, "variables": list(result.layout.names),
        "wrt": [s.name for s in result.layout.wrt], "point": point, "shape": list(result.value.shape),
        "value": value, "mode": result.mode, "dtype": result.dtype, "device": result.device, **result.extra,
    }


def json_array(array: np.ndarray):
    """Nested lists of floats, with nan/inf/-inf as strings (RFC 8259 has no such numbers)."""
    array = np.asarray(array, dtype=np.float64)
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
    with_value = "function_value" in result.extra
    writer.writerow((["f"] if with_value else []) + flat_labels(result))
    values = [repr(float(x)) for x in result.value.reshape(-1)]
    writer.writerow(([repr(result.extra["function_value"])] if with_value else []) + values)
    return buffer.getvalue()


def to_plain(result, precision: int | None = None) -> str:
    """Like numpy.savetxt: one matrix row a line; more than 2-D, 2-D slices with a blank line between."""
    value = result.value
    number = _repr if precision is None else (lambda x: f"{x:.{precision}g}")
    if "function_value" in result.extra:  # --with-value: f(x) on the first line, then ∇f
        return number(result.extra["function_value"]) + "\n" + _plain_matrix(value, number)
    if value.ndim <= 2:
        return _plain_matrix(value, number)
    slices = value.reshape(-1, *value.shape[-2:])
    return "\n".join(_plain_matrix(s, number) for s in slices)


def _plain_matrix(value: np.ndarray, number) -> str:
    rows = value.reshape(-1, 1) if value.ndim < 2 else value
    if rows.size > 10_000 and number is _repr:
        import polars as pl

        frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(rows.shape[1])], orient="row")
        return frame.write_csv(include_header=False, separator=" ")
    return "".join(" ".join(number(x) for x in row) + "\n" for row in rows)


def _repr(x) -> str:
    return repr(float(x))


def to_npy(result) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, result.value, allow_pickle=False)
    return buffer.getvalue()


# -- people -----------------------------------------------------------------------
MAX_ROWS, MAX_COLUMNS = 24, 10


def to_table(result, console, *, precision: int | None = None, full: bool = False) -> None:
    """Print rich tables: labelled rows and columns; shape, mode and dtype in the caption line."""
    from rich.table import Table
    from rich.text import Text  # labels hold [brackets]: plain Text, never markup

    number = table_number(precision)
    matrices = _as_matrices(result)
    title = f"{_TITLES[result.command]} of {_short(str(result.expression))} at {_point_text(result.point)}"
    console.print(Text(title, style="bold"))
    summarized = False
    for name, rows, columns, matrix in matrices:
        shown_rows = _shown(len(rows), MAX_ROWS, full)
        label_width = max(len(name), *(len(rows[i]) for i in shown_rows if i is not None))
        cell_width = max(len(c) for c in list(columns[:3]) + list(columns[-3:]))
        cell_width = max(cell_width, *(len(number(x)) for x in matrix[:3, :3].reshape(-1)),
                         *(len(number(x)) for x in matrix[-3:, -3:].reshape(-1)))
        fit = max(2, (console.width - label_width - 4) // (cell_width + 3))
        shown_columns = _shown(len(columns), min(MAX_COLUMNS, fit), full)
        summarized |= None in shown_rows or None in shown_columns
        table = Table()
        table.add_column(Text(name), style="bold", no_wrap=True)
        for j in shown_columns:
            table.add_column(Text("…" if j is None else columns[j]), justify="right", no_wrap=True)
        for i in shown_rows:
            if i is None:
                table.add_row("⋮", *["⋮" for _ in shown_columns])
                continue
            cells = [Text("…" if j is None else number(matrix[i, j])) for j in shown_columns]
            table.add_row(Text(rows[i]), *cells)
        console.print(table)
    caption = f"shape {tuple(result.value.shape)} · mode {result.mode} · {result.dtype} · {result.device}"
    if summarized:
        caption += " · summarized: --full shows every entry"
    console.print(Text(caption, style="dim"))
    if "function_value" in result.extra:
        console.print(Text(f"f = {number(result.extra['function_value'])}"))
    out_shape = result.out_shape
    slices = (math.prod(out_shape) if result.command == "hessian" and out_shape else
              out_shape[0] if result.command == "jacobian" and len(out_shape) >= 2 else len(matrices))
    if summarized or len(matrices) < slices:  # entries or whole slices left out: say what the rest holds
        console.print(Text(summary(result), style="dim"))


def _as_matrices(result):
    """The result as (corner label, row labels, column labels, 2-D matrix) pieces."""
    value = result.value
    axes = _AXES[result.command]
    outs = _pretty_outputs(result.out_shape)
    ins = result.layout.in_labels()
    command = result.command
    in_shape = result.layout.in_shape
    order = request_order(result.request)
    if command == "derivative" and isinstance(order, int):
        n = max(len(ins), 1)

        def row(i: int) -> str:  # the output and the first order-1 axes of the entry
            o, rest = divmod(i, n ** (order - 1))
            axes = [rest // n ** (order - 2 - a) % n for a in range(order - 1)]
            return f"∂{order}{outs[o]}/" + "".join(f"∂{ins[j]}" for j in axes)

        return [(f"∂{order}f", Labels(value.size // n, row), _prefixed("∂", ins), value.reshape(-1, n))]
    if command == "derivative":
        return [(f"∂{len(order)}f/" + "".join(f"∂{v}" for v in order), outs, ["value"], value.reshape(-1, 1))]
    if axes == ("out",):
        name = "J·v" if command == "jvp" else "f"
        return [_vector_or_matrix(value, result.out_shape, outs, name)]
    if axes == ("in",):
        prefix = {"grad": "∂f/∂", "vjp": "uᵀJ ", "hvp": "Hv "}[command]
        if len(in_shape) == 2:
            return [_vector_or_matrix(value, in_shape, ins, prefix + result.layout.wrt[0].name)]
        return [(_TITLES[command], _prefixed(prefix, ins), ["value"], value.reshape(-1, 1))]
    n_in = len(ins)
    if command == "jacobian" and len(result.out_shape) >= 2:  # a matrix output: one slice per leading index
        rows_per = math.prod(result.out_shape[1:])
        slices = value.reshape(-1, rows_per, n_in)
        return [(f"∂f[{k},…]", Labels(rows_per, lambda i, k=k: "∂" + outs[k * rows_per + i]), _prefixed("∂", ins),
                 slices[k]) for k in _shown(len(slices), 6, False) if k is not None]
    if command == "jacobian":
        return [("∂fᵢ/∂xⱼ", _prefixed("∂", outs), _prefixed("∂", ins), value.reshape(-1, n_in))]
    cube = value.reshape(-1, n_in, n_in)
    corner = "∂²f/∂xᵢ∂xⱼ" if not result.out_shape else None
    shown = _shown(len(outs), 6, False)  # slices of a vector function's Hessian: the first and last few
    return [(corner or f"∂²{outs[k]}", _prefixed("∂", ins), _prefixed("∂", ins), cube[k])
            for k in shown if k is not None]


def _prefixed(prefix: str, labels) -> Labels:
    return Labels(len(labels), lambda i: prefix + labels[i])


def summary(result) -> str:
    """Norms and extreme entries of a large result, with the labels of where they are."""
    flat = result.value.reshape(-1)
    finite = np.isfinite(flat)
    if not finite.any():
        return "no finite entries"
    values = np.where(finite, flat, 0.0)
    largest, smallest = int(np.argmax(np.where(finite, flat, -np.inf))), int(np.argmin(np.where(finite, flat, np.inf)))
    return (f"‖·‖ = {np.linalg.norm(values):.6g} · max {flat[largest]:.6g} at {entry_name(result, largest)} · "
            f"min {flat[smallest]:.6g} at {entry_name(result, smallest)}"
            + ("" if finite.all() else f" · {int((~finite).sum())} non-finite"))


def entry_name(result, flat_index: int) -> str:
    return entry_namer(result.command, result.out_shape, result.layout, request_order(result.request))(flat_index)


def _vector_or_matrix(value, shape, labels, name):
    if len(shape) == 2:
        rows = [f"[{i},:]" for i in range(shape[0])]
        columns = [f"[:,{j}]" for j in range(shape[1])]
        return (name, rows, columns, value.reshape(shape))
    return (name, labels, ["value"], value.reshape(-1, 1))


def _pretty_outputs(out_shape):
    if len(out_shape) == 1:
        return Labels(out_shape[0], lambda i: f"f{str(i).translate(_SUBSCRIPT)}")
    return output_labels(out_shape)


def _shown(count: int, limit: int, full: bool) -> list[int | None]:
    """Indices to show: all of them, or the first and last few with None for the gap."""
    if full or count <= limit:
        return list(range(count))
    head = limit // 2
    return [*range(head), None, *range(count - (limit - head - 1), count)]


def table_number(precision: int | None):
    digits = 10 if precision is None else precision

    def number(x) -> str:
        x = float(x)
        if x == 0:
            return "0"
        return f"{x:.{digits}g}"

    return number


def _point_text(point: dict) -> str:
    parts = []
    for name, value in point.items():
        value = np.asarray(value)
        if value.ndim == 0:
            parts.append(f"{name}={float(value):.6g}")
        elif value.size <= 4:
            parts.append(f"{name}=[{', '.join(f'{float(v):.4g}' for v in value.reshape(-1))}]")
        else:
            parts.append(f"{name}=<{'×'.join(map(str, value.shape))} array>")
    text = ", ".join(parts)
    return _short(text) if text else "(no variables)"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
