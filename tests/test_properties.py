"""Properties on random expressions (hypothesis): jacfwd == jacrev, symmetric Hessians,
hvp == hessian @ v in every mode, jvp and vjp consistent with the Jacobian, and SymPy agreement.

Bounded: every call compiles its own function (about 0.1 s; XLA's time grows with the expression, so
stacking expressions into one saves nothing), so a few examples a test, and no shrinking."""

import os

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import compute, sympy_derivative

NAMES = ["x", "y", "z"]
UNARY = ["sin({})", "cos({})", "tanh({})", "exp({}/4)", "log(1 + ({})**2)", "sqrt(1 + ({})**2)", "({})**2", "-({})"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (2 + cos({}))"]


def expressions(depth: int = 3):
    leaves = st.sampled_from(NAMES + ["2", "0.5", "3"])
    if depth == 0:
        return leaves

    def unary(draw_inner):
        return st.tuples(st.sampled_from(UNARY), draw_inner).map(lambda t: t[0].format(t[1]))

    def binary(draw_inner):
        return st.tuples(st.sampled_from(BINARY), draw_inner, draw_inner).map(
            lambda t: t[0].format(t[1], t[2]) if t[0].count("{}") == 2 else t[0].format(t[1], t[2]))

    inner = expressions(depth - 1)
    return st.one_of(leaves, unary(inner), binary(inner))


points = st.lists(st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3)), min_size=3, max_size=3)
vectors = st.lists(st.floats(-1, 1, allow_nan=False).map(lambda v: round(v, 3)), min_size=3, max_size=3)
# `make test`: 3 examples a test (tests/test_known_values.py holds every function and command at fixed points
# against SymPy); `make fuzz` runs these too, FUZZ_EXAMPLES // 20 a test
EXAMPLES = max(3, int(os.environ.get("FUZZ_EXAMPLES", "0")) // 20)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])


def at(point):
    return ",".join(f"{n}={p!r}" for n, p in zip(NAMES, point))


def whole(expr: str) -> str:
    return expr + " + 0*x + 0*y + 0*z"  # every variable present, so the shapes are fixed


@SETTINGS
@given(expressions(), expressions(), points)
def test_jacfwd_equals_jacrev(f0, f1, point):
    expr = whole(f"[{f0}, {f1}]")
    fwd = compute("jacobian", expr, at(point), mode="fwd")
    rev = compute("jacobian", expr, at(point), mode="rev")
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(expressions(), points, vectors)
def test_hessian_symmetric_and_hvp_is_hessian_times_v_in_every_mode(f, point, v):
    expr = whole(f)
    hessian = compute("hessian", expr, at(point))  # the default mode, fwd-rev
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-12, atol=1e-12)
    for mode in ("fwd-rev", "rev-fwd", "rev-rev"):
        if mode != "fwd-rev":
            np.testing.assert_allclose(compute("hessian", expr, at(point), mode=mode), hessian, rtol=1e-12, atol=1e-12)
        hvp = compute("hvp", expr, at(point), v=",".join(map(repr, v)), mode=mode)
        np.testing.assert_allclose(hvp, hessian @ np.array(v), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(expressions(), expressions(), points, vectors, st.tuples(st.floats(-1, 1), st.floats(-1, 1)))
def test_jvp_and_vjp_agree_with_the_jacobian(f0, f1, point, v, u):
    expr = whole(f"[{f0}, {f1}]")
    jacobian = compute("jacobian", expr, at(point))
    jvp = compute("jvp", expr, at(point), v=",".join(map(repr, v)))
    vjp = compute("vjp", expr, at(point), u=",".join(map(repr, u)))
    np.testing.assert_allclose(jvp, jacobian @ np.array(v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vjp, np.array(u) @ jacobian, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(expressions(), points)
def test_gradient_and_hessian_agree_with_sympy(f, point):
    expr = whole(f)
    np.testing.assert_allclose(compute("grad", expr, at(point)), sympy_derivative(expr, NAMES, point, 1),
                               rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(compute("hessian", expr, at(point)), sympy_derivative(expr, NAMES, point, 2),
                               rtol=1e-10, atol=1e-10)
