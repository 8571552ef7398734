"""Sparse patterns held as bands (compute/sparse/bands.py), and the colourings that read their diagonals: every
operation against the same one on dense boolean arrays, every colouring read back from products by NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from test_sparse import products_of, setup_of, true_pattern


def dense_of(sets, rows: int, n: int) -> np.ndarray:
    from jaccli.compute.sparse.sets import as_csr

    return np.zeros((rows, n), bool) if sets is None else as_csr(sets).toarray()


@pytest.mark.parametrize("seed", range(6))
def test_band_operations_equal_dense_ones(seed):
    """Random takes (with -1), slices, pads, unions at one or several shifts and stacks, on both forms."""
    from jaccli.compute.sparse import sets
    from jaccli.compute.sparse.bands import Band

    rng = np.random.default_rng(seed)
    n = 50
    pool = [(sets.identity(n), np.eye(n, dtype=bool))]
    for _ in range(40):
        band, dense = pool[rng.integers(len(pool))]
        rows = dense.shape[0]
        step = rng.integers(5)
        if step == 0:  # a gather with padding
            positions = rng.integers(-1, rows, rng.integers(1, 2 * n))
            found = sets.take(band, positions), np.where((positions >= 0)[:, None], dense[positions], False)
        elif step == 1:  # a slice, perhaps padded
            start = int(rng.integers(rows))
            length = int(rng.integers(1, rows - start + 1))
            first, after = int(rng.integers(3)) * int(rng.integers(2)), int(rng.integers(3)) * int(rng.integers(2))
            padded = np.zeros((first + length + after, n), bool)
            padded[first:first + length] = dense[start:start + length]
            found = sets.take_run(band, (first, start, length, first + length + after)), padded
        elif step == 2:  # a union with another set of as many rows
            same = [(b, d) for b, d in pool if d.shape[0] == rows]
            other, other_dense = same[rng.integers(len(same))]
            found = sets.union(band, other), dense | other_dense
        elif step == 3:  # shifted copies of itself, unioned: the anchors differ by a few distances
            shift = int(rng.integers(1, 4))
            moved = sets.take(band, np.r_[np.arange(shift, rows), np.full(shift, -1)])
            found = sets.union(band, moved), dense | np.r_[dense[shift:], np.zeros((shift, n), bool)]
        else:  # stacked with another
            other, other_dense = pool[rng.integers(len(pool))]
            found = sets.stack([band, other], [rows, other_dense.shape[0]], n), np.r_[dense, other_dense]
        if found[0] is not None and found[0].shape[0] <= 4 * n:
            pool.append(found)
    for band, dense in pool:
        np.testing.assert_array_equal(dense_of(band, *dense.shape), dense)
    assert any(isinstance(band, Band) for band, _ in pool[1:])


def test_a_union_past_64_offsets_becomes_csr_and_stays_exact():
    from jaccli.compute.sparse import sets
    from jaccli.compute.sparse.bands import Band

    n = 300
    band, dense = sets.identity(n), np.eye(n, dtype=bool)
    for shift in range(1, 80):  # offsets 0 … 79 from each anchor
        band = sets.union(band, sets.take(sets.identity(n), np.r_[np.arange(shift, n), np.full(shift, -1)]))
        dense = dense | np.eye(n, k=shift, dtype=bool)
    assert not isinstance(band, Band)
    np.testing.assert_array_equal(dense_of(band, n, n), dense)


def test_a_band_lacking_many_entries_converts_exactly():
    """Every other row lacks its second diagonal: more gaps than the CSR form copies stretch by stretch."""
    import scipy.sparse as sp

    from jaccli.compute.sparse.bands import MAX_STRETCHES
    from jaccli.compute.sparse.sets import identity, take, union

    n = 4 * MAX_STRETCHES
    positions = np.where(np.arange(n) % 2 == 0, np.arange(n) + 1, -1)
    positions[-1] = -1
    band = union(identity(n), take(identity(n), positions))
    upper = np.flatnonzero(positions >= 0)
    rows, cols = np.r_[np.arange(n), upper], np.r_[np.arange(n), upper + 1]
    kept = sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(n, n))
    found = band.tocsr()
    assert found.nnz == kept.nnz == n + n // 2 and (found != kept).nnz == 0


def test_diagonals_are_those_of_the_entries():
    from jaccli.compute.sparse.bands import Band, diagonals
    from jaccli.compute.sparse.sets import identity, take, union

    n = 40
    shifted = [take(identity(n), np.r_[np.arange(k, n), np.full(k, -1)]) for k in (3, 5)]
    band = union(identity(n), shifted[0], take(shifted[1], np.r_[np.full(7, -1), np.arange(n - 7)]))
    assert isinstance(band, Band)
    matrix = band.tocsr()
    rows = np.repeat(np.arange(n), np.diff(matrix.indptr))
    np.testing.assert_array_equal(diagonals(band), np.unique(matrix.indices - rows))


def jax_pattern(f, n: int, hessian: bool = False):
    from jaccli.compute.sparse.pattern import hessian_pattern, jacobian_pattern

    return hessian_pattern(f, n, 0, np.float64) if hessian else jacobian_pattern(f, n, 0, np.float64)[0]


def test_many_shifted_slices_are_found_exactly():
    """70 diagonals (past a Band's 64 offsets on the way), and a reversed copy: against JAX's Jacobian."""
    import jax
    import jax.numpy as jnp

    n = 100

    def f(z, c):
        total = z[:30] * z[::-1][:30]
        for k in range(70):
            total = total + jnp.sin(z[k:k + 30])
        return total

    found = jax_pattern(f, n).toarray()
    z = np.random.default_rng(0).uniform(0.5, 1.5, n)
    true = np.asarray(jax.jit(jax.jacfwd(f))(z, np.zeros(0))) != 0
    np.testing.assert_array_equal(found, true)


def test_structural_primitives_on_bands_against_jax():
    """2-D pads that cut, concatenates along a later axis, stacks, transposes, reversals, broadcasts, a where
    with a constant mask and a scalar: each function's pattern equals JAX's Jacobian's nonzeros."""
    import jax
    import jax.numpy as jnp

    def grid(z):
        return z[:48].reshape(6, 8)

    functions = [
        lambda z, c: jax.lax.pad(grid(z) ** 2, 0.0, ((-1, 2, 0), (1, -2, 0))).reshape(-1) + z[49],
        lambda z, c: jnp.concatenate([grid(z)[:, 1:], grid(z)[:, :1] ** 2], axis=1).reshape(-1),
        lambda z, c: jnp.stack([z[1:], z[:-1] * z[2:].sum()], axis=1).reshape(-1)[::3],
        lambda z, c: (grid(z).T[::-1] * grid(z)[:, 0]).reshape(-1) + z[5],
        lambda z, c: jnp.where(jnp.arange(50) % 3 == 0, z ** 2, jnp.roll(z, 7)) * z[::-1],
        lambda z, c: 2 * jnp.cumsum(z[:10]) + jnp.diff(z)[:10] + jnp.sum(z[20:30] ** 2),
    ]
    z = np.random.default_rng(4).uniform(0.5, 1.5, 50)
    for f in functions:
        found = jax_pattern(f, 50).toarray()
        true = np.asarray(jax.jit(jax.jacfwd(f))(z, np.zeros(0))).reshape(found.shape) != 0
        np.testing.assert_array_equal(found, true)


@pytest.mark.parametrize("expr, at", [
    ("sum((u[1:,:]-u[:-1,:])**2) + sum((u[:,1:]-u[:,:-1])**2) + sum(u**4)", "u=zeros((30,40))"),
    ("sum((x[1:]-x[:-1])**2) + sum((x[40:]-x[:-40])**2) + sum(x**4)", "x=zeros(1200)"),  # rows wrap at 40
    ("sum((x[1:]-x[:-1])**2) + sum((x[7:]-x[:-7])**4) + sum(x[::3]**3)", "x=zeros(500)"),
])
def test_stencil_colourings_read_back_every_entry(expr, at):
    """Patterns that carry their diagonals (a 2-D stencil, one whose grid rows wrap): the lattice colouring
    checks only the rows at the grid's edges, so a random symmetric H on the pattern must still come back."""
    import scipy.sparse as sp

    from jaccli.compute.sparse.colour import colour_hessian
    from jaccli.compute.sparse.pattern import hessian_pattern

    s = setup_of("hessian", expr, at)
    pattern = hessian_pattern(s.function, s.layout.z_size, 0, np.float64)
    assert pattern._jaccli_diagonals is not None
    colouring = colour_hessian(pattern)
    values = np.random.default_rng(1).normal(size=pattern.nnz)
    h = sp.csr_array((values, pattern.indices, pattern.indptr), shape=pattern.shape).toarray()
    h = h + h.T
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    np.testing.assert_array_equal(products_of(h, colouring)[colouring.gather], h[rows, pattern.indices])
    assert colouring.colours <= int(np.diff(pattern.indptr).max()) + 2


@pytest.mark.parametrize("expr", [
    "(3-2*x)*x - concatenate([[0], x[:-1]]) - 2*concatenate([x[1:], [0]]) + 1",  # a band: columns
    "x[1:]*x[0] + x[:-1]",  # a dense column: rows
    "concatenate([x[:-1]*x[-1], [sum(x)]])",  # a dense row and column
    "x[::2]*x[1::2]",
])
def test_the_jacobian_takes_the_better_side(expr):
    """Reading a few columns to prove the column colouring optimal never loses a better row colouring."""
    from jaccli.compute.sparse.colour import colour_jacobian
    from jaccli.compute.sparse.pattern import jacobian_pattern

    s = setup_of("jacobian", expr, "x=random(600, seed=3)")
    pattern = jacobian_pattern(s.function, s.layout.z_size, 0, np.float64)[0]
    sides = [colour_jacobian(pattern, prefer).colours for prefer in ("fwd", "rev")]
    assert colour_jacobian(pattern).colours == min(sides)
    assert np.array_equal(pattern.toarray(), true_pattern("jacobian", expr, "x=random(600, seed=3)", points=2))


def test_squeeze_keeps_the_sets_of_its_entries():
    """squeeze drops axes of size 1 (its `dimensions` name them): the entries' order and sets stay."""
    import jax
    import jax.numpy as jnp

    functions = [lambda z, c: jnp.squeeze(jnp.reshape(z, (1, 6, 1)))[::-1] * z[0],
                 lambda z, c: jnp.squeeze(z.reshape(2, 1, 3), axis=1)[1] * z[:3]]
    z = np.arange(1.0, 7.0)
    for f in functions:
        true = np.asarray(jax.jit(jax.jacfwd(f))(z, np.zeros(0))) != 0
        np.testing.assert_array_equal(jax_pattern(f, 6).toarray(), true)
