"""Many points: files and streams give the same numbers as one point at a time, in order, streamed.

In this process through `main`; a real process for a co-process and for a pipe closed by `head`."""

import io
import json
import select
import subprocess

import numpy as np
import pytest

from conftest import JACCLI, compute, jaccli

EXPR = "[x**2*y, sin(z)]"
POINTS = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 1.5707963267948966], [3.0, 4.0, -2.5], [-1.25, 0.0, 7.0]])


@pytest.fixture
def points_csv(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in POINTS))
    return path


def one_point(command, expr, row, **kw):
    return compute(command, expr, ",".join(repr(float(v)) for v in row), **kw)


@pytest.mark.parametrize("command,expr,extra", [
    ("eval", EXPR, {}), ("jacobian", EXPR, {}), ("hessian", EXPR, {}),
    ("jvp", EXPR, {"v": "1,0.5,-1"}), ("vjp", EXPR, {"u": "1,-2"}),
    ("grad", "x**2*y + sin(z)", {}), ("hvp", "x**2*y + sin(z)", {"v": "1,0.5,-1"}),
])
def test_batch_equals_one_point_in_every_format(points_csv, tmp_path, command, expr, extra):
    options = [arg for key, value in extra.items() for arg in (f"--{key}", value)]
    want = np.stack([one_point(command, expr, row, **{k: (v,) for k, v in extra.items()}) for row in POINTS])
    args = [command, expr, "--at", f"@{points_csv}", *options]
    lines = jaccli(*args, "-f", "json").stdout.splitlines()
    assert [json.loads(line)["index"] for line in lines] == [0, 1, 2, 3]
    assert np.array_equal(np.array([json.loads(line)["value"] for line in lines]), want)
    csv = jaccli(*args, "-f", "csv").stdout
    assert np.array_equal(np.loadtxt(io.StringIO(csv), delimiter=",", skiprows=1, ndmin=2),
                          want.reshape(len(POINTS), -1))
    plain = jaccli(*args, "-f", "plain").stdout
    assert np.array_equal(np.loadtxt(io.StringIO(plain), ndmin=2), want.reshape(len(POINTS), -1))
    out = tmp_path / "out.npy"
    assert jaccli(*args, "-o", str(out)).returncode == 0
    assert np.array_equal(np.load(out), want)


def test_npy_points_and_stdin_points_agree(tmp_path):
    np.save(tmp_path / "p.npy", POINTS)
    from_npy = jaccli("jacobian", EXPR, "--at", f"@{tmp_path / 'p.npy'}", "-f", "csv").stdout
    stdin = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in POINTS)
    from_stdin = jaccli("jacobian", EXPR, "--at", "-", "-f", "csv", input=stdin).stdout
    jsonl = "".join(json.dumps({"x": float(r[0]), "y": float(r[1]), "z": float(r[2])}) + "\n" for r in POINTS)
    from_jsonl = jaccli("jacobian", EXPR, "--at", "-", "-f", "csv", input=jsonl).stdout
    assert from_npy == from_stdin == from_jsonl
    assert from_npy.count("\n") == len(POINTS) + 1


def test_csv_header_names_select_columns(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text("x,y,z\n1,2,0\n")
    assert jaccli("jacobian", EXPR, "--at", f"@{path}", "-f", "plain").stdout == "4.0 1.0 0.0 0.0 0.0 1.0\n"


def test_many_vectors_at_one_point_and_shared_records():
    hessian = compute("hessian", "x**2*y + y**3", "1,2")
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, -2.0]])
    stdin = "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in vectors)
    done = jaccli("hvp", "x**2*y + y**3", "--at", "1,2", "--v", "-", "-f", "csv", input=stdin)
    assert np.array_equal(np.loadtxt(io.StringIO(done.stdout), delimiter=",", skiprows=1), vectors @ hessian)
    shared = "".join(json.dumps({"at": [1, 2], "v": [float(a) for a in v]}) + "\n" for v in vectors)
    done = jaccli("hvp", "x**2*y + y**3", "--at", "-", "--v", "-", "-f", "plain", input=shared)
    assert np.array_equal(np.loadtxt(io.StringIO(done.stdout)), vectors @ hessian)
    columns = "".join(f"1,2,{float(a)!r},{float(b)!r}\n" for a, b in vectors)  # CSV: columns in option order
    done = jaccli("hvp", "x**2*y + y**3", "--at", "-", "--v", "-", "-f", "plain", input=columns)
    assert np.array_equal(np.loadtxt(io.StringIO(done.stdout)), vectors @ hessian)


def test_bad_record_stops_after_writing_the_results_before_it():
    done = jaccli("grad", "x**2*y", "--at", "-", "-f", "csv", input="1,2\n3,4\n\n5,oops\n7,8\n")
    assert done.returncode == 2
    assert done.stdout == "df/dx,df/dy\n4.0,1.0\n24.0,9.0\n"
    assert done.stderr.startswith("error: line 4: not a number: 'oops'")


def test_skip_bad_writes_error_records_and_goes_on():
    stdin = '[1, 2]\n{"x": 3}\n[1, 2, 3]\nnot json\n{"x": 5, "y": 6}\n'
    done = jaccli("grad", "x**2*y", "--at", "-", "-f", "json", "--skip-bad", input=stdin)
    assert done.returncode == 0
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["index"] for r in records] == [0, 1, 2, 3, 4]
    assert [r.get("line") for r in records[1:4]] == [2, 3, 4]
    assert "no value for 'y'" in records[1]["error"] and "expected 2 values" in records[2]["error"]
    assert records[4]["value"] == [60.0, 25.0]


def test_function_is_traced_once_for_several_chunk_sizes(points_csv, tmp_path):
    from jaccli.compute import batch
    from jaccli.compute.prepare import Request

    path = tmp_path / "many.csv"
    rows = np.random.default_rng(0).normal(size=(11, 3))
    path.write_text("".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows))
    before = batch.TRACES["count"]
    run = batch.BatchRun(Request("jacobian", EXPR, (f"@{path}",)), chunk_size=4)
    chunks = list(run.results())
    assert [len(c.indices) for c in chunks] == [4, 4, 3]  # the last one is padded, not retraced
    assert batch.TRACES["count"] - before == 1
    values = np.concatenate([c.values for c in chunks])
    assert np.array_equal(values, np.stack([one_point("jacobian", EXPR, r) for r in rows]))


def test_co_process_gets_each_answer_before_writing_the_next():
    process = subprocess.Popen([JACCLI, "hvp", "x**2*y + y**3", "--at", "1,2", "--v", "-", "-f", "json"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for vector, want in (("1,0", [4.0, 2.0]), ("0,1", [2.0, 12.0]), ("1,1", [6.0, 14.0])):
            process.stdin.write(f"{vector}\n".encode())
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no answer while the input stays open"
            assert json.loads(process.stdout.readline())["value"] == want
    finally:
        process.stdin.close()
        assert process.wait(30) == 0


def test_head_closes_the_pipe_quietly(tmp_path):
    rows = "\n".join("1,2,3" for _ in range(20_000)) + "\n"  # about 1 MB of CSV out: far more than a pipe holds
    (tmp_path / "big.csv").write_text(rows)
    script = f"'{JACCLI}' jacobian '{EXPR}' --at @'{tmp_path / 'big.csv'}' -f csv 2>'{tmp_path / 'err'}' | head -3"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert len(done.stdout.splitlines()) == 3
    assert (tmp_path / "err").read_text() == ""


def test_nonfinite_results_in_json_lines_are_strings():
    done = jaccli("eval", "[1/x, log(x)]", "--at", "-", "-f", "json", input="0\n1\n")
    values = [json.loads(line)["value"] for line in done.stdout.splitlines()]
    assert values == [["inf", "-inf"], [1.0, 0.0]]
    assert "non-finite" in done.stderr


def test_many_vectors_from_a_json_lines_file(tmp_path):
    (tmp_path / "vectors.jsonl").write_text('[1, 0]\n[0, 1]\n{"x": 1, "y": 1}\n')
    done = jaccli("hvp", "x**2*y + y**3", "--at", "1,2", "--v", f"@{tmp_path / 'vectors.jsonl'}", "-f", "plain")
    assert done.stdout == "4.0 2.0\n2.0 12.0\n6.0 14.0\n"


def test_derivative_over_many_points_equals_one_point(points_csv):
    for options, kw in ((["--order", "2"], {"order": 2}), (["--partial", "x,x,z"], {"partial": ("x", "x", "z")})):
        lines = jaccli("derivative", "x**3*y*sin(z)", "--at", f"@{points_csv}", *options, "-f", "json").stdout
        got = np.array([json.loads(line)["value"] for line in lines.splitlines()])
        want = np.stack([one_point("derivative", "x**3*y*sin(z)", row, **kw) for row in POINTS])
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)  # vmapped: may round 1 ulp apart


