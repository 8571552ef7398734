"""Plain JAX: H·v of f(x) = sum(tanh(x)**2) (forward-over-reverse), x and v from .npy, to .npy."""
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def f(x):
    return jnp.sum(jnp.tanh(x) ** 2)


x, v = np.load(sys.argv[1]), np.load(sys.argv[2])
hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
np.save(sys.argv[3], np.asarray(hvp(x, v)))
