"""Plain JAX: benchmarks/model30.txt written directly in jax.numpy, its grad or Hessian in x, printed as
jaccli's plain format prints it (a vector one number a line, a matrix one row a line).

    python plain_model.py grad|hessian DIR     (DIR holds x.npy and the constants W1.npy … t.npy)
"""
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
NAMES = ("x", "W1", "b1", "W2", "b2", "w3", "K", "m", "t")


def f(x, W1, b1, W2, b2, w3, K, m, t):
    z1 = W1 @ x + b1
    h1 = jnp.tanh(z1)
    z2 = W2 @ h1 + b2
    h2 = jnp.tanh(z2)
    out = w3 @ h2
    reg1 = jnp.sum(h1**2)
    reg2 = jnp.sum(h2**2) / 32
    q = h2 @ h2
    coup = out * q
    lse = jax.nn.logsumexp(z2)
    soft = jnp.mean(jax.nn.softplus(z1))
    back = (W1.T @ h1) @ x / 100
    d = jnp.diff(x)
    stretch = d - 0.1
    spring = 1.5 * jnp.sum(stretch**2)
    Kx = K @ x
    elastic = 0.5 * x @ Kx
    grav = 9.81 * jnp.sum(m * x)
    r = x - t
    fit = 0.5 * r @ r
    s = jax.nn.sigmoid(x)
    ent = jnp.sum(s * jnp.log(s) + (1 - s) * jnp.log(1 - s))
    nl = jnp.sum(jnp.tanh(Kx / 10) * r)
    damp = jnp.exp(-0.01 * fit) * jnp.sum(jnp.cos(d))
    c = jnp.cumsum(x) / 100
    drift = 0.5 * jnp.sum(c**2)
    e1 = elastic + spring + grav
    e2 = fit + nl + ent
    e3 = out + reg1 + reg2 + coup + lse
    e4 = soft + back + damp + drift
    return e1 + 0.1 * e2 + 0.01 * e3 + e4


job, folder = sys.argv[1], Path(sys.argv[2])
x, *constants = (jnp.asarray(np.load(folder / f"{name}.npy")) for name in NAMES)
derivative = jax.grad(f) if job == "grad" else jax.hessian(f)
value = np.asarray(jax.jit(derivative)(x, *constants))
print("\n".join(" ".join(map(repr, row)) for row in value.reshape(len(value), -1).tolist()))
