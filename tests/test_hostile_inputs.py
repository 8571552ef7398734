"""Inputs that never mislead: every bad input is exit 2 with one `error:` line, never a traceback,
a hang, exit 3, or exit 0 with results missing or wrong. One test a class of input, each in-process."""

import io
import json
import os

import numpy as np
import pytest

from jaccli.cli import main
from jaccli.env import Environment


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")


def run(*args, stdin: bytes = b"", env=None):
    env = env or Environment.capture(stdin=stdin)
    code = main(list(args), env)
    return code, env.out_text(), env.err_text()


def refused(*args, stdin: bytes = b"", says: str = "", env=None) -> str:
    """Exit 2, nothing on stdout, one `error:` line (containing `says`), no traceback; the stderr."""
    code, out, err = run(*args, stdin=stdin, env=env)
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.count("error:") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err
    assert says in err, err
    return err


def test_a_csv_header_picks_the_columns_by_name(tmp_path):
    path = tmp_path / "yx.csv"
    path.write_text("y,x\n2,1\n")
    for at, stdin in ((f"@{path}", b""), ("-", b"y,x\n2,1\n")):  # x = 1, y = 2: ∂(x²y) = (2xy, x²) = (4, 1)
        code, out, _ = run("grad", "x**2*y", "--at", at, "-f", "json", stdin=stdin)
        record = json.loads(out)
        assert code == 0 and record["point"] == {"y": 2.0, "x": 1.0}
        assert dict(zip(record["variables"], record["value"])) == {"x": 4.0, "y": 1.0}
    code, out, _ = run("grad", "x**2*y", "--at", "-", "--vars", "x,y", "-f", "plain", stdin=b'"y","x"\n2,1\n')
    assert (code, out) == (0, "4.0 1.0\n")
    many = "y,x\n" + "".join(f"{i},{i + 1}\n" for i in range(100))  # the vectorized path, same answers
    code, out, _ = run("grad", "x**2*y", "--at", "-", "--vars", "x,y", "-f", "plain", stdin=many.encode())
    want = [[2 * (i + 1) * i, (i + 1) ** 2] for i in range(100)]
    assert code == 0 and np.array_equal(np.loadtxt(io.StringIO(out)), want)
    # --v - under a header: the --wrt variables by name; H = [[4, 2], [2, 12]] at (1, 2)
    code, out, _ = run("hvp", "x**2*y + y**3", "--at", "1,2", "--v", "-", "-f", "plain", stdin=b"y,x\n0,1\n")
    assert (code, out) == (0, "4.0 2.0\n")
    refused("grad", "x**2*y", "--at", "-", stdin=b"q,x,r\n1,2,3\n", says="names 'q', 'r', which are not variables")
    refused("grad", "x**2*y", "--at", "-", stdin=b"x\n1\n", says="has no column for 'y'")
    refused("grad", "x**2*y", "--at", "-", stdin=b"x,x\n1,2\n", says="names 'x' twice")
    refused("grad", "x[0]*y", "--at", "-", stdin=b"x,y\n1,2\n", says="'x', an array")
    refused("hvp", "x**2*y", "--at", "-", "--v", "-", stdin=b"x,y,a,b\n1,2,1,0\n", says="several inputs read '-'")
    refused("vjp", "[x, y]", "--at", "1,2", "--u", "-", stdin=b"a,b\n1,0\n", says="--u takes values in order")


def test_line_one_is_numbers_or_a_header_of_names_and_no_points_is_an_error(tmp_path):
    for junk in (b"junk\x00payload\n1,2\n", b"df/dx,df/dy\n1,2\n", b"$(rm -rf ~);DROP\n1,2\n", b"1,2,abc\n1,2\n"):
        path = tmp_path / "junk.csv"
        path.write_bytes(junk)
        for at, stdin in ((f"@{path}", b""), ("-", junk)):
            refused("grad", "x**2*y", "--at", at, stdin=stdin, says="error: line 1: ")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_bytes(b"x,y\n\n")
    refused("grad", "x**2*y", "--at", f"@{tmp_path / 'empty.csv'}", says="no points in")
    refused("grad", "x**2*y", "--at", f"@{tmp_path / 'header.csv'}", says="no points in")
    refused("grad", "x**2*y", "--at", "-", stdin=b"", says="no points in standard input")
    refused("grad", "x**2*y", "--at", "-", stdin=b"\n\n", says="no points in standard input")
    refused("hvp", "x**2*y", "--at", "1,2", "--v", "-", stdin=b"", says="no vectors in standard input")
    np.save(tmp_path / "none.npy", np.zeros((0, 2)))
    refused("grad", "x**2*y", "--at", f"@{tmp_path / 'none.npy'}", says="no points in")


def test_text_files_are_read_not_retried(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf1,2,3\n")
    assert run("eval", "sum(x)", "--at", f"x=@{bom}", "-f", "plain")[:2] == (0, "6.0\n")
    code, out, _ = run("grad", "x**2*y", "--at", "-", "-f", "plain", stdin=b"\xef\xbb\xbf1,2\n")
    assert (code, out) == (0, "4.0 1.0\n")
    named = tmp_path / "named.csv"
    named.write_text("# a comment\nx\n1\n2\n")  # a header of names is skipped in a value file
    assert run("eval", "sum(x)", "--at", f"x=@{named}", "-f", "plain")[:2] == (0, "3.0\n")
    for name, text, says in (("junk.csv", "hello world!\n1,2\n", "line 1: not a number"),
                             ("late.txt", "1 2\n3 oops\n", "line 2: not a number: 'oops'"),
                             ("ragged.csv", "1,2\n3\n", "line 2 has 1 values"),
                             ("blank.csv", "\n# nothing\n", "no numbers in")):
        (tmp_path / name).write_text(text)
        refused("eval", "sum(x)", "--at", f"x=@{tmp_path / name}", says=says)
    (tmp_path / "latin1.csv").write_bytes(b"\xe91,2\n")
    refused("eval", "sum(x)", "--at", f"x=@{tmp_path / 'latin1.csv'}", says="not UTF-8")


def test_only_numbers_are_read(tmp_path):  # complex ones are numbers: tests/test_complex.py
    arrays = {"bool.npy": (np.array([True, False]), "booleans"),
              "date.npy": (np.array(["2020-01-01"], dtype="datetime64[D]"), "dates"),
              "span.npy": (np.array([1], dtype="timedelta64[s]"), "time spans"),
              "text.npy": (np.array(["a", "b"]), "text"),
              "struct.npy": (np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "structured")}
    for name, (array, says) in arrays.items():
        np.save(tmp_path / name, array)
        refused("eval", "sum(x)", "--at", f"x=@{tmp_path / name}", says=says)
    np.save(tmp_path / "points.npy", np.array([[True, False]]))  # a file of many points too
    refused("grad", "x**2*y", "--at", f"@{tmp_path / 'points.npy'}", says="booleans")
    for text in ("[true, 2]", '["1", 2]', "[null, 2]", '[{"real": 1}, 2]', "[[1, 2], [3]]"):
        (tmp_path / "x.json").write_text(text)
        refused("eval", "sum(x)", "--at", f"x=@{tmp_path / 'x.json'}")
        refused("grad", "x**2*y", "--at", "-", stdin=text.encode() + b"\n", says="line 1: ")
    refused("grad", "x**2*y", "--at", "-", stdin=b'{"x": false, "y": 2}\n', says="false is not a number")
    refused("grad", "x**2*y", "--at", "-", stdin=b"true\n", says="only a header")  # a CSV header of one name
    refused("check", "x**2*y", "--at", "1,2", "--of", "grad", "--expect", "[true, 1]", says="true")
    code, out, _ = run("grad", "x**2*y", "--at", "-", "-f", "plain", stdin=b"[1, 2]\n[3, 4]\n")  # ints are numbers
    assert (code, out) == (0, "4.0 1.0\n24.0 9.0\n")


def test_reads_are_capped_before_they_happen(tmp_path):
    refused("grad", "@/dev/zero", "--at", "1,2", says="the expression file '/dev/zero'")
    (tmp_path / "long.txt").write_text("x+" * 2_100_000 + "x")
    refused("grad", f"@{tmp_path / 'long.txt'}", "--at", "1", says="cap of 4.0 MB")
    refused("eval", "sum(x)", "--at", "x=@/dev/zero", says="binary data")
    refused("eval", "x", "--at", "@/dev/zero", says="binary data")
    refused("grad", "x**2*y", "--at", "-", "--max-memory", "1MB", stdin=b"1" * (2 << 20),
            says="line 1 of standard input is longer than the cap of 1.0 MB")
    np.save(tmp_path / "big.npy", np.zeros((500, 500)))
    refused("eval", "sum(x)", "--at", f"x=@{tmp_path / 'big.npy'}", "--max-memory", "1MB",
            says="holds 2.0 MB (shape (500, 500)), above the memory budget of 1.0 MB")
    (tmp_path / "cut.npy").write_bytes((tmp_path / "big.npy").read_bytes()[:4096])
    for at in (f"x=@{tmp_path / 'cut.npy'}", f"@{tmp_path / 'cut.npy'}"):
        refused("eval", "sum(x)", "--at", at, says="truncated")
    lying = tmp_path / "lying.npy"  # a header that claims 8 TB: refused before anything is allocated
    with open(lying, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
        file.write(b"\0" * 64)
    refused("eval", "sum(x)", "--at", f"x=@{lying}", says="8.0 TB")
    refused("eval", "sum(x)", "--at", f"x=@{lying}", "--max-memory", "100TB", says="truncated")
    points = tmp_path / "points.csv"
    points.write_text("1,2\n3,4\n")
    refused("grad", "x**2*y", "--at", f"@{points}", "--chunk-size", str(10**12), says="above the memory budget")
    refused("grad", "x**2*y", "--at", "-", "--chunk-size", str(10**12), stdin=b"[1, 2]\n", says="--chunk-size")
    code, out, _ = run("grad", "x**2*y", "--at", f"@{points}", "--chunk-size", str(10**6), "-f", "plain")
    assert (code, out) == (0, "4.0 1.0\n24.0 9.0\n")  # far above the number of points: not padded to it


def test_output_that_is_an_input_is_refused_before_it_is_opened(tmp_path):
    same = tmp_path / "same.csv"
    same.write_text("1,2\n3,4\n")
    refused("grad", "x**2*y", "--at", f"@{same}", "-o", str(same), says="is the input file")
    refused("eval", "sum(x)", "--at", f"x=@{same}", "-o", str(same), says="is the input file")
    os.link(same, tmp_path / "alias.csv")  # the same inode under another name
    refused("grad", "x**2*y", "--at", f"@{tmp_path / 'alias.csv'}", "-o", str(same), says="is the input file")
    (tmp_path / "f.txt").write_text("x**2*y")
    refused("grad", f"@{tmp_path / 'f.txt'}", "--at", "1,2", "-o", str(tmp_path / "f.txt"), says="is the input")
    with open(same, "rb") as stdin:
        env = Environment(io.TextIOWrapper(stdin), io.TextIOWrapper(io.BytesIO(), write_through=True),
                          io.TextIOWrapper(io.BytesIO(), write_through=True))
        refused("grad", "x**2*y", "--at", "-", "-o", str(same), env=env, says="the file on standard input")
    assert same.read_text() == "1,2\n3,4\n"


def test_skip_bad_writes_error_records_even_when_every_record_is_bad(tmp_path):
    stdin = b"1,oops\n1\n"
    code, out, err = run("grad", "x**2*y", "--at", "-", "-f", "json", "--skip-bad", stdin=stdin)
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == [
        {"index": 0, "line": 1, "error": "not a number: 'oops'"},
        {"index": 1, "line": 2, "error": "expected 2 values (x, y), but got 1"}]
    assert "warning: no record was good: 2 error records written" in err
    code, out, err = run("grad", "x**2*y", "--at", "-", "-f", "csv", "--skip-bad", stdin=stdin)
    assert (code, out) == (0, "df/dx,df/dy\nnan,nan\nnan,nan\n") and "warning: line 1" in err
    code, out, _ = run("grad", "x**2*y", "--at", "-", "-f", "plain", "--skip-bad", stdin=b"y,x\n1,q\n")
    assert (code, out) == (0, "nan nan\n")
    code, out, _ = run("hvp", "x**2*y", "--at", "1,2", "--v", "-", "-f", "plain", "--skip-bad", stdin=b"[1]\n")
    assert (code, out) == (0, "nan nan\n")
    output = tmp_path / "out.npy"
    assert run("grad", "x**2*y", "--at", "-", "-o", str(output), "--skip-bad", stdin=stdin)[0] == 0
    assert np.load(output).shape == (2, 2) and np.isnan(np.load(output)).all()
    unknown = ("grad", "sum(x[1:])", "--at", "-", "--skip-bad")  # x's size comes from the records only
    code, out, _ = run(*unknown, "-f", "json", stdin=b'["a"]\n')
    assert code == 0 and json.loads(out)["line"] == 1
    refused(*unknown, "-f", "csv", stdin=b'["a"]\n', says="the result's shape is not known")


@pytest.mark.parametrize("fmt", ["json", "csv", "plain", "npy", "table"])
def test_writing_errors_say_cannot_write(tmp_path, fmt):
    points = tmp_path / "points.csv"
    points.write_text("1,2\n3,4\n")
    (tmp_path / "folder").mkdir()
    for at in ("1,2", f"@{points}"):
        for output, says in (("/dev/full", "No space left"), (str(tmp_path / "missing" / "out"), "does not exist"),
                             (str(tmp_path / "folder"), "names a folder")):
            if output == "/dev/full" and not os.path.exists(output):
                continue
            refused("grad", "x**2*y", "--at", at, "-f", fmt, "-o", output, says="cannot write")
            assert says in run("grad", "x**2*y", "--at", at, "-f", fmt, "-o", output)[2]
