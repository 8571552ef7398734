"""The registry: every command's shape, names, modes and vector come from its one record, and agree with JAX."""

import math

import numpy as np
import pytest

import jaccli
import jaccli.cli
from jaccli.compute.commands import COMMANDS
from jaccli.compute.prepare import Request, prepare
from jaccli.env import Environment
from jaccli.output.labels import entry_names

EXPR, AT = "[x**2*y, sin(z)*x]", "1.5,2,0.5"  # out (2,), n = 3
SCALAR = "x**2*y + y**3*z"
VECTORS = {"v": ("1,0,2",), "u": ("1,-1",)}


def request_for(name: str, expr: str) -> Request:
    command = COMMANDS[name]
    vector = {command.vector: VECTORS[command.vector] if expr == EXPR else ("1,0,2",)} if command.vector else {}
    return Request(name, expr, (AT,), order=2 if name == "derivative" else None, **vector)


@pytest.mark.parametrize("name", [n for n in COMMANDS])
def test_result_shape_and_entry_names_follow_the_axes(name):
    expr = SCALAR if COMMANDS[name].scalar_only else EXPR
    plan = prepare(request_for(name, expr))
    from jaccli.compute.run import run

    value = run(request_for(name, expr)).value
    assert value.shape == plan.shape
    names = entry_names(plan)
    assert len(names) == value.size == math.prod(plan.shape) and len(set(names)) == len(names)


def test_every_command_is_on_the_command_line_in_the_api_and_in_the_readme():
    from pathlib import Path

    from jaccli.cli import app_commands

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in COMMANDS:
        assert name in app_commands() and callable(getattr(jaccli, name)) and f"`{name}`" in readme


@pytest.mark.parametrize("name", [n for n, c in COMMANDS.items() if c.modes])
def test_each_listed_mode_gives_the_same_numbers(name):
    expr = SCALAR if COMMANDS[name].scalar_only or name == "hessian" else EXPR
    from jaccli.compute.run import run

    values = [run(Request(name, expr, (AT,), mode=mode, v=("1,0,2",) if COMMANDS[name].vector else ())).value
              for mode in COMMANDS[name].modes]
    for other in values[1:]:
        np.testing.assert_allclose(other, values[0], rtol=1e-13, atol=1e-15)


def test_a_mode_a_command_does_not_have_is_refused():
    with pytest.raises(jaccli.JaccliError, match="takes --mode"):
        jaccli.hessian(SCALAR, at=AT, mode="fwd")
    with pytest.raises(jaccli.JaccliError, match="has no --mode"):
        jaccli.grad(SCALAR, at=AT, mode="fwd")


@pytest.mark.parametrize("name,given", [("grad", "v"), ("jacobian", "u"), ("vjp", "v"), ("hvp", "u")])
def test_a_vector_the_command_does_not_read_is_an_error(name, given):
    with pytest.raises(jaccli.PointError, match=f"takes no --{given}"):
        prepare(Request(name, SCALAR, (AT,), **{given: ("1,0,0",)}))
    env = Environment.capture()  # on the command line, the option parser refuses it first
    assert jaccli.cli.main([name, SCALAR, "--at", AT, f"--{given}", "1,0,0"], env) == 2
    assert env.err_text().startswith("error: No such option")
