"""Sparse Jacobians and Hessians (SPEC §9): patterns against JAX's dense derivatives at random points, values
against dense jaccli, colour counts against their lower bounds, files through SciPy, bad input exit 2."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import jaccli

ROSENBROCK = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"
BROYDEN = "(3-2*x)*x - concatenate([[0], x[:-1]]) - 2*concatenate([x[1:], [0]]) + 1"
STENCIL = "sum((u[1:,:]-u[:-1,:])**2) + sum((u[:,1:]-u[:,:-1])**2) + sum(u**4)"


def setup_of(command: str, expr: str, at: str, **options):
    from jaccli.compute.prepare import Request, bind

    return bind(Request(command, expr, at=(at,), **options))


def detected(command: str, expr: str, at: str, **options) -> np.ndarray:
    from jaccli.compute.sparse.pattern import hessian_pattern, jacobian_pattern

    s = setup_of(command, expr, at, **options)
    n, k = s.layout.z_size, s.layout.c_size
    if command == "hessian":
        return hessian_pattern(s.function, n, k, np.float64).toarray()
    return jacobian_pattern(s.function, n, k, np.float64)[0].toarray()


def dense_derivatives(command: str, expr: str, at: str, points: int = 3, **options) -> np.ndarray:
    """JAX's own dense derivative (an independent oracle), (points + 1, m, n): at a few random points, and at
    the point `at` itself, last."""
    import jax

    s = setup_of(command, expr, at, **options)
    operator = jax.jacfwd(s.function) if command == "jacobian" else jax.hessian(s.function)
    rng = np.random.default_rng(7)
    at_points = np.concatenate([rng.uniform(0.5, 1.5, (points, *s.z.shape)), s.z[None]])
    values = np.asarray(jax.jit(jax.vmap(operator, in_axes=(0, None)))(at_points, s.c))
    return values.reshape(points + 1, -1, s.layout.z_size)


def true_pattern(command: str, expr: str, at: str, points: int = 3, **options) -> np.ndarray:
    """The nonzeros of JAX's dense derivative at a few random points."""
    return (dense_derivatives(command, expr, at, points, **options)[:-1] != 0).any(axis=0)


CORPUS = [  # (command, expression, point): each detected pattern must equal the true one
    ("jacobian", BROYDEN, "x=random(9, seed=3)"),  # banded
    ("hessian", ROSENBROCK, "x=random(8, seed=3)"),  # banded
    ("hessian", "sum(sum(reshape(x,(3,4)),axis=1)**2)", "x=random(12, seed=3)"),  # blocks
    ("jacobian", "sum(reshape(x,(3,4))**2, axis=0)", "x=random(12, seed=3)"),  # reduction along an axis
    ("hessian", "sum(x[:-1]**2*x[-1])", "x=random(9, seed=3)"),  # arrowhead
    ("jacobian", "concatenate([x[:-1]*x[-1], [sum(x**2)]])", "x=random(9, seed=3)"),  # a dense row and column
    ("jacobian", "x[::2]*x[1::2] + sum(x[1:7:3])", "x=random(10, seed=3)"),  # strided slices
    ("jacobian", "diag(reshape(x,(3,3)))*x[:3]", "x=random(9, seed=3)"),  # a gather
    ("jacobian", "cumsum(x**2)", "x=random(6, seed=3)"),
    ("jacobian", "flip(x)*roll(x, 2) + diff(x, n=1)[0]", "x=random(7, seed=3)"),
    ("hessian", STENCIL, "u=random((5,6), seed=3)"),  # 2-D stencil
    ("jacobian", "reshape(x,(2,3)).T @ [1,2]", "x=random(6, seed=3)"),  # a product with a constant
    ("hessian", "logsumexp(x)", "x=random(5, seed=3)"),  # dense
    ("jacobian", "[prod(x[:2]), x[3]/x[4]]", "x=random(5, seed=3)"),
    ("hessian", "r = x[1:] - x[:-1]**2; sum(100*r**2 + (1 - x[:-1])**2)", "x=random(7, seed=3)"),  # definitions
    ("hessian", "sum(tril(outer(x, x)))", "x=random(5, seed=3)"),  # a constant mask
    ("hessian", "x*y**2 + sum(z[1:]*z[:-1])*y", "x=0.5,y=1.5,z=random(4, seed=3)"),  # several variables
]


COMPILED: dict = {}  # the compiled functions, kept across runs as `jaccli serve` keeps them


@pytest.mark.parametrize("command, expr, at", CORPUS)
def test_detected_pattern_is_the_true_pattern_and_the_values_are_right(command, expr, at):
    from jaccli.compute.prepare import Request
    from jaccli.compute.run import run

    dense = dense_derivatives(command, expr, at)
    assert np.array_equal(detected(command, expr, at), (dense[:-1] != 0).any(axis=0))
    result = run(Request(command, expr, at=(at,), sparse="on"), executables=COMPILED)
    np.testing.assert_allclose(result.matrix.toarray(), dense[-1], rtol=1e-12, atol=1e-12)


def test_where_and_max_keep_every_branch():
    expr, at = "where(x > 1, x**2, x[::-1]*x)", "x=random(5, seed=3)"
    found = detected("jacobian", expr, at)
    assert (found >= true_pattern("jacobian", expr, at)).all()
    assert np.array_equal(found, true_pattern("jacobian", "x**2 + x[::-1]*x", at))
    found = detected("jacobian", "[max(x[2:]), x[0]]", at)  # the largest entry differs from point to point
    assert np.array_equal(found, true_pattern("jacobian", "[sum(x[2:]), x[0]]", at))


def test_held_variables_are_not_columns():
    from jaccli.compute.sparse.pattern import jacobian_pattern

    s = setup_of("jacobian", "x[1:]*y[:-1] + y[1:]", "x=random(5, seed=3),y=zeros(5)", wrt=("x",))
    found = jacobian_pattern(s.function, s.layout.z_size, s.layout.c_size, np.float64)[0].toarray()
    assert found.shape == (4, 5) and np.array_equal(found, np.eye(4, 5, 1, dtype=bool))


def test_unknown_primitive_is_dense_with_a_warning():
    import jax
    import jax.numpy as jnp

    from jaccli.compute.sparse.pattern import jacobian_pattern
    from jaccli.errors import JaccliWarning

    def f(z, c):
        windows = jax.lax.reduce_window(z[:6], 0.0, jax.lax.add, (2,), (2,), "VALID")
        return jnp.concatenate([windows, z[6:] ** 2])

    with pytest.warns(JaccliWarning, match="reduce_window"):
        pattern, _ = jacobian_pattern(f, 8, 0, np.float64)
    found = pattern.toarray()
    assert found[:3, :6].all() and not found[:3, 6:].any() and np.array_equal(found[3:, 6:], np.eye(2, dtype=bool))


def test_rules_beyond_the_language():
    """Primitives jaccli's expressions do not make, against JAX's own Jacobian: a pad whose fill value
    depends on x, a scatter-add, a dynamic slice, a loop."""
    import jax
    import jax.numpy as jnp

    from jaccli.compute.sparse.pattern import jacobian_pattern

    def loop(z):
        return jax.lax.fori_loop(0, 3, lambda i, v: v * jnp.roll(v, 1), z[:4])

    functions = [
        lambda z, c: jax.lax.pad(z[:3], z[3], ((1, 2, 0),)),
        lambda z, c: jnp.zeros(3).at[jnp.array([0, 2, 0])].add(z[:3] * z[3]),
        lambda z, c: jax.lax.dynamic_slice(z, (jnp.array(1),), (2,)) * z[0],
        lambda z, c: loop(z),
    ]
    z = np.arange(1.0, 6.0)
    for f in functions:
        found = jacobian_pattern(f, 5, 0, np.float64)[0].toarray()
        true = np.asarray(jax.jit(jax.jacfwd(f))(z, np.zeros(0))).reshape(found.shape) != 0
        assert np.array_equal(found, true)


def colours(command: str, expr: str, at: str) -> int:
    from jaccli.compute.sparse.colour import colour_hessian, colour_jacobian
    from jaccli.compute.sparse.pattern import hessian_pattern, jacobian_pattern

    s = setup_of(command, expr, at)
    n = s.layout.z_size
    if command == "hessian":
        return colour_hessian(hessian_pattern(s.function, n, 0, np.float64)).colours
    return colour_jacobian(jacobian_pattern(s.function, n, 0, np.float64)[0]).colours


def test_tridiagonal_takes_three_colours():
    assert colours("jacobian", BROYDEN, "x=random(200, seed=3)") == 3
    assert colours("hessian", ROSENBROCK, "x=random(200, seed=3)") == 3


def test_stencil_within_two_of_the_lower_bound():
    lower = 5  # a row of the 5-point Hessian holds 5 nonzeros: they need 5 different products
    assert colours("hessian", STENCIL, "u=zeros((30,40))") <= lower + 2


def test_arrowheads_take_about_two_colours():
    assert colours("hessian", "sum(x[:-1]**2*x[-1])", "x=random(300, seed=3)") == 2
    assert colours("jacobian", "concatenate([x[:-1]*x[-1], [sum(x)]])", "x=random(300, seed=3)") <= 3


def random_graph(n: int, edges: int, seed: int = 0) -> sp.csr_array:
    """A symmetric pattern with a diagonal and `edges` random links: neither a band nor a stencil."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, n, edges), rng.integers(0, n, edges)
    links = sp.coo_array((np.ones(edges), (i, j)), shape=(n, n)).tocsr()
    pattern = (links + links.T + sp.eye_array(n, format="csr")).astype(bool).tocsr()
    pattern.sort_indices()
    return pattern


def products_of(matrix: np.ndarray, colouring) -> np.ndarray:
    """What the compiled products compute, by NumPy: H·seed for every colour, laid out as evaluate.py lays them."""
    seeds = np.zeros((matrix.shape[1], colouring.colours))
    used = colouring.forward >= 0
    seeds[np.flatnonzero(used), colouring.forward[used]] = 1
    return (matrix @ seeds).T.reshape(-1)


@pytest.mark.parametrize("name", ["random graph", "tridiagonal", "arrowhead", "stencil"])
def test_every_symmetric_colouring_reads_back_every_entry(name):
    """An independent check of colour + gather: a random symmetric H on the pattern, the products by NumPy."""
    from jaccli.compute.sparse.colour import colour_hessian

    n = 400
    ones = np.ones(n)
    pattern = {"random graph": lambda: random_graph(n, 2 * n),
               "tridiagonal": lambda: sp.diags_array([ones[1:], ones, ones[1:]], offsets=[-1, 0, 1],
                                                     format="csr").astype(bool),
               "arrowhead": lambda: (sp.eye_array(n, format="lil", dtype=bool) + sp.csr_array(
                   (np.ones(2 * n - 1, bool), (np.r_[np.full(n, n - 1), np.arange(n - 1)],
                                               np.r_[np.arange(n), np.full(n - 1, n - 1)])), shape=(n, n))).tocsr(),
               "stencil": lambda: (sp.kron(sp.eye_array(20), sp.diags_array([ones[:19], ones[:20], ones[:19]],
                                                                           offsets=[-1, 0, 1]))
                                   + sp.kron(sp.diags_array([ones[:19], ones[:19]], offsets=[-1, 1]),
                                             sp.eye_array(20))).astype(bool).tocsr()}[name]()
    pattern = sp.csr_array(pattern, dtype=bool)
    pattern.sort_indices()
    colouring = colour_hessian(pattern)
    values = np.random.default_rng(1).normal(size=pattern.nnz)
    h = sp.csr_array((values, pattern.indices, pattern.indptr), shape=pattern.shape).toarray()
    h = h + h.T  # symmetric, on the pattern
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    np.testing.assert_array_equal(products_of(h, colouring)[colouring.gather], h[rows, pattern.indices])


def test_a_star_colouring_takes_fewer_products_than_distance_two():
    from jaccli.compute.sparse.colour import colour_hessian, group_columns

    pattern = random_graph(2000, 4000)
    colouring = colour_hessian(pattern)
    assert colouring.kind == "star" and colouring.colours < group_columns(pattern)[1]


def test_a_star_coloured_hessian_equals_jax():
    """End to end through real HVPs: f couples random pairs of entries (constant gather indices)."""
    import jax
    import jax.numpy as jnp

    from jaccli.compute.sparse.colour import colour_hessian
    from jaccli.compute.sparse.evaluate import decompress, operator
    from jaccli.compute.sparse.pattern import hessian_pattern
    from jaccli.compute.sparse.scheme import Scheme

    jax.config.update("jax_enable_x64", True)  # as jaccli runs (compute/translate.py)
    rng = np.random.default_rng(2)
    i, j = rng.integers(0, 300, 600), rng.integers(0, 300, 600)

    def f(z, c):
        return jnp.sum(jnp.sin(z[i]) * z[j] ** 2) + jnp.sum(z**4)

    pattern = hessian_pattern(f, 300, 0, np.float64)
    colouring = colour_hessian(pattern)
    g = jax.jit(operator(f, "hessian", "fwd-rev", (colouring.n_forward, 0), (), 300, np.float64))
    z = rng.uniform(-1, 1, 300)
    matrix = decompress(Scheme(pattern, colouring), np.asarray(g(z, np.zeros(0), colouring.seeds())))
    assert colouring.kind == "star"
    np.testing.assert_allclose(matrix.toarray(), np.asarray(jax.jit(jax.hessian(f))(z, np.zeros(0))), rtol=1e-12,
                               atol=1e-12)


def as_dense(document: dict) -> np.ndarray:
    return sp.coo_array((document["data"], (document["row"], document["col"])), shape=document["shape"]).toarray()


@pytest.mark.parametrize("command, expr, at", [CORPUS[0], CORPUS[9]])
def test_sparse_json_equals_dense_json(command, expr, at):
    sparse_run = jaccli(command, expr, "--at", at, "--sparse", "-f", "json")
    dense_run = jaccli(command, expr, "--at", at, "--no-sparse", "-f", "json")
    assert sparse_run.returncode == 0, sparse_run.stderr
    document, dense = json.loads(sparse_run.stdout), json.loads(dense_run.stdout)
    assert document["format"] == "coo" and document["nnz"] == len(document["data"])
    rows = list(zip(document["row"], document["col"]))
    assert rows == sorted(rows)  # row-major
    np.testing.assert_allclose(as_dense(document), np.reshape(dense["value"], document["shape"]), rtol=1e-12,
                               atol=1e-12)


KEPT: dict = {}


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=6, max_size=6))
def test_sparse_hessian_equals_dense_anywhere(point):
    from jaccli.compute.prepare import Request
    from jaccli.compute.run import run

    at = "x=[" + ",".join(repr(p) for p in point) + "]"
    expr = ROSENBROCK + " + sum(x[:-1]**2*x[-1])"  # banded and an arrowhead
    sparse_result = run(Request("hessian", expr, at=(at,), sparse="on"), executables=KEPT)
    dense_result = run(Request("hessian", expr, at=(at,), sparse="off"), executables=KEPT)
    assert len(KEPT) == 2  # one compiled function each, for every point
    np.testing.assert_allclose(sparse_result.matrix.toarray(), dense_result.value, rtol=1e-12, atol=1e-9)


def test_npz_and_mtx_round_trip(tmp_path):
    at = "x=linspace(-1, 1, 12)"
    dense = np.array(json.loads(jaccli("hessian", ROSENBROCK, "--at", at, "--no-sparse", "-f", "json").stdout)
                     ["value"])
    for suffix in ("npz", "mtx"):
        path = tmp_path / f"H.{suffix}"
        ran = jaccli("hessian", ROSENBROCK, "--at", at, "-o", str(path))
        assert ran.returncode == 0, ran.stderr
        matrix = sp.load_npz(path) if suffix == "npz" else scipy.io.mmread(path)
        np.testing.assert_allclose(sp.csr_array(matrix).toarray(), dense, rtol=1e-12)
    assert "symmetric" in (tmp_path / "H.mtx").read_text().splitlines()[0]
    assert sp.load_npz(tmp_path / "H.npz").format == "csr"


@pytest.mark.parametrize("shape, density", [((40, 30), 0.1), ((1, 1), 1.0), ((6, 6), 0.0)])
def test_npz_is_what_scipy_writes(shape, density):
    """jaccli writes the arrays from memory; the file is byte for byte scipy.sparse.save_npz's."""
    import io
    import types
    import zipfile

    from jaccli.output.sparse import to_npz

    matrix = sp.random_array(shape, density=density, format="csr", random_state=np.random.default_rng(3))
    theirs = io.BytesIO()
    sp.save_npz(theirs, sp.csr_matrix(matrix), compressed=False)
    ours, theirs = (zipfile.ZipFile(io.BytesIO(b)) for b in (to_npz(types.SimpleNamespace(matrix=matrix)),
                                                              theirs.getvalue()))
    assert ours.namelist() == theirs.namelist()
    assert all(ours.read(name) == theirs.read(name) for name in ours.namelist())


def test_csv_triplets_and_table():
    ran = jaccli("jacobian", BROYDEN, "--at", "x=full(5, 0.5)", "--sparse", "-f", "csv")
    lines = ran.stdout.splitlines()
    assert lines[0] == "row,col,value" and len(lines) == 1 + 13
    table = jaccli("jacobian", BROYDEN, "--at", "x=full(5, 0.5)", "--sparse", "-f", "table").stdout
    assert "∂f0/∂x[1]" in table and "13 nonzeros" in table and "3 colours" in table


def test_auto_goes_sparse_only_for_large_results():
    small = json.loads(jaccli("hessian", ROSENBROCK, "--at", "x=random(10, seed=3)", "-f", "json").stdout)
    assert "value" in small and "format" not in small
    large = json.loads(jaccli("hessian", ROSENBROCK, "--at", "x=full(1200, 0.5)", "-f", "json").stdout)
    assert large["format"] == "coo" and large["nnz"] == 3 * 1200 - 2 and large["colors"] == 3
    refused = json.loads(jaccli("hessian", ROSENBROCK, "--at", "x=random(300, seed=3)", "--max-memory", "200KB",
                                "-f", "json").stdout)
    assert refused["format"] == "coo"


def test_many_points_share_one_pattern(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("0.1,0.2,0.3,0.4\n1,2,3,4\n")
    ran = jaccli("hessian", ROSENBROCK, "--at", f"@{points}", "--sparse", "-f", "json")
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [line["index"] for line in lines] == [0, 1]
    assert lines[0]["row"] == lines[1]["row"] and lines[0]["data"] != lines[1]["data"]
    ran = jaccli("hessian", ROSENBROCK, "--at", f"@{points}", "--sparse", "-o", str(tmp_path / "H.npz"))
    assert ran.returncode == 0 and sp.load_npz(tmp_path / "H.1.npz").nnz == 10


def test_many_points_of_other_shapes_stop_with_one_error():
    ran = jaccli("hessian", ROSENBROCK, "--at", "-", "--sparse", "-f", "json", input="[1,2,3]\n[4,5]\n")
    assert ran.returncode == 2 and json.loads(ran.stdout.splitlines()[0])["index"] == 0
    assert ran.stderr.startswith("error: record 2: the variables have shapes x (2,)")


def test_wrt_and_models():
    ran = jaccli("jacobian", "r = x[1:]*y[:-1]; r + y[1:]", "--at", "x=linspace(1,2,5)", "--at",
                 "y=linspace(2,3,5)", "--wrt", "y", "--sparse", "-f", "json")
    document = json.loads(ran.stdout)
    assert document["shape"] == [4, 5] and document["wrt"] == ["y"] and document["nnz"] == 8


def test_inspect_sparse_and_check():
    ran = jaccli("inspect", ROSENBROCK, "--at", "x=random(40, seed=3)", "--sparse")
    assert "nnz: 118" in ran.stdout and "3 (HVPs" in ran.stdout and "█" in ran.stdout
    assert jaccli("check", ROSENBROCK, "--at", "x=linspace(0,1,4)", "--of", "hessian", "--sparse").returncode == 0


def test_the_cache_keeps_the_scheme(tmp_path):
    env = {"JACCLI_CACHE_DIR": str(tmp_path / "cache")}
    first, second = (json.loads(jaccli("hessian", ROSENBROCK, "--at", "x=full(9, 0.3)", "--sparse", "-f", "json",
                                       env=env).stdout) for _ in range(2))
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    assert first["data"] == second["data"] and first["col"] == second["col"]


def test_a_kept_scheme_reads_back_and_a_damaged_one_is_found_again(tmp_path, monkeypatch):
    from jaccli.compute import cache
    from jaccli.compute.sparse.scheme import Scheme, find_scheme

    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path / "cache"))
    scheme = find_scheme(setup_of("hessian", ROSENBROCK, "x=full(50, 0.5)", sparse="on"), (), must=True)
    assert cache.store_blob("k", scheme.to_buffers())
    back = Scheme.from_bytes(cache.load_blob("k"))
    assert (back.pattern != scheme.pattern).nnz == 0 and back.colouring.kind == scheme.colouring.kind
    for name in ("forward", "reverse", "gather"):
        np.testing.assert_array_equal(getattr(back.colouring, name), getattr(scheme.colouring, name))
    entry = next((tmp_path / "cache").rglob("k.blob"))
    damaged = bytearray(entry.read_bytes())
    damaged[-5] ^= 1
    entry.write_bytes(bytes(damaged))
    assert cache.load_blob("k") is None


@pytest.mark.parametrize("args, words", [
    (["grad", "x**2", "--at", "1", "--sparse"], "no sparse form"),
    (["hessian", "[x[0]*x[1], x[1]]", "--at", "1,2", "--sparse"], "scalar expression"),
    (["hessian", "x[0]*x[1]", "--at", "1,2", "--sparse", "-f", "npy"], ".npy holds a dense array"),
    (["hessian", "x[0]*x[1]", "--at", "1,2", "--sparse", "--no-sparse"], "contradict"),
    (["hessian", "x[0]*x[1]", "--at", "1,2", "--no-sparse", "-f", "npz"], "holds a sparse matrix"),
    (["hessian", "x[0]*x[1]", "--at", "1,2", "--sparse", "--chunk-size", "2"], "--chunk-size"),
    (["hessian", "x[0]*x[1]", "--at", "1,2", "--sparse", "--plot", "-"], "--plot draws dense matrices"),
    (["hessian", "x[0]*x[1]", "--at", "@/nonexistent.csv", "--sparse", "-f", "npz"], "one .npz file a point"),
])
def test_bad_input_is_one_error_line(args, words):
    ran = jaccli(*args)
    assert ran.returncode == 2 and ran.stderr.startswith("error:") and words in ran.stderr
    assert "Traceback" not in ran.stderr


def test_serve_answers_a_sparse_request_as_coo():
    request = {"id": 7, "command": "hessian", "expr": ROSENBROCK, "at": {"x": "full(5, 0.5)"}, "sparse": True}
    answer = json.loads(jaccli("serve", input=json.dumps(request) + "\n").stdout)
    assert answer["id"] == 7 and answer["format"] == "coo" and answer["nnz"] == 13


def test_the_python_api_gives_a_csr_matrix():
    import jaccli

    result = jaccli.hessian(ROSENBROCK, at={"x": "full(6, 0.5)"}, sparse=True)
    assert isinstance(result.matrix, sp.csr_array) and result.matrix.shape == (6, 6) and result.colours == 3


def test_a_result_owns_its_matrix_so_changing_it_leaves_the_kept_scheme_alone():
    """The scheme is kept for the next call (in memory here; read-only views of a disk entry): a user who
    edits the matrix in place (sort_indices, eliminate_zeros, writing indices) must not change the next answer."""
    from jaccli.compute.prepare import Request
    from jaccli.compute.run import run

    kept: dict = {}
    request = Request("hessian", "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)", at=("x=linspace(-1, 1, 40)",),
                      sparse="on")
    first = run(request, executables=kept)
    expected = first.matrix.toarray()
    first.matrix.indices[:] = 0  # the user's own matrix, scribbled on
    first.matrix.indptr[1:] = first.matrix.indptr[-1]
    second = run(request, executables=kept)
    assert second.cache == "hit"
    np.testing.assert_array_equal(second.matrix.toarray(), expected)
    assert second.matrix.indices.flags.writeable and second.matrix.indptr.flags.writeable


def test_a_scheme_written_in_the_background_is_kept_and_a_disk_hit_copies_its_read_only_arrays(tmp_path, monkeypatch):
    """A first call writes its scheme while the products compile, done before the call returns; a later call
    reads it back as read-only views of the cache entry, and the user's matrix gets copies of them."""
    from jaccli.compute.prepare import Request
    from jaccli.compute.run import run

    import time

    from jaccli.compute import cache

    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("JACCLI_NO_CACHE")
    write = cache._write_entry
    monkeypatch.setattr(cache, "_write_entry", lambda key, data: time.sleep(0.3 * key.endswith(".blob"))
                        or write(key, data))  # a slow disk: the call still returns after the scheme is written
    request = Request("hessian", ROSENBROCK, at=("x=linspace(-1, 1, 30)",), sparse="on")
    first = run(request)
    assert len(list((tmp_path / "cache" / "executables").glob("*.blob"))) == 1
    assert first.cache == "miss" and not np.shares_memory(first.matrix.indices, first.scheme.pattern.indices)
    second = run(request)
    assert second.cache == "hit" and not second.scheme.pattern.indices.flags.writeable
    assert second.matrix.indices.flags.writeable and second.matrix.indptr.flags.writeable
    np.testing.assert_array_equal(second.matrix.toarray(), first.matrix.toarray())
    second.matrix.sort_indices()
    second.matrix.eliminate_zeros()


def _against_dense(command: str, expr: str, at: dict):
    """(sparse values, dense values at the pattern's entries) through the Python API."""
    import jaccli as api

    run = getattr(api, command)
    matrix = run(expr, at=at, sparse=True).matrix.tocoo()
    dense = run(expr, at=at, sparse=False).value
    return matrix.data, dense[matrix.row, matrix.col]


@pytest.mark.parametrize("command, expr, at", [
    ("jacobian", "eye(3) @ sqrt(x)", {"x": "[0, 1, 1]"}),
    ("hessian", "sum(sqrt(x)*(eye(3)@x))", {"x": "[0, 1, 1]"}),
    ("jacobian", "(2*eye(600) - roll(eye(600), 1, axis=1) - roll(eye(600), -1, axis=1)) @ sqrt(x)",
     {"x": "linspace(0, 1, 600)"}),
    ("hessian", "sum(sqrt(x)*(eye(500)@x))", {"x": "linspace(0, 1, 500)"}),
    ("hessian", "sum(sqrt(abs(x[1:])) * (diag(ones(400)) @ x[:-1]))", {"x": "linspace(-1, 1, 401)"}),
])
def test_an_infinite_derivative_in_one_column_spoils_no_other(command, expr, at):
    """sqrt at 0: one column's derivative is infinite, and where columns share a product the constant
    zeros of the matrix meet it as 0·inf = nan. The result must have the dense values, which take each column
    alone: finite where they are finite, and non-finite in the same places."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # where dense is nan too, the splits run out: a warning says so
        sparse, dense = _against_dense(command, expr, at)
    finite = np.isfinite(dense)
    assert not finite.all()  # the case is there
    np.testing.assert_array_equal(np.isfinite(sparse), finite)
    np.testing.assert_allclose(sparse[finite], dense[finite], rtol=1e-14, atol=0)


def test_mending_stops_after_its_calls_where_nothing_is_finite():
    """Every column infinite: no split helps; the evaluations stop at MAX_CALLS, and every value stays
    non-finite (inf or nan), as the dense ones are."""
    from jaccli.compute.sparse import evaluate, refine

    calls = []
    original = refine.refine
    try:
        evaluate.refine = lambda data, scheme, again: original(data, scheme, lambda w: calls.append(1) or again(w))
        with pytest.warns(Warning, match="did not settle them"):
            sparse, dense = _against_dense("jacobian", "eye(200) @ sqrt(x)", {"x": "zeros(200)"})
    finally:
        evaluate.refine = original
    assert 0 < len(calls) <= refine.MAX_CALLS
    assert not np.isfinite(sparse).any() and not np.isfinite(dense).any()



@pytest.mark.parametrize("flag", [[], ["--sparse"]])
def test_a_dense_pattern_too_large_either_way_points_to_hvp_not_back_and_forth(flag):
    """sum(x)**2 at n = 10⁵: H is all nonzeros, 80 GB dense or sparse. auto has looked at the pattern and --sparse
    is on, so neither hint sends the user to the other; both name hvp."""
    ran = jaccli("hessian", "sum(x)**2", "--at", "x=full(100000, 0.5)", *flag)
    assert ran.returncode == 2 and ran.stdout == ""
    error, hint = ran.stderr.splitlines()
    assert error.startswith("error: the ") and hint == "hint: use `hvp` (H·v without forming H), or raise --max-memory"


def test_a_jacobian_with_a_dense_row_apart_is_mended_in_its_forward_products_and_warns_of_the_rest():
    """The row sum(x) is taken apart (one VJP, spoiled by 0·inf at x₀ too, and not split); the rest, coloured
    by columns, shares products and is mended."""
    with pytest.warns(Warning, match="1 entries of the sparse jacobian are nan"):
        sparse, dense = _against_dense("jacobian", "concatenate([eye(50) @ sqrt(x), [sum(x)]])",
                                       {"x": "linspace(0, 1, 50)"})
    finite = np.isfinite(dense[:-50])  # the last 50 entries: the VJP's row, d sum(x)/dx = 1
    np.testing.assert_allclose(sparse[:-50][finite], dense[:-50][finite], rtol=1e-14, atol=0)
    np.testing.assert_array_equal(np.isfinite(sparse[:-50]), finite)
    assert np.isnan(sparse[-50]) and (sparse[-49:] == 1).all()  # nan where x₀ = 0 met it


def test_sparse_many_points_with_a_bad_record_early_in_a_file(tmp_path):
    """A bad record flushes the points before it, so the executable is compiled for fewer than the chunk: the
    longer chunks after it run in slices of that size. The CSV header comes first even when record 0 is bad."""
    points = tmp_path / "points.csv"
    points.write_text("1,2,a\n1,2,3\n1,2,a\n1,1,1\n2,2,2\n3,1,2\n")
    ran = jaccli("hessian", "sum(x[1:]*x[:-1]**2)", "--vars", "x", "--at", f"@{points}", "--sparse", "-f", "csv",
                 "--skip-bad")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "index,row,col,value" and lines.count("index,row,col,value") == 1
    indices = sorted({int(line.split(",")[0]) for line in lines[1:]})
    assert indices == [1, 3, 4, 5]
    for index, x in ((1, [1, 2, 3]), (3, [1, 1, 1]), (4, [2, 2, 2]), (5, [3, 1, 2])):
        got = {(int(r), int(c)): float(v) for i, r, c, v in (line.split(",") for line in lines[1:]) if int(i) == index}
        assert got[(0, 0)] == 2 * x[1] and got[(0, 1)] == 2 * x[0] and got[(1, 1)] == 2 * x[2]


def test_a_scan_costs_the_nonzeros_of_its_result_not_its_pairs():
    """cumsum over 10⁵ entries that all depend on a and b: 2·10⁵ nonzeros, where the scan's pairs are 5·10⁹
    (refused before). The 2×2 Hessian equals the dense one."""
    import jaccli as api

    expr, at = "sum(cumsum(a*t + b*t**2)**2)", {"a": "1", "b": "2", "t": "linspace(0, 1, 100000)"}
    sparse = api.hessian(expr, at=at, wrt=["a", "b"], sparse=True)
    dense = api.hessian(expr, at=at, wrt=["a", "b"], sparse=False).value
    assert sparse.matrix.nnz == 4
    np.testing.assert_allclose(sparse.matrix.toarray(), dense, rtol=1e-14)


@pytest.mark.parametrize("name", ["forward", "reverse", "axis 0", "axis 1", "axis 0 reversed", "two inputs", "cumprod"])
def test_scan_patterns_equal_the_dense_jacobians_nonzeros(name):
    import jax
    import jax.numpy as jnp

    from jaccli.compute.sparse.pattern import jacobian_pattern

    f, n = {
        "forward": (lambda z: jnp.cumsum(z**2), 7),
        "reverse": (lambda z: jax.lax.cumsum(z**2, reverse=True), 7),
        "axis 0": (lambda z: jnp.cumsum(z.reshape(3, 4) ** 2, axis=0).reshape(-1), 12),
        "axis 1": (lambda z: jnp.cumsum(z.reshape(3, 4) ** 2, axis=1).reshape(-1), 12),
        "axis 0 reversed": (lambda z: jax.lax.cumsum(z.reshape(3, 4) ** 2, axis=0, reverse=True).reshape(-1), 12),
        "two inputs": (lambda z: jnp.cumsum(z[::2] * z[1::2]), 10),
        "cumprod": (lambda z: jnp.cumprod(z[:5] + z[5:]), 10),
    }[name]
    z = np.random.default_rng(4).normal(size=n)
    dense = np.asarray(jax.jit(jax.jacfwd(f))(z)).reshape(-1, n) != 0
    pattern, _ = jacobian_pattern(lambda z, c: f(z), n, 0, np.float64)
    np.testing.assert_array_equal(pattern.toarray(), dense)
