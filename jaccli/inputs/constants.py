"""Constant values in --at, --v and --u (`pi/2`, `[1, sqrt(2)]`, `2*ones(3)`), by NumPy: no JAX.

Eager JAX would compile every operation of a one-off constant, and reading a
point must not cost JAX's import. The tree walker is the one in
`language.evaluate`; this module gives it NumPy and a NumPy table of functions
(special functions through `math`, elementwise).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..language.arrays import array_functions
from ..language.evaluate import Emitter
from ..language.nodes import Node


class _NumpyEmitter(Emitter):
    what = "constant values (--at, --v, --u)"


def constant_value(root: Node, text: str, builders: dict | None = None) -> np.ndarray:
    """The float64 value of a constant expression.

    `builders` maps extra call names (zeros, random…) to functions of
    (positional values, keyword values) that return arrays.
    """
    with np.errstate(all="ignore"):
        return np.asarray(_NumpyEmitter(text, np, _numpy_functions(), np.float64, builders).emit(root, {}))


@functools.cache
def _numpy_functions() -> dict:
    """The same table in NumPy (for constants); special functions through `math`, elementwise."""

    def elementwise(function):
        def safe(x):
            try:
                return function(x)
            except (ValueError, OverflowError):
                return math.nan if function is not math.gamma or x <= 0 else math.inf
        return np.vectorize(safe, otypes=[np.float64])

    def logsumexp(x, axis=None):
        top = np.max(x, axis=axis, keepdims=True)
        return np.squeeze(np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top, axis=axis)

    table = {name: getattr(np, name) for name in (
        "sin cos tan sinh cosh tanh exp exp2 expm1 log log1p log10 log2 sqrt cbrt square hypot "
        "abs sign floor ceil round trunc mod clip sum prod mean dot real imag conj angle").split()}
    table.update({
        "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
        "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
        "erf": elementwise(math.erf), "erfc": elementwise(math.erfc),
        "gamma": elementwise(math.gamma), "lgamma": elementwise(math.lgamma),
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "softplus": lambda x: np.logaddexp(0, x),
        "sec": lambda x: 1 / np.cos(x), "csc": lambda x: 1 / np.sin(x), "cot": lambda x: 1 / np.tan(x),
        "pow": np.power, "erfinv": elementwise(_erfinv), "digamma": elementwise(_digamma),
        "logsumexp": logsumexp,
    })
    table.update(array_functions(np))
    return table


def _erfinv(y: float) -> float:
    """erf⁻¹ by Newton's method on math.erf (constants only; expressions use JAX's)."""
    if not -1 < y < 1:
        return math.copysign(math.inf, y) if abs(y) == 1 else math.nan
    x = 0.0
    for _ in range(100):
        step = (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        x -= step
        if abs(step) <= 1e-17 * max(1.0, abs(x)):
            break
    return x


def _digamma(x: float) -> float:
    """ψ(x) by recurrence and the asymptotic series (constants only; expressions use JAX's)."""
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0:  # reflection
        return _digamma(1 - x) - math.pi / math.tan(math.pi * x)
    result = 0.0
    while x < 10:
        result -= 1 / x
        x += 1
    inverse = 1 / (x * x)
    series = 0.0
    for coefficient in (1 / 12, -691 / 32760, 1 / 132, -1 / 240, 1 / 252, -1 / 120, 1 / 12):  # B₂ₖ/2k, k = 7…1
        series = series * inverse + coefficient
    return result + math.log(x) - 0.5 / x - series * inverse


