"""A quick scan of Solidity sources, with no compiler: the contracts each file declares, what they
inherit and which external functions they define, so a user's module missing a function of its
interface is refused before anything is compiled. The scan is deliberately shallow: a function is
known by its name and number of parameters (the compiled ABI is checked again afterwards, types
included), and anything it cannot resolve (a base contract it does not know) makes it say
nothing rather than guess."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', re.S)
_DECLARATION = re.compile(r"\b(abstract\s+)?(contract|interface|library)\s+([A-Za-z_$][\w$]*)"
                          r"([^{;]*)\{")
_FUNCTION = re.compile(r"\bfunction\s+([A-Za-z_$][\w$]*)\s*\(")
_VISIBLE = re.compile(r"\b(public|external)\b")
_STATE_VARIABLE = re.compile(r"^(?!\s*(?:function|event|error|modifier|constructor|struct|enum|"
                             r"using|receive|fallback)\b)(.*)\bpublic\b(.*?)\b([A-Za-z_$][\w$]*)"
                             r"\s*(?:=[^;]*)?$", re.S)

#: A function known by name only (a getter of a mapping or an array: its arity is not counted).
ANY_ARITY = -1


@dataclass
class Declaration:
    """A contract, interface or library as written in one source file."""

    name: str
    kind: str  # "contract", "interface" or "library"
    abstract: bool
    bases: list[str]
    #: (name, number of parameters) of every public or external function and public getter.
    functions: set[tuple[str, int]] = field(default_factory=set)
    source: str = ""


def strip(text: str) -> str:
    """``text`` with comments and string literals blanked (their length kept)."""
    return _COMMENT_OR_STRING.sub(lambda m: " " * len(m.group(0)), text)


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """Index of the bracket closing the one at ``start`` (or the end of ``text``)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == opening:
            depth += 1
        elif text[index] == closing:
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def _arity(parameters: str) -> int:
    depth, count, seen = 0, 0, False
    for char in parameters:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            count += 1
        if not char.isspace():
            seen = True
    return count + 1 if seen else 0


def _top_level(body: str) -> list[str]:
    """The statements of a contract body outside any nested braces, split at ``;`` and ``}``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        if char == "{":
            if depth == 0:
                parts.append("".join(current))
                current = []
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            if char == ";":
                parts.append("".join(current))
                current = []
            else:
                current.append(char)
    parts.append("".join(current))
    return parts


def declarations(sources: dict[str, str]) -> dict[str, Declaration]:
    """Every contract, interface and library declared in ``sources`` (unit name -> text), by
    name (the first declaration of a name wins)."""
    found: dict[str, Declaration] = {}
    for unit, raw in sources.items():
        text = strip(raw)
        position = 0
        while match := _DECLARATION.search(text, position):
            open_brace = match.end() - 1
            close = _closing(text, open_brace, "{", "}")
            body = text[open_brace + 1:close]
            heritage = match.group(4).strip()
            bases = []
            if heritage.startswith("is"):
                bases = [b.split("(")[0].strip() for b in _split_bases(heritage[2:]) if b.strip()]
            decl = Declaration(match.group(3), match.group(2), bool(match.group(1)), bases,
                               source=unit)
            for fn in _FUNCTION.finditer(body):
                end = _closing(body, fn.end() - 1, "(", ")")
                after = body[end + 1:end + 1 + 400].split("{")[0].split(";")[0]
                if _VISIBLE.search(after) or decl.kind == "interface":
                    decl.functions.add((fn.group(1), _arity(body[fn.end():end])))
            for statement in _top_level(body):
                variable = _STATE_VARIABLE.match(statement.strip())
                if variable:
                    declared = variable.group(1) + variable.group(2)
                    indexed = "mapping" in declared or "[" in declared
                    decl.functions.add((variable.group(3), ANY_ARITY if indexed else 0))
            found.setdefault(decl.name, decl)
            position = close + 1
    return found


def _split_bases(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def count_contracts(sources: dict[str, str]) -> int:
    """How many contracts, interfaces and libraries ``sources`` declare."""
    return sum(len(_DECLARATION.findall(strip(text))) for text in sources.values())


_IMPORT = re.compile(r"""^\s*import\s+(?:[^'";]*?\sfrom\s+)?["']([^"']+)["']""", re.M)


def imports_of(name: str, text: str) -> list[str]:
    """Source unit names ``name`` imports (relative imports resolved against it)."""
    out = []
    for target in _IMPORT.findall(text):
        if target.startswith("."):
            parts: list[str] = []
            for part in (PurePosixPath(name).parent / target).parts:
                if part == "..":
                    if parts:
                        parts.pop()
                elif part != ".":
                    parts.append(part)
            target = "/".join(parts)
        out.append(target)
    return out


def dependants(sources: dict[str, str], changed: list[str]) -> list[str]:
    """``changed`` and every unit of ``sources`` that imports one of them, directly or not."""
    importers: dict[str, set[str]] = {}
    for unit, text in sources.items():
        for target in imports_of(unit, text):
            importers.setdefault(target, set()).add(unit)
    seen, todo = set(changed), list(changed)
    while todo:
        for unit in importers.get(todo.pop(), ()):
            if unit not in seen:
                seen.add(unit)
                todo.append(unit)
    return sorted(seen)


def imported(units: dict[str, str], library: dict[str, str]) -> list[str]:
    """The units of ``library`` that ``units`` import, directly or through one another."""
    seen: set[str] = set()
    todo = [target for unit, text in units.items() for target in imports_of(unit, text)]
    while todo:
        target = todo.pop()
        if target in library and target not in seen:
            seen.add(target)
            todo.extend(imports_of(target, library[target]))
    return sorted(seen)
