"""The Python API (SPEC §10): the engine's public face, checked against hand-written JAX."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaccli

jax.config.update("jax_enable_x64", True)


def f(x, y):
    return x**2 * y + y**3


def test_hessian_of_the_spec_example_has_value_variables_shape_and_mode():
    result = jaccli.hessian("x**2*y + y**3", at=[1, 2])
    want = jax.hessian(lambda z: f(z[0], z[1]))(jnp.array([1.0, 2.0]))
    assert np.array_equal(result.value, np.asarray(want)) and isinstance(result.value, np.ndarray)
    assert result.variables == ("x", "y") and result.shape == (2, 2) and result.mode == "fwd-rev"


@pytest.mark.parametrize("at", [[0.3, -1.2], {"x": 0.3, "y": -1.2}, "x=0.3,y=-1.2", {"x": "3/10", "y": -1.2}])
def test_at_takes_lists_dicts_and_cli_strings(at):
    got = jaccli.grad("x**2*y + y**3", at=at).value
    want = jax.grad(lambda z: f(z[0], z[1]))(jnp.array([0.3, -1.2]))
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_array_variables_keep_their_shape_and_hvp_equals_hessian_times_v():
    X = np.random.default_rng(0).normal(size=(3, 4))
    V = np.random.default_rng(1).normal(size=(3, 4))
    hvp = jaccli.hvp("sum(tanh(X)**2)", at={"X": X}, v=V)
    g = jax.grad(lambda X: jnp.sum(jnp.tanh(X) ** 2))
    want = jax.jvp(g, (jnp.asarray(X),), (jnp.asarray(V),))[1]
    assert hvp.shape == (3, 4)
    np.testing.assert_allclose(hvp.value, want, rtol=1e-13)
    for mode in ("rev-fwd", "rev-rev"):
        np.testing.assert_allclose(jaccli.hvp("sum(tanh(X)**2)", at={"X": X}, v=V, mode=mode).value, want, rtol=1e-12)


def test_jacobian_modes_agree_and_jvp_vjp_match_jax():
    expr, at = "[x**2*y, sin(z)]", [1.0, 2.0, 0.5]
    fwd, rev = (jaccli.jacobian(expr, at=at, mode=m) for m in ("fwd", "rev"))
    assert (fwd.mode, rev.mode) == ("fwd", "rev")
    np.testing.assert_allclose(fwd.value, rev.value, rtol=1e-15)
    g = lambda z: jnp.stack([z[0] ** 2 * z[1], jnp.sin(z[2])])  # noqa: E731
    point = jnp.array(at)
    np.testing.assert_allclose(jaccli.jvp(expr, at=at, v=[1, 0, 2]).value,
                               jax.jvp(g, (point,), (jnp.array([1.0, 0, 2]),))[1], rtol=1e-15)
    np.testing.assert_allclose(jaccli.vjp(expr, at=at, u=[1, -1]).value,
                               jax.vjp(g, point)[1](jnp.array([1.0, -1]))[0], rtol=1e-15)


def test_eval_wrt_and_derivative():
    assert jaccli.eval("[x**2*y, y]", at=[3, 2]).value.tolist() == [18.0, 2.0]
    assert jaccli.grad("x**2*y", at=[3, 2], wrt="x").value == 12.0
    assert jaccli.derivative("x**3*y**2", at=[1, 2], partial="x,x,y").value == 24.0
    assert jaccli.derivative("x**4", at=[2], order=3).value == 48.0


def test_check_with_and_without_an_expected_array():
    assert jaccli.check("x**2*y + y**3", at=[1, 2], of="hessian").ok
    wrong = jaccli.check("x**2*y + y**3", at=[1, 2], of="hessian", expect=[[4, 2], [2, 13]])
    assert not wrong and wrong.reports[0]["references"][0]["mismatches"][0]["index"] == [1, 1]


def test_errors_are_jaccli_error_subclasses():
    with pytest.raises(jaccli.ShapeError, match="needs a scalar expression"):
        jaccli.grad("[x, y]", at=[1, 2])
    with pytest.raises(jaccli.ParseError):
        jaccli.eval("sin(x", at=[1])
    with pytest.raises(jaccli.JaccliError, match="takes numbers"):
        jaccli.eval("x", at={"x": object()})


def test_a_result_renders_as_a_table_in_notebooks_and_rich():
    import io

    from rich.console import Console

    result = jaccli.jacobian("[x**2*y, sin(z)]", at=[1, 2, 0.5])
    html = result._repr_html_()
    assert "<html" in html and "∂f₀" in html and "mode rev" in html
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(result)
    assert "∂f₁" in console.export_text() and "shape (2, 3)" in repr(result)


def test_import_jaccli_is_light():
    code = "import sys, jaccli; print(sorted(m for m in ('jax', 'numpy', 'sympy', 'typer') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]"
