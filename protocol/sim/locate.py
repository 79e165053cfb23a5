"""Where a scenario problem is: :class:`ScenarioError` and the TOML line locator.

``tomllib`` keeps no positions, so :class:`Locator` scans the text once for table headers and
the keys of each table; :class:`Where` turns a dotted key path into an error at its line (the
key's own line, or for a key that is missing the line of its table's header).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence, Union

from protocol.errors import PerpsimError

Part = Union[str, int]
Parts = tuple[Part, ...]

#: What a :class:`ScenarioError` shows instead of a line number for a value set by an override.
OVERRIDE = "override"


class ScenarioError(PerpsimError, ValueError):
    """A scenario file problem: ``str()`` is ``"{file}:{line}: {key}: {message}"``.

    ``line`` is None only where no line of the file is at fault: a value set by an override
    (``str()`` then says ``override`` in the line's place) or a file that cannot be read
    (``"{file}: {key}: {message}"``)."""

    def __init__(self, file: str, line: Optional[int], key: str, message: str, *,
                 overridden: bool = False):
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        self.overridden = overridden
        if line is not None:
            where = f"{self.file}:{line}:"
        elif overridden:
            where = f"{self.file}:{OVERRIDE}:"
        else:
            where = f"{self.file}:"
        super().__init__(f"{where} {key}: {message}")


def format_key(parts: Iterable[Part]) -> str:
    """``("agents", 2, "leverage")`` -> ``"agents[2].leverage"``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            name = p if re.fullmatch(r"[A-Za-z0-9_\-]+", p) else f'"{p}"'
            out += f".{name}" if out else name
    return out


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")
_STRINGS = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


def _split_dotted(name: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", name)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class Locator:
    """Line numbers of table headers and of the keys in each table (first occurrence)."""

    def __init__(self, text: str):
        # section path -> (header line, or 1 for the root; {key: line})
        self.sections: dict[Parts, tuple[int, dict[str, int]]] = {(): (1, {})}
        counts: dict[tuple[str, ...], int] = {}
        current: Parts = ()
        depth = 0  # open brackets/braces of a multi-line value
        in_string: Optional[str] = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if in_string in line:
                    in_string = None
                continue
            if depth > 0:
                depth += self._depth(line)
                continue
            header = _HEADER.match(line)
            if header and len(header.group(1)) == len(header.group(3)):
                names = tuple(_split_dotted(header.group(2)))
                if header.group(1) == "[[":
                    index = counts.get(names, 0)
                    counts[names] = index + 1
                    current = (*names, index)
                else:
                    current = self._resolve(names, counts)
                self.sections.setdefault(current, (number, {}))
                continue
            key = _KEY.match(line)
            if key:
                name = _split_dotted(key.group(1))
                self.sections[current][1].setdefault(name[0], number)
                rest = line[key.end():]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_string = quote
                if in_string is None:
                    depth = max(0, self._depth(rest))

    @staticmethod
    def _resolve(names: tuple[str, ...], counts: dict[tuple[str, ...], int]) -> Parts:
        """``[agents.sub]`` after ``[[agents]]`` belongs to the last agents element."""
        for i in range(len(names), 0, -1):
            if names[:i] in counts:
                return (*names[:i], counts[names[:i]] - 1, *names[i:])
        return names

    @staticmethod
    def _depth(text: str) -> int:
        text = _STRINGS.sub("", text).split("#", 1)[0]
        return text.count("[") + text.count("{") - text.count("]") - text.count("}")

    def line(self, parts: Sequence[Part]) -> int:
        """The line of the key at ``parts``; for a key the file does not hold, the header of
        the nearest table that it does (line 1 for the root)."""
        parts = tuple(parts)
        for i in range(len(parts), -1, -1):
            prefix = parts[:i]
            if prefix not in self.sections:
                continue
            header, keys = self.sections[prefix]
            if i < len(parts) and isinstance(key := parts[i], str) and key in keys:
                return keys[key]
            if prefix == () and i < len(parts):
                # a table declared only through its sub-tables: the first sub-table's header
                nested = [h for p, (h, _) in self.sections.items() if p[:1] == parts[:1] and p]
                if nested:
                    return min(nested)
            return header
        return 1  # pragma: no cover - the root is always a section


class Where:
    """Errors for one scenario text: its file name, its line locator and the key paths that
    overrides set (reported as such instead of at a line)."""

    def __init__(self, file: str, text: str, overridden: Iterable[Parts] = ()):
        self.file = file
        self.locator = Locator(text)
        self.overridden = [tuple(p) for p in overridden]

    def error(self, parts: Sequence[Part], message: str,
              at: Optional[Sequence[Part]] = None) -> ScenarioError:
        """A :class:`ScenarioError` about the key at ``parts``, placed at the line of ``at``
        (default: ``parts``)."""
        parts = tuple(parts)
        for over in self.overridden:
            if parts[:len(over)] == over:
                return ScenarioError(self.file, None, format_key(parts),
                                     f"{message} (set by override)", overridden=True)
        line = self.locator.line(at if at is not None else parts)
        return ScenarioError(self.file, line, format_key(parts), message)
