"""samples/serve_trust_ncg.py with plain JAX callbacks: the same optimiser, start and function, jitted
jax.value_and_grad and forward-over-reverse HVP in float64, as a user would write them."""
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

jax.config.update("jax_enable_x64", True)
start = time.perf_counter()
n = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def f(x):
    return jnp.sum(100 * (x[1::2] - x[::2] ** 2) ** 2 + (1 - x[::2]) ** 2)


value_and_grad = jax.jit(jax.value_and_grad(f))
hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])


def f_and_gradient(x):
    value, gradient = value_and_grad(x)
    return float(value), np.asarray(gradient)


def hessp(x, p):
    return np.asarray(hvp(x, p))


result = minimize(f_and_gradient, np.tile([-1.2, 1.0], n // 2), jac=True, hessp=hessp, method="trust-ncg",
                  options={"gtol": 1e-8, "maxiter": 10_000})
error = float(np.max(np.abs(result.x - 1)))
print(f"trust-ncg, extended Rosenbrock, n = {n}: {result.message}")
print(f"iterations {result.nit}, f and gradient {result.nfev}, Hessian-vector products {result.nhev}")
print(f"f = {result.fun:.3e}, max |x - 1| = {error:.1e}, {time.perf_counter() - start:.2f} s")
sys.exit(0 if result.success and error < 1e-6 else 1)
