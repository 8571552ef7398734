"""Colourings read off the shape of a pattern, before any greedy pass: bands and stencils.

The offsets col − row of a banded or stencil pattern are few (a 5-point stencil on a k-wide grid: 0, ±1, ±k).

- modular: column j in group j mod w, for the least w that no two columns of one row are a multiple of w apart
  (a band of width w: Curtis, Powell and Reid; exact from the offsets' differences);
- lattice: column j = (i, l) on a k-wide grid in group (l + c·i) mod w, the 2-D version (the 5-point stencil's
  optimal 5 colours: (l + 2i) mod 5). The offsets choose k, c and w, which are right for every row inside the
  grid; the rows at its edges (where a grid's rows wrap) are then checked, with one OR of bits a row.

    >>> structured(tridiagonal_pattern, lambda: entries, bound=3)[1]
    3
"""

from __future__ import annotations

import numpy as np

MAX_OFFSETS = 256  # distinct offsets at most, for a pattern to be read as a band or stencil


def structured(pattern, entries, bound: int):
    """(group of each column, how many) from the offsets, or None when they say nothing (no entries, or too many
    distinct offsets). `entries()`: the (rows, columns) of the entries, asked for only when the offsets are not
    known. Groups are 0 … w-1; the caller renumbers them when columns are unused."""
    n = pattern.shape[1]
    present = diagonals(pattern, entries)
    if present is None:
        return None
    low, high = int(present[0]), int(present[-1])
    width = high - low + 1
    if len(present) > MAX_OFFSETS:
        return _modular(n, width)
    apart = present[:, None] - present[None, :]
    apart = apart[apart != 0]
    bound = max(bound, 1)
    modular = next((w for w in range(bound, min(width, bound + 64)) if not (apart % w == 0).any()), width)
    if modular > bound:
        found = _lattice(pattern, present, bound, modular)
        if found is not None:
            return found
    return _modular(n, modular)


def diagonals(pattern, entries) -> np.ndarray | None:
    """The distinct column − row of the entries, sorted: known when the pattern came from bands (pattern.py),
    else counted (None: no entries, or spread over more than 10⁷ diagonals)."""
    known = getattr(pattern, "_jaccli_diagonals", None)
    if known is not None and pattern.nnz:
        return known
    rows, cols = entries()
    if len(cols) == 0:
        return None
    shifted = cols - rows
    low, high = int(shifted.min()), int(shifted.max())
    if high - low + 1 > 10**7:
        return None
    shifted -= low
    return np.flatnonzero(np.bincount(shifted)) + low


def _modular(n: int, w: int):
    return np.tile(np.arange(w, dtype=np.int32), -(-n // w))[:n], w  # j mod w, without n divisions


def _lattice(pattern, present, bound: int, below: int):
    """(l + c·i) mod w for a grid of k columns, w < below; None when no such colouring is valid.

    Offset p is i·k + l (i = round(p / k)): a row r = (r // k, r % k) whose r % k + l stays in 0 … k-1 for every
    offset has its column r + p in group g(r) + (l + c·i) mod w, so such rows are right when these values differ
    from offset to offset; only the rows at the grid's edges are checked one by one."""
    widths = sorted({abs(int(d)) for d in present if abs(d) > 2})[:4]  # a grid's width is an offset
    j = np.arange(pattern.shape[1], dtype=np.int64 if pattern.shape[1] * 64 >= 2**31 else np.int32)
    grids = []  # for each width k: (k, i, l, the grid's edge rows), which no w or c changes
    for k in widths:
        i = np.round(present / k).astype(np.int64)
        l = present - i * k
        edges = _edge_rows(pattern.shape[0], k, max(0, -int(l.min())), max(0, int(l.max())))
        grids.append((k, i, l, pattern[edges] if len(edges) < pattern.shape[0] else pattern))
    for w in range(bound, min(below, bound + 2, 64)):
        for k, i, l, edge in grids:
            for c in range(w):
                if len(np.unique((l + c * i) % w)) < len(present):  # two columns of an inside row would share
                    continue
                groups = ((j % k + c * (j // k)) % w).astype(np.int32, copy=False)
                if _distinct_in_rows(edge, groups[edge.indices]):
                    return groups, w
    return None


def _edge_rows(rows: int, k: int, before: int, after: int) -> np.ndarray:
    """The rows r with r % k < before or r % k ≥ k - after (all of them when those overlap)."""
    if before + after >= k:
        return np.arange(rows)
    at = np.concatenate([np.arange(before), np.arange(k - after, k)])
    found = (np.arange(0, rows, k)[:, None] + at[None, :]).reshape(-1)
    return np.sort(found[found < rows])


def _distinct_in_rows(pattern, groups_of_entries: np.ndarray) -> bool:
    """Whether the entries of each row are in different groups (groups < 64): one OR of bits a row."""
    lengths = np.diff(pattern.indptr)
    used = lengths > 0
    if not used.any():
        return True
    bits = np.left_shift(np.uint64(1), groups_of_entries.astype(np.uint64))
    ors = np.bitwise_or.reduceat(bits, pattern.indptr[:-1][used])
    return bool((np.bitwise_count(ors) == lengths[used]).all())
