"""Plain JAX: Jacobians of f = [x0**2*x1, sin(x2)] at every row of a .npy file, to a .npy file."""
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def f(x):
    return jnp.stack([x[0] ** 2 * x[1], jnp.sin(x[2])])


points = np.load(sys.argv[1])
np.save(sys.argv[2], np.asarray(jax.jit(jax.vmap(jax.jacfwd(f)))(points)))
