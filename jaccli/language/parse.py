"""Text → Expression: a tokenizer and a precedence-climbing parser over an allow-list of syntax.

Nothing of the text is ever evaluated as code: the grammar below is all there is.
Time and memory are bounded for any input (length, node count and nesting depth
are capped; exact constant folding refuses numbers beyond a bit budget), so
hostile strings get a `ParseError` with a caret, never a hang.

    >>> parse_expression("x**2*y + y**3").variables
    ('x', 'y')
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from . import functions
from ..errors import ParseError, UnknownNameError
from .fold import fold
from .lexer import Token, tokenize
from .variables import VariableUse, natural_key, variable_uses
from .nodes import (
    Add, BoolOp, Call, Compare, Const, Index, List, Mul, Node, Num, Pow, Unary, Var,
)

MAX_LENGTH = 1_000_000  # characters
MAX_NODES = 20_000  # XLA compile time grows fast with the graph: beyond this, arrays and reductions
MAX_DEPTH = 100
MAX_LIST_DEPTH = 32  # dimensions of a list output (NumPy allows 64, in all)

_COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}
_INFIX = {"or": 1, "and": 2, **{op: 4 for op in _COMPARISONS}, "+": 5, "-": 5, "*": 6, "/": 6, "**": 8}


@dataclass(frozen=True)
class Expression:
    text: str
    root: Node
    variables: tuple[str, ...]  # natural sort order
    uses: dict[str, VariableUse]

    def __str__(self) -> str:
        from .nodes import format_node

        return format_node(self.root)


def parse_expression(text: str) -> Expression:
    """Parse an expression, checking names and calls; variables come in natural sort order."""
    root = parse_text(text)
    uses = variable_uses(root)
    return Expression(text, root, tuple(sorted(uses, key=natural_key)), uses)


def parse_text(text: str, *, allow_keywords: frozenset[str] = frozenset()) -> Node:
    """Parse `text` into a node tree; `allow_keywords` admits `name=` arguments (builders)."""
    if len(text) > MAX_LENGTH:
        raise ParseError(
            f"expression too long: {len(text):,} characters (the limit is {MAX_LENGTH:,})",
            text[:80], 0, hint="split the problem, or use array variables and reductions like sum(x**2)",
        )
    parser = _Parser(text, allow_keywords)
    root = parser.parse_expr(0)
    if parser.peek().kind != "end":
        token = parser.peek()
        raise ParseError(f"unexpected {_describe(token)}", text, token.pos, hint=_hint_after(token))
    return root


class _Parser:
    def __init__(self, text: str, allow_keywords: frozenset[str]):
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0
        self.lists = 0  # brackets of list literals open here
        self.nodes = 0
        self.allow_keywords = allow_keywords

    # -- token helpers -------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.at]

    def next(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str, opening: Token | None = None) -> Token:
        token = self.peek()
        if token.text != text or token.kind != "op":
            where = f" to close the {opening.text!r} at position {opening.pos + 1}" if opening else ""
            raise ParseError(f"expected {text!r}{where}, found {_describe(token)}", self.text, token.pos)
        return self.next()

    def error(self, message: str, pos: int, hint: str | None = None) -> ParseError:
        return ParseError(message, self.text, pos, hint=hint)

    def node(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(
                f"expression too large: more than {MAX_NODES:,} terms", node.pos,
                hint="use array variables and reductions, e.g. sum(x**2) instead of x0**2 + x1**2 + …",
            )
        return node

    # -- grammar --------------------------------------------------------------
    def parse_expr(self, min_power: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nested too deeply (more than {MAX_DEPTH} levels)", self.peek().pos)
        try:
            left = self.parse_prefix()
            while True:
                token = self.peek()
                power = _INFIX.get(token.text) if token.kind == "op" else None
                if power is None or power < min_power:
                    return left
                left = self.parse_infix(left, token, power)
        finally:
            self.depth -= 1

    def parse_infix(self, left: Node, token: Token, power: int) -> Node:
        op = token.text
        if op == "**":
            self.next()
            return self.node(fold(Pow(left, self.parse_expr(7), pos=token.pos), self.text))
        if op in ("+", "-"):
            terms = [("+", left)]
            while self.peek().text in ("+", "-") and self.peek().kind == "op":
                terms.append((self.next().text, self.parse_expr(6)))
            return self.node(fold(Add(tuple(terms), pos=left.pos), self.text))
        if op in ("*", "/"):
            factors = [("*", left)]
            while self.peek().text in ("*", "/") and self.peek().kind == "op":
                factors.append((self.next().text, self.parse_expr(7)))
            return self.node(fold(Mul(tuple(factors), pos=left.pos), self.text))
        if op in _COMPARISONS:
            ops, operands = [], [left]
            while self.peek().text in _COMPARISONS and self.peek().kind == "op":
                ops.append(self.next().text)
                operands.append(self.parse_expr(5))
            return self.node(Compare(tuple(ops), tuple(operands), pos=left.pos))
        # and / or
        operands = [left]
        while self.peek().text == op:
            self.next()
            operands.append(self.parse_expr(power + 1))
        return self.node(BoolOp(op, tuple(operands), pos=left.pos))

    def parse_prefix(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text in ("-", "+"):
            self.next()
            operand = self.parse_expr(7)
            if token.text == "+":
                return operand
            return self.node(fold(Unary("-", operand, pos=token.pos), self.text))
        if token.kind == "op" and token.text == "not":
            self.next()
            return self.node(Unary("not", self.parse_expr(3), pos=token.pos))
        return self.parse_postfix(self.parse_atom())

    def parse_atom(self) -> Node:
        token = self.next()
        if token.kind == "num":
            return self.node(Num(self.number(token), pos=token.pos))
        if token.kind == "name":
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.parse_call(token)
            if token.text in functions.CONSTANTS:
                return self.node(Const(token.text, pos=token.pos))
            return self.node(Var(token.text, pos=token.pos))
        if token.text == "(":
            inner = self.parse_expr(0)
            if self.peek().text == "," and self.peek().kind == "op":  # a tuple, (30, 40): a list
                self.next()
                return self.node(List((inner, *self.parse_sequence(")", token)), pos=token.pos))
            self.expect(")", token)
            return inner
        if token.text == "[":
            self.lists += 1
            if self.lists > MAX_LIST_DEPTH:
                raise self.error(f"lists nested more than {MAX_LIST_DEPTH} deep", token.pos,
                                 hint=f"an output has at most {MAX_LIST_DEPTH} dimensions")
            try:
                items = self.parse_sequence("]", token)
            finally:
                self.lists -= 1
            if not items:
                raise self.error("an empty list has no value", token.pos)
            return self.node(List(tuple(items), pos=token.pos))
        raise self.error(f"unexpected {_describe(token)}", token.pos, hint=_hint_after(token))

    def parse_sequence(self, closing: str, opening: Token) -> list[Node]:
        items: list[Node] = []
        while not (self.peek().text == closing and self.peek().kind == "op"):
            items.append(self.parse_expr(0))
            if self.peek().text != ",":
                break
            self.next()
        self.expect(closing, opening)
        return items

    def parse_call(self, name: Token) -> Node:
        opening = self.next()  # '('
        args: list[Node] = []
        keywords: dict[str, tuple[int, Node]] = {}
        while not (self.peek().text == ")" and self.peek().kind == "op"):
            if self.peek().kind == "name" and self.tokens[self.at + 1].text == "=":
                key = self.next()
                self.next()
                keywords[key.text] = (key.pos, self.parse_expr(0))
            else:
                if keywords:
                    raise self.error("a positional argument after a keyword argument", self.peek().pos)
                args.append(self.parse_expr(0))
            if self.peek().text != ",":
                break
            self.next()
        self.expect(")", opening)
        return self.node(self.make_call(name, args, keywords))

    def make_call(self, name: Token, args: list[Node], keywords: dict) -> Node:
        if name.text in self.allow_keywords:  # a builder: its caller checks the arguments
            named = tuple((key, node) for key, (_, node) in keywords.items())
            return Call(name.text, tuple(args), keywords=named, pos=name.pos)
        canonical = functions.canonical_name(name.text)
        if canonical is None:
            raise unknown_function(name.text, self.text, name.pos)
        signature = functions.SIGNATURES[canonical]
        axis = None
        for key, (pos, value) in keywords.items():
            if key != "axis" or not signature.axis:
                raise self.error(
                    f"{canonical}() takes no argument {key!r}", pos,
                    hint="reductions (sum, prod, mean, norm, logsumexp, min, max) take axis=",
                )
            axis = self.axis_value(value)
        if signature.axis and canonical not in ("min", "max") and len(args) == 2 and axis is None:
            axis = self.axis_value(args.pop())
        count = len(args)
        if count < signature.min_args or (signature.max_args >= 0 and count > signature.max_args):
            expected = (
                f"{signature.min_args}" if signature.min_args == signature.max_args
                else f"at least {signature.min_args}" if signature.max_args < 0
                else f"{signature.min_args} to {signature.max_args}"
            )
            raise self.error(
                f"{canonical}() takes {expected} argument{'s' if expected != '1' else ''}, but got {count}",
                name.pos, hint=signature.doc or None,
            )
        if axis is not None and canonical in ("min", "max") and count > 1:
            raise self.error(f"{canonical}() of several arguments is elementwise and takes no axis", name.pos)
        return Call(canonical, tuple(args), axis, pos=name.pos)

    def axis_value(self, node: Node) -> int | tuple[int, ...]:
        if isinstance(node, List):
            return tuple(self.integer(item, "an axis") for item in node.items)
        return self.integer(node, "an axis")

    def parse_postfix(self, node: Node) -> Node:
        chain = 0  # x[0][1]…: each subscript nests the tree one level deeper
        while self.peek().text == "[" and self.peek().kind == "op":
            opening = self.next()
            chain += 1
            if self.depth + chain > MAX_DEPTH:
                raise self.error(f"expression nested too deeply (more than {MAX_DEPTH} levels of subscripts "
                                 "and brackets)", opening.pos, hint="index several axes at once: X[1, 2]")
            items = []
            while True:
                items.append(self.parse_subscript())
                if self.peek().text != ",":
                    break
                self.next()
            self.expect("]", opening)
            node = self.node(Index(node, tuple(items), pos=opening.pos))
        if self.peek().text == "(" and self.peek().kind == "op" and not isinstance(node, Var):
            raise self.error("unexpected '(' after an expression", self.peek().pos, hint="write * for a product")
        return node

    def parse_subscript(self) -> int | slice:
        parts: list[int | None] = []
        while True:
            token = self.peek()
            if token.text in (":", ",", "]") and token.kind == "op":
                parts.append(None)
            else:
                parts.append(self.integer(self.parse_expr(0), "an index"))
            if self.peek().text != ":":
                break
            self.next()
            if len(parts) == 3:
                raise self.error("a slice has at most three parts (start:stop:step)", self.peek().pos)
        if len(parts) == 1:
            if parts[0] is None:
                raise self.error("expected an index", self.peek().pos)
            return parts[0]
        if len(parts) == 3 and parts[2] == 0:
            raise self.error("a slice step cannot be zero", self.peek().pos)
        return slice(*parts)

    def integer(self, node: Node, what: str) -> int:
        if isinstance(node, Num) and node.value.denominator == 1:
            return int(node.value)
        raise self.error(f"{what} must be a constant integer, like 0, -1 or 2", node.pos)

    def number(self, token: Token) -> Fraction:
        text = token.text.replace("_", "")
        mantissa, _, exponent = text.lower().partition("e")
        if len(mantissa) > 1000 or (exponent and abs(int(exponent)) > 3000):
            raise self.error(
                f"number {token.text[:40]!r} is out of range", token.pos,
                hint="float64 holds about 1.8e308 at the most and 5e-324 at the least",
            )
        return Fraction(text)


def unknown_function(name: str, text: str, pos: int) -> UnknownNameError:
    known = [*functions.SIGNATURES, *functions.ALIASES]
    close = functions.closest_names(name, known)
    hints = [f"did you mean {' or '.join(close)}?" if close else "the README lists the functions."]
    if len(name) == 1:
        hints.append(f"For a product write {name}*(…).")
    return UnknownNameError(f"unknown function {name!r}", text, pos, hint=" ".join(hints))


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "end of expression"
    return f"{token.text!r}"


def _hint_after(token: Token) -> str | None:
    if token.kind == "end":
        return "the expression ends too early: is an operand or a closing bracket missing?"
    if token.text == "=":
        return "use == to compare"
    if token.text == "//":
        return "for floor division write floor(a/b)"
    if token.text == "%":
        return "the remainder operator is not supported"
    if token.kind in ("num", "name", "op") and token.text in ("(", "["):
        return None
    if token.kind in ("num", "name"):
        return "is an operator missing? write * for a product"
    return None
