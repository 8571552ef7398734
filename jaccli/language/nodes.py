"""The expression tree: small frozen nodes that the parser builds and the translators walk.

Numbers are exact (`fractions.Fraction`) until a translator turns them into the
run's dtype. Sums and products are n-ary, so a long polynomial is a flat node,
not a deep one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .functions import SIGNATURES


@dataclass(frozen=True)
class Node:
    pos: int = field(default=0, compare=False, kw_only=True)  # offset in the text, for carets


@dataclass(frozen=True)
class Num(Node):
    value: Fraction


@dataclass(frozen=True)
class Imag(Node):
    """An imaginary literal: `2j` is Imag(2), exact until it becomes a complex of the run's precision."""

    value: Fraction


@dataclass(frozen=True)
class Const(Node):
    name: str  # pi, E, inf, nan


@dataclass(frozen=True)
class Var(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # '-', 'not'
    operand: Node


@dataclass(frozen=True)
class Add(Node):
    terms: tuple[tuple[str, Node], ...]  # ('+' | '-', term)


@dataclass(frozen=True)
class Mul(Node):
    factors: tuple[tuple[str, Node], ...]  # ('*' | '/', factor)


@dataclass(frozen=True)
class Pow(Node):
    base: Node
    exponent: Node


@dataclass(frozen=True)
class Compare(Node):
    ops: tuple[str, ...]  # '<', '<=', '>', '>=', '==', '!='
    operands: tuple[Node, ...]  # one more than ops: a < b <= c


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # 'and', 'or'
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class MatMul(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    name: str  # canonical function name
    args: tuple[Node, ...]
    static: tuple[tuple[str, object], ...] = ()  # constant parameters, read by the parser: (("axis", 1),)
    keywords: tuple[tuple[str, Node], ...] = ()  # only for --at builders: random(3, seed=1)

    @property
    def options(self) -> dict:
        return dict(self.static)


@dataclass(frozen=True)
class Index(Node):
    target: Node
    items: tuple[int | slice, ...]  # constant integers and slices of them


@dataclass(frozen=True)
class List(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Definition:
    """`name = value`, a statement before the final expression: computed once, shared by every use."""

    name: str
    value: Node
    pos: int  # of the name


def walk(node: Node):
    """Every node of the tree under `node` (itself included), parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (Num, Imag, Const, Var)):
        return ()
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Add):
        return tuple(t for _, t in node.terms)
    if isinstance(node, Mul):
        return tuple(f for _, f in node.factors)
    if isinstance(node, Pow):
        return (node.base, node.exponent)
    if isinstance(node, MatMul):
        return (node.left, node.right)
    if isinstance(node, (Compare, BoolOp)):
        return node.operands
    if isinstance(node, Call):
        return node.args + tuple(value for _, value in node.keywords)
    if isinstance(node, Index):
        return (node.target,)
    if isinstance(node, List):
        return node.items
    raise TypeError(f"not an expression node: {node!r}")


_PRECEDENCE = {BoolOp: 1, Compare: 4, Add: 5, Mul: 6, MatMul: 6, Unary: 7, Pow: 8}


def format_node(node: Node) -> str:
    """The expression as text in jaccli's own syntax, parenthesized only where needed."""

    def wrap(child: Node, level: int) -> str:
        text = format_node(child)
        child_level = _PRECEDENCE.get(type(child), 9)
        if isinstance(child, Unary) and child.op == "not":
            child_level = 3
        if isinstance(child, Num) and (child.value < 0 or child.value.denominator != 1):
            child_level = 7 if child.value.denominator == 1 else 5  # -2 is unary, 1/8 a quotient
        return f"({text})" if child_level < level else text

    if isinstance(node, Num):
        value = node.value
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(node, Imag):
        value = node.value
        return (str(value.numerator) if value.denominator == 1 else repr(float(value))) + "j"
    if isinstance(node, (Const, Var)):
        return node.name
    if isinstance(node, Unary):
        if node.op == "not":
            return "not " + wrap(node.operand, 3)
        return "-" + wrap(node.operand, 7)
    if isinstance(node, Add):
        parts = []
        for i, (op, term) in enumerate(node.terms):
            text = wrap(term, 6 if op == "-" else 5)
            parts.append(text if i == 0 and op == "+" else f"{op} {text}" if i else f"-{text}")
        return " ".join(parts)
    if isinstance(node, Mul):
        parts = []
        for i, (op, factor) in enumerate(node.factors):
            text = wrap(factor, 7 if op == "/" or i else 6)
            parts.append(text if i == 0 else f"{op}{text}")
        return "".join(parts)
    if isinstance(node, Pow):
        return f"{wrap(node.base, 9)}**{wrap(node.exponent, 8)}"
    if isinstance(node, MatMul):
        return f"{wrap(node.left, 6)} @ {wrap(node.right, 7)}"
    if isinstance(node, Compare):
        text = wrap(node.operands[0], 5)
        for op, operand in zip(node.ops, node.operands[1:]):
            text += f" {op} {wrap(operand, 5)}"
        return text
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(wrap(o, 2) for o in node.operands)
    if isinstance(node, Call):
        args = [format_node(a) for a in node.args]
        given, positional = node.options, True
        signature = SIGNATURES.get(node.name)
        for key in signature.static + signature.keyword_only if signature else given:
            if key not in given:
                positional = False
            elif positional and key in signature.static:
                args.append(_format_static(given[key]))
            else:
                args.append(f"{key}={_format_static(given[key])}")
        return f"{node.name}({', '.join(args)})"
    if isinstance(node, Index):
        return f"{wrap(node.target, 9)}[{', '.join(_format_item(i) for i in node.items)}]"
    if isinstance(node, List):
        return "[" + ", ".join(format_node(i) for i in node.items) + "]"
    raise TypeError(f"not an expression node: {node!r}")


def _format_static(value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    return "inf" if value == float("inf") else "-inf" if value == float("-inf") else str(value)


def _format_item(item: int | slice) -> str:
    if isinstance(item, int):
        return str(item)
    text = f"{'' if item.start is None else item.start}:{'' if item.stop is None else item.stop}"
    return text + (f":{item.step}" if item.step is not None else "")
