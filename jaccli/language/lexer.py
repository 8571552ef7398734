"""Text → tokens: numbers, names, operators; anything else is an error with a caret."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParseError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
      | (?P<name>π|[^\W\d]\w*)  # identifiers as in Python: θ, α1, x_0
      | (?P<op>\*\*|<=|>=|==|!=|//|[-+*/^()\[\],:<>=&|~!%−×])
    """,
    re.VERBOSE,
)
_SPELLINGS = {"^": "**", "−": "-", "×": "*", "&": "and", "|": "or", "~": "not", "!": "not", "π": "pi"}
_KEYWORDS = {"and", "or", "not"}
# binding power of infix operators (higher binds tighter); prefix '-' sits at 7, 'not' at 3

@dataclass(frozen=True)
class Token:
    kind: str  # 'num', 'name', 'op', 'end'
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens = []
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
                "expressions use numbers, names, + - * / ** ^, ( ), [ ], commas and comparisons",
            )
        kind = m.lastgroup
        if kind != "ws":
            word = _SPELLINGS.get(text[pos:end], text[pos:end])
            if kind == "name" and word in _KEYWORDS:
                kind = "op"
            tokens.append(Token(kind, word, pos))
        pos = end
    tokens.append(Token("end", "", len(text)))
    return tokens
