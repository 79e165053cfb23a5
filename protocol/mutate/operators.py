"""Mutation operators over Solidity tokens, and the mutants they generate.

Every operator reads the token stream of one file (comments and strings are never tokens that
operators touch) and proposes edits ``(start, end, replacement)`` of the source text. The
generator turns each edit into a :class:`Mutant` with a stable id.

Operators (their names are the ``operator`` of each mutant):

``relational``
    ``<`` <-> ``<=``, ``>`` <-> ``>=``: a boundary taken inclusively or not.
``literal-boundary``
    an integer literal compared with ``<  <=  >  >=  ==  !=`` moved by +1 and -1.
``rounding``
    ``Rounding.Ceil`` <-> ``Rounding.Floor`` (``Expand`` <-> ``Trunc``); a call of a helper
    ``xUp`` <-> ``xDown`` when both are functions of the sources (``notionalUp`` and
    ``notionalDown``), and the pairs of :data:`ROUNDING_PAIRS`; ``Math.ceilDiv(a, b)`` -> ``(a) / (b)``.
``arithmetic``
    binary ``+`` <-> ``-`` and ``*`` <-> ``/``, compound assignments included.
``drop-check``
    a ``require(...);`` statement, or ``if (...) revert ...;`` without an ``else``, removed.
``drop-term``
    ``a + b`` -> ``a`` and ``a - b`` -> ``a`` (the right-hand term dropped).
``swap-args``
    two adjacent arguments of one call swapped when both are names (or member chains) of the
    same declared type; never the commuting first two of ``min``, ``max``, ``mulDiv``.
``swap-field``
    ``x.field`` -> ``x.other``, where ``other`` is the field declared before or after ``field``
    with the same type in the (one) struct that declares ``field``: a read or write of the
    wrong storage slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .lexer import Token, tokenize

#: Helper pairs that round in opposite directions, beyond the ``xUp``/``xDown`` names found
#: in the sources: the project's token conversions (``creditTokens`` rounds a credit down,
#: ``chargeTokens`` a charge up).
ROUNDING_PAIRS = {"creditTokens": "chargeTokens", "chargeTokens": "creditTokens"}

_REL_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
_COMPARE = {"<", "<=", ">", ">=", "==", "!="}
_ARITH_SWAP = {"+": "-", "-": "+", "*": "/", "/": "*", "+=": "-=", "-=": "+=", "*=": "/=", "/=": "*="}
_ROUNDING_SWAP = {"Ceil": "Floor", "Floor": "Ceil", "Expand": "Trunc", "Trunc": "Expand"}
#: Words after which ``-``/``+`` is a sign, not a binary operator.
_KEYWORDS = {"return", "emit", "else", "new", "delete", "revert", "require", "if", "while", "for",
             "do", "unchecked", "assembly", "returns", "case", "constant", "immutable"}
_NOT_CALLS = {"if", "while", "for", "require", "returns", "return", "mapping", "catch", "function",
              "event", "error", "modifier", "constructor", "assert", "revert", "emit", "try",
              "payable", "type", "keccak256", "abi"}
#: Calls whose first n arguments commute (function -> n): swapping them is no mutation.
_COMMUTATIVE = {"min": 2, "max": 2, "mulDiv": 2, "average": 2}
_ELEMENTARY = re.compile(r"^(u?int\d*|bool|address|bytes\d*|string)$")
_LOCATIONS = {"memory", "storage", "calldata", "payable", "constant", "immutable", "public",
              "private", "internal", "external", "indexed", "override", "virtual"}
_MAGIC = {"block", "msg", "tx", "abi", "this", "super", "type"}


@dataclass(frozen=True)
class Edit:
    """One proposed change: replace ``source[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str
    operator: str


@dataclass
class SourceInfo:
    """What operators need to know across files: struct fields in declaration order
    (struct -> [(field, type)]) and the names of every function."""

    structs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)

    @classmethod
    def from_sources(cls, sources: Iterable[str]) -> "SourceInfo":
        info = cls()
        for source in sources:
            tokens = tokenize(source)
            for i, tok in enumerate(tokens):
                if tok.text == "function" and i + 1 < len(tokens) and tokens[i + 1].kind == "ident":
                    info.functions.add(tokens[i + 1].text)
                if (tok.text == "struct" and i + 2 < len(tokens) and tokens[i + 1].kind == "ident"
                        and tokens[i + 2].text == "{"):
                    close = _match(tokens, i + 2)
                    info.structs[tokens[i + 1].text] = _fields(tokens[i + 3:close])
        return info

    def field_alternatives(self, name: str) -> list[str]:
        """The same-typed fields next to ``name`` in the one struct that declares it (none if
        no struct or several declare a field so named)."""
        owners = [fields for fields in self.structs.values() if any(f == name for f, _ in fields)]
        if len(owners) != 1:
            return []
        fields = owners[0]
        kind = next(t for f, t in fields if f == name)
        same = [f for f, t in fields if t == kind]
        at = same.index(name)
        return [same[j] for j in (at - 1, at + 1) if 0 <= j < len(same)]

    def field_type(self, name: str) -> str | None:
        kinds = {t for fields in self.structs.values() for f, t in fields if f == name}
        return kinds.pop() if len(kinds) == 1 else None


def _fields(tokens: list[Token]) -> list[tuple[str, str]]:
    """``type name;`` declarations of a struct body: [(name, type text)]."""
    out: list[tuple[str, str]] = []
    current: list[Token] = []
    for tok in tokens:
        if tok.text == ";":
            if len(current) >= 2 and current[-1].kind == "ident":
                out.append((current[-1].text, " ".join(t.text for t in current[:-1])))
            current = []
        else:
            current.append(tok)
    return out


def _match(tokens: list[Token], i: int) -> int:
    """Index of the bracket closing the one at ``i`` (len(tokens) if unbalanced)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opener, closer, depth = tokens[i].text, pairs[tokens[i].text], 0
    for j in range(i, len(tokens)):
        if tokens[j].text == opener:
            depth += 1
        elif tokens[j].text == closer:
            depth -= 1
            if depth == 0:
                return j
    return len(tokens)


def _skipped(tokens: list[Token]) -> set[int]:
    """Token indexes no operator touches: pragma and import directives, assembly blocks."""
    skip: set[int] = set()
    i = 0
    while i < len(tokens):
        text = tokens[i].text
        if text in ("pragma", "import") and tokens[i].kind == "ident":
            j = i
            while j < len(tokens) and tokens[j].text != ";":
                j += 1
            skip.update(range(i, j + 1))
            i = j
        elif text == "assembly":
            j = i
            while j < len(tokens) and tokens[j].text != "{":
                j += 1
            end = _match(tokens, j) if j < len(tokens) else j
            skip.update(range(i, end + 1))
            i = end
        i += 1
    return skip


def _is_operand_end(tok: Token) -> bool:
    return (tok.kind in ("number", "string") or tok.text in (")", "]")
            or (tok.kind == "ident" and tok.text not in _KEYWORDS))


def _term_end(tokens: list[Token], i: int) -> int | None:
    """Index of the last token of the multiplicative term starting at ``i`` (None if it is not
    one this simple parser reads)."""
    j = _factor_end(tokens, i)
    while j is not None and j + 1 < len(tokens) and tokens[j + 1].text in ("*", "/", "%", "**"):
        j = _factor_end(tokens, j + 2)
    return j


def _factor_end(tokens: list[Token], i: int) -> int | None:
    while i < len(tokens) and tokens[i].text in ("-", "!", "~", "++", "--"):
        i += 1
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok.text == "(":
        j = _match(tokens, i)
    elif tok.kind in ("number", "string") or (tok.kind == "ident" and tok.text not in _KEYWORDS):
        j = i
        if tok.kind == "number" and j + 1 < len(tokens) and tokens[j + 1].text in (
                "wei", "gwei", "ether", "seconds", "minutes", "hours", "days", "weeks"):
            j += 1
    else:
        return None
    while j + 1 < len(tokens):
        nxt = tokens[j + 1].text
        if nxt == "." and j + 2 < len(tokens) and tokens[j + 2].kind == "ident":
            j += 2
        elif nxt in ("(", "[", "{") and not (nxt == "{" and tokens[j].text == ")"):
            j = _match(tokens, j + 1)
        elif nxt in ("++", "--"):
            j += 1
        else:
            break
    return j if j < len(tokens) else None


def _statement_start(tokens: list[Token], i: int) -> bool:
    return i == 0 or tokens[i - 1].text in (";", "{", "}")


def _split_args(tokens: list[Token], open_i: int, close_i: int) -> list[tuple[int, int]]:
    """(first, last) token indexes of each top-level argument between the brackets."""
    args, start, depth = [], open_i + 1, 0
    for j in range(open_i + 1, close_i):
        t = tokens[j].text
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
        elif t == "," and depth == 0:
            args.append((start, j - 1))
            start = j + 1
    if start <= close_i - 1:
        args.append((start, close_i - 1))
    return args


def _declared_types(tokens: list[Token]) -> dict[str, str | None]:
    """name -> its declared type in this file (None when declared with different types)."""
    types: dict[str, str | None] = {}
    for i in range(len(tokens) - 1):
        tok = tokens[i]
        if tok.kind != "ident" or not (_ELEMENTARY.match(tok.text) or tok.text[:1].isupper()):
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].text in _LOCATIONS:
            j += 1
        if (j + 1 < len(tokens) and tokens[j].kind == "ident" and tokens[j].text not in _KEYWORDS
                and tokens[j + 1].text in (",", ")", ";", "=")):
            name = tokens[j].text
            if name in types and types[name] != tok.text:
                types[name] = None
            else:
                types.setdefault(name, tok.text)
    return types


def _arg_type(tokens: list[Token], first: int, last: int, declared: dict[str, str | None],
              info: SourceInfo) -> str | None:
    """The type of an argument that is a name or a member chain ``a.b.c`` (None otherwise)."""
    chain = tokens[first:last + 1]
    if len(chain) % 2 == 0 or any(t.kind != "ident" for t in chain[::2]) or any(
            t.text != "." for t in chain[1::2]):
        return None
    if len(chain) == 1:
        return declared.get(chain[0].text)
    return info.field_type(chain[-1].text)


Operator = Callable[[list[Token], str, set[int], SourceInfo], Iterator[Edit]]


def relational(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if i not in skip and tok.kind == "punct" and tok.text in _REL_SWAP:
            yield Edit(tok.start, tok.end, _REL_SWAP[tok.text], "relational")


def literal_boundary(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if i in skip or tok.kind != "number" or not re.fullmatch(r"0[xX][0-9a-fA-F_]+|\d[\d_]*", tok.text):
            continue
        near = {tokens[i - 1].text if i else "", tokens[i + 1].text if i + 1 < len(tokens) else ""}
        if not near & _COMPARE:
            continue
        value = int(tok.text.replace("_", ""), 0)
        hexa = tok.text[:2].lower() == "0x"
        for moved in (value + 1, value - 1):
            if moved >= 0:
                yield Edit(tok.start, tok.end, hex(moved) if hexa else str(moved), "literal-boundary")


def rounding(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if i in skip or tok.kind != "ident":
            continue
        prev = tokens[i - 1].text if i else ""
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if tok.text in _ROUNDING_SWAP and prev == "." and i >= 2 and tokens[i - 2].text == "Rounding":
            yield Edit(tok.start, tok.end, _ROUNDING_SWAP[tok.text], "rounding")
            continue
        if nxt != "(" or prev == "function":
            continue
        other = ROUNDING_PAIRS.get(tok.text)
        if other is None and tok.text.endswith("Up"):
            other = tok.text[:-2] + "Down"
        elif other is None and tok.text.endswith("Down"):
            other = tok.text[:-4] + "Up"
        if other is not None and other in info.functions:
            yield Edit(tok.start, tok.end, other, "rounding")
        elif tok.text == "ceilDiv" and prev == ".":
            close = _match(tokens, i + 1)
            args = _split_args(tokens, i + 1, close)
            if close < len(tokens) and len(args) == 2:
                (a0, a1), (b0, b1) = args
                a = source[tokens[a0].start:tokens[a1].end]
                b = source[tokens[b0].start:tokens[b1].end]
                yield Edit(tokens[i - 2].start, tokens[close].end, f"({a}) / ({b})", "rounding")


def arithmetic(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if i in skip or i == 0 or tok.kind != "punct" or tok.text not in _ARITH_SWAP:
            continue
        if tok.text in ("+", "-", "*", "/") and not _is_operand_end(tokens[i - 1]):
            continue  # a sign, not a binary operator
        yield Edit(tok.start, tok.end, _ARITH_SWAP[tok.text], "arithmetic")


def drop_check(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if i in skip or tok.kind != "ident" or not _statement_start(tokens, i):
            continue
        if tok.text == "require" and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            close = _match(tokens, i + 1)
            if close + 1 < len(tokens) and tokens[close + 1].text == ";":
                yield Edit(tok.start, tokens[close + 1].end, "", "drop-check")
        elif tok.text == "if" and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            close = _match(tokens, i + 1)
            j = close + 1
            braced = j < len(tokens) and tokens[j].text == "{"
            if braced:
                j += 1
            if j >= len(tokens) or tokens[j].text != "revert":
                continue
            end = j
            while end < len(tokens) and tokens[end].text != ";":
                end += 1
            if braced:
                end += 1
                if end >= len(tokens) or tokens[end].text != "}":
                    continue
            if end + 1 < len(tokens) and tokens[end + 1].text == "else":
                continue
            yield Edit(tok.start, tokens[end].end, "", "drop-check")


def drop_term(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if (i in skip or i == 0 or tok.kind != "punct" or tok.text not in ("+", "-")
                or not _is_operand_end(tokens[i - 1])):
            continue
        end = _term_end(tokens, i + 1)
        if end is None or end >= len(tokens):
            continue
        yield Edit(tokens[i - 1].end, tokens[end].end, "", "drop-term")


def swap_args(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    declared = _declared_types(tokens)
    for i, tok in enumerate(tokens):
        if (i in skip or tok.kind != "ident" or tok.text in _NOT_CALLS or i + 1 >= len(tokens)
                or tokens[i + 1].text != "(" or _ELEMENTARY.match(tok.text)):
            continue
        prev = tokens[i - 1].text if i else ""
        if prev in ("function", "event", "error", "modifier", "emit", "revert", "new", "struct",
                    "contract", "library", "interface", "is"):
            continue
        close = _match(tokens, i + 1)
        if close >= len(tokens):
            continue
        args = _split_args(tokens, i + 1, close)
        typed = [(a, _arg_type(tokens, a[0], a[1], declared, info)) for a in args]
        for x in range(len(typed) - 1):
            if tok.text in _COMMUTATIVE and x + 1 < _COMMUTATIVE[tok.text]:
                continue  # min(a, b) is min(b, a)
            for y in (x + 1,):
                (ax, tx), (ay, ty) = typed[x], typed[y]
                if tx is None or tx != ty:
                    continue
                text_x = source[tokens[ax[0]].start:tokens[ax[1]].end]
                text_y = source[tokens[ay[0]].start:tokens[ay[1]].end]
                if text_x == text_y:
                    continue
                span = source[tokens[ax[0]].start:tokens[ay[1]].end]
                middle = source[tokens[ax[1]].end:tokens[ay[0]].start]
                assert span == text_x + middle + text_y
                yield Edit(tokens[ax[0]].start, tokens[ay[1]].end, text_y + middle + text_x, "swap-args")


def swap_field(tokens: list[Token], source: str, skip: set[int], info: SourceInfo) -> Iterator[Edit]:
    for i, tok in enumerate(tokens):
        if i in skip or i < 2 or tok.kind != "ident" or tokens[i - 1].text != ".":
            continue
        owner = tokens[i - 2]
        if owner.kind == "ident" and (owner.text in _MAGIC or owner.text[:1].isupper()):
            continue
        if i + 1 < len(tokens) and tokens[i + 1].text == "(":
            continue  # a method call, not a field
        for other in info.field_alternatives(tok.text):
            yield Edit(tok.start, tok.end, other, "swap-field")


#: Every operator, by name, in the order mutants are listed.
OPERATORS: dict[str, Operator] = {
    "relational": relational,
    "literal-boundary": literal_boundary,
    "rounding": rounding,
    "arithmetic": arithmetic,
    "drop-check": drop_check,
    "drop-term": drop_term,
    "swap-args": swap_args,
    "swap-field": swap_field,
}


def edits(source: str, info: SourceInfo | None = None,
          operators: Iterable[str] | None = None) -> list[Edit]:
    """Every edit the chosen operators (default: all) propose for ``source``, by position."""
    tokens = tokenize(source)
    info = SourceInfo.from_sources([source]) if info is None else info
    skip = _skipped(tokens)
    chosen = list(OPERATORS) if operators is None else list(operators)
    unknown = [name for name in chosen if name not in OPERATORS]
    if unknown:
        raise ValueError(f"unknown mutation operator {unknown[0]!r}; operators: {', '.join(OPERATORS)}")
    out = [edit for name in chosen for edit in OPERATORS[name](tokens, source, skip, info)]
    return sorted(out, key=lambda e: (e.start, chosen.index(e.operator), e.end))
