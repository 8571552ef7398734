"""Index sets as a few offsets from an anchor: entry e depends on the inputs anchor[e] + offsets[k], for each
bit k set in bits[e]. The sets of bands and stencils, whatever their size, in 16 bytes an entry.

Every set of a banded or stencil function is a handful of offsets (the 5-point stencil's: 0, ±1, ±width) from
some input, so its rules are a few passes over two arrays: `take` gathers anchors and bits; `union` finds how far
apart the two anchors are (one shift, or a few), moves one side's bits onto a common list of offsets and ORs
them. When the offsets would pass 64 (or the shifts MAX_SHIFTS), the caller falls back to CSR (sets.py).
Nothing is approximated: a Band holds exactly the sets its CSR form holds.

The words are as narrow as the offsets allow (uint8 up to 8 of them); a slice of leading entries is a view.

    >>> identity(4).tocsr().toarray()      # the identity, offsets [0]
"""

from __future__ import annotations

import numpy as np

MAX_OFFSETS = 64  # bits of one word
MAX_SHIFTS = 8  # distinct distances between the anchors of a union, at most
MAX_STRETCHES = 1 << 14  # a CSR form copied in stretches of the grid below this many missing entries


class Band:
    """Sets of `rows` entries over `n` inputs: anchor (rows,), bits (rows,) unsigned, offsets (k,) sorted."""

    __slots__ = ("_full", "anchor", "bits", "offsets", "shape")

    def __init__(self, anchor: np.ndarray, bits: np.ndarray, offsets: np.ndarray, n: int, full: bool | None = None):
        self.anchor, self.bits, self.offsets = anchor, bits, offsets
        self.shape = (len(bits), n)
        self._full = full

    @property
    def full(self) -> bool:
        """Whether no set is empty (then a union needs no masks)."""
        if self._full is None:
            self._full = bool(self.bits.all())
        return self._full

    @property
    def nnz(self) -> int:
        return int(np.bitwise_count(self.bits).sum(dtype=np.int64))

    def tocsr(self):
        """The same sets as a boolean CSR matrix, indices sorted in each row (sets.matrix checks the limit).

        The offsets some set uses, k of them, make a (rows × k) grid of columns, written one offset at a time;
        the sets that lack some of them (a band's first and last rows, a grid's edges) are few, so the indices
        are the grid's stretches between what they lack."""
        from .sets import matrix

        rows, n = self.shape
        bits, anchor = self.bits, self.anchor
        kind = index_type(n)
        used = int(np.bitwise_or.reduce(bits)) if rows else 0
        offsets = [k for k in range(len(self.offsets)) if used >> k & 1]
        grid = np.empty((rows, len(offsets)), kind)
        for column, k in enumerate(offsets):
            np.add(anchor, self.offsets[k], out=grid[:, column], casting="unsafe")
        short = np.flatnonzero(bits != bits.dtype.type(used))
        lengths = np.bitwise_count(bits[short]).astype(np.int64)
        pointer = np.int32 if rows * len(offsets) < 2**31 else np.int64  # SciPy would narrow an int64 copy
        indptr = np.arange(rows + 1, dtype=pointer) * pointer(len(offsets))
        if len(short):
            deficit = np.zeros(rows + 1, pointer)
            deficit[short + 1] = len(offsets) - lengths
            indptr -= np.cumsum(deficit, dtype=pointer)
        lacking = ((bits[short, None] >> np.array(offsets, np.uint64)) & np.uint64(1)) == 0
        where, column = np.nonzero(lacking)
        missing = short[where] * len(offsets) + column  # in the flattened grid, ascending
        flat = grid.reshape(-1)
        if len(missing) <= MAX_STRETCHES:
            starts, ends = np.concatenate([[0], missing + 1]).tolist(), np.concatenate([missing, [flat.size]]).tolist()
            indices = np.concatenate([flat[a:b] for a, b in zip(starts, ends)]) if len(missing) else flat
        else:
            keep = np.ones(flat.size, bool)
            keep[missing] = False
            indices = flat[keep]
        return matrix(indices, indptr, rows, n)


def diagonals(band: Band) -> np.ndarray | None:
    """The distinct column − row of its entries (a band's diagonals, a stencil's offsets), or None when the
    anchors stray from the rows by more than MAX_SHIFTS distances."""
    rows = band.shape[0]
    shift = band.anchor - np.arange(rows, dtype=band.anchor.dtype)
    nonempty = None if band.full else band.bits != 0
    shifts = _distinct(shift if nonempty is None else shift[nonempty])
    if shifts is None:
        return None
    found = set()
    for s in shifts:
        chosen = band.bits if len(shifts) == 1 else band.bits[shift == s]
        used = int(np.bitwise_or.reduce(chosen)) if len(chosen) else 0
        found.update(int(band.offsets[k]) + s for k in range(len(band.offsets)) if used >> k & 1)
    return np.array(sorted(found), np.int64)


def index_type(n: int):
    return np.int32 if n < 2**30 else np.int64


def word(count: int):
    """The narrowest unsigned type with `count` bits."""
    return np.uint8 if count <= 8 else np.uint16 if count <= 16 else np.uint32 if count <= 32 else np.uint64


def identity(n: int) -> Band:
    """Input i depends on input i: anchors 0 … n-1, one offset 0."""
    return Band(np.arange(n, dtype=index_type(n)), np.ones(n, np.uint8), np.zeros(1, np.int64), n, full=True)


def empty(rows: int, n: int) -> Band:
    return Band(np.zeros(rows, index_type(n)), np.zeros(rows, np.uint8), np.zeros(1, np.int64), n, full=rows == 0)


def take(band: Band, positions: np.ndarray) -> Band:
    """Entry e gets the set of entry positions[e] (-1: the empty set): two gathers."""
    anchor, bits = band.anchor, band.bits
    if len(positions) and positions.min() < 0:  # -1 reads one empty set put at the end
        anchor, bits = np.append(anchor, anchor.dtype.type(0)), np.append(bits, bits.dtype.type(0))
    return Band(anchor[positions], bits[positions], band.offsets, band.shape[1])


def take_run(band: Band, run) -> Band:
    """`first` empty sets, the sets of entries start … start+length-1, empty sets up to `total`: a view when
    there is no padding, else two copies."""
    first, start, length, total = run
    if first == 0 and length == total:
        return Band(band.anchor[start:start + length], band.bits[start:start + length], band.offsets,
                    band.shape[1], full=True if band.full else None)
    anchor = np.zeros(total, band.anchor.dtype)
    bits = np.zeros(total, band.bits.dtype)
    anchor[first:first + length] = band.anchor[start:start + length]
    bits[first:first + length] = band.bits[start:start + length]
    return Band(anchor, bits, band.offsets, band.shape[1], full=False)


def apply(band: Band, how) -> Band | None:
    """`how(array)` (a slice, a pad with zeros, a transpose …) applied to the anchors and the bits alike: entry
    e gets the set of the entry the primitive puts there, an empty one where it pads. None: `how` cannot."""
    anchor, bits = how(band.anchor), how(band.bits)
    if anchor is None:
        return None
    return Band(np.ascontiguousarray(anchor).reshape(-1), np.ascontiguousarray(bits).reshape(-1), band.offsets,
                band.shape[1])


def _moved(bits: np.ndarray, old: np.ndarray, new: np.ndarray, shift: int) -> np.ndarray:
    """Bits over offsets `old` + shift rewritten over the offsets `new` (which hold them all)."""
    kind = word(len(new))
    bits = bits.astype(kind, copy=False)
    targets = np.searchsorted(new, old + shift)
    if len(targets) == 1 or (np.diff(targets) == 1).all():
        return bits << kind(targets[0]) if targets[0] else bits
    moved = np.zeros_like(bits)
    one = kind(1)
    for k, target in enumerate(targets.tolist()):
        moved |= ((bits >> kind(k)) & one) << kind(target)
    return moved


def union(a: Band, b: Band) -> Band | None:
    """Entrywise union; None when the offsets would pass MAX_OFFSETS or the anchors differ by too many shifts."""
    if a is b:
        return a
    held = None if a.full else a.bits != 0  # where a has a set (None: everywhere)
    if a.full and b.full:
        both = None
        delta = b.anchor - a.anchor
    else:
        both = held if b.full else b.bits != 0 if a.full else held & (b.bits != 0)
        delta = (b.anchor - a.anchor)[both]
    shifts = _distinct(delta)
    if shifts is None:
        return None
    offsets = np.union1d(a.offsets, np.concatenate([b.offsets + s for s in shifts]))
    if len(offsets) > MAX_OFFSETS:
        return None
    bits = _moved(a.bits, a.offsets, offsets, 0)
    if len(shifts) == 1:
        moved = _moved(b.bits, b.offsets, offsets, shifts[0])
        anchor = a.anchor if a.full else np.where(held, a.anchor, b.anchor - shifts[0])
    else:  # each entry's shift: the distance where both have sets, else the first one
        each = b.anchor - a.anchor
        if both is not None:
            each = np.where(both, each, shifts[0])
        moved = np.zeros(len(b.bits), word(len(offsets)))
        for s in shifts:
            chosen = each == s
            moved[chosen] = _moved(b.bits[chosen], b.offsets, offsets, s)
        anchor = a.anchor if a.full else np.where(held, a.anchor, b.anchor - each)
    anchor = anchor.astype(a.anchor.dtype, copy=False)
    return Band(anchor, bits | moved, offsets, a.shape[1], full=True if a.full or b.full else None)


def _distinct(delta: np.ndarray) -> list[int] | None:
    """The distinct values of `delta` ([0] when it is empty), or None when there are more than MAX_SHIFTS."""
    if len(delta) == 0:
        return [0]
    low, high = int(delta.min()), int(delta.max())
    if low == high:
        return [low]
    if high - low < 1 << 20:
        found = np.flatnonzero(np.bincount(delta - low)) + low
    else:
        found = np.unique(delta)
    return found.tolist() if len(found) <= MAX_SHIFTS else None


def stack(parts: list[Band]) -> Band | None:
    """The sets of several arrays one after the other (concatenate, select_n); None past MAX_OFFSETS."""
    offsets = parts[0].offsets
    for part in parts[1:]:
        offsets = np.union1d(offsets, part.offsets)
    if len(offsets) > MAX_OFFSETS:
        return None
    anchor = np.concatenate([p.anchor for p in parts])
    bits = np.concatenate([_moved(p.bits, p.offsets, offsets, 0) for p in parts])
    return Band(anchor, bits, offsets, parts[0].shape[1], full=all(p.full for p in parts))
