"""Plain JAX with NumPy text I/O (np.loadtxt / np.savetxt): the slow reference."""
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def f(x):
    return jnp.stack([x[0] ** 2 * x[1], jnp.sin(x[2])])


points = np.loadtxt(sys.argv[1], delimiter=",")
jacobians = np.asarray(jax.jit(jax.vmap(jax.jacfwd(f)))(points))
np.savetxt(sys.argv[2], jacobians.reshape(len(points), -1), delimiter=",", fmt="%r")
