"""Plain JAX + SciPy: f, ∇f and the extreme eigenvalues of the extended Rosenbrock Hessian by eigsh on a jitted HVP.

    python plain_lanczos_eigsh.py x.npy out.json
"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

jax.config.update("jax_enable_x64", True)


def f(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


x = np.load(sys.argv[1])
value, gradient = jax.jit(jax.value_and_grad(f))(x)
hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
count = 0


def matvec(v):
    global count
    count += 1
    return np.asarray(hvp(x, v))


operator = LinearOperator((x.size, x.size), matvec=matvec, dtype=np.float64)
start = np.random.default_rng(0).standard_normal(x.size)
extremes = np.sort(eigsh(operator, k=2, which="BE", v0=start, tol=1e-10, return_eigenvectors=False))
with open(sys.argv[2], "w") as out:
    json.dump({"value": float(value), "gradient_norm": float(np.linalg.norm(gradient)),
               "extreme_eigenvalues": extremes.tolist(), "hvps": count}, out)
