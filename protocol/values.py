"""Exact-value formatting shared by the run's tables and the CSV, JSON and HTML writers.

Text is the canonical form: ``Decimal`` and ``int`` are written with ``str()`` (never through
``float``), ``None`` as an empty cell / ``null``. Floats are made only for charts.
"""

from __future__ import annotations

import csv
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence


def cell(value: Any) -> str:
    """One CSV / HTML cell: ``str()`` of the exact value, ``""`` for ``None``."""
    return "" if value is None else str(value)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], empty: Sequence[str] = ()) -> Path:
    """``rows`` as CSV at ``path``: the columns in the order they first appear, each value a
    :func:`cell`; with no rows, just the header ``empty``."""
    columns = list(dict.fromkeys(k for row in rows for k in row)) or list(empty)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)
    return path


def jsonable(value: Any) -> Any:
    """JSON-safe copy: ``Decimal`` -> string, ``int``/``bool``/``None``/``str`` as-is,
    mappings and sequences recursively (mapping keys as strings), anything else ``str()``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def stringify(value: Any) -> Any:
    """Like :func:`jsonable` but every leaf becomes ``str()`` (event args); ``None`` stays null."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stringify(v) for v in value]
    return str(value)


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"pool": {"end_value": x}}`` -> ``("pool.end_value", x)``, in insertion order."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def to_float(value: Any) -> float:
    """Chart coordinate: ``nan`` for ``None`` or text that is not a number."""
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return math.nan
