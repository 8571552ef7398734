"""Text → tokens: numbers, names, operators; anything else is an error with a caret."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ParseError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z_0-9]*|π)
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
        if m is None:
            raise ParseError(
                f"unexpected character {text[pos]!r}", text, pos,
                hint="expressions use numbers, names, + - * / ** ^, ( ), [ ], commas and comparisons",
            )
        kind = m.lastgroup
        if kind != "ws":
            word = _SPELLINGS.get(m.group(), m.group())
            if kind == "name" and word in _KEYWORDS:
                kind = "op"
            tokens.append(Token(kind, word, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens
