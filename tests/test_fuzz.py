"""A grammar-aware fuzzer: random expressions, points and mutations of them, against jaccli's contract.

Each case runs `jaccli` in-process and must end with exit 0 (and then equal an independent
NumPy/JAX reference built from the same random tree), or exit 2 with one `error:` line first and
no traceback; exit 3 only for a run-time failure. No file is ever written. `make fuzz` runs the
same properties longer (FUZZ_EXAMPLES, default 15 here).
"""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jaccli.cli import main
from jaccli.env import Environment

jax.config.update("jax_enable_x64", True)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_EXAMPLES"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# name: (text template, numpy function, jax function); safe on all reals so references exist
UNARY = {
    "sin": (np.sin, jnp.sin), "cos": (np.cos, jnp.cos), "tanh": (np.tanh, jnp.tanh), "exp": (np.exp, jnp.exp),
    "atan": (np.arctan, jnp.arctan), "sinh": (np.sinh, jnp.sinh), "abs": (np.abs, jnp.abs),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), jax.nn.sigmoid), "softplus": (lambda x: np.logaddexp(0, x),
                                                                               jax.nn.softplus),
}
BINARY = {"+": (np.add, jnp.add), "-": (np.subtract, jnp.subtract), "*": (np.multiply, jnp.multiply)}
VARS = ("x", "y", "z")


def trees(depth: int = 3):
    """(text, numpy f(point dict), jax f(point dict)) for random expressions of x, y, z."""
    leaf = st.one_of(
        st.sampled_from(VARS).map(lambda v: (v, lambda p, v=v: p[v], lambda p, v=v: p[v])),
        st.integers(-5, 5).map(lambda n: (f"({n})", lambda p, n=n: float(n), lambda p, n=n: float(n))),
        st.sampled_from(["pi", "E"]).map(lambda c: (c, lambda p, c=c: {"pi": math.pi, "E": math.e}[c],
                                                    lambda p, c=c: {"pi": math.pi, "E": math.e}[c])),
    )

    def extend(inner):
        unary = st.tuples(st.sampled_from(sorted(UNARY)), inner).map(
            lambda t: (f"{t[0]}({t[1][0]})", lambda p, t=t: UNARY[t[0]][0](t[1][1](p)),
                       lambda p, t=t: UNARY[t[0]][1](t[1][2](p))))
        binary = st.tuples(st.sampled_from(sorted(BINARY)), inner, inner).map(
            lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})", lambda p, t=t: BINARY[t[0]][0](t[1][1](p), t[2][1](p)),
                       lambda p, t=t: BINARY[t[0]][1](t[1][2](p), t[2][2](p))))
        power = st.tuples(inner, st.integers(2, 3)).map(
            lambda t: (f"({t[0][0]})**{t[1]}", lambda p, t=t: t[0][1](p) ** t[1], lambda p, t=t: t[0][2](p) ** t[1]))
        return st.one_of(unary, binary, power)

    return st.recursive(leaf, extend, max_leaves=12)


points = st.fixed_dictionaries({v: st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 3)) for v in VARS})


def run(argv, stdin=b""):
    env = Environment.capture(stdin)
    code = main(argv, env)
    return code, env.out_text(), env.err_text()


def contract(code, out, err):
    assert code in (0, 2, 3), (code, err)
    assert "Traceback" not in err
    if code == 0:
        assert all(line.startswith("warning: ") for line in err.splitlines()), err
    else:
        assert err.startswith("error: "), err
        assert code != 3 or "internal error" not in err, err


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    monkeypatch.chdir(tmp_path)
    yield
    assert list(tmp_path.iterdir()) == []  # nothing written


@FUZZ
@given(trees(), points)
def test_eval_and_grad_of_random_expressions_equal_numpy_and_jax(tree, point):
    text, numpy_f, jax_f = tree
    at = ",".join(f"{v}={point[v]!r}" for v in VARS)
    expr = f"{text} + 0*x + 0*y + 0*z"  # every variable appears, in x, y, z order
    code, out, err = run(["eval", expr, "--at", at, "-f", "plain"])
    contract(code, out, err)
    with np.errstate(all="ignore"):
        want = float(numpy_f(point))
    if code == 0 and math.isfinite(want):
        assert float(out) == pytest.approx(want, rel=1e-12, abs=1e-12)
    code, out, err = run(["grad", expr, "--at", at, "-f", "plain"])
    contract(code, out, err)
    gradient = jax.grad(lambda z: jax_f(dict(zip(VARS, z))) + 0.0)(jnp.array([point[v] for v in VARS]))
    if code == 0 and np.isfinite(gradient).all():
        np.testing.assert_allclose(np.loadtxt(out.splitlines()), gradient, rtol=1e-10, atol=1e-10)


MUTATIONS = st.sampled_from(["(", ")", "[", "]", ",", "**", "*", "/", "@", "$", "x(", "sin", "1e999", "9**9**9",
                             "[" * 40, "\x00", "'", "__import__", ";", "=", "==", "..", "-" * 300, "x[0][0]"])


@FUZZ
@given(trees(), st.lists(st.tuples(st.integers(0, 200), MUTATIONS), min_size=1, max_size=4), points)
def test_mutated_expressions_keep_the_contract(tree, edits, point):
    text = tree[0]
    for where, piece in edits:
        at = where % (len(text) + 1)
        text = text[:at] + piece + text[at:]
    argv = ["grad", text, "--at", ",".join(f"{v}={point[v]!r}" for v in VARS)]
    contract(*run(argv))


@FUZZ
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(
    ["", "x", "1e999", "nan", "true", "[1,2]", "--", "\x00", "1,,2", "0x10", "1_0"])), min_size=0, max_size=5),
    st.sampled_from(["csv", "json"]))
def test_random_records_keep_the_contract(cells, kind):
    import json

    line = ",".join(cells) if kind == "csv" else json.dumps(cells)
    code, out, err = run(["grad", "x*y", "--at", "-", "-f", "json"], stdin=(line + "\n").encode())
    contract(code, out, err)
