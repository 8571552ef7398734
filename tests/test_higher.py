"""Higher orders: K-th derivative tensors and mixed partials against SymPy; value and gradient in one pass."""

import json

import numpy as np
import pytest

from conftest import compute, jaccli, sympy_derivative


def test_jax_docs_third_and_second_derivative():
    # JAX's docs: f(x) = x**3 + 2x**2 - 3x + 1 has f''(2) = 16 and f'''(2) = 6
    assert compute("derivative", "x**3 + 2*x**2 - 3*x + 1", "2", order=2).tolist() == 16.0
    assert compute("derivative", "x**3 + 2*x**2 - 3*x + 1", "2", order=3).tolist() == 6.0
    assert compute("derivative", "x**3 + 2*x**2 - 3*x + 1", "2", order=1).tolist() == 17.0


@pytest.mark.parametrize("expr", ["x**3*y**2 + sin(x*y)", "[exp(x)*cos(y), x**4*y, log(1 + x**2 + y**2)]"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_derivative_tensor_against_sympy(expr, order):
    got = compute("derivative", expr, "x=0.7,y=-1.3", order=order)
    np.testing.assert_allclose(got, sympy_derivative(expr, ["x", "y"], [0.7, -1.3], order), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("names", [("x",), ("x", "y"), ("x", "x", "y"), ("y", "x", "y", "x")])
def test_mixed_partials_against_sympy(names):
    import sympy

    x, y = sympy.symbols("x y")
    f = x**3 * y**2 + sympy.sin(x * y) * sympy.exp(x)
    want = float(sympy.diff(f, *[{"x": x, "y": y}[n] for n in names]).subs({x: 0.7, y: -1.3}).evalf(30))
    got = compute("derivative", "x**3*y**2 + sin(x*y)*exp(x)", "x=0.7,y=-1.3", partial=names)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_mixed_partial_of_an_array_variable_is_refused():
    done = jaccli("derivative", "sum(x**3)", "--at", "x=[1,2]", "--partial", "x,x")
    assert done.returncode == 2 and "scalar variables" in done.stderr


def test_derivative_shapes_and_csv_names():
    assert compute("derivative", "[x*y, x**2]", "1,2", order=3).shape == (2, 2, 2, 2)
    done = jaccli("derivative", "x**2*y", "--at", "1,2", "--order", "2", "-f", "csv")
    assert done.stdout == "d2f/dxdx,d2f/dxdy,d2f/dydx,d2f/dydy\n4.0,2.0,2.0,0.0\n"


def test_with_value_gives_value_and_gradient_in_one_pass():
    done = jaccli("grad", "x**2*y + exp(y)", "--at", "1.5,0.5", "--with-value", "-f", "json")
    document = json.loads(done.stdout)
    assert document["function_value"] == 1.5**2 * 0.5 + np.exp(0.5)
    assert document["value"] == [2 * 1.5 * 0.5, 1.5**2 + np.exp(0.5)]
    assert jaccli("grad", "x**2*y", "--at", "1,2", "--with-value").stdout == "2.0\n4.0\n1.0\n"
    assert jaccli("eval", "x**2*y", "--at", "1,2", "--with-value", "-f", "csv").stdout == "f,df/dx,df/dy\n2.0,4.0,1.0\n"
