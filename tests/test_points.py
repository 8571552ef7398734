"""--at / --v / --u: flat, named, lists, files, builders, order, and the errors users hit."""

import json
import math
import re

import numpy as np
import pytest

from jaccli.errors import JaccliError, ShapeError, TooLargeError
from jaccli.language.parse import parse_expression
from jaccli.inputs.points import bind_point, read_spec, read_value, split_items

BUDGET = 10**9


def bind(expr, *at, **kw):
    return bind_point(parse_expression(expr), read_spec(at, max_bytes=BUDGET), **kw)


def test_flat_values_fill_variables_in_natural_order():
    point = bind("x**2*y + sin(z)", "1,2,pi/2")
    assert point.layout.names == ("x", "y", "z")
    assert point.z.tolist() == [1.0, 2.0, math.pi / 2]


def test_negative_and_expression_values():
    assert bind("x + y", "-1.2,sqrt(2)").z.tolist() == [-1.2, math.sqrt(2)]


def test_named_values_set_the_order_when_they_name_all():
    point = bind("x + y", "y=2,x=1")
    assert point.layout.names == ("y", "x") and point.z.tolist() == [2.0, 1.0]


def test_repeated_at_and_vars_order():
    point = bind("x + y", "x=1", "y=2", variable_order=("y", "x"))
    assert point.layout.names == ("y", "x")
    assert point.z.tolist() == [2.0, 1.0]


def test_partly_named_keeps_natural_order_and_fills_the_rest():
    point = bind("a + b + c", "b=5", "1,3")
    assert point.layout.names == ("a", "b", "c") and point.z.tolist() == [1.0, 5.0, 3.0]


def test_indexed_variable_size_comes_from_the_expression():
    point = bind("x[0]**2*x[1] + y", "1,2,3")
    assert point.values["x"].tolist() == [1.0, 2.0] and point.values["y"].tolist() == 3.0


def test_one_sliced_variable_takes_the_rest():
    point = bind("sum(x[1:] - x[:-1]) + y", "1,2,3,4,5")
    assert point.values["x"].tolist() == [1.0, 2.0, 3.0, 4.0] and point.values["y"].tolist() == 5.0


def test_lists_and_matrices():
    point = bind("sum(X) + x", "X=[[1,2],[3,4]],x=[1,pi]")
    assert point.values["X"].shape == (2, 2)
    assert point.values["x"].tolist() == [1.0, math.pi]
    assert point.layout.in_shape == (6,)  # several variables: flattened and concatenated


def test_builders():
    assert read_value("full(3, 0.5)", max_bytes=BUDGET).tolist() == [0.5, 0.5, 0.5]
    assert read_value("zeros((2, 3))", max_bytes=BUDGET).shape == (2, 3)
    assert read_value("linspace(0, 1, 5)", max_bytes=BUDGET).tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert read_value("2*ones(2)", max_bytes=BUDGET).tolist() == [2.0, 2.0]
    first = read_value("random((30, 40), seed=3)", max_bytes=BUDGET)
    assert first.shape == (30, 40) and (first >= 0).all() and (first < 1).all()
    assert np.array_equal(first, read_value("random((30, 40), seed=3)", max_bytes=BUDGET))
    assert read_value("eye(2)", max_bytes=BUDGET).tolist() == [[1, 0], [0, 1]]


def test_a_builder_too_large_is_refused_before_allocating():
    with pytest.raises(TooLargeError, match="would take 8.0 TB"):
        read_value("zeros(10**12)", max_bytes=BUDGET)


def test_files(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    (tmp_path / "v.csv").write_text("1,2,3\n")
    (tmp_path / "h.csv").write_text("a,b\n5,6\n")
    (tmp_path / "w.json").write_text(json.dumps([0.5, 1.5]))
    assert read_value(f"@{tmp_path / 'x.npy'}", max_bytes=BUDGET).shape == (2, 2)
    assert read_value(f"@{tmp_path / 'v.csv'}", max_bytes=BUDGET).tolist() == [1, 2, 3]
    assert read_value(f"@{tmp_path / 'h.csv'}", max_bytes=BUDGET).tolist() == [5, 6]
    assert read_value(f"@{tmp_path / 'w.json'}", max_bytes=BUDGET).tolist() == [0.5, 1.5]
    point = bind("sum(X**2)", f"X=@{tmp_path / 'x.npy'}")
    assert point.layout.in_shape == (2, 2)


def test_unreadable_file_is_a_usage_error(tmp_path):
    with pytest.raises(JaccliError, match="cannot read"):
        read_value(f"@{tmp_path / 'missing.npy'}", max_bytes=BUDGET)
    (tmp_path / "bad.csv").write_text("1,hello\nx,y\n")
    with pytest.raises(JaccliError, match="cannot read"):
        read_value(f"@{tmp_path / 'bad.csv'}", max_bytes=BUDGET)


def test_wrong_count_names_the_expected_variables():
    with pytest.raises(ShapeError) as info:
        bind("x**2*y + z", "1,2")
    assert info.value.message == "expected 3 values (x, y, z), but got 2"
    assert "x=…" in info.value.hint


def test_unknown_variable_suggests_close_names():
    with pytest.raises(ShapeError) as info:
        bind("alpha + beta", "alpah=1,beta=2")
    assert "'alpah'" in info.value.message and "'alpha'" in info.value.hint


def test_two_unknown_sizes_must_be_named():
    with pytest.raises(ShapeError, match="sizes of x, y are not known"):
        bind("sum(x[1:]) + sum(y[1:])", "1,2,3,4")


def test_mixing_named_and_unnamed_in_one_option_is_an_error():
    with pytest.raises(JaccliError, match="mixes named and unnamed"):
        bind("x + y", "x=1,2")


def test_split_items_respects_brackets():
    assert split_items("1,[2,3],full(2, 1)") == ["1", "[2,3]", "full(2, 1)"]
    with pytest.raises(JaccliError):
        split_items("1,,2")


def test_vars_must_name_every_variable():
    with pytest.raises(ShapeError, match="--vars must name every variable"):
        bind("x + y", "1,2", variable_order=("x",))


def test_wrt_unknown_variable():
    with pytest.raises(ShapeError, match="--wrt names 'q'"):
        bind("x + y", "1,2", wrt=("q",))


def test_constant_values_use_the_same_functions_as_expressions():
    from conftest import compute
    from jaccli.language.functions import SIGNATURES

    arrays = {  # functions of arrays: a call on the 2×2 matrix M (or the vector v), and that call in --at
        "dot": "dot(v, v)", "matmul": "matmul(M, M)", "transpose": "transpose(M)", "reshape": "reshape(M, 4)",
        "ravel": "ravel(M)", "diag": "diag(M)", "trace": "trace(M)", "outer": "outer(v, v)", "tril": "tril(M)",
        "triu": "triu(M, 1)", "concatenate": "concatenate([v, v])", "stack": "stack([v, v])", "roll": "roll(v, 1)",
        "diff": "diff(v)", "eye": "eye(2)", "zeros": "zeros(2)", "ones": "ones((2, 2))", "solve": "solve(M, v)",
        "norm": "norm(v, 1)", "min": "min(v)", "max": "max(v)",
        **{name: f"{name}(M)" for name in ("det", "logdet", "inv", "cholesky", "eigvalsh")},
    }
    matrix = "[[0.7, 0.2], [0.2, 0.9]]"  # symmetric: NumPy reads cholesky's and eigvalsh's lower half, JAX both
    scalars, of_arrays = [], []  # (name, constant value, expression)
    for name, signature in SIGNATURES.items():
        if name == "where":
            continue
        if name in arrays or signature.static:
            call = arrays.get(name, f"{name}(v)")
            if name not in ("eye", "zeros", "ones"):  # in --at these are builders of their own
                value = read_value(re.sub(r"\bv\b", "[0.7, 0.4]", re.sub(r"\bM\b", matrix, call)), max_bytes=BUDGET)
                of_arrays.append((name, np.ravel(value), call))
            continue
        args = ", ".join(["0.7", "0.4", "0.9"][: signature.min_args])
        if name == "log":
            args = "0.7"
        scalars.append((name, read_value(f"{name}({args})", max_bytes=BUDGET), f"{name}({args.replace('0.7', 'x')})"))
    wants = compute("eval", "[" + ", ".join(expr for _, _, expr in scalars) + "]", "0.7")  # one compile each
    for (name, value, _), want in zip(scalars, wants, strict=True):
        np.testing.assert_allclose(value, want, rtol=1e-12, err_msg=name)  # special functions: ~1e-14 apart
    joined = compute("eval", "concatenate([" + ", ".join(f"ravel({expr})" for _, _, expr in of_arrays) + "])",
                     ("v=[0.7, 0.4]", f"M={matrix}"))
    wants = np.split(joined, np.cumsum([value.size for _, value, _ in of_arrays])[:-1])
    for (name, value, _), want in zip(of_arrays, wants, strict=True):
        np.testing.assert_allclose(value, want, rtol=1e-12, err_msg=name)  # special functions: ~1e-14 apart


def test_unicode_names_in_at():
    point = bind("r*cos(θ)", "r=2,θ=pi/3")
    assert point.values["θ"].tolist() == math.pi / 3 and point.layout.names == ("r", "θ")


def test_builders_keep_a_complex_value_whole():
    """full(3, 1+1j) once dropped the imaginary part with only NumPy's warning."""
    assert read_value("full(3, 1+1j)", max_bytes=BUDGET).tolist() == [1 + 1j] * 3
    np.testing.assert_array_equal(read_value("linspace(0, 2j, 3)", max_bytes=BUDGET), [0, 1j, 2j])
    assert read_value("full(2, 2.5)", max_bytes=BUDGET).dtype == np.float64
    for text, message in (("arange(1j)", "arange() takes real numbers"), ("full(2, [1, 2])", "takes one number")):
        with pytest.raises(JaccliError, match=re.escape(message)):
            read_value(text, max_bytes=BUDGET)
    with pytest.raises(TooLargeError, match="complex array"):
        read_value("full(100, 1j)", max_bytes=1200)  # 800 bytes real, 1,600 complex
