"""Plain JAX: the Hessian of the extended Rosenbrock function at x = 0.5 (n from argv), to .npy."""
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def f(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


x = jnp.full(int(sys.argv[1]), 0.5)
np.save(sys.argv[2], np.asarray(jax.jit(jax.hessian(f))(x)))
