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

from ..errors import ParseError
from . import functions
from .calls import CallRules
from .fold import fold
from .lexer import TOO_LARGE_HINT, Token, describe, hint_after, one_newline, tokenize
from .models import check_model_depth, check_references
from .nodes import (
    Add,
    BoolOp,
    Call,
    Compare,
    Const,
    Definition,
    Imag,
    Index,
    List,
    MatMul,
    Mul,
    Node,
    Num,
    Pow,
    Unary,
    Var,
)
from .variables import VariableUse, natural_key, variable_uses

MAX_LENGTH = 1_000_000  # characters
MAX_NODES = 20_000  # XLA compile time grows fast with the graph: beyond this, arrays and reductions
MAX_DEPTH = 100
MAX_LIST_DEPTH = 32  # dimensions of a list output (NumPy allows 64, in all)

_COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}
_INFIX = {"or": 1, "and": 2, **{op: 4 for op in _COMPARISONS}, "+": 5, "-": 5, "*": 6, "/": 6, "@": 6, "**": 8}


@dataclass(frozen=True)
class Expression:
    """A model: its definitions in order, then the final expression (`root`) that is differentiated."""

    text: str
    root: Node
    variables: tuple[str, ...]  # natural sort order; defined names are not variables
    uses: dict[str, VariableUse]
    definitions: tuple[Definition, ...] = ()
    size: int = 0  # nodes, definitions included (what MAX_NODES bounds, and compute.budget.guard_operations)

    def __str__(self) -> str:
        from .nodes import format_node

        return "; ".join([*(f"{d.name} = {format_node(d.value)}" for d in self.definitions), format_node(self.root)])


def parse_expression(text: str) -> Expression:
    """Parse a model (`NAME = EXPR` statements, then one expression), checking names and calls; variables come
    in natural sort order. Line breaks of every kind are read as '\n' (`Expression.text` has them so)."""
    text = one_newline(text)
    _check_length(text)
    parser = _Parser(text, frozenset())
    definitions, root = parser.parse_program()
    defined = {d.name for d in definitions}
    uses = variable_uses(root, *(d.value for d in definitions), exclude=defined)
    return Expression(text, root, tuple(sorted(uses, key=natural_key)), uses, definitions, parser.nodes)


def parse_text(text: str, *, allow_keywords: frozenset[str] = frozenset()) -> Node:
    """Parse one expression (no definitions; newlines are spaces); `allow_keywords` admits `name=` arguments
    (the builders of --at values)."""
    _check_length(text)
    parser = _Parser(text, allow_keywords)
    parser.newlines_are_spaces()
    root = parser.parse_expr(0)
    parser.expect_end()
    return root


def _check_length(text: str) -> None:
    if len(text) > MAX_LENGTH:
        raise ParseError(
            f"expression too long: {len(text):,} characters (the limit is {MAX_LENGTH:,})",
            text[:80], 0, hint="split the problem, or use array variables and reductions like sum(x**2)",
        )


class _Parser(CallRules):
    def __init__(self, text: str, allow_keywords: frozenset[str]):
        self.text = text
        self.tokens = tokenize(text, max_tokens=10 * MAX_NODES, max_depth=MAX_DEPTH)  # 10 tokens a term
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
            raise ParseError(f"expected {text!r}{where}, found {describe(token)}", self.text, token.pos)
        return self.next()

    def error(self, message: str, pos: int, hint: str | None = None) -> ParseError:
        return ParseError(message, self.text, pos, hint=hint)

    def newlines_are_spaces(self) -> None:
        """From here on a newline ends nothing (the final expression may span lines)."""
        self.tokens = self.tokens[: self.at] + [t for t in self.tokens[self.at:] if t.kind != "newline"]

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise ParseError(f"unexpected {describe(token)}", self.text, token.pos, hint=hint_after(token))

    def starts_definition(self) -> bool:
        """NAME = here (not NAME ==)."""
        if self.peek().kind != "name" or self.at + 1 >= len(self.tokens):
            return False
        after = self.tokens[self.at + 1]
        return after.kind == "op" and after.text == "="

    def separator(self) -> bool:
        return self.peek().kind == "newline" or (self.peek().kind == "op" and self.peek().text == ";")

    def node(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(
                f"expression too large: more than {MAX_NODES:,} terms", node.pos,
                hint=TOO_LARGE_HINT,
            )
        return node

    # -- grammar --------------------------------------------------------------
    def parse_program(self) -> tuple[tuple[Definition, ...], Node]:
        """`NAME = EXPR` statements separated by `;` or newlines, then the final expression."""
        definitions: dict[str, Definition] = {}
        while True:
            while self.separator():
                self.next()
            if not self.starts_definition():
                break
            definition = self.parse_definition(definitions)
            definitions[definition.name] = definition
            if self.peek().kind == "end":
                raise self.error(f"{definition.name!r} is defined, but no expression follows", self.peek().pos,
                                 hint=f"to compare, write ==; a model ends with the expression to differentiate: "
                                 f"{definition.name} = …; sum({definition.name}**2)")
            if not self.separator():
                token = self.peek()
                raise self.error(f"unexpected {describe(token)} after the definition of {definition.name!r}",
                                 token.pos, hint="end a definition with ; or a new line")
        if self.peek().kind == "end" and definitions:
            last = list(definitions)[-1]
            raise self.error(f"{last!r} is defined, but no expression follows", self.peek().pos,
                             hint=f"a model ends with the expression to differentiate: {last} = …; sum({last}**2)")
        if self.peek().kind == "end":
            raise self.error("the expression is empty", self.peek().pos, hint='e.g. jaccli grad "x**2*y" --at 1,2')
        self.newlines_are_spaces()
        root = self.parse_expr(0)
        while self.peek().kind == "op" and self.peek().text == ";":
            self.next()
        token = self.peek()
        if self.starts_definition():
            raise self.error(f"a definition of {token.text!r} after the final expression", token.pos,
                             hint="definitions (NAME = …) come first, the expression to differentiate last")
        self.expect_end()
        check_references(self.text, tuple(definitions.values()), root)
        check_model_depth(self.text, tuple(definitions.values()), root)
        return tuple(definitions.values()), root

    def parse_definition(self, earlier: dict[str, Definition]) -> Definition:
        name = self.next()
        self.next()  # '='
        if name.text in earlier:
            raise self.error(f"{name.text!r} is defined twice", name.pos,
                             hint=f"give the second one another name (the first is at position {earlier[name.text].pos + 1})")
        if functions.canonical_name(name.text) or name.text in functions.CONSTANTS or name.text == "T":
            what = "a constant" if name.text in functions.CONSTANTS else "a function" if name.text != "T" else "reserved"
            raise self.error(f"{name.text!r} is {what}: it cannot be defined", name.pos,
                             hint="choose another name for the definition")
        if self.separator() or self.peek().kind == "end":
            raise self.error(f"the definition of {name.text!r} has no value", self.peek().pos)
        return Definition(name.text, self.parse_expr(0), name.pos)

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
        if op in ("*", "/", "@"):  # one precedence, left to right: a * B @ x is (a*B) @ x
            factors, products = [("*", left)], 0
            while self.peek().text in ("*", "/", "@") and self.peek().kind == "op":
                token = self.next()
                right = self.parse_expr(7)
                if token.text != "@":
                    factors.append((token.text, right))
                    continue
                so_far = factors[0][1] if len(factors) == 1 else self.node(fold(Mul(tuple(factors), pos=left.pos),
                                                                                   self.text))
                products += 1
                if self.depth + products > MAX_DEPTH:
                    raise self.error(f"more than {MAX_DEPTH} matrix products in a row", token.pos,
                                     hint="a product of many matrices: a definition for each part")
                factors = [("*", self.node(MatMul(so_far, right, pos=token.pos)))]
            if len(factors) == 1:
                return factors[0][1]
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
        if token.kind == "imag":  # 2j: the number without its j
            return self.node(Imag(self.number(Token("num", token.text[:-1], token.pos)), pos=token.pos))
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
        raise self.error(f"unexpected {describe(token)}", token.pos, hint=hint_after(token))

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
            if self.starts_definition():  # name=value: a keyword argument
                key = self.next()
                self.next()
                if key.text in keywords:
                    raise self.error(f"{key.text}= is given twice", key.pos)
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

    def parse_postfix(self, node: Node) -> Node:
        chain = 0  # x[0][1]… and A.T.T: each subscript or attribute nests the tree one level deeper
        while self.peek().text in ("[", ".") and self.peek().kind == "op":
            opening = self.next()
            chain += 1
            if self.depth + chain > MAX_DEPTH:
                raise self.error(f"expression nested too deeply (more than {MAX_DEPTH} levels of subscripts, "
                                 "attributes and brackets)", opening.pos, hint="index several axes at once: X[1, 2]")
            if opening.text == ".":
                attribute = self.peek()
                if attribute.kind != "name" or attribute.text != "T":
                    raise self.error(f"unexpected {describe(attribute)} after '.'", attribute.pos,
                                     hint="the one attribute is .T (the transpose); functions are called: sum(x)")
                self.next()
                node = self.node(Call("transpose", (node,), pos=opening.pos))
                continue
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
                parts.append(self.parameter(self.parse_expr(0), "an index"))
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

    def number(self, token: Token) -> Fraction:
        text = token.text.replace("_", "")
        mantissa, _, exponent = text.lower().partition("e")
        if len(mantissa) > 1000 or (exponent and abs(int(exponent)) > 3000):
            raise self.error(
                f"number {token.text[:40]!r} is out of range", token.pos,
                hint="float64 holds about 1.8e308 at the most and 5e-324 at the least",
            )
        return Fraction(text)
