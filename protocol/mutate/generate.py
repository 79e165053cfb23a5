"""Mutants of Solidity files: where, what, a stable id and a unified diff."""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from .operators import SourceInfo, edits


@dataclass(frozen=True)
class Mutant:
    """One mutation of one file. ``file`` is the path the runner and reports use (relative to the
    directory mutated, e.g. ``contracts/libraries/MarginMath.sol``); ``start``/``end`` are
    character offsets of ``original`` in it; ``line``/``col`` count from 1.

    ``id`` is stable across runs and unrelated edits: a hash of the file, the text of the
    mutated line (stripped), the operator, the edit and its occurrence among identical ones."""

    id: str
    file: str
    line: int
    col: int
    original: str
    replacement: str
    operator: str
    start: int
    end: int

    def apply(self, source: str) -> str:
        """``source`` with this mutation applied (checked to be the text it was made from)."""
        if source[self.start:self.end] != self.original:
            raise ValueError(f"{self.file}:{self.line}:{self.col}: mutant {self.id} does not apply "
                             f"(the source changed)")
        return source[:self.start] + self.replacement + source[self.end:]

    def diff(self, source: str) -> str:
        """The unified diff (3 lines of context) from ``source`` to the mutant."""
        return "".join(difflib.unified_diff(
            source.splitlines(keepends=True), self.apply(source).splitlines(keepends=True),
            fromfile=f"a/{self.file}", tofile=f"b/{self.file}"))

    def describe(self) -> str:
        """``original -> replacement`` on one line, shortened."""
        def short(text: str) -> str:
            text = " ".join(text.split())
            return text if len(text) <= 60 else text[:57] + "..."
        return f"{short(self.original) or '(nothing)'} -> {short(self.replacement) or '(nothing)'}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _line_of(source: str, offset: int) -> tuple[int, int, str]:
    line = source.count("\n", 0, offset) + 1
    begin = source.rfind("\n", 0, offset) + 1
    finish = source.find("\n", offset)
    return line, offset - begin + 1, source[begin:finish if finish != -1 else len(source)]


def mutants_of(name: str, source: str, info: SourceInfo | None = None,
               operators: Iterable[str] | None = None) -> list[Mutant]:
    """Every mutant of one file's ``source``; ``name`` is the file's name in reports and ids."""
    seen: Counter[tuple[str, str, str, str, str]] = Counter()
    out = []
    for edit in edits(source, info, operators):
        line, col, text = _line_of(source, edit.start)
        original = source[edit.start:edit.end]
        key = (name, text.strip(), edit.operator, original, edit.replacement)
        occurrence = seen[key]
        seen[key] += 1
        digest = hashlib.sha256("\0".join(map(str, key + (occurrence,))).encode()).hexdigest()
        out.append(Mutant(digest[:10], name, line, col, original, edit.replacement, edit.operator,
                          edit.start, edit.end))
    return out


def generate(root: Path, files: Iterable[str], context: Iterable[str] = (),
             operators: Iterable[str] | None = None) -> list[Mutant]:
    """Mutants of ``files`` (paths relative to ``root``). Struct fields and function names are
    read from ``files`` and ``context`` (more paths relative to ``root``, e.g. every source)."""
    files = list(files)
    texts = {f: (root / f).read_text() for f in dict.fromkeys([*files, *context])}
    info = SourceInfo.from_sources(texts.values())
    ops = None if operators is None else list(operators)
    return [m for f in files for m in mutants_of(f, texts[f], info, ops)]


@dataclass(frozen=True)
class Equivalent:
    """A mutant a human judged equivalent to the original, and why."""

    id: str
    reason: str
    file: str = ""


def load_equivalents(path: Path) -> dict[str, Equivalent]:
    """The ``[[equivalent]]`` entries (``id``, ``reason``, optional ``file``, ``mutant``) of a
    TOML file; a missing file is an empty list. Raises ``ValueError`` (one line) on a bad one."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    out: dict[str, Equivalent] = {}
    for n, entry in enumerate(data.get("equivalent", []), 1):
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("reason"):
            raise ValueError(f"{path}: equivalent entry {n} needs an id and a reason")
        out[str(entry["id"])] = Equivalent(str(entry["id"]), str(entry["reason"]), str(entry.get("file", "")))
    return out


def equivalent_entry(mutant: Mutant, reason: str) -> str:
    """The TOML entry marking ``mutant`` equivalent, to paste into the equivalents file."""
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return (f"[[equivalent]]\nid = {q(mutant.id)}\nfile = {q(mutant.file)}\n"
            f"mutant = {q(f'{mutant.line}:{mutant.col} {mutant.operator}: {mutant.describe()}')}\n"
            f"reason = {q(reason)}\n")
