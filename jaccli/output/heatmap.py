"""`--plot -`: a compact heatmap in the terminal (rich), two characters a cell, sized to the window.

On a terminal that takes colour each cell's background runs from blue (negative) through
white (0) to red (positive), scaled to ±max|entry|; under NO_COLOR, off a terminal and
under TERM=dumb each cell is an ASCII symbol instead:

    ==  ≤ −max/2     --  < 0     .  0     ++  > 0     ##  ≥ max/2     ??  nan or inf

A matrix with more rows or columns than fit is pooled (`plot.pool`): each cell its block's
entry of largest magnitude, so a peak or a lone nonzero is never lost.
"""

from __future__ import annotations

import numpy as np

from .plot import Matrix, limit_of, pool

LABEL_WIDTH = 12  # row labels are cut to this
MAX_ROWS = 40  # lines of cells at most (a terminal's height, when it says, if smaller)
_NEGATIVE, _POSITIVE, _WHITE = (33, 102, 172), (178, 24, 43), (247, 247, 247)  # RdBu's ends and middle


def cell_symbol(x: float, limit: float) -> str:
    if not np.isfinite(x):
        return "??"
    if x == 0:
        return " ."
    if x > 0:
        return "##" if x >= limit / 2 else "++"
    return "==" if x <= -limit / 2 else "--"


def cell_colour(x: float, limit: float) -> str:
    """An rgb colour for x on the diverging map, white at 0; grey for nan and inf."""
    if not np.isfinite(x):
        return "rgb(140,140,140)"
    t = min(abs(x) / limit, 1.0)
    end = _POSITIVE if x > 0 else _NEGATIVE
    r, g, b = (round(w + (e - w) * t) for w, e in zip(_WHITE, end))
    return f"rgb({r},{g},{b})"


def window(env) -> tuple[int, int]:
    """(columns, lines) to draw in: $COLUMNS, else the terminal's size, else 80 × MAX_ROWS."""
    import shutil

    columns = env.variables.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        width = int(columns)
    elif env.stdout_isatty:
        width = shutil.get_terminal_size((80, 24)).columns
    else:
        width = 80
    lines = shutil.get_terminal_size((80, MAX_ROWS + 8)).lines if env.stdout_isatty else MAX_ROWS + 8
    return max(width, 24), max(min(lines - 8, MAX_ROWS), 8)


def draw_terminal(matrix: Matrix, kind: str, env) -> None:
    """The heatmap (or, with kind 'spy', the nonzeros) on stdout, within the window's width."""
    from rich.text import Text

    from .destinations import writing
    from .tables import CAPTION, TITLE

    width, lines = window(env)
    m, n = matrix.values.shape
    label_width = min(LABEL_WIDTH, max(len(str(matrix.rows[i])) for i in range(min(m, 200))))
    fits = max(1, (width - label_width - 1) // 2)
    cells, fr, fc = pool(matrix.values, lines, fits)
    limit = limit_of(cells)
    colour = env.colour
    console = env.console()
    console.width = width
    out = [Text(matrix.title.replace("\n", " "), style=TITLE)]
    pooled = f" · a cell: the largest |entry| of {fr}×{fc}" if fr * fc > 1 else ""
    out.append(Text(f"{m}×{n} · rows {matrix.row_axis}, columns {matrix.column_axis}{pooled}", style=CAPTION))
    out.append(Text(" " * (label_width + 1) + _index_header(cells.shape[1], fc)))
    for i, row in enumerate(cells):
        label = str(matrix.rows[i]) if fr == 1 else str(i * fr)
        line = Text()
        line.append(label[:label_width].rjust(label_width) + " ", style="bold cyan" if colour else "")
        for x in row:
            if kind == "spy":
                mark = x != 0 or not np.isfinite(x)
                line.append("██" if mark and colour else ("##" if mark else " ."))
            elif colour:
                line.append("  ", style=f"on {cell_colour(x, limit)}")
            else:
                line.append(cell_symbol(x, limit))
        out.append(line)
    out.append(_legend(kind, limit, colour))
    with writing("standard output"):
        for text in out:  # the cells never wrap: a line too long for the window is cut
            console.print(text, no_wrap=True, overflow="crop", soft_wrap=False)
        if fc == 1 and n <= 12:  # the names of the columns, wrapped to the window
            console.print(Text("columns: " + ", ".join(f"{j} {matrix.columns[j]}" for j in range(n)), style=CAPTION))


def _index_header(count: int, step: int) -> str:
    """Column indices above the cells: every fifth (of the matrix's own numbering when pooled)."""
    header = ""
    for j in range(0, count, 5):
        mark = str(j * step)
        header += mark.ljust(10)[: 10 if j + 5 < count else max(len(mark), 2 * (count - j))]
    return header


def _legend(kind: str, limit: float, colour: bool):
    from rich.text import Text

    if kind == "spy":
        return Text(("██" if colour else "##") + " nonzero   . zero", style="dim")
    if not colour:
        half = f"{limit / 2:.3g}"
        return Text(f"== ≤ -{half}  -- < 0  . 0  ++ > 0  ## ≥ {half}  ?? nan/inf", style="")
    legend = Text(f"{-limit:.3g} ")
    for t in np.linspace(-1, 1, 11):
        legend.append("  ", style=f"on {cell_colour(t * limit, limit)}")
    legend.append(f" {limit:.3g}")
    return legend
