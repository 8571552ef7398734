"""Results, check reports and descriptions → rich tables for people.

Each function prints to the console it is given (a terminal's, a file's, or
`Console(record=True)` in tests) and touches nothing else. Labels hold
[brackets]: they are plain `Text`, never markup.
"""

from __future__ import annotations

import math

import numpy as np

from ..inputs.layout import Labels, output_labels
from .formats import digits
from .labels import entry_namer

MAX_ROWS = 24
_SUBSCRIPT = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")


# the theme: a few styles, dropped altogether under NO_COLOR or off a terminal
TITLE, LABEL, HEADER, CAPTION = "bold", "bold cyan", "bold", "dim"


def to_table(result, console, *, precision: int | None = None, full: bool = False) -> None:
    """Labelled rows and columns within the console's width; shape, mode and dtype in the caption line.

    A column is never narrower than its numbers: when the columns don't fit, fewer are
    shown, with `…` for the rest, keeping the one holding the largest entry; `--full`
    that cannot fit says so and prints plain labelled rows instead.
    """
    from rich.text import Text

    number = table_number(precision)
    plan = result.plan
    matrices = _as_matrices(result)
    named = plan.request.expr if plan.request.expr.startswith("@") else str(plan.expression)  # a model file: its name
    title = f"{plan.command.title} of {_short(named)} at {_point_text(result.point)}"
    console.print(Text(title, style=TITLE))
    summarized = False
    for name, rows, columns, matrix in matrices:
        summarized |= _print_matrix(console, name, rows, columns, matrix, number, full)
    caption = f"shape {tuple(result.value.shape)} · mode {plan.mode} · {plan.dtype_name} · {result.device}"
    if summarized:
        caption += " · summarized: --full shows every entry"
    console.print(Text(caption, style=CAPTION))
    if result.function_value is not None:
        console.print(Text(f"f = {number(result.function_value)}"))
    out_shape = plan.result_shapes[0]
    slices = (math.prod(out_shape) if plan.axes == ("out", "in", "in") and out_shape else
              out_shape[0] if plan.axes == ("out", "in") and len(out_shape) >= 2 else len(matrices))
    if summarized or len(matrices) < slices:  # entries or whole slices left out: say what the rest holds
        console.print(Text(summary(result), style=CAPTION))


def _print_matrix(console, name, rows, columns, matrix, number, full: bool) -> bool:
    """One labelled matrix as a table that fits; True when entries were left out."""
    from rich.table import Table
    from rich.text import Text

    magnitude = np.where(np.isfinite(matrix), np.abs(matrix), -1.0)
    peak_row, peak_column = np.unravel_index(int(np.argmax(magnitude)), matrix.shape) if matrix.size else (0, 0)
    shown_rows = _shown(len(rows), MAX_ROWS, full, keep=int(peak_row))
    picked = [i for i in shown_rows if i is not None]
    label_width = max(len(name), *(len(rows[i]) for i in picked))
    width = [max(len(columns[j]), *(len(number(matrix[i, j])) for i in picked)) for j in range(len(columns))]
    room = console.width - (label_width + 3) - 1  # what the label column and the borders leave
    shown_columns = _fit_columns(width, room, int(peak_column), full)
    if shown_columns is None:  # --full and too wide: plain rows, every digit
        console.print(Text(f"{name}: {len(columns)} columns do not fit in {console.width} characters; "
                           "one row a line:", style=CAPTION))
        for i in range(len(rows)):
            console.print(Text(f"{rows[i]}: " + " ".join(number(x) for x in matrix[i])), soft_wrap=True)
        return False
    table = Table(box=_box(console), header_style=HEADER)
    table.add_column(Text(name), style=LABEL, no_wrap=True, min_width=label_width)
    for j in shown_columns:
        table.add_column(Text("…" if j is None else columns[j]), justify="right", no_wrap=True,
                         min_width=1 if j is None else width[j])
    for i in shown_rows:
        if i is None:
            table.add_row("⋮", *["⋮" for _ in shown_columns])
            continue
        table.add_row(Text(rows[i]), *[Text("…" if j is None else number(matrix[i, j])) for j in shown_columns])
    console.print(table)
    return None in shown_rows or None in shown_columns


def _fit_columns(width: list[int], room: int, keep: int, full: bool) -> list[int | None] | None:
    """The columns to show in `room` characters (None marks left-out ones), keeping column `keep`.

    All of them when they fit; else the kept column, then the first and last ones
    alternately, as many as fit. With `full`: all of them, or None when they don't fit.
    """
    cost = [w + 3 for w in width]  # a cell's padding and its border
    if sum(cost) <= room:
        return list(range(len(width)))
    if full:
        return None
    order = [keep] + [j for pair in zip(range(len(width)), reversed(range(len(width)))) for j in pair]
    chosen: list[int] = []
    for j in dict.fromkeys(order):
        trial = sorted(chosen + [j])
        gaps = sum(1 for a, b in zip([-1] + trial, trial + [len(width)]) if b - a > 1)
        if sum(cost[i] for i in trial) + 4 * gaps > room:
            if len(chosen) >= 1:
                break
        chosen = trial
    shown: list[int | None] = []
    for j in chosen:
        if (shown and shown[-1] is not None and j - shown[-1] > 1) or (not shown and j > 0):
            shown.append(None)
        shown.append(j)
    if chosen[-1] < len(width) - 1:
        shown.append(None)
    return shown


def _box(console):
    """Box drawing, or ASCII for a terminal that can't show it (TERM=dumb)."""
    from rich import box

    return box.ASCII if getattr(console, "jaccli_ascii", False) else box.HEAVY_HEAD


def _as_matrices(result):
    """The result as (corner label, row labels, column labels, 2-D matrix) pieces."""
    plan = result.plan
    value, axes, command = result.value, plan.axes, plan.command
    out_shape, in_shape = plan.result_shapes  # the real map's when complex sides stand as [Re, Im]
    outs = plan.out_labels(_pretty_outputs(plan.out_shape))
    ins = plan.in_labels()
    order = plan.order
    if isinstance(order, tuple):  # one mixed partial
        return [(f"∂{len(order)}f/" + "".join(f"∂{v}" for v in order), outs, ["value"], value.reshape(-1, 1))]
    if isinstance(order, int):  # the derivative tensor: rows are the output and the first order-1 axes
        n = max(len(ins), 1)

        def row(i: int) -> str:
            o, rest = divmod(i, n ** (order - 1))
            along = [rest // n ** (order - 2 - a) % n for a in range(order - 1)]
            return f"∂{order}{outs[o]}/" + "".join(f"∂{ins[j]}" for j in along)

        return [(f"∂{order}f", Labels(value.size // n, row), _prefixed("∂", ins), value.reshape(-1, n))]
    if axes == ("out",):
        return [_vector_or_matrix(value, out_shape, outs, command.title)]
    if axes == ("in",) or (axes == ("out", "in") and command.scalar_only):
        prefix = command.table_prefix
        if len(in_shape) == 2:
            return [_vector_or_matrix(value, in_shape, ins, prefix + plan.layout.wrt[0].name)]
        return [(command.title, _prefixed(prefix, ins), ["value"], value.reshape(-1, 1))]
    n_in = len(ins)
    if axes == ("out", "in") and len(out_shape) >= 2:  # a matrix output: one slice per leading index
        rows_per = math.prod(out_shape[1:])
        slices = value.reshape(-1, rows_per, n_in)
        return [(f"∂f[{k},…]", Labels(rows_per, lambda i, k=k: "∂" + outs[k * rows_per + i]), _prefixed("∂", ins),
                 slices[k]) for k in _shown(len(slices), 6, False) if k is not None]
    if axes == ("out", "in"):
        return [("∂fᵢ/∂xⱼ", _prefixed("∂", outs), _prefixed("∂", ins), value.reshape(-1, n_in))]
    cube = value.reshape(-1, n_in, n_in)
    corner = "∂²f/∂xᵢ∂xⱼ" if not out_shape else None
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
    name = entry_namer(result.plan)
    if flat.dtype.kind == "c":  # complex numbers have no order: the largest and smallest in modulus
        size = np.where(finite, np.abs(flat), np.nan)
        largest, smallest = int(np.nanargmax(size)), int(np.nanargmin(size))
        return (f"‖·‖ = {np.linalg.norm(values):.6g} · max |·| {size[largest]:.6g} at {name(largest)} · "
                f"min |·| {size[smallest]:.6g} at {name(smallest)}"
                + ("" if finite.all() else f" · {int((~finite).sum())} non-finite"))
    largest, smallest = int(np.argmax(np.where(finite, flat, -np.inf))), int(np.argmin(np.where(finite, flat, np.inf)))
    return (f"‖·‖ = {np.linalg.norm(values):.6g} · max {flat[largest]:.6g} at {name(largest)} · "
            f"min {flat[smallest]:.6g} at {name(smallest)}"
            + ("" if finite.all() else f" · {int((~finite).sum())} non-finite"))


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


def _shown(count: int, limit: int, full: bool, keep: int | None = None) -> list[int | None]:
    """Indices to show: all of them, or the first and last few with None for the gap (and `keep`, if given)."""
    if full or count <= limit:
        return list(range(count))
    head = limit // 2
    picked = [*range(head), *range(count - (limit - head - 1), count)]
    if keep is not None and keep not in picked:
        picked = sorted(picked[:head - 1] + [keep] + picked[head:])
    shown: list[int | None] = []
    for i in picked:
        if shown and shown[-1] is not None and i - shown[-1] > 1:
            shown.append(None)
        shown.append(i)
    return shown


def table_number(precision: int | None):
    digits = 10 if precision is None else precision

    def real(x: float) -> str:
        return "0" if x == 0 else f"{x:.{digits}g}"

    def number(x) -> str:
        if np.iscomplexobj(x):  # a+bj, as Python writes it
            x = complex(x)
            imag = "0" if x.imag == 0 else f"{abs(x.imag):.{digits}g}"
            return f"{real(x.real)}{'-' if math.copysign(1, x.imag) < 0 else '+'}{imag}j"
        return real(float(x))

    return number


def _point_text(point: dict) -> str:
    parts = []
    for name, value in point.items():
        value = np.asarray(value)
        if value.ndim == 0:
            parts.append(f"{name}={digits(6)(value)}")
        elif value.ndim == 1 and value.size <= 4:
            parts.append(f"{name}=[{', '.join(map(digits(4), value))}]")
        else:
            parts.append(f"{name}=<{'×'.join(map(str, value.shape))} array>")
    text = ", ".join(parts)
    return _short(text) if text else "(no variables)"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- check reports and descriptions -------------------------------------------------------
def check_tables(data: list[dict], console) -> None:
    """For each check: the entries that differ (up to 50), notes, and the summary line."""
    from rich.table import Table
    from rich.text import Text

    from .report import summary_line

    for item in data:
        for reference in item["references"]:
            if not reference["mismatches"]:
                continue
            table = Table(title=Text(f"entries that differ from {reference['reference']}"), title_justify="left")
            for column in ("index", "entry", "expected", "got", "abs error", "rel error"):
                table.add_column(column, justify="left" if column in ("index", "entry") else "right")
            for row in reference["mismatches"][:50]:
                number = table_number(None)
                expected, got = (complex(v["real"], v["imag"]) if isinstance(v, dict) else v
                                 for v in (row["expected"], row["got"]))
                table.add_row(Text(str(tuple(row["index"]))), Text(row["label"]), number(expected),
                              number(got), f"{row['abs_error']:.3g}", f"{row['rel_error']:.3g}")
            console.print(table)
        for note in item["skipped"]:
            console.print(Text(f"note: {note}", style="dim"))
        console.print(Text(summary_line(item), style="bold green" if item["ok"] else "bold red"))


def description_lines(description: dict) -> str:
    """`inspect` and `info` for people: `key: value` lines, nested items indented."""
    width = max(len(k) for k in description)
    lines = []
    for key, value in description.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            for k, v in value.items():
                lines.extend([f"  {k}:", *(f"    {item}" for item in v)] if isinstance(v, list) else [f"  {k}: {v}"])
        elif isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"  {item}" for item in value)
        else:
            lines.append(f"{key + ':':<{width + 1}} {value}")
    return "\n".join(lines) + "\n"
