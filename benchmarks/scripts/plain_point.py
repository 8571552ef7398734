"""Plain JAX at one point, as a user would write it: jit(jacfwd | hessian | hvp) in float64, printed."""
import sys

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)
job = sys.argv[1]
if job == "jacobian":
    f = lambda x: jnp.stack([x[0] ** 2 * x[1], jnp.sin(x[2])])  # noqa: E731
    print(jax.jit(jax.jacfwd(f))(jnp.array([1.0, 2.0, jnp.pi / 2])))
elif job == "hessian":
    g = lambda x: x[0] ** 2 * x[1] + x[1] ** 3  # noqa: E731
    print(jax.jit(jax.hessian(g))(jnp.array([1.0, 2.0])))
else:
    g = lambda x: x[0] ** 2 * x[1] + x[1] ** 3  # noqa: E731
    hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(g), (x,), (v,))[1])
    print(hvp(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0])))
