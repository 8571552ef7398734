"""A star colouring of a symmetric pattern, for Hessians that are neither bands nor stencils.

Gebremedhin, Manne and Pothen's greedy star colouring ("What color is your Jacobian?", SIAM Review 2005,
Algorithm 4.1): a proper colouring in which every path on four vertices has three colours. Then every
nonzero H[i, j] is read directly, from row i of product colour(j) or from row j of product colour(i): at least
one of the two sees no other entry of that colour. It can take far fewer products than a distance-2
colouring (a random graph of mean degree 4: about half). A Python loop of about Σ d³ steps, so it runs only
below STEPS; `recovery` checks every entry and says None rather than a wrong number.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

STEPS = 10**6  # Σ d³ at most: about a second of Python


def star_colouring(pattern: sp.csr_array) -> tuple[np.ndarray, int] | None:
    """(colour of each vertex, how many colours) of the graph of a symmetric pattern, or None (too large)."""
    n = pattern.shape[0]
    degree = np.diff(pattern.indptr)
    if n == 0 or int((degree.astype(np.int64) ** 3).sum()) > STEPS:
        return None
    indptr, indices = pattern.indptr.tolist(), pattern.indices.tolist()
    neighbours = [[w for w in indices[indptr[v]:indptr[v + 1]] if w != v] for v in range(n)]
    colour = [-1] * n
    forbidden = [-1] * (n + 1)
    for v in np.argsort(-degree, kind="stable").tolist():  # largest first
        for w in neighbours[v]:
            cw = colour[w]
            if cw >= 0:
                forbidden[cw] = v
            for x in neighbours[w]:
                cx = colour[x]
                if x == v or cx < 0:
                    continue
                if cw < 0:
                    forbidden[cx] = v
                elif any(colour[y] == cw for y in neighbours[x] if y != w):
                    forbidden[cx] = v  # v-w-x-y would be a path of two colours
        c = 0
        while forbidden[c] == v:
            c += 1
        colour[v] = c
    colours = np.array(colour, np.int32)
    return colours, int(colours.max(initial=-1)) + 1


def recovery(pattern: sp.csr_array, symmetric: sp.csr_array, colours: np.ndarray, count: int) -> np.ndarray | None:
    """For each entry of `pattern` (CSR order), where it is in the products (colour c, row r → c·n + r): row i
    of product colour(j) when no other entry of row i has that colour, else row j of product colour(i); None
    when an entry has neither (not a star colouring of `symmetric`)."""
    n = pattern.shape[0]
    s_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(symmetric.indptr))
    keys, counts = np.unique(s_rows * count + colours[symmetric.indices], return_counts=True)

    def alone(rows, cols):  # whether in row `rows` the colour of `cols` is had by one entry only
        found = rows * count + colours[cols]
        where = np.minimum(np.searchsorted(keys, found), len(keys) - 1)
        return (keys[where] == found) & (counts[where] == 1)

    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(pattern.indptr))
    cols = pattern.indices.astype(np.int64)
    direct, mirrored = alone(rows, cols), alone(cols, rows)
    if not (direct | mirrored).all():
        return None
    return np.where(direct, colours[cols].astype(np.int64) * n + rows, colours[rows].astype(np.int64) * n + cols)
