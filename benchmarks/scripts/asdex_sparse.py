"""asdex (when it installs): the same sparse jobs as `--only sparse`, a whole process each, .npz out.

    python asdex_sparse.py rosenbrock|broyden|stencil N OUT.npz     (stencil: N×N grid)
"""
import sys
import time

import jax
import jax.numpy as jnp
import scipy.sparse as sp

import asdex

jax.config.update("jax_enable_x64", True)
job, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def rosenbrock(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def broyden(x):
    return (3 - 2 * x) * x - jnp.concatenate([jnp.zeros(1), x[:-1]]) - 2 * jnp.concatenate([x[1:], jnp.zeros(1)]) + 1


def stencil(x):
    u = x.reshape(n, n)  # a flat input: asdex's SciPy output takes 1-D inputs only
    return jnp.sum((u[1:, :] - u[:-1, :]) ** 2) + jnp.sum((u[:, 1:] - u[:, :-1]) ** 2) + jnp.sum(u**4)


x = jnp.full(n * n if job == "stencil" else n, 0.5)
f = {"rosenbrock": rosenbrock, "broyden": broyden, "stencil": stencil}[job]
started = time.perf_counter()
if job == "broyden":
    coloring = asdex.jacobian_coloring(f, x)
    prepared = time.perf_counter()
    matrix = asdex.jacobian_from_coloring(f, coloring, output_format="scipy_csr")(x)
else:
    coloring = asdex.hessian_coloring(f, x)
    prepared = time.perf_counter()
    matrix = asdex.hessian_from_coloring(f, coloring, output_format="scipy_csr")(x)
done = time.perf_counter()
sp.save_npz(out, sp.csr_matrix(matrix), compressed=False)
print(f"asdex {job} {n}: detect+colour {prepared - started:.3f} s, evaluate {done - prepared:.3f} s", file=sys.stderr)
