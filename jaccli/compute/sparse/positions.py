"""Position maps of the structural primitives: for each output entry, the entry of the inputs (numbered one
input after the other) it is a copy of, or -1 (padding). NumPy on `arange(size)` in the input's shape, so
each map is the primitive itself applied to entry numbers: slice, reshape, broadcast, pad, concatenate …

    >>> _slice({"start_indices": (1,), "limit_indices": (5,), "strides": (2,)}, [(6,)], (2,), None)
    array([1, 3])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Run(NamedTuple):
    """A position map that is one contiguous run of input 0: `first` entries -1, then start … start+length-1,
    then -1 up to `total` (a slice of leading rows, a pad along the first axis): taken without any array."""

    first: int
    start: int
    length: int
    total: int


def _ids(shape) -> np.ndarray:
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _slice(params, shapes, out, value):
    strides = params["strides"] or (1,) * len(shapes[0])
    shape = shapes[0]
    if all(s == 1 for s in strides) and tuple(out[1:]) == tuple(shape[1:]):  # leading rows: contiguous
        row = int(np.prod(shape[1:], dtype=np.int64))
        length = int(np.prod(out, dtype=np.int64))
        return Run(0, params["start_indices"][0] * row, length, length)
    index = tuple(slice(a, b, s) for a, b, s in zip(params["start_indices"], params["limit_indices"], strides))
    return _ids(shapes[0])[index]


def _reshape(params, shapes, out, value):
    ids = _ids(shapes[0])
    if params.get("dimensions"):
        ids = ids.transpose(params["dimensions"])
    return ids.reshape(out)


def _broadcast_in_dim(params, shapes, out, value):
    dims = params["broadcast_dimensions"]
    expanded = [1] * len(out)
    for axis, d in zip(dims, shapes[0]):
        expanded[axis] = d
    return np.broadcast_to(_ids(shapes[0]).reshape(expanded), out)


def _pad(params, shapes, out, value):
    """pad(operand, fill): the fill value is a constant; negative padding cuts."""
    (low, high, interior), *rest = params["padding_config"]
    if interior == 0 and min(low, high) >= 0 and all(tuple(r) == (0, 0, 0) for r in rest):  # along axis 0 only
        row = int(np.prod(shapes[0][1:], dtype=np.int64))
        return Run(low * row, 0, int(np.prod(shapes[0], dtype=np.int64)), int(np.prod(out, dtype=np.int64)))
    ids = _ids(shapes[0])
    result = np.full(out, -1, np.int64)
    if all(interior == 0 for _, _, interior in params["padding_config"]):  # slices, not index arrays
        target, source = [], []
        for (low, _, _), n_in, n_out in zip(params["padding_config"], shapes[0], out):
            begin, skip = max(low, 0), max(-low, 0)
            count = max(0, min(n_in - skip, n_out - begin))
            target.append(slice(begin, begin + count))
            source.append(slice(skip, skip + count))
        result[tuple(target)] = ids[tuple(source)]
        return result
    target, source = [], []
    for (low, _, interior), n_in in zip(params["padding_config"], shapes[0]):
        where = low + np.arange(n_in) * (interior + 1)
        inside = (where >= 0) & (where < out[len(target)])
        target.append(where[inside])
        source.append(np.flatnonzero(inside))
    result[np.ix_(*target)] = ids[np.ix_(*source)]
    return result


def _concatenate(params, shapes, out, value):
    offsets = np.cumsum([0] + [int(np.prod(s)) for s in shapes[:-1]])
    return np.concatenate([_ids(s) + o for s, o in zip(shapes, offsets)], axis=params["dimension"])


def _dynamic_slice(params, shapes, out, value):
    starts = [value(1 + i) for i in range(len(shapes[0]))]
    if any(s is None for s in starts):
        raise Unknown("dynamic_slice with indices that depend on x")
    starts = [int(np.clip(int(s), 0, d - k)) for s, d, k in zip(starts, shapes[0], out)]  # lax clamps them
    return _ids(shapes[0])[tuple(slice(s, s + k) for s, k in zip(starts, out))]


def _dynamic_update_slice(params, shapes, out, value):
    starts = [value(2 + i) for i in range(len(shapes[0]))]
    if any(s is None for s in starts):
        raise Unknown("dynamic_update_slice with indices that depend on x")
    ids = _ids(shapes[0]).copy()
    starts = [int(np.clip(int(s), 0, d - k)) for s, d, k in zip(starts, shapes[0], shapes[1])]
    ids[tuple(slice(s, s + k) for s, k in zip(starts, shapes[1]))] = _ids(shapes[1]) + ids.size
    return ids


def _pad_values(params, shape, out, values):
    """pad of an array of `shape` with zeros (negative padding cuts; None: interior padding)."""
    if any(interior for _, _, interior in params["padding_config"]):
        return None
    result = np.zeros(out, values.dtype)
    target, source = [], []
    for (low, _, _), n_in, n_out in zip(params["padding_config"], shape, out):
        begin, skip = max(low, 0), max(-low, 0)
        count = max(0, min(n_in - skip, n_out - begin))
        target.append(slice(begin, begin + count))
        source.append(slice(skip, skip + count))
    result[tuple(target)] = values.reshape(shape)[tuple(source)]
    return result


def _slice_values(params, shape, out, values):
    strides = params["strides"] or (1,) * len(shape)
    return values.reshape(shape)[tuple(slice(a, b, s) for a, b, s in
                                       zip(params["start_indices"], params["limit_indices"], strides))]


DIRECT = {  # the primitive applied to an array of input 0's shape, a band's anchors or bits (pad: zero fill)
    "slice": _slice_values,
    "pad": _pad_values,
    "transpose": lambda p, shape, out, values: values.reshape(shape).transpose(p["permutation"]),
    "rev": lambda p, shape, out, values: np.flip(values.reshape(shape), p["dimensions"]),
}


class Unknown(Exception):
    """A rule that cannot say (e.g. indices that depend on x): the dense rule and a warning follow."""


POSITIONS = {
    "slice": _slice,
    "reshape": _reshape,
    "squeeze": lambda p, s, out, v: _ids(s[0]).reshape(out),
    "expand_dims": lambda p, s, out, v: _ids(s[0]).reshape(out),
    "broadcast_in_dim": _broadcast_in_dim,
    "transpose": lambda p, s, out, v: _ids(s[0]).transpose(p["permutation"]),
    "rev": lambda p, s, out, v: np.flip(_ids(s[0]), p["dimensions"]),
    "pad": _pad,
    "concatenate": _concatenate,
    "stack": lambda p, s, out, v: np.stack([_ids(t) + i * int(np.prod(t)) for i, t in enumerate(s)], p["axis"]),
    "dynamic_slice": _dynamic_slice,
    "dynamic_update_slice": _dynamic_update_slice,
}
