"""Plain JAX: the Jacobian of f = [x0**2*x1, sin(x2)] at every row of a CSV file, to a CSV file (polars I/O)."""
import sys

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl

jax.config.update("jax_enable_x64", True)


def f(x):
    return jnp.stack([x[0] ** 2 * x[1], jnp.sin(x[2])])


points = pl.read_csv(sys.argv[1], has_header=False).to_numpy()
jacobians = np.asarray(jax.jit(jax.vmap(jax.jacfwd(f)))(points))
names = [f"df{i}/dx{j}" for i in range(2) for j in range(3)]
pl.DataFrame(jacobians.reshape(len(points), -1), schema=names, orient="row").write_csv(sys.argv[2])
