"""Colourings read off the shape of a pattern, before any greedy pass: bands and stencils.

The offsets col − row of a banded or stencil pattern are few (a 5-point stencil on a k-wide grid: 0, ±1, ±k).

- modular: column j in group j mod w, for the least w that no two columns of one row are a multiple of w apart
  (a band of width w: Curtis, Powell and Reid; exact from the offsets' differences);
- lattice: column j = (i, l) on a k-wide grid in group (l + c·i) mod w, the 2-D version (the 5-point stencil's
  optimal 5 colours: (l + 2i) mod 5). The offsets' differences choose k, c and w; every row is then checked
  (a grid's rows wrap), with one OR of bits a row.

    >>> structured(tridiagonal_pattern, entries, bound=3)[1]
    3
"""

from __future__ import annotations

import numpy as np

MAX_OFFSETS = 256  # distinct offsets at most, for a pattern to be read as a band or stencil


def structured(pattern, entries, bound: int):
    """(group of each column, how many) from the offsets, or None when they say nothing (no entries, or too many
    distinct offsets). Groups are 0 … w-1; the caller renumbers them when columns are unused."""
    rows, cols = entries
    n = pattern.shape[1]
    if len(cols) == 0:
        return None
    shifted = cols - rows
    low, high = int(shifted.min()), int(shifted.max())
    width = high - low + 1
    if width > 10**7:
        return None
    shifted -= low
    present = np.flatnonzero(np.bincount(shifted)) + low
    if len(present) > MAX_OFFSETS:
        return _modular(n, width)
    apart = present[:, None] - present[None, :]
    apart = apart[apart != 0]
    bound = max(bound, 1)
    modular = next((w for w in range(bound, min(width, bound + 64)) if not (apart % w == 0).any()), width)
    if modular > bound:
        found = _lattice(pattern, cols, present, apart, bound, modular)
        if found is not None:
            return found
    return _modular(n, modular)


def _modular(n: int, w: int):
    return np.arange(n, dtype=np.int32) % w, w


def _lattice(pattern, cols, present, apart, bound: int, below: int):
    """(l + c·i) mod w for a grid of k columns, w < below; None when no such colouring is valid."""
    widths = sorted({abs(int(d)) for d in present if abs(d) > 2})[:4]  # a grid's width is an offset
    j = np.arange(pattern.shape[1], dtype=np.int64)
    for w in range(bound, min(below, bound + 2)):
        for k in widths:
            i = np.round(apart / k).astype(np.int64)
            l = apart - i * k
            for c in range(w):
                if ((l + c * i) % w == 0).any():  # two columns of an inside row would share a group
                    continue
                groups = ((j % k + c * (j // k)) % w).astype(np.int32)
                if _distinct_in_rows(pattern, groups[cols]):
                    return groups, w
    return None


def _distinct_in_rows(pattern, groups_of_entries: np.ndarray) -> bool:
    """Whether the entries of each row are in different groups (groups < 63): one OR of bits a row."""
    lengths = np.diff(pattern.indptr)
    used = lengths > 0
    bits = np.left_shift(np.int64(1), groups_of_entries.astype(np.int64))
    ors = np.bitwise_or.reduceat(bits, pattern.indptr[:-1][used])
    return bool((np.bitwise_count(ors) == lengths[used]).all())
