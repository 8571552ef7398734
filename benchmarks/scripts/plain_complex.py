"""Plain JAX: the holomorphic gradient of f = z0**2*z1 + sin(z0) at every complex row of a .npy or CSV file
(cells like 1+2j, NumPy's parser), to a .npy or CSV file (Python's spelling of each number, as jaccli writes)."""
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def f(z):
    return z[0] ** 2 * z[1] + jnp.sin(z[0])


source, target = sys.argv[1], sys.argv[2]
points = np.load(source) if source.endswith(".npy") else np.loadtxt(source, delimiter=",", dtype=complex, ndmin=2)
values = np.asarray(jax.jit(jax.vmap(jax.grad(f, holomorphic=True)))(points))
if target.endswith(".npy"):
    np.save(target, values)
else:
    with open(target, "w") as file:
        file.write("df/dz0,df/dz1\n")
        file.writelines(",".join(repr(complex(x)).strip("()") for x in row) + "\n" for row in values.tolist())
