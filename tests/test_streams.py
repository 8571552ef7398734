"""Streams a co-process can use: --fields chooses what a line holds, --with-value puts f beside ∇f over many points.

In this process through `main`, but for one real co-process at n = 2000 that reads each answer before
writing the next line.
"""

import csv
import io
import json
import os
import select
import subprocess

import numpy as np
import pytest

from conftest import JACCLI

EXPR = "x**2*y + exp(y)"
POINTS = np.array([[1.5, 0.5], [-2.0, 1.0], [0.25, -3.0], [3.0, 0.0]])


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")


def run(args, stdin: str = ""):
    """(exit code, stdout, stderr) of `jaccli ARGS` in this process, stdin from a pipe-like buffer."""
    from jaccli.cli import main
    from jaccli.env import Environment

    env = Environment.capture(stdin=stdin.encode())
    code = main(list(args), env)
    return code, env.out_text(), env.err_text()


def csv_text(rows) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def value_and_grad_by_hand(row):
    """The oracle: jax.value_and_grad of the same function, written out."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    f, gradient = jax.value_and_grad(lambda p: p[0] ** 2 * p[1] + jnp.exp(p[1]))(jnp.asarray(row, dtype=jnp.float64))
    return float(f), np.asarray(gradient)


@pytest.fixture(params=["stdin", "file"])
def source(request, tmp_path):
    """(--at argument, stdin text, rows): a few points from a pipe, or 3,000 from a file (the polars path)."""
    if request.param == "stdin":
        return "-", csv_text(POINTS), POINTS
    rows = np.random.default_rng(1).normal(size=(3000, 2))
    rows[: len(POINTS)] = POINTS
    (tmp_path / "points.csv").write_text(csv_text(rows))
    return f"@{tmp_path / 'points.csv'}", "", rows


# -- --fields ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields", ["value", "value,index", "index,point,value", "value,command,index",
                                    "command,dtype,index,value", "shape,wrt,point,mode,expr,variables"])
def test_json_lines_hold_the_fields_asked_in_their_order(source, fields):
    at, stdin, rows = source
    code, out, err = run(["grad", EXPR, "--at", at, "-f", "json", "--fields", fields], stdin)
    assert code == 0, err
    documents = [json.loads(line) for line in out.splitlines()]
    assert len(documents) == len(rows)
    assert all(list(d) == fields.split(",") for d in documents)
    for i, document in enumerate(documents[: len(POINTS)]):
        if "value" in document:
            assert np.allclose(document["value"], value_and_grad_by_hand(rows[i])[1], rtol=1e-14)
        if "index" in document:
            assert document["index"] == i
        if "point" in document:
            assert document["point"] == {"x": rows[i][0], "y": rows[i][1]}
        if "command" in document:
            assert document["command"] == "grad"
        if "wrt" in document:
            assert document["wrt"] == ["x", "y"]


def test_json_lines_without_fields_are_as_before():
    code, out, _ = run(["grad", EXPR, "--at", "-", "-f", "json"], csv_text(POINTS[:1]))
    assert code == 0
    assert list(json.loads(out)) == ["command", "expr", "variables", "shape", "mode", "dtype", "index", "point",
                                     "value"]


@pytest.mark.parametrize("fields,header", [
    ("value", ["df/dx", "df/dy"]),
    ("index,value", ["index", "df/dx", "df/dy"]),
    ("value,point,index", ["df/dx", "df/dy", "x", "y", "index"]),
    ("point", ["x", "y"]),
])
def test_csv_holds_the_columns_asked_in_their_order(source, fields, header):
    at, stdin, rows = source
    code, out, err = run(["grad", EXPR, "--at", at, "-f", "csv", "--fields", fields], stdin)
    assert code == 0, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == header and len(table) == len(rows) + 1
    for i, line in enumerate(table[1 : len(POINTS) + 1]):
        cells = dict(zip(header, line))
        if "index" in cells:
            assert cells["index"] == str(i)  # an integer, not 0.0
        if "x" in cells:
            assert [float(cells["x"]), float(cells["y"])] == list(rows[i])
        if "df/dx" in cells:
            assert np.allclose([float(cells["df/dx"]), float(cells["df/dy"])], value_and_grad_by_hand(rows[i])[1],
                               rtol=1e-14)


def test_plain_takes_the_csv_columns():
    code, out, _ = run(["grad", EXPR, "--at", "-", "-f", "plain", "--fields", "index,value"], csv_text(POINTS[:2]))
    assert code == 0
    assert [line.split(" ")[0] for line in out.splitlines()] == ["0", "1"]


def test_fields_choose_from_a_fixed_point_too():
    """Records that carry vectors only: the point is the same for every line, and can still be asked for."""
    code, out, err = run(["hvp", EXPR, "--at", "1.5,0.5", "--v", "-", "-f", "csv", "--fields", "index,point,value"],
                         "1,0\n0,1\n")
    assert code == 0, err
    header, first, second = out.splitlines()
    assert header == "index,x,y,Hv_x,Hv_y" and first.startswith("0,1.5,0.5,") and second.startswith("1,1.5,0.5,")


def test_an_unknown_field_is_refused_with_the_known_ones():
    code, out, err = run(["grad", EXPR, "--at", "-", "-f", "json", "--fields", "value,gradient"], "1,2\n")
    assert code == 2 and out == ""
    assert "unknown field 'gradient'" in err
    assert "index, point, function_value, value" in err and "index, point, value, f" in err


def test_a_field_of_the_other_format_is_refused():
    code, _, err = run(["grad", EXPR, "--at", "-", "-f", "csv", "--fields", "command"], "1,2\n")
    assert code == 2 and "CSV has no field 'command'" in err and "index, point, value, f" in err


def test_function_value_needs_with_value():
    code, _, err = run(["grad", EXPR, "--at", "-", "-f", "json", "--fields", "function_value"], "1,2\n")
    assert code == 2 and "--fields function_value needs --with-value" in err


def test_one_point_ignores_fields():
    code, out, err = run(["grad", EXPR, "--at", "1.5,0.5", "-f", "json", "--fields", "value"])
    assert code == 0, err
    assert "expr" in json.loads(out)


# -- --with-value over many points ---------------------------------------------------------------------------
def test_with_value_in_json_lines_equals_value_and_grad_at_each_point(source):
    at, stdin, rows = source
    code, out, err = run(["grad", EXPR, "--at", at, "--with-value", "-f", "json"], stdin)
    assert code == 0, err
    documents = [json.loads(line) for line in out.splitlines()]
    assert len(documents) == len(rows)
    for row, document in zip(rows[:50], documents):
        f, gradient = value_and_grad_by_hand(row)
        assert document["function_value"] == pytest.approx(f, rel=1e-14)
        assert np.allclose(document["value"], gradient, rtol=1e-14)


def test_with_value_over_many_points_is_the_one_point_result():
    for row in POINTS:
        at = ",".join(repr(float(v)) for v in row)
        code, out, _ = run(["grad", EXPR, "--at", at, "--with-value", "-f", "json"])
        one = json.loads(out)
        code, out, _ = run(["grad", EXPR, "--at", "-", "--with-value", "-f", "json"], csv_text([row]))
        many = json.loads(out)
        assert code == 0 and (many["function_value"], many["value"]) == (one["function_value"], one["value"])


def test_with_value_in_csv_is_f_then_the_gradient(source):
    at, stdin, rows = source
    code, out, err = run(["grad", EXPR, "--at", at, "--with-value", "-f", "csv"], stdin)
    assert code == 0, err
    header, *lines = out.splitlines()
    assert header == "f,df/dx,df/dy" and len(lines) == len(rows)
    for row, line in zip(rows[:50], lines):
        f, gradient = value_and_grad_by_hand(row)
        numbers = [float(v) for v in line.split(",")]
        assert numbers[0] == pytest.approx(f, rel=1e-14) and np.allclose(numbers[1:], gradient, rtol=1e-14)


def test_with_value_in_plain_is_f_first_on_each_line():
    code, out, _ = run(["grad", EXPR, "--at", "-", "--with-value", "-f", "plain"], csv_text(POINTS))
    assert code == 0
    for row, line in zip(POINTS, out.splitlines()):
        assert float(line.split(" ")[0]) == pytest.approx(value_and_grad_by_hand(row)[0], rel=1e-14)


def test_with_value_and_fields_together():
    code, out, err = run(["grad", EXPR, "--at", "-", "--with-value", "-f", "csv", "--fields", "index,value,f"],
                         csv_text(POINTS[:1]))
    assert code == 0, err
    header, line = out.splitlines()
    f, gradient = value_and_grad_by_hand(POINTS[0])
    assert header == "index,df/dx,df/dy,f" and line == ",".join(["0", *map(repr, gradient.tolist()), repr(f)])


def test_with_value_refuses_npy_over_many_points(tmp_path):
    code, _, err = run(["grad", EXPR, "--at", "-", "--with-value", "-o", str(tmp_path / "g.npy")], "1,2\n")
    assert code == 2 and "not npy" in err


# -- bad records ----------------------------------------------------------------------------------------------
def test_error_records_keep_index_and_error_whatever_the_fields():
    stdin = "1.5,0.5\nnot,numbers\n-2,1\n"
    code, out, err = run(["grad", EXPR, "--at", "-", "-f", "json", "--skip-bad", "--fields", "value"], stdin)
    assert code == 0, err
    good, bad, last = (json.loads(line) for line in out.splitlines())
    assert list(good) == ["value"] and list(last) == ["value"]
    assert list(bad) == ["index", "error"] and bad["index"] == 1 and "not a number" in bad["error"]


def test_error_records_take_line_when_asked():
    stdin = '{"at": [1, 2]}\n[1, 2, 3]\n'
    code, out, _ = run(["grad", EXPR, "--at", "-", "-f", "json", "--skip-bad", "--fields", "error,line,value"], stdin)
    assert code == 0
    bad = [json.loads(line) for line in out.splitlines()][1]
    assert list(bad) == ["index", "error", "line"] and bad["line"] == 2


def test_a_bad_csv_row_keeps_its_index():
    code, out, err = run(["grad", EXPR, "--at", "-", "-f", "csv", "--skip-bad", "--fields", "index,value"],
                         "1.5,0.5\nx\n")
    assert code == 0
    header, good, bad = out.splitlines()
    assert header == "index,df/dx,df/dy" and good.startswith("0,") and bad == "1,nan,nan" and "line 2" in err


# -- a real co-process ----------------------------------------------------------------------------------------
def test_a_co_process_at_n_2000_gets_each_value_before_writing_the_next():
    n = 2000
    process = subprocess.Popen([JACCLI, "hvp", "sum(x**4)", "--at", "-", "--v", "-", "-f", "json",
                                "--fields", "value"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "JACCLI_NO_CACHE": "1"})
    rng = np.random.default_rng(0)
    try:
        for _ in range(4):
            x, v = rng.normal(size=n), rng.normal(size=n)
            process.stdin.write((json.dumps({"at": {"x": x.tolist()}, "v": v.tolist()}) + "\n").encode())
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 120)
            assert ready, "no answer while the input stays open"
            answer = json.loads(process.stdout.readline())
            assert list(answer) == ["value"]
            assert np.allclose(answer["value"], 12 * x**2 * v, rtol=1e-12)
    finally:
        process.stdin.close()
        assert process.wait(60) == 0, process.stderr.read().decode()


def test_a_stream_pads_a_partial_chunk_to_a_power_of_two_and_a_file_to_the_chunk():
    from jaccli.compute.batch import BatchRun

    run = BatchRun.__new__(BatchRun)  # only the sizes matter here
    run.chunk, run.stream = 1398, True
    assert [run._padded_size(k) for k in (1, 2, 3, 5, 700, 1398, 2000)] == [1, 2, 4, 8, 1024, 1398, 1398]
    run.stream = False
    assert {run._padded_size(k) for k in (1, 3, 1398)} == {1398}
