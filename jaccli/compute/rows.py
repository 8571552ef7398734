"""Rows of points, for many-point runs: where each slot's columns are, padding and stacking chunks, and the
check of a CSV header's names."""

from __future__ import annotations

import numpy as np

from ..errors import PointError
from ..inputs import points
from ..inputs.layout import Layout


def check_header(names: list[str], variables: list[str], source: str) -> None:
    """A header names each of `variables` once and nothing else."""
    unknown = [n for n in names if n not in variables]
    if unknown:
        hint = points.unknown_variable(unknown[0], variables, "").hint
        raise PointError(f"the CSV header of {source} names {', '.join(map(repr, unknown))}, which "
                         + ("is not a variable" if len(unknown) == 1 else "are not variables")
                         + " of the expression", hint=hint)
    missing = [n for n in variables if n not in names]
    if missing:
        raise PointError(f"the CSV header of {source} has no column for {', '.join(map(repr, missing))}",
                         hint=f"a header names every variable once: {','.join(variables)}")


def layout_columns(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """The columns of a whole-layout row that make z (differentiated) and c (held)."""
    starts = np.cumsum([0] + [s.size for s in layout.slots])
    z_cols = np.concatenate([np.arange(starts[i], starts[i] + s.size) for i, s in enumerate(layout.slots)
                             if s.wrt] or [np.zeros(0, int)])
    c_cols = np.concatenate([np.arange(starts[i], starts[i] + s.size) for i, s in enumerate(layout.slots)
                             if not s.wrt] or [np.zeros(0, int)])
    return z_cols.astype(int), c_cols.astype(int)


def stack(run_parts: list[dict]) -> dict:
    """Records' parts ({option: row}) as one array an option."""
    return {option: np.stack([p[option] for p in run_parts]) for option in run_parts[0]}


def pad(rows: np.ndarray, size: int) -> np.ndarray:
    """Rows padded to `size` by repeating the last one (always a valid point)."""
    if rows.shape[0] == size:
        return rows
    return np.concatenate([rows, np.repeat(rows[-1:], size - rows.shape[0], axis=0)])
