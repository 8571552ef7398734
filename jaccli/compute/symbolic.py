"""The expression as SymPy: symbolic derivatives, LaTeX, and a high-precision reference for `check`.

Built from jaccli's own tree (never from the text: nothing reaches sympify or
parse_expr). Only expressions of scalar variables have a symbolic form here;
indexing and array reductions get a clear `SymbolicError`, never a wrong formula.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from ..language import nodes
from ..errors import JaccliError


class SymbolicError(JaccliError):
    """The expression has no symbolic form jaccli can give (arrays, reductions)."""


def _table(sp):
    return {
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
        "atan2": sp.atan2, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh,
        "acosh": sp.acosh, "atanh": sp.atanh, "exp": sp.exp, "exp2": lambda x: 2**x,
        "expm1": lambda x: sp.exp(x) - 1, "log1p": lambda x: sp.log(1 + x),
        "log10": lambda x: sp.log(x, 10), "log2": lambda x: sp.log(x, 2), "sqrt": sp.sqrt,
        "cbrt": lambda x: sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3), "square": lambda x: x**2,
        "hypot": lambda x, y: sp.sqrt(x**2 + y**2), "abs": sp.Abs, "sign": sp.sign, "floor": sp.floor,
        "ceiling": sp.ceiling, "ceil": sp.ceiling, "erf": sp.erf, "erfc": sp.erfc, "gamma": sp.gamma,
        "lgamma": sp.loggamma, "sigmoid": lambda x: 1 / (1 + sp.exp(-x)),
        "softplus": lambda x: sp.log(1 + sp.exp(x)), "log": lambda x, b=None: sp.log(x) if b is None else sp.log(x, b),
        "min": sp.Min, "max": sp.Max, "round": lambda x: sp.floor(x + sp.Rational(1, 2)),
        "trunc": lambda x: sp.sign(x) * sp.floor(sp.Abs(x)), "sec": sp.sec, "csc": sp.csc, "cot": sp.cot,
        "erfinv": sp.erfinv, "digamma": sp.digamma, "pow": lambda x, y: x**y, "mod": sp.Mod,
        "clip": lambda x, low, high: sp.Min(sp.Max(x, low), high),
        "real": sp.re, "imag": sp.im, "conj": sp.conjugate, "angle": sp.arg,
    }


def to_sympy(expression, names, complex_: bool = False):
    """(SymPy expression or Matrix/Array for lists, symbols in variable order; complex symbols when `complex_`)."""
    import sympy as sp

    symbols = [sp.Symbol(name) if complex_ else sp.Symbol(name, real=True) for name in names]
    env = dict(zip(names, symbols))
    table = _table(sp)
    compare = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}

    def build(node):
        if isinstance(node, nodes.Num):
            return sp.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, nodes.Imag):
            return sp.I * sp.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, nodes.Const):
            return {"pi": sp.pi, "E": sp.E, "inf": sp.oo, "nan": sp.nan}[node.name]
        if isinstance(node, nodes.Var):
            return env[node.name]
        if isinstance(node, nodes.Unary):
            operand = build(node.operand)
            return sp.Not(operand) if node.op == "not" else -operand
        if isinstance(node, nodes.Add):
            return sp.Add(*[build(t) if op == "+" else -build(t) for op, t in node.terms])
        if isinstance(node, nodes.Mul):
            return sp.Mul(*[build(f) if op == "*" else 1 / build(f) for op, f in node.factors])
        if isinstance(node, nodes.Pow):
            return build(node.base) ** build(node.exponent)
        if isinstance(node, nodes.Compare):
            values = [build(o) for o in node.operands]
            return sp.And(*[compare[op](a, b) for op, a, b in zip(node.ops, values, values[1:])])
        if isinstance(node, nodes.BoolOp):
            return (sp.And if node.op == "and" else sp.Or)(*[build(o) for o in node.operands])
        if isinstance(node, nodes.List):
            items = [build(i) for i in node.items]
            return sp.Array(items)
        if isinstance(node, nodes.Call):
            if node.name == "where":
                condition, a, b = (build(a) for a in node.args)
                return sp.Piecewise((a, condition), (b, True))
            if node.name in table and not node.static:
                args = [build(a) for a in node.args]
                if node.name in ("min", "max") and len(args) == 1:
                    raise SymbolicError(f"{node.name}() of one array has no symbolic form here")
                function = table[node.name]
                if isinstance(function, type) and issubclass(function, sp.Function):
                    return function(*args, evaluate=False)  # gamma(10**9) stays a formula, not a factorial
                return function(*args)
            raise SymbolicError(f"{node.name}() works on arrays: it has no symbolic form here",
                                hint="symbolic derivatives take expressions of scalar variables (x, y, x0, x1 …)")
        if isinstance(node, nodes.MatMul):
            raise SymbolicError("matrix products have no symbolic form here",
                                hint="symbolic derivatives take expressions of scalar variables; use the numbers")
        if isinstance(node, nodes.Index):
            raise SymbolicError("indexed and sliced variables have no symbolic form here",
                                hint="write the entries as scalar variables (x0, x1 …) for a formula")
        raise SymbolicError(f"{type(node).__name__} has no symbolic form")

    for definition in expression.definitions:  # SymPy substitutes each definition into its uses
        env[definition.name] = build(definition.value)
    return build(expression.root), list(symbols)


def symbolic_derivative(expression, layout, count: int, *, partial=None, complex_: bool = False):
    """The `count`-th derivative (or the mixed partial) as a SymPy Array or scalar, in JAX's axis order;
    `complex_`: of complex variables (the holomorphic derivative d/dz)."""
    import sympy as sp

    from .backend import resume_collection

    resume_collection()  # after SymPy's import: its objects frozen with the rest

    if any(slot.shape for slot in layout.slots):
        raise SymbolicError("symbolic derivatives take scalar variables, but "
                            + ", ".join(f"{s.name!r} has shape {s.shape}" for s in layout.slots if s.shape),
                            hint="write the entries as scalar variables (x0, x1 …) for a formula")
    f, symbols = to_sympy(expression, layout.names, complex_)
    wrt = [symbols[layout.names.index(s.name)] for s in layout.wrt]
    if partial:
        return sp.diff(f, *[symbols[layout.names.index(name)] for name in partial])
    result = f
    for _ in range(count):
        result = sp.derive_by_array(result, wrt)  # the new axis comes first: move it last
        rank = len(result.shape)
        result = sp.permutedims(result, list(range(1, rank)) + [0])
    if len(wrt) == 1 and count:  # one scalar variable: in_shape is (), so no input axes
        out_rank = len(result.shape) - count
        entries = sp.flatten(result)
        result = entries[0] if out_rank == 0 else sp.Array(entries).reshape(*result.shape[:out_rank])
    return result


def simplify(value, seconds: float = 5.0):
    """sympy.simplify, entry by entry, within `seconds` in all (entries past the budget stay as they are)."""
    import time

    import sympy as sp

    deadline = time.monotonic() + seconds

    def run(item):
        left = deadline - time.monotonic()
        if left <= 0.05:
            return item
        try:
            with _time_limit(min(left, 2.0)):
                return sp.simplify(item)
        except TimeoutError:
            return item

    return value.applyfunc(run) if hasattr(value, "applyfunc") else run(value)


def within(seconds: float, function, *args, **kwargs):
    """function(*args) within a time bound, else a SymbolicError (SymPy work on hostile input)."""
    try:
        with _time_limit(seconds):
            return function(*args, **kwargs)
    except TimeoutError:
        raise SymbolicError(f"SymPy took more than {seconds:g} s", hint="the expression is too large for a formula") from None


@contextmanager
def _time_limit(seconds: float):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def stop(signum, frame):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def at_point(value, symbols, point: list, digits: int = 30):
    """A SymPy result at a point, at `digits` digits, as a float64 NumPy array (complex128 at a complex point)."""
    import numpy as np
    import sympy as sp

    complex_ = any(isinstance(p, complex) for p in point)
    substitutions = {s: sp.Float(p.real, digits) + sp.I * sp.Float(p.imag, digits) if isinstance(p, complex)
                     else sp.Float(float(p), digits) for s, p in zip(symbols, point)}  # the exact binary values
    entries = sp.flatten(value) if hasattr(value, "shape") else [value]
    shape = tuple(value.shape) if hasattr(value, "shape") else ()
    numbers = []
    for entry in entries:
        number = sp.N(sp.sympify(entry).subs(substitutions), digits)
        if not number.is_number:
            numbers.append(float("nan"))
        else:
            numbers.append(complex(number) if complex_ else float(sp.re(number)))
    return np.array(numbers, dtype=complex if complex_ else float).reshape(shape)


def to_latex(value) -> str:
    """LaTeX: a pmatrix for vectors and matrices, slices of them for more axes."""
    import sympy as sp

    if not hasattr(value, "shape") or len(value.shape) == 0:
        return sp.latex(value if not hasattr(value, "shape") else value[()])
    if len(value.shape) == 1:
        return sp.latex(sp.Matrix(list(value)), mat_str="pmatrix", mat_delim="")
    if len(value.shape) == 2:
        return sp.latex(sp.Matrix(value.tolist()), mat_str="pmatrix", mat_delim="")
    return r"\left[" + ",\\; ".join(to_latex(value[i]) for i in range(value.shape[0])) + r"\right]"


def formulas(value) -> list[str]:
    """Each entry of the result as text, in C order."""
    import sympy as sp

    entries = sp.flatten(value) if hasattr(value, "shape") else [value]
    return [str(entry) for entry in entries]
