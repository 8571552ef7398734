"""Text → tokens: numbers, names, operators; anything else is an error with a caret."""

from __future__ import annotations

import re
from typing import NamedTuple

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
TOO_LARGE_HINT = "use array variables and reductions, e.g. sum(x**2) instead of x0**2 + x1**2 + …"


class Token(NamedTuple):
    kind: str  # 'num', 'imag' (2j), 'name', 'op', 'newline', 'end'
    text: str
    pos: int


def tokenize(text: str, max_tokens: int = 200_000, max_depth: int = 100) -> list[Token]:
    """The tokens of `text`. A newline is a token only where it can end a statement (it is whitespace inside
    brackets, and after an operator, a comma or `=`, so a statement continues on the next line); `#` starts
    a comment to the end of the line. More than `max_tokens` tokens, or brackets nested more than `max_depth`
    deep, is an error here, where it occurs, before the rest of a long text is read (the parser passes
    10 tokens a term of its limit: a text that needs more is refused for its length, even when its terms
    would have fitted, e.g. `((((x))))` terms by the thousand)."""
    tokens: list[Token] = []
    depth = 0
    pos, size = 0, len(text)
    match = _TOKEN.match
    while pos < size:
        m = match(text, pos)
        kind = m.lastgroup if m else None
        word = m.group() if m else ""
        if kind == "name" and not word.isidentifier():  # \w takes ² and ½ too
            word = word[:next((i for i in range(len(word), 0, -1) if word[:i].isidentifier()), 0)]
        end = pos + len(word)
        if not word:
            superscript = text[pos] in "⁰¹²³⁴⁵⁶⁷⁸⁹"
            raise ParseError(
                f"unexpected character {text[pos]!r}", text, pos,
                hint="write powers as x**2 or x^2" if superscript else
                "expressions use numbers, names, + - * / ** ^ @, ( ), [ ], commas, comparisons and NAME = … ;",
            )
        if kind == "newline":
            last = tokens[-1] if tokens else None
            if depth <= 0 and last and (last.kind in ("num", "imag", "name") or last.text in _CLOSE):
                tokens.append(Token(kind, "\n", pos))
        elif kind != "ws" and kind != "comment":
            word = _SPELLINGS.get(word, word)
            if kind == "name" and word in _KEYWORDS:
                kind = "op"
            elif kind == "op":
                depth += (word in _OPEN) - (word in _CLOSE)
                if depth > max_depth:
                    raise ParseError(f"expression nested too deeply (more than {max_depth} levels)", text, pos)
            tokens.append(Token(kind, word, pos))
            if len(tokens) > max_tokens:
                raise ParseError(f"expression too large: more than {max_tokens:,} tokens", text, pos, hint=TOO_LARGE_HINT)
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
