"""Colour a sparsity pattern: which directions can share one JVP, VJP or HVP.

A Jacobian J (m × n) is coloured by columns (columns that share no row go in one JVP) or by rows (rows
that share no column go in one VJP), whichever needs fewer products; dense rows (or columns) are taken
apart, one VJP (JVP) each, so an arrowhead costs about 3 products, not n. A Hessian is coloured
symmetrically: its hubs (dense rows, and by symmetry columns) get one HVP each and give their row from
their column; the rest is a distance-2 colouring (itself a star colouring) of what remains, so an arrowhead
costs 2. Bands and stencils are grouped from their offsets (structured.py); otherwise the grouping is SciPy's
compiled greedy one (`scipy.optimize._group_columns.group_sparse`, what `least_squares`' sparse Jacobians use),
in natural and in largest-first order, the fewer kept.

`Colouring.gather` decompresses: the products laid end to end and flattened, entry k of the pattern (CSR
order) is `products[gather[k]]`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .structured import structured

MAX_APART = 64  # dense rows or columns taken apart at most


@dataclass(frozen=True)
class Colouring:
    """Seeds for the products and how to read the pattern's entries back from them.

    forward: colour of each input (n,) or -1: JVP (HVP) seeds, `n_forward` of them;
    reverse: colour of each output (m,) or -1: VJP seeds, `n_reverse` of them (Jacobians only).
    """

    forward: np.ndarray
    n_forward: int
    reverse: np.ndarray
    n_reverse: int
    gather: np.ndarray  # (nnz,) into [forward products (n_forward × m) | reverse products (n_reverse × n)]
    kind: str  # 'columns', 'rows', 'symmetric' or 'star'

    @property
    def colours(self) -> int:
        """How many products the evaluation takes."""
        return self.n_forward + self.n_reverse

    def seeds(self) -> np.ndarray:
        """The colour assignments as one int32 argument of the compiled function: forward, then reverse."""
        return np.concatenate([self.forward, self.reverse]).astype(np.int32)


def colour_jacobian(pattern: sp.csr_array, prefer: str | None = None) -> Colouring:
    """Column colouring with dense rows apart, or row colouring with dense columns apart: the fewer
    (`prefer` 'fwd': columns, 'rev': rows, as --mode asks)."""
    m, n = pattern.shape
    by_columns = _one_sided(pattern) if prefer != "rev" else None
    cost = by_columns[0] + len(by_columns[1]) if by_columns is not None else None
    optimal = cost is not None and (_many_columns_as_long(pattern, cost) or
                                    cost <= _best_case(np.asarray(pattern.T @ np.ones(m, np.int32))))
    by_rows = _one_sided(pattern.T.tocsr()) if prefer != "fwd" and not optimal else None
    if by_columns is None or (by_rows is not None and
                              by_rows[0] + len(by_rows[1]) < by_columns[0] + len(by_columns[1])):
        count, apart, colours = by_rows  # rows coloured (VJPs), dense columns apart (JVPs)
        forward = np.full(n, -1, np.int32)
        forward[apart] = np.arange(len(apart))
        return _jacobian(pattern, forward, len(apart), colours, count, "rows")
    count, apart, colours = by_columns
    reverse = np.full(m, -1, np.int32)
    reverse[apart] = np.arange(len(apart))
    return _jacobian(pattern, colours, count, reverse, len(apart), "columns")


def _jacobian(pattern, forward, n_forward, reverse, n_reverse, kind) -> Colouring:
    m, n = pattern.shape
    rows, cols = _entries(pattern)
    wide = _index_type(n_forward * m + n_reverse * n)
    if (kind == "columns" and n_reverse == 0) or (kind == "rows" and n_forward == 0):  # one side only
        gather = np.take(forward.astype(wide, copy=False), cols) if kind == "columns" else \
            np.take(reverse.astype(wide, copy=False), rows)
        gather *= m if kind == "columns" else n
        gather += rows if kind == "columns" else cols
    else:  # columns: a dense row (reverse seed) reads its VJP; rows: a dense column (forward seed) its JVP
        from_reverse = reverse[rows] >= 0 if kind == "columns" else forward[cols] < 0
        gather = np.where(from_reverse, n_forward * m + reverse[rows].astype(np.int64) * n + cols,
                          forward[cols].astype(np.int64) * m + rows)
    return Colouring(forward.astype(np.int32), n_forward, reverse.astype(np.int32), n_reverse, gather, kind)


def _one_sided(pattern: sp.csr_array) -> tuple[int, np.ndarray, np.ndarray]:
    """(colours, the dense rows taken apart, the colour of each column or -1) for a column colouring."""
    m, n = pattern.shape
    apart = dense_lines(np.diff(pattern.indptr))
    rest = pattern
    if len(apart):
        keep = np.ones(m, bool)
        keep[apart] = False
        rest = pattern[keep]
    colours, count = group_columns(rest)
    return count, apart, colours


def _best_case(counts: np.ndarray) -> int:
    """No colouring of the other side beats this: r lines apart, then as many colours as the densest line left."""
    apart = dense_lines(counts)
    rest = np.delete(counts, apart) if len(apart) else counts
    return len(apart) + int(np.max(rest, initial=0))


def _many_columns_as_long(pattern: sp.csr_array, length: int) -> bool:
    """Whether MAX_APART + 1 columns hold `length` entries or more: a row colouring takes at most MAX_APART
    columns apart, so one of them stays, and needs `length` colours. Read off a few hundred rows when the
    diagonals are known (pattern.py), as a band's are; else False (then _best_case counts every column)."""
    diagonals = getattr(pattern, "_jaccli_diagonals", None)
    m, n = pattern.shape
    if diagonals is None or n <= 4 * (MAX_APART + 1) or length > len(diagonals):
        return False
    columns = np.unique(np.linspace(0, n - 1, 4 * (MAX_APART + 1)).astype(np.int64))
    rows = columns[:, None] - diagonals[None, :]  # the only rows that may hold these columns
    inside = (rows >= 0) & (rows < m)
    asked = rows[inside] * n + np.broadcast_to(columns[:, None], rows.shape)[inside]
    chosen = np.unique(rows[inside])
    sub = pattern[chosen]
    held = np.repeat(chosen, np.diff(sub.indptr)) * n + sub.indices
    counts = np.bincount(asked[np.isin(asked, held)] % n, minlength=n)[columns]
    return int((counts >= length).sum()) > MAX_APART


def dense_lines(counts: np.ndarray) -> np.ndarray:
    """The rows to take apart: all those longer than t, t chosen to make (how many) + t least (a histogram of the
    row lengths finds it in one pass)."""
    if len(counts) == 0:
        return np.zeros(0, np.int64)
    histogram = _histogram(counts)
    longer = len(counts) - np.cumsum(histogram)  # rows longer than t, for each t
    cost = np.where(longer <= MAX_APART, longer + np.arange(len(histogram)), np.iinfo(np.int64).max)
    return np.flatnonzero(counts > int(np.argmin(cost)))


def _histogram(counts: np.ndarray) -> np.ndarray:
    """np.bincount of line lengths; for short lines (a band's), one comparison a length is several times faster."""
    top = int(counts.max())
    if top > 16:
        return np.bincount(counts)
    return np.array([np.count_nonzero(counts == length) for length in range(top + 1)], np.int64)


def group_columns(pattern: sp.csr_array, skip: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(group of each column, how many groups): columns of a group share no row. SciPy's compiled greedy
    grouping in natural and in largest-first order; `skip` columns get no group (-1)."""
    m, n = pattern.shape
    skip = skip if skip is not None and len(skip) else None
    bound = int(np.diff(pattern.indptr).max(initial=0))  # the columns of one row need as many groups
    best = structured(pattern, lambda: _entries(pattern), bound)
    if best is not None:
        groups, count = _skipped(best[0], skip), best[1]  # an empty column keeps its group: it is never read
        if count <= bound + 1:  # optimal, or one above: not worth a greedy pass
            return groups, count
    lengths = np.bincount(pattern.indices, minlength=n)
    if best is not None:
        groups = _renumber(groups, lengths, skip)
        best = groups, int(groups.max(initial=-1)) + 1
    csc = pattern.tocsc()
    for order in (None, "largest first"):
        if best is not None and best[1] <= bound + (order is not None):
            break
        if order is not None:
            order = np.argsort(-lengths, kind="stable")
        ordered = csc if order is None else csc[:, order]
        groups = _group_sparse()(m, n, ordered.indices.astype(np.int32, copy=False),
                                 ordered.indptr.astype(np.int32, copy=False))
        if order is not None:
            unordered = np.empty_like(groups)
            unordered[order] = groups
            groups = unordered
        if skip is not None:
            groups[skip] = -1
        groups = _renumber(groups, lengths, skip)
        count = int(groups.max()) + 1 if len(groups) and groups.max() >= 0 else 0
        if best is None or count < best[1]:
            best = (groups, count)
    return best


def _skipped(groups: np.ndarray, skip) -> np.ndarray:
    if skip is not None:
        groups = groups.copy()
        groups[skip] = -1
    return groups


def _renumber(groups: np.ndarray, lengths: np.ndarray, skip) -> np.ndarray:
    """Empty columns need no product: they get no group; the rest are numbered 0, 1, … in order."""
    groups = np.where(lengths > 0, groups, -1)
    if not (groups >= 0).any():
        return groups.astype(np.int32)
    used = np.bincount(groups[groups >= 0]) > 0
    renumbered = np.cumsum(used) - 1
    return np.where(groups >= 0, renumbered[np.maximum(groups, 0)], -1).astype(np.int32)


@functools.cache
def _group_sparse():
    """SciPy's compiled `group_sparse`, loaded from its file: importing scipy.optimize costs 0.3 s more."""
    import importlib.machinery
    import importlib.util
    import pathlib
    import sys

    name = "scipy.optimize._group_columns"
    if name in sys.modules:
        return sys.modules[name].group_sparse
    import scipy

    try:
        found = next((pathlib.Path(scipy.__file__).parent / "optimize").glob("_group_columns*"))
        loader = importlib.machinery.ExtensionFileLoader(name, str(found))
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
        loader.exec_module(module)
        return module.group_sparse
    except (StopIteration, ImportError, OSError):
        from scipy.optimize._group_columns import group_sparse

        return group_sparse


def colour_hessian(pattern: sp.csr_array) -> Colouring:
    """Symmetric colouring of a Hessian's pattern: hubs apart (one HVP each), distance-2 (or a band's or stencil's
    colouring) for the rest; a star colouring (star.py) instead when that takes fewer products."""
    found = _hub_colouring(pattern)
    if found.colours > 3 and worth_a_star(pattern):  # a star colouring may share colours among a vertex's
        from .star import recovery, star_colouring  # neighbours: fewer products

        symmetric = (pattern + pattern.T).tocsr()
        star = star_colouring(symmetric)
        if star is not None and star[1] < found.colours:
            gather = recovery(pattern, symmetric, *star)
            if gather is not None:
                return Colouring(star[0], star[1], np.zeros(0, np.int32), 0, gather, "star")
    return found


def worth_a_star(pattern: sp.csr_array) -> bool:
    """Whether star.py would colour it: its rows are no longer than those of P ∪ Pᵀ, which it colours, so when
    they are already past its STEPS it would give up (after P ∪ Pᵀ, tens of ms at a million rows)."""
    from .star import STEPS

    degrees = np.diff(pattern.indptr)
    if len(degrees) * int(degrees.min(initial=0)) ** 3 > STEPS:  # every row at least this long: no need to add
        return False
    return int((degrees.astype(np.int64) ** 3).sum()) <= STEPS


def _hub_colouring(pattern: sp.csr_array) -> Colouring:
    n = pattern.shape[0]
    hubs = dense_lines(np.diff(pattern.indptr))
    rest = pattern
    if len(hubs):
        keep = np.ones(n, bool)
        keep[hubs] = False
        mask = sp.diags_array(keep.astype(bool), format="csr", dtype=bool)
        rest = (mask @ pattern @ mask).tocsr()
    colours, count = group_columns(rest, skip=hubs)
    colours[hubs] = count + np.arange(len(hubs))
    rows, cols = _entries(pattern)
    # H[i, j] is product colour(j) at row i; a hub row i reads it from its own product at row j (symmetry)
    gather = np.take(colours.astype(_index_type((count + len(hubs)) * n), copy=False), cols)
    gather *= n
    gather += rows
    if len(hubs):
        hub = np.zeros(n, bool)
        hub[hubs] = True
        at_hub = hub[rows]
        gather[at_hub] = colours[rows[at_hub]].astype(np.int64) * n + cols[at_hub]
    return Colouring(colours.astype(np.int32), count + len(hubs), np.zeros(0, np.int32), 0, gather, "symmetric")


def _index_type(size: int):
    """int32 for indices below 2³¹ (half the memory traffic), else int64."""
    return np.int32 if size < 2**31 else np.int64


def _entries(pattern: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of each entry, in CSR order (made once a pattern: banding and the gather both need them)."""
    found = getattr(pattern, "_jaccli_entries", None)
    if found is None or len(found[1]) != len(pattern.indices):
        kind = _index_type(max(pattern.shape))
        rows = np.repeat(np.arange(pattern.shape[0], dtype=kind), np.diff(pattern.indptr))
        found = rows, pattern.indices.astype(kind, copy=False)
        pattern._jaccli_entries = found
    return found
