"""The model language (SPEC §7): matrices, linear algebra, array functions and definitions, end to end.

Every value is checked against an oracle that does not go through jaccli: a closed form (NumPy), the same
model written by hand in jax.numpy (jax.grad / jax.jacfwd / jax.hessian, float64), or SymPy. Constants are
passed as `--at NAME=[...]` texts (json.dumps: every float round-trips) and held with `--wrt`.
"""

import json
import re
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, compute, jaccli

jax.config.update("jax_enable_x64", True)

EXACT = {"rtol": 1e-12, "atol": 1e-13}  # closed forms and the same JAX program: rounding only


def bind(**values) -> tuple[str, ...]:
    """`--at` texts for named values: bind(x=[1, 2]) == ("x=[1.0, 2.0]",), in the order given."""
    return tuple(f"{name}={json.dumps(np.asarray(value, dtype=float).tolist())}" for name, value in values.items())


def reference(function, *args):
    """`function(*args)` in jax.numpy under one jit (eager JAX compiles every operation apart), as NumPy."""
    return np.asarray(jax.jit(function)(*(jnp.asarray(a) for a in args)))


def at_args(at: tuple[str, ...]) -> list[str]:
    return [part for text in at for part in ("--at", text)]


def value_of(ran) -> np.ndarray:
    """The `value` of a one-point `-f json` run."""
    assert ran.returncode == 0, ran.stderr
    return np.asarray(json.loads(ran.stdout)["value"], dtype=float)


def assert_usage_error(ran, *needles: str, hint: bool = False):
    """Exit 2, one `error:` line first, no traceback; each needle (a regex) somewhere in stderr."""
    err = ran.stderr
    assert ran.returncode == 2, (ran.returncode, err)
    assert err.startswith("error: "), err
    assert "Traceback" not in err, err
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1, err
    for needle in needles:
        assert re.search(needle, err), (needle, err)
    if hint:
        assert "\nhint: " in err, err


# Shared data: small, well conditioned, no ties (max, eigenvalues), nothing at a kink.
RNG = np.random.default_rng(20240601)
X6 = np.array([0.3, -1.2, 0.7, 2.0, -0.4, 1.1])
S2 = np.array([[2.0, 0.5], [0.5, 1.0]])
MU2 = np.array([0.5, -1.0])
XG = np.array([1.5, 0.25])
A3 = np.array([[4.0, 1.0, -0.5], [1.0, 3.0, 0.25], [-0.5, 0.25, 2.0]])  # symmetric positive definite
M3 = np.array([[1.0, 2.0, 0.5], [-1.0, 0.5, 3.0], [2.0, -0.25, 1.0]])  # general, det != 0


# --- the Gaussian negative log-likelihood ----------------------------------------------------------------

GAUSSIAN = "0.5*(x - mu) @ inv(S) @ (x - mu) + 0.5*logdet(S) + 0.5*2*log(2*pi)"


def gaussian_nll(x, mu, S):
    r = x - mu
    return 0.5 * r @ jnp.linalg.inv(S) @ r + 0.5 * jnp.linalg.slogdet(S)[1] + 0.5 * 2 * jnp.log(2 * jnp.pi)


def test_gaussian_nll_value_is_the_closed_form():
    r = XG - MU2
    expected = 0.5 * r @ np.linalg.solve(S2, r) + 0.5 * np.log(np.linalg.det(S2)) + np.log(2 * np.pi)
    got = compute("eval", GAUSSIAN, bind(x=XG, mu=MU2, S=S2))
    np.testing.assert_allclose(got, expected, **EXACT)


def test_gaussian_nll_gradient_in_x_is_inv_S_times_the_residual():
    got = compute("grad", GAUSSIAN, bind(x=XG, mu=MU2, S=S2), wrt=("x",))
    assert got.shape == (2,)
    np.testing.assert_allclose(got, np.linalg.solve(S2, XG - MU2), **EXACT)


def test_gaussian_nll_hessian_in_x_is_inv_S():
    got = compute("hessian", GAUSSIAN, bind(x=XG, mu=MU2, S=S2), wrt=("x",))
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, np.linalg.inv(S2), **EXACT)


def test_gaussian_nll_gradient_in_S_is_the_closed_form_and_jax():
    """d/dS [½ rᵀS⁻¹r + ½ log det S] = ½ (S⁻¹ − S⁻¹ r rᵀ S⁻¹) for symmetric S (JAX: S⁻ᵀ, the same here)."""
    got = compute("grad", GAUSSIAN, bind(x=XG, mu=MU2, S=S2), wrt=("S",))
    P, r = np.linalg.inv(S2), XG - MU2
    np.testing.assert_allclose(got, 0.5 * (P - P @ np.outer(r, r) @ P), **EXACT)
    np.testing.assert_allclose(got, reference(jax.grad(gaussian_nll, argnums=2), XG, MU2, S2), **EXACT)


# --- logistic regression ----------------------------------------------------------------------------------

X_DATA = RNG.normal(size=(6, 3))
Y_DATA = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
W3 = np.array([0.4, -0.3, 0.8])
LOGISTIC = "sum(log(1 + exp(-y * (X @ w))))"


def logistic_loss(w, X, y):
    return jnp.sum(jnp.log(1 + jnp.exp(-y * (X @ w))))


def test_logistic_loss_gradient_matches_jax_and_the_closed_form():
    got = compute("grad", LOGISTIC, bind(w=W3, X=X_DATA, y=Y_DATA), wrt=("w",))
    np.testing.assert_allclose(got, reference(jax.grad(logistic_loss), W3, X_DATA, Y_DATA), **EXACT)
    margin = Y_DATA * (X_DATA @ W3)
    closed = -X_DATA.T @ (Y_DATA / (1 + np.exp(margin)))  # −Σ yᵢ σ(−mᵢ) xᵢ
    np.testing.assert_allclose(got, closed, **EXACT)


def test_logistic_loss_hessian_matches_jax_and_the_closed_form():
    got = compute("hessian", LOGISTIC, bind(w=W3, X=X_DATA, y=Y_DATA), wrt=("w",))
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, reference(jax.hessian(logistic_loss), W3, X_DATA, Y_DATA), **EXACT)
    s = 1 / (1 + np.exp(-Y_DATA * (X_DATA @ W3)))
    np.testing.assert_allclose(got, X_DATA.T @ np.diag(s * (1 - s)) @ X_DATA, **EXACT)


# --- a two-layer network ------------------------------------------------------------------------------------

NET = {"x": np.array([0.5, -1.0, 2.0]), "W1": RNG.normal(size=(4, 3)) / 2, "b1": RNG.normal(size=4) / 4,
       "W2": RNG.normal(size=(2, 4)) / 2, "b2": RNG.normal(size=2) / 4}


def network(x, W1, b1, W2, b2):
    return jnp.tanh(W2 @ jnp.tanh(W1 @ x + b1) + b2)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_two_layer_network_jacobian_matches_jacfwd(mode):
    got = compute("jacobian", "tanh(W2 @ tanh(W1 @ x + b1) + b2)", bind(**NET), wrt=("x",), mode=mode)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, reference(jax.jacfwd(network), *NET.values()), **EXACT)


# --- linear algebra -------------------------------------------------------------------------------------------

def test_grad_of_det_is_det_times_inverse_transpose():
    got = compute("grad", "det(M)", bind(M=M3))
    np.testing.assert_allclose(got, np.linalg.det(M3) * np.linalg.inv(M3).T, **EXACT)


def test_logdet_is_log_abs_det_and_its_gradient_is_the_inverse_transpose():
    M = np.array([[1.0, 2.0], [3.0, 4.0]])  # det −2: logdet is log 2
    np.testing.assert_allclose(compute("eval", "logdet(M)", bind(M=M)), np.log(2.0), **EXACT)
    np.testing.assert_allclose(compute("grad", "logdet(M)", bind(M=M)), np.linalg.inv(M).T, **EXACT)


def test_grad_of_trace_of_M_times_its_transpose_is_2M():
    got = compute("grad", "trace(M @ M.T)", bind(M=M3))
    np.testing.assert_allclose(got, 2 * M3, **EXACT)


def test_grad_of_trace_of_a_product_is_the_other_factor_transposed():
    B = RNG.normal(size=(3, 3))
    got = compute("grad", "trace(A @ B)", bind(A=M3, B=B), wrt=("A",))
    np.testing.assert_allclose(got, B.T, **EXACT)


def test_solve_is_the_solution_and_its_jacobian_in_b_is_the_inverse():
    b = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(compute("eval", "solve(A, b)", bind(A=M3, b=b)), np.linalg.solve(M3, b), **EXACT)
    got = compute("jacobian", "solve(A, b)", bind(A=M3, b=b), wrt=("b",))
    np.testing.assert_allclose(got, np.linalg.inv(M3), **EXACT)


def test_jacobian_of_inv_is_minus_inverse_on_both_sides():
    got = compute("jacobian", "inv(M)", bind(M=M3))
    P = np.linalg.inv(M3)
    assert got.shape == (3, 3, 3, 3)
    np.testing.assert_allclose(got, -np.einsum("ik,lj->ijkl", P, P), **EXACT)


def test_cholesky_is_the_lower_factor_and_its_jvp_is_the_closed_form():
    """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ), Φ the lower triangle with half the diagonal, along a symmetric Ȧ."""
    L = compute("eval", "cholesky(A)", bind(A=A3))
    np.testing.assert_allclose(L, np.linalg.cholesky(A3), **EXACT)
    V = np.array([[1.0, 0.5, -0.25], [0.5, -2.0, 0.75], [-0.25, 0.75, 0.5]])
    got = compute("jvp", "cholesky(A)", bind(A=A3), v=bind(A=V))
    Li = np.linalg.inv(L)
    inner = Li @ V @ Li.T
    np.testing.assert_allclose(got, L @ (np.tril(inner, -1) + np.diag(np.diag(inner)) / 2), **EXACT)


def test_cholesky_jacobian_is_jaxs():
    got = compute("jacobian", "cholesky(A)", bind(A=A3))
    np.testing.assert_allclose(got, reference(jax.jacfwd(jnp.linalg.cholesky), A3), **EXACT)


def test_eigvalsh_is_ascending_and_its_jacobian_is_jaxs():
    Q = np.linalg.qr(RNG.normal(size=(3, 3)))[0]
    A = Q @ np.diag([3.0, -1.0, 2.0]) @ Q.T
    A = (A + A.T) / 2
    values = compute("eval", "eigvalsh(A)", bind(A=A))
    np.testing.assert_allclose(values, [-1.0, 2.0, 3.0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(A), **EXACT)
    got = compute("jacobian", "eigvalsh(A)", bind(A=A))
    np.testing.assert_allclose(got, reference(jax.jacfwd(jnp.linalg.eigvalsh), A), rtol=1e-10, atol=1e-12)
    vectors = np.linalg.eigh(A)[1]  # dλₖ/dA = vₖvₖᵀ
    np.testing.assert_allclose(got, np.einsum("ik,jk->kij", vectors, vectors), rtol=1e-10, atol=1e-12)


XN = np.array([0.5, -3.0, 1.25, 2.0])  # one largest |entry|, no zero


NORMS = [
    ("norm(x, 1)", np.abs(XN).sum(), np.sign(XN)),
    ("norm(x, 2)", np.sqrt(XN @ XN), XN / np.sqrt(XN @ XN)),
    ("norm(x)", np.sqrt(XN @ XN), XN / np.sqrt(XN @ XN)),
    ("norm(x, inf)", 3.0, np.array([0.0, -1.0, 0.0, 0.0])),
    ("norm(x, ord=1)", np.abs(XN).sum(), np.sign(XN)),
]


@pytest.mark.parametrize("expr, value, gradient", NORMS, ids=[case[0] for case in NORMS])
def test_vector_norm_takes_ord_second(expr, value, gradient):
    np.testing.assert_allclose(compute("eval", expr, bind(x=XN)), value, **EXACT)
    np.testing.assert_allclose(compute("grad", expr, bind(x=XN)), gradient, **EXACT)


def test_norm_of_a_matrix_is_frobenius_and_axis_is_a_keyword():
    frobenius = np.sqrt((M3**2).sum())
    np.testing.assert_allclose(compute("eval", "norm(M)", bind(M=M3)), frobenius, **EXACT)
    np.testing.assert_allclose(compute("grad", "norm(M)", bind(M=M3)), M3 / frobenius, **EXACT)
    np.testing.assert_allclose(compute("eval", "norm(M, axis=1)", bind(M=M3)), np.linalg.norm(M3, axis=1), **EXACT)


# --- array functions: Jacobians against the same jax.numpy by hand -------------------------------------------

def _rows(x):
    return x.reshape(2, 3)


JACOBIANS = [
    ("cumsum(x)", jnp.cumsum),
    ("cumprod(x)", jnp.cumprod),
    ("cumsum(reshape(x, (2, 3)), axis=1)", lambda x: jnp.cumsum(_rows(x), axis=1)),
    ("cumprod(reshape(x, (2, 3)), axis=0)", lambda x: jnp.cumprod(_rows(x), axis=0)),
    ("softmax(x)", jax.nn.softmax),
    ("log_softmax(x)", jax.nn.log_softmax),
    ("diff(x)", jnp.diff),
    ("diff(x, n=2)", lambda x: jnp.diff(x, n=2)),
    ("diff(reshape(x, (2, 3)), axis=0)", lambda x: jnp.diff(_rows(x), axis=0)),
    ("std(x)", jnp.std),
    ("var(reshape(x, (2, 3)), axis=1)", lambda x: jnp.var(_rows(x), axis=1)),
    ("sinc(x)", jnp.sinc),
    ("outer(x, x**2)", lambda x: jnp.outer(x, x**2)),
    ("tril(outer(x, x), -1)", lambda x: jnp.tril(jnp.outer(x, x), -1)),
    ("triu(outer(x, x), k=1)", lambda x: jnp.triu(jnp.outer(x, x), k=1)),
    ("concatenate([x, sin(x)])", lambda x: jnp.concatenate([x, jnp.sin(x)])),
    ("stack([x, x**2])", lambda x: jnp.stack([x, x**2])),
    ("stack([x, x**2], axis=1)", lambda x: jnp.stack([x, x**2], axis=1)),
    ("flip(reshape(x, (2, 3)))", lambda x: jnp.flip(_rows(x))),
    ("roll(x, 2)", lambda x: jnp.roll(x, 2)),
    ("roll(reshape(x, (2, 3)), shift=1, axis=1)", lambda x: jnp.roll(_rows(x), 1, axis=1)),
    ("ravel(reshape(x, (3, 2)).T)", lambda x: jnp.ravel(x.reshape(3, 2).T)),
    ("diag(x)", jnp.diag),
    ("diag(outer(x, x))", lambda x: jnp.diag(jnp.outer(x, x))),
    ("softmax(x) @ x", lambda x: jax.nn.softmax(x) @ x),
]


@pytest.mark.parametrize("expr, by_hand", JACOBIANS, ids=[e for e, _ in JACOBIANS])
def test_jacobian_of_array_function_matches_jax(expr, by_hand):
    got = compute("jacobian", expr, bind(x=X6))
    expected = reference(jax.jacfwd(by_hand), X6)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **EXACT)


# --- array functions: values against NumPy --------------------------------------------------------------------

T3 = np.arange(12.0).reshape(2, 3, 2) / 4 - 1
A23 = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
VALUES = [
    ("std(x)", {"x": X6}, np.std(X6)),  # NumPy's ddof=0
    ("var(x)", {"x": X6}, np.var(X6)),
    ("std(A, axis=0)", {"A": A23}, np.std(A23, axis=0)),
    ("sinc(x)", {"x": [0.0, 0.5, 1.0, -1.5, 2.25]}, np.sinc([0.0, 0.5, 1.0, -1.5, 2.25])),  # sin(πx)/(πx)
    ("diff(x, n=2)", {"x": X6}, np.diff(X6, n=2)),
    ("cumprod(x)", {"x": X6}, np.cumprod(X6)),
    ("tril(A, -1)", {"A": M3}, np.tril(M3, -1)),
    ("triu(A, k=1)", {"A": M3}, np.triu(M3, k=1)),
    ("diag(A)", {"A": M3}, np.diag(M3)),
    ("trace(A)", {"A": M3}, np.trace(M3)),
    ("A.T", {"A": A23}, A23.T),
    ("transpose(A)", {"A": A23}, A23.T),
    ("transpose(T, (1, 0, 2))", {"T": T3}, np.transpose(T3, (1, 0, 2))),
    ("roll(A, 1)", {"A": A23}, np.roll(A23, 1)),  # no axis: rolled flattened
    ("reshape(A, 6)", {"A": A23}, A23.reshape(6)),
    ("ravel(A)", {"A": A23}, A23.ravel()),
    ("outer(a, b)", {"a": [1.0, 2.0], "b": [3.0, -1.0, 0.5]}, np.outer([1.0, 2.0], [3.0, -1.0, 0.5])),
    ("concatenate([a, b])", {"a": [1.0, 2.0], "b": [3.0, -1.0, 0.5]}, [1.0, 2.0, 3.0, -1.0, 0.5]),
    ("stack([a, b])", {"a": [1.0, 2.0], "b": [3.0, -1.0]}, [[1.0, 2.0], [3.0, -1.0]]),
    ("softmax(x)", {"x": X6}, np.exp(X6) / np.exp(X6).sum()),
]


@pytest.mark.parametrize("expr, point, expected", VALUES, ids=[e for e, _, _ in VALUES])
def test_value_of_array_function_is_numpys(expr, point, expected):
    got = compute("eval", expr, bind(**point))
    expected = np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **EXACT)


def test_constant_builders_inside_expressions():
    x = np.array([1.0, -2.0, 0.5])
    got = compute("eval", "eye(3) @ x + zeros(3) + 2*ones(3)", bind(x=x))
    np.testing.assert_allclose(got, x + 2, **EXACT)
    got = compute("eval", "A + ones((2, 2)) - eye(2)", bind(A=S2))
    np.testing.assert_allclose(got, S2 + 1 - np.eye(2), **EXACT)
    got = compute("grad", "sum((A - eye(3))**2)", bind(A=M3))
    np.testing.assert_allclose(got, 2 * (M3 - np.eye(3)), **EXACT)


V2 = np.array([2.0, -0.5])
W2 = np.array([1.5, 3.0])
B22 = np.array([[1.0, 2.0], [-1.0, 0.5]])


def test_matmul_is_the_at_operator():
    B = RNG.normal(size=(3, 2))
    at = bind(A=M3, B=B)
    np.testing.assert_allclose(compute("eval", "matmul(A, B)", at), M3 @ B, **EXACT)
    by_function = compute("jacobian", "matmul(A, B)", at, wrt=("A",))
    np.testing.assert_allclose(by_function, reference(jax.jacfwd(lambda a: a @ B), M3), **EXACT)
    np.testing.assert_allclose(compute("jacobian", "A @ B", at, wrt=("A",)), by_function, **EXACT)


def test_matrix_functions_against_sympy():
    """∇ of det(M)·trace(M⁻¹Mᵀ) + log|det M| entry by entry, SymPy's Matrix calculus at 30 digits."""
    import sympy

    symbols = sympy.symbols("m0:4", real=True)
    M = sympy.Matrix(2, 2, symbols)
    f = M.det() * (M.inv() * M.T).trace() + sympy.log(sympy.Abs(M.det()))
    values = {s: sympy.Float(v, 30) for s, v in zip(symbols, B22.ravel())}
    expected = np.array([float(sympy.diff(f, s).subs(values).evalf(30)) for s in symbols]).reshape(2, 2)
    got = compute("grad", "det(M) * trace(inv(M) @ M.T) + logdet(M)", bind(M=B22))
    np.testing.assert_allclose(got, expected, **EXACT)


PRECEDENCE = [
    ("2 * A @ x", (2 * B22) @ W2),
    ("v * A @ x", (V2 * B22) @ W2),  # (v*A) @ x, not v * (A @ x): same precedence, left to right
    ("A @ x * v", (B22 @ W2) * V2),
    ("A @ x / v", (B22 @ W2) / V2),
    ("A @ x ** 2", B22 @ W2**2),  # ** binds tighter
    ("A @ x + v", B22 @ W2 + V2),  # + binds looser
    ("x @ A @ x", (W2 @ B22) @ W2),
    ("v * x @ A", (V2 * W2) @ B22),
    ("-A @ x", -(B22 @ W2)),
]


@pytest.mark.parametrize("expr, expected", PRECEDENCE, ids=[case[0] for case in PRECEDENCE])
def test_matmul_has_the_precedence_of_times(expr, expected):
    point = {"A": B22, "x": W2, "v": V2}
    used = {name: value for name, value in point.items() if re.search(rf"\b{name}\b", expr)}
    np.testing.assert_allclose(compute("eval", expr, bind(**used)), expected, **EXACT)


def test_matmul_precedence_changes_the_result_where_it_should():
    """The cases above are only a test if the two readings differ."""
    assert not np.allclose((V2 * B22) @ W2, V2 * (B22 @ W2))
    assert not np.allclose((B22 @ W2) / V2, B22 @ (W2 / V2))
    assert not np.allclose((V2 * W2) @ B22, V2 * (W2 @ B22))
    assert not np.allclose(B22 @ W2**2, (B22 @ W2) ** 2)


# --- definitions ---------------------------------------------------------------------------------------------

ROSENBROCK_DEFINED = "r = x[1:] - x[:-1]**2; sum(100*r**2 + (1 - x[:-1])**2)"
ROSENBROCK_INLINE = "sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)"
XR = np.array([-1.2, 1.0, 0.5, 2.0])


def rosenbrock(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("command, oracle", [("grad", jax.grad), ("hessian", jax.hessian)])
def test_rosenbrock_with_a_definition_equals_the_inlined_one(command, oracle):
    defined = compute(command, ROSENBROCK_DEFINED, bind(x=XR))
    np.testing.assert_allclose(defined, reference(oracle(rosenbrock), XR), **EXACT)
    np.testing.assert_allclose(defined, compute(command, ROSENBROCK_INLINE, bind(x=XR)), **EXACT)


def test_definitions_by_newlines_and_semicolons_with_comments():
    text = ("# a model: it's commented\n"
            "a = x**2   # squares; not a statement separator in a comment\n"
            "b = sin(x); c = a * b\n"
            "\n"
            "sum(c) + a[0]  # the result\n")
    x = np.array([0.5, -1.5, 2.0])
    expected = np.sum(x**2 * np.sin(x)) + x[0] ** 2
    np.testing.assert_allclose(compute("eval", text, bind(x=x)), expected, **EXACT)
    gradient = compute("grad", text, bind(x=x))
    by_hand = reference(jax.grad(lambda x: jnp.sum(x**2 * jnp.sin(x)) + x[0] ** 2), x)
    np.testing.assert_allclose(gradient, by_hand, **EXACT)


def test_definitions_use_earlier_definitions_and_variables():
    text = "a = x * y; b = a + exp(x); c = a * b - y; sum(c)"
    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.25])

    def by_hand(x, y):
        a = x * y
        return jnp.sum(a * (a + jnp.exp(x)) - y)

    got = compute("grad", text, bind(x=x, y=y))  # several variables: flattened, x then y
    expected = np.concatenate(reference(jax.grad(by_hand, argnums=(0, 1)), x, y))
    np.testing.assert_allclose(got, expected, **EXACT)


def test_a_defined_name_is_not_a_variable():
    """`r` takes no value: the flat point fills x alone."""
    ran = jaccli("grad", "r = 3*x; r**2 + x", "--at", "2", "-f", "json")
    assert json.loads(ran.stdout)["variables"] == ["x"], ran.stdout
    np.testing.assert_allclose(value_of(ran), 18 * 2 + 1, **EXACT)
    assert_usage_error(jaccli("grad", "r = 3*x; r**2 + x", "--at", "x=2,r=1"), r"\br\b")  # nor takes one


def test_a_chain_of_thirty_definitions_works():
    text = "a0 = x\n" + "".join(f"a{i} = a{i - 1} + {i}\n" for i in range(1, 31)) + "a30 * a30"
    np.testing.assert_allclose(compute("eval", text, ("x=1",)), (1 + 465) ** 2, **EXACT)
    np.testing.assert_allclose(compute("grad", text, ("x=1",)), 2 * (1 + 465), **EXACT)


def test_a_definition_used_twice_a_level_is_shared_not_copied():
    """40 levels, each using the last twice: 2⁴⁰ leaves if definitions were pasted in as text."""
    text = "a0 = x\n" + "".join(f"a{i} = a{i - 1} + sin(a{i - 1}) / 4\n" for i in range(1, 41)) + "sum(a40)"
    x = np.array([0.1, -0.5])

    def by_hand(x):
        for _ in range(40):
            x = x + jnp.sin(x) / 4
        return jnp.sum(x)

    start = time.monotonic()
    got = compute("grad", text, bind(x=x))
    assert time.monotonic() - start < 20
    np.testing.assert_allclose(got, reference(jax.grad(by_hand), x), **EXACT)


def test_a_model_file_with_definitions(tmp_path):
    model = tmp_path / "model.txt"
    model.write_text(ROSENBROCK_DEFINED.replace("; ", "\n# the Rosenbrock function of r\n") + "\n")
    got = value_of(jaccli("hessian", f"@{model}", *at_args(bind(x=XR)), "-f", "json"))
    np.testing.assert_allclose(got, reference(jax.hessian(rosenbrock), XR), **EXACT)


def test_an_error_in_a_model_file_names_the_file_and_line(tmp_path):
    model = tmp_path / "model.txt"
    model.write_text("# line 1\na = x**2\nb = a.foo\nsum(b)\n")
    ran = jaccli("eval", f"@{model}", "--at", "x=[1,2]")
    assert_usage_error(ran, r"model\.txt:3:", "foo")


ATOMS = ["x", "x**2", "sin(x)", "exp(x/4)", "x*x[0]", "cumsum(x)", "2*x - 1", "tanh(x)", "flip(x)", "x @ x"]
COMBINE = ["{a} + {b}", "{a} * {b}", "sin({a}) - {b}", "({a})**2 / (1 + ({b})**2)"]
BODIES = ["sum(t * x)", "sum(sin(t)) + sum(t) * x[1]", "sum(t**2) * x[2]", "logsumexp(t * x)", "sum(t) * sum(t)",
          "norm(t + x)"]


@st.composite
def expressions(draw):
    a, b = draw(st.sampled_from(ATOMS)), draw(st.sampled_from(ATOMS))
    return draw(st.sampled_from(COMBINE)).format(a=a, b=b)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(e=expressions(), body=st.sampled_from(BODIES))
def test_a_definition_has_the_gradient_of_its_expression_inlined(e, body):
    x = np.array([0.3, -0.7, 1.1])
    defined = compute("grad", f"t = {e}; {body}", bind(x=x))
    inlined = compute("grad", re.sub(r"(?<![\w.])t(?!\w)", f"({e})", body), bind(x=x))
    np.testing.assert_allclose(defined, inlined, **EXACT)


# --- errors -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", ["A @ x", "matmul(A, x)", "x @ A"])
def test_matmul_of_mismatched_shapes_names_both(expr):
    ran = jaccli("eval", expr, "--at", "A=[[1,2],[3,4]]", "--at", "x=[1,2,3]")
    assert_usage_error(ran, r"\(2,\s*2\)", r"\(3,?\)", r"@|matmul")


def test_mismatched_shapes_inside_a_definition_are_caught_before_running():
    ran = jaccli("grad", "r = A @ x - b; 0.5 * r @ r", "--at", "A=[[1,2],[3,4],[5,6]]", "--at", "x=[1,2]",
                 "--at", "b=[1,2]")
    assert_usage_error(ran, r"\(3,?\)", r"\(2,?\)")


BAD_MODELS = [
    ("a = a + x; a", [r"\ba\b"], False),  # refers to itself
    ("a = b * 2; b = x; a", [r"\bb\b"], False),  # used before it is defined
    ("a = x; a = 2*x; a", [r"\ba\b"], False),  # defined twice
    ("sin = x; sin", [r"\bsin\b"], True),  # a function's name
    ("sum = x**2; 2*sum", [r"\bsum\b"], True),
    ("pi = 3; x*pi", [r"\bpi\b"], False),  # a constant's name
    ("a = x**2", [], False),  # no final expression
    ("x.foo", [r"foo"], True),  # the one attribute is .T
    ("x.__class__", [r"__class__"], True),
    ("transpose(A).shape", [r"shape"], True),
    ("sum(x, foo=1)", [r"foo"], True),  # undocumented keyword
    ("cumsum(x, dtype=1)", [r"dtype"], True),
    ("sum(x) + 'a'", [], False),  # strings
    ('x * "b"', [], False),
    ("lambda: x", [], False),  # not in the grammar
    ("x if x > 0 else 1", [], False),
    ("(t := x) + t", [], False),
]


@pytest.mark.parametrize("expr, needles, hint", BAD_MODELS, ids=[case[0] for case in BAD_MODELS])
def test_bad_models_are_usage_errors(expr, needles, hint):
    ran = jaccli("eval", expr, "--at", "x=[1,2]", "--at", "A=[[1,2],[3,4]]")
    assert_usage_error(ran, *needles, hint=hint)


def _quickly(*argv, limit=10.0):
    start = time.monotonic()
    ran = jaccli(*argv, timeout=60)
    elapsed = time.monotonic() - start
    assert elapsed < limit, f"took {elapsed:.1f} s"
    return ran


def test_a_transpose_chain_100000_deep_is_refused_quickly():
    ran = _quickly("eval", "x" + ".T" * 100_000, "--at", "x=[[1,2],[3,4]]")
    assert_usage_error(ran)


@pytest.mark.parametrize("count", [100_000, 50_000])  # over and under the length limit
def test_a_chain_of_100000_definitions_is_refused_quickly(count):
    text = "a0=x\n" + "".join(f"a{i}=a{i - 1}\n" for i in range(1, count)) + f"a{count - 1}"
    ran = _quickly("eval", text, "--at", "x=[1,2]")
    assert_usage_error(ran)


# --- many points, and inspect -------------------------------------------------------------------------------------

A22 = np.array([[1.0, 2.0], [3.0, 4.0]])
POINTS = [[1.0, 2.0], [-0.5, 0.25], [3.0, -1.0]]


def _many(path, *at):
    ran = jaccli("grad", "sum((A @ x)**2)", "--wrt", "x", *at_args(at), "--at", f"@{path}", "-f", "json")
    assert ran.returncode == 0, ran.stderr
    records = [json.loads(line) for line in ran.stdout.splitlines() if line.strip()]
    assert [r["index"] for r in records] == list(range(len(POINTS)))
    return np.array([r["value"] for r in records])


def test_many_points_with_a_matrix_held_equal_one_point_runs(tmp_path):
    points = tmp_path / "points.jsonl"
    points.write_text("".join(json.dumps({"x": p}) + "\n" for p in POINTS))
    got = _many(points, *bind(A=A22))
    one_by_one = [compute("grad", "sum((A @ x)**2)", bind(A=A22, x=p), wrt=("x",)) for p in POINTS]
    np.testing.assert_allclose(got, np.array(one_by_one), **EXACT)
    np.testing.assert_allclose(got, np.array([2 * A22.T @ A22 @ p for p in POINTS]), **EXACT)


def test_many_points_each_with_its_matrix(tmp_path):
    points = tmp_path / "points.jsonl"
    points.write_text("".join(json.dumps({"A": (A22 * (i + 1)).tolist(), "x": p}) + "\n" for i, p in enumerate(POINTS)))
    got = _many(points)
    expected = [2 * (A22 * (i + 1)).T @ (A22 * (i + 1)) @ np.array(p) for i, p in enumerate(POINTS)]
    np.testing.assert_allclose(got, np.array(expected), **EXACT)


@pytest.mark.parametrize("form", ["header", "unnamed", "stream"])
def test_held_values_beside_csv_points_and_a_stream(tmp_path, form):
    """--at a=3 holds a for every point; the CSV rows (by header, or in order) and a stream give x0, x1."""
    rows = [[1.0, 2.0], [0.5, -1.0], [-2.0, 0.25]]
    body = "".join(f"{x0},{x1}\n" for x0, x1 in rows)
    points = tmp_path / "points.csv"
    points.write_text(("x1,x0\n" + "".join(f"{x1},{x0}\n" for x0, x1 in rows)) if form == "header" else body)
    source = "-" if form == "stream" else f"@{points}"
    ran = jaccli("grad", "(a*x0 + x1)**2 * a", "--wrt", "x0,x1", "--at", "a=3", "--at", source, "-f", "csv",
                 input=body if form == "stream" else None)
    assert ran.returncode == 0, ran.stderr
    got = np.loadtxt(ran.stdout.splitlines()[1:], delimiter=",")[:, -2:]
    expected = np.array([[2 * 3 * (3 * x0 + x1) * 3, 2 * 3 * (3 * x0 + x1)] for x0, x1 in rows])  # d/dx0, d/dx1
    if form == "header":  # a header sets the variable order, as --at x1=…,x0=… would
        assert ran.stdout.splitlines()[0].endswith("df/dx1,df/dx0")
        expected = expected[:, ::-1]
    np.testing.assert_allclose(got, expected, **EXACT)


def test_held_values_and_records_do_not_overlap(tmp_path):
    points = tmp_path / "points.jsonl"
    points.write_text('{"x": [1, 2], "A": [[1, 0], [0, 1]]}\n')
    ran = jaccli("grad", "sum((A @ x)**2)", "--wrt", "x", "--at", "A=[[1,2],[3,4]]", "--at", f"@{points}")
    assert ran.returncode == 2 and "which --at holds for every point" in ran.stderr
    ran = jaccli("grad", "sum((A @ x)**2)", "--wrt", "x", "--at", "[[1,2],[3,4]]", "--at", f"@{points}")
    assert ran.returncode == 2 and ran.stderr.startswith("error: beside a file or stream of points, --at values are named")


def _mentions(document, name: str, shapes) -> bool:
    """Whether some object of the JSON names `name` (as a key or a value) beside one of `shapes`."""
    if isinstance(document, dict):
        if name in document:
            if any(s in json.dumps(document[name]) for s in shapes):
                return True
        if name in document.values() and any(s in json.dumps(document) for s in shapes):
            return True
        return any(_mentions(v, name, shapes) for v in document.values())
    if isinstance(document, list):
        return any(_mentions(v, name, shapes) for v in document)
    return False


def test_inspect_shows_definitions_with_their_shapes():
    ran = jaccli("inspect", "M = outer(x, x); s = sum(x); trace(M) * s", "--at", "x=[1,2,3]", "-f", "json")
    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert _mentions(document, "M", ["(3, 3)", "[3, 3]", "3x3", "3\\u00d73"]), ran.stdout
    assert _mentions(document, "s", ["()", "[]", "scalar"]), ran.stdout
    assert not _mentions(document, "s", ["(3, 3)", "[3, 3]"]), ran.stdout  # each its own shape


# --- the samples, run as a user would ----------------------------------------------------------------------------

def test_sample_gaussian_gradient_and_hessian_in_x():
    at = at_args(bind(x=XG, mu=MU2, S=S2))
    model = f"@{SAMPLES / 'gaussian.txt'}"
    gradient = value_of(jaccli("grad", model, "--wrt", "x", *at, "-f", "json"))
    np.testing.assert_allclose(gradient, np.linalg.solve(S2, XG - MU2), **EXACT)
    np.testing.assert_allclose(gradient, reference(jax.grad(gaussian_nll), XG, MU2, S2), **EXACT)
    hessian = value_of(jaccli("hessian", model, "--wrt", "x", *at, "-f", "json"))
    np.testing.assert_allclose(hessian, np.linalg.inv(S2), **EXACT)


def test_sample_gaussian_value_is_the_log_density():
    from scipy.stats import multivariate_normal

    value = value_of(jaccli("eval", f"@{SAMPLES / 'gaussian.txt'}", *at_args(bind(x=XG, mu=MU2, S=S2)), "-f", "json"))
    np.testing.assert_allclose(value, -multivariate_normal(MU2, S2).logpdf(XG), **EXACT)


def test_sample_network_jacobian_in_x():
    ran = jaccli("jacobian", f"@{SAMPLES / 'network.txt'}", "--wrt", "x", *at_args(bind(**NET)), "-f", "json")
    np.testing.assert_allclose(value_of(ran), reference(jax.jacfwd(network), *NET.values()), **EXACT)


def test_sample_least_squares_gradient_and_hessian_are_the_normal_equations():
    A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    b, x = np.array([1.0, 2.0, 2.0]), np.array([1.0, -1.0])
    at = at_args(bind(x=x, A=A, b=b))
    model = f"@{SAMPLES / 'least_squares.txt'}"
    gradient = value_of(jaccli("grad", model, "--wrt", "x", *at, "-f", "json"))
    np.testing.assert_allclose(gradient, A.T @ (A @ x - b), **EXACT)
    hessian = value_of(jaccli("hessian", model, "--wrt", "x", *at, "-f", "json"))
    np.testing.assert_allclose(hessian, A.T @ A, **EXACT)
