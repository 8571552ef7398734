"""Expression → a `jax.numpy` function `f(z, c)` of flat vectors (table-driven).

Each node kind has one `_emit_<Kind>` method; functions map through `_functions()`
from the canonical names of `functions.SIGNATURES`. Constants become arrays of the
run's dtype (never Python arithmetic, so `(-8)**(1/3)` is nan and `1/0` is inf as
in NumPy); integer exponents stay integers, so `x**2` is differentiable at x < 0.

    >>> f = build_function(parse_expression("x**2*y + y**3"), Layout.build("xy", {"x": (), "y": ()}))
    >>> f(jnp.array([1.0, 2.0]), jnp.zeros(0))
    Array(10., dtype=float64)
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..language import nodes
from ..errors import ShapeError, UnknownNameError
from ..inputs.layout import Layout
from ..language.parse import Expression

if not jax.config.jax_enable_x64:
    jax.config.update("jax_enable_x64", True)  # float64 is the default; float32 only when asked

_CONSTANTS = {"pi": math.pi, "E": math.e, "inf": math.inf, "nan": math.nan}
_COMPARE = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal",
            "==": "equal", "!=": "not_equal"}


@functools.cache
def _functions() -> dict:
    from jax.scipy import special

    return {
        "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan,
        "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan, "atan2": jnp.arctan2,
        "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh,
        "asinh": jnp.arcsinh, "acosh": jnp.arccosh, "atanh": jnp.arctanh,
        "exp": jnp.exp, "exp2": jnp.exp2, "expm1": jnp.expm1,
        "log": jnp.log, "log1p": jnp.log1p, "log10": jnp.log10, "log2": jnp.log2,
        "sqrt": jnp.sqrt, "cbrt": jnp.cbrt, "square": jnp.square, "hypot": jnp.hypot,
        "abs": jnp.abs, "sign": jnp.sign, "floor": jnp.floor, "ceil": jnp.ceil,
        "erf": special.erf, "erfc": special.erfc, "gamma": special.gamma, "lgamma": special.gammaln,
        "sigmoid": jax.nn.sigmoid, "softplus": jax.nn.softplus,
        "round": jnp.round, "trunc": jnp.trunc, "sec": lambda x: 1 / jnp.cos(x), "csc": lambda x: 1 / jnp.sin(x),
        "cot": lambda x: 1 / jnp.tan(x), "erfinv": special.erfinv, "digamma": special.digamma,
        "pow": jnp.power, "mod": jnp.mod, "clip": jnp.clip,
        "sum": jnp.sum, "prod": jnp.prod, "mean": jnp.mean, "logsumexp": special.logsumexp,
        "norm": lambda x, axis=None: jnp.linalg.norm(x, axis=axis),
        "dot": jnp.dot,
    }


@functools.cache
def _numpy_functions() -> dict:
    """The same table in NumPy (for constants); special functions through `math`, elementwise."""

    def elementwise(function):
        def safe(x):
            try:
                return function(x)
            except (ValueError, OverflowError):
                return math.nan if function is not math.gamma or x <= 0 else math.inf
        return np.vectorize(safe, otypes=[np.float64])

    def logsumexp(x, axis=None):
        top = np.max(x, axis=axis, keepdims=True)
        return np.squeeze(np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top, axis=axis)

    table = {name: getattr(np, name) for name in (
        "sin cos tan sinh cosh tanh exp exp2 expm1 log log1p log10 log2 sqrt cbrt square hypot "
        "abs sign floor ceil round trunc mod clip sum prod mean dot").split()}
    table.update({
        "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
        "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
        "erf": elementwise(math.erf), "erfc": elementwise(math.erfc),
        "gamma": elementwise(math.gamma), "lgamma": elementwise(math.lgamma),
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "softplus": lambda x: np.logaddexp(0, x),
        "sec": lambda x: 1 / np.cos(x), "csc": lambda x: 1 / np.sin(x), "cot": lambda x: 1 / np.tan(x),
        "pow": np.power, "erfinv": elementwise(_erfinv), "digamma": elementwise(_digamma),
        "norm": lambda x, axis=None: np.linalg.norm(x, axis=axis), "logsumexp": logsumexp,
    })
    return table


def _erfinv(y: float) -> float:
    """erf⁻¹ by Newton's method on math.erf (constants only; expressions use JAX's)."""
    if not -1 < y < 1:
        return math.copysign(math.inf, y) if abs(y) == 1 else math.nan
    x = 0.0
    for _ in range(100):
        step = (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        x -= step
        if abs(step) <= 1e-17 * max(1.0, abs(x)):
            break
    return x


def _digamma(x: float) -> float:
    """ψ(x) by recurrence and the asymptotic series (constants only; expressions use JAX's)."""
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0:  # reflection
        return _digamma(1 - x) - math.pi / math.tan(math.pi * x)
    result = 0.0
    while x < 10:
        result -= 1 / x
        x += 1
    inverse = 1 / (x * x)
    series = 0.0
    for coefficient in (1 / 12, -691 / 32760, 1 / 132, -1 / 240, 1 / 252, -1 / 120, 1 / 12):  # B₂ₖ/2k, k = 7…1
        series = series * inverse + coefficient
    return result + math.log(x) - 0.5 / x - series * inverse


def build_function(expression: Expression, layout: Layout, dtype=jnp.float64):
    """f(z, c) → array of the expression's output shape, in `dtype`."""

    def f(z, c):
        env = {}
        for slot in layout.slots:
            flat = z if slot.wrt else c
            env[slot.name] = flat[slot.offset : slot.offset + slot.size].reshape(slot.shape)
        value = _Emitter(expression.text, dtype).emit(expression.root, env)
        return jnp.asarray(value, dtype)

    return f


@jax.custom_jvp
def _keep_tangent(x, keep):
    """x itself; its derivative is zeroed where `keep` is False (at every order).

    `where(c, a, b)` evaluates both branches; a branch that is nan or inf where it is
    not selected (sqrt(x) for x < 0) would otherwise poison reverse-mode derivatives
    with 0 * nan. Masking the variables that enter each branch keeps them clean.
    """
    return x


@_keep_tangent.defjvp
def _keep_tangent_jvp(primals, tangents):
    x, keep = primals
    return _keep_tangent(x, keep), jnp.where(keep, tangents[0], jnp.zeros_like(tangents[0]))


def evaluate_constant(root: nodes.Node, text: str, builders: dict | None = None):
    """The float64 value of a constant expression (`pi/2`, `[1, sqrt(2)]`, `2*ones(3)`), by NumPy.

    `builders` maps extra call names (zeros, random…) to functions of
    (positional values, keyword values) that return arrays. NumPy, not JAX: eager
    JAX would compile every operation of a one-off constant.
    """
    with np.errstate(all="ignore"):
        return np.asarray(_Emitter(text, np.float64, builders, xp=np).emit(root, {}))


class _Emitter:
    def __init__(self, text: str, dtype, builders: dict | None = None, xp=jnp):
        self.text = text
        self.dtype = dtype
        self.builders = builders or {}
        self.xp = xp  # jax.numpy, or numpy for constants
        self.functions = _functions() if xp is jnp else _numpy_functions()

    def emit(self, node: nodes.Node, env: dict):
        method = getattr(self, "_emit_" + type(node).__name__)
        try:
            return method(node, env)
        except (TypeError, ValueError, IndexError) as error:
            raise self.shape_error(node, str(error).split("\n")[0]) from error

    def shape_error(self, node: nodes.Node, detail: str, prefix: str = "shapes don't fit: ") -> ShapeError:
        return ShapeError(prefix + detail, text=self.text, position=node.pos,
                          hint="`jaccli inspect EXPR --at …` shows the shape of each variable")

    def constant(self, value):
        return self.xp.asarray(value, self.dtype)

    def _emit_Num(self, node: nodes.Num, env):
        try:
            return self.constant(float(node.value))
        except OverflowError:
            return self.constant(math.inf if node.value > 0 else -math.inf)

    def _emit_Const(self, node: nodes.Const, env):
        return self.constant(_CONSTANTS[node.name])

    def _emit_Var(self, node: nodes.Var, env):
        if node.name not in env:
            raise UnknownNameError(f"{node.name!r} is not a number here", self.text, node.pos,
                                   hint="values are numbers or constant expressions: 1.5, pi/2, [1, 2], zeros(3)")
        return env[node.name]

    def _emit_Unary(self, node: nodes.Unary, env):
        value = self.emit(node.operand, env)
        return self.xp.logical_not(value) if node.op == "not" else self.xp.negative(value)

    def _emit_Add(self, node: nodes.Add, env):
        total = None
        for op, term in node.terms:
            value = self.emit(term, env)
            if total is None:
                total = value if op == "+" else self.xp.negative(value)
            else:
                total = self.xp.add(total, value) if op == "+" else self.xp.subtract(total, value)
        return total

    def _emit_Mul(self, node: nodes.Mul, env):
        product = self.emit(node.factors[0][1], env)
        for op, factor in node.factors[1:]:
            value = self.emit(factor, env)
            product = self.xp.multiply(product, value) if op == "*" else self.xp.true_divide(product, value)
        return product

    def _emit_Pow(self, node: nodes.Pow, env):
        base = self.emit(node.base, env)
        exponent = node.exponent
        if isinstance(exponent, nodes.Num) and exponent.value.denominator == 1 and abs(exponent.value) < 2**31:
            return self.xp.power(base, int(exponent.value))  # lax.integer_pow: exact, fine at x < 0
        return self.xp.power(base, self.emit(exponent, env))

    def _emit_Compare(self, node: nodes.Compare, env):
        values = [self.emit(o, env) for o in node.operands]
        result = None
        for op, left, right in zip(node.ops, values, values[1:]):
            test = getattr(self.xp, _COMPARE[op])(left, right)
            result = test if result is None else self.xp.logical_and(result, test)
        return result

    def _emit_BoolOp(self, node: nodes.BoolOp, env):
        combine = self.xp.logical_and if node.op == "and" else self.xp.logical_or
        return functools.reduce(combine, (self.emit(o, env) for o in node.operands))

    def _emit_List(self, node: nodes.List, env):
        items = [self.xp.asarray(self.emit(i, env), self.dtype) for i in node.items]
        shapes = {i.shape for i in items}
        if len(shapes) > 1:
            listed = ", ".join(str(i.shape) for i in items)
            raise self.shape_error(node, f"list items have different shapes {listed}")
        return self.xp.stack(items)

    def _emit_Index(self, node: nodes.Index, env):
        target = self.emit(node.target, env)
        shape = self.xp.shape(target)
        if len(node.items) > len(shape):
            raise self.shape_error(
                node, f"{len(node.items)} indices for an array of shape {shape}"
                + (" (a scalar: bind the variable to an array in --at)" if not shape else ""))
        for axis, item in enumerate(node.items):
            if isinstance(item, int) and not -shape[axis] <= item < shape[axis]:
                raise self.shape_error(
                    node, f"index {item} is out of range for {nodes.format_node(node.target)!r}, "
                    f"which has {shape[axis]} entries" + (f" on axis {axis}" if len(shape) > 1 else ""), prefix="")
        return target[tuple(node.items)]

    def _emit_Call(self, node: nodes.Call, env):
        name = node.name
        if name in self.builders:
            keywords = {key: self.emit(value, env) for key, value in node.keywords}
            return self.builders[name]([self.emit(a, env) for a in node.args], keywords)
        if name == "where":
            return self.emit_where(node, env)
        args = [self.emit(a, env) for a in node.args]
        if name in ("min", "max"):
            if len(args) == 1:
                return (self.xp.min if name == "min" else self.xp.max)(args[0], axis=node.axis)
            pairwise = self.xp.minimum if name == "min" else self.xp.maximum
            return functools.reduce(pairwise, args)
        if name == "log" and len(args) == 2:
            return self.xp.log(args[0]) / self.xp.log(args[1])
        function = self.functions[name]
        if node.axis is not None:
            return function(*args, axis=node.axis)
        return function(*args)

    def emit_where(self, node: nodes.Call, env):
        condition = self.xp.asarray(self.emit(node.args[0], env), bool)
        branches = []
        for keep, branch in ((condition, node.args[1]), (self.xp.logical_not(condition), node.args[2])):
            masked = {name: _mask(value, keep) for name, value in env.items()} if env else env
            branches.append(self.emit(branch, masked))
        return self.xp.where(condition, *branches)


def _mask(value, keep):
    """`value` with its derivative kept only where `keep` (when `keep` fits its shape)."""
    try:
        if jnp.broadcast_shapes(jnp.shape(keep), jnp.shape(value)) != jnp.shape(value):
            return value
    except ValueError:
        return value
    return _keep_tangent(value, jnp.broadcast_to(keep, jnp.shape(value)))
