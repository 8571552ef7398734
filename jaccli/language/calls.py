"""Calls: a function's arguments checked against its signature, and its constant parameters read.

`CallRules` is the part of the parser (`parse._Parser`) that turns `name(args, key=value)` into a `Call`
node: array arguments, then constant parameters by position or keyword (`sum(x, 1)`, `norm(x, ord=inf)`),
each bounded before anything is built.
"""

from __future__ import annotations

from ..errors import UnknownNameError
from . import functions
from .lexer import Token
from .nodes import Call, Const, List, Node, Num, Unary

MAX_CONSTANT_ENTRIES = 1 << 24  # eye/zeros/ones inside an expression (128 MB of float64); more goes in --at
MAX_DIFFERENCES = 100  # diff(x, n): n slices each
MAX_PARAMETER = 2**31 - 1  # a constant parameter (axis, k, shift, a size) fits an int32, as XLA's do


class CallRules:
    """Function calls, for a parser with `error(message, pos, hint)` and `allow_keywords`."""

    def make_call(self, name: Token, args: list[Node], keywords: dict) -> Node:
        if name.text in self.allow_keywords:  # a builder: its caller checks the arguments
            named = tuple((key, node) for key, (_, node) in keywords.items())
            return Call(name.text, tuple(args), keywords=named, pos=name.pos)
        canonical = functions.canonical_name(name.text)
        if canonical is None:
            raise unknown_function(name.text, self.text, name.pos)
        signature = functions.SIGNATURES[canonical]
        static: dict[str, object] = {}
        for key, (pos, value) in keywords.items():
            if key not in signature.keywords:
                takes = ", ".join(f"{k}=" for k in signature.keywords)
                raise self.error(f"{canonical}() takes no argument {key!r}", pos,
                                 hint=f"{canonical}() takes {takes}" if takes else signature.doc or None)
            static[key] = self.static_value(key, value)
        arrays = signature.max_args if signature.max_args >= 0 else len(args)
        if len(args) > arrays:  # positional constant parameters, in order: sum(x, 1), norm(x, 1), roll(x, 2)
            extra, args = args[arrays:], args[:arrays]
            if len(extra) > len(signature.static):
                raise self.error(f"{canonical}() takes {_count(signature)}, but got {arrays + len(extra)}",
                                 name.pos, hint=signature.doc or None)
            for key, value in zip(signature.static, extra):
                if key in static:
                    raise self.error(f"{canonical}() got {key} twice", value.pos)
                static[key] = self.static_value(key, value)
        if len(args) < signature.min_args:
            raise self.error(f"{canonical}() takes {_count(signature)}, but got {len(args)}", name.pos,
                             hint=signature.doc or None)
        missing = [key for key in signature.static[: signature.required] if key not in static]
        if missing:
            raise self.error(f"{canonical}() needs its {missing[0]} argument", name.pos, hint=signature.doc or None)
        self.check_sizes(canonical, static, name.pos)
        if static.get("axis") is not None and canonical in ("min", "max") and len(args) > 1:
            raise self.error(f"{canonical}() of several arguments is elementwise and takes no axis", name.pos)
        return Call(canonical, tuple(args), tuple(static.items()), pos=name.pos)

    def check_sizes(self, name: str, static: dict, pos: int) -> None:
        """Constant arrays and repeated differences are bounded before anything is built."""
        if name in functions.CONSTRUCTORS:
            shape = (static["n"], static.get("m", static["n"])) if name == "eye" else static["shape"]
            shape = shape if isinstance(shape, tuple) else (shape,)
            if any(size < 0 for size in shape):
                raise self.error(f"{name}() of a negative size {shape}", pos)
            entries = 1
            for size in shape:
                entries *= size
            if entries > MAX_CONSTANT_ENTRIES:
                raise self.error(f"{name}() of shape {shape} has {entries:,} entries (the limit is "
                                 f"{MAX_CONSTANT_ENTRIES:,})", pos, hint="give large constant arrays in --at")
        if name == "diff" and not 0 <= static.get("n", 1) <= MAX_DIFFERENCES:
            raise self.error(f"diff()'s n is between 0 and {MAX_DIFFERENCES}", pos)

    def static_value(self, key: str, node: Node):
        """A constant parameter: an integer, integers (one or a tuple), or a number such as inf (norm's ord)."""
        kind = functions.STATIC_KINDS[key]
        if kind == "number":
            value = node.operand if isinstance(node, Unary) and node.op == "-" else node
            if isinstance(value, Const) and value.name == "inf":
                return float("-inf") if value is not node else float("inf")
            if isinstance(node, Num) and abs(node.value) <= MAX_PARAMETER:
                return int(node.value) if node.value.denominator == 1 else float(node.value)
            raise self.error(f"{key} must be a constant number, like 1, 2 or inf", node.pos)
        if kind == "integers" and isinstance(node, List):
            return tuple(self.parameter(item, f"each entry of {key}") for item in node.items)
        return self.parameter(node, "an axis" if key == "axis" else key)

    def parameter(self, node: Node, what: str) -> int:
        """A constant integer parameter, within ±MAX_PARAMETER (what array functions can take)."""
        value = self.integer(node, what)
        if abs(value) > MAX_PARAMETER:
            raise self.error(f"{what} is out of range (at most {MAX_PARAMETER:,} either way)", node.pos)
        return value

    def integer(self, node: Node, what: str) -> int:
        if isinstance(node, Num) and node.value.denominator == 1:
            return int(node.value)
        raise self.error(f"{what} must be a constant integer, like 0, -1 or 2", node.pos)


def _count(signature: functions.Signature) -> str:
    """How many arguments a function takes, in words: '1 argument', '1 to 3 arguments'."""
    low, high = signature.min_args, signature.max_args
    if high >= 0:
        high += len(signature.static)
    expected = f"{low}" if low == high else f"at least {low}" if high < 0 else f"{low} to {high}"
    return f"{expected} argument{'s' if expected != '1' else ''}"


def unknown_function(name: str, text: str, pos: int) -> UnknownNameError:
    known = [*functions.SIGNATURES, *functions.ALIASES]
    close = functions.closest_names(name, known)
    hints = [f"did you mean {' or '.join(close)}?" if close else "the README lists the functions."]
    if len(name) == 1:
        hints.append(f"For a product write {name}*(…).")
    return UnknownNameError(f"unknown function {name!r}", text, pos, hint=" ".join(hints))
