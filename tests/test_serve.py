"""`jaccli serve`: one real server over pipes for what pipes decide (order, flushing, ids, the cache across
requests), the server's own objects in this process for the rest (statuses, the LRU, errors, the policy)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import JACCLI, environment_variables, jaccli, process_env

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "serve.schema.json").read_text())
ROSENBROCK = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"


class Pipe:
    """A `jaccli serve` process: send lines, read lines."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([JACCLI, "serve", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1, env=process_env())

    def send(self, *lines) -> None:
        for line in lines:
            self.process.stdin.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        self.process.stdin.flush()

    def read(self) -> dict:
        line = self.process.stdout.readline()
        assert line.endswith("\n"), f"no answer; stderr: {self.process.stderr.read()}"
        return json.loads(line)

    def ask(self, request) -> dict:
        self.send(request)
        return self.read()


# `make test` (--dist loadgroup) runs the tests of one server on one worker: one `jaccli serve` process
over_pipes = pytest.mark.xdist_group("serve over pipes")


@pytest.fixture(scope="module")
def pipe():
    server = Pipe("--cache-size", "4")
    yield server
    server.process.stdin.close()
    assert server.process.wait(60) == 0 and server.process.stderr.read() == ""  # end of input: exit 0, quietly


def served(*requests, cache_size: int = 16, eager: str = "never") -> list[dict]:
    """Answers of one in-process server (its own LRU), in order."""
    from jaccli.serve import Policy, Server

    server = Server(cache_size, Policy(eager, background=False))
    return [json.loads(server.answer(r if isinstance(r, str) else json.dumps(r))) for r in requests]


def cli_document(*args: str) -> dict:
    done = jaccli(*args, "-f", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def grad(expr="x**2*y + y**3", at=(1, 2), **more) -> dict:
    return {"command": "grad", "expr": expr, "at": list(at), **more}


# -- over pipes ------------------------------------------------------------------------------------

@over_pipes
def test_mixed_requests_with_bad_ones_between_are_answered_in_order_with_their_ids(pipe):
    requests = [
        {"id": 1, "command": "hessian", "expr": "x**2*y + y**3", "at": [1, 2], "fields": ["value"]},
        "this is not JSON",
        {"id": "two", "command": "jacobian", "expr": "[x**2*y, sin(z)]", "at": "1,2,pi/2", "fields": ["value"]},
        {"id": [3], "command": "grad", "expr": "x**2*(y", "at": [1, 2]},
        {"id": {"n": 4}, "command": "hvp", "expr": "x**2*y + y**3", "at": {"x": 1, "y": 2}, "v": [1, 0],
         "fields": ["value"]},
        {"id": 5, "command": "nope", "expr": "x"},
        "",  # a blank line is no request
        {"id": 6.5, "command": "eval", "expr": "[x**2*y, sin(z)]", "at": [1, 2, 0], "fields": ["value"]},
        {"id": 7, "command": "grad", "expr": "x", "at": [1], "colour": "red"},
        {"id": 123456789012345678901234567890, "command": "vjp", "expr": "[x**2*y, sin(z)]", "at": [1, 2, 0],
         "u": [1, 1], "fields": ["value"]},
        {"command": "grad", "expr": "x**2*y", "at": [1, 2], "fields": ["value"]},
        [1, 2],
    ]
    pipe.send(*requests)  # all at once: the answers still come one a request, in order
    answers = [pipe.read() for _ in range(len(requests) - 1)]
    assert [a["id"] for a in answers] == [1, None, "two", [3], {"n": 4}, 5, 6.5, 7,
                                          123456789012345678901234567890, None, None]
    assert answers[0]["value"] == [[4.0, 2.0], [2.0, 12.0]]
    assert answers[1]["error"]["code"] == 2 and "not valid JSON" in answers[1]["error"]["message"]
    assert answers[2]["value"] == [[4.0, 1.0, 0.0], [0.0, 0.0, np.cos(np.pi / 2)]]
    assert answers[3]["error"]["code"] == 2 and answers[3]["error"]["context"][1].endswith("^")
    assert answers[4]["value"] == [4.0, 2.0]
    assert "unknown command 'nope'" in answers[5]["error"]["message"]
    assert answers[6]["value"] == [2.0, 0.0]
    assert "unknown key 'colour'" in answers[7]["error"]["message"]
    assert answers[8]["value"] == [4.0, 1.0, 1.0]
    assert answers[9] == {"id": None, "value": [4.0, 1.0]}
    assert "a JSON object, not a list" in answers[10]["error"]["message"]


@over_pipes
def test_answers_are_the_one_shot_clis_json_plus_the_id(pipe):
    cases = [  # (the CLI's arguments, the request's options)
        (["hessian", "exp(x)*y**2 + x*y**3", "--at", "0.5,-1"], {"at": [0.5, -1]}),
        (["jacobian", "[x**2*y, sin(z)]", "--at", "1,2,0.5", "--mode", "fwd"], {"at": "1,2,0.5", "mode": "fwd"}),
        (["hvp", ROSENBROCK, "--at", "x=[0.5,-1,2]", "--v", "1,2,3"], {"at": {"x": [0.5, -1, 2]}, "v": [1, 2, 3]}),
        (["grad", "x @ A @ x", "--at", "A=[[2,1],[1,3]]", "--at", "x=[1,2]", "--wrt", "x", "--with-value"],
         {"at": ["A=[[2,1],[1,3]]", "x=[1,2]"], "wrt": ["x"], "with_value": True}),
    ]
    for args, options in cases:
        expected = cli_document(*args)
        answer = pipe.ask({"id": args[0], "command": args[0], "expr": args[1], **options})
        assert list(answer)[0] == "id" and answer.pop("id") == args[0]
        status = answer.pop("cache")
        assert status in ("miss", "hit", "eager") and expected.pop("cache") == "off"
        if status == "eager":  # op by op: equal to rounding
            np.testing.assert_allclose(answer.pop("value"), expected.pop("value"), rtol=1e-15, atol=1e-300)
        assert answer == expected, args


@over_pipes
def test_a_repeat_is_a_hit_and_the_least_recently_used_function_goes_first(pipe):
    first = [pipe.ask(grad(f"x**2*y + {k}*y**3", fields=["cache"], id=k)) for k in range(5)]  # 4 kept: 0 goes
    assert all(a["cache"] in ("miss", "eager") for a in first)
    again = pipe.ask(grad("x**2*y + 4*y**3", at=(3, 1), fields=["cache", "value"]))
    assert again["cache"] in ("hit", "miss") and again["value"] == [6.0, 9.0 + 12 * 1]  # eager: compiled now
    assert pipe.ask(grad("x**2*y + 4*y**3", at=(5, 1), fields=["cache"]))["cache"] == "hit"
    assert pipe.ask(grad("x**2*y + 0*y**3", fields=["cache"]))["cache"] in ("miss", "eager")  # evicted


@over_pipes
def test_the_hvps_of_rosenbrock_equal_plain_jax(pipe):
    import jax
    import jax.numpy as jnp

    def f(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    rng = np.random.default_rng(0)
    for _ in range(3):
        x, v = rng.normal(size=50), rng.normal(size=50)
        answer = pipe.ask({"command": "hvp", "expr": ROSENBROCK, "at": {"x": x.tolist()}, "v": v.tolist(),
                           "fields": ["value"]})
        expected = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])(x, v)
        np.testing.assert_allclose(answer["value"], np.asarray(expected), rtol=1e-13, atol=1e-12)


# -- in this process: statuses, the LRU, the policy -------------------------------------------------

def test_a_new_expression_runs_op_by_op_first_then_is_compiled_then_hit():
    answers = served(*[grad(at=(k, 2), fields=["cache", "value"]) for k in (1, 2, 3)], eager="always")
    assert [a["cache"] for a in answers] == ["eager", "miss", "hit"]
    assert [a["value"] for a in answers] == [[4.0, 13.0], [8.0, 16.0], [12.0, 21.0]]


def test_never_compiles_at_once_and_no_cache_keeps_nothing():
    answers = served(grad(fields=["cache"]), grad(at=(2, 2), fields=["cache"]),
                     grad(fields=["cache"], no_cache=True))
    assert [a["cache"] for a in answers] == ["miss", "hit", "off"]


def test_array_variables_are_compiled_even_with_always():
    x = {"x": [1.0, 2.0, 3.0]}
    answers = served(*[{"command": "grad", "expr": "sum(x**3)", "at": x, "fields": ["cache"]}] * 2, eager="always")
    assert [a["cache"] for a in answers] == ["miss", "hit"]


def test_the_lru_keeps_size_functions_and_drops_the_least_recently_used():
    from jaccli.serve import Policy, Server

    server = Server(2, Policy("never"))

    def status(expr):
        return json.loads(server.answer(json.dumps(grad(expr, fields=["cache"]))))["cache"]

    assert [status(e) for e in ("x*y", "x+y", "x*y", "x-y")] == ["miss", "miss", "hit", "miss"]  # x+y goes
    assert len(server.executables) == 2 and server.executables.evictions == 1
    assert [status(e) for e in ("x*y", "x+y")] == ["hit", "miss"]


def test_auto_compiles_a_kinds_first_expression_warms_the_kind_up_then_answers_it_op_by_op():
    from jaccli.serve import Policy, Server

    policy = Policy("auto", background=False)  # the warm-up in the request that starts it
    server = Server(16, policy)
    statuses = [json.loads(server.answer(json.dumps(grad(f"x**2*y + {k}*sin(y)", fields=["cache"]))))["cache"]
                for k in range(3)]
    kind = next(iter(policy.kinds.values()))
    assert kind.eager_seconds is not None and kind.eager_seconds < policy.compile_seconds
    assert statuses == ["miss", "eager", "eager"]
    arrays = [json.loads(server.answer(json.dumps({"command": "grad", "expr": f"sum(x**{k})", "at": {"x": [1, 2]},
                                                   "fields": ["cache"]})))["cache"] for k in (2, 3)]
    assert arrays == ["miss"] * 2 and any(k.never for k in policy.kinds.values())  # arrays: always compiled


def test_the_disk_cache_answers_a_miss_in_memory(tmp_path):
    from jaccli.compute import cache

    request = grad("x**3*y - y", fields=["cache"])
    with environment_variables({"JACCLI_CACHE_DIR": str(tmp_path)}, remove=("JACCLI_NO_CACHE",)):
        cache._REFUSED.clear()
        assert served(request)[0]["cache"] == "miss"  # compiled, and kept on disk
        assert [a["cache"] for a in served(request, request, eager="always")] == ["hit", "hit"]  # disk, memory
    cache._REFUSED.clear()


# -- in this process: requests and errors ----------------------------------------------------------

@pytest.mark.parametrize("at", [
    [1, 2], {"x": 1, "y": 2}, {"y": 2, "x": "sqrt(1)"}, "x=1,y=2", "1,2", ["x=1", "y=2"], [[1, 2]],
])
def test_every_form_of_a_point_gives_the_same_answer(at):
    answer = served({"command": "grad", "expr": "x**2*y + y**3", "at": at, "vars": "x,y", "fields": ["value"]})[0]
    assert answer["value"] == [4.0, 13.0]


@pytest.mark.parametrize("request_, code, message", [
    ('{"command": "grad", "expr": ', 2, "not valid JSON"),
    ('{"command": "grad", "expr": "x", "at": [NaN]}', 2, "not valid JSON"),
    ('"grad"', 2, "a JSON object, not a string"),
    ({"expr": "x"}, 2, 'no "command"'),
    ({"command": "grad"}, 2, 'no "expr"'),
    ({"command": "hesian", "expr": "x"}, 2, "unknown command 'hesian'"),
    ({"command": "grad", "expr": "x", "at": [1], "wtr": "x"}, 2, "unknown key 'wtr'"),
    ({"command": "grad", "expr": "x", "at": [1], "v": [1]}, 2, "`grad` takes no 'v'"),
    ({"command": "hessian", "expr": "x", "at": [1], "with_value": True}, 2, "`hessian` takes no 'with_value'"),
    ({"command": "grad", "expr": 7, "at": [1]}, 2, "'expr' takes a string, not a number"),
    ({"command": "grad", "expr": "x", "at": [True]}, 2, "true is not a number"),
    ({"command": "grad", "expr": "x", "at": [1], "vars": 5}, 2, "'vars' takes a list of names"),
    ({"command": "grad", "expr": "x", "at": [1], "with_value": "yes"}, 2, "'with_value' takes true or false"),
    ({"command": "derivative", "expr": "x", "at": [1], "order": 0}, 2, "'order' takes an integer from 1 to 8"),
    ({"command": "grad", "expr": "x", "at": [1], "dtype": "int8"}, 2, "'dtype' takes one of float64, float32"),
    ({"command": "hessian", "expr": "x", "at": [1], "mode": "fwd"}, 2, "`hessian` takes --mode fwd-rev"),
    ({"command": "grad", "expr": "x", "at": [1], "fields": ["values"]}, 2, "'fields' names 'values'"),
    ({"command": "grad", "expr": "x +* y", "at": [1, 2]}, 2, "x +* y"),
    ({"command": "grad", "expr": "A @ x", "at": {"A": [[1, 2], [3, 4]], "x": [1, 2, 3]}}, 2, "(2, 2) @ (3,)"),
    ({"command": "grad", "expr": "x**2*y", "at": [1, 2, 3]}, 2, "expected 2 values"),
    ({"command": "grad", "expr": "[x, y]", "at": [1, 2]}, 2, "`grad` needs a scalar expression"),
    ({"command": "hessian", "expr": "sum(x**2)", "at": {"x": "zeros(100)"}, "max_memory": 1000}, 2,
     "more than the memory budget"),
    ({"command": "grad", "expr": "x", "at": "-"}, 2, "one point a request"),
    ({"command": "check", "expr": "x**2", "at": [1], "of": "grad", "expect": "-"}, 2, "'expect' cannot be '-'"),
])
def test_a_bad_request_gets_an_error_answer_and_the_next_one_is_answered(request_, code, message):
    bad, good = served(request_, grad(fields=["value"]))
    assert set(bad) == {"id", "error"} and bad["error"]["code"] == code, bad
    assert message in bad["error"]["message"] + " " + " ".join(bad["error"].get("context", [])), bad
    assert {"message", "hint"} <= set(bad["error"]) and good["value"] == [4.0, 13.0]


def test_a_failure_at_run_time_is_code_3_and_an_internal_error_too(monkeypatch):
    from jaccli.compute import run
    from jaccli.errors import ComputeError

    def fail(request, **options):
        if request.expr == "x":
            raise ComputeError("the computation failed: out of memory", hint="try a smaller problem")
        raise KeyError("oops")

    monkeypatch.setattr(run, "run", fail)
    runtime, internal = served(grad("x", at=(1,)), grad("y", at=(1,)))
    assert runtime["error"] == {"code": 3, "message": "the computation failed: out of memory",
                                "hint": "try a smaller problem"}
    assert internal["error"]["code"] == 3 and internal["error"]["message"].startswith("internal error: KeyError")


def test_files_are_read_unless_no_files(tmp_path):
    from jaccli.env import NO_FILES

    np.save(tmp_path / "x.npy", np.array([1.0, 2.0]))
    request = {"command": "grad", "expr": "sum(x**2)", "at": {"x": f"@{tmp_path / 'x.npy'}"}, "fields": ["value"]}
    assert served(request)[0]["value"] == [2.0, 4.0]
    token = NO_FILES.set(True)
    try:
        assert served(request)[0]["error"]["code"] == 2
    finally:
        NO_FILES.reset(token)


def test_warnings_come_in_the_answer():
    log, nan = served(grad("log(x)", at=(-1,), fields=["value"]), {"command": "eval", "expr": "sqrt(x)", "at": [-1]})
    assert log["warnings"] == ["f itself is not finite (nan or inf) at this point: the derivative there means little"]
    assert nan["value"] == "nan" and "non-finite numbers" in nan["warnings"][0]


def test_check_inspect_and_info():
    check, wrong, inspect, info = served(
        {"id": 1, "command": "check", "expr": "x**2*y + y**3", "at": [1, 2], "of": "hessian",
         "expect": [[4, 2], [2, 12]]},
        {"id": 2, "command": "check", "expr": "x**2*y", "at": [1, 2], "of": "grad", "expect": "[4, 2]"},
        {"id": 3, "command": "inspect", "expr": "x**2*y", "at": [1, 2]},
        {"id": 4, "command": "info"})
    assert check["ok"] is True and check["reports"][0]["references"][0]["agree"] == 4
    assert wrong["ok"] is False and wrong["reports"][0]["references"][0]["mismatches"][0]["label"] == "df/dy"
    assert inspect["id"] == 3 and inspect["output shape"] == "()"
    assert info["id"] == 4 and info["default dtype"] == "float64"


def test_serve_reads_its_streams_to_the_end_skipping_blank_lines_and_overlong_ones(monkeypatch):
    from jaccli import serve
    from jaccli.env import Environment

    monkeypatch.setattr(serve, "LINE_BYTES", 200)
    lines = [json.dumps(grad(id=1, fields=["value"])), "", "   ", json.dumps(grad(id=2, expr="x" + " " * 300)),
             json.dumps(grad(id=3, at=(2, 1), fields=["value"]))]
    out = io.StringIO()
    serve.serve(Environment(io.StringIO("\n".join(lines) + "\n"), out, io.StringIO()), eager="never")
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers[0] == {"id": 1, "value": [4.0, 13.0]} and answers[2] == {"id": 3, "value": [4.0, 7.0]}
    assert answers[1]["id"] is None and "longer than 200 bytes" in answers[1]["error"]["message"]


def test_a_closed_stdout_ends_the_server_as_a_closed_pipe():
    from jaccli import serve
    from jaccli.env import Environment
    from jaccli.errors import ClosedPipe  # what `main` ends quietly with exit 0 (test_cli: a closed pipe)

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError()

    err = io.StringIO()
    stdin = io.StringIO((json.dumps(grad()) + "\n") * 3)
    with pytest.raises(ClosedPipe):
        serve.serve(Environment(stdin, Closed(), err), eager="never")
    assert err.getvalue() == "" and stdin.read() != ""  # it stopped at the first answer it could not write


# -- the contract: schema, help, README, samples ----------------------------------------------------

def test_the_schema_names_every_key_the_server_takes_and_answers():
    from jaccli.compute.commands import COMMANDS
    from jaccli.serve.requests import DOCUMENT_KEYS, KEYS, OTHER_COMMANDS

    request = SCHEMA["$defs"]["request"]["properties"]
    assert set(request) == {"id", "command", *KEYS}
    assert request["command"]["enum"] == [*COMMANDS, *OTHER_COMMANDS]
    assert request["fields"]["items"]["enum"] == list(DOCUMENT_KEYS)
    assert set(DOCUMENT_KEYS) <= set(SCHEMA["$defs"]["result"]["properties"])


def test_requests_and_answers_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    requests = [grad(id=1), grad(id=2, with_value=True, vars=["x", "y"]), {"id": 3, "command": "info"},
                {"id": 4, "command": "hvp", "expr": "x", "at": {"x": "1"}, "v": [1], "mode": "rev-fwd"}]
    for request in requests:
        jsonschema.validate(request, {"$ref": "#/$defs/request", "$defs": SCHEMA["$defs"]})
    answers = served(*requests, '{"id": 5, "command": "grad", "expr": "x +"}')
    for answer in answers:
        jsonschema.validate(answer, {"$ref": "#/$defs/response", "$defs": SCHEMA["$defs"]})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"command": "grad", "colour": 1}, {"$ref": "#/$defs/request", "$defs": SCHEMA["$defs"]})


def test_serve_has_help_with_an_example_and_a_readme_section():
    done = jaccli("serve", "--help")
    assert done.returncode == 0 and "Example: echo" in done.stdout and "--cache-size" in done.stdout
    readme = (ROOT / "README.md").read_text()
    assert "## Serving other programs" in readme and "`jaccli serve`" in readme


def test_the_trust_ncg_sample_minimizes_rosenbrock_with_one_server():
    done = subprocess.run([sys.executable, str(ROOT / "samples" / "serve_trust_ncg.py"), "10"], capture_output=True,
                          text=True, timeout=300, env=process_env({"JACCLI": JACCLI}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Optimization terminated successfully" in done.stdout and "(server exit 0)" in done.stdout


def test_the_coproc_sample_reads_each_answer_before_the_next_request():
    done = subprocess.run(["bash", str(ROOT / "samples" / "serve_coproc.sh"), JACCLI], capture_output=True,
                          text=True, timeout=300, env=process_env())
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == [1, 2, 3, 4, 5]
    assert answers[0]["value"] == [[4.0, 2.0], [2.0, 12.0]] and answers[2]["value"] == [12.0, 0.0, 0.0]
    assert answers[3]["error"]["code"] == 2 and answers[4]["mode"] == "rev"
    assert os.access(ROOT / "samples" / "serve_coproc.sh", os.R_OK)
