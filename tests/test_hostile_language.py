"""Hostile expressions: every kind of nesting and every exact-arithmetic blow-up is an exit-2 error, quickly."""

import random

import pytest

from jaccli.cli import main
from jaccli.env import Environment


def run(*args):
    env = Environment.capture()
    code = main(list(args), env)
    return code, env.err_text()


def fractions(count: int, bits: int) -> str:
    rng = random.Random(1)
    return "(" + " + ".join(f"1/{rng.getrandbits(bits) | 1}" for _ in range(count)) + ")*x"


@pytest.mark.parametrize("expr, message", [
    (fractions(400, 2000), "grows beyond 10,000 bits"),  # denominators multiply: refused while folding
    ("(9**3000*9**3000)*x", "grows beyond 10,000 bits"),  # would overflow int → str (exit 3 before)
    ("(7**3000)**3 + x", "number too large"),
    ("x" + "[0]" * 5000, "nested too deeply"),  # chained subscripts (RecursionError before)
    ("[" * 70 + "x" + "]" * 70, "lists nested more than 32 deep"),  # NumPy's 64 dimensions (exit 3 before)
    ("-" * 5000 + "x", "nested too deeply"),
    ("(" * 5000 + "x" + ")" * 5000, "nested too deeply"),
])
def test_each_kind_of_blow_up_is_a_usage_error(monkeypatch, expr, message):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    code, err = run("eval", expr, "--at", "x=[1]")
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.splitlines()[0]) < 200  # the message quotes sizes, never a 3,000-digit number


def test_constants_below_the_limits_still_fold_exactly(monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    env = Environment.capture()
    assert main(["eval", fractions(20, 100) + " - " + fractions(20, 100) + " + 2**1000/2**999 + x", "--at", "3"],
                env) == 0
    assert float(env.out_text()) == 5.0  # the two sums cancel exactly


def test_messages_are_whole_sentences():
    code, err = run("eval", "x(1+y)", "--at", "1,2")
    assert code == 2 and "hint: the README lists the functions. For a product write x*(…)." in err
    code, err = run("eval", "x", "--at", "1", "-f", "xml")
    assert code == 2 and err.startswith("error: '--format' / '-f' takes one of table, plain, json") and "Value error" not in err


def test_version():
    import io
    from contextlib import redirect_stdout

    from importlib.metadata import version

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--version"], Environment.capture()) == 0
    assert out.getvalue() == f"jaccli {version('jaccli')}\n"


def test_long_sums_and_products_compile_as_balanced_trees(monkeypatch):
    """A 200-factor product's Hessian (500 factors: ~40 s to compile left-deep, ~4 s balanced)."""
    import math

    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    env = Environment.capture()
    assert main(["hessian", "*".join(["x"] * 200) + "/x/x", "--at", "1.001"], env) == 0
    assert math.isclose(float(env.out_text()), 198 * 197 * 1.001**196, rel_tol=1e-12)
    env = Environment.capture()
    assert main(["eval", " + ".join(f"{k}/7*x" for k in range(100)) + " - x", "--at", "3"], env) == 0
    assert math.isclose(float(env.out_text()), sum(k / 7 * 3 for k in range(100)) - 3, rel_tol=1e-14)
