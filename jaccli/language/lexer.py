"""Text → tokens: numbers, names, operators; anything else is an error with a caret."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParseError

_TOKEN = re.compile(
    r"""(?P<ws>[^\S\n]+)
      | (?P<newline>\n)
      | (?P<comment>\#[^\n]*)
      | (?P<imag>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ](?!\w))  # 2j, 1.5e-3j: imaginary
      | (?P<num>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
      | (?P<name>π|[^\W\d]\w*)  # identifiers as in Python: θ, α1, x_0
      | (?P<op>\*\*|<=|>=|==|!=|//|[-+*/^()\[\],:<>=&|~!%−×@.;])
    """,
    re.VERBOSE,
)
_SPELLINGS = {"^": "**", "−": "-", "×": "*", "&": "and", "|": "or", "~": "not", "!": "not", "π": "pi"}
_KEYWORDS = {"and", "or", "not"}
# binding power of infix operators (higher binds tighter); prefix '-' sits at 7, 'not' at 3

_OPEN, _CLOSE = {"(", "["}, {")", "]"}


@dataclass(frozen=True)
class Token:
    kind: str  # 'num', 'imag' (2j), 'name', 'op', 'newline', 'end'
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`. A newline is a token only where it can end a statement (it is whitespace inside
    brackets, and after an operator, a comma or `=`, so a statement continues on the next line); `#` starts
    a comment to the end of the line."""
    tokens: list[Token] = []
    depth = 0
    pos = 0
    match = _TOKEN.match
    while pos < len(text):
        m = match(text, pos)
        end = m.end() if m else pos
        if m and m.lastgroup == "name" and not m.group().isidentifier():  # \w takes ² and ½ too
            end = pos + next((i for i in range(len(m.group()), 0, -1) if m.group()[:i].isidentifier()), 0)
        if end == pos:
            superscript = text[pos] in "⁰¹²³⁴⁵⁶⁷⁸⁹"
            raise ParseError(
                f"unexpected character {text[pos]!r}", text, pos,
                hint="write powers as x**2 or x^2" if superscript else
                "expressions use numbers, names, + - * / ** ^ @, ( ), [ ], commas, comparisons and NAME = … ;",
            )
        kind = m.lastgroup
        if kind == "newline":
            last = tokens[-1] if tokens else None
            if depth <= 0 and last and (last.kind in ("num", "imag", "name") or last.text in _CLOSE):
                tokens.append(Token(kind, "\n", pos))
        elif kind not in ("ws", "comment"):
            word = _SPELLINGS.get(text[pos:end], text[pos:end])
            if kind == "name" and word in _KEYWORDS:
                kind = "op"
            depth += (word in _OPEN) - (word in _CLOSE)
            tokens.append(Token(kind, word, pos))
        pos = end
    tokens.append(Token("end", "", len(text)))
    return tokens


_BREAKS = re.compile("\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def one_newline(text: str) -> str:
    """Every line break (CRLF, a lone CR, VT, FF, U+2028 …) as '\n', so that statements end at each of them
    and error lines are whole."""
    return _BREAKS.sub("\n", text)


def describe(token: Token) -> str:
    """A token as an error message names it."""
    if token.kind == "end":
        return "end of expression"
    return f"{token.text!r}"


def hint_after(token: Token) -> str | None:
    """A hint for an unexpected token, when one helps."""
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
    if token.kind in ("num", "imag", "name"):
        return "is an operator missing? write * for a product"
    return None
