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
        total = Fraction(0)
        for op, term in node.terms:  # denominators multiply: check after each term, not at the end
            total = total + term.value if op == "+" else total - term.value
            _check_bits(total, text, node.pos)
        return Num(total, pos=node.pos)
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
                f"number too large: {_short(node.base.value)}**{_short(node.exponent.value)} has about "
                f"{bits * math.log10(2):,.0f} digits",
                text, node.pos, hint="float64 overflows beyond about 1.8e308",
            )
        return Num(base ** int(exponent), pos=node.pos)
    return node


def _check_bits(value: Fraction, text: str, pos: int) -> None:
    """Refuse a folded constant whose numerator or denominator has more than MAX_BITS bits (about 3,000 digits)."""
    if max(abs(value.numerator).bit_length(), value.denominator.bit_length()) > MAX_BITS:
        raise ParseError(f"a constant grows beyond {MAX_BITS:,} bits while folding exact arithmetic", text, pos,
                         hint="write such numbers as floats (1.5e300), or use fewer exact fractions")


def _short(value: Fraction) -> str:
    """A constant for a message: itself when short, else its size."""
    bits = max(abs(value.numerator).bit_length(), value.denominator.bit_length())
    return str(value) if bits < 200 else f"<a {bits:,}-bit number>"
