"""`analyze`: verdicts at known critical points, Lanczos against a dense solver, Hutchinson against the exact trace."""

import json
from dataclasses import replace

import numpy as np
import pytest

import jaccli
from jaccli.compute import analyze as analysis
from jaccli.compute import spectrum
from jaccli.compute.prepare import Request, bind
from tests.conftest import jaccli as run_cli

ROSENBROCK = "100*(y - x**2)**2 + (1 - x)**2"
EXTENDED = "sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)"
SPEC_KEYS = {"value", "gradient", "gradient_norm", "eigenvalues", "condition_number", "verdict", "tolerance"}


def extended_hessian(x: np.ndarray) -> np.ndarray:
    """The extended Rosenbrock function's Hessian, by hand (tridiagonal)."""
    n = len(x)
    h = np.zeros((n, n))
    i = np.arange(n - 1)
    h[i, i] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    h[i + 1, i + 1] += 200
    h[i, i + 1] = h[i + 1, i] = -400 * x[:-1]
    return h


def extended_eigenvalues(x: np.ndarray) -> np.ndarray:
    """extended_hessian(x)'s eigenvalues, ascending, by LAPACK's tridiagonal solver (n = 1000 in milliseconds)."""
    from scipy.linalg import eigvalsh_tridiagonal

    h = extended_hessian(x)
    return eigvalsh_tridiagonal(np.diag(h).copy(), np.diag(h, 1).copy())


@pytest.mark.parametrize("expr, at, verdict, definiteness, eigenvalues", [
    (ROSENBROCK, "1,1", "minimum", "positive definite", np.linalg.eigvalsh([[802.0, -400.0], [-400.0, 200.0]])),
    ("x**2 - y**2", "0,0", "saddle", "indefinite", [-2.0, 2.0]),
    ("-x**2 - 3*y**2 + x*y", "0,0", "maximum", "negative definite", np.linalg.eigvalsh([[-2.0, 1.0], [1.0, -6.0]])),
    ("x**4 + y**4", "0,0", "degenerate", "zero", [0.0, 0.0]),
    ("x**2 + y**4", "0,0", "degenerate", "positive semidefinite", [0.0, 2.0]),
    ("sin(x)", "pi/2", "maximum", "negative definite", [-1.0]),
])
def test_verdicts_at_known_critical_points(expr, at, verdict, definiteness, eigenvalues):
    result = jaccli.analyze(expr, at=at)
    assert result.verdict == verdict and result.definiteness == definiteness
    np.testing.assert_allclose(result.eigenvalues, eigenvalues, rtol=1e-12, atol=1e-12)
    assert result.gradient_norm <= result.gradient_tolerance and result.method == "dense"
    n, eps = len(eigenvalues), np.finfo(np.float64).eps
    assert result.tolerance == pytest.approx(n * eps * np.abs(eigenvalues).max())  # the stated rule


def test_a_point_that_is_not_critical_says_so_and_keeps_its_definiteness():
    result = jaccli.analyze(ROSENBROCK, at="0,0")  # ∇f = (-2, 0)
    assert result.verdict == "not critical" and result.definiteness == "positive definite"
    np.testing.assert_allclose(result.gradient, [-2.0, 0.0]) and result.gradient_norm == pytest.approx(2.0)
    assert jaccli.analyze(ROSENBROCK, at="0,0", gtol=3).verdict == "minimum"  # --gtol decides it


def test_the_json_has_spec_keys_and_the_condition_number():
    done = run_cli("analyze", ROSENBROCK, "--at", "1,1", "-f", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert SPEC_KEYS <= set(data) and "extreme_eigenvalues" not in data and "trace" not in data
    assert data["command"] == "analyze" and data["verdict"] == "minimum" and data["point"] == {"x": 1.0, "y": 1.0}
    eigenvalues = np.linalg.eigvalsh([[802.0, -400.0], [-400.0, 200.0]])
    assert data["condition_number"] == pytest.approx(eigenvalues[1] / eigenvalues[0], rel=1e-12)
    singular = json.loads(run_cli("analyze", "x**4 + y**4", "--at", "0,0", "-f", "json").stdout)
    assert singular["condition_number"] == "inf" and singular["tolerance"] == 0.0


def test_table_and_plain_output():
    table = run_cli("analyze", "x**2 - y**2", "--at", "0,0", "-f", "table")
    assert table.returncode == 0 and "verdict" in table.stdout and "saddle" in table.stdout
    assert "n·ε·max|λ|" in table.stdout and "indefinite" in table.stdout
    plain = run_cli("analyze", "x**2 - y**2", "--at", "0,0", "-f", "plain").stdout.splitlines()
    gradient = next(line for line in plain if line.startswith("gradient ")).split()[1:]
    assert "verdict saddle" in plain and "eigenvalues -2.0 2.0" in plain and [float(g) for g in gradient] == [0, 0]


def extended_setup(n: int, seed: int):
    x = np.random.default_rng(seed).uniform(-1, 2, n)
    return x, bind(Request("hvp", EXTENDED, at=(f"x={json.dumps(x.tolist())}",)))


def test_lanczos_extremes_equal_dense_eigenvalues_at_n_500():
    x, setup = extended_setup(500, 7)
    dense = extended_eigenvalues(x)
    lowest, highest, count = spectrum.lanczos_extremes(setup, seed=0)
    scale = np.abs(dense).max()
    assert abs(lowest - dense[0]) <= 1e-8 * scale and abs(highest - dense[-1]) <= 1e-8 * scale
    assert 0 < count < 5000


def test_lanczos_through_the_command_line_and_the_automatic_switch(monkeypatch):
    x = np.random.default_rng(3).uniform(-1, 2, 40)
    at = f"x={json.dumps(x.tolist())}"
    dense = extended_eigenvalues(x)
    data = json.loads(run_cli("analyze", EXTENDED, "--at", at, "--lanczos", "-f", "json").stdout)
    assert data["method"] == "lanczos" and "eigenvalues" not in data and data["hvps"] > 0
    np.testing.assert_allclose(data["extreme_eigenvalues"], dense[[0, -1]], rtol=1e-9)
    assert data["verdict"] == "not critical" and data["definiteness"] == "indefinite"
    assert data["condition_number"] is None  # an indefinite H: the eigenvalue nearest 0 is not known
    monkeypatch.setattr(analysis, "DENSE_LIMIT", 10)  # above it, Lanczos without being asked
    assert jaccli.analyze(EXTENDED, at=at).method == "lanczos"


def test_lanczos_at_the_minimum_where_the_spectrum_ends_in_a_continuum():
    """At x = 1 the top of H's spectrum is a continuum (gaps ~1e-3 of 1802): the Ritz values settle anyway."""
    result = jaccli.analyze(EXTENDED, at="x=ones(1000)", lanczos=True)
    dense = extended_eigenvalues(np.ones(1000))
    assert result.verdict == "minimum" and result.definiteness == "positive definite"
    np.testing.assert_allclose(result.extreme_eigenvalues, dense[[0, -1]], rtol=1e-8)
    assert result.condition_number == pytest.approx(dense[-1] / dense[0], rel=1e-8)


def test_hutchinson_is_within_three_standard_errors_of_the_exact_trace():
    x, setup = extended_setup(200, 11)
    exact = np.trace(extended_hessian(x))
    for seed in range(6):
        estimate, stderr = spectrum.hutchinson(setup, 200, seed)
        assert stderr > 0 and abs(estimate - exact) <= 3 * stderr, (seed, estimate, exact, stderr)
    assert spectrum.hutchinson(setup, 200, 2) == spectrum.hutchinson(setup, 200, 2)  # seeded: reproducible


def test_hutchinson_is_exact_for_a_diagonal_hessian_and_batches_alike(monkeypatch):
    _, setup = extended_setup(5, 0)
    diagonal = bind(Request("hvp", "sum(x**2) + 3*x[0]**2", at=("x=ones(9)",)))
    assert spectrum.hutchinson(diagonal, 16, 0) == (24.0, 0.0)  # vᵀHv = tr H for every sign vector
    whole = spectrum.hutchinson(setup, 40, 5)
    monkeypatch.setattr(spectrum, "PROBE_FLOATS", 5 * 7)  # 7 probes a batch
    np.testing.assert_allclose(spectrum.hutchinson(setup, 40, 5), whole, rtol=1e-12)


def test_trace_through_the_command_line():
    data = json.loads(run_cli("analyze", ROSENBROCK, "--at", "1,1", "--trace", "--probes", "50", "--seed", "3",
                              "-f", "json").stdout)
    assert data["probes"] == 50 and data["seed"] == 3 and data["trace_stderr"] > 0
    assert abs(data["trace"] - 1002.0) <= 3 * data["trace_stderr"]


def test_a_vector_function_gives_the_jacobians_singular_values_and_rank():
    result = jaccli.analyze("[x**2*y, sin(z), x*y]", at="1,2,0.5")
    jacobian = np.array([[4.0, 1.0, 0.0], [0.0, 0.0, np.cos(0.5)], [2.0, 1.0, 0.0]])
    singular = np.linalg.svd(jacobian, compute_uv=False)
    np.testing.assert_allclose(result.singular_values, singular, rtol=1e-12)
    assert result.rank == 3 and result.condition_number == pytest.approx(singular[0] / singular[-1])
    deficient = run_cli("analyze", "[x*y, 2*x*y]", "--at", "1,2", "-f", "json")
    data = json.loads(deficient.stdout)
    assert data["rank"] == 1 and data["condition_number"] == "inf" or data["condition_number"] > 1e15
    assert {"singular_values", "rank", "condition_number", "tolerance", "value"} <= set(data)
    assert "verdict" not in data and data["value"] == [2.0, 4.0]


def test_many_points_give_one_analysis_each(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("1,1\n0,0\n1,2\n")
    done = run_cli("analyze", ROSENBROCK, "--at", f"@{points}", "-f", "json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["index"] for d in lines] == [0, 1, 2]
    assert [d["verdict"] for d in lines] == ["minimum", "not critical", "not critical"]
    assert lines[2]["point"] == {"x": 1.0, "y": 2.0}


@pytest.mark.parametrize("args, message", [
    (("[x, y]", "--at", "1,2", "--trace"), "--trace is about the Hessian of a scalar expression"),
    (("x**2", "--at", "1", "--probes", "1"), "--probes"),
    (("x**2", "--at", "1", "-o", "out.csv"), "`analyze` writes table, plain or json"),
    (("sqrt(x)", "--at", "-1"), "non-finite"),
])
def test_mistakes_are_exit_2_with_one_error_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = run_cli("analyze", *args)
    assert done.returncode == 2 and done.stderr.count("error: ") == 1 and message in done.stderr
    assert done.stderr.count("warning: ") <= 1  # f is not finite at -1: said once, not by every run
    assert "Traceback" not in done.stderr and not (tmp_path / "out.csv").exists()


def test_analyze_follows_wrt_and_float32():
    held = jaccli.analyze("x**2*y + y**3", at="x=1,y=2", wrt="y")  # ∂²/∂y² = 6y = 12 only
    np.testing.assert_allclose(held.eigenvalues, [12.0]) and held.variables == ("x", "y")
    single = jaccli.analyze(ROSENBROCK, at="1,1", dtype="float32")
    assert single.verdict == "minimum" and single.dtype == "float32"
    assert single.tolerance == pytest.approx(2 * np.finfo(np.float32).eps * single.eigenvalues[-1], rel=1e-5)


def test_the_request_machinery_is_the_registrys():
    """analyze runs the registry's grad --with-value and hessian: a replaced Request, nothing of its own."""
    request = Request("analyze", ROSENBROCK, at=("1,1",))
    setup = bind(replace(request, command="hvp"))
    np.testing.assert_allclose(np.asarray(spectrum._hvp(setup)(setup.z, setup.c, np.array([1.0, 0.0]))),
                               [802.0, -400.0])


def test_held_values_beside_the_points_hold_for_every_point(tmp_path):
    points = tmp_path / "points.jsonl"
    points.write_text('{"x": [1, 2]}\n{"x": [0, 0]}\n')
    done = run_cli("analyze", "x @ A @ x", "--wrt", "x", "--at", "A=[[2,1],[1,3]]", "--at", f"@{points}", "-f", "json")
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    np.testing.assert_allclose(first["eigenvalues"], np.linalg.eigvalsh([[4.0, 2.0], [2.0, 6.0]]))
    assert first["verdict"] == "not critical" and second["verdict"] == "minimum" and second["index"] == 1
    points.write_text('{"x": [1, 2], "A": [[1, 0], [0, 1]]}\n')
    clash = run_cli("analyze", "x @ A @ x", "--at", "A=[[2,1],[1,3]]", "--at", f"@{points}")
    assert clash.returncode == 2 and "which --at holds for every point" in clash.stderr
