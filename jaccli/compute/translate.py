"""Expression → a `jax.numpy` function `f(z, c)` of flat vectors (table-driven).

The tree walker is `language.evaluate.Emitter`; this module gives it `jax.numpy`
and `_functions()`, a table from the canonical names of `functions.SIGNATURES`.
Constants become arrays of the run's dtype (never Python arithmetic, so `(-8)**(1/3)` is nan and `1/0` is inf as
in NumPy); integer exponents stay integers, so `x**2` is differentiable at x < 0.

    >>> f = build_function(parse_expression("x**2*y + y**3"), Layout.build("xy", {"x": (), "y": ()}))
    >>> f(jnp.array([1.0, 2.0]), jnp.zeros(0))
    Array(10., dtype=float64)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..inputs.layout import Layout
from ..language.arrays import array_functions
from ..language.evaluate import Emitter
from ..language.parse import Expression

if not jax.config.jax_enable_x64:
    jax.config.update("jax_enable_x64", True)  # float64 is the default; float32 only when asked


@functools.cache
def _functions() -> dict:
    from jax.scipy import special

    return {
        "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan,
        "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan, "atan2": jnp.arctan2,
        "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh,
        "asinh": jnp.arcsinh, "acosh": jnp.arccosh, "atanh": jnp.arctanh,
        "exp": jnp.exp, "exp2": jnp.exp2, "expm1": jnp.expm1,
        "log": jnp.log, "log1p": jnp.log1p, "log10": jnp.log10, "log2": jnp.log2,
        "sqrt": jnp.sqrt, "cbrt": jnp.cbrt, "square": jnp.square, "hypot": jnp.hypot,
        "abs": jnp.abs, "sign": jnp.sign, "floor": jnp.floor, "ceil": jnp.ceil,
        "erf": special.erf, "erfc": special.erfc, "gamma": special.gamma, "lgamma": special.gammaln,
        "sigmoid": jax.nn.sigmoid, "softplus": jax.nn.softplus,
        "round": jnp.round, "trunc": jnp.trunc, "sec": lambda x: 1 / jnp.cos(x), "csc": lambda x: 1 / jnp.sin(x),
        "cot": lambda x: 1 / jnp.tan(x), "erfinv": special.erfinv, "digamma": special.digamma,
        "pow": jnp.power, "mod": jnp.mod, "clip": jnp.clip,
        "sum": jnp.sum, "prod": jnp.prod, "mean": jnp.mean, "logsumexp": special.logsumexp,
        "dot": jnp.dot,
        "real": jnp.real, "imag": jnp.imag, "conj": jnp.conj, "angle": jnp.angle,
        **array_functions(jnp),
        "softmax": jax.nn.softmax, "log_softmax": jax.nn.log_softmax,
    }


def build_function(expression: Expression, layout: Layout, dtype=jnp.float64, complex_out: bool = False):
    """f(z, c) → array of the expression's output shape, in `dtype`'s precision: real, or complex when the value is
    (or when `complex_out`, as --holomorphic needs). Constants are real numbers (a complex z does not make `0`
    in `real(z) > 0` complex); `2j` is complex."""
    real = jnp.finfo(dtype).dtype
    complex_ = jnp.result_type(real, jnp.complex64)

    def f(z, c):
        value = _JaxEmitter(expression.text, jnp, _functions(), real).emit_model(expression, _variables(layout, z, c))
        return jnp.asarray(value, complex_ if complex_out or jnp.iscomplexobj(value) else real)

    return f


def definition_shapes(expression: Expression, layout: Layout, dtype=jnp.float64) -> dict[str, tuple[int, ...]]:
    """The shape of each definition of the model, found by tracing (nothing is computed)."""

    def values(z, c):
        env = _variables(layout, z, c)
        emitter = _JaxEmitter(expression.text, jnp, _functions(), jnp.finfo(dtype).dtype)
        for definition in expression.definitions:
            env[definition.name] = emitter.emit(definition.value, env)
        return {d.name: env[d.name] for d in expression.definitions}

    shapes = jax.eval_shape(values, jax.ShapeDtypeStruct((layout.z_size,), dtype),
                            jax.ShapeDtypeStruct((layout.c_size,), dtype))
    return {name: tuple(shape.shape) for name, shape in shapes.items()}


def _variables(layout: Layout, z, c) -> dict:
    """Each variable's value: its slice of z (differentiated) or c (held), in its own shape."""
    env = {}
    for flat, slots in ((z, layout.wrt), (c, layout.held)):
        if not slots:
            continue
        # one split, not a slice each: reverse mode transposes it to one concatenate, where n slices become n
        # pads of the whole length (121 scalar variables: 18,758 HLO lines and ~60 s of XLA compile for a Hessian)
        parts = jnp.split(flat, [slot.offset for slot in slots[1:]]) if len(slots) > 1 else [flat]
        for slot, part in zip(slots, parts):
            env[slot.name] = part.reshape(slot.shape)
    return env


class _JaxEmitter(Emitter):
    what = "the JAX translation"

    def mask(self, env: dict, keep) -> dict:
        """Each variable with its derivative kept only where this `where` branch is taken."""
        return {name: _mask(value, keep) for name, value in env.items()}


@jax.custom_jvp
def _keep_tangent(x, keep):
    """x itself; its derivative is zeroed where `keep` is False (at every order).

    `where(c, a, b)` evaluates both branches; a branch that is nan or inf where it is
    not selected (sqrt(x) for x < 0) would otherwise poison reverse-mode derivatives
    with 0 * nan. Masking the variables that enter each branch keeps them clean.
    """
    return x


@_keep_tangent.defjvp
def _keep_tangent_jvp(primals, tangents):
    x, keep = primals
    return _keep_tangent(x, keep), jnp.where(keep, tangents[0], jnp.zeros_like(tangents[0]))


def _mask(value, keep):
    """`value` with its derivative kept only where `keep`.

    A condition with more axes than the value (a scalar y in where(v > 0, sqrt(y), 0))
    keeps the value's derivative where any element along those axes takes the branch.
    """
    extra = jnp.ndim(keep) - jnp.ndim(value)
    if extra > 0:
        keep = jnp.any(keep, axis=tuple(range(extra)))
    try:
        if jnp.broadcast_shapes(jnp.shape(keep), jnp.shape(value)) != jnp.shape(value):
            return value
    except ValueError:
        return value
    return _keep_tangent(value, jnp.broadcast_to(keep, jnp.shape(value)))
