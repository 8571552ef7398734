"""Large inputs: block-wise Jacobians and Hessians, HVPs at n = 10⁶, shapes kept, the size guard.

In this process, but the size guard: it measures a process's peak memory."""

import functools
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import JACCLI, compute, jaccli

ROSENBROCK = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"


@functools.cache
def one_shot(command: str, expr: str, at: str, mode: str) -> np.ndarray:
    """The whole result in one go, computed once for all the block sizes compared with it."""
    return compute(command, expr, at, mode=mode)


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-fwd", "rev-rev"])
@pytest.mark.parametrize("block", [1, 3, 4, 7, 64])
def test_blockwise_hessian_equals_one_shot(mode, block):
    at = "x=linspace(-1, 1.5, 7)"
    expr = "[sum(x**3*x[0]), sum(sin(x)*x[1]), x[2]**2*x[0]]"
    whole = one_shot("hessian", expr, at, mode)
    blocks = compute("hessian", expr, at, mode=mode, chunk_size=block)
    np.testing.assert_allclose(blocks, whole, rtol=1e-13, atol=1e-13)
    assert blocks.shape == (3, 7, 7)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("block", [1, 2, 5])
def test_blockwise_jacobian_equals_one_shot(mode, block):
    at = "X=[[0.5, -1, 2], [1.5, 0.25, -0.75]]"
    expr = "[sum(X**2*X[0, 0]), prod(sin(X)), X[1, 2]*X[0, 1], norm(X)]"
    whole = one_shot("jacobian", expr, at, mode)
    blocks = compute("jacobian", expr, at, mode=mode, chunk_size=block)
    np.testing.assert_allclose(blocks, whole, rtol=1e-13, atol=1e-13)
    assert blocks.shape == (4, 2, 3)


def test_rosenbrock_hessian_blockwise_is_tridiagonal_and_right():
    x = np.linspace(-1, 1, 50)
    got = compute("hessian", ROSENBROCK, "x=linspace(-1, 1, 50)", chunk_size=16)
    want = np.zeros((50, 50))  # hand-derived
    for i in range(49):
        want[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        want[i + 1, i + 1] += 200
        want[i, i + 1] = want[i + 1, i] = -400 * x[i]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_hvp_at_a_million_variables_matches_the_analytic_hvp(tmp_path):
    rng = np.random.default_rng(0)
    x, v = rng.normal(size=10**6), rng.normal(size=10**6)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "v.npy", v)
    out = tmp_path / "hv.npy"
    done = jaccli("hvp", "sum(tanh(x)**2)", "--at", f"x=@{tmp_path / 'x.npy'}", "--v", f"@{tmp_path / 'v.npy'}",
                  "-o", str(out))
    assert done.returncode == 0, done.stderr
    t = np.tanh(x)
    s = 1 - t**2  # d²/dx² tanh² = 2 sech⁴ - 4 tanh² sech²
    want = (2 * s**2 - 4 * t**2 * s) * v
    np.testing.assert_allclose(np.load(out), want, rtol=1e-11, atol=1e-13 * np.abs(want).max())


def test_gradient_of_a_million_variables_from_a_builder():
    got = compute("grad", "sum(x**2*sin(x))", "x=random(10**6, seed=3)")
    x = np.random.default_rng(3).random(10**6)
    np.testing.assert_allclose(got, 2 * x * np.sin(x) + x**2 * np.cos(x), rtol=1e-13)


def test_matrix_variables_keep_their_shape_and_labels():
    X = np.random.default_rng(1).normal(size=(30, 40))
    V = np.ones((30, 40))
    got = compute("hvp", "sum(tanh(X)**2)", f"X={X.tolist()}", v=(f"{V.tolist()}",))
    assert got.shape == (30, 40)
    done = jaccli("hessian", "sum(X**3)", "--at", "X=[[1,2],[3,4]]", "-f", "csv")
    header = done.stdout.splitlines()[0].split('","')
    assert len(header) == 16 and header[1] == "d2f/dX[0,0]dX[0,1]"


def test_size_guard_refuses_a_huge_hessian_without_allocating_it():
    process = subprocess.Popen([JACCLI, "hessian", "sum(x**2)", "--at", "x=zeros(10**7)", "--no-sparse"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read()
    assert os.waitstatus_to_exitcode(status) == 2
    assert "800.0 TB" in stderr and "hvp" in stderr
    assert usage.ru_maxrss < 1_000_000  # KB: far below the 800 TB it would take


def test_large_result_table_is_summarized_with_norms_and_extremes():
    done = jaccli("grad", "sum(x**2)", "--at", "x=linspace(-1, 2, 100000)", "-f", "table")
    assert "summarized" in done.stdout and "max 4 at df/dx[99999]" in done.stdout


def test_large_json_and_plain_round_trip(tmp_path):
    done = jaccli("grad", "sum(x**3)", "--at", "x=linspace(-1, 2, 20001)", "-f", "json")
    x = np.linspace(-1, 2, 20001)
    assert np.array_equal(np.array(json.loads(done.stdout)["value"]), 3 * x**2)
    plain = jaccli("grad", "sum(x**3)", "--at", "x=linspace(-1, 2, 20001)", "-f", "plain").stdout
    assert np.array_equal(np.array([float(line) for line in plain.split()]), 3 * x**2)
