"""`--plot` on jacobian and hessian: the matrix as a picture (matplotlib, headless) or a heatmap in the terminal.

A heatmap colours each entry on a diverging map centred at 0 (blue < 0 < red, white at 0,
the limits ±max|entry|), with the variables' names on the axes (index ticks when there
are more than LABELLED of them) and a colour bar; a spy plot marks the nonzero entries
(the default above SPY_ABOVE rows or columns). Larger matrices than the picture has
pixels (or the terminal cells) are pooled: each cell shows its block's entry of largest
magnitude, so no peak and no nonzero disappears. matplotlib is imported only here, and
only when a file is drawn; the terminal heatmap is rich's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import JaccliError

SPY_ABOVE = 256  # rows or columns: a spy plot by default
LABELLED = 30  # at most this many names on an axis; beyond, index ticks
ANNOTATED = 64  # a heatmap of at most this many entries writes each number in its cell
DPI = 96  # a pixel is a CSS pixel: an SVG of 640×480 px is 480×360 pt
DEFAULT_SIZE = (640, 480)
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_SIZE = re.compile(r"\s*(\d+)\s*[x×]\s*(\d+)\s*\Z", re.I)


@dataclass(frozen=True)
class Drawing:
    """What --plot asked for, checked before anything is computed."""

    target: str  # a file name, or '-' for the terminal
    kind: str | None  # 'heatmap', 'spy', or None: by size
    size: tuple[int, int]  # pixels

    def draw(self, result, env) -> None:
        matrix = picture_matrix(result)
        kind = self.kind or default_kind(matrix.values.shape)
        if self.target == "-":
            from .heatmap import draw_terminal

            draw_terminal(matrix, kind, env)
        else:
            draw_file(matrix, kind, self.target, self.size)


def default_kind(shape: tuple[int, int]) -> str:
    return "spy" if max(shape) > SPY_ABOVE else "heatmap"


def plot_target(target: str, kind: str | None, size: str | None, *, many: bool, symbolic: bool) -> Drawing:
    """--plot FILE|-, --plot-kind and --plot-size, refused before the run when they cannot be drawn."""
    if many:
        raise JaccliError("--plot draws the matrix of one point, and --at gives many",
                          hint="give one point (--at 1,2), or write the results with -o and plot them yourself")
    if symbolic:
        raise JaccliError("--plot draws numbers, and --symbolic gives formulas", hint="drop one of them")
    if target != "-" and Path(target).suffix.lower() not in FORMATS:
        raise JaccliError(f"--plot {target!r}: the picture's name ends in .png, .svg or .pdf (or is - for the "
                          "terminal)", hint="e.g. --plot hessian.png")
    if target != "-":
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:  # looked for, not imported
            raise JaccliError("--plot FILE needs matplotlib, which is not installed",
                              hint="pip install 'jaccli[plot]', or draw in the terminal: --plot -")
    width, height = DEFAULT_SIZE
    if size is not None:
        match = _SIZE.match(size)
        if not match or not (16 <= int(match[1]) <= 10_000 and 16 <= int(match[2]) <= 10_000):
            raise JaccliError(f"--plot-size takes WIDTHxHEIGHT in pixels, each 16 to 10000, not {size!r}",
                              hint="e.g. --plot-size 800x600")
        width, height = int(match[1]), int(match[2])
    return Drawing(target, kind, (width, height))


@dataclass
class Matrix:
    """A result as one 2-D matrix with its axes' labels and names."""

    values: np.ndarray
    rows: object  # labels (a Labels or list)
    columns: object
    row_axis: str
    column_axis: str
    title: str
    block: int = 0  # a vector f's Hessian: rows come in blocks of n (one per output), else 0


def picture_matrix(result) -> Matrix:
    """jacobian (m, n) with outputs down and inputs across; hessian (n, n), a vector f's stacked (m·n, n)."""
    from ..inputs.layout import Labels, output_labels
    from .tables import _point_text, _short

    plan = result.plan
    if result.value.dtype.kind == "c":
        from ..errors import ShapeError

        raise ShapeError("--plot draws real matrices, and this one is complex",
                         hint="leave out --holomorphic to draw the real Jacobian or Hessian (Re and Im parts)")
    ins = plan.in_labels()  # Re z … Im z … when complex sides stand as parts
    n = len(ins)
    values = np.asarray(result.value, dtype=np.float64).reshape(-1, n)
    outs = plan.out_labels(output_labels(plan.out_shape))
    out_shape = plan.result_shapes[0]
    named = plan.request.expr if plan.request.expr.startswith("@") else str(plan.expression)
    title = f"{plan.command.title} of {_short(named, 44)}\nat {_short(_point_text(result.point), 44)}"
    if plan.command.name == "jacobian":
        return Matrix(values, outs, ins, "output fᵢ", "∂/∂xⱼ", title)
    if not out_shape:
        return Matrix(values, ins, ins, "∂/∂xᵢ", "∂/∂xⱼ", title)
    rows = Labels(values.shape[0], lambda i: f"{outs[i // n]}: {ins[i % n]}")
    return Matrix(values, rows, ins, "output fₖ: ∂/∂xᵢ", "∂/∂xⱼ", title, block=n)


def pool(values: np.ndarray, rows: int, columns: int) -> tuple[np.ndarray, int, int]:
    """At most rows × columns cells, each its block's entry of largest magnitude (a non-finite one wins);
    returns (cells, block height, block width)."""
    m, n = values.shape
    fr, fc = max(1, math.ceil(m / rows)), max(1, math.ceil(n / columns))
    if fr == fc == 1:
        return values, 1, 1
    padded = np.zeros((math.ceil(m / fr) * fr, math.ceil(n / fc) * fc))
    padded[:m, :n] = values
    blocks = padded.reshape(padded.shape[0] // fr, fr, padded.shape[1] // fc, fc).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(blocks.shape[0], blocks.shape[1], fr * fc)
    with np.errstate(invalid="ignore"):
        magnitude = np.where(np.isfinite(blocks), np.abs(blocks), np.inf)
    pick = magnitude.argmax(axis=2)
    return np.take_along_axis(blocks, pick[..., None], axis=2)[..., 0], fr, fc


def limit_of(values: np.ndarray) -> float:
    """The colour scale's half-range: max|finite entry|, 1 for a matrix of zeros."""
    finite = values[np.isfinite(values)]
    peak = float(np.abs(finite).max()) if finite.size else 0.0
    return peak if peak > 0 else 1.0


def draw_file(matrix: Matrix, kind: str, target: str, size: tuple[int, int]) -> None:
    """A heatmap or spy plot to a .png, .svg or .pdf file, size[0] × size[1] pixels at DPI."""
    from .destinations import writing

    figure = draw_figure(matrix, kind, size)
    with writing(target):
        figure.savefig(target, format=FORMATS[Path(target).suffix.lower()], dpi=DPI)


def draw_figure(matrix: Matrix, kind: str, size: tuple[int, int]):
    """The matplotlib Figure of a heatmap or a spy plot."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure  # no pyplot: no global state, no interactive backend (Agg renders PNG)

    width, height = size
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    m, n = matrix.values.shape
    cells, fr, fc = pool(matrix.values, max(height, 1), max(width, 1))
    extent = (-0.5, n - 0.5, m - 0.5, -0.5)  # ticks in the matrix's own indices, pooled or not
    aspect = "equal" if 1 / 4 <= m / n <= 4 else "auto"
    if kind == "spy":
        nonzero = (cells != 0) | ~np.isfinite(cells)
        axes.imshow(nonzero, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", extent=extent, aspect=aspect)
        count = int(((matrix.values != 0) | ~np.isfinite(matrix.values)).sum())
        axes.set_title(f"{matrix.title}\n{count:,} nonzero of {m * n:,}", fontsize=9)
    else:
        from matplotlib import colormaps

        limit = limit_of(cells)
        colours = colormaps["RdBu_r"].with_extremes(bad="0.55")  # non-finite entries grey
        image = axes.imshow(np.ma.masked_invalid(cells), cmap=colours, interpolation="nearest", extent=extent,
                            norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit), aspect=aspect)
        figure.colorbar(image, ax=axes, shrink=0.9)
        if m * n <= ANNOTATED:
            _annotate(axes, matrix.values, limit)
        axes.set_title(matrix.title, fontsize=9)
    _label_axes(axes, matrix, m, n)
    if matrix.block and kind == "heatmap":
        for edge in range(matrix.block, m, matrix.block):
            axes.axhline(edge - 0.5, color="0.2", linewidth=0.6)
    return figure


def _annotate(axes, values: np.ndarray, limit: float) -> None:
    """Each entry's number in its cell, white on the dark ends of the map."""
    for (i, j), x in np.ndenumerate(values):
        dark = np.isfinite(x) and abs(x) > 0.6 * limit
        axes.text(j, i, f"{x + 0.0:.4g}", ha="center", va="center", fontsize=8, color="white" if dark else "black")


def _label_axes(axes, matrix: Matrix, m: int, n: int) -> None:
    from matplotlib.ticker import MaxNLocator

    for axis, count, labels, name in ((axes.yaxis, m, matrix.rows, matrix.row_axis),
                                      (axes.xaxis, n, matrix.columns, matrix.column_axis)):
        if count <= LABELLED:
            axis.set_ticks(range(count), [labels[i] for i in range(count)], fontsize=8)
            axis.set_label_text(name, fontsize=9)
        else:
            axis.set_major_locator(MaxNLocator(nbins=8, integer=True))
            axis.set_label_text(f"{name} (index)", fontsize=9)
    if n <= LABELLED and max((len(matrix.columns[j]) for j in range(n)), default=0) > 3:
        axes.tick_params(axis="x", labelrotation=90)
    axes.xaxis.set_ticks_position("top")
    axes.xaxis.set_label_position("top")
