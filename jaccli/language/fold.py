"""Exact constant folding: rational arithmetic on numbers, within a bit budget (9**9**9**9 is an error)."""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import ParseError
from .nodes import Add, Mul, Node, Num, Pow, Unary

MAX_BITS = 10_000  # largest exact constant kept while folding


def fold(node: Node, text: str) -> Node:
    """Fold exact rational arithmetic on constants; leave everything else as it is."""
    if isinstance(node, Unary) and isinstance(node.operand, Num):
        return Num(-node.operand.value, pos=node.pos)
    if isinstance(node, Add) and all(isinstance(t, Num) for _, t in node.terms):
        return Num(sum((t.value if op == "+" else -t.value for op, t in node.terms), Fraction(0)), pos=node.pos)
    if isinstance(node, Mul) and all(isinstance(f, Num) for _, f in node.factors):
        value = Fraction(1)
        for op, factor in node.factors:
            if op == "/" and factor.value == 0:
                return node  # left to the float arithmetic: inf or nan, as NumPy gives
            value = value * factor.value if op == "*" else value / factor.value
            _check_bits(value, text, node.pos)
        return Num(value, pos=node.pos)
    if isinstance(node, Pow) and isinstance(node.base, Num) and isinstance(node.exponent, Num):
        base, exponent = node.base.value, node.exponent.value
        if exponent.denominator != 1 or (base == 0 and exponent < 0):
            return node
        size = max(abs(base.numerator), base.denominator)
        bits = abs(int(exponent)) * math.log2(size) if size > 1 else 0
        if bits > MAX_BITS:
            raise ParseError(
                f"number too large: {node.base.value}**{node.exponent.value} has about "
                f"{bits * math.log10(2):,.0f} digits",
                text, node.pos, hint="float64 overflows beyond about 1.8e308",
            )
        return Num(base ** int(exponent), pos=node.pos)
    return node


def _check_bits(value: Fraction, text: str, pos: int) -> None:
    if value.numerator.bit_length() + value.denominator.bit_length() > 2 * MAX_BITS:
        raise ParseError("number too large while folding constants", text, pos)
