"""The `jaccli` command as users run it: formats, files, pipes, errors and exit codes.

In this process through `main` (conftest.jaccli); a real process only where one is the point:
a pipe closed by `head`, imports, a backend that will not start."""

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import jaccli, jaccli_process

ANSI = re.compile(r"\x1b\[")


def ok(*args, **kw):
    done = jaccli(*args, **kw)
    assert done.returncode == 0, done.stderr
    return done


def fails(*args, code=2, **kw):
    done = jaccli(*args, **kw)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_jacobian_json_reproduces_jax_docs():
    done = ok("jacobian", "[x**2*y, sin(z)]", "--at", "1,2,pi/2", "--format", "json")
    document = json.loads(done.stdout)
    assert document["value"][0] == [4.0, 1.0, 0.0]
    assert document["mode"] == "rev" and document["dtype"] == "float64"
    assert document["point"] == {"x": 1.0, "y": 2.0, "z": np.pi / 2}


def test_default_format_on_a_pipe_is_plain():
    assert ok("hessian", "x**2*y + y**3", "--at", "1,2").stdout == "4.0 2.0\n2.0 12.0\n"


def test_hvp_csv_and_table_formats():
    assert ok("hvp", "x**2*y + y**3", "--at", "1,2", "--v", "1,0", "-f", "csv").stdout == "Hv_x,Hv_y\n4.0,2.0\n"
    table = ok("hvp", "x**2*y + y**3", "--at", "1,2", "--v", "1,0", "-f", "table").stdout
    assert "H·v" in table and "fwd-rev" in table and not ANSI.search(table)


def test_table_to_a_pipe_has_no_ansi_codes_even_when_forced_colour_is_off():
    done = ok("jacobian", "[x**2*y, sin(z)]", "--at", "1,2,pi/2", "-f", "table", env={"NO_COLOR": "1"})
    assert not ANSI.search(done.stdout)


def test_npy_to_stdout_and_to_file(tmp_path):
    done = jaccli("hessian", "x**2*y + y**3", "--at", "1,2", "-f", "npy", input=b"")
    assert done.returncode == 0
    assert np.load(io.BytesIO(done.stdout)).tolist() == [[4.0, 2.0], [2.0, 12.0]]
    out = tmp_path / "h.npy"
    ok("hessian", "x**2*y + y**3", "--at", "1,2", "-o", str(out))  # the suffix chooses npy
    assert np.load(out).tolist() == [[4.0, 2.0], [2.0, 12.0]]
    ok("grad", "x**2*y", "--at", "1,2", "-o", str(tmp_path / "g.json"))
    assert json.loads((tmp_path / "g.json").read_text())["value"] == [4.0, 1.0]


def test_file_inputs_and_expression_file(tmp_path):
    X = np.random.default_rng(1).normal(size=(3, 4))
    V = np.random.default_rng(2).normal(size=(3, 4))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "v.npy", V)
    (tmp_path / "f.txt").write_text("sum(tanh(X)**2)\n")
    done = ok("hvp", f"@{tmp_path / 'f.txt'}", "--at", f"X=@{tmp_path / 'x.npy'}", "--v", f"@{tmp_path / 'v.npy'}",
              "-f", "json")
    value = np.array(json.loads(done.stdout)["value"])
    t, s = np.tanh(X), 1 / np.cosh(X) ** 2  # d²/dx² tanh(x)² = 2 sech⁴ - 4 tanh² sech²
    np.testing.assert_allclose(value, (2 * s**2 - 4 * t**2 * s) * V, rtol=1e-12)


def test_sample_expression_file(samples):
    done = ok("jacobian", f"@{samples / 'robot_arm.txt'}", "--at", "l1=1,l2=0.5,theta1=0,theta2=0",
              "--wrt", "theta1,theta2", "-f", "json")
    assert json.loads(done.stdout)["value"] == [[-0.0, -0.0], [1.5, 0.5]]


def test_negative_values_and_leading_minus_expression():
    assert ok("eval", "x*y", "--at", "-1.5,2").stdout == "-3.0\n"
    assert ok("eval", "x*y", "--at=-1.5,2").stdout == "-3.0\n"
    assert ok("eval", "-x**2", "--at", "3").stdout == "-9.0\n"


class ClosedPipe(io.RawIOBase):
    """A pipe whose reader (`head`) leaves after `room` bytes: later writes get EPIPE."""

    def __init__(self, room: int = 65536):
        self.room, self.received = room, bytearray()

    def writable(self):
        return True

    def write(self, data):
        if len(self.received) >= self.room:
            raise BrokenPipeError(32, "Broken pipe")
        taken = bytes(data[: self.room - len(self.received)])
        self.received += taken
        return len(taken)


def into_closed_pipe(*args):
    """`jaccli ARGS | head -c 65536` in this process: (exit code, what the reader got, stderr)."""
    from jaccli.cli import main
    from jaccli.env import Environment

    pipe = ClosedPipe()
    captured = Environment.capture()
    env = Environment(captured.stdin, io.TextIOWrapper(io.BufferedWriter(pipe), encoding="utf-8",
                                                       write_through=True), captured.stderr)
    with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
        try:
            code = main([*args, "--no-cache"], env)
        except SystemExit as exit:
            code = exit.code
    return code, bytes(pipe.received).decode(), captured.err_text()


def test_closed_pipe_ends_quietly():
    """`jaccli hessian ... | head -1`: nothing on stderr (tests/test_batch.py pipes a real process into head)."""
    _, got, err = into_closed_pipe("hessian", "sum(x**3)", "--at", "x=ones(400)", "-f", "plain")
    assert got.startswith("6.0 0.0") and len(got) == ClosedPipe().room
    assert err == ""


def test_closed_pipe_exits_0():
    """README: a closed pipe ends quietly; exit 1 would mean `check` found a disagreement (fails `set -o pipefail`)."""
    code, _, _ = into_closed_pipe("hessian", "sum(x**3)", "--at", "x=ones(400)", "-f", "plain")
    assert code == 0


@pytest.mark.parametrize("args,message", [
    (["eval", "sin(x", "--at", "1"], "expected ')'"),
    (["grad", "sinn(x)", "--at", "1"], "unknown function 'sinn'"),
    (["eval", "x**2*y", "--at", "1"], "expected 2 values (x, y), but got 1"),
    (["eval", "x", "--at", "x=@/nonexistent/x.npy"], "cannot read"),
    (["eval", "x + y", "--at", "x=[1,2,3],y=[1,2]"], "x + y: (3,) + (2,) do not fit"),
    (["eval", "x[5]", "--at", "x=[1,2,3]"], "index 5 is out of range"),
    (["grad", "[x, y]", "--at", "1,2"], "`grad` needs a scalar expression"),
    (["hessian", "sum(x**2)", "--at", "x=zeros(100000)", "--no-sparse"], "would take 80.0 GB"),
    (["hessian", "x*y", "--at", "1,2", "--max-memory", "10"], "more than the memory budget of 10 bytes"),
    (["hvp", "x*y", "--at", "1,2"], "needs --v"),
    (["jvp", "x*y", "--at", "1,2", "--v", "1"], "--v needs 2 values"),
    (["grad", "x", "--at", "1", "--bogus"], "No such option"),
    (["hessian", "x", "--at", "1", "--mode", "sideways"], "takes one of fwd-rev, rev-fwd, rev-rev, not 'sideways'"),
    (["eval", "x", "--at", "y=1"], "not a variable"),
    (["eval", "x", "--at", "1", "--device", "tpu"], "no tpu device"),
])
def test_errors_are_one_line_with_exit_2(args, message):
    done = fails(*args)
    assert message in done.stderr.splitlines()[0]


def test_parse_error_shows_a_caret_and_a_hint():
    done = fails("eval", "x + * y", "--at", "1,2")
    lines = done.stderr.splitlines()
    assert lines[1] == "  x + * y" and lines[2] == "      ^"


def test_size_error_hints_at_hvp():
    done = fails("hessian", "sum(x**2)", "--at", "x=zeros(100000)", "--no-sparse")
    assert "hint: use --sparse (H mostly zeros), or `hvp`" in done.stderr


def test_debug_shows_the_traceback():
    done = jaccli("eval", "sin(x", "--at", "1", "--debug")
    assert done.returncode == 2 and "Traceback" in done.stderr


@pytest.mark.parametrize("payload", [
    "__import__('os').system('touch {marker}')",
    "().__class__.__base__.__subclasses__()",
    "lambda: __import__('os').system('touch {marker}')",
    "[__import__('os').system('touch {marker}') for _ in [1]]",
    "exec(\"import os; os.system('touch {marker}')\")",
    "x.__globals__",
])
def test_injection_payloads_do_not_run(tmp_path, payload):
    marker = tmp_path / "ran"
    done = fails("eval", payload.format(marker=marker), "--at", "1")
    assert not marker.exists()
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("make", [
    lambda: "9**9**9**9",
    lambda: "(" * 100_000 + "x" + ")" * 100_000,
    lambda: "-" * 100_000 + "x",
    lambda: "x" * 10_000_000,
    lambda: "[" + "1," * 1_000_000 + "1]",
])
def test_hostile_expressions_get_an_error_not_a_hang(tmp_path, make):
    path = tmp_path / "expr.txt"
    path.write_text(make())
    done = jaccli("eval", f"@{path}", "--at", "1", timeout=30)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_help_does_not_import_jax_or_sympy():
    code = ("import sys; from jaccli.cli import main; main(['--help']); main(['hessian', '--help']); "
            "print(sorted(m for m in ('jax', 'sympy', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for command in ("eval", "grad", "jacobian", "hessian", "jvp", "vjp", "hvp", "inspect", "info"):
        done = ok(command, "--help")
        assert "Example: jaccli" in done.stdout, command
        assert f"`{command}`" in readme, command


def test_inspect_and_info():
    done = ok("inspect", "sum(100*(x[1:]-x[:-1]**2)**2)", "--at", "x=zeros(5)", "-f", "json")
    description = json.loads(done.stdout)
    assert description["variables"] == {"x": "array of shape (5,)"} and description["output shape"] == "()"
    assert "fwd-rev" in description["strategies"]["hvp"]
    info = json.loads(ok("info", "-f", "json").stdout)
    assert info["default dtype"] == "float64" and info["devices"] and info["backend"]


def test_bare_jaccli_prints_help():
    done = jaccli()
    assert done.returncode == 0 and "Usage" in done.stdout


def test_runtime_failure_maps_to_exit_3(monkeypatch, capsys):
    from jaccli import cli
    from jaccli.compute import run
    from jaccli.env import Environment
    from jaccli.errors import ComputeError

    def explode(request, spec=None):
        raise ComputeError("the computation failed: RESOURCE_EXHAUSTED")

    monkeypatch.setattr(run, "run", explode)
    env = Environment.capture()
    assert cli.main(["grad", "x**2", "--at", "1"], env) == 3
    assert env.err_text().startswith("error: the computation failed")


def test_a_backend_that_will_not_start_is_a_device_error_not_a_bug():
    """A platform this jaxlib lacks (the GPU route not installed; tpu goes the same way): exit 3, said so."""
    done = jaccli_process("grad", "x**2", "--at", "3", env={"JAX_PLATFORMS": "cuda"})  # a backend starts once a process
    assert done.returncode == 3 and done.stderr.startswith("error: cannot start a JAX backend")
    assert "JAX_PLATFORMS is 'cuda'" in done.stderr and "install that platform's jaxlib" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
