"""Sparse results → bytes and tables (SPEC §9): .npz, Matrix Market, JSON COO, CSV and plain triplets, a table
of labelled nonzeros. Pure functions of a SparseResult.

Entries are 0-based, in row-major order (the CSR order). JSON:

    {"command": "hessian", …, "format": "coo", "shape": [3, 3], "nnz": 7, "row": […], "col": […],
     "data": […], "colors": 3, "coloring": "symmetric", "mode": "fwd-rev", …}
"""

from __future__ import annotations

import io

import numpy as np

from ..inputs.layout import output_labels
from .formats import json_array

SPARSE_FORMATS = ("npz", "mtx")  # formats only a sparse result has


def entries(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, value) of each nonzero, row-major."""
    matrix = result.matrix
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return rows, matrix.indices.astype(np.int64), np.asarray(matrix.data, np.float64)


def document(result, index: int | None = None, head: dict | None = None) -> tuple[dict, bool]:
    """The JSON object of one sparse result, and whether a non-finite number became a string."""
    plan = result.plan
    rows, cols, data = entries(result)
    finite = bool(np.isfinite(data).all())
    values = data if finite else json_array(data)[0]
    point = {name: json_array(np.asarray(a, np.float64))[0] for name, a in result.point.items()}
    doc = {"command": result.request.command, "expr": plan.expression.text, "variables": list(plan.layout.names),
           "wrt": [s.name for s in plan.layout.wrt], "point": point, "format": "coo",
           "shape": list(result.matrix.shape), "nnz": int(result.matrix.nnz), "row": rows, "col": cols,
           "data": values, "colors": result.colours, "coloring": result.scheme.colouring.kind,
           "mode": plan.mode, "dtype": plan.dtype.name, "device": result.device, "cache": result.cache}
    if index is not None:
        doc = {"index": index, **doc}
    return {**(head or {}), **doc}, not finite


def to_json(result, index: int | None = None, head: dict | None = None) -> tuple[str, bool]:
    """One JSON line (orjson writes the arrays natively); returns (text, whether non-finite numbers were replaced).
    `head`: keys written first (`jaccli serve`'s id)."""
    import orjson

    doc, replaced = document(result, index, head)
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n", replaced


def to_csv(result) -> str:
    """`row,col,value` and one line a nonzero."""
    rows, cols, data = entries(result)
    return "row,col,value\n" + "".join(f"{i},{j},{v!r}\n" for i, j, v in zip(rows.tolist(), cols.tolist(),
                                                                                 data.tolist()))


def to_plain(result, precision: int | None = None) -> str:
    """`row col value` a line, as a Matrix Market body but 0-based."""
    rows, cols, data = entries(result)
    number = repr if precision is None else (lambda x: f"{x:.{precision}g}")
    return "".join(f"{i} {j} {number(v)}\n" for i, j, v in zip(rows.tolist(), cols.tolist(), data.tolist()))


def write_npz(result, file) -> None:
    """What scipy.sparse.save_npz writes of a csr_matrix (uncompressed), into an open binary file: each array
    written from its own memory (np.savez copies it in 16 MB pieces first; tens of MB at 10⁶ rows)."""
    import zipfile

    from numpy.lib import format as npy

    matrix = result.matrix
    arrays = {"indices": matrix.indices, "indptr": matrix.indptr, "format": np.array(b"csr"),
              "shape": np.array(matrix.shape), "data": matrix.data}
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            header = npy.header_data_from_array_1_0(array)
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                (npy.write_array_header_2_0 if array.nbytes >= 2**32 else npy.write_array_header_1_0)(member, header)
                member.write(memoryview(array.reshape(-1)).cast("B") if array.flags.c_contiguous else array.tobytes())


def to_npz(result) -> bytes:
    buffer = io.BytesIO()
    write_npz(result, buffer)
    return buffer.getvalue()


def to_mtx(result) -> bytes:
    """Matrix Market coordinate; a Hessian is written `symmetric` (its lower triangle)."""
    import scipy.io
    import scipy.sparse as sp

    buffer = io.BytesIO()
    hessian = result.command.name == "hessian"
    matrix = sp.tril(result.matrix, format="coo") if hessian else result.matrix.tocoo()
    comment = f" jaccli {result.request.command} of {result.plan.expression.text[:200]}".replace("\n", " ")
    scipy.io.mmwrite(buffer, matrix, comment=comment, symmetry="symmetric" if hessian else "general")
    return buffer.getvalue()


def entry_label(result):
    """flat (row, col) ↦ a label: ∂f₀/∂x[3] for a Jacobian, ∂²f/∂x[0]∂x[1] for a Hessian."""
    ins = result.layout.in_labels()
    if result.command.name == "hessian":
        return lambda i, j: f"∂²f/∂{ins[i]}∂{ins[j]}"
    outs = output_labels(result.out_shape)
    return lambda i, j: f"∂{outs[i]}/∂{ins[j]}"


def caption(result) -> str:
    m, n = result.matrix.shape
    density = result.matrix.nnz / (m * n) if m * n else 0.0
    return (f"sparse {m}×{n} · {result.matrix.nnz:,} nonzeros ({density:.3g} dense) · {result.colours} colours "
            f"({result.scheme.colouring.kind}) · mode {result.mode} · {result.dtype} · {result.device}")


def to_table(result, console, *, precision: int | None = None, full: bool = False, limit: int = 24) -> None:
    """The nonzeros as labelled rows (the first and last few unless `full`), the caption below."""
    from rich.table import Table
    from rich.text import Text

    from .tables import HEADER, LABEL, TITLE, _box, _point_text, _short, table_number

    number = table_number(precision)
    rows, cols, data = entries(result)
    console.print(Text(f"{result.command.title} of {_short(str(result.expression))} at "
                       f"{_point_text(result.point)}", style=TITLE))
    label = entry_label(result)
    table = Table(box=_box(console), header_style=HEADER)
    for heading, justify in (("row", "right"), ("col", "right"), ("entry", "left"), ("value", "right")):
        table.add_column(heading, justify=justify, style=LABEL if heading == "entry" else None, no_wrap=True)
    count = len(data)
    shown = range(count) if full or count <= limit else [*range(limit // 2), None,
                                                          *range(count - (limit - limit // 2 - 1), count)]
    for k in shown:
        if k is None:
            table.add_row("⋮", "⋮", "⋮", "⋮")
            continue
        i, j = int(rows[k]), int(cols[k])
        table.add_row(str(i), str(j), Text(label(i, j)), number(data[k]))
    console.print(table)
    console.print(Text(caption(result) + ("" if full or count <= limit else " · --full shows every nonzero"),
                       style="dim"))
