"""Where each variable lives in the flat vectors the core works on, and the labels of entries.

The core sees `f(z, c)`: `z` holds the variables we differentiate with respect to
(`--wrt`, all of them by default), `c` the ones held fixed, each flattened in C
order and concatenated in variable order.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    name: str
    shape: tuple[int, ...]
    offset: int  # start in z (wrt) or in c (held)
    wrt: bool

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Layout:
    slots: tuple[Slot, ...]  # in variable order

    @classmethod
    def build(cls, names, shapes: dict[str, tuple[int, ...]], wrt=None) -> Layout:
        wrt = set(names if wrt is None else wrt)
        offsets = {True: 0, False: 0}
        slots = []
        for name in names:
            shape = tuple(shapes[name])
            is_wrt = name in wrt
            slots.append(Slot(name, shape, offsets[is_wrt], is_wrt))
            offsets[is_wrt] += math.prod(shape)
        return cls(tuple(slots))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    @property
    def wrt(self) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.wrt)

    @property
    def held(self) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if not s.wrt)

    @property
    def z_size(self) -> int:
        return sum(s.size for s in self.wrt)

    @property
    def c_size(self) -> int:
        return sum(s.size for s in self.held)

    @property
    def in_shape(self) -> tuple[int, ...]:
        """The variable's own shape when one variable is differentiated, else (n,) (README "Expressions")."""
        wrt = self.wrt
        return wrt[0].shape if len(wrt) == 1 else (self.z_size,)

    def flatten(self, values: dict):
        """(z, c): the differentiated and the held variables' values, flattened in order (float64, or
        complex128 for a part that holds a complex value)."""
        return concat_flat(values[s.name] for s in self.wrt), concat_flat(values[s.name] for s in self.held)

    def in_labels(self) -> Labels:
        """One label per entry of z, in order: x, y, x[0], X[1,2] (made when asked for)."""
        slots = self.wrt
        starts = [s.offset for s in slots]

        def label(i: int) -> str:
            slot = slots[bisect.bisect_right(starts, i) - 1]
            return entry_label(slot.name, slot.shape, i - slot.offset)

        return Labels(self.z_size, label)


class Labels:
    """A sequence of labels computed on demand: a 10⁷-entry gradient needs only the few shown."""

    def __init__(self, count: int, label):
        self.count = count
        self.label = label

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.label(i) for i in range(*index.indices(self.count))]
        if index < 0:
            index += self.count
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.label(index)

    def __iter__(self):
        return (self.label(i) for i in range(self.count))


def entry_label(name: str, shape: tuple[int, ...], flat_index: int) -> str:
    if not shape:
        return name
    index = []
    for size in reversed(shape):
        flat_index, rest = divmod(flat_index, size)
        index.append(rest)
    return f"{name}[{','.join(map(str, reversed(index)))}]"


def output_labels(shape: tuple[int, ...], name: str = "f") -> Labels:
    """f for a scalar, f0 f1 … for a vector, f[0,1] … for a matrix."""
    if len(shape) == 1:
        return Labels(shape[0], lambda i: f"{name}{i}")
    return Labels(math.prod(shape), lambda i: entry_label(name, shape, i))


def concat_flat(arrays):
    """The arrays as float64 (complex128 when one is complex), flattened and joined (one array is returned as
    it is, not copied)."""
    import numpy as np

    arrays = [np.asarray(a) for a in arrays]
    dtype = np.complex128 if any(a.dtype.kind == "c" for a in arrays) else np.float64
    arrays = [a.astype(dtype, copy=False).reshape(-1) for a in arrays]
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays) if arrays else np.zeros(0)
