"""Entries that compression spoiled: 0·inf where columns share a product.

Columns of one colour are summed into one product, so an infinite derivative in one of them (sqrt or log
at 0) meets the zeros that its neighbours' rows hold as constants (`eye(n) @ sqrt(x)`) as 0·inf = nan, and
spoils entries that are finite when each column is taken alone, as the dense evaluation takes them. So when
an entry of the result is nan, its colour group is split in halves and each half evaluated again with
the same executable (its colours are an argument: one call takes up to n_forward groups), down to single
columns if need be. An entry is read from its column's group where no other column of the group has an
entry in its row; a single column's value is its own, finite or not.

One point only: many points go through one vmapped executable, whose forward products are spoiled alike
column by column (JAX's JVP of sqrt at 0 along a zero tangent is 0·inf = nan, and XLA's batched dot spreads
it), as the dense many-point results are.

    >>> left = refine(data, scheme, lambda w: products_for(w))   # data: the gathered values, mended in place
"""

from __future__ import annotations

import numpy as np

from .colour import _entries

IDLE_CALLS = 3  # evaluations in a row that settle nothing: the nans are the columns' own (sqrt(x) at x = 0 …)
MAX_CALLS = 32  # evaluations at most: one culprit column takes 2·log₂(its group's size) with one colour (so
# groups of up to 65,536 columns), about half of that with two colours or more


def refine(data: np.ndarray, scheme, evaluate) -> int:
    """Mend the nan entries of `data` (the pattern's CSR order) that a split of their colour group makes
    finite; `evaluate(w)` gives the products (flat) for colours `w`. Returns how many nan entries were left
    unsettled: those still waiting when MAX_CALLS ran out (or IDLE_CALLS settled none), and those read from
    a Jacobian's reverse products (its dense rows), which are not split. An inf is its own column's value
    (0·inf, what sharing a product adds, is nan)."""
    colouring = scheme.colouring
    m = scheme.pattern.shape[0]
    nan = np.isnan(data)
    in_forward = colouring.gather < colouring.n_forward * m
    apart = int(np.count_nonzero(nan & ~in_forward))  # read from a reverse product: left, and counted
    bad = np.flatnonzero(nan & in_forward)
    if len(bad) == 0:
        return apart
    rows, cols = _entries(scheme.pattern)
    forward = colouring.forward
    by_colour = np.argsort(forward, kind="stable")  # each colour's columns together, in column order
    bounds = np.searchsorted(forward[by_colour], np.arange(colouring.n_forward + 1))
    bad_colours = forward[cols[bad]]
    queue = []
    for colour in np.unique(bad_colours[bad_colours >= 0]):
        group = by_colour[bounds[colour]:bounds[colour + 1]]
        if len(group) > 1:  # a column alone already has its own value
            queue += _halves(group, bad[bad_colours == colour], cols)
    calls = idle = 0
    while queue and calls < MAX_CALLS and idle < IDLE_CALLS:
        batch, queue = queue[:colouring.n_forward], queue[colouring.n_forward:]
        w = np.full(len(forward) + len(colouring.reverse), -1, np.int32)
        for slot, (group, _) in enumerate(batch):
            w[group] = slot
        products = evaluate(w)
        calls, idle = calls + 1, idle + 1
        for slot, (group, entries) in enumerate(batch):
            values = products[slot * m + rows[entries].astype(np.int64)]
            done = ~np.isnan(values) & _alone(scheme.pattern, w, rows[entries], slot) if len(group) > 1 else \
                np.ones(len(entries), bool)
            data[entries[done]] = values[done]
            if done.any():
                idle = 0
            left = entries[~done]
            if len(left):
                queue += _halves(group, left, cols)
    return apart + sum(len(entries) for _, entries in queue)


def _halves(group: np.ndarray, entries: np.ndarray, cols: np.ndarray) -> list:
    """The two halves of a group of columns (sorted), each with the entries whose column it holds; a half
    that holds none is not evaluated."""
    half = group[: len(group) // 2], group[len(group) // 2:]
    inside = np.isin(cols[entries], half[0])
    return [(h, e) for h, e in ((half[0], entries[inside]), (half[1], entries[~inside])) if len(h) and len(e)]


def _alone(pattern, w: np.ndarray, rows: np.ndarray, slot: int) -> np.ndarray:
    """For each row (each holds an entry), whether exactly one column of colour `slot` has an entry there: the
    product's value at the row is then that column's alone."""
    unique, where = np.unique(rows, return_inverse=True)
    sub = pattern[unique]
    counts = np.add.reduceat((w[sub.indices] == slot).astype(np.int64), sub.indptr[:-1])
    return counts[where] == 1
