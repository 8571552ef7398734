"""The writers of many points (CSV, plain, JSON lines, .npy, chunk by chunk) against results worked out by hand.

f = [x*y, x+y, x**2] has the Jacobian [[y, x], [1, 1], [2x, 0]]: every entry is exact in float64, so the
numbers written must be bit for bit the ones below, whichever path formats them (a file's chunks go
through polars, a few lines from a pipe through Python).
Results are compared with == (the sign of a zero result is XLA's business: x·1 + 0·y is +0.0 at
x = -0.0), points bit for bit; no subnormal numbers (XLA on CPU flushes them to zero).
"""

import io
import json
import struct

import numpy as np
import pytest

from conftest import jaccli

EXPR = "[x*y, x+y, x**2]"
NAMES = ["df0/dx", "df0/dy", "df1/dx", "df1/dy", "df2/dx", "df2/dy"]


def points(count: int) -> np.ndarray:
    rng = np.random.default_rng(count)
    size = (max(count, 4), 2)
    rows = rng.normal(size=size) * 10.0 ** rng.integers(-300, 300, size=size)
    rows[:4] = [[1 / 3, 0.1], [-7.5, 2.2250738585072014e-308], [1.2345678901234567, -2.5], [0.0, 1e308]]
    return rows[:count]


def by_hand(rows: np.ndarray) -> np.ndarray:
    """The Jacobian at each point, (points, 3, 2)."""
    x, y = rows[:, 0], rows[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    return np.stack([np.stack([y, x], 1), np.stack([one, one], 1), np.stack([2 * x, zero], 1)], 1)


def bits(values) -> list[bytes]:
    return [struct.pack("<d", float(v)) for v in np.asarray(values, dtype=float).ravel()]


def exact(got, want) -> bool:
    """The same numbers, to the last bit (but the sign of zero), in the same order."""
    got, want = np.asarray(got, dtype=float).ravel(), np.asarray(want, dtype=float).ravel()
    return got.shape == want.shape and np.array_equal(got, want)


def text(rows: np.ndarray) -> str:
    return "".join(f"{float(x)!r},{float(y)!r}\n" for x, y in rows)


@pytest.fixture(params=["file", "stdin"])
def source(request, tmp_path):
    """(--at argument, stdin, rows): many points from a file (polars formats them) or a few from a pipe."""
    if request.param == "file":
        rows = points(3000)
        (tmp_path / "points.csv").write_text(text(rows))
        return f"@{tmp_path / 'points.csv'}", None, rows
    rows = points(5)
    return "-", text(rows), rows


def test_csv_is_a_header_of_entry_names_and_one_row_a_point(source):
    at, stdin, rows = source
    done = jaccli("jacobian", EXPR, "--at", at, "-f", "csv", input=stdin)
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split(",") == NAMES and len(lines) == len(rows)
    assert exact([float(v) for line in lines for v in line.split(",")], by_hand(rows))


def test_plain_is_one_line_a_point(source):
    at, stdin, rows = source
    done = jaccli("jacobian", EXPR, "--at", at, "-f", "plain", input=stdin)
    lines = done.stdout.splitlines()
    assert len(lines) == len(rows) and all(len(line.split(" ")) == 6 for line in lines)
    assert exact([float(v) for line in lines for v in line.split(" ")], by_hand(rows))


def test_json_lines_carry_the_run_the_index_the_point_and_the_value(source):
    at, stdin, rows = source
    done = jaccli("jacobian", EXPR, "--at", at, "-f", "json", input=stdin)
    documents = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["index"] for d in documents] == list(range(len(rows)))
    for document in documents[:1]:
        assert {k: document[k] for k in ("command", "expr", "variables", "shape", "mode", "dtype")} == {
            "command": "jacobian", "expr": EXPR, "variables": ["x", "y"], "shape": [3, 2], "mode": "fwd",
            "dtype": "float64"}
    assert bits([[d["point"]["x"], d["point"]["y"]] for d in documents]) == bits(rows)
    assert exact([d["value"] for d in documents], by_hand(rows))


def test_npy_stacks_the_results_over_points(source, tmp_path):
    at, stdin, rows = source
    out = tmp_path / "out.npy"
    assert jaccli("jacobian", EXPR, "--at", at, "-o", str(out), input=stdin).returncode == 0
    stacked = np.load(out)
    assert stacked.shape == (len(rows), 3, 2) and stacked.dtype == np.float64
    assert exact(stacked, by_hand(rows))


def test_npy_to_stdout_is_the_same_array(source):
    at, stdin, rows = source
    done = jaccli("jacobian", EXPR, "--at", at, "-f", "npy", input=(stdin or "").encode())
    assert exact(np.load(io.BytesIO(done.stdout)), by_hand(rows))


def test_chunks_are_written_in_order(tmp_path):
    rows = points(20)
    (tmp_path / "p.csv").write_text(text(rows))
    whole = jaccli("jacobian", EXPR, "--at", f"@{tmp_path / 'p.csv'}", "-f", "csv").stdout
    chunked = jaccli("jacobian", EXPR, "--at", f"@{tmp_path / 'p.csv'}", "-f", "csv", "--chunk-size", "7").stdout
    assert chunked == whole
    out = tmp_path / "chunked.npy"
    jaccli("jacobian", EXPR, "--at", f"@{tmp_path / 'p.csv'}", "--chunk-size", "7", "-o", str(out))
    assert exact(np.load(out), by_hand(rows))


def test_a_zero_width_result_gives_one_npy_row_a_point(tmp_path):
    (tmp_path / "p.csv").write_text(text(points(3)))
    out = tmp_path / "empty.npy"
    done = jaccli("eval", "x[2:]", "--at", f"@{tmp_path / 'p.csv'}", "-o", str(out))  # x takes the 2 values
    assert done.returncode == 0, done.stderr
    assert np.load(out).shape == (3, 0)


def test_skip_bad_writes_a_row_of_nan_where_the_record_was(tmp_path):
    stdin = "1,2\n3,oops\n0.5,-1\n"
    done = jaccli("jacobian", EXPR, "--at", "-", "-f", "csv", "--skip-bad", input=stdin)
    assert done.returncode == 0
    header, *lines = done.stdout.splitlines()
    assert lines[1] == ",".join(["nan"] * 6)
    assert exact([float(v) for i in (0, 2) for v in lines[i].split(",")], by_hand(np.array([[1, 2], [0.5, -1]])))
    assert "line 2: not a number: 'oops' (written as nan)" in done.stderr
    out = tmp_path / "skipped.npy"
    jaccli("jacobian", EXPR, "--at", "-", "--skip-bad", "-o", str(out), input=stdin)
    stacked = np.load(out)
    assert stacked.shape == (3, 3, 2) and np.isnan(stacked[1]).all()
    assert exact(stacked[[0, 2]], by_hand(np.array([[1, 2], [0.5, -1]])))


def test_nonfinite_results_from_a_file_are_json_strings(tmp_path):
    (tmp_path / "p.csv").write_text("0\n1\n" * 2000)
    done = jaccli("eval", "[1/x, log(x)]", "--at", f"@{tmp_path / 'p.csv'}", "-f", "json")
    values = [json.loads(line)["value"] for line in done.stdout.splitlines()]
    assert values == [["inf", "-inf"], [1.0, 0.0]] * 2000
    assert done.stderr.count("non-finite") == 1


@pytest.mark.parametrize("fmt", ["csv", "plain"])
def test_a_zero_width_result_gives_one_empty_line_a_point(tmp_path, fmt):
    (tmp_path / "p.csv").write_text(text(points(3)))
    done = jaccli("eval", "x[2:]", "--at", f"@{tmp_path / 'p.csv'}", "-f", fmt)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "\n" * (3 + (fmt == "csv"))  # csv: an empty header too


def test_csv_of_many_points_round_trips_whatever_the_precision():
    done = jaccli("jacobian", EXPR, "--at", "-", "-f", "csv", "--precision", "3", input="0.1,0.3333333333333333\n")
    assert done.stdout.splitlines()[1].split(",")[:2] == ["0.3333333333333333", "0.1"]
