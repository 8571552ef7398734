"""Index sets as boolean sparse matrices: row e of a (size × n) CSR matrix is the set of inputs entry e of
an array depends on. `None` is the empty set for every entry (a constant).

Sets start as Bands (bands.py: a few offsets from an anchor, what bands and stencils keep to) and become CSR
where a rule needs it (a reduction, a product) or a union would pass a Band's 64 offsets. Every operation is
a few vectorised NumPy/SciPy calls, whatever the size:

    take(S, positions)      entry e gets the set of entry positions[e] (-1: empty)   slices, pads, gathers
    union(S1, S2, …)        entrywise union                                          elementwise operations
    gather_union(S, t, k)   entry t[i] of k gets the union of the sets of entries i  reductions, scatter-adds
    spread(U, k)            each of k entries gets the one set U                      a dense rule
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import bands
from .bands import Band


class TooDense(Exception):
    """The pattern would hold more nonzeros than allowed: not worth a sparse result."""


LIMIT = {"nnz": 50_000_000}  # nonzeros any one intermediate set may hold (pattern.detect sets it from the budget)


_ONES = {"buffer": np.ones(0, bool)}


def _ones(count: int) -> np.ndarray:
    """`count` Trues: a read-only view of one shared buffer (the data of every set; nothing writes it)."""
    if len(_ONES["buffer"]) < count:
        _ONES["buffer"] = np.ones(max(count, 2 * len(_ONES["buffer"])), bool)
        _ONES["buffer"].flags.writeable = False
    return _ONES["buffer"][:count]


def matrix(data_indices, indptr, rows: int, n: int) -> sp.csr_array:
    """A boolean CSR matrix from its column indices and row pointers (no copies, no checks)."""
    if len(data_indices) > LIMIT["nnz"]:
        raise TooDense(f"{len(data_indices):,} nonzeros")
    return sp.csr_array((_ones(len(data_indices)), data_indices, indptr), shape=(rows, n), copy=False)


def empty(rows: int, n: int) -> sp.csr_array:
    return matrix(np.zeros(0, np.int32), np.zeros(rows + 1, np.int64), rows, n)


def identity(n: int) -> Band:
    """Input entry i depends on input i."""
    return bands.identity(n)


def as_csr(sets):
    """The sets as a boolean CSR matrix (a Band converted; None stays None)."""
    return sets.tocsr() if isinstance(sets, Band) else sets


def take(sets, positions: np.ndarray):
    """Rows `positions` of `sets` (a position -1 is an empty row): slices, pads, transposes, gathers."""
    if sets is None:
        return None
    positions = np.asarray(positions, np.int64).reshape(-1)
    if isinstance(sets, Band):
        return bands.take(sets, positions)
    n = sets.shape[1]
    indptr = sets.indptr.astype(np.int64, copy=False)
    valid = positions >= 0
    run = _run(positions, valid)
    if run is not None:  # a slice, perhaps padded: views of the indices, new row pointers only
        return take_run(sets, (*run, len(positions)))
    safe = np.where(valid, positions, 0)
    counts = np.where(valid, indptr[safe + 1] - indptr[safe], 0)
    new_indptr = np.zeros(len(positions) + 1, np.int64)
    np.cumsum(counts, out=new_indptr[1:])
    total = int(new_indptr[-1])
    if total > LIMIT["nnz"]:
        raise TooDense(f"{total:,} nonzeros")
    pieces = _pieces(positions, valid, indptr)
    if pieces is not None:  # a few runs of consecutive rows (a slice along a later axis): copies of the indices
        indices = np.concatenate([sets.indices[a:b] for a, b in pieces]) if pieces else sets.indices[:0]
    else:
        starts = np.repeat(indptr[safe] - new_indptr[:-1], counts)
        indices = sets.indices[starts + np.arange(total, dtype=np.int64)]
    return matrix(indices, new_indptr, len(positions), n)


MAX_PIECES = 1 << 14


def _pieces(positions: np.ndarray, valid: np.ndarray, indptr: np.ndarray):
    """The stretches of `indices` that the valid positions read, when they are a few runs of consecutive rows
    (u[:, 1:] of a 1000 × 1000 u: 1000 runs); else None."""
    rows = positions[valid]
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    if len(breaks) >= MAX_PIECES:
        return None
    firsts = rows[np.concatenate([[0], breaks])]
    lasts = rows[np.concatenate([breaks - 1, [len(rows) - 1]])]
    return list(zip(indptr[firsts].tolist(), indptr[lasts + 1].tolist()))


def take_run(sets: sp.csr_array | None, run) -> sp.csr_array | None:
    """`take` of the run (first, start, length, total): `first` empty rows, rows start … start+length-1, empty
    rows up to `total`. O(rows) row pointers; the column indices are a view."""
    if sets is None:
        return None
    if isinstance(sets, Band):
        return bands.take_run(sets, run)
    first, start, length, total = run
    if first == start == 0 and length == total == sets.shape[0]:
        return sets
    rows = sets.indptr[start:start + length + 1].astype(np.int64, copy=False)
    new_indptr = np.empty(total + 1, np.int64)
    new_indptr[:first + 1] = 0
    np.subtract(rows[1:], rows[0], out=new_indptr[first + 1:first + length + 1])
    new_indptr[first + length + 1:] = rows[-1] - rows[0]
    return matrix(sets.indices[rows[0]:rows[-1]], new_indptr, total, sets.shape[1])


def _run(positions: np.ndarray, valid: np.ndarray):
    """(first, start, length) when positions are -1…, start, start+1, …, start+length-1, -1…; else None."""
    if not valid.any():
        return None
    first = int(np.argmax(valid))
    last = len(valid) - 1 - int(np.argmax(valid[::-1]))
    inner = positions[first:last + 1]
    if inner[-1] - inner[0] != len(inner) - 1 or not valid[first:last + 1].all():
        return None
    if len(inner) > 1 and not (np.diff(inner) == 1).all():
        return None
    return first, int(inner[0]), len(inner)


def union(*sets) -> sp.csr_array | None:
    """Entrywise union of sets of the same number of rows; None when all are empty."""
    present = [s for s in sets if s is not None]
    if not present:
        return None
    result = present[0]
    for other in present[1:]:
        if other is result:
            continue
        if isinstance(result, Band) and isinstance(other, Band):
            joined = bands.union(result, other)
            if joined is not None:
                result = joined
                continue
        result = as_csr(result) + as_csr(other)  # boolean: SciPy's sum of bools is their or
        if result.nnz > LIMIT["nnz"]:
            raise TooDense(f"{result.nnz:,} nonzeros")
    return result


def stack(parts: list, sizes: list[int], n: int):
    """The sets of several arrays one after the other (None: `size` empty sets)."""
    if all(p is None or isinstance(p, Band) for p in parts):
        found = bands.stack([p if p is not None else bands.empty(size, n) for p, size in zip(parts, sizes)])
        if found is not None:
            return found
    return sp.vstack([as_csr(p) if p is not None else empty(size, n) for p, size in zip(parts, sizes)],
                     format="csr")


def gather_union(sets: sp.csr_array | None, targets: np.ndarray, rows: int) -> sp.csr_array | None:
    """Row t of the result is the union of the rows i of `sets` with targets[i] == t (-1: dropped)."""
    if sets is None:
        return None
    targets = np.asarray(targets, np.int64).reshape(-1)
    keep = targets >= 0
    if keep.all() and len(targets) == rows and np.array_equal(targets, np.arange(rows)):
        return sets
    sources = np.flatnonzero(keep)
    if isinstance(sets, Band):
        if len(sources) == 0 or np.bincount(targets[keep], minlength=rows).max() <= 1:  # one source a target
            positions = np.full(rows, -1, np.int64)
            positions[targets[keep]] = sources
            return bands.take(sets, positions)
        sets = sets.tocsr()
    selector = sp.csr_array((np.ones(len(sources), bool), (targets[keep], sources)),
                            shape=(rows, sets.shape[0]))
    return product(selector, sets)


def product(selector: sp.csr_array, sets: sp.csr_array) -> sp.csr_array:
    """The boolean product: row i is the union of the rows of `sets` that row i of `selector` selects."""
    sets = as_csr(sets)
    estimate = int((selector @ np.diff(sets.indptr)).sum()) if selector.nnz else 0
    if estimate > 2 * LIMIT["nnz"]:
        raise TooDense(f"about {estimate:,} nonzeros")
    result = (selector @ sets).tocsr()
    if result.nnz > LIMIT["nnz"]:
        raise TooDense(f"{result.nnz:,} nonzeros")
    result.sort_indices()
    return result


def spread(sets_list, rows: int, n: int) -> sp.csr_array | None:
    """Every one of `rows` entries depends on the union of everything in `sets_list`: the dense rule."""
    present = [as_csr(s) for s in sets_list if s is not None]
    if not present:
        return None
    columns = np.unique(np.concatenate([s.indices for s in present]).astype(np.int64))
    if rows * len(columns) > LIMIT["nnz"]:
        raise TooDense(f"{rows * len(columns):,} nonzeros")
    indices = np.tile(columns.astype(np.int32), rows)
    return matrix(indices, np.arange(rows + 1, dtype=np.int64) * len(columns), rows, n)


def symmetric(pattern: sp.csr_array) -> sp.csr_array:
    """P ∪ Pᵀ: a Hessian's pattern is symmetric, and a superset may not be."""
    pattern = as_csr(pattern)
    both = (pattern + pattern.T).tocsr()
    both.sort_indices()
    return both
