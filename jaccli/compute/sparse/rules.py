"""One rule per JAX primitive: the index sets of its outputs from those of its inputs (sets.py).

A rule is `rule(eqn, ins, value) -> [sets of each output]`: `ins[i]` is input i's sets (None: a constant),
`value(i)` its concrete value when it is a known constant (else None). Structural primitives (slice, pad,
transpose, broadcast …) are a position map (positions.py) and one `take`;
reductions a `gather_union`; everything elementwise a `union`. Control flow and calls are in pattern.py.
"""

from __future__ import annotations

import numpy as np

from . import bands
from .bands import Band
from .positions import DIRECT, POSITIONS, Run, Unknown, _ids
from .sets import gather_union, product, spread, stack, take, take_run, union

ELEMENTWISE = frozenset("""
add sub mul div neg max min pow integer_pow square sqrt rsqrt cbrt exp exp2 expm1 log log1p sin cos tan asin acos
atan atan2 sinh cosh tanh asinh acosh atanh logistic erf erfc erf_inv lgamma digamma igamma igammac polygamma
bessel_i0e bessel_i1e abs rem nextafter add_any select_n clamp conj real imag complex convert_element_type copy
copy_p reduce_precision optimization_barrier tan sign floor ceil round is_finite stop_gradient zeta
""".split())
DENSE = frozenset("""
cholesky lu triangular_solve eigh eig qr svd custom_linear_solve schur hessenberg tridiagonal tridiagonal_solve
householder_product lu_pivots_to_permutation fft
""".split())  # dense by nature: every output depends on every input, no warning
ZERO_DERIVATIVE = frozenset("sign floor ceil round is_finite stop_gradient".split())


def shape_of(atom) -> tuple[int, ...]:
    return tuple(atom.aval.shape)


def size_of(atom) -> int:
    return int(np.prod(shape_of(atom), dtype=np.int64))


def broadcast_to(sets, in_shape: tuple, out_shape: tuple):
    """An elementwise operand's sets at every entry of the output (a scalar is repeated)."""
    if sets is None or in_shape == out_shape:
        return sets
    positions = np.broadcast_to(np.arange(int(np.prod(in_shape))).reshape(in_shape), out_shape)
    return take(sets, positions)


def elementwise(eqn, ins, value):
    if eqn.primitive.name in ZERO_DERIVATIVE:
        return [None]
    out_shape = shape_of(eqn.outvars[0])
    operands = list(zip(eqn.invars, ins))
    if eqn.primitive.name == "select_n":
        return [select_n(eqn, ins, value)]
    return [union(*(broadcast_to(s, shape_of(a), out_shape) for a, s in operands))]


def select_n(eqn, ins, value):
    """select_n(which, *cases): exactly the case chosen where `which` is a known constant, else their union."""
    out_shape = shape_of(eqn.outvars[0])
    cases = [broadcast_to(s, shape_of(a), out_shape) for a, s in zip(eqn.invars[1:], ins[1:])]
    which = value(0)
    if which is None:
        return union(*cases)
    which = np.broadcast_to(np.asarray(which).astype(np.int64), out_shape).reshape(-1)
    size = len(which)
    present = [(k, s) for k, s in enumerate(cases) if s is not None]
    if not present:
        return None
    n = present[0][1].shape[1]
    stacked = present[0][1] if len(present) == 1 else stack([s for _, s in present], [size] * len(present), n)
    slot = {k: i for i, (k, _) in enumerate(present)}
    offsets = np.array([slot.get(k, -1) for k in range(len(cases))])[which]
    positions = np.where(offsets >= 0, offsets * size + np.arange(size), -1)
    return take(stacked, positions)


def structural(positions_of):
    """A rule from a function (params, input shapes, output shape) → position map over the inputs, one after
    the other (entry e of input k is number offset_k + e; -1: no input entry, e.g. padding)."""

    def rule(eqn, ins, value):
        shapes = [shape_of(a) for a in eqn.invars]
        direct = DIRECT.get(eqn.primitive.name)
        if direct and isinstance(ins[0], Band) and all(s is None for s in ins[1:]):  # no position map at all
            found = bands.apply(ins[0], lambda a: direct(eqn.params, shapes[0], shape_of(eqn.outvars[0]), a))
            if found is not None:
                return [found]
        positions = positions_of(eqn.params, shapes, shape_of(eqn.outvars[0]), value)
        sizes = [size_of(a) for a in eqn.invars]
        offsets = np.cumsum([0] + sizes[:-1])
        present = [k for k, s in enumerate(ins) if s is not None]
        if not present:
            return [None]
        if isinstance(positions, Run):
            if present == [0]:
                return [take_run(ins[0], positions)]
            first, start, length, total = positions  # a pad whose fill value depends on x: as an array
            positions = np.concatenate([np.full(first, -1), np.arange(start, start + length),
                                        np.full(total - first - length, -1)])
        if eqn.primitive.name == "pad" and ins[1] is not None:  # the fill value goes wherever there is padding
            positions = np.where(np.asarray(positions) < 0, sizes[0], positions)
        if len(present) == 1:  # one input has sets (a pad's fill value, a constant piece: none): no stacking
            k = present[0]
            if len(ins) > 1 and not (k == 0 and eqn.primitive.name == "pad"):  # a pad's map is of input 0 alone
                local = positions - offsets[k]
                positions = np.where((local >= 0) & (local < sizes[k]), local, -1)
            return [take(ins[k], positions)]
        stacked = stack(ins, sizes, ins[present[0]].shape[1])
        return [take(stacked, positions)]

    return rule


def same_order(eqn, ins, value):
    """reshape (without `dimensions`, its transposing form) and squeeze: the entries keep their row-major
    order, and so their sets. (squeeze's `dimensions` name the axes of size 1 that it drops.)"""
    if eqn.primitive.name == "reshape" and eqn.params.get("dimensions"):
        return structural(POSITIONS[eqn.primitive.name])(eqn, ins, value)
    return [ins[0]]


def concatenate(eqn, ins, value):
    """Along the first axis the pieces lie one after the other, as their sets do: no position map."""
    if eqn.params["dimension"] != 0:
        return structural(POSITIONS["concatenate"])(eqn, ins, value)
    present = [s for s in ins if s is not None]
    return [stack(ins, [size_of(a) for a in eqn.invars], present[0].shape[1]) if present else None]


def split(eqn, ins, value):
    """split along `axis` into pieces of `sizes`: each piece a slice (a run of rows when the axis leads)."""
    shape, axis = shape_of(eqn.invars[0]), eqn.params["axis"]
    ids, start, outs = _ids(shape), 0, []
    for size in eqn.params["sizes"]:
        index = [slice(None)] * len(shape)
        index[axis] = slice(start, start + int(size))
        outs.append(take(ins[0], ids[tuple(index)]))
        start += int(size)
    return outs


def reduction(eqn, ins, value):
    """reduce_sum/max/min/prod over `axes`: each output entry is the union of its group."""
    in_shape, out_shape = shape_of(eqn.invars[0]), shape_of(eqn.outvars[0])
    axes = tuple(eqn.params["axes"])
    targets = np.broadcast_to(np.expand_dims(_ids(out_shape), axes), in_shape) if axes else _ids(in_shape)
    return [gather_union(ins[0], targets, size_of(eqn.outvars[0]))]


def cumulative(eqn, ins, value):
    """cumsum and the other scans along `axis`: entry t depends on entries ≤ t (≥ t when reversed). Each input
    column is found at its first position along each line, and entry t holds the columns found by t: work as
    the result's nonzeros (a scan of a∙t + b∙t² over 10⁵ entries is 2·10⁵), not the n²/2 pairs of the scan."""
    from .sets import as_csr, matrix

    if ins[0] is None:
        return [None]
    shape, axis = shape_of(eqn.invars[0]), eqn.params["axis"]
    length, size = shape[axis], size_of(eqn.invars[0])
    ids = np.moveaxis(_ids(shape), axis, -1).reshape(-1, length)  # entry numbers, a line along the axis a row
    sets = as_csr(ins[0])
    n = sets.shape[1]
    step = np.empty(size, np.int64)  # each entry's place along its line, counted in the scan's direction
    line = np.empty(size, np.int64)
    step[ids] = np.arange(length)[::-1] if eqn.params.get("reverse") else np.arange(length)
    line[ids] = np.arange(len(ids))[:, None]
    entry_rows = np.repeat(np.arange(size), np.diff(sets.indptr))
    key = line[entry_rows] * n + sets.indices  # (line, column)
    by_key = np.lexsort((step[entry_rows], key))
    key, first = key[by_key], step[entry_rows][by_key]
    new = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
    key, first = key[new], first[new]  # each (line, column) at the first step it is found
    counts = length - first
    total = int(counts.sum())
    _no_more_than(total)
    which = np.repeat(np.arange(len(key)), counts)
    steps = first[which] + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    places = length - 1 - steps if eqn.params.get("reverse") else steps
    rows, cols = ids[key[which] // n, places], key[which] % n
    by_row = np.lexsort((cols, rows))
    indptr = np.zeros(size + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=size), out=indptr[1:])
    return [matrix(cols[by_row].astype(np.int32 if n < 2**31 else np.int64), indptr, size, n)]


def along_axis(eqn, ins, value):
    """sort (and top_k): every output along the axis depends on every input along it, of every operand."""
    shape = shape_of(eqn.invars[0])
    axis = eqn.params.get("dimension", len(shape) - 1)
    together = union(*[s for s in ins if s is not None])
    ids = _ids(shape)
    groups = np.moveaxis(ids, axis, -1).reshape(-1, shape[axis])
    group_of = np.empty(ids.size, np.int64)
    group_of[groups.reshape(-1)] = np.repeat(np.arange(len(groups)), shape[axis])
    merged = gather_union(together, group_of, len(groups))
    outs = []
    for out in eqn.outvars:
        if np.issubdtype(out.aval.dtype, np.inexact) and shape_of(out)[:axis] == shape[:axis]:
            out_ids = np.moveaxis(_ids(shape_of(out)), axis, -1)
            outs.append(take(merged, np.broadcast_to(np.arange(len(groups)).reshape(out_ids.shape[:-1] + (1,)),
                                                     out_ids.shape).reshape(-1)[np.argsort(out_ids.reshape(-1))]))
        else:
            outs.append(None)
    return outs


def dot_general(eqn, ins, value):
    """out[b, i, j] = Σ_k lhs[b, i, k]·rhs[b, k, j]: the union over the k where the other factor may be
    nonzero (a known constant's nonzeros, else every k), of each factor's sets: two boolean products."""
    import scipy.sparse as sp

    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    ls, rs = shape_of(eqn.invars[0]), shape_of(eqn.invars[1])
    lfree = [d for d in range(len(ls)) if d not in lc and d not in lb]
    rfree = [d for d in range(len(rs)) if d not in rc and d not in rb]
    left = _ids(ls).transpose(list(lb) + lfree + list(lc)).reshape(
        int(np.prod([ls[d] for d in lb])), int(np.prod([ls[d] for d in lfree])), -1)  # (B, I, K)
    right = _ids(rs).transpose(list(rb) + list(rc) + rfree).reshape(left.shape[0], left.shape[2], -1)  # (B, K, J)
    nb, ni, nk = left.shape
    nj = right.shape[2]
    out = np.arange(nb * ni * nj).reshape(nb, ni, nj)

    def mask(k):
        known = value(k)
        ids = left if k == 0 else right
        if known is None:
            return np.ones(ids.shape, bool)
        return (np.asarray(known).reshape(-1)[ids.reshape(-1)] != 0).reshape(ids.shape)

    parts = []
    _no_more_than((ins[0] is not None) * nb * nk * nj * ni + (ins[1] is not None) * nb * ni * nk * nj, mask_size=True)
    if ins[0] is not None:  # lhs[b, i, k] where rhs[b, k, j] may be nonzero, for every i
        b, k, j = np.nonzero(mask(1))
        rows = out[b[:, None], np.arange(ni)[None, :], j[:, None]].reshape(-1)
        cols = left[b[:, None], np.arange(ni)[None, :], k[:, None]].reshape(-1)
        parts.append(product(sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(out.size, left.size)),
                             ins[0]))
    if ins[1] is not None:  # rhs[b, k, j] where lhs[b, i, k] may be nonzero, for every j
        b, i, k = np.nonzero(mask(0))
        rows = out[b[:, None], i[:, None], np.arange(nj)[None, :]].reshape(-1)
        cols = right[b[:, None], k[:, None], np.arange(nj)[None, :]].reshape(-1)
        parts.append(product(sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(out.size, right.size)),
                             ins[1]))
    return [union(*parts)]


def _no_more_than(pairs: int, mask_size: bool = False) -> None:
    """Refuse, before building it, a selector of more pairs than a set may hold (cumsum of 10⁶ entries: 5·10¹¹).
    A product's pairs are counted as if every entry of the other factor were nonzero: its known zeros may make
    fewer, so it is refused only when that bound is also far beyond the limit."""
    from .sets import LIMIT, TooDense

    if pairs > LIMIT["nnz"] * (64 if mask_size else 1):
        raise TooDense(f"about {pairs:,} dependencies")


def gather(eqn, ins, value):
    """gather with constant indices: the same gather of entry numbers gives the position map."""
    indices = value(1)
    if indices is None:
        raise Unknown("gather with indices that depend on x")
    positions = _bind_on_ids(eqn, shape_of(eqn.invars[0]), indices)
    return [take(ins[0], positions)]


def scatter(eqn, ins, value):
    """scatter(-add, -mul, …) with constant indices: the operand's sets, and each update's sets added at the
    entry it goes to (found by the gather that is scatter-add's transpose). A replaced entry keeps its old set:
    a superset."""
    from jax import lax

    indices = value(1)
    if indices is None:
        raise Unknown(f"{eqn.primitive.name} with indices that depend on x")
    d = eqn.params["dimension_numbers"]
    operand_shape, updates_shape = shape_of(eqn.invars[0]), shape_of(eqn.invars[2])
    sizes, position = [], 0
    for axis in range(len(operand_shape)):
        if axis in d.inserted_window_dims or axis in d.operand_batching_dims:
            sizes.append(1)
        else:
            sizes.append(updates_shape[d.update_window_dims[position]])
            position += 1
    numbers = lax.GatherDimensionNumbers(
        offset_dims=d.update_window_dims, collapsed_slice_dims=d.inserted_window_dims,
        start_index_map=d.scatter_dims_to_operand_dims, operand_batching_dims=d.operand_batching_dims,
        start_indices_batching_dims=d.scatter_indices_batching_dims)
    ids = (_ids(operand_shape) + 1).astype(np.float64)
    targets = np.asarray(lax.gather(ids, indices, numbers, tuple(sizes), mode=lax.GatherScatterMode.FILL_OR_DROP,
                                    fill_value=0)).astype(np.int64) - 1
    return [union(ins[0], gather_union(ins[2], targets, size_of(eqn.outvars[0])))]


def _bind_on_ids(eqn, shape, indices) -> np.ndarray:
    """The primitive itself applied to entry numbers + 1 (exact in float64); out-of-range fills become -1."""
    params = dict(eqn.params)
    if "fill_value" in params:
        params["fill_value"] = 0
    ids = (_ids(shape) + 1).astype(np.float64)
    found = np.asarray(eqn.primitive.bind(ids, indices, **params))
    return np.where(np.isfinite(found), found, 0).astype(np.int64) - 1


def dense(eqn, ins, value):
    """Every output entry depends on everything every input depends on."""
    n = next(s for s in ins if s is not None).shape[1]
    return [spread(ins, size_of(out), n) if np.issubdtype(out.aval.dtype, np.inexact) else None
            for out in eqn.outvars]


RULES = {
    **{name: elementwise for name in ELEMENTWISE},
    **{name: structural(positions) for name, positions in POSITIONS.items()},
    **{name: same_order for name in ("reshape", "squeeze", "expand_dims")},
    "concatenate": concatenate,
    **{name: reduction for name in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod")},
    **{name: cumulative for name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")},
    **{name: dense for name in DENSE},
    "sort": along_axis, "top_k": along_axis, "split": split,
    "dot_general": dot_general,
    "gather": gather,
    **{name: scatter for name in ("scatter", "scatter-add", "scatter_add", "scatter-mul", "scatter_mul",
                                  "scatter-min", "scatter_min", "scatter-max", "scatter_max", "scatter-sub")},
}
