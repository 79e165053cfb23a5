"""A Solidity tokenizer: just enough to mutate code and never comments or strings.

Comments and whitespace are dropped; string literals (``"..."``, ``'...'``, ``hex"..."``,
``unicode"..."``) are single tokens, so nothing inside one is ever mutated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from protocol.exceptions import PerpsimError

#: Multi-character punctuation, longest first (the tokenizer takes the longest match).
_PUNCT = sorted([
    ">>>=", ">>>", "<<=", ">>=", "**=", "**", "==", "!=", "<=", ">=", "&&", "||", "++", "--",
    "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "=>", "->", "<<", ">>",
], key=len, reverse=True)

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>(?:hex|unicode)?(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
  | (?P<number>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.\d[\d_]*)?|\.\d[\d_]*)(?:[eE]-?\d[\d_]*)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<punct>""" + "|".join(re.escape(p) for p in _PUNCT) + r"""|[^\sA-Za-z0-9_$])
""", re.VERBOSE | re.DOTALL)


class LexError(PerpsimError, ValueError):
    """Source the tokenizer cannot read (an unterminated comment or string)."""


@dataclass(frozen=True)
class Token:
    """One token: its kind (``ident``, ``number``, ``string``, ``punct``), text and place
    (character offsets into the source; line and column count from 1)."""

    kind: str
    text: str
    start: int
    end: int
    line: int
    col: int


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, comments and whitespace left out."""
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(source):
        m = _TOKEN_RE.match(source, pos)
        if m is None or (m.lastgroup == "punct" and m.group() in ('"', "'")):
            raise LexError(f"line {line}: cannot read {source[pos:pos + 20]!r}")
        if m.lastgroup == "punct" and source.startswith("/*", pos):
            raise LexError(f"line {line}: unterminated comment")
        text = m.group()
        if m.lastgroup not in ("ws", "comment"):
            # every alternative of the pattern is a named group
            tokens.append(Token(cast(str, m.lastgroup), text, pos, m.end(), line, pos - line_start + 1))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = pos + text.rfind("\n") + 1
        pos = m.end()
    return tokens
