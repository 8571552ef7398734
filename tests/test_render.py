"""Renderers are pure: a Result in, text out."""

import io
import json

import numpy as np
from rich.console import Console

from jaccli.compute.prepare import Request
from jaccli.compute.run import run
from jaccli.output import formats, tables


def result(command, expr, at, **kw):
    return run(Request(command, expr, (at,), **kw))


def table_text(res, width=80, **kw):
    console = Console(record=True, width=width, file=io.StringIO())
    tables.to_table(res, console, **kw)
    return console.export_text()


def test_jacobian_table_labels_rows_columns_and_caption():
    text = table_text(result("jacobian", "[x**2*y, sin(z)]", "1,2,pi/2"))
    for label in ("∂f₀", "∂f₁", "∂x", "∂y", "∂z", "shape (2, 3)", "mode rev", "float64"):
        assert label in text
    assert "[x**2*y, sin(z)]" in text  # brackets are text, not rich markup


def test_hessian_of_vector_function_prints_one_slice_per_output():
    text = table_text(result("hessian", "[x**2*y, x*y**3]", "1,2"))
    assert "∂²f₀" in text and "∂²f₁" in text and "shape (2, 2, 2)" in text


def test_large_matrix_is_summarized_unless_full():
    res = result("hessian", "sum(x**3)", "x=ones(40)")
    short = table_text(res, width=120)
    assert "⋮" in short and "summarized" in short
    full = table_text(res, width=2000, full=True)
    assert "⋮" not in full and "∂x[39]" in full


def test_precision_changes_table_digits():
    assert "0.3333" in table_text(result("eval", "1/3 + 0*x", "0"), precision=4)
    assert "0.33333" not in table_text(result("eval", "1/3 + 0*x", "0"), precision=4)


def test_plain_is_savetxt_like_and_round_trips():
    res = result("hessian", "x**2*y + y**3", "1,2")
    assert formats.to_plain(res) == "4.0 2.0\n2.0 12.0\n"
    third = result("eval", "[x/3, x/7]", "1")
    assert np.array_equal(np.loadtxt(io.StringIO(formats.to_plain(third))), [1 / 3, 1 / 7])


def test_plain_of_3d_is_slices_loadtxt_reads():
    res = result("hessian", "[x**2*y, x*y**3]", "1,2")
    loaded = np.loadtxt(io.StringIO(formats.to_plain(res)))
    assert np.array_equal(loaded.reshape(2, 2, 2), res.value)


def test_json_has_the_spec_keys_and_round_trips():
    res = result("jacobian", "[x**2*y, sin(z)]", "1,2,pi/2")
    text, nonfinite = formats.to_json(res)
    document = json.loads(text)
    assert not nonfinite
    for key in ("command", "expr", "variables", "point", "shape", "value", "mode", "dtype"):
        assert key in document
    assert document["variables"] == ["x", "y", "z"] and document["shape"] == [2, 3]
    assert np.array_equal(np.array(document["value"]), res.value)  # exact round trip
    assert document["point"]["z"] == np.pi / 2


def test_json_nonfinite_numbers_are_strings():
    text, nonfinite = formats.to_json(result("eval", "[1/x, -1/x, x/x]", "0"))
    assert nonfinite
    assert json.loads(text)["value"] == ["inf", "-inf", "nan"]


def test_csv_header_names_entries():
    text = formats.to_csv(result("jacobian", "[x**2*y, sin(z)]", "1,2,pi/2"))
    header, row = text.splitlines()
    assert header.split(",") == ["df0/dx", "df0/dy", "df0/dz", "df1/dx", "df1/dy", "df1/dz"]
    assert row.split(",")[:2] == ["4.0", "1.0"]


def test_npy_round_trips():
    res = result("hessian", "x**2*y + y**3", "1,2")
    assert np.array_equal(np.load(io.BytesIO(formats.to_npy(res))), res.value)


def test_jacobian_of_a_matrix_output_prints_one_labelled_slice_per_row():
    text = table_text(result("jacobian", "[[x*y, x/y], [y**x, log(x)*y]]", "1.5,0.5"))
    assert "∂f[0,…]" in text and "∂f[1,…]" in text and "∂f[1,0]" in text and "shape (2, 2, 2)" in text
