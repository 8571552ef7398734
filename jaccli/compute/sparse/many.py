"""Many points, sparse: the pattern is global (valid at every point), so one scheme and one compiled
`jax.vmap` of the products over a chunk of points serve them all; each point's nonzeros are one gather of its
row of products into the scheme's CSR.

A file's points go in chunks (the first chunk read whole before anything is compiled, so a short file is
compiled for its own length, a long one once, its last chunk padded); a stream (`--at -`) a point at a time,
as each arrives.

    >>> for result in sparse_points(request, point_specs(request)):   # --at @points.npy --sparse
    ...     result.matrix                                              # scipy.sparse.csr_array, one a point
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from ...errors import JaccliError, PointError, warn
from ...inputs.records import BadRecord
from .. import cache
from ..backend import device_name, load_jax, runtime_error, select_device
from ..prepare import bind, plan, read_expression
from .evaluate import SparseResult, decompress, operator, sparse_scheme

CHUNK_BYTES = 256 * 2**20  # what one chunk's products, nonzeros and points may take, roughly
MAX_CHUNK = 1024
_NONE = object()


def sparse_points(request, specs, *, executables: dict | None = None):
    """Each point's SparseResult, in order; a point whose variables' shapes differ from the first point's stops
    with a PointError once those before it are given. A BadRecord among `specs` comes out in its place, after
    the results before it."""
    jax, _ = load_jax(cache.usable(request.no_cache))  # JAX's own cache keeps the vmapped executable, as for
    device = select_device(request.device)  # dense points (batch.py)
    expression = read_expression(request.expr)
    setups = _bound(request, specs, expression)
    setup, number = next(setups, _NONE), 1  # number: the record's, bad ones counted
    while isinstance(setup, BadRecord):  # the scheme is made at the first good point
        yield setup
        setup, number = next(setups, _NONE), number + 1
    if setup is _NONE:  # a file of no (good) points: nothing to write
        return
    found = sparse_scheme(setup, device, use_cache=cache.usable(request.no_cache), memory=executables)
    if found is None:
        raise JaccliError(f"`{request.command}` has no sparse form here", hint="use --no-sparse")
    scheme, first_plan = found[:2]
    points = _Points(jax, setup, first_plan, scheme, device, 1 if _streamed(request) else _chunk(scheme, setup))
    pending, shapes, current = [], _shapes(setup), setup
    while True:
        pending.append(current)
        if len(pending) == points.chunk:
            yield from points.evaluate(pending)
            pending = []
        current, number = next(setups, _NONE), number + 1
        while isinstance(current, BadRecord):
            if pending:
                yield from points.evaluate(pending)
                pending = []
            yield current
            current, number = next(setups, _NONE), number + 1
        if current is _NONE:
            break
        if current.dtype != setup.dtype:
            if pending:
                yield from points.evaluate(pending)
            raise PointError(f"record {number}: its values are {current.dtype.name}, but the first record's were "
                             f"{setup.dtype.name}", hint="sparse derivatives take real points; results before it "
                             "were written")
        if _shapes(current) != shapes:
            if pending:
                yield from points.evaluate(pending)
            raise PointError(f"record {number}: the variables have shapes {_text(_shapes(current))}, but the "
                             f"first record's were {_text(shapes)}: one pattern is for points of one shape",
                             hint="results before it were written; run points of other shapes apart")
    if pending:
        yield from points.evaluate(pending)


def _bound(request, specs, expression):
    """Each point's Setup; from point_specs(…, bad=True), a BadRecord for a record that is bad, or that bind
    refuses (a value that is not a number)."""
    for item in specs:
        if isinstance(item, BadRecord):
            yield item
        elif isinstance(item, tuple):
            spec, line, index = item
            try:
                yield bind(request, spec, expression)
            except PointError as error:
                yield BadRecord(line, error.message, index)
        else:
            yield bind(request, item, expression)


class _Points:
    """The products of a chunk of points: one executable, compiled at the first chunk for its size."""

    def __init__(self, jax, setup, first_plan, scheme, device, chunk: int):
        self.jax, self.setup, self.plan, self.scheme, self.device = jax, setup, first_plan, scheme, device
        self.chunk, self.compiled, self.size = chunk, None, None
        self.w = scheme.colouring.seeds()
        self.status = "miss" if cache.usable(setup.request.no_cache) else "off"  # not jaccli's one-point entry

    def evaluate(self, setups: list):
        if self.compiled is None:
            self.size = len(setups)  # a whole chunk, or every point there is (or before a bad record)
            self.compiled = self._compile(self.size)
        if len(setups) > self.size:  # compiled for fewer: slices of its size
            for start in range(0, len(setups), self.size):
                yield from self.evaluate(setups[start:start + self.size])
            return
        z = _padded(np.stack([s.z for s in setups]), self.size)
        c = _padded(np.stack([s.c for s in setups]), self.size)
        try:
            with self.jax.default_device(self.device):
                products, finite = self.compiled(z, c, self.w)
                products, finite = np.asarray(products), np.asarray(finite)
        except (RuntimeError, MemoryError) as error:
            raise runtime_error(error, "try --device cpu, a smaller problem, or --dtype float32") from error
        device = device_name(self.device)
        for k, setup in enumerate(setups):
            if not finite[k]:
                warn("f itself is not finite (nan or inf) at this point: the derivative there means little")
            the_plan = replace(plan(setup, self.plan.out_shape, blocks=False, guard=False, complex_out=False),
                               mode=self.plan.mode)
            yield SparseResult(the_plan, decompress(self.scheme, products[k]), self.scheme, device, self.status)

    def _compile(self, size: int):
        import jax.numpy as jnp

        jax, setup, colouring = self.jax, self.setup, self.scheme.colouring
        f = setup.function
        g = operator(f, setup.command.name, self.plan.mode, (colouring.n_forward, colouring.n_reverse),
                     self.plan.out_shape, setup.layout.z_size, setup.dtype)

        def checked(z, c, w):
            return g(z, c, w), jnp.all(jnp.isfinite(f(z, c)))

        shapes = [jax.ShapeDtypeStruct((size, *a.shape), a.dtype) for a in (setup.z, setup.c)]
        with jax.default_device(self.device):
            return jax.jit(jax.vmap(checked, in_axes=(0, 0, None))).lower(*shapes, self.w).compile()


def _chunk(scheme, setup) -> int:
    """Points a chunk: what CHUNK_BYTES (and a quarter of the memory budget) holds of products, their
    intermediates, nonzeros and points."""
    colouring = scheme.colouring
    m, n = scheme.pattern.shape
    products = colouring.n_forward * m + colouring.n_reverse * n
    per_point = (4 * products + scheme.nnz + 2 * setup.layout.z_size) * setup.dtype.itemsize
    return int(max(1, min(MAX_CHUNK, min(CHUNK_BYTES, setup.budget // 4) // max(per_point, 1))))


def _streamed(request) -> bool:
    """Whether the points come from a stream (standard input, a pipe): computed as each arrives."""
    from ...inputs.sources import record_source

    source = record_source(request.at, "--at")
    return source == "-" or (source is not None and not os.path.isfile(source))


def _padded(rows: np.ndarray, size: int) -> np.ndarray:
    """The last chunk, filled up to the compiled size with copies of its last point (computed, not written)."""
    if len(rows) == size:
        return rows
    return np.concatenate([rows, np.repeat(rows[-1:], size - len(rows), axis=0)])


def _shapes(setup) -> list:
    return [(slot.name, slot.shape) for slot in setup.layout.slots]


def _text(shapes) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in shapes)
