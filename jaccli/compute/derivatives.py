"""The derivative operators, each a composition of JAX's own.

Every operator takes `f(z, c)` (z: the flat vector we differentiate, c: the held
variables) and returns `g(z, c, w)` with one more argument `w`: the tangent `v`
for jvp/hvp, the cotangent `u` for vjp, ignored otherwise. One signature for all
makes every operator jit- and vmap-able the same way.

Shapes, for f: ℝⁿ → out_shape (example f = [x0**2*x1, sin(x2)], n = 3, out (2,)):

    value     out_shape                  f(x)                   (2,)
    grad      (n,)                       ∇f (f scalar)
    jacobian  out_shape + (n,)           ∂f/∂x                  (2, 3)
    hessian   out_shape + (n, n)         ∂²f/∂x²                (2, 3, 3)
    jvp       out_shape                  J·v                    (2,)
    vjp       (n,)                       uᵀ·J                   (3,)
    hvp       (n,)                       H·v (f scalar), H never formed
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp


def _jac(mode: str, holomorphic: bool = False):
    """jax.jacfwd or jax.jacrev; holomorphic: the complex derivative (complex in, complex out)."""
    return functools.partial(jax.jacfwd if mode == "fwd" else jax.jacrev, holomorphic=holomorphic)


def value(f, mode=None, holomorphic=False):
    """f itself, as an operator: the `eval` command."""
    return lambda z, c, w: f(z, c)


def grad(f, mode=None, holomorphic=False):
    return lambda z, c, w: jax.grad(f, holomorphic=holomorphic)(z, c)


def jacobian(f, mode, holomorphic=False):
    return lambda z, c, w: _jac(mode, holomorphic)(f)(z, c)


def hessian(f, mode, holomorphic=False):
    outer, inner = (_jac(m, holomorphic) for m in mode.split("-"))
    return lambda z, c, w: outer(inner(f))(z, c)


def jvp(f, mode=None, holomorphic=False):
    return lambda z, c, v: jax.jvp(lambda z: f(z, c), (z,), (v,))[1]


def vjp(f, mode=None, holomorphic=False):
    def g(z, c, u):
        out, pullback = jax.vjp(lambda z: f(z, c), z)
        return pullback(u.reshape(out.shape))[0]  # u comes flat: give it the output's shape

    return g


def hvp(f, mode, holomorphic=False):
    """H·v by forward-over-reverse (default), reverse-over-forward or reverse-over-reverse."""

    def fwd_rev(z, c, v):
        return jax.jvp(lambda z: jax.grad(f)(z, c), (z,), (v,))[1]

    def rev_fwd(z, c, v):
        return jax.grad(lambda z: jax.jvp(lambda z: f(z, c), (z,), (v,))[1])(z)

    def rev_rev(z, c, v):
        return jax.grad(lambda z: jnp.vdot(jax.grad(f)(z, c), v))(z)

    return {"fwd-rev": fwd_rev, "rev-fwd": rev_fwd, "rev-rev": rev_rev}[mode]


def _columns_of_hessian(f, mode, c, holomorphic=False):
    """v ↦ ∂²f/∂x² · v, shape out_shape + (n,): one column of the Hessian per basis vector."""
    jacrev = _jac("rev", holomorphic)
    if mode == "fwd-rev":
        return lambda z, v: jax.jvp(lambda z: jacrev(f)(z, c), (z,), (v,))[1]
    if mode == "rev-fwd":
        return lambda z, v: jacrev(lambda z: jax.jvp(lambda z: f(z, c), (z,), (v,))[1])(z)
    return lambda z, v: jacrev(lambda z: jnp.tensordot(jacrev(f)(z, c), v, axes=1))(z)


def blocked(one, count: int, block: int, item_shape: tuple, dtype, *, last: bool):
    """Stack one(e_j) for the count basis vectors e_j, `block` at a time (vmap inside lax.fori_loop).

    The result is written in place into one preallocated array, so peak memory is
    the result plus O(block × one's work), never count × that. `last`: the new
    axis goes last (columns), else first (rows).
    """
    axis = len(item_shape) if last else 0
    shape = item_shape + (count,) if last else (count,) + item_shape

    def place(result, start, size):
        basis = jax.nn.one_hot(start + jnp.arange(size), count, dtype=dtype)
        block_values = jax.vmap(one)(basis)  # (size, *item_shape)
        if last:
            block_values = jnp.moveaxis(block_values, 0, -1)
        index = [0] * len(shape)
        index[axis] = start
        return jax.lax.dynamic_update_slice(result, block_values.astype(dtype), index)

    full, rest = divmod(count, block)
    result = jax.lax.fori_loop(0, full, lambda i, r: place(r, i * block, block), jnp.zeros(shape, dtype))
    return place(result, full * block, rest) if rest else result


def blocked_jacobian(f, mode, block: int, out_shape: tuple, n: int, dtype, holomorphic=False):
    """jacobian K columns (fwd: J·e_j) or K rows (rev: e_iᵀ·J) at a time."""
    m = math.prod(out_shape)

    def g(z, c, w):
        if mode == "fwd":
            return blocked(lambda v: jax.jvp(lambda z: f(z, c), (z,), (v,))[1], n, block, out_shape, dtype,
                           last=True)
        _, pullback = jax.vjp(lambda z: f(z, c), z)
        rows = blocked(lambda u: pullback(u.reshape(out_shape))[0], m, block, (n,), dtype, last=False)
        return rows.reshape(out_shape + (n,))

    return g


def blocked_hessian(f, mode, block: int, out_shape: tuple, n: int, dtype, holomorphic=False):
    """hessian K columns (H·e_j, by the mode's hvp) at a time."""

    def g(z, c, w):
        column = _columns_of_hessian(f, mode, c, holomorphic)
        return blocked(lambda v: column(z, v), n, block, out_shape + (n,), dtype, last=True)

    return g


def nth_derivative(f, order: int, holomorphic: bool = False):
    """The order-th derivative tensor, out_shape + (n,) * order: jacfwd(…jacfwd(jacrev(f)))."""
    g = _jac("rev", holomorphic)(f)
    for _ in range(order - 1):
        g = _jac("fwd", holomorphic)(g)
    return lambda z, c, w: g(z, c)


def mixed_partial(f, directions: tuple[int, ...]):
    """∂ᵏf/∂z[i₁]…∂z[iₖ] by nested forward mode along basis vectors; shape out_shape."""

    def g(z, c, w):
        def along(h, index):
            basis = jax.nn.one_hot(index, z.shape[0], dtype=z.dtype)
            return lambda z: jax.jvp(h, (z,), (basis,))[1]

        h = lambda z: f(z, c)  # noqa: E731
        for index in directions:
            h = along(h, index)
        return h(z)

    return g


def value_and_grad(f, mode=None):
    """f(x) and ∇f(x) in one pass, packed as [f, ∇f…] (one array keeps one compiled signature)."""

    def g(z, c, w):
        f_value, gradient = jax.value_and_grad(f)(z, c)
        return jnp.concatenate([jnp.reshape(f_value, (1,)), gradient])

    return g


OPERATORS = {
    "eval": value,
    "grad": grad,
    "jacobian": jacobian,
    "hessian": hessian,
    "jvp": jvp,
    "vjp": vjp,
    "hvp": hvp,
}

BLOCKED = {"jacobian": blocked_jacobian, "hessian": blocked_hessian}  # commands whose record says blockwise
