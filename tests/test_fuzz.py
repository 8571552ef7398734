"""A grammar-aware fuzzer: random expressions, models, points and mutations of them, against jaccli's contract.

Each case runs `jaccli` in-process and must end with exit 0 (and then equal an independent
NumPy/JAX reference built from the same random tree), or exit 2 with one `error:` line first and
no traceback; exit 3 only for a run-time failure. No file is ever written. `make fuzz` runs the
same properties longer (FUZZ_EXAMPLES, default 15 here).

Models (SPEC §7) are typed trees: every node has a shape, so matrix products, `.T`, array functions
and definitions are generated only where the shapes fit; those must then give exit 0 and NumPy's value.
"""

import json
import math
import os
import re

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
MODEL_FUZZ = settings(FUZZ, max_examples=max(1, EXAMPLES // 3))  # a model and its reference compile more

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


# --- models: matrices, .T, array functions and definitions (SPEC §7) ----------------------------------------

MODEL_VARIABLES = {"A": (2, 3), "B": (3, 3), "s": (), "v": (3,), "w": (2,)}  # bound in this order
MATRICES = [(2, 2), (2, 3), (3, 2), (3, 3)]
MODEL_SHAPES = [(), (2,), (3,), *MATRICES]


def _unary(name):
    return lambda xp, a: UNARY[name][0 if xp is np else 1](a)


def _softmax(xp, a):
    e = xp.exp(a - xp.max(a))
    return e / xp.sum(e)


def _products(shape):
    """The operand shapes of `left @ right` that give `shape` (vector @ vector, matrix @ vector, …)."""
    if shape == ():
        return [((k,), (k,)) for k in (2, 3)]
    if len(shape) == 1:
        return [((shape[0], k), (k,)) for k in (2, 3)] + [((k,), (k, shape[0])) for k in (2, 3)]
    return [((shape[0], k), (k, shape[1])) for k in (2, 3)]


def _square(shape):
    return len(shape) == 2 and shape[0] == shape[1]


# (text template, f(xp, *operands), target shape → the lists of operand shapes that make it); the same
# f serves NumPy (the value) and jax.numpy (the gradient), so the reference never goes through jaccli
MODEL_RULES = [
    *((f"{name}({{0}})", _unary(name), lambda t: [(t,)]) for name in ("sin", "tanh", "atan", "sigmoid")),
    ("({0} + {1})", lambda xp, a, b: a + b, lambda t: [(t, t), (t, ())]),
    ("({0} - {1})", lambda xp, a, b: a - b, lambda t: [(t, t), ((), t)]),
    ("({0} * {1})", lambda xp, a, b: a * b, lambda t: [(t, t), ((), t)]),
    ("({0})**2", lambda xp, a: a**2, lambda t: [(t,)]),
    ("({0} @ {1})", lambda xp, a, b: xp.matmul(a, b), _products),
    ("matmul({0}, {1})", lambda xp, a, b: xp.matmul(a, b), _products),
    ("({0} @ {1} @ {2})", lambda xp, a, b, c: xp.matmul(xp.matmul(a, b), c),  # left to right, as NumPy
     lambda t: [((t[0], k), (k, k), (k, t[1])) for k in (2, 3)] if len(t) == 2 else []),
    ("({2} * {0} @ {1})", lambda xp, a, b, c: xp.matmul(c * a, b),  # * and @: one precedence, left to right
     lambda t: [(x, y, ()) for x, y in _products(t)]),
    ("{0}.T", lambda xp, a: xp.transpose(a), lambda t: [(t[::-1],)] if len(t) == 2 else []),
    ("transpose({0})", lambda xp, a: xp.transpose(a), lambda t: [(t[::-1],)] if len(t) == 2 else []),
    ("sum({0})", lambda xp, a: xp.sum(a), lambda t: [(u,) for u in MODEL_SHAPES] if t == () else []),
    ("sum({0}, axis=0)", lambda xp, a: xp.sum(a, axis=0),
     lambda t: [((k, t[0]),) for k in (2, 3)] if len(t) == 1 else []),
    ("sum({0}, 1)", lambda xp, a: xp.sum(a, axis=1), lambda t: [((t[0], k),) for k in (2, 3)] if len(t) == 1 else []),
    ("trace({0})", lambda xp, a: xp.trace(a), lambda t: [((k, k),) for k in (2, 3)] if t == () else []),
    ("diag({0})", lambda xp, a: xp.diag(a),
     lambda t: [((t[0],),)] if _square(t) else [((t[0], t[0]),)] if len(t) == 1 else []),
    ("outer({0}, {1})", lambda xp, a, b: xp.outer(a, b), lambda t: [((t[0],), (t[1],))] if len(t) == 2 else []),
    ("tril({0})", lambda xp, a: xp.tril(a), lambda t: [(t,)] if len(t) == 2 else []),
    ("triu({0}, k=1)", lambda xp, a: xp.triu(a, k=1), lambda t: [(t,)] if len(t) == 2 else []),
    ("cumsum({0})", lambda xp, a: xp.cumsum(a), lambda t: [(t,)] if len(t) == 1 else []),
    ("flip({0})", lambda xp, a: xp.flip(a), lambda t: [(t,)] if t else []),
    ("softmax({0})", _softmax, lambda t: [(t,)] if len(t) == 1 else []),
]


def _leaves(shape, defined):
    """(text, f(env, xp)) for the leaves of a shape: variables, their transposes, eye(n), numbers, definitions."""
    names = [n for n, s in {**MODEL_VARIABLES, **defined}.items() if s == shape]
    leaves = [(n, lambda env, xp, n=n: env[n]) for n in names]
    leaves += [(f"{n}.T", lambda env, xp, n=n: xp.transpose(env[n])) for n, s in MODEL_VARIABLES.items()
               if len(s) == 2 and s[::-1] == shape]
    if _square(shape):
        leaves.append((f"eye({shape[0]})", lambda env, xp, k=shape[0]: xp.eye(k)))
    if shape == ():
        leaves += [(f"({n})", lambda env, xp, n=n: float(n)) for n in (-2, 0.5, 3)]
    return leaves


def _model_tree(draw, shape, depth, defined):
    """A random (text, f(env, xp)) of `shape`, at most `depth` rules deep."""
    leaves = _leaves(shape, defined)
    rules = [(rule, options) for rule in MODEL_RULES if (options := rule[2](shape))]
    if depth == 0 or not rules or draw(st.integers(0, 2)) == 0:  # every shape has a leaf (eye(2) for 2×2)
        return draw(st.sampled_from(leaves))
    (template, f, _), options = draw(st.sampled_from(rules))
    operands = [_model_tree(draw, s, depth - 1, defined) for s in draw(st.sampled_from(options))]
    return (template.format(*(text for text, _ in operands)),
            lambda env, xp: f(xp, *(g(env, xp) for _, g in operands)))


@st.composite
def models(draw):
    """(text, f(env, xp) → scalar): up to three definitions of random shapes, each used, then a scalar."""
    defined, lines, steps = {}, [], []
    for i in range(draw(st.integers(0, 3))):
        shape = draw(st.sampled_from(MODEL_SHAPES))
        text, f = _model_tree(draw, shape, 2, defined)
        lines.append(f"d{i} = {text}")
        steps.append((f"d{i}", f))
        defined[f"d{i}"] = shape
    text, final = _model_tree(draw, (), 3, defined)
    unused = [name for name in defined if not re.search(rf"\b{name}\b", text)]
    text += "".join(f" + sum({name})" for name in unused)  # every definition is used
    text += "".join(f" + 0*sum({name})" for name in MODEL_VARIABLES)  # every variable appears, in order
    separator = draw(st.sampled_from(["; ", "\n", " # a comment; with @ and 'quotes'\n"]))

    def f(env, xp):
        env = dict(env)
        for name, step in steps:
            env[name] = step(env, xp)
        value = final(env, xp)
        for name in unused:
            value = value + xp.sum(env[name])
        return value

    return separator.join([*lines, text]), f


def model_points(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {name: np.round(rng.uniform(-1, 1, shape), 3) for name, shape in MODEL_VARIABLES.items()}


def model_at(point: dict) -> list[str]:
    return [part for name, value in point.items() for part in ("--at", f"{name}={json.dumps(value.tolist())}")]


@MODEL_FUZZ
@given(models(), st.integers(0, 2**32 - 1))
def test_random_models_equal_numpy_and_jax(model, seed):
    text, f = model
    point = model_points(seed)
    code, out, err = run(["grad", text, *model_at(point), "--with-value", "-f", "json"])
    contract(code, out, err)
    assert code == 0, (text, err)  # every product, transpose and definition fits by construction
    document = json.loads(out)
    with np.errstate(all="ignore"):
        want = float(f(point, np))
    if math.isfinite(want):
        assert document["function_value"] == pytest.approx(want, rel=1e-10, abs=1e-10), text
    gradient = jax.jit(jax.grad(lambda p: f(p, jnp) + 0.0))({k: jnp.asarray(v) for k, v in point.items()})
    flat = np.concatenate([np.ravel(gradient[name]) for name in MODEL_VARIABLES])
    if np.isfinite(flat).all():
        np.testing.assert_allclose(np.array(document["value"], dtype=float), flat, rtol=1e-9, atol=1e-10,
                                   err_msg=text)


MODEL_MUTATIONS = st.sampled_from([
    ".T", ".T.T", "@", "@ A", "A @", ";", ";;", "=", "d9 = ", "\n", "\r", "\r\n", "#", "# @;'\n", ",axis=0",
    ", axis=9", ", k=10**30", ", 10**19", ",", "(", ")", "[", "]", "eye(10**9)", "reshape(", "(-1, -1)", "T",
    "T = 1;", "\ufeff", "\t", "axis=1, axis=0", "x", "inv(", "det(", "solve(", "cholesky(", "norm(", "0*",
    "diag(", "tril(", "concatenate(", "stack([", "])",
])


@FUZZ
@given(models(), st.lists(st.tuples(st.integers(0, 400), MODEL_MUTATIONS), min_size=1, max_size=3),
       st.integers(0, 2**32 - 1))
def test_mutated_models_keep_the_contract(model, edits, seed):
    text = model[0]
    for where, piece in edits:
        at = where % (len(text) + 1)
        text = text[:at] + piece + text[at:]
    contract(*run(["grad", text, *model_at(model_points(seed))]))
