"""The translation of an expression to `jax.numpy`, against the same function written by hand, family by family.

`build_function(expression, layout, dtype)` gives f(z, c) on flat vectors; each case is compared with a
hand-written jnp function of the named variables, value and gradient (each side one jit: eager JAX
compiles every operation apart, which is slower).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy import special

from jaccli.compute.translate import build_function
from jaccli.inputs.layout import Layout
from jaccli.language.parse import parse_expression

jax.config.update("jax_enable_x64", True)

X3 = np.array([0.5, -1.25, 2.0])
M = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def translate(text: str, point: dict, dtype=np.float64, wrt=None):
    """(f, z, c, layout): the translated function of `text` and the flat vectors of `point` (names in order)."""
    names = list(point)
    layout = Layout.build(names, {n: np.shape(point[n]) for n in names}, wrt)
    z, c = layout.flatten(point)
    return build_function(parse_expression(text), layout, dtype), jnp.asarray(z), jnp.asarray(c), layout


def unflatten(layout: Layout, z) -> dict:
    return {s.name: z[s.offset : s.offset + s.size].reshape(s.shape) for s in layout.slots}


# family: (expression, point, the same function by hand of a dict of jnp arrays)
CASES = {
    "arithmetic": ("x**2*y + y**3 - x/y + 2^x - (-x)", {"x": 1.5, "y": -0.75},
                   lambda v: v["x"] ** 2 * v["y"] + v["y"] ** 3 - v["x"] / v["y"] + 2 ** v["x"] + v["x"]),
    "exact constants": ("2/3*x + 1e-3 + pi*E*x", {"x": 0.3}, lambda v: 2 / 3 * v["x"] + 1e-3 + math.pi * math.e * v["x"]),
    "trigonometric": ("sin(x)*cos(y) + tan(x*y) + sec(x) + csc(y) + cot(x)", {"x": 0.7, "y": -0.4},
                      lambda v: jnp.sin(v["x"]) * jnp.cos(v["y"]) + jnp.tan(v["x"] * v["y"]) + 1 / jnp.cos(v["x"])
                      + 1 / jnp.sin(v["y"]) + 1 / jnp.tan(v["x"])),
    "inverse trigonometric": ("asin(x) + acos(y) + atan(x*y) + atan2(y, x) + arcsin(y)", {"x": 0.3, "y": -0.6},
                              lambda v: jnp.arcsin(v["x"]) + jnp.arccos(v["y"]) + jnp.arctan(v["x"] * v["y"])
                              + jnp.arctan2(v["y"], v["x"]) + jnp.arcsin(v["y"])),
    "hyperbolic": ("sinh(x) + cosh(y) + tanh(x*y) + asinh(x) + acosh(y + 2) + atanh(x/2)", {"x": 0.5, "y": 0.25},
                   lambda v: jnp.sinh(v["x"]) + jnp.cosh(v["y"]) + jnp.tanh(v["x"] * v["y"]) + jnp.arcsinh(v["x"])
                   + jnp.arccosh(v["y"] + 2) + jnp.arctanh(v["x"] / 2)),
    "exponential and logarithm": ("exp(x) + exp2(y) + expm1(x) + log(y) + ln(x) + log1p(y) + log10(x) + log2(y) "
                                  "+ log(x, 3)", {"x": 0.25, "y": 1.75},
                                  lambda v: jnp.exp(v["x"]) + jnp.exp2(v["y"]) + jnp.expm1(v["x"]) + jnp.log(v["y"])
                                  + jnp.log(v["x"]) + jnp.log1p(v["y"]) + jnp.log10(v["x"]) + jnp.log2(v["y"])
                                  + jnp.log(v["x"]) / jnp.log(3.0)),
    "powers and roots": ("sqrt(x) + cbrt(y) + square(x) + hypot(x, y) + pow(x, y) + x**(2/3) + y**-2",
                         {"x": 2.0, "y": 5.0},
                         lambda v: jnp.sqrt(v["x"]) + jnp.cbrt(v["y"]) + jnp.square(v["x"]) + jnp.hypot(v["x"], v["y"])
                         + jnp.power(v["x"], v["y"]) + v["x"] ** (2 / 3) + v["y"] ** -2),
    "special functions": ("erf(x) + erfc(y) + gamma(x + 1) + lgamma(y + 2) + digamma(y) + erfinv(x/2)",
                          {"x": 0.5, "y": 1.25},
                          lambda v: special.erf(v["x"]) + special.erfc(v["y"]) + special.gamma(v["x"] + 1)
                          + special.gammaln(v["y"] + 2) + special.digamma(v["y"]) + special.erfinv(v["x"] / 2)),
    "neural": ("sigmoid(x)*softplus(y) + expit(y)", {"x": 0.2, "y": -1.1},
               lambda v: jax.nn.sigmoid(v["x"]) * jax.nn.softplus(v["y"]) + jax.nn.sigmoid(v["y"])),
    "piecewise": ("abs(x) + sign(y) + floor(x) + ceil(y) + round(x) + trunc(y) + mod(x, 0.75) + clip(y, -1, 0.5)"
                  " + x*y", {"x": 1.3, "y": -0.6},
                  lambda v: jnp.abs(v["x"]) + jnp.sign(v["y"]) + jnp.floor(v["x"]) + jnp.ceil(v["y"]) + jnp.round(v["x"])
                  + jnp.trunc(v["y"]) + jnp.mod(v["x"], 0.75) + jnp.clip(v["y"], -1, 0.5) + v["x"] * v["y"]),
    "min and max": ("max(x, y, 0.5) + min(x, y) + max(v) + min(v)", {"x": 0.1, "y": 0.9, "v": X3},
                    lambda v: jnp.maximum(jnp.maximum(v["x"], v["y"]), 0.5) + jnp.minimum(v["x"], v["y"])
                    + jnp.max(v["v"]) + jnp.min(v["v"])),
    "reductions": ("sum(v**2) + prod(v) + mean(v) + norm(v) + logsumexp(v) + dot(v, v)", {"v": X3},
                   lambda v: jnp.sum(v["v"] ** 2) + jnp.prod(v["v"]) + jnp.mean(v["v"]) + jnp.linalg.norm(v["v"])
                   + special.logsumexp(v["v"]) + jnp.dot(v["v"], v["v"])),
    "reductions with an axis": ("[sum(M, axis=0), max(M, axis=0)*mean(M, 0), logsumexp(M, axis=0)]", {"M": M},
                                lambda v: jnp.stack([jnp.sum(v["M"], axis=0), jnp.max(v["M"], axis=0)
                                                     * jnp.mean(v["M"], 0), special.logsumexp(v["M"], axis=0)])),
    "indexing and slicing": ("[v[0]*v[-1], sum(v[1:] - v[:-1]), v[::2][1]*M[1, 2], sum(M[:, 0]), sum(M[1:, :-1])]",
                             {"v": X3, "M": M},
                             lambda v: jnp.stack([v["v"][0] * v["v"][-1], jnp.sum(v["v"][1:] - v["v"][:-1]),
                                                  v["v"][::2][1] * v["M"][1, 2], jnp.sum(v["M"][:, 0]),
                                                  jnp.sum(v["M"][1:, :-1])])),
    "lists are vectors and matrices": ("[[x*y, x/y], [y**x, log(x)*y]]", {"x": 1.5, "y": 0.5},
                                       lambda v: jnp.array([[v["x"] * v["y"], v["x"] / v["y"]],
                                                            [v["y"] ** v["x"], jnp.log(v["x"]) * v["y"]]])),
    "broadcasting": ("x*v + M[0]", {"x": 2.0, "v": X3, "M": M}, lambda v: v["x"] * v["v"] + v["M"][0]),
    "comparisons and logic": ("where(x > 0 and y <= 1, x, y) + where(not x < y, 1, 2) + where(0 < x < 1 or y == 2, 3, 4)"
                              " + where(x != y, x*y, 0)", {"x": 0.5, "y": 0.9},
                              lambda v: jnp.where((v["x"] > 0) & (v["y"] <= 1), v["x"], v["y"])
                              + jnp.where(~(v["x"] < v["y"]), 1, 2) + jnp.where(((0 < v["x"]) & (v["x"] < 1))
                                                                                | (v["y"] == 2), 3, 4)
                              + jnp.where(v["x"] != v["y"], v["x"] * v["y"], 0)),
    "where elementwise": ("sum(where(v > 0, log(abs(v)) * v, v**2))", {"v": X3},
                          lambda v: jnp.sum(jnp.where(v["v"] > 0, jnp.log(jnp.abs(v["v"])) * v["v"], v["v"] ** 2))),
    "unicode names": ("r*cos(θ) + α1", {"r": 2.0, "θ": 0.3, "α1": -1.0},
                      lambda v: v["r"] * jnp.cos(v["θ"]) + v["α1"]),
}


@pytest.mark.parametrize("family", list(CASES))
def test_value_and_gradient_equal_the_function_by_hand(family):
    text, point, by_hand = CASES[family]
    f, z, c, layout = translate(text, point)
    ours, hand = value_and_gradient(lambda z: f(z, c)), value_and_gradient(lambda z: by_hand(unflatten(layout, z)))
    (got, got_gradient), (want, want_gradient) = ours(z), hand(z)
    assert got.dtype == jnp.float64 and got.shape == jnp.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(got_gradient, want_gradient, rtol=1e-13, atol=1e-14)


def value_and_gradient(g):
    """z → (g(z), the gradient of a scalar of every output of g), in one compiled function."""
    return jax.jit(lambda z: (g(z), jax.grad(lambda z: jnp.sum(jnp.sin(g(z))))(z)))


def test_numbers_follow_numpy_not_python():
    f, z, c, _ = translate("[(-8)**(1/3), 1/x, -1/x, x/x, inf - inf, nan*0]", {"x": 0.0})
    got = np.asarray(f(z, c))
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf and np.isnan(got[3:]).all()


def test_integer_exponents_differentiate_at_negative_bases():
    f, z, c, _ = translate("x**2 + x**3", {"x": -2.0})
    assert jax.grad(lambda z: f(z, c))(z).tolist() == [2 * -2.0 + 3 * 4.0]


def test_held_variables_come_from_c():
    f, z, c, layout = translate("x**2*y + sum(v)", {"x": 3.0, "y": 2.0, "v": X3}, wrt=["y"])
    assert z.tolist() == [2.0] and c.tolist() == [3.0, *X3]
    assert float(f(z, c)) == 9.0 * 2.0 + X3.sum()
    assert float(jax.grad(lambda z: f(z, c))(z)[0]) == 9.0


def test_float32_is_float32_throughout():
    f, z, c, _ = translate("x/3 + sum(v)", {"x": 1.0, "v": X3}, dtype=np.float32)
    value = f(z.astype(jnp.float32), c.astype(jnp.float32))
    assert value.dtype == jnp.float32 and float(value) == pytest.approx(1 / 3 + X3.sum(), rel=1e-6)


def test_the_function_traces_under_jit_and_vmap():
    f, z, c, _ = translate("[x**2*y, sin(y)]", {"x": 1.0, "y": 2.0})
    points = jnp.array([[1.0, 2.0], [3.0, -1.0]])
    got = jax.jit(jax.vmap(lambda z: f(z, c)))(points)
    np.testing.assert_allclose(got, [[2.0, math.sin(2.0)], [-9.0, math.sin(-1.0)]], rtol=1e-15)


@pytest.mark.parametrize("derivative", ["grad", "jacfwd", "jacrev", "hessian"])
def test_where_gives_no_nan_from_the_branch_not_taken(derivative):
    f, z, c, _ = translate("where(x > 0, sqrt(x), x**2) + where(x < 5, 0, log(x - 10))", {"x": -1.5})
    value = jax.jit({"grad": jax.grad, "jacfwd": jax.jacfwd, "jacrev": jax.jacrev, "hessian": jax.hessian}[derivative](
        lambda z: f(z, c)))(z)
    want = {"grad": [-3.0], "jacfwd": [-3.0], "jacrev": [-3.0], "hessian": [[2.0]]}[derivative]
    assert np.asarray(value).reshape(np.shape(want)).tolist() == want


def test_where_masks_each_entry_of_an_array_branch():
    f, z, c, _ = translate("sum(where(v > 0, sqrt(v), -v))", {"v": np.array([-1.0, 4.0, 0.25])})
    gradient, hessian = jax.jit(lambda z: (jax.grad(lambda z: f(z, c))(z), jax.hessian(lambda z: f(z, c))(z)))(z)
    assert gradient.tolist() == [-1.0, 0.25, 1.0] and np.isfinite(hessian).all()


def test_where_masks_a_scalar_branch_under_an_array_condition():
    f, z, c, _ = translate("sum(where(v > 0, sqrt(y), 0))", {"v": np.array([-1.0, -2.0]), "y": -1.0})
    assert jax.jit(jax.grad(lambda z: f(z, c)))(z).tolist() == [0.0, 0.0, 0.0]


def test_a_function_the_table_lacks_is_an_unsupported_error_not_a_key_error(monkeypatch):
    """The parser knows `sin`; a translation table without it (a new function added to the language only)
    says so, with the caret at the call, instead of an internal KeyError."""
    from jaccli.compute import translate as translation
    from jaccli.language.evaluate import UnsupportedError

    table = {name: function for name, function in translation._functions().items() if name != "sin"}
    monkeypatch.setattr(translation, "_functions", lambda: table)
    f, z, c, _ = translate("x**2 + sin(x)", {"x": 0.5})
    with pytest.raises(UnsupportedError, match=r"^sin\(\) is not supported by the JAX translation") as raised:
        f(z, c)
    assert raised.value.position == 7
