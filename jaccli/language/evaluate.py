"""The tree walker behind every evaluation: one `_emit_<Kind>` method per node kind, over any array module.

`compute.translate` runs it with `jax.numpy` (the function that is differentiated),
`inputs.constants` with NumPy (constant values in --at, with no JAX). The array
module and the function table are given; this module imports neither. A node kind
or a function the table lacks is an explicit "not supported" error, never a KeyError.
"""

from __future__ import annotations

import functools
import math

from ..errors import JaccliError, ShapeError, UnknownNameError
from . import nodes
from .functions import CONSTRUCTORS, LIST_ARGUMENTS

CONSTANTS = {"pi": math.pi, "E": math.e, "inf": math.inf, "nan": math.nan}
_COMPARE = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal",
            "==": "equal", "!=": "not_equal"}
_SHAPE_WORDS = ("shape", "broadcast", "incompatible", "dimension", "size", "axis", "axes", "rank", "mismatch")


BALANCE = 16  # sums and products longer than this are evaluated as balanced trees (see _emit_Add)


def _balanced(combine, values: list):
    """combine(…) over `values` pairwise, as a tree of depth log2(n): a 1,000-factor product's Hessian
    compiles in ~6 s instead of ~180 s (XLA's passes grow fast with the depth of a chain)."""
    while len(values) > 1:
        values = [combine(values[i], values[i + 1]) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class UnsupportedError(JaccliError):
    """A node kind or function that this evaluator has no rule for."""


class Emitter:
    """Evaluate a node tree with array module `xp` (numpy or jax.numpy) and a table of functions by name."""

    what = "this evaluator"  # named in "not supported" errors

    def __init__(self, text: str, xp, functions: dict, dtype, builders: dict | None = None):
        self.text = text
        self.xp = xp
        self.functions = functions
        self.dtype = dtype
        self.builders = builders or {}

    def emit_model(self, expression, env: dict):
        """The value of a model: each definition once, in order (its uses share it), then the final expression."""
        env = dict(env)
        for definition in expression.definitions:
            env[definition.name] = self.emit(definition.value, env)
        return self.emit(expression.root, env)

    def emit(self, node: nodes.Node, env: dict):
        method = getattr(self, "_emit_" + type(node).__name__, None)
        if method is None:
            raise UnsupportedError(f"{type(node).__name__} is not supported by {self.what}",
                                   text=self.text, position=node.pos)
        try:
            return method(node, env)
        except (TypeError, ValueError, IndexError) as error:
            detail = str(error).split("\n")[0]
            if isinstance(error, IndexError) or any(word in detail.lower() for word in _SHAPE_WORDS):
                raise self.shape_error(node, detail) from error
            raise

    def shape_error(self, node: nodes.Node, detail: str, prefix: str = "shapes don't fit: ") -> ShapeError:
        return ShapeError(prefix + detail, text=self.text, position=node.pos,
                          hint="`jaccli inspect EXPR --at …` shows the shape of each variable")

    def check_broadcast(self, node: nodes.Node, operands) -> None:
        """Elementwise operands (symbol, node, value) whose shapes do not broadcast: the operator, both shapes and
        a caret at the operand that does not fit, before any array module says it in its own words."""
        (_, first, value), *rest = operands
        shape, so_far = tuple(self.xp.shape(value)), first
        for symbol, child, value in rest:
            here = tuple(self.xp.shape(value))
            try:
                shape = tuple(self.xp.broadcast_shapes(shape, here))
            except ValueError:
                raise self.shape_error(child, f"{_short(nodes.format_node(so_far))} {symbol} "
                                       f"{_short(nodes.format_node(child))}: {shape} {symbol} {here} do not fit",
                                       prefix="") from None
            so_far = node  # past the second operand, the left side is the whole expression so far

    def real_only(self, node: nodes.Node, values, what: str) -> None:
        """Orders and truth values are of real numbers: a complex operand is an error naming the fix."""
        if any(self.xp.iscomplexobj(value) for value in values):
            raise ShapeError(f"{what}: complex numbers have no order", text=self.text,
                             position=node.pos, hint="compare real(z), imag(z) or abs(z)")

    def constant(self, value):
        return self.xp.asarray(value, self.dtype)

    def function(self, name: str, node: nodes.Node):
        try:
            return self.functions[name]
        except KeyError:
            raise UnsupportedError(f"{name}() is not supported by {self.what}", text=self.text,
                                   position=node.pos) from None

    def mask(self, env: dict, keep) -> dict:
        """The variables of one `where` branch (JAX masks their derivative where the branch is not taken)."""
        return env

    # -- one method per node kind --------------------------------------------------
    def _emit_Num(self, node: nodes.Num, env):
        try:
            return self.constant(float(node.value))
        except OverflowError:
            return self.constant(math.inf if node.value > 0 else -math.inf)

    def _emit_Imag(self, node: nodes.Imag, env):  # 2j: a complex of the run's precision (complex128 for float64)
        try:
            imag = float(node.value)
        except OverflowError:  # 1e400j: an infinite imaginary part, as 1e400 is inf
            imag = math.inf
        return self.xp.asarray(complex(0, imag), self.xp.result_type(self.dtype, self.xp.complex64))

    def _emit_Const(self, node: nodes.Const, env):
        return self.constant(CONSTANTS[node.name])

    def _emit_Var(self, node: nodes.Var, env):
        if node.name not in env:
            raise UnknownNameError(f"{node.name!r} is not a number here", self.text, node.pos,
                                   hint="values are numbers or constant expressions: 1.5, pi/2, [1, 2], zeros(3)")
        return env[node.name]

    def _emit_Unary(self, node: nodes.Unary, env):
        value = self.emit(node.operand, env)
        return self.xp.logical_not(value) if node.op == "not" else self.xp.negative(value)

    def _emit_Add(self, node: nodes.Add, env):
        values = [self.emit(t, env) for _, t in node.terms]
        self.check_broadcast(node, [(op, t, v) for (op, t), v in zip(node.terms, values)])
        if len(node.terms) > BALANCE:  # a long sum as a balanced tree: depth log n, so XLA compiles it fast
            values = [v if op == "+" else self.xp.negative(v) for (op, _), v in zip(node.terms, values)]
            return _balanced(self.xp.add, values)
        total = None
        for (op, term), value in zip(node.terms, values):  # left to right, as Python and NumPy would
            if total is None:
                total = value if op == "+" else self.xp.negative(value)
            else:
                total = self.xp.add(total, value) if op == "+" else self.xp.subtract(total, value)
        return total

    def _emit_Mul(self, node: nodes.Mul, env):
        values = [self.emit(f, env) for _, f in node.factors]
        self.check_broadcast(node, [(op, f, v) for (op, f), v in zip(node.factors, values)])
        if len(node.factors) > BALANCE:  # numerator and denominator each a balanced product
            top = [v for (op, _), v in zip(node.factors, values) if op == "*"]
            bottom = [v for (op, _), v in zip(node.factors, values) if op == "/"]
            product = _balanced(self.xp.multiply, top)
            return self.xp.true_divide(product, _balanced(self.xp.multiply, bottom)) if bottom else product
        product = values[0]
        for (op, _), value in zip(node.factors[1:], values[1:]):
            product = self.xp.multiply(product, value) if op == "*" else self.xp.true_divide(product, value)
        return product

    def _emit_Pow(self, node: nodes.Pow, env):
        base = self.emit(node.base, env)
        exponent = node.exponent
        if isinstance(exponent, nodes.Num) and exponent.value.denominator == 1 and abs(exponent.value) < 2**31:
            return self.xp.power(base, int(exponent.value))  # lax.integer_pow: exact, fine at x < 0
        power = self.emit(exponent, env)
        self.check_broadcast(node, [("**", node.base, base), ("**", exponent, power)])
        return self.xp.power(base, power)

    def _emit_MatMul(self, node: nodes.MatMul, env):
        left, right = self.emit(node.left, env), self.emit(node.right, env)
        a, b = self.xp.shape(left), self.xp.shape(right)
        inner = (a[-1] if a else None, b[-2] if len(b) > 1 else b[0] if b else None)
        if not a or not b or inner[0] != inner[1]:
            why = "a scalar has no matrix product: use *" if not a or not b else (
                f"{inner[0]} columns against {inner[1]} rows")
            raise self.shape_error(node, f"{nodes.format_node(node.left)} @ {nodes.format_node(node.right)}: "
                                   f"{a} @ {b} do not fit ({why})", prefix="")
        return self.xp.matmul(left, right)

    def _emit_Compare(self, node: nodes.Compare, env):
        values = [self.emit(o, env) for o in node.operands]
        self.real_only(node, values, "a comparison of complex values")
        self.check_broadcast(node, [(op, o, v) for op, o, v in zip(("",) + node.ops, node.operands, values)])
        result = None
        for op, left, right in zip(node.ops, values, values[1:]):
            test = getattr(self.xp, _COMPARE[op])(left, right)
            result = test if result is None else self.xp.logical_and(result, test)
        return result

    def _emit_BoolOp(self, node: nodes.BoolOp, env):
        combine = self.xp.logical_and if node.op == "and" else self.xp.logical_or
        return functools.reduce(combine, (self.emit(o, env) for o in node.operands))

    def _emit_List(self, node: nodes.List, env):
        values = [self.emit(i, env) for i in node.items]
        dtype = self.xp.result_type(self.dtype, *values)  # the run's dtype, complex when an item is
        items = [self.xp.asarray(value, dtype) for value in values]
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
        if name == "matmul":
            return self._emit_MatMul(nodes.MatMul(*node.args, pos=node.pos), env)
        if name in LIST_ARGUMENTS and isinstance(node.args[0], nodes.List):  # [a, b]: the arrays, not one array
            args = [[self.emit(item, env) for item in node.args[0].items]]
        else:
            args = [self.emit(a, env) for a in node.args]
        options = node.options
        if name in ("min", "max", "clip"):
            self.real_only(node, args, f"{name}() of complex values")
        if name in ("min", "max"):
            if len(args) == 1:
                return (self.xp.min if name == "min" else self.xp.max)(args[0], **options)
            pairwise = self.xp.minimum if name == "min" else self.xp.maximum
            return functools.reduce(pairwise, args)
        if name == "log" and len(args) == 2:
            return self.xp.log(args[0]) / self.xp.log(args[1])
        function = self.function(name, node)
        try:
            value = function(*args, **options)
        except (TypeError, ValueError, IndexError, OverflowError) as error:  # the arguments do not suit it
            if "complex" in str(error) and any(self.xp.iscomplexobj(a) for a in args if not isinstance(a, list)):
                raise ShapeError(f"{name}() takes real numbers, not complex ones", text=self.text,
                                 position=node.pos, hint="apply it to real(z), imag(z) or abs(z)") from error
            detail = _short(str(error).split("\n")[0], 160)
            shapes = ", ".join(str(self.xp.shape(a)) for a in args if not isinstance(a, list))
            raise self.shape_error(node, f"{name}() of shape {shapes}: {detail}" if shapes else
                                   f"{name}(): {detail}", prefix="") from error
        return self.constant(value) if name in CONSTRUCTORS else value

    def emit_where(self, node: nodes.Call, env):
        condition = self.emit(node.args[0], env)
        self.real_only(node.args[0], [condition], "where()'s condition is complex")
        condition = self.xp.asarray(condition, bool)
        branches = []
        for keep, branch in ((condition, node.args[1]), (self.xp.logical_not(condition), node.args[2])):
            used = {n.name for n in nodes.walk(branch) if isinstance(n, nodes.Var) and n.name in env}
            masked = self.mask({name: env[name] for name in used}, keep) if used else {}
            branches.append(self.emit(branch, {**env, **masked}))
        return self.xp.where(condition, *branches)
