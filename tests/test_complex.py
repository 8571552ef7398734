"""Complex numbers (SPEC §8), checked against the Autodiff Cookbook's closed forms, hand-written JAX, SymPy and
finite differences; every input and output form round-trips complex values exactly."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import jaccli
from conftest import jaccli as run_cli, jaccli_process

jax.config.update("jax_enable_x64", True)


def out(*args, **kw):
    ran = run_cli(*args, **kw)
    assert ran.returncode == 0, ran.stderr
    return ran


def refused(*args, says: str, **kw):
    ran = run_cli(*args, **kw)
    assert ran.returncode == 2, (ran.returncode, ran.stdout, ran.stderr)
    assert ran.stderr.startswith("error: ") and says in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    return ran


# -- the Cookbook's checks -------------------------------------------------------------------------
def test_holomorphic_grad_of_sin_is_cos():
    assert jaccli.grad("sin(z)", at=[3 + 4j], holomorphic=True).value == pytest.approx(np.cos(3 + 4j), rel=1e-15)


def test_grad_of_a_real_function_of_z_follows_jax():
    assert complex(jaccli.grad("abs(z)**2", at=[3 + 4j]).value) == pytest.approx(6 - 8j, rel=1e-15)


def test_grad_of_conj_with_holomorphic_is_one_and_warns():
    ran = out("grad", "conj(z)", "--holomorphic", "--at", "3+4j", "-f", "json")
    assert json.loads(ran.stdout)["value"] == {"real": 1.0, "imag": 0.0}
    assert ran.stderr.startswith("warning: --holomorphic: the expression uses conj")


def test_real_jacobian_of_z_squared():
    result = jaccli.jacobian("z**2", at=[1 + 2j])
    np.testing.assert_array_equal(result.value, [[2, -4], [4, 2]])
    assert result.value.dtype == np.float64


def _linear_map():
    rng = np.random.default_rng(7)
    a, b = complex(rng.normal(size=2) @ [1, 1j]), complex(rng.normal(size=2) @ [1, 1j])
    return a, b


def test_jvp_and_vjp_of_a_random_linear_map_match_its_partials():
    """f(z) = a·z + b·conj(z) = u + i·v: the Cookbook's JVP (c ↦ (u_x c_r + u_y c_i) + i(v_x c_r + v_y c_i)) and
    its VJP (JAX's, the transpose under Re⟨·,·⟩: w = Jᵀ[Re c, −Im c], vjp = w_x − i·w_y)."""
    a, b = _linear_map()
    expr = f"({a.real!r} + {a.imag!r}j)*z + ({b.real!r} + {b.imag!r}j)*conj(z)"
    u_x, u_y = a.real + b.real, -a.imag + b.imag
    v_x, v_y = a.imag + b.imag, a.real - b.real
    z, c = 0.3 - 0.7j, -1.1 + 0.4j
    tangent = out("jvp", expr, "--at", repr(z).strip("()"), "--v", repr(c).strip("()"), "-f", "json")
    value = json.loads(tangent.stdout)["value"]
    assert complex(value["real"], value["imag"]) == pytest.approx(
        (u_x * c.real + u_y * c.imag) + 1j * (v_x * c.real + v_y * c.imag), rel=1e-14)
    cotangent = jaccli.vjp(expr, at=[z], u=[c]).value
    w = np.array([[u_x, u_y], [v_x, v_y]]).T @ [c.real, -c.imag]
    assert complex(cotangent) == pytest.approx(w[0] - 1j * w[1], rel=1e-14)
    ref_out, pullback = jax.vjp(lambda z: a * z + b * jnp.conj(z), jnp.array([z]))
    np.testing.assert_allclose(cotangent, pullback(jnp.array([c]))[0][0], rtol=1e-14)


# -- against SymPy and hand-written JAX -------------------------------------------------------------
HOLOMORPHIC = ["sin(z)*exp(z)", "z**3 - 2*z + 1/z", "log(z)", "1/(1 + z**2)", "tanh(z)*sqrt(z)", "z**2*cosh(2j*z)"]


@pytest.mark.parametrize("expr", HOLOMORPHIC)
def test_holomorphic_derivatives_match_sympy(expr):
    rng = np.random.default_rng(abs(hash(expr)) % 2**32)
    z = sp.Symbol("z")
    formula = sp.sympify(expr.replace("2j", "2*I"), locals={"z": z})
    for point in rng.normal(size=(3, 2)) @ [1, 1j]:
        for order in (1, 2):
            exact = complex(sp.N(sp.diff(formula, z, order).subs(z, sp.Float(point.real, 30) +
                                                                     sp.I * sp.Float(point.imag, 30)), 30))
            got = jaccli.derivative(expr, at=[point], order=order, holomorphic=True).value
            assert complex(got) == pytest.approx(exact, rel=1e-12, abs=1e-13)


def _real_map(f, n):
    def g(r):
        w = f(r[:n] + 1j * r[n:])
        return jnp.concatenate([jnp.real(w).ravel(), jnp.imag(w).ravel()])
    return g


def test_real_jacobian_of_a_vector_map_matches_hand_written_jax():
    expr = "[z[0]**2*conj(z[1]), exp(z[1])*abs(z[0]), sin(z[0]*z[1])]"
    z = np.array([0.4 + 1.1j, -0.3 + 0.2j])
    f = lambda z: jnp.stack([z[0] ** 2 * jnp.conj(z[1]), jnp.exp(z[1]) * jnp.abs(z[0]), jnp.sin(z[0] * z[1])])
    reference = jax.jit(jax.jacfwd(_real_map(f, 2)))(jnp.concatenate([z.real, z.imag]))
    for mode in ("fwd", "rev"):
        got = jaccli.jacobian(expr, at={"z": z}, mode=mode).value
        assert got.shape == (6, 4)
        np.testing.assert_allclose(got, reference, rtol=1e-14, atol=1e-15)


def test_real_hessian_and_hvp_of_a_real_function_of_z():
    """H of f(x + iy) in (x, y); JAX's hvp (the tangent of ∂f/∂x − i·∂f/∂y) is conj of H·[Re v, Im v], packed."""
    expr = "abs(z[0])**2 * real(z[1]) + imag(z[0]*z[1])**2"
    z, v = np.array([0.4 + 1.1j, -0.3 + 0.2j]), np.array([1 - 0.5j, 0.25j])
    f = lambda z: jnp.abs(z[0]) ** 2 * jnp.real(z[1]) + jnp.imag(z[0] * z[1]) ** 2
    g = lambda r: f(r[:2] + 1j * r[2:])
    hessian = jax.jit(jax.hessian(g))(jnp.concatenate([z.real, z.imag]))
    np.testing.assert_allclose(jaccli.hessian(expr, at={"z": z}).value, hessian, rtol=1e-13, atol=1e-14)
    product = hessian @ np.concatenate([v.real, v.imag])
    np.testing.assert_allclose(jaccli.hvp(expr, at={"z": z}, v=[v]).value, product[:2] - 1j * product[2:],
                               rtol=1e-13, atol=1e-14)


@settings(max_examples=5, deadline=None)
@given(st.complex_numbers(max_magnitude=3, allow_nan=False, allow_infinity=False))
def test_jacfwd_equals_jacrev_and_grad_packs_the_real_jacobian(z):
    expr = "exp(z)*conj(z) + abs(z)**2"
    fwd, rev = (jaccli.jacobian(expr, at=[z], mode=m).value for m in ("fwd", "rev"))
    np.testing.assert_allclose(fwd, rev, rtol=1e-13, atol=1e-13)
    real_part = jaccli.grad("real(exp(z)*conj(z)) + abs(z)**2", at=[z]).value
    np.testing.assert_allclose(real_part, fwd[0, 0] - 1j * fwd[0, 1], rtol=1e-12, atol=1e-12)


def test_a_real_point_with_an_imaginary_constant_keeps_real_inputs():
    result = jaccli.jacobian("exp(1j*x)", at=[1.0])  # f: ℝ → ℂ: rows Re f, Im f; one column
    np.testing.assert_allclose(result.value, [-math.sin(1), math.cos(1)], rtol=1e-15)  # x scalar: no input axis
    assert result.dtype == "complex128"


def test_complex64():
    result = jaccli.grad("sin(z)", at=[1 + 1j], holomorphic=True, dtype="complex64")
    assert result.value.dtype == np.complex64
    assert complex(result.value) == pytest.approx(np.cos(1 + 1j), rel=1e-6)


def test_check_agrees_on_every_kind_of_complex_derivative():
    for args in (["--of", "grad", "--holomorphic", "--at", "1+2j"], ["--of", "jacobian", "--at", "1+2j"],
                 ["--of", "hessian", "--at", "0.5-1j"], ["--of", "vjp", "--u", "1-1j", "--at", "1+2j"],
                 ["--of", "jvp", "--v", "2j", "--at", "1+2j"]):
        expr = "sin(z)*z" if "--holomorphic" in args else "abs(z)**2*real(z)" if "hessian" in args else \
            "conj(z)*z**2"
        out("check", expr, *args)
    out("check", "abs(z)**2", "--of", "grad", "--at", "3+4j", "--expect", "6-8j")
    ran = run_cli("check", "abs(z)**2", "--of", "grad", "--at", "3+4j", "--expect", "6+8j")
    assert ran.returncode == 1


def test_the_real_jacobian_is_drawn_with_its_parts_labelled():
    ran = out("jacobian", "[z**2, conj(z)]", "--at", "1+2j", "--plot", "-")
    assert "Re f1" in ran.stdout + ran.stderr and "Im z" in ran.stdout + ran.stderr


def test_symbolic_holomorphic_derivative():
    ran = out("grad", "z**2*exp(2j*z)", "--symbolic", "--holomorphic", "--at", "1+1j", "-f", "json")
    document = json.loads(ran.stdout)
    z = sp.Symbol("z")
    assert sp.simplify(sp.sympify(document["symbolic"], locals={"z": z}) -
                       sp.diff(z**2 * sp.exp(2 * sp.I * z), z)) == 0
    exact = complex(sp.diff(z**2 * sp.exp(2 * sp.I * z), z).subs(z, 1 + sp.I).evalf(30))
    assert complex(document["value"]["real"], document["value"]["imag"]) == pytest.approx(exact, rel=1e-14)


# -- every input and output form round-trips complex values ----------------------------------------
VALUES = [1.5 + 2j, -0.1 - 1e-300j, 3e200 + 0.1j, -0.0 + 0j, 2j, complex(1 / 3, -2 / 7)]


def test_output_forms_round_trip_exactly(tmp_path):
    at = "z=[" + ", ".join(repr(v).strip("()") for v in VALUES) + "]"
    want = np.array(VALUES)
    document = json.loads(out("eval", "z", "--at", at, "-f", "json").stdout)
    assert document["dtype"] == "complex128"
    got = np.array(document["value"]["real"]) + 1j * np.array(document["value"]["imag"])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.array(document["point"]["z"]["real"]), want.real)
    csv_row = out("eval", "z", "--at", at, "-f", "csv").stdout.splitlines()[1]
    np.testing.assert_array_equal([complex(cell) for cell in csv_row.split(",")], want)
    plain = out("eval", "z", "--at", at, "-f", "plain").stdout.split()
    np.testing.assert_array_equal([complex(cell) for cell in plain], want)
    out("eval", "z", "--at", at, "-o", str(tmp_path / "z.npy"))
    saved = np.load(tmp_path / "z.npy")
    assert saved.dtype == np.complex128
    np.testing.assert_array_equal(saved, want)
    table = out("eval", "z", "--at", "z=[1.5+2j, -0.5-1j]", "-f", "table").stdout
    assert "1.5+2j" in table and "-0.5-1j" in table


def test_input_forms_read_complex_values_exactly(tmp_path):
    want = np.array(VALUES)
    np.save(tmp_path / "z.npy", want)
    (tmp_path / "z.json").write_text(json.dumps({"real": want.real.tolist(), "imag": want.imag.tolist()}))
    (tmp_path / "each.json").write_text(json.dumps([{"real": v.real, "imag": v.imag} for v in VALUES]))
    (tmp_path / "z.csv").write_text(",".join(repr(v).strip("()") for v in VALUES) + "\n")
    for source in ("z.npy", "z.json", "each.json", "z.csv"):
        got = jaccli.eval("z", at=f"z=@{tmp_path / source}").value
        np.testing.assert_array_equal(got, want, err_msg=source)
    np.testing.assert_array_equal(jaccli.eval("z", at={"z": want}).value, want)


def test_many_complex_points_from_files_and_streams(tmp_path):
    points = np.array([[1 + 2j, 0.5], [3 - 1j, -2 + 0.25j], [0.1j, 4]])
    expected = np.array([jaccli.grad("abs(z)**2*real(w)", at={"z": z, "w": w}).value for z, w in points])
    np.save(tmp_path / "p.npy", points)
    out("grad", "abs(z)**2*real(w)", "--vars", "z,w", "--at", f"@{tmp_path / 'p.npy'}", "-o", str(tmp_path / "g.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), expected)
    csv = "z,w\n" + "".join(f"{repr(complex(z)).strip('()')},{repr(complex(w)).strip('()')}\n" for z, w in points)
    ran = out("grad", "abs(z)**2*real(w)", "--at", "-", "-f", "json", input=csv)
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    got = np.array([np.array(d["value"]["real"]) + 1j * np.array(d["value"]["imag"]) for d in lines])
    np.testing.assert_array_equal(got, expected)
    jsonl = "".join(json.dumps({"z": {"real": z.real, "imag": z.imag}, "w": {"real": w.real, "imag": w.imag}}) + "\n"
                    for z, w in points)
    ran = out("grad", "abs(z)**2*real(w)", "--at", "-", "-f", "csv", input=jsonl)
    rows = [[complex(cell) for cell in line.split(",")] for line in ran.stdout.splitlines()[1:]]
    np.testing.assert_array_equal(np.array(rows), expected)


def test_serve_answers_complex_requests():
    requests = [{"id": 1, "command": "grad", "expr": "sin(z)", "at": {"z": {"real": 3, "imag": 4}},
                 "holomorphic": True},
                {"id": 2, "command": "jacobian", "expr": "z**2", "at": "z=1+2j"}]
    ran = jaccli_process("serve", input="".join(json.dumps(r) + "\n" for r in requests))  # its own process: the
    assert ran.returncode == 0, ran.stderr  # server's threads end with it
    first, second = (json.loads(line) for line in ran.stdout.splitlines())
    assert complex(first["value"]["real"], first["value"]["imag"]) == pytest.approx(np.cos(3 + 4j), rel=1e-15)
    assert second["value"] == [[2.0, -4.0], [4.0, 2.0]]


# -- what is refused --------------------------------------------------------------------------------
def test_complex_mistakes_are_one_line_errors():
    refused("grad", "z**2", "--at", "1+2j", says="needs a real-valued expression")
    refused("hvp", "z**2", "--at", "1+2j", "--v", "1", says="needs a real-valued expression")
    refused("jvp", "z**2", "--at", "1+2j", "--v", "1", "--holomorphic", says="No such option")
    refused("grad", "z**2", "--at", "1+2j", "--dtype", "float64", says="--dtype float64 is real")
    refused("jvp", "x**2", "--at", "1", "--v", "1j", says="--v holds complex values")
    refused("derivative", "z*w", "--at", "1j,2", "--partial", "z,w", says="--partial takes the complex derivative")
    refused("grad", "z*2j", "--symbolic", says="add --holomorphic")
    refused("eval", "z", "--at", "-", input="1\n2+1j\n", says="line 2: the record holds complex values")
    refused("eval", "where(z > 0, z, 0)", "--at", "1+2j", says="complex numbers have no order")
    refused("eval", "max(z, 1)", "--at", "1+2j", says="complex numbers have no order")
    refused("analyze", "abs(z)**2", "--at", "1+2j", says="real functions of real points")
    refused("jacobian", "sin(z)", "--holomorphic", "--at", "1+2j", "--plot", "-", says="draws real matrices")
    ran = run_cli("eval", "2jx", "--at", "1")
    assert ran.returncode == 2


# -- found by red-teaming ---------------------------------------------------------------------------------
def test_a_check_that_fails_shows_both_complex_numbers_and_no_raw_warnings():
    ran = run_cli("check", "sin(z)", "--holomorphic", "--at", "3+4j", "--of", "grad", "--expect",
                  repr(complex(np.conj(np.cos(3 + 4j)))).strip("()"), "-f", "json")
    assert ran.returncode == 1 and ran.stderr == ""
    row = json.loads(ran.stdout)["references"][0]["mismatches"][0]
    assert complex(row["got"]["real"], row["got"]["imag"]) == pytest.approx(np.cos(3 + 4j), rel=1e-15)
    assert row["expected"]["imag"] == pytest.approx(-np.cos(3 + 4j).imag, rel=1e-15)
    literal = json.dumps({"real": np.cos(3 + 4j).real, "imag": np.cos(3 + 4j).imag})
    out("check", "sin(z)", "--holomorphic", "--at", "3+4j", "--of", "grad", "--expect", literal)


def test_an_infinite_imaginary_literal_is_inf_as_a_real_one_is():
    document = json.loads(out("eval", "z", "--at", "z=1e400j", "-f", "json").stdout)
    assert document["value"] == {"real": 0.0, "imag": "inf"}


def test_a_complex_point_is_complex_throughout_its_json():
    document = json.loads(out("grad", "z**2", "--holomorphic", "--at", "3", "-f", "json").stdout)
    assert document["point"] == {"z": {"real": 3.0, "imag": 0.0}}


def test_complex_records_of_a_real_stream_are_bad_records():
    ran = out("grad", "abs(x)**2*y", "--at", "-", "-f", "csv", "--skip-bad", input="1,2\n3,4j\n5,6\n")
    rows = [line.split(",") for line in ran.stdout.splitlines()[1:]]
    assert rows[0] == ["4.0", "1.0"] and rows[1] == ["nan", "nan"] and rows[2] == ["60.0", "25.0"]
    ran = run_cli("grad", "abs(x)**2*y", "--at", "-", "-f", "csv", input="1,2\n3,4j\n")
    assert ran.returncode == 2 and ran.stdout.splitlines()[1] == "4.0,1.0"  # the record before it is written


def test_inspect_gives_the_real_maps_shapes_for_a_complex_point():
    text = out("inspect", "sin(z)*2j + conj(w)", "--at", "z=1+2j,w=3").stdout
    assert "jacobian: rev (jax.jacrev: 4 inputs > 2 outputs), shape (2, 4)" in text
    assert "grad: not applicable: the expression is complex" in text


def test_functions_of_real_numbers_refuse_complex_ones_in_jaccli_words():
    for function in ("floor", "erf", "lgamma", "cbrt"):
        ran = refused("eval", f"{function}(z)", "--at", "1+2j", says=f"{function}() takes real numbers")
        assert "dtype" not in ran.stderr
