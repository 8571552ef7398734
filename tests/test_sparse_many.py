"""Many points, sparse (compute/sparse/many.py): one pattern and one compiled vmap over chunks of points, each
point's matrix against JAX's own dense derivative at that point."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import jaccli, jaccli_process
from test_sparse import BROYDEN, ROSENBROCK, as_dense, setup_of


def dense_at(command: str, expr: str, rows: np.ndarray) -> np.ndarray:
    """JAX's dense Jacobian or Hessian at each row of points (an independent oracle), (points, m, n)."""
    import jax

    s = setup_of(command, expr, f"x=zeros({rows.shape[1]})")
    operator = jax.jit(jax.jacfwd(s.function) if command == "jacobian" else jax.hessian(s.function))
    return np.stack([np.asarray(operator(row, s.c)).reshape(-1, rows.shape[1]) for row in rows])


@pytest.mark.parametrize("command, expr", [("hessian", ROSENBROCK), ("jacobian", BROYDEN)])
def test_chunks_of_points_equal_dense_derivatives(command, expr, tmp_path, monkeypatch):
    """7 points in chunks of 3 (the last one padded): one compile, every point's own numbers, in order."""
    from jaccli.compute.sparse import many

    compiled = []
    original = many._Points._compile
    monkeypatch.setattr(many, "MAX_CHUNK", 3)
    monkeypatch.setattr(many._Points, "_compile", lambda self, size: compiled.append(size) or original(self, size))
    rows = np.random.default_rng(5).uniform(-1.5, 1.5, (7, 12))
    np.save(tmp_path / "points.npy", rows)
    ran = jaccli(command, expr, "--at", f"@{tmp_path / 'points.npy'}", "--sparse", "-f", "json")
    assert ran.returncode == 0, ran.stderr
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [line["index"] for line in lines] == list(range(7)) and compiled == [3]
    expected = dense_at(command, expr, rows)
    for line, matrix in zip(lines, expected):
        np.testing.assert_allclose(as_dense(line), matrix, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(line["point"]["x"], rows[line["index"]])


def test_a_short_file_is_compiled_for_its_own_length(tmp_path, monkeypatch):
    from jaccli.compute.sparse import many

    compiled = []
    original = many._Points._compile
    monkeypatch.setattr(many._Points, "_compile", lambda self, size: compiled.append(size) or original(self, size))
    rows = np.random.default_rng(6).uniform(-1, 1, (2, 9))
    np.save(tmp_path / "points.npy", rows)
    ran = jaccli("hessian", ROSENBROCK, "--at", f"@{tmp_path / 'points.npy'}", "--sparse", "-o",
                 str(tmp_path / "H.npz"))
    assert ran.returncode == 0, ran.stderr
    import scipy.sparse as sp

    expected = dense_at("hessian", ROSENBROCK, rows)
    for k in range(2):
        np.testing.assert_allclose(sp.load_npz(tmp_path / f"H.{k}.npz").toarray(), expected[k], rtol=1e-12,
                                   atol=1e-12)
    assert compiled == [2]


def test_a_stream_is_computed_as_each_point_arrives(monkeypatch):
    from jaccli.compute.sparse import many

    compiled = []
    original = many._Points._compile
    monkeypatch.setattr(many._Points, "_compile", lambda self, size: compiled.append(size) or original(self, size))
    rows = np.random.default_rng(7).uniform(-1, 1, (3, 6))
    text = "".join(json.dumps(list(row)) + "\n" for row in rows)
    ran = jaccli("hessian", ROSENBROCK, "--at", "-", "--sparse", "-f", "json", input=text)
    assert ran.returncode == 0, ran.stderr
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    for line, matrix in zip(lines, dense_at("hessian", ROSENBROCK, rows), strict=True):
        np.testing.assert_allclose(as_dense(line), matrix, rtol=1e-12, atol=1e-12)
    assert compiled == [1]  # one point a call: a co-process's line is answered before the next comes


def test_the_vmapped_executable_is_kept_in_jax_cache(tmp_path):
    """A second run of the same points compiles nothing: JAX's persistent cache under the cache folder has it."""
    rows = np.random.default_rng(8).uniform(-1, 1, (4, 30))
    np.save(tmp_path / "points.npy", rows)
    env = {"JACCLI_CACHE_DIR": str(tmp_path / "cache")}
    kept = []
    for _ in range(2):
        ran = jaccli_process("hessian", ROSENBROCK, "--at", f"@{tmp_path / 'points.npy'}", "--sparse", "-f", "json",
                             env=env)
        assert ran.returncode == 0, ran.stderr
        kept.append(sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "cache").rglob("*")
                           if "xla" in p.parts and p.is_file()))
    assert kept[0] and kept[1] == kept[0]  # the second run wrote nothing (a miss writes its entry): a hit
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    for line, matrix in zip(lines, dense_at("hessian", ROSENBROCK, rows), strict=True):
        np.testing.assert_allclose(as_dense(line), matrix, rtol=1e-12, atol=1e-12)


def test_a_complex_record_after_real_ones_stops_after_the_real_answers():
    lines = '{"x": [0.1, 0.2, 0.3]}\n{"x": {"real": [0.1, 0.2, 0.3], "imag": [0, 0, 1]}}\n'
    ran = jaccli("hessian", ROSENBROCK, "--at", "-", "--sparse", "-f", "json", input=lines)
    assert ran.returncode == 2 and ran.stderr.startswith("error: record 2: its values are complex128"), ran.stderr
    (first,) = [json.loads(line) for line in ran.stdout.splitlines()]
    np.testing.assert_allclose(as_dense(first), dense_at("hessian", ROSENBROCK, np.array([[0.1, 0.2, 0.3]]))[0],
                               rtol=1e-13)


def test_a_bad_record_stops_after_the_results_before_it_or_is_skipped_with_skip_bad():
    """As the dense points do: without --skip-bad, the results before the bad record are written, then one error
    (exit 2); with it, a warning, an error line in JSON output, and the records after it computed."""
    stream = '{"x":[1,2,3]}\n{"x":[4,5,"a"]}\n{"x":[1,1,1]}\n'
    expr = "sum(x[1:]*x[:-1]**2)"  # x₁x₀² + x₂x₁², its Hessian by hand below

    def hessian(x):
        return [[2 * x[1], 2 * x[0], 0], [2 * x[0], 2 * x[2], 2 * x[1]], [0, 2 * x[1], 0]]

    stopped = jaccli("hessian", expr, "--at", "-", "--sparse", "-f", "json", input=stream)
    assert stopped.returncode == 2 and stopped.stderr.startswith("error: line 2:")
    assert "results before it were written" in stopped.stderr
    assert [json.loads(line)["index"] for line in stopped.stdout.splitlines()] == [0]
    skipped = jaccli("hessian", expr, "--at", "-", "--sparse", "-f", "json", "--skip-bad", input=stream)
    assert skipped.returncode == 0 and "line 2:" in skipped.stderr and "(skipped)" in skipped.stderr
    first, bad, last = (json.loads(line) for line in skipped.stdout.splitlines())
    assert (bad["index"], bad["line"]) == (1, 2) and "not a number" in bad["error"]
    for document, x in ((first, [1, 2, 3]), (last, [1, 1, 1])):
        matrix = sp.coo_array((document["data"], (document["row"], document["col"])), shape=(3, 3)).toarray()
        np.testing.assert_array_equal(matrix, hessian(x))


def test_fields_are_refused_for_sparse_results_not_ignored():
    ran = jaccli("hessian", "sum(x**3)", "--at", "-", "--sparse", "-f", "json", "--fields", "index,value",
                 input='{"x":[1,2,3]}\n')
    assert ran.returncode == 2 and ran.stdout == "" and ran.stderr.startswith("error: --fields chooses")
